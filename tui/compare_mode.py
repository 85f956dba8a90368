"""Compare mode of the app: races, pinned overlays, the results table, export and presets.

`CompareMode` is a mixin of `OptplayApp` (tui/app.py) holding everything about showing
several runs at once, so the app module keeps the single-run flow:

- Pin (`p`): the current run becomes a named, frozen overlay (`engine.compare.pin`) drawn on
  every chart next to the live run, which starts over from step 0 with the form's settings.
- Race (`c`): the race setup screen picks 2-6 optimizers with their knobs; the app then
  trains an `engine.compare.Race` (same task, seed and data order for all) through
  `Race.stream`, so space / n / r / + / - act on all racers together. The sidebar shows the
  racers (`RacePanel`), the charts draw every lane with a legend. `x` goes back to one run.
- Table (`t`): `Race.results` (or the lanes' results) in a table; shown by itself when a
  race finishes.
- Export (`e`): the history of every run shown, as CSV and JSON (`export_history`).
- Presets (`o`): the shipped presets; run and race presets load, the benchmark spec runs in
  the background and ends in its table (`BenchScreen`).

The app's own methods call in here where a race changes what they do (`stepper`,
`active_steps`, `lanes`, `race_status`); the screens report back through their results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.containers import Horizontal

from engine import presets
from engine.bench import BenchSpec
from engine.compare import Lane, Overlay, Race, Result, pin, results
from engine.config import MAX_RACE, Experiment, RaceEntry
from engine.history import export_history
from engine.run import Run
from tui.screens.bench import BenchScreen
from tui.screens.presets import PresetScreen
from tui.screens.prompt import PromptScreen
from tui.screens.race_results import RaceResultsScreen
from tui.screens.race_setup import RaceSetup, RaceSetupScreen, next_optimizer
from tui.widgets.charts import ChartPanel, lane_color
from tui.widgets.race_panel import LaneLine, RacePanel, RacePanelView
from tui.widgets.status import StatusView, format_number

if TYPE_CHECKING:
    from engine.run import RunConfig

DEFAULT_EXPORT_STEM = "optplay-history"
#: Screens over which the app's priority `space` (run/pause) must not act.
QUIET_SCREENS = (RaceSetupScreen, PresetScreen, PromptScreen, RaceResultsScreen, BenchScreen)


def default_target(rows: Iterable[Result]) -> float | None:
    """The highest best loss among lanes that did not diverge (as `Race.default_target`):
    every survivor reached it, so "steps to target" ranks them by speed."""
    bests = [r.best_loss for r in rows if not r.diverged and r.best_loss is not None]
    return max(bests) if bests else None


def export_stem(text: str) -> str:
    """The path typed in the export dialog without a .csv / .json suffix."""
    path = Path(text)
    return str(path.with_suffix("")) if path.suffix.lower() in (".csv", ".json") else text


class CompareMode:
    """Races, overlays, the results table, export and presets (mixed into OptplayApp)."""

    # Provided by OptplayApp (declared for readers; set in its __init__).
    config: RunConfig
    current_run: Run
    planned_steps: int
    experiment_name: str | None
    race: Race | None
    race_steps: int
    race_target: float | None
    overlays: list[Overlay]
    saved_experiment: Experiment

    # User text (names, paths, file errors) goes to notify() with markup=False: a "[" in it
    # must show as typed, not raise a MarkupError.

    if TYPE_CHECKING:  # what the mixin uses of OptplayApp and textual's App

        @property
        def speed(self) -> float | None: ...
        @property
        def streaming(self) -> bool: ...
        @property
        def current_theme(self) -> Any: ...
        @property
        def screen(self) -> Any: ...
        def notify(self, message: str, **kwargs: Any) -> Any: ...
        def push_screen(self, screen: Any, callback: Any = None) -> Any: ...
        def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...
        def set_focus(self, widget: Any) -> None: ...
        def refresh_bindings(self) -> None: ...
        def run_worker(self, work: Any, **kwargs: Any) -> Any: ...
        @property
        def is_mounted(self) -> bool: ...
        def call_after_refresh(self, callback: Any, *args: Any) -> bool: ...
        def train(self) -> Any: ...
        def current_experiment(self) -> Experiment: ...
        def _show_status(self, steps_per_second: float | None = None) -> None: ...
        def _redraw_charts(self) -> None: ...
        def _stop_stream(self) -> None: ...
        def _rebuild_run(self) -> None: ...
        async def show_config(self, config: RunConfig, steps: int | None) -> None: ...

    # -- what is trained and shown -------------------------------------------------------

    @property
    def stepper(self) -> Run | Race:
        """What space / n / r / + / - act on: the race when one is on, else the run."""
        return self.race if self.race is not None else self.current_run

    @property
    def active_steps(self) -> int:
        """The planned length of what is trained (the race's steps during a race)."""
        return self.race_steps if self.race is not None else self.planned_steps

    def lanes(self) -> list[Lane]:
        """Everything the charts draw as separate curves: the race's racers and overlays,
        or the live run and its overlays; empty for one run alone (the single-run view)."""
        if self.race is not None:
            return self.race.lanes
        if not self.overlays:
            return []
        taken = {o.name for o in self.overlays}
        name = self.current_run.config.optimizer
        if name in taken:
            name = f"{name} (live)"
        return [Lane(name, self.current_run)] + [
            Lane(o.name, o.run, pinned=True) for o in self.overlays
        ]

    def lane_colors(self, count: int) -> list[tuple[int, int, int]]:
        dark = bool(self.current_theme.dark)
        return [lane_color(i, dark) for i in range(count)]

    def show_mode(self) -> None:
        """Sidebar and footer for the mode: the race panel during a race, else the form."""
        racing = self.race is not None
        main = self.query_one("#main", Horizontal)
        if main.has_class("-race") != racing:
            main.set_class(racing, "-race")
            if racing:
                self.set_focus(None)  # the form is hidden
        if racing:
            self.show_race_panel()
        self.refresh_bindings()

    def watch_theme(self) -> None:
        """Lane colours follow the theme (the charts notice by themselves)."""
        if self.race is not None and self.is_mounted:
            self.call_after_refresh(self.show_race_panel)

    def show_race_panel(self) -> None:
        race = self.race
        if race is None:
            return
        cfg = race.runs[0].config
        colors = self.lane_colors(len(race.lanes))
        lines = []
        for lane, color in zip(race.lanes, colors, strict=True):
            c = lane.run.config
            lr = "own step size" if c.lr is None else f"lr {format_number(c.lr, 3)}"
            schedule = "" if c.schedule == "constant" else f" · {c.schedule}"
            lines.append(
                LaneLine(
                    name=lane.name,
                    detail=f"{c.optimizer} · {lr}{schedule}",
                    color=color,
                    loss=lane.run.history.last("loss"),
                    diverged_at=lane.run.diverged_at,
                    pinned=lane.pinned,
                )
            )
        view = RacePanelView(
            title=f"race · {cfg.task}",
            settings=f"seed {cfg.seed} · {self.race_steps:,} steps · {cfg.dtype}",
            lanes=lines,
            hint="c edit race · x one run\nt table · e export",
        )
        self.query_one(RacePanel).show(view)

    def race_status(self, steps_per_second: float | None) -> StatusView:
        """The status line during a race: its state, step and the leading racer."""
        race = self.race
        assert race is not None
        state = race.state
        if state == "ready" and race.steps_done > 0:
            state = "paused"  # stepped by hand
        leader, best = None, None
        for name, run in zip(race.names, race.runs, strict=True):
            loss = run.history.last("loss") if run.diverged_at is None else None
            if loss is not None and math.isfinite(loss) and (best is None or loss < best):
                leader, best = name, loss
        return StatusView(
            state=state,
            step=race.steps_done,
            loss=best,
            steps_per_second=steps_per_second,
            speed=self.speed,
            racers=len(race.runs),
            leader=leader,
        )

    # -- race control (space, n, r while racing) ------------------------------------------

    def race_toggle(self) -> None:
        race = self.race
        assert race is not None
        if race.state == "running":
            race.pause()
        elif race.all_diverged:
            self.notify("every racer diverged: r restarts the race", severity="warning")
        elif race.steps_done >= self.race_steps:
            self.notify(
                f"the race is over ({self.race_steps} steps): t shows the table, r restarts",
                severity="information",
            )
        elif self.streaming:
            race.resume()
        else:
            self.train()
        self._show_status()

    def race_step(self) -> None:
        race = self.race
        assert race is not None
        if race.all_diverged:
            self.notify("every racer diverged: r restarts the race", severity="warning")
            return
        if race.state == "running":
            race.pause()
        race.step(1)
        self._show_status()
        self.show_race_panel()
        self.query_one(ChartPanel).redraw()

    def race_reset(self) -> None:
        race = self.race
        assert race is not None
        self._stop_stream()
        race.reset()
        self._redraw_charts()
        self._show_status()
        self.show_race_panel()

    # -- entering and leaving a race ------------------------------------------------------

    def start_race(
        self, race: Race, steps: int, target: float | None = None, go: bool = False
    ) -> None:
        """Show and control `race` from now on (`go`: start training at once). Overlays
        pinned before come along (as many as fit next to the racers)."""
        self._stop_stream()
        carried = list(self.race.overlays) if self.race is not None else list(self.overlays)
        for overlay in carried:
            if len(race.lanes) >= MAX_RACE:
                break
            taken = {lane.name for lane in race.lanes}
            name = overlay.name if overlay.name not in taken else f"{overlay.name} (pinned)"
            if name not in taken:
                race.pin(overlay.run, name)
        self.race, self.race_steps, self.race_target = race, steps, target
        race.set_speed(self.speed)
        self.show_mode()
        self._redraw_charts()
        self._show_status()
        if go:
            self.train()
            self._show_status()

    def action_leave_race(self) -> None:
        """x: back to the single run (the race's overlays stay pinned)."""
        if self.race is None:
            return
        self._stop_stream()
        self.overlays = list(self.race.overlays)
        self.race = None
        self.show_mode()
        self._redraw_charts()
        self._show_status()

    def action_race(self) -> None:
        """c: set up a race (edit the current one during a race)."""
        if self.race is not None:
            entries = list(self.race.experiment().race)
            steps, target = self.race_steps, self.race_target
        else:
            cfg = self.config
            rival = cfg.replace(optimizer=next_optimizer([cfg.optimizer]), optimizer_hypers={})
            entries = [RaceEntry(cfg), RaceEntry(rival)]
            steps, target = self.planned_steps, None
        self.push_screen(RaceSetupScreen(entries, steps, target), self._race_chosen)

    def _race_chosen(self, setup: RaceSetup | None) -> None:
        if setup is None:
            return
        try:
            race = Race(setup.entries)
        except ValueError as error:
            self.notify(str(error), title="race not started", severity="error", markup=False)
            return
        if self.race is None:
            self.experiment_name = None  # a new experiment, not the single run's file
        self.start_race(race, setup.steps, setup.target, go=True)

    # -- pinning ------------------------------------------------------------------------------

    def action_pin(self) -> None:
        """p: keep the current run on the charts as a named overlay; the live run restarts."""
        run = self.current_run
        if self.race is not None:
            return
        if run.steps_done == 0:
            self.notify("nothing to pin yet: train the run first", severity="warning")
            return
        if len(self.overlays) >= MAX_RACE - 1:
            self.notify(
                f"at most {MAX_RACE - 1} overlays: unpin one first (ctrl+p, Unpin)",
                severity="warning",
            )
            return
        if run.state == "running":
            run.pause()  # pin() needs a run that is not stepping
        taken = {o.name for o in self.overlays}
        cfg = run.config
        base = cfg.optimizer if cfg.lr is None else f"{cfg.optimizer} lr={cfg.lr:g}"
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base} #{k}"
        self.push_screen(
            PromptScreen(
                "pin run",
                f"Name on the charts (the run stays at step {run.steps_done:,}):",
                name,
                check=lambda text: f"{text!r} is already pinned" if text in taken else None,
            ),
            self._pin_as,
        )

    def _pin_as(self, name: str | None) -> None:
        run = self.current_run
        if name is None or self.race is not None:
            return
        if run.state == "running":
            run.pause()
        try:
            overlay = pin(run, name)
        except ValueError as error:
            self.notify(str(error), title="not pinned", severity="error", markup=False)
            return
        self._stop_stream()
        self.overlays.append(overlay)
        self._rebuild_run()  # a fresh live run from the form
        self.refresh_bindings()
        self.notify(f"pinned {name!r}; the live run starts over", timeout=3, markup=False)

    def unpin(self, name: str | None = None) -> None:
        """Remove the overlay `name` (all overlays when None) from the charts."""
        if self.race is not None:
            for overlay in list(self.race.overlays):
                if name is None or overlay.name == name:
                    self.race.unpin(overlay.name)
            self.show_race_panel()
        else:
            self.overlays = [o for o in self.overlays if name is not None and o.name != name]
        self._redraw_charts()
        self.refresh_bindings()

    # -- the results table ----------------------------------------------------------------------

    def results_rows(self) -> tuple[list[Result], float | None]:
        """The table's rows (racers, then overlays) and the target loss they use."""
        if self.race is not None:
            target = self.race_target
            if target is None:
                target = self.race.default_target()
            return self.race.results(target, include_overlays=True), target
        lanes = self.lanes() or [Lane(self.current_run.config.optimizer, self.current_run)]
        target = default_target(results(lanes))
        return results(lanes, target), target

    def action_table(self) -> None:
        """t: the comparison table of the runs shown."""
        rows, target = self.results_rows()
        if self.race is not None:
            race = self.race
            cfg = race.runs[0].config
            title = f"race results · {cfg.task} · step {race.steps_done:,}"
        else:
            title = f"results · {self.current_run.config.task}"
        auto = self.race is None or self.race_target is None
        note = "steps to target: the first step whose training loss is at or below it"
        if auto:
            note += " (target: the highest best loss among the runs that did not diverge)"
        self.push_screen(RaceResultsScreen(title, rows, target, self.lane_colors(len(rows)), note))

    # -- export ---------------------------------------------------------------------------------

    def action_export(self) -> None:
        """e: write the history of every run shown as CSV and JSON."""
        count = len(self.lanes()) or 1
        what = "1 run" if count == 1 else f"{count} runs"
        self.push_screen(
            PromptScreen(
                "export history",
                f"File name ({what}; writes NAME.csv and NAME.json):",
                DEFAULT_EXPORT_STEM,
            ),
            self.export_to,
        )

    def export_to(self, text: str | None) -> list[str]:
        """Write the shown runs' histories to `<stem>.csv` and `<stem>.json`; the paths."""
        if text is None:
            return []
        stem = export_stem(text)
        lanes = self.lanes() or [Lane(self.current_run.config.optimizer, self.current_run)]
        paths = [f"{stem}.csv", f"{stem}.json"]
        try:
            for path in paths:
                export_history(lanes, path)
        except (OSError, ValueError) as error:
            self.notify(str(error), title="not exported", severity="error", markup=False)
            return []
        runs = "1 run" if len(lanes) == 1 else f"{len(lanes)} runs"
        self.notify(f"exported {runs} to {paths[0]} and {paths[1]}", timeout=4, markup=False)
        return paths

    # -- presets and experiments ----------------------------------------------------------------

    def action_presets(self) -> None:
        """o: choose a shipped preset."""
        self.push_screen(PresetScreen(), self.open_preset)

    async def open_preset(self, name: str | None) -> None:
        """Load preset `name`: a run or a race into the app, a benchmark into BenchScreen."""
        if name is None:
            return
        loaded = presets.load(name)
        if isinstance(loaded, BenchSpec):
            title = f"{presets.title(name)} (preset {name})"
            command = f"optplay bench --preset {name}"
            self.push_screen(BenchScreen(loaded, title, command))
            return
        await self.load_experiment(loaded)
        self.notify(f"preset {name}: {presets.title(name)}", timeout=3, markup=False)

    async def load_experiment(self, experiment: Experiment) -> None:
        """Show an experiment: a race opens as a race; a single run fills the form."""
        if experiment.race:
            race = Race.from_experiment(experiment)
            self.experiment_name = experiment.name
            steps = experiment.steps or self.planned_steps
            self.start_race(race, steps)
        else:
            if self.race is not None:
                self.action_leave_race()
            self._stop_stream()
            self.experiment_name = experiment.name
            await self.show_config(experiment.config, experiment.steps)
        self.saved_experiment = self.current_experiment()  # loaded: nothing to lose yet

    def compare_commands(self) -> Iterable[SystemCommand]:
        """Command-palette entries of compare mode."""
        yield SystemCommand(
            "Race optimizers", "Set up a race of 2-6 optimizers (c)", self.action_race
        )
        if self.race is None:
            yield SystemCommand(
                "Pin run", "Keep this run on the charts as a named overlay (p)", self.action_pin
            )
        else:
            yield SystemCommand("Leave race", "Back to one run (x)", self.action_leave_race)
        yield SystemCommand("Results table", "Compare the runs shown (t)", self.action_table)
        yield SystemCommand(
            "Export history", "Write every shown run's history as CSV and JSON (e)",
            self.action_export,
        )  # fmt: skip
        yield SystemCommand("Presets", "Choose a shipped preset (o)", self.action_presets)
        for name in presets.names():
            yield SystemCommand(
                f"Load preset: {name}",
                presets.title(name),
                lambda name=name: self.run_worker(self.open_preset(name)),
            )
        overlays = self.race.overlays if self.race is not None else self.overlays
        for overlay in overlays:
            yield SystemCommand(
                f"Unpin {overlay.name}",
                "Remove this overlay from the charts",
                lambda name=overlay.name: self.unpin(name),
            )
        if overlays:
            yield SystemCommand("Unpin all", "Remove every overlay from the charts", self.unpin)

    def compare_action_allowed(self, action: str) -> bool | None:
        """check_action for compare mode's keys (False hides a key from the footer)."""
        screen = self.screen
        if action == "toggle_run" and isinstance(screen, QUIET_SCREENS):
            return False  # space belongs to the dialog (buttons, lists, fields)
        if action == "pin":
            return self.race is None
        if action == "leave_race":
            return self.race is not None
        if action == "table":
            return self.race is not None or bool(self.overlays)
        return True
