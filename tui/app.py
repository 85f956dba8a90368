"""The optplay app: pick a task, an optimizer and a schedule, tune them, run and watch live.

One factory, `create_app(config)`, builds the app for the CLI, the Pilot tests and the
snapshot tests. The app owns the `Run`: widgets report what the user did with messages
(`Picker.Changed`, `HyperForm.Changed`), the app decides and calls methods down on the
widgets (`ChartPanel.show`, `StatusLine.show`, `HyperForm.replace_section`).

Training runs in a Textual worker that consumes `Run.stream` (which steps in a thread) and
posts `RunProgress` messages; charts redraw on their own timer from the run's history.

Keys: `space` is a priority binding so run/pause works wherever the focus is, also in the
form (its fields hold numbers, never spaces; the command palette's search still gets its
spaces). The other keys are ordinary bindings: while a form field has focus they type into
it, and `escape` leaves the form so they act on the app again.

Compare mode (races, pinned overlays, the results table, export, presets) lives in the
`CompareMode` mixin (tui/compare_mode.py); during a race, `stepper` is the `Race` and the
same keys and worker drive it through `Race.stream`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent

from engine import optimizers, schedules, tasks
from engine.compare import Race
from engine.config import Experiment
from engine.config import save as save_experiment
from engine.hyper import Hyper
from engine.kinds import registry as registry_of
from engine.run import Run, RunConfig
from tui.compare_mode import CompareMode
from tui.messages import RunFailed, RunFinished, RunProgress
from tui.screens.confirm import ConfirmQuitScreen, QuitChoice
from tui.screens.help import HelpScreen
from tui.screens.save import SaveScreen
from tui.textual_fixes import OnceCommandPalette
from tui.textual_fixes import apply as apply_textual_fixes
from tui.widgets.charts import ChartPanel, ChartView
from tui.widgets.hyper_form import FormSection, HyperForm
from tui.widgets.pickers import Picker
from tui.widgets.race_panel import RacePanel
from tui.widgets.status import StatusLine, StatusView

apply_textual_fixes()  # guards against Textual crashes (see tui/textual_fixes.py)

#: Speed limits offered by +/- (steps per second); None = as fast as the machine goes.
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, None)

DEFAULT_TASK = "rosenbrock"
DEFAULT_OPTIMIZER = "adam"
#: Adam's default 1e-3 barely moves on Rosenbrock in 1000 steps; 0.02 walks the valley.
DEFAULT_OPTIMIZER_HYPERS = {"lr": 0.02}
DEFAULT_PLANNED_STEPS = 1000
DEFAULT_SAVE_PATH = "optplay-experiment.toml"

#: Knobs of the run itself (not of the task, optimizer or schedule).
RUN_HYPERS: tuple[Hyper, ...] = (
    Hyper("steps", DEFAULT_PLANNED_STEPS, kind="int", low=1, high=10**9,
          help="planned run length: the run stops (finished) there"),
    Hyper("seed", 0, kind="int", low=0, high=2**63 - 1,
          help="seed of the initial parameters and the batch order"),
    Hyper("dtype", "float64", kind="choice", choices=("float64", "float32"),
          help="floating type of params, data and gradients"),
)  # fmt: skip

#: Settings that only a fresh run can take (everything else applies to the next step).
RESET_FIELDS = ("task", "optimizer", "schedule", "task_hypers", "seed", "dtype")


def default_config() -> RunConfig:
    """What the app shows when started without a config."""
    return RunConfig(
        task=DEFAULT_TASK, optimizer=DEFAULT_OPTIMIZER, optimizer_hypers=DEFAULT_OPTIMIZER_HYPERS
    )


def planned_steps_for(config: RunConfig) -> int:
    """A default run length: the schedule's own horizon when it has one, else 1000."""
    total = config.schedule_hypers.get("total_steps")
    return int(total) if isinstance(total, int) and total > 0 else DEFAULT_PLANNED_STEPS


class OptplayApp(CompareMode, App[int]):
    """Pick, tune, run and watch an optimizer train, in the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "optplay"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_run", "Run/pause", priority=True, id="toggle_run",
                tooltip="start, pause or continue training"),
        Binding("n", "step", "Step", id="step", tooltip="one update, then pause"),
        Binding("r", "reset", "Reset", id="reset",
                tooltip="start over from step 0 with the form's settings"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", id="faster",
                tooltip="raise the speed limit (steps per second, up to max)"),
        Binding("minus", "slower", "Slower", key_display="-", id="slower",
                tooltip="lower the speed limit (down to 1 step per second)"),
        Binding("l", "toggle_log", "Log", id="toggle_log",
                tooltip="log scale on the y axis of the chart in view"),
        Binding("question_mark", "help", "Help", key_display="?", id="help",
                tooltip="this help: the optimizer's update rule"),
        Binding("q", "quit", "Quit", id="quit",
                tooltip="quit optplay (asks first when the experiment has unsaved changes)"),
        Binding("ctrl+s", "save", "Save", id="save", show=False,
                tooltip="save the settings as an experiment file (TOML)"),
        # Compare mode (tui/compare_mode.py); after Quit so the 80-column footer keeps the
        # basic keys in view. Keys that don't apply in a mode are hidden (check_action).
        Binding("c", "race", "Race", id="race",
                tooltip="race 2-6 optimizers on the same task, seed and data"),
        Binding("p", "pin", "Pin", id="pin",
                tooltip="pin this run as a named overlay; the live run starts over"),
        Binding("x", "leave_race", "One run", id="leave_race",
                tooltip="leave the race: back to one run"),
        Binding("t", "table", "Table", id="table",
                tooltip="results table: final/best loss, steps to target, time per step"),
        Binding("e", "export", "Export", id="export",
                tooltip="write the history of every run shown (CSV and JSON)"),
        Binding("o", "presets", "Presets", id="presets", tooltip="open a shipped preset"),
    ]  # fmt: skip

    def __init__(
        self,
        config: RunConfig,
        planned_steps: int | None = None,
        save_path: str | None = None,
        name: str | None = None,
        experiment: Experiment | None = None,
    ) -> None:
        super().__init__()
        self.save_path = save_path or DEFAULT_SAVE_PATH  # where ctrl+s offers to write
        self.experiment_name = name
        self.config = config  # what the form shows (always valid)
        self.current_run = Run(config)  # what is trained (`run` is taken: App.run starts the app)
        self.planned_steps = planned_steps or planned_steps_for(config)
        self.speed_index = len(SPEEDS) - 1
        self.pending: list[str] = []  # what changed that only a reset applies
        self._version = 0  # bumps when the run's settings change (charts rebuild caches)
        self._restart_stream: str | None = None  # the state to restart a stream in
        # Compare mode: a race (an experiment with [[race]] entries opens as one) and the
        # overlays pinned next to the single run.
        self.race: Race | None = None
        self.race_steps = self.planned_steps
        self.race_target: float | None = None
        self.overlays: list = []
        if experiment is not None and experiment.race:
            self.race = Race.from_experiment(experiment)
        # What was last loaded or saved: quitting asks first while the experiment differs.
        self.saved_experiment = self.current_experiment()

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        cfg = self.config
        with Horizontal(id="main"):
            with VerticalScroll(id="sidebar", can_focus=False):
                yield Picker("task", tasks.names(), cfg.task, tasks.summary, id="task-picker")
                yield Picker(
                    "optimizer",
                    optimizers.names(),
                    cfg.optimizer,
                    optimizers.summary,
                    id="optimizer-picker",
                )
                yield Picker(
                    "schedule",
                    schedules.names(),
                    cfg.schedule,
                    schedules.summary,
                    id="schedule-picker",
                )
                yield Static("", id="pending", markup=False)
                yield HyperForm(
                    [self._section(kind) for kind in ("optimizer", "schedule", "task", "run")],
                    id="form",
                )
            yield RacePanel(id="race-panel")  # replaces the sidebar during a race
            yield ChartPanel(id="charts")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def _section(self, kind: str) -> FormSection:
        """The form section for `kind`, from the current config."""
        cfg = self.config
        if kind == "run":
            values = {"steps": self.planned_steps, "seed": cfg.seed, "dtype": cfg.dtype}
            return FormSection("run", "run", RUN_HYPERS, values)
        registry = registry_of(kind)
        name = getattr(cfg, kind)
        values = getattr(cfg, f"{kind}_hypers")
        note = ""
        if kind == "schedule" and cfg.lr is None:
            note = "the optimizer sets its own step size: no schedule applies"
        return FormSection(
            kind,
            f"{kind} · {name}",
            tuple(registry.specs(name)),
            values,
            check=lambda v, registry=registry, name=name: registry.validate(name, v),
            note=note,
        )

    def on_mount(self) -> None:
        self._show_run()
        # Everything built so far lives as long as the app: keep it out of the cyclic GC's
        # full collections, which otherwise stall the UI ~75 ms now and then while training.
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()  # give it back to the collector (tests run many apps in one process)

    # -- showing the run ---------------------------------------------------------------

    @property
    def speed(self) -> float | None:
        return SPEEDS[self.speed_index]

    def _view(self) -> ChartView:
        lanes = tuple(self.lanes())
        if self.race is not None:
            return ChartView(self.race.runs[0], self.race_steps, self._version, lanes)
        return ChartView(self.current_run, self.planned_steps, self._version, lanes)

    def _show_run(self) -> None:
        """Push the whole state down: charts, status line, pending note."""
        self.show_mode()
        self.query_one(ChartPanel).show(self._view())
        self._show_status()
        self._show_pending()

    def _show_status(self, steps_per_second: float | None = None) -> None:
        if self.race is not None:
            self.query_one(StatusLine).show(self.race_status(steps_per_second))
            return
        run = self.current_run
        state = run.state
        step = run.steps_done
        if state == "ready" and step > 0:
            state = "paused"  # stepped by hand: to a user this is a paused run
        history = run.history
        # The rate the next update will use: an lr edited while paused shows at once.
        if run.schedule is not None:
            lr = float(run.schedule.lr(step))
        else:
            lr = history.last("lr") if step else None
        view = StatusView(
            state=state,
            step=step,
            loss=history.last("loss") if step else None,
            lr=lr,
            steps_per_second=steps_per_second,
            speed=self.speed,
            diverged_at=run.diverged_at,
        )
        self.query_one(StatusLine).show(view)

    def _show_pending(self) -> None:
        note = self.query_one("#pending", Static)
        if self.pending:
            note.update(f"⟳ {', '.join(self.pending)} changed: r resets the run to apply")
        note.set_class(bool(self.pending), "-shown")

    def _redraw_charts(self) -> None:
        """Redraw now (after a single step, a reset...) instead of at the next tick."""
        self._version += 1
        self.query_one(ChartPanel).show(self._view())

    # -- run control -------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return any(w.group == "train" and not w.is_finished for w in self.workers)

    def _form_errors(self) -> dict[str, str]:
        return self.query_one(HyperForm).errors()

    def _blocked(self) -> bool:
        """True (and the user is told why) when invalid fields prevent training."""
        if self.race is not None:
            return False  # the race was checked in its setup; the hidden form is not used
        errors = self._form_errors()
        if not errors:
            return False
        field, message = next(iter(errors.items()))
        # markup=False: the message quotes what was typed ("[x=" would be bad markup).
        self.notify(message, title=f"Fix {field} first", severity="error", markup=False)
        return True

    def action_toggle_run(self) -> None:
        """space: start or continue training, or pause it."""
        if self.race is not None:
            self.race_toggle()
            return
        run = self.current_run
        if run.state == "running":
            run.pause()
            self._show_status()
            return
        if self._blocked():
            return
        if run.state == "diverged":
            self.notify(f"diverged at step {run.diverged_at}: r resets", severity="warning")
            return
        if self.pending and run.steps_done == 0:
            self._rebuild_run()
            run = self.current_run
        if run.steps_done >= self.planned_steps:
            self.notify(
                f"finished {self.planned_steps} steps: raise run · steps to go on, r resets",
                severity="information",
            )
            return
        if self.streaming:
            run.resume()
        else:
            self.train()
        self._show_status()

    def action_step(self) -> None:
        """n: one update now (pauses a running run first)."""
        if self.race is not None:
            self.race_step()
            return
        run = self.current_run
        if self._blocked():
            return
        if run.state == "diverged":
            self.notify(f"diverged at step {run.diverged_at}: r resets", severity="warning")
            return
        if self.pending and run.steps_done == 0:
            self._rebuild_run()
            run = self.current_run
        if run.state == "running":
            run.pause()
        run.step(1)
        self._show_status()
        self.query_one(ChartPanel).redraw()

    def action_reset(self) -> None:
        """r: start over from step 0 with everything the form shows."""
        if self.race is not None:
            self.race_reset()
            return
        self._stop_stream()
        if self.pending or self.current_run.config != self.config:
            self._rebuild_run()
        else:
            self.current_run.reset()
        self._redraw_charts()
        self._show_status()

    def action_faster(self) -> None:
        self._set_speed(self.speed_index + 1)

    def action_slower(self) -> None:
        self._set_speed(self.speed_index - 1)

    def _set_speed(self, index: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, index))
        self.stepper.set_speed(self.speed)
        self._show_status()

    def action_toggle_log(self) -> None:
        """l: log scale on the y axis of the chart in view."""
        if self.query_one(ChartPanel).toggle_log() is None:
            self.notify("the path chart has no log scale", timeout=2)

    def action_help(self) -> None:
        """?: the selected optimizer's update rule, defaults and reference."""
        keys = [(b.key_display or b.key, b.tooltip) for b in self.BINDINGS]  # type: ignore[union-attr]
        keys += [
            ("escape", "leave the form (keys act on the app again)"),
            ("tab", "next field or picker; enter/↓ opens a picker"),
            ("ctrl+p", "command palette (every action, themes)"),
        ]
        self.push_screen(
            HelpScreen(
                optimizers.get(self.config.optimizer), schedules.get(self.config.schedule), keys
            )
        )

    def action_save(self) -> None:
        """ctrl+s: write the form's settings as an experiment file."""
        if self._blocked():
            return
        self.push_screen(SaveScreen(self.save_path), self._save_to)

    def _save_to(self, path: str | None, then_quit: bool = False) -> None:
        if path is None:
            return
        experiment = self.current_experiment()
        try:
            save_experiment(path, experiment)  # atomic: temp file + rename
        except (OSError, ValueError) as error:
            self.notify(str(error), title="not saved", severity="error", markup=False)
            return
        self.save_path = path
        self.saved_experiment = experiment
        if then_quit:
            self.exit()
            return
        self.notify(f"saved to {path}", timeout=3, markup=False)

    # -- unsaved changes -----------------------------------------------------------------

    def current_experiment(self) -> Experiment:
        """What ctrl+s would write now (the form's settings, the run length, the name)."""
        if self.race is not None:  # a race file: its [[race]] entries
            return self.race.experiment(steps=self.race_steps, name=self.experiment_name)
        return Experiment(self.config, steps=self.planned_steps, name=self.experiment_name)

    def unsaved_changes(self) -> list[str]:
        """What differs from the experiment last loaded or saved (empty: nothing to lose)."""
        now, saved = self.current_experiment(), self.saved_experiment
        if now == saved:
            return []
        changed = [
            name.replace("_hypers", " knobs")
            for name in RunConfig.__dataclass_fields__
            if getattr(now.config, name) != getattr(saved.config, name)
        ]
        changed += [
            name for name in ("steps", "name", "race") if getattr(now, name) != getattr(saved, name)
        ]
        return changed or ["settings"]

    @property
    def dirty(self) -> bool:
        """True when quitting now would lose changes to the experiment."""
        return self.current_experiment() != self.saved_experiment

    async def action_quit(self) -> None:
        """q / ctrl+q: quit; with unsaved changes, ask first (save / discard / cancel)."""
        if isinstance(self.screen, ConfirmQuitScreen):
            return  # already asking (ctrl+q is a priority key: it reaches the app here too)
        changes = self.unsaved_changes()
        if not changes:
            self.exit()
            return
        self.push_screen(ConfirmQuitScreen(", ".join(changes), self.save_path), self._quit_answer)

    def _quit_answer(self, choice: QuitChoice | None) -> None:
        if choice == "discard":
            self.exit()
        elif choice == "save" and not self._blocked():
            # The save dialog shows where; enter writes and quits, escape stays in the app.
            self.push_screen(SaveScreen(self.save_path), lambda p: self._save_to(p, True))

    def _rebuild_run(self) -> None:
        """A fresh Run from the form's config (task/optimizer/seed... changes)."""
        self._stop_stream()
        self.current_run = Run(self.config)
        self.current_run.set_speed(self.speed)
        self.pending = []
        self._redraw_charts()
        self._show_status()
        self._show_pending()

    def _stop_stream(self) -> None:
        self.stepper.cancel()
        self.workers.cancel_group(self, "train")

    @work(exclusive=True, group="train", exit_on_error=False)
    async def train(self) -> None:
        """Consume the run's (or the race's) stream; restart it when the planned length
        changes."""
        run = self.stepper
        try:
            while True:
                self._restart_stream = None
                async for progress in run.stream(self.active_steps, self.speed):
                    self.post_message(RunProgress(run, progress))
                restart = self._restart_stream
                if restart is None or run is not self.stepper:
                    break
                if restart == "paused":
                    run.pause()
        except Exception as error:  # the UI stays up; the status line says what happened
            self.post_message(RunFailed(run, error))
            return
        self.post_message(RunFinished(run, run.state, run.steps_done))

    @on(RunProgress)
    def _progress(self, message: RunProgress) -> None:
        if message.run is not self.stepper:
            return
        if self.race is not None:
            self.show_race_panel()
        progress = message.progress
        running = progress.state == "running"
        self._show_status(progress.steps_per_second if running else None)

    @on(RunFinished)
    def _finished(self, message: RunFinished) -> None:
        if message.run is not self.stepper:
            return
        if self.race is not None:
            self._show_status()
            self.show_race_panel()
            self.query_one(ChartPanel).redraw()
            if message.state == "finished" and len(self.screen_stack) == 1:
                self.action_table()  # a finished race shows its table
            return
        self._show_status()
        self.query_one(ChartPanel).redraw()
        if message.state == "diverged":
            self.notify(
                f"diverged at step {self.current_run.diverged_at}: lower lr and press r",
                severity="warning",
            )

    @on(RunFailed)
    def _failed(self, message: RunFailed) -> None:
        if message.run is not self.stepper:
            return
        self._show_status()
        self.notify(f"{type(message.error).__name__}: {message.error}", title="training failed",
                    severity="error", timeout=10, markup=False)  # fmt: skip

    # -- edits -------------------------------------------------------------------------

    def _needs_reset(self, what: str) -> None:
        """A change only a fresh run can take: apply now at step 0, else offer a reset."""
        if self.current_run.steps_done == 0 and not self.streaming:
            self._rebuild_run()
            return
        if what not in self.pending:
            self.pending.append(what)
            self.notify(f"{what} changed: press r to reset the run with it", timeout=4)
        self._show_pending()

    @on(Picker.Changed)
    async def _picked(self, message: Picker.Changed) -> None:
        kind, name = message.kind, message.name
        # replace() carries over knobs the new kind shares (e.g. lr) and fills defaults.
        self.config = self.config.replace(**{kind: name})
        form = self.query_one(HyperForm)
        await form.replace_section(self._section(kind))
        if kind == "optimizer":  # an optimizer without lr turns the schedule off and back
            await form.replace_section(self._section("schedule"))
        self._needs_reset(kind)

    @on(HyperForm.Changed)
    def _edited(self, message: HyperForm.Changed) -> None:
        section, values = message.section, message.values
        run = self.current_run
        if section == "run":
            self._edited_run(values)
            return
        self.config = self.config.replace(**{f"{section}_hypers": values})
        if section == "task":
            self._needs_reset("task settings")
            return
        if self.config.optimizer != run.config.optimizer or (
            self.config.schedule != run.config.schedule
        ):
            return  # a reset is pending anyway; it will use these values
        # Optimizer and schedule knobs apply from the next step on, keeping the run's state.
        run.set_hypers(**{section: values})
        self._version += 1
        self._show_status()
        self.query_one(ChartPanel).show(self._view())

    def _edited_run(self, values: dict[str, Any]) -> None:
        steps = int(values["steps"])
        if steps != self.planned_steps:
            self.planned_steps = steps
            if self.streaming and self.current_run.state in ("running", "paused"):
                # The stream's length is fixed when it starts: start a new one, in the
                # same state (cancelling a paused stream clears its pause).
                self._restart_stream = self.current_run.state
                self.current_run.cancel()
            self.query_one(ChartPanel).show(self._view())
        changes = {k: values[k] for k in ("seed", "dtype") if values[k] != getattr(self.config, k)}
        if changes:
            self.config = self.config.replace(**changes)
            self._needs_reset(" and ".join(changes))

    # -- command palette -----------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Run / pause", "Start, continue or pause training (space)", self.action_toggle_run
        )
        yield SystemCommand("Step once", "One update, then pause (n)", self.action_step)
        yield SystemCommand(
            "Reset run", "Start over from step 0 with the form's settings (r)", self.action_reset
        )
        yield SystemCommand("Faster", "Raise the steps-per-second limit (+)", self.action_faster)
        yield SystemCommand("Slower", "Lower the steps-per-second limit (-)", self.action_slower)
        yield SystemCommand(
            "Toggle log scale", "Log y axis on the charts (l)", self.action_toggle_log
        )
        yield SystemCommand(
            "Help", "The optimizer's update rule and reference (?)", self.action_help
        )
        yield SystemCommand(
            "Save experiment", "Write the settings as a TOML file (ctrl+s)", self.action_save
        )
        yield from self.compare_commands()
        tabs = [("tab-loss", "loss"), ("tab-lr", "learning rate"), ("tab-norms", "norms")]
        if getattr(self._view().run.task, "is_landscape", False):
            tabs.append(("tab-path", "path"))
        for tab, label in tabs:
            yield SystemCommand(
                f"Show {label} chart",
                f"Switch to the {label} tab",
                lambda tab=tab: self.show_tab(tab),
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that don't apply now (compare mode's, space over its dialogs)."""
        return self.compare_action_allowed(action)

    async def show_config(self, config: RunConfig, steps: int | None = None) -> None:
        """Show a single run's settings (an experiment or preset opened in the app): the
        pickers, the whole form and a fresh run."""
        self.config = config
        self.planned_steps = steps or planned_steps_for(config)
        for kind in ("task", "optimizer", "schedule"):
            self.query_one(f"#{kind}-picker", Picker).pick(getattr(config, kind))
        form = self.query_one(HyperForm)
        for kind in ("optimizer", "schedule", "task", "run"):
            await form.replace_section(self._section(kind))
        self._rebuild_run()

    def action_command_palette(self) -> None:
        """ctrl+p: the command palette (one that runs a command once per pick)."""
        if self.use_command_palette and not OnceCommandPalette.is_open(self):
            self.push_screen(OnceCommandPalette(id="--command-palette"))

    def show_tab(self, tab: str) -> None:
        """Bring a chart tab into view (`tab-loss`, `tab-lr`, `tab-norms`, `tab-path`)."""
        self.query_one("#chart-tabs", TabbedContent).active = tab


def create_app(
    config: RunConfig | None = None,
    planned_steps: int | None = None,
    save_path: str | None = None,
    name: str | None = None,
    experiment: Experiment | None = None,
) -> OptplayApp:
    """The app, for the CLI, the Pilot tests and the snapshot tests alike.

    `planned_steps` is the run length (an experiment file's `steps`); `save_path` the file
    ctrl+s offers (the one opened with --config), `name` the experiment's name to keep.
    `experiment` (an opened file or preset) sets all three; one with [[race]] entries opens
    as a race."""
    if experiment is not None:
        config = experiment.config
        planned_steps = experiment.steps if planned_steps is None else planned_steps
        name = experiment.name if name is None else name
    return OptplayApp(config or default_config(), planned_steps, save_path, name, experiment)
