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
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.filter import LineFilter
from textual.notifications import Notification, Notify
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static, TabbedContent, Tabs

from engine import optimizers, schedules
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
from tui import settings as settings_file
from tui.actions import ACTIONS, BY_NAME, Action, bindings, help_keys
from tui.ascii_filter import AsciiFilter, PrintableFilter
from tui.charts import ChartPanel, ChartView
from tui.charts import tabs as chart_tabs
from tui.charts.base import LANE_ROLES
from tui.charts.loss import predicted_run
from tui.charts.measured import measured_steps
from tui.charts.path import PathChart
from tui.messages import RunFailed, RunFinished, RunProgress
from tui.settings import Settings
from tui.terminal import output_is_ascii
from tui.textual_fixes import OnceCommandPalette, fix_timer_catch_up, guard_option_list_paging
from tui.widgets.keybar import KeyBar
from tui.widgets.lesson_line import LessonLine
from tui.widgets.race_panel import RacePanel
from tui.widgets.status import StatusLine

# The screens, the lessons, the presets and the sweep machinery load when first used, and the
# sidebar's widgets (pickers, form) and the dialogs' base when the sidebar is built: the first
# screen needs none of them (tests/tui/test_launch_imports.py keeps it so).
if TYPE_CHECKING:
    from engine.lessons import Lesson
    from tui.screens.confirm import QuitChoice
    from tui.screens.race_setup import RaceSetup
    from tui.screens.sweep import SweepPick, SweepScreen
    from tui.widgets.hyper_form import FormSection, HyperForm
    from tui.widgets.pickers import Picker

guard_option_list_paging()  # see tui/textual_fixes.py
fix_timer_catch_up()

#: Frames a second while training: the status line, the race panel and the visible chart.
FRAME_HZ = 10
#: The share of the time charts may take to draw while training (see _draw_chart_when_due).
CHART_SHARE = 0.05
#: Seconds after the last settings change before they are written (`+` pressed five times
#: writes once).
SETTINGS_WRITE_DELAY = 0.5
#: Below this many columns the sidebar hides by itself (unless shown with `b`).
SIDEBAR_MIN_WIDTH = 90
#: The name an exported picture starts from (NAME-loss.png, NAME-screen.svg...).
#: The optimizer picker's last entry: asks for a Python file with your own optimizer.
OPTIMIZER_FILE_ENTRY = "optimizer from file…"
PICTURE_STEM = "optplay-picture"
#: The Sweep screen's name: installed once, so leaving it keeps its sweep (and its worker).
SWEEP_SCREEN = "sweep"


def pool_executor(runs: int) -> Any:
    """The executor of a sweep in the app (tui/screens/sweep.py), loaded when a sweep runs."""
    from tui.screens.sweep import pool_executor as make

    return make(runs)


def form_section(section: Any) -> FormSection:
    """The form's description of a session `SectionView`."""
    from tui.widgets.hyper_form import FormSection

    return FormSection(
        section.key, section.title, section.specs, section.values, section.check, section.note
    )


def _freeze_then_collect(enable: bool) -> None:
    gc.freeze()
    if enable:
        gc.enable()


#: Keys that answer with the reason where they do not apply (p: the session's own refusal).
EXPLAINED = {
    "pin": "",
    "table": "t shows a race's results table: start a race (c) or pin a run (p) first",
    "verdict": "v shows a lesson's claim and verdict: load a lesson first (L)",
}


class MainScreen(Screen):
    """The playground's screen (the app's default screen). Its first showing does not
    restyle it whole as Textual's Screen does: every widget was styled as it mounted, a
    moment before, by the same stylesheet with the same classes (the breakpoint's included:
    `OptplayApp.get_default_screen`); that second pass was a sixth of the first screen's
    work. Later showings (after a dialog) restyle as usual.

    A focus move repaints what it changes: Textual's screens repaint every widget when the
    focus moves (the `focused` reactive's default), and a Tab between two knobs repainted the
    charts and every row. The widgets that lost or got the focus, and those the move
    restyles, repaint themselves (as in a `Dialog`, tui/dialogs.py)."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    _shown = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._shown:
            self._shown = True
            event.refresh_styles = False  # read by Screen's handler, which runs next


class OptplayApp(App[int]):
    """Pick, tune, run and watch an optimizer train, in the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "optplay"
    # Below 90 columns the screen is "-narrow": the sidebar hides unless the user chose (CSS).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-narrow"),
        (SIDEBAR_MIN_WIDTH, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = bindings()
    #: The executor of a sweep (or lesson seeds) of n runs (a process pool, as `optplay
    #: sweep`; the session's Dask cluster after `use_dask`); tests set one of their own.
    sweep_executor: Callable[[int], Any] = staticmethod(pool_executor)

    def __init__(
        self,
        session: Session,
        settings: Settings | None = None,
        ascii_only: bool | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.settings = settings or Settings()
        self.settings_warning: str | None = None
        # An output that cannot show braille and box drawing gets every cell in ASCII.
        self.ascii_only = output_is_ascii() if ascii_only is None else ascii_only
        self._ascii_filter = AsciiFilter(enabled=self.ascii_only)
        self._printable_filter = PrintableFilter()
        self._available: frozenset[str] = frozenset()
        self._topics: dict[str, Notification] = {}  # toasts that go when their reason does
        # Settings are written off the UI thread, a moment after the last change (an fsync
        # per `+` would stall the keys); the lock orders that write and the one at exit.
        self._settings_lock = threading.Lock()
        self._settings_unsaved = False
        self._settings_timer: Timer | None = None
        self._store_lock = threading.Lock()
        # Progress arrived since the status line / the race panel was drawn (two flags: news
        # between their two ticks must reach both).
        self._status_due = False
        self._panel_due = False
        self._tick = 0
        self._chart_due = 0.0  # when the chart may be drawn again (monotonic seconds)
        #: The session's Dask executor (`use_dask`), None when jobs run on this machine.
        self.shared_jobs: Any = None
        #: The lesson last loaded as shipped (the verdict's `f` loads its flips).
        self.lesson_shipped: Lesson | None = None
        #: The learner's predictions (tui/screens/verdict.py `prediction_key` -> outcome).
        self.lesson_predictions: dict[tuple[str, str | None, str], str] = {}
        #: Whether the sidebar's pickers and form exist yet.
        self.sidebar_built = False
        #: Build the sidebar's content and the charts of the tabs not shown after the first
        #: frame (the launcher sets it, for a first screen drawn sooner: four fifths of its
        #: widgets are those); tests and `optplay serve` build them with the rest.
        self.defer_sidebar = False

    def use_dask(self, address: str, workers: int | None = None) -> None:
        """Run this session's sweeps (and lesson seeds: `sweep_executor`) on a Dask cluster:
        "local" (of `workers` processes, default one per core) or a scheduler's address,
        connected when the first jobs run."""
        from tui.screens.sweep import shared_dask

        self.shared_jobs = shared_dask(address, workers)
        self.sweep_executor = lambda runs: self.shared_jobs

    # -- layout ------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        """The main screen, its width's breakpoint class ("-narrow" / "-wide") set before
        its widgets are styled: Textual adds it at the first resize, and a class added then
        restyles every widget of the screen a second time (a fifth of the first screen's
        work). The resize finds it in place and changes nothing."""
        screen = MainScreen(id="_default")
        classes = screen._get_breakpoint_classes(self.size.width, self.HORIZONTAL_BREAKPOINTS)
        screen.add_class(*classes, update=False)
        if self.defer_sidebar:
            # No widget takes the focus by itself until the sidebar is there: it gets it then
            # (its task picker, as when it is built with the rest), not the charts' tabs.
            screen.AUTO_FOCUS = ""
        return screen

    def compose(self) -> ComposeResult:
        # Placed as the settings say from the start: a class added after mounting restyles
        # every widget in #main (see _place_sidebar).
        with Horizontal(id="main", classes=f"-sidebar-{self.settings.sidebar}"):
            with VerticalScroll(id="sidebar", can_focus=False):
                if not self.defer_sidebar:
                    self.sidebar_built = True
                    yield from self._sidebar_widgets()
            yield RacePanel(id="race-panel")  # replaces the sidebar during a race
            # Deferred: only the chart of the tab the run opens on; the others after.
            first = chart_tabs.opening_for(self.session.race.runs[0].task).id
            yield ChartPanel(id="charts", first=first if self.defer_sidebar else None)
        yield LessonLine(id="lesson-line")
        yield StatusLine(id="status")
        yield KeyBar(ACTIONS, id="keybar")

    def _sidebar_widgets(self) -> ComposeResult:
        """The sidebar's content: the pickers, the pending note and the knobs' form."""
        from tui.widgets.hyper_form import FORM_HINT, HelpLine, HyperForm
        from tui.widgets.pickers import Picker

        view = self.session.view()
        for kind in KINDS:
            registry = registry_of(kind)
            yield Picker(
                kind,
                registry.names(),
                view.picks[kind],
                registry.summary,
                id=f"{kind}-picker",
                more=OPTIMIZER_FILE_ENTRY if kind == "optimizer" else None,
            )
        yield Static("", id="pending", markup=False)
        yield HyperForm([form_section(s) for s in view.sections], id="form", help_line="#form-help")
        yield HelpLine((), reserved=True, idle=FORM_HINT, id="form-help")  # docked under

    async def _build_sidebar(self) -> None:
        """Fill the sidebar after the first frame (`defer_sidebar`), as the session is now,
        and build the charts of the tabs not shown."""
        if self.sidebar_built or not self.main.is_attached:
            return
        await self.main.query_one(ChartPanel).build_charts()
        sidebar = self.main.query_one("#sidebar", VerticalScroll)
        await sidebar.mount_all(list(self._sidebar_widgets()))
        self.sidebar_built = True
        self.main.AUTO_FOCUS = type(self.main).AUTO_FOCUS
        if self.screen is self.main:
            self.main._update_auto_focus()  # the first field, unless a key moved the focus
        self.render_view()
        gc.freeze()  # lives as long as the app, as what on_mount froze

    @property
    def main(self) -> Screen:
        """The screen holding the playground (dialogs open on top of it)."""
        return self.screen_stack[0]

    def on_load(self) -> None:
        # The remembered theme before the widgets are styled (set later, it restyles them all).
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme

    def on_mount(self) -> None:
        self.main.query_one(ChartPanel).set_smoothing(self.settings.smoothing)
        self._place_sidebar()
        self.render_view()
        if not self.sidebar_built:
            self.call_after_refresh(self._build_sidebar)
        self.set_interval(1 / (3 * FRAME_HZ), self._frame, name="frame")
        if self.settings_warning:
            self.notify(self.settings_warning, severity="warning", markup=False)
        if self.settings.record_runs:
            self.session.recorder = self.record_runs
            # Opened (created, migrated) after the first frame: its thread would take turns
            # with drawing it.
            self.call_after_refresh(self._open_store)
        # Everything built so far lives as long as the app: keep it out of the cyclic GC's
        # full collections, which otherwise stall the UI ~75 ms now and then while training.
        gc.freeze()
        # Once more after the first frame (its strips and caches live on too; a full
        # collection then walks 3-5 ms instead of 11-20), and the collector back on if the
        # launcher (tui/__main__.py) kept it off until then.
        self.call_after_refresh(_freeze_then_collect, not gc.isenabled())

    def on_unmount(self) -> None:
        gc.unfreeze()  # give it back to the collector (tests run many apps in one process)
        if self.shared_jobs is not None:
            self.shared_jobs.shutdown()  # the session's Dask client (and LocalCluster)
        if self._settings_timer is not None:
            self._settings_timer.stop()
        self._write_settings()  # the last change, if its write is still pending

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters (NO_COLOR's monochrome...), then no control character from any
        text (tui/ascii_filter.py), then ASCII where the terminal needs it (tui/terminal.py)."""
        ascii_filter = [self._ascii_filter] if self.ascii_only else []
        return [*super().get_line_filters(), self._printable_filter, *ascii_filter]

    async def on_event(self, event: events.Event) -> None:
        """Keys first: while training, a key holds the training thread until the screen shows
        what the key did (else the two take turns at the interpreter lock and the answer
        takes twice as long)."""
        if isinstance(event, events.Key) and not event.is_forwarded and self.session.streaming:
            self.session.hold_training()
            self.call_after_refresh(self.session.release_training)
        await super().on_event(event)

    # -- rendering the session ----------------------------------------------------------

    def do(self, change: Change) -> None:
        """Act on what a verb did (tell, start training, show the table), then render."""
        for notice in change.notices:
            self.tell(notice.text, notice.severity, notice.title, notice.topic)
        if change.start:
            self.train()
        self.render_view()
        if change.open_table and len(self.screen_stack) == 1:
            self.action_table()
        if change.open_verdict and len(self.screen_stack) == 1:
            self.action_verdict()

    def tell(self, text: str, severity: str = "information", title: str = "", topic: str = "",
             timeout: float | None = None) -> None:  # fmt: skip
        """A toast. One with a `topic` ("pending", "diverged", "carried"...) replaces the last
        one of that topic and goes away as soon as its reason is gone (`_expire_topics`).
        markup=False: notices quote names and paths as typed ("[x=" is bad markup)."""
        notification = Notification(
            text,
            title,
            severity,
            timeout or self.NOTIFICATION_TIMEOUT,
            markup=False,  # type: ignore[arg-type]
        )
        if topic:
            self._drop_topic(topic)
            self._topics[topic] = notification
        self.post_message(Notify(notification))

    def _drop_topic(self, topic: str) -> None:
        old = self._topics.pop(topic, None)
        if old is not None and old in self._notifications:
            self._unnotify(old)  # Textual's one way to take a single toast back

    def _expire_topics(self, view: SessionView) -> None:
        """Take back the toasts whose reason is gone."""
        if "pending" in self._topics and not view.pending:
            self._drop_topic("pending")
        if "diverged" in self._topics and view.status.state != "diverged":
            self._drop_topic("diverged")

    def render_view(self) -> None:
        """Show `session.view()`: each widget redraws only what changed."""
        try:
            self._render_view()
        except NoMatches:  # not composed yet, or shutting down: nothing to show it on
            pass

    def _render_view(self) -> None:
        view = self.session.view()
        self._expire_topics(view)
        main = self.main.query_one("#main", Horizontal)
        if main.has_class("-race") != view.racing:
            main.set_class(view.racing, "-race")
            if view.racing:
                self.set_focus(None)  # the form is hidden
        if self.sidebar_built:  # else it is built from the session as it is then
            from tui.widgets.hyper_form import HyperForm
            from tui.widgets.pickers import Picker

            for kind in KINDS:
                picker = self.main.query_one(f"#{kind}-picker", Picker)
                if picker.value != view.picks[kind]:
                    picker.pick(view.picks[kind])
            self.main.query_one(HyperForm).show([form_section(s) for s in view.sections])
            self._show_pending(view)
        self.main.query_one(LessonLine).show(view)
        self.main.query_one(StatusLine).show(view.status)
        if view.racing and self.session.streaming:
            self._panel_due = True  # the racers' numbers move anyway: the next frame shows them
        elif view.racing:
            self.main.query_one(RacePanel).show(
                view.panel_title,
                view.panel_settings,
                view.lanes,
                self.lane_colors(len(view.lanes)),
                view.ranking,
            )
        self.main.query_one(ChartPanel).show(
            ChartView(
                view.run,
                view.planned_steps,
                view.version,
                view.lanes if view.overlaid else (),
                model_lane=view.model_lane,
                leader_lane=view.leader_lane,
                measured=measured_steps(
                    view.lesson, view.verdict, tuple(lane.name for lane in view.lanes)
                ),
            )
        )
        if view.available != self._available:
            self._available = view.available
            self.refresh_bindings()
        self.main.query_one(KeyBar).show(self._applies)

    def _applies(self, action: Action) -> bool:
        return action.when is None or action.when in self._available

    def _show_pending(self, view: SessionView) -> None:
        note = self.main.query_one("#pending", Static)
        if view.pending:
            note.update(f"⟳ {', '.join(view.pending)} changed: r resets the run to apply")
        note.set_class(bool(view.pending), "-shown")

    def lane_colors(self, count: int | None = None) -> list[Any]:
        """The colours of `count` lanes (default: those shown), as the charts draw them."""
        chart = self.main.query_one(ChartPanel).active_chart()
        if count is None:
            count = len(self.session.lane_views())
        if chart is None:
            return [None] * count
        return [chart.color(LANE_ROLES[i % len(LANE_ROLES)]) for i in range(count)]

    def watch_theme(self, theme: str) -> None:
        """Lane colours in the race panel follow the theme (the charts notice by themselves);
        the theme is remembered for the next start."""
        if self.is_mounted:
            self.call_after_refresh(self.render_view)
            self.remember(theme=theme)

    def remember(self, **changes: Any) -> None:
        """Change settings; they are written soon after (a failure is one warning, never an
        error), and at exit."""
        new = self.settings.replace(**changes)
        if new == self.settings:
            return
        self.settings = new
        self._settings_unsaved = True
        if self._settings_timer is not None:
            self._settings_timer.stop()
        self._settings_timer = self.set_timer(SETTINGS_WRITE_DELAY, self._save_settings)

    @work(thread=True, group="settings", exit_on_error=False)
    def _save_settings(self) -> None:
        warning = self._write_settings()
        if warning:
            self.call_from_thread(self.tell, warning, "warning", "", "settings")

    def _write_settings(self) -> str | None:
        """Write the settings if they changed since the last write (any thread)."""
        with self._settings_lock:
            if not self._settings_unsaved:
                return None
            self._settings_unsaved = False
            return settings_file.save(self.settings)

    # -- the sidebar ---------------------------------------------------------------------

    def _place_sidebar(self) -> None:
        """The sidebar as the settings say: shown, hidden, or (auto) hidden on a narrow
        screen, by CSS (#main.-sidebar-auto under Screen.-narrow, in app.tcss)."""
        found = self.main.query("#main") if self.screen_stack else None
        if not found:
            return  # before compose, or shutting down
        main = found.first(Horizontal)
        for mode in ("auto", "shown", "hidden"):
            main.set_class(self.settings.sidebar == mode, f"-sidebar-{mode}")

    def sidebar_shown(self) -> bool:
        return bool(self.main.query_one("#sidebar").display) or bool(
            self.main.query_one("#race-panel").display
        )

    def action_toggle_sidebar(self) -> None:
        self.remember(sidebar="hidden" if self.sidebar_shown() else "shown")
        self._place_sidebar()
        focused = self.focused
        if (
            self.settings.sidebar == "hidden"
            and focused is not None
            and (self.main.query_one("#sidebar") in focused.ancestors)
        ):
            self.set_focus(None)  # keys act on the app again

    # -- the run store (engine/store.py), written off the UI thread ---------------------------

    @work(thread=True, group="store", exit_on_error=False)
    def _open_store(self) -> None:
        """Open (create, migrate) the run store once at start: a corrupt file is set aside
        and the user told; a store that cannot be used is one warning, never a crash."""
        import sqlite3

        from engine.store import Store, StoreError

        try:
            with Store() as store:
                notice = store.notice
        except (StoreError, OSError, sqlite3.Error) as err:
            notice = f"runs are not recorded: {err}"
        if notice:
            self.call_from_thread(self.tell, notice, "warning", "Run store", "store")

    def record_runs(self, rows: list[Any]) -> None:
        """Keep finished runs in the run store (the session's recorder)."""
        self._write_runs(rows)

    @work(thread=True, group="store", exit_on_error=False)
    def _write_runs(self, rows: list[Any]) -> None:
        from engine.store import record_runs

        with self._store_lock:  # one writer from this app at a time, in order
            warning = record_runs(rows)
        if warning:
            self.call_from_thread(self.tell, warning, "warning", "Run store", "store")

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
        """Progress arrives after every chunk (about 30 a second); the next frame shows it."""
        if message.run is self.session.race:
            self._status_due = self._panel_due = True

    def _frame(self) -> None:
        """A third of a frame while training: the visible chart, the status line and the race
        panel, each on its own tick. Textual re-renders every widget inside the box around a
        screen update's dirty areas; the box around the status line (full width) and the
        chart covers the whole sidebar too, so drawing them apart costs less than together.
        (The end of a stream and every user action render at once, not here.)"""
        if not self.screen_stack:
            return  # shutting down: the last tick can come after the screens are gone
        self._tick = (self._tick + 1) % 3
        try:
            if self._tick == 0:
                self._draw_chart_when_due()
            elif self._tick == 1:
                if self._status_due:
                    self._status_due = False
                    self.main.query_one(StatusLine).show(self.session.status())
            elif self._panel_due:
                self._panel_due = False
                session = self.session
                if session.racing:
                    lanes = session.lane_views()
                    self.main.query_one(RacePanel).show(
                        *session.panel_text(),
                        lanes,
                        self.lane_colors(len(lanes)),
                        session.ranking(lanes),
                    )
        except NoMatches:  # shutting down
            pass

    def _draw_chart_when_due(self) -> None:
        """Redraw the visible chart, but give charts at most CHART_SHARE of the time: a chart
        that takes long to draw (six lanes, a big terminal) is drawn less often while
        training, so the keys and the training thread keep the rest."""
        now = time.monotonic()
        if now < self._chart_due:
            return
        self.main.query_one(ChartPanel).redraw()
        cost = time.monotonic() - now
        self._chart_due = now + cost / CHART_SHARE - 0.5 / FRAME_HZ

    @on(RunFinished)
    def _finished(self, message: RunFinished) -> None:
        if not self.screen_stack:
            return  # the app closed while the stream ended
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

    # Handlers by name rather than `@on(Picker.Changed)`: the pickers and the form load with
    # the sidebar, after the first frame.
    def on_picker_changed(self, message: Picker.Changed) -> None:
        self.do(self.session.pick(message.kind, message.name))

    def on_picker_more(self, message: Picker.More) -> None:
        if message.control.id == "optimizer-picker":
            self.action_optimizer_file()

    @on(TabbedContent.TabActivated, "#chart-tabs")
    def _tab_shown(self, message: TabbedContent.TabActivated) -> None:
        tab = chart_tabs.by_pane(message.pane.id)
        if tab is not None and tab.watches_state:
            self.do(self.session.watch_state())
        if tab is not None and tab.watches_sharpness:
            self.do(self.session.watch_sharpness())

    def on_hyper_form_changed(self, message: HyperForm.Changed) -> None:
        self.do(self.session.edit(message.section, message.values))

    @on(Input.Submitted, "#form Input")
    def _field_done(self, message: Input.Submitted) -> None:
        """Enter in a field commits it (the form did) and gives the keys to the chart panel:
        the next digit switches tabs instead of being typed into the number."""
        self.main.query_one("#chart-tabs Tabs", Tabs).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_editing()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._show_editing()

    def _show_editing(self) -> None:
        """The key bar names the knob whose text field has the keys (nothing otherwise)."""
        if not self.screen_stack:
            return
        focused = self.main.focused
        field = None
        if isinstance(focused, Input):
            from tui.widgets.hyper_form import HyperField

            field = next((a for a in focused.ancestors if isinstance(a, HyperField)), None)
        try:
            keybar = self.main.query_one(KeyBar)
        except NoMatches:
            return
        keybar.show_editing(field.spec.name if field is not None else None)

    def _form_ready(self) -> bool:
        """Apply what was typed but not committed yet; False (and the user is told why)
        when an invalid field blocks training or saving."""
        if self.session.racing or not self.sidebar_built:
            return True  # the race was checked in its setup; the hidden form is not used
        from tui.widgets.hyper_form import HyperForm

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
        self.remember(speed=self.session.speed)

    def action_slower(self) -> None:
        self.do(self.session.slower())
        self.remember(speed=self.session.speed)

    def action_next_tab(self) -> None:
        self.main.query_one(ChartPanel).cycle(1)

    def action_prev_tab(self) -> None:
        self.main.query_one(ChartPanel).cycle(-1)

    def action_tab(self, key: str) -> None:
        """1-6: the chart tab of that number (of those shown for this task)."""
        self.main.query_one(ChartPanel).select(int(key) - 1)

    def action_toggle_smoothing(self) -> None:
        panel = self.main.query_one(ChartPanel)
        smooth = not panel.smoothing_shown()  # a noisy race may be smoothed by itself
        panel.set_smoothing(smooth, chosen=True)
        self.remember(smoothing=smooth)
        self.tell(f"smoothed training loss {'on' if smooth else 'off'}", timeout=2)

    def action_eigen_components(self) -> None:
        """The Loss tab splits the predicted error into its eigen-directions, and back."""
        panel = self.main.query_one(ChartPanel)
        on = not panel.components
        if on and predicted_run(self.session.run) is None:
            why = self.session.theory().why_not or "the theory does not predict this run"
            self.tell(f"no eigen-components: {why}", severity="warning")
            return
        panel.set_components(on)
        if on:
            self.show_tab("tab-loss")
        self.tell(f"loss split by eigen-direction {'on' if on else 'off'}", timeout=2)

    @on(PathChart.StartPicked)
    def _start_picked(self, message: PathChart.StartPicked) -> None:
        """A point picked on the Path chart: the task's start (x0, y0), from step 0."""
        if self.session.racing:
            self.notify("a race keeps its start: x leaves it, then pick a start", timeout=3)
            return
        x, y = (float(f"{v:.3g}") for v in (message.x, message.y))
        task = self.session.run.task
        change = self.session.edit("task", {**task.hypers, "x0": x, "y0": y})
        if change.ok and self.session.run.steps_done:
            change += self.session.reset()
        self.do(change)
        if change.ok:
            self.tell(f"start at ({x:g}, {y:g})", timeout=3)

    def action_chart_cursor(self) -> None:
        chart = self.main.query_one(ChartPanel).active_chart()
        start = getattr(chart, "start_cursor", None)
        if start is None or not start():
            why = getattr(chart, "why_no_cursor", None)
            self.notify(why() if why is not None else "this chart has no cursor", timeout=3)

    def action_toggle_log(self) -> None:
        if self.main.query_one(ChartPanel).toggle_log() is None:
            self.notify("this chart has no log scale", timeout=2)

    def action_model_lane(self) -> None:
        self.do(self.session.next_model_lane())
        self.show_tab("tab-model")

    def action_norms_series(self) -> None:
        chart = self.main.query_one(ChartPanel).chart("norms")
        title = chart.next_series()
        self.show_tab("tab-norms")
        self.main.query_one(ChartPanel).redraw()
        if not self.session.view().overlaid:
            self.notify("one run: the Norms tab shows all three series", timeout=2)
        else:
            self.notify(f"Norms tab: {title} per lane", timeout=2)

    def action_model_points(self) -> None:
        self.show_tab("tab-model")
        self.main.query_one(ChartPanel).chart("model").toggle_test_points()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        config = self.session.config
        self.push_screen(
            HelpScreen(
                optimizers.get(config.optimizer),
                schedules.get(config.schedule),
                help_keys(),
                flavour=config.optimizer_hypers.get("flavour", "torch"),
            )
        )

    def action_save(self) -> None:
        if self._form_ready():
            self._ask_save()

    def _ask_save(self, then: Callable[[], None] | None = None) -> None:
        """The save dialog; a name it can't take keeps it open with the reason."""
        from tui.screens.save import SaveScreen

        screen = SaveScreen(
            self.session.save_path,
            folder=str(Path.cwd()),
            check=lambda text: self.session.save_target(text)[1],
        )
        self.push_screen(screen, lambda text: self._save_to(text, then))

    def _save_to(self, text: str | None, then: Callable[[], None] | None = None) -> None:
        if text is None:
            return
        path, problem = self.session.save_target(text)
        if problem is not None:  # checked in the dialog already; a race is possible
            self.tell(problem, "error", "not saved")
            return
        if Path(path) == Path(self.session.save_path):  # saving the experiment's own file
            self._write_save(path, then)
            return
        self._confirm_overwrite([path], lambda: self._write_save(path, then))

    def _write_save(self, path: str, then: Callable[[], None] | None) -> None:
        """Save; then (saved) go on with what asked for the save (quit, load a preset...)."""
        change = self.session.save(path)
        self.do(change)
        if change.ok and then is not None:
            then()

    def _confirm_overwrite(self, paths: list[str], then: Any) -> None:
        """Run `then()` now, or after the user agreed to replace files that exist."""
        existing = [p for p in paths if Path(p).exists()]
        if not existing:
            then()
            return
        from tui.screens.confirm import ConfirmOverwriteScreen

        self.push_screen(ConfirmOverwriteScreen(existing), lambda yes: then() if yes else None)

    async def action_quit(self) -> None:
        """Quit; with unsaved changes, ask first (save / discard / cancel)."""
        from tui.screens.confirm import ConfirmQuitScreen

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
            self._ask_save(then=self.exit)

    def action_race(self) -> None:
        from tui.screens.race_setup import RaceSetupScreen

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
        from tui.screens.prompt import PromptScreen

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
        from tui.screens.race_results import RaceResultsScreen

        if "table" not in self._available:
            self.notify(EXPLAINED["table"], timeout=3, markup=False)
            return
        rows, target, title, note = self.session.results()
        colors = self.lane_colors()
        self.push_screen(RaceResultsScreen(title, rows, target, colors, note))

    def action_export(self) -> None:
        count = len(self.session.shown_lanes())
        what = "1 run" if count == 1 else f"{count} runs"
        from tui.screens.prompt import PromptScreen

        self.push_screen(
            PromptScreen(
                "export history",
                f"File name ({what}; writes NAME.csv and NAME.json in {Path.cwd()}):",
                DEFAULT_EXPORT_STEM,
                check=lambda text: self.session.export_targets(text)[1],
            ),
            self._export_to,
        )

    def _export_to(self, text: str | None) -> None:
        if text is None:
            return
        paths, problem = self.session.export_targets(text)
        if problem is not None:
            self.tell(problem, "error", "not exported")
            return
        self._confirm_overwrite(paths, lambda: self.do(self.session.export(text)))

    def action_export_picture(self) -> None:
        """The chart in view as PNG and SVG and the whole screen as SVG (`tui/figures.py`,
        Textual's screenshot), into the working folder; asks before overwriting."""
        from tui.screens.prompt import PromptScreen

        tab = self._picture_tab()
        self.push_screen(
            PromptScreen(
                "export picture",
                f"File name (writes NAME-{tab}.png, NAME-{tab}.svg and NAME-screen.svg in "
                f"{Path.cwd()}):",
                PICTURE_STEM,
                check=lambda text: self._picture_targets(text)[1],
            ),
            self._export_picture_to,
        )

    def action_code(self) -> None:
        """The run in view (the first racer in a race) as a script (tui/code_export.py)."""
        from tui.code_export import code_target, suggestion
        from tui.screens.prompt import PromptScreen

        config, steps = self.session.race.runs[0].config, self.session.planned_steps
        self.push_screen(
            PromptScreen(
                "experiment as code",
                f"Script name, then the framework (numpy, torch, optax or keras); writes it "
                f"and its data in {Path.cwd()}:",
                suggestion(config),
                check=lambda text: code_target(text, config, steps)[1],
            ),
            lambda text: self._write_code(text, config, steps),
        )

    def _write_code(self, text: str | None, config: RunConfig, steps: int) -> None:
        from tui.code_export import code_target, write_code

        if text is None:
            return
        target, problem = code_target(text, config, steps)
        if target is None:
            self.tell(problem or "", "error", "no code written")
            return

        def write() -> None:
            try:
                self.tell(write_code(target), "information", "code")
            except OSError as err:
                self.tell(f"{err.filename}: {err.strerror or err}", "error", "no code written")

        self._confirm_overwrite(target.paths, write)

    def _picture_tab(self) -> str:
        """The chart in view, as `optplay plot --chart` names it ("loss", "lr", ...)."""
        active = self.main.query_one("#chart-tabs", TabbedContent).active or "tab-loss"
        return active.removeprefix("tab-")

    def _picture_targets(self, text: str) -> tuple[list[str], str | None]:
        from engine.session import export_stem, file_name_problem

        stem = export_stem(text.strip())
        tab = self._picture_tab()
        paths = [f"{stem}-{tab}.png", f"{stem}-{tab}.svg", f"{stem}-screen.svg"]
        return paths, file_name_problem(paths[-1]) if stem.strip() else "type a file name"

    def _export_picture_to(self, text: str | None) -> None:
        if text is None:
            return
        paths, problem = self._picture_targets(text)
        if problem is not None:
            self.tell(problem, "error", "not exported")
            return
        self._confirm_overwrite(paths, lambda: self._write_pictures(paths))

    def _write_pictures(self, paths: list[str]) -> None:
        """The screen now (it is what the user sees), the chart's pictures off the UI thread."""
        from tui.figures import history_lanes

        png, svg, screen = paths
        folder = Path(screen).parent
        try:
            self.save_screenshot(filename=Path(screen).name, path=str(folder))
        except OSError as err:
            self.tell(f"{screen}: {err.strerror or err}", "error", "not exported")
            return
        lanes = history_lanes(self.session.shown_lanes())  # copied now: training goes on
        self._draw_pictures(lanes, self._picture_tab(), png, svg, screen)

    @work(thread=True, group="pictures", exit_on_error=False)
    def _draw_pictures(self, lanes: list[Any], chart: str, png: str, svg: str,
                       screen: str) -> None:  # fmt: skip
        from tui.figures import FigureError, MissingExtra, Options, Plot, save

        plot = Plot("history", lanes=lanes)
        theme = "light" if "light" in self.theme else "dark"
        try:
            for path in (png, svg):
                save(plot, path, Options(chart=chart, theme=theme))
        except MissingExtra as err:
            self.call_from_thread(self.tell, f"wrote {screen}; {err}", "warning", "picture")
            return
        except FigureError as err:
            self.call_from_thread(self.tell, f"wrote {screen}; no chart picture: {err}",
                                  "warning", "picture")  # fmt: skip
            return
        except OSError as err:
            self.call_from_thread(self.tell, f"{err.filename}: {err.strerror or err}", "error",
                                  "not exported")  # fmt: skip
            return
        self.call_from_thread(self.tell, f"wrote {png}, {svg} and {screen}", "information",
                              "picture")  # fmt: skip

    def action_optimizer_file(self) -> None:
        """Ask for an optimizer file (the picker's last entry, the palette) and load it."""
        from tui.screens.optimizer_file import OptimizerFileScreen

        def remember(folder: str) -> None:
            self.remember(optimizer_folder=folder)

        self.push_screen(
            OptimizerFileScreen(self.settings.optimizer_folder, remember), self.load_optimizer_file
        )

    def load_optimizer_file(self, path: str | None) -> None:
        """Load the optimizer class of `path` (user code: only a file the user named) and pick
        it; a file that breaks the contract is one error line and the optimizer stays."""
        if path is None:
            return
        from engine.optimizer_file import OptimizerFileError
        from engine.optimizer_file import load_optimizer_file as load

        try:
            name = load(path)
        except OptimizerFileError as err:
            self.tell(str(err), "error", "optimizer file not loaded", timeout=10)
            return
        folder = str(Path(path).parent)
        self.remember(optimizer_folder="" if folder == "." else folder)
        if self.sidebar_built:  # else the picker is built with it
            from tui.widgets.pickers import Picker

            self.main.query_one("#optimizer-picker", Picker).add(name)
        self.do(self.session.pick("optimizer", name))

    def action_presets(self) -> None:
        from tui.screens.presets import PresetScreen

        self.push_screen(PresetScreen(), self.open_preset)

    def open_preset(self, name: str | None) -> None:
        """Load preset `name`: a run or a race into the session, a benchmark into its screen."""
        if name is None:
            return
        from engine import presets

        if presets.kind(name) == "sweep":
            self.open_sweep(presets.load(name), start=True)
            return
        if presets.kind(name) == "bench":
            title = f"{presets.title(name)} (preset {name})"
            command = f"optplay bench --preset {name}"
            from tui.screens.bench import BenchScreen

            self.push_screen(BenchScreen(presets.load(name), title, command))
            return
        self.unless_unsaved(f"loading preset {name}", lambda: self._load_preset(name))

    def _load_preset(self, name: str) -> None:
        from engine import presets

        self.do(self.session.load(presets.load(name)))
        self.notify(f"preset {name}: {presets.title(name)}", timeout=3, markup=False)

    def unless_unsaved(self, doing: str, then: Callable[[], None]) -> None:
        """Run `then()` (which replaces the experiment) now, or after asking what to do with
        unsaved changes as quitting does: save first, discard, or cancel."""
        changes = self.session.unsaved_changes()
        if not changes:
            then()
            return
        from tui.screens.confirm import ConfirmQuitScreen

        def answer(choice: QuitChoice | None) -> None:
            if choice == "discard":
                then()
            elif choice == "save" and self._form_ready():
                self._ask_save(then=then)

        screen = ConfirmQuitScreen(", ".join(changes), self.session.save_path, doing=doing)
        self.push_screen(screen, answer)

    def action_lessons(self) -> None:
        from tui.screens.lessons import LessonsScreen

        current = self.session.lesson
        self.push_screen(LessonsScreen(current.name if current else None), self.open_lesson)

    def open_lesson(self, lesson: Lesson | str | None) -> None:
        """Load a lesson (or a shipped lesson's name), not started, and bring the tab it says
        to watch into view."""
        if lesson is None:
            return
        name = lesson if isinstance(lesson, str) else lesson.name
        self.unless_unsaved(f"loading lesson {name}", lambda: self._load_lesson(lesson))

    def _load_lesson(self, lesson: Lesson | str) -> None:
        self.do(self.session.open_lesson(lesson))
        lesson = self.session.lesson
        if lesson is None:
            return
        if lesson.label is None:
            self.lesson_shipped = lesson  # what `f` on the verdict flips
        tab = chart_tabs.by_id(lesson.watch.tab)
        if lesson.watch.series is not None and lesson.watch.tab == "norms":
            self.main.query_one(ChartPanel).chart("norms").show_series(lesson.watch.series)
        if tab is not None and tab.applies(self.session.view().run.task):
            self.show_tab(tab.pane)

    def action_verdict(self) -> None:
        view = self.session.view()
        if view.lesson is None:
            self.notify(EXPLAINED["verdict"], timeout=3, markup=False)
        else:
            from tui.screens.verdict import VerdictScreen

            diverged = {lane.name: lane.diverged_at for lane in view.lanes}
            shipped = self.lesson_shipped
            if (shipped is None or shipped.name != view.lesson.name) and not view.lesson.label:
                self.lesson_shipped = shipped = view.lesson  # loaded by the session itself
            flips = shipped.flips if shipped is not None else ()
            self.push_screen(
                VerdictScreen(view.lesson, view.verdict, diverged, view.status.step, flips)
            )

    def try_flip(self, index: int) -> None:
        """Load the lesson as shipped under its flip `index` (0-based), or as shipped when
        there is no such flip: the verdict should come out the other way there."""
        shipped = self.lesson_shipped
        if shipped is None:
            return
        if 0 <= index < len(shipped.flips):
            self.open_lesson(shipped.flipped(index))
        else:
            self.open_lesson(shipped)

    def action_use_optimum(self) -> None:
        self.do(self.session.use_optimum())

    def action_sweep(self) -> None:
        """The Sweep screen as it was left, or a first sweep drafted from the run."""
        if self.is_screen_installed(SWEEP_SCREEN):
            self._show_sweep_screen()
            return
        from tui.screens.sweep_setup import draft_spec

        self._form_ready()
        self.open_sweep(draft_spec(self.session.config, self.session.planned_steps))

    def open_sweep(self, spec: Any, start: bool = False) -> None:
        """The Sweep screen set up with `spec` (a SweepSpec); `start`: run it at once. A
        sweep still running there is cancelled."""
        if self.is_screen_installed(SWEEP_SCREEN):
            screen = self.get_screen(SWEEP_SCREEN)
            if screen.is_mounted:
                self.call_later(screen.load, spec, start)
                self._show_sweep_screen()
                return
            self.uninstall_screen(SWEEP_SCREEN)
        from tui.screens.sweep import SweepScreen

        self.install_screen(SweepScreen(spec, self.sweep_executor, start=start), SWEEP_SCREEN)
        self._show_sweep_screen()

    def _show_sweep_screen(self) -> None:
        if self.get_screen(SWEEP_SCREEN) not in self.screen_stack:
            self.push_screen(SWEEP_SCREEN, self._sweep_picked)

    def _sweep_picked(self, pick: SweepPick | None) -> None:
        if pick is not None:  # watch it: the single run, started
            self.do(self.session.open_run(pick.config, pick.steps, pick.name, go=True))

    def on_sweep_screen_pin_point(self, message: SweepScreen.PinPoint) -> None:
        """A point of the Sweep screen pinned (named by Textual's convention, so the Sweep
        screen's module loads only when a sweep is opened)."""
        refused = self.session.can_pin_config(message.config)
        if refused is not None:
            self.do(refused)
            return
        self._train_pin(message.config, message.steps, message.name)

    @work(thread=True, group="pin", exit_on_error=False)
    def _train_pin(self, config: RunConfig, steps: int, name: str) -> None:
        """Train the point's run off the UI thread, then pin it."""
        run = self.session.trained_copy(config, steps)
        self.call_from_thread(lambda: self.do(self.session.pin_run(run, name)))

    def action_runs(self) -> None:
        """The Runs screen: the stored runs, to open as the run or pin beside it."""
        from tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(), self._stored_picked)

    def _stored_picked(self, pick: Any) -> None:
        if pick is None:
            return
        if pick.pin:  # a pin adds to the run: nothing is replaced
            self._open_stored(pick.run_id, pick.pin)
            return
        self.unless_unsaved(
            f"opening stored run {pick.run_id}", lambda: self._open_stored(pick.run_id, False)
        )

    @work(thread=True, group="stored", exit_on_error=False)
    def _open_stored(self, run_id: int, pin: bool) -> None:
        """Read a stored run, retrain it to the step it reached (off the UI thread), then
        open it as the run or pin it; say so when the history differs from the stored one."""
        import sqlite3

        from engine.store import Store, StoreError, same_history

        try:
            with Store() as store:
                stored = store.get(run_id)
        except KeyError:
            self.call_from_thread(self.tell, f"no stored run {run_id}", "error")
            return
        except (StoreError, OSError, sqlite3.Error) as err:
            self.call_from_thread(self.tell, f"stored run {run_id}: {err}", "error")
            return
        experiment = stored.experiment()
        steps = int(stored.summary["steps"])
        name = stored.summary["name"] or f"run {run_id}"
        if pin:
            refused = self.call_from_thread(self.session.can_pin_config, experiment.config)
            if refused is not None:
                self.call_from_thread(self.do, refused)
                return
        race = self.session.trained_race(experiment.config, steps)
        if not same_history(stored, race.runs[0]):
            version = stored.summary["code_version"]
            self.call_from_thread(
                self.tell,
                f"stored run {run_id} was trained by optplay {version}; trained again now it "
                "gives another history",
                "warning",
            )
        if pin:
            self.call_from_thread(lambda: self.do(self.session.pin_run(race.runs[0], name)))
        else:
            planned = experiment.steps or steps
            self.call_from_thread(
                lambda: self.do(self.session.open_trained(race, planned, stored.summary["name"]))
            )

    def load_experiment(self, experiment: Experiment) -> None:
        """Show an experiment (an opened file): a race opens as a race."""
        self.do(self.session.load(experiment))

    def show_tab(self, tab: str) -> None:
        """Bring a chart tab into view (its `Tab.pane`: `tab-loss`, `tab-path`...)."""
        self.main.query_one(ChartPanel).activate(tab)

    # -- footer and palette ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that don't apply now; space belongs to an open dialog."""
        declared = BY_NAME.get(action)
        if declared is None:
            return True
        # `takes_space`: a dialog's (tui/dialogs.py, loaded with the first one).
        if action == "toggle_run" and getattr(self.screen, "takes_space", False):
            return False
        if declared.when is not None:
            # p, t and v say why where they do not apply (issue 25): never silence.
            return declared.when in self._available or action in EXPLAINED
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from engine import lessons, presets

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
        yield SystemCommand(
            "Optimizer from file",
            "Load your own optimizer class from a Python file (this runs its code)",
            self.action_optimizer_file,
        )
        for name in presets.names():
            yield SystemCommand(
                f"Load preset: {name}",
                presets.title(name),
                lambda name=name: self.open_preset(name),
            )
        for name in lessons.names():
            yield SystemCommand(
                f"Load lesson: {name}",
                lessons.load(name).title,
                lambda name=name: self.open_lesson(name),
            )
        for pin in self.session.pins:
            yield SystemCommand(
                f"Unpin {pin.name}",
                "Remove this overlay from the charts",
                lambda name=pin.name: self.unpin(name),
            )
        if self.session.pins:
            yield SystemCommand("Unpin all", "Remove every overlay from the charts", self.unpin)
        for tab in chart_tabs.shown_for(self.session.view().run.task):
            yield SystemCommand(
                f"Show {tab.palette} chart",
                f"Switch to the {tab.label} tab",
                lambda pane=tab.pane: self.show_tab(pane),
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
    ascii_only: bool | None = None,
    dask: str | None = None,
) -> OptplayApp:
    """The app, for the CLI, the Pilot tests and the snapshot tests alike.

    `experiment` (an opened file or preset, or a bare RunConfig; None: the default run) is
    what the app shows first; one with [[race]] entries opens as a race. `steps` overrides
    its planned length; `save_path` is the file ctrl+s offers (the one opened with --config).
    The settings (theme, speed, sidebar, smoothing) come from the user's settings file;
    `ascii_only` forces (or forbids) ASCII output, else the terminal's encoding decides.
    `dask` ("local" or a scheduler address; default: the `dask` setting) runs sweeps and
    lesson seeds on that Dask cluster ("" or no setting: this machine's process pool)."""
    if isinstance(experiment, RunConfig):
        experiment = Experiment(experiment)
    if steps is not None:
        experiment = dataclasses.replace(experiment or default_experiment(), steps=steps)
    settings, warning = settings_file.load()
    settings_file.apply_compiled(settings)
    session = Session(
        experiment, save_path=save_path, history_capacity=history_capacity, speed=settings.speed
    )
    app = OptplayApp(session, settings, ascii_only)
    app.settings_warning = warning
    address = settings.dask if dask is None else dask
    if address:
        app.use_dask(address)
    return app
