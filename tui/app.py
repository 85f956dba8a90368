"""The optplay app: pick a task, an optimizer and a schedule, tune them, run and watch live.

The app renders a `Session` (engine/session.py), which holds every rule of the playground
and everything it shows. Keys, form events and palette commands call one session verb each;
the verb returns a `Change` (notices, whether to start training) and the app renders
`session.view()`: pickers, form, pending note, status line, race panel and charts. The app
keeps no playground state of its own, so a single run and a race (a race of one lane is a
single run) are drawn by the same code.

Training runs in a Textual worker that consumes `Session.stream` (the Race steps in a thread)
and posts `RunProgress` messages; charts redraw on their own timer from the runs' histories.

Every action is declared once in tui/actions.py (key, footer label, help, palette entry, when
it applies). One factory, `create_app`, builds the app for the CLI, the Pilot tests and the
snapshot tests.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent

from engine import optimizers, presets, schedules
from engine.config import Experiment
from engine.kinds import KINDS
from engine.kinds import registry as registry_of
from engine.run import RunConfig
from engine.session import (
    DEFAULT_EXPORT_STEM,
    Change,
    Session,
    SessionView,
    default_experiment,
)
from tui.actions import ACTIONS, BY_NAME, bindings, help_keys
from tui.charts import ChartPanel, ChartView
from tui.charts.base import LANE_ROLES
from tui.dialogs import Dialog
from tui.messages import RunFailed, RunFinished, RunProgress
from tui.screens.bench import BenchScreen
from tui.screens.confirm import ConfirmQuitScreen, QuitChoice
from tui.screens.help import HelpScreen
from tui.screens.presets import PresetScreen
from tui.screens.prompt import PromptScreen
from tui.screens.race_results import RaceResultsScreen
from tui.screens.race_setup import RaceSetup, RaceSetupScreen
from tui.screens.save import SaveScreen
from tui.textual_fixes import OnceCommandPalette, guard_option_list_paging
from tui.widgets.hyper_form import FormSection, HyperForm
from tui.widgets.pickers import Picker
from tui.widgets.race_panel import RacePanel
from tui.widgets.status import StatusLine

guard_option_list_paging()  # see tui/textual_fixes.py

#: The chart tabs as the palette offers them.
CHART_TABS = (
    ("tab-loss", "loss"),
    ("tab-lr", "learning rate"),
    ("tab-norms", "norms"),
    ("tab-state", "optimizer state"),
)
#: The tab whose showing switches on optimizer-state summaries (Session.watch_state).
STATE_TAB = "tab-state"


def form_section(section: Any) -> FormSection:
    """The form's description of a session `SectionView`."""
    return FormSection(
        section.key, section.title, section.specs, section.values, section.check, section.note
    )


class OptplayApp(App[int]):
    """Pick, tune, run and watch an optimizer train, in the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "optplay"
    BINDINGS: ClassVar[list[BindingType]] = bindings()

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._available: frozenset[str] = frozenset()

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        view = self.session.view()
        with Horizontal(id="main"):
            with VerticalScroll(id="sidebar", can_focus=False):
                for kind in KINDS:
                    registry = registry_of(kind)
                    yield Picker(
                        kind,
                        registry.names(),
                        view.picks[kind],
                        registry.summary,
                        id=f"{kind}-picker",
                    )
                yield Static("", id="pending", markup=False)
                yield HyperForm([form_section(s) for s in view.sections], id="form")
            yield RacePanel(id="race-panel")  # replaces the sidebar during a race
            yield ChartPanel(id="charts")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    @property
    def main(self) -> Screen:
        """The screen holding the playground (dialogs open on top of it)."""
        return self.screen_stack[0]

    def on_mount(self) -> None:
        self.render_view()
        # Everything built so far lives as long as the app: keep it out of the cyclic GC's
        # full collections, which otherwise stall the UI ~75 ms now and then while training.
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()  # give it back to the collector (tests run many apps in one process)

    # -- rendering the session ----------------------------------------------------------

    def do(self, change: Change) -> None:
        """Act on what a verb did (tell, start training, show the table), then render."""
        for notice in change.notices:
            # markup=False: notices quote names and paths as typed ("[x=" is bad markup).
            self.notify(
                notice.text,
                title=notice.title,
                severity=notice.severity,  # type: ignore[arg-type]
                markup=False,
            )
        if change.start:
            self.train()
        self.render_view()
        if change.open_table and len(self.screen_stack) == 1:
            self.action_table()

    def render_view(self) -> None:
        """Show `session.view()`: each widget redraws only what changed."""
        if not self.screen_stack:
            return  # shutting down
        view = self.session.view()
        main = self.main.query_one("#main", Horizontal)
        if main.has_class("-race") != view.racing:
            main.set_class(view.racing, "-race")
            if view.racing:
                self.set_focus(None)  # the form is hidden
        for kind in KINDS:
            picker = self.main.query_one(f"#{kind}-picker", Picker)
            if picker.value != view.picks[kind]:
                picker.pick(view.picks[kind])
        self.main.query_one(HyperForm).show([form_section(s) for s in view.sections])
        self._show_pending(view)
        self.main.query_one(StatusLine).show(view.status)
        if view.racing:
            self.main.query_one(RacePanel).show(
                view.panel_title, view.panel_settings, view.lanes, self.lane_colors(view)
            )
        self.main.query_one(ChartPanel).show(
            ChartView(
                view.run, view.planned_steps, view.version, view.lanes if view.overlaid else ()
            )
        )
        if view.available != self._available:
            self._available = view.available
            self.refresh_bindings()

    def _show_pending(self, view: SessionView) -> None:
        note = self.main.query_one("#pending", Static)
        if view.pending:
            note.update(f"⟳ {', '.join(view.pending)} changed: r resets the run to apply")
        note.set_class(bool(view.pending), "-shown")

    def lane_colors(self, view: SessionView | None = None) -> list[Any]:
        """The lanes' colours, as the charts draw them (from the theme)."""
        chart = self.main.query_one(ChartPanel).active_chart()
        count = len((view or self.session.view()).lanes)
        if chart is None:
            return [None] * count
        return [chart.color(LANE_ROLES[i % len(LANE_ROLES)]) for i in range(count)]

    def watch_theme(self) -> None:
        """Lane colours in the race panel follow the theme (the charts notice by themselves)."""
        if self.is_mounted:
            self.call_after_refresh(self.render_view)

    # -- the training worker -------------------------------------------------------------

    @work(exclusive=True, group="train", exit_on_error=False)
    async def train(self) -> None:
        """Consume the session's stream; report progress, the end, or a failure."""
        race = self.session.race
        try:
            async for progress in self.session.stream():
                self.post_message(RunProgress(race, progress))
        except Exception as error:  # the UI stays up; the status line says what happened
            self.post_message(RunFailed(race, error))
            return
        self.post_message(RunFinished(race, race.state, race.steps_done))

    @on(RunProgress)
    def _progress(self, message: RunProgress) -> None:
        if message.run is self.session.race:
            self.render_view()

    @on(RunFinished)
    def _finished(self, message: RunFinished) -> None:
        self.do(self.session.stream_ended(message.run))
        self.main.query_one(ChartPanel).redraw()

    @on(RunFailed)
    def _failed(self, message: RunFailed) -> None:
        if message.run is not self.session.race:
            return
        self.render_view()
        self.notify(f"{type(message.error).__name__}: {message.error}", title="training failed",
                    severity="error", timeout=10, markup=False)  # fmt: skip

    # -- edits from the widgets -------------------------------------------------------------

    @on(Picker.Changed)
    def _picked(self, message: Picker.Changed) -> None:
        self.do(self.session.pick(message.kind, message.name))

    @on(TabbedContent.TabActivated, "#chart-tabs")
    def _tab_shown(self, message: TabbedContent.TabActivated) -> None:
        if message.pane.id == STATE_TAB:
            self.do(self.session.watch_state())

    @on(HyperForm.Changed)
    def _edited(self, message: HyperForm.Changed) -> None:
        self.do(self.session.edit(message.section, message.values))

    def _form_ready(self) -> bool:
        """Apply what was typed but not committed yet; False (and the user is told why)
        when an invalid field blocks training or saving."""
        if self.session.racing:
            return True  # the race was checked in its setup; the hidden form is not used
        form = self.main.query_one(HyperForm)
        for section, values in form.commit():
            self.do(self.session.edit(section, values))
        errors = form.errors()
        if not errors:
            return True
        field, message = next(iter(errors.items()))
        self.notify(message, title=f"Fix {field} first", severity="error", markup=False)
        return False

    # -- actions (tui/actions.py declares them) ----------------------------------------------

    def action_toggle_run(self) -> None:
        if self._form_ready():
            self.do(self.session.toggle())

    def action_step(self) -> None:
        if self._form_ready():
            self.do(self.session.step())
            self.main.query_one(ChartPanel).redraw()

    def action_reset(self) -> None:
        self._form_ready()
        self.do(self.session.reset())

    def action_faster(self) -> None:
        self.do(self.session.faster())

    def action_slower(self) -> None:
        self.do(self.session.slower())

    def action_toggle_log(self) -> None:
        if self.main.query_one(ChartPanel).toggle_log() is None:
            self.notify("the path chart has no log scale", timeout=2)

    def action_help(self) -> None:
        config = self.session.config
        self.push_screen(
            HelpScreen(
                optimizers.get(config.optimizer), schedules.get(config.schedule), help_keys()
            )
        )

    def action_save(self) -> None:
        if self._form_ready():
            self.push_screen(SaveScreen(self.session.save_path), self._save_to)

    def _save_to(self, path: str | None, then_quit: bool = False) -> None:
        if path is None:
            return
        change = self.session.save(path)
        if change.ok and then_quit:
            self.exit()
            return
        self.do(change)

    async def action_quit(self) -> None:
        """Quit; with unsaved changes, ask first (save / discard / cancel)."""
        if isinstance(self.screen, ConfirmQuitScreen):
            return  # already asking (ctrl+q is a priority key: it reaches the app here too)
        changes = self.session.unsaved_changes()
        if not changes:
            self.exit()
            return
        self.push_screen(
            ConfirmQuitScreen(", ".join(changes), self.session.save_path), self._quit_answer
        )

    def _quit_answer(self, choice: QuitChoice | None) -> None:
        if choice == "discard":
            self.exit()
        elif choice == "save" and self._form_ready():
            # The save dialog shows where; enter writes and quits, escape stays in the app.
            self.push_screen(SaveScreen(self.session.save_path), lambda p: self._save_to(p, True))

    def action_race(self) -> None:
        self._form_ready()
        self.push_screen(RaceSetupScreen(*self.session.race_draft()), self._race_chosen)

    def _race_chosen(self, setup: RaceSetup | None) -> None:
        if setup is not None:
            self.do(self.session.start_race(setup.entries, setup.steps, setup.target))

    def action_pin(self) -> None:
        refused = self.session.can_pin()
        if refused is not None:
            self.do(refused)
            return
        self.session.pause()
        self.push_screen(
            PromptScreen(
                "pin run",
                f"Name on the charts (the run stays at step {self.session.run.steps_done:,}):",
                self.session.pin_name(),
                check=self.session.pin_problem,
            ),
            self._pin_as,
        )

    def _pin_as(self, name: str | None) -> None:
        if name is not None:
            self.do(self.session.pin(name))

    def unpin(self, name: str | None = None) -> None:
        self.do(self.session.unpin(name))

    def action_leave_race(self) -> None:
        self.do(self.session.leave_race())

    def action_table(self) -> None:
        rows, target, title, note = self.session.results()
        colors = self.lane_colors()
        self.push_screen(RaceResultsScreen(title, rows, target, colors, note))

    def action_export(self) -> None:
        count = len(self.session.shown_lanes())
        what = "1 run" if count == 1 else f"{count} runs"
        self.push_screen(
            PromptScreen(
                "export history",
                f"File name ({what}; writes NAME.csv and NAME.json):",
                DEFAULT_EXPORT_STEM,
            ),
            self._export_to,
        )

    def _export_to(self, text: str | None) -> None:
        if text is not None:
            self.do(self.session.export(text))

    def action_presets(self) -> None:
        self.push_screen(PresetScreen(), self.open_preset)

    def open_preset(self, name: str | None) -> None:
        """Load preset `name`: a run or a race into the session, a benchmark into its screen."""
        if name is None:
            return
        if presets.kind(name) == "sweep":
            self.notify(
                f"preset {name} is a sweep: run it with `optplay sweep --preset {name}`",
                markup=False,
            )
            return
        if presets.kind(name) == "bench":
            title = f"{presets.title(name)} (preset {name})"
            command = f"optplay bench --preset {name}"
            self.push_screen(BenchScreen(presets.load(name), title, command))
            return
        change = self.session.load(presets.load(name))
        self.do(change)
        self.notify(f"preset {name}: {presets.title(name)}", timeout=3, markup=False)

    def load_experiment(self, experiment: Experiment) -> None:
        """Show an experiment (an opened file): a race opens as a race."""
        self.do(self.session.load(experiment))

    def show_tab(self, tab: str) -> None:
        """Bring a chart tab into view (`tab-loss`, `tab-lr`, `tab-norms`, `tab-path`,
        `tab-state`)."""
        self.main.query_one("#chart-tabs", TabbedContent).active = tab

    # -- footer and palette ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that don't apply now; space belongs to an open dialog."""
        declared = BY_NAME.get(action)
        if declared is None:
            return True
        if action == "toggle_run" and isinstance(self.screen, Dialog) and self.screen.takes_space:
            return False
        if declared.when is not None:
            return declared.when in self._available
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        available = self._available
        for action in ACTIONS:
            if action.title is None or (action.when and action.when not in available):
                continue
            yield SystemCommand(
                action.title,
                f"{action.help[0].upper()}{action.help[1:]} ({action.shown_key})",
                getattr(self, f"action_{action.name}"),
            )
        for name in presets.names():
            yield SystemCommand(
                f"Load preset: {name}",
                presets.title(name),
                lambda name=name: self.open_preset(name),
            )
        for pin in self.session.pins:
            yield SystemCommand(
                f"Unpin {pin.name}",
                "Remove this overlay from the charts",
                lambda name=pin.name: self.unpin(name),
            )
        if self.session.pins:
            yield SystemCommand("Unpin all", "Remove every overlay from the charts", self.unpin)
        tabs = list(CHART_TABS)
        if getattr(self.session.view().run.task, "is_landscape", False):
            tabs.append(("tab-path", "path"))
        for tab, label in tabs:
            yield SystemCommand(
                f"Show {label} chart",
                f"Switch to the {label} tab",
                lambda tab=tab: self.show_tab(tab),
            )

    def action_command_palette(self) -> None:
        """ctrl+p: the command palette (one that runs a command once per pick)."""
        if self.use_command_palette and not OnceCommandPalette.is_open(self):
            self.push_screen(OnceCommandPalette(id="--command-palette"))


def create_app(
    experiment: Experiment | RunConfig | None = None,
    *,
    steps: int | None = None,
    save_path: str | None = None,
    history_capacity: int | None = 4096,
) -> OptplayApp:
    """The app, for the CLI, the Pilot tests and the snapshot tests alike.

    `experiment` (an opened file or preset, or a bare RunConfig; None: the default run) is
    what the app shows first; one with [[race]] entries opens as a race. `steps` overrides
    its planned length; `save_path` is the file ctrl+s offers (the one opened with --config)."""
    if isinstance(experiment, RunConfig):
        experiment = Experiment(experiment)
    if steps is not None:
        experiment = dataclasses.replace(experiment or default_experiment(), steps=steps)
    return OptplayApp(Session(experiment, save_path=save_path, history_capacity=history_capacity))
