"""The Sweep screen: set up a sweep, watch its chart fill in, and open any point as a run.

Two views on one screen. The setup (tui/screens/sweep_setup.py, laid out like the race setup)
says what to sweep; ctrl+g (or enter in a text field) starts it when the engine accepts the
plan, otherwise the message naming the field stays on screen and nothing starts. The results
view then shows a progress line (runs done of all, diverged, elapsed time, ETA, where the runs
go), the chart (final loss against the knob per optimizer, or a heatmap for two knobs; see
tui/charts/sweep_live.py) redrawn as results arrive, and the selected point.

The sweep runs on a worker thread through an executor of `engine.executors` (by default the
same process pool as `optplay sweep`: one worker per core; with `optplay --dask ADDRESS|local`
or the `dask` setting, the session's Dask cluster, `shared_dask`); the screen's timer reads the
finished rows (`Sweep.rows`) and redraws. Escape cancels a running sweep: runs in flight
stop, finished rows stay on the chart. Leaving the screen (or opening a point) lets a sweep
go on; the app keeps the screen, so its key brings the same sweep back.

Keys on the results: arrows move the cursor over the points (the curves: left/right along the
knob, up/down between optimizers; the heatmap: over its cells, down into the next
optimizer's grid), `z` zooms the curves to the knob values around the cursor (the window
follows it) and `Z` shows them all again, `s` picks the seed of the point, enter opens that
run in the playground as the single run and starts it (same config, same numbers: watch it
break), `p` pins it next to the single run (`SweepScreen.PinPoint`, answered by the app), `e`
edits the setup (starting it replaces the sweep shown), escape cancels a running sweep, then
closes the screen.

The screen returns a `SweepPick` (the run to open) or None.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Button, ContentSwitcher, Input, Static

from engine.executors import Executor, ExecutorError, JobError
from engine.jobs import SharedExecutor
from engine.numbers import format_number, format_seconds
from engine.run import RunConfig
from engine.sweep import Sweep, SweepError, SweepPoint, SweepRow, SweepSpec, summarise
from tui.charts.sweep_live import SweepCurves, SweepHeatmap
from tui.commands.running import local_executor
from tui.dialogs import Dialog
from tui.screens.sweep_setup import SweepSetup
from tui.widgets.footer import SteadyFooter

#: Redraws per second of the progress line and the chart while a sweep runs.
REFRESH_HZ = 8
#: Cells of the progress bar in the progress line.
BAR_CELLS = 12


@dataclass(frozen=True)
class SweepPick:
    """A point to open as the single run: its config, how long its sweep trained it, a name."""

    config: RunConfig
    steps: int
    name: str


@dataclass(frozen=True)
class Cursor:
    """The selected point: an optimizer (index) and an index into each axis' values."""

    optimizer: int = 0
    index: tuple[int, ...] = (0,)

    def moved(self, spec: SweepSpec, dx: int, dy: int) -> Cursor:
        """One step: along the last axis with dx; with dy between optimizers (one knob) or
        along the first axis, on into the next or previous optimizer's grid (two knobs)."""
        sizes = [len(a.values) for a in spec.axes]
        count = len(spec.optimizers)
        index = list(self.index)
        opt = self.optimizer
        index[-1] = max(0, min(sizes[-1] - 1, index[-1] + dx))
        if len(sizes) == 1:
            opt = max(0, min(count - 1, opt + dy))
        elif dy:
            row = index[0] + dy
            if row < 0 and opt > 0:
                opt, row = opt - 1, sizes[0] - 1
            elif row >= sizes[0] and opt < count - 1:
                opt, row = opt + 1, 0
            index[0] = max(0, min(sizes[0] - 1, row))
        return Cursor(opt, tuple(index))

    def point(self, spec: SweepSpec) -> tuple[Any, ...]:
        return tuple(axis.values[i] for axis, i in zip(spec.axes, self.index, strict=True))


@contextlib.contextmanager
def _real_stderr() -> Iterator[None]:
    """sys.stderr as the process started with it, for a moment (see `pool_executor`)."""
    saved, real = sys.stderr, sys.__stderr__
    try:
        usable = real is not None and real.fileno() >= 0
    except (OSError, ValueError):
        usable = False
    if usable:
        sys.stderr = real
    try:
        yield
    finally:
        sys.stderr = saved


def pool_executor(runs: int) -> Executor:
    """The executor `optplay sweep` uses (a process pool, one worker per core), made inside
    the app. While Textual runs, sys.stderr has no file descriptor (fileno() is -1), and
    multiprocessing starts its resource tracker (at the pool's first lock) with
    sys.stderr.fileno() among the descriptors to pass: that fails ("bad value(s) in
    fds_to_keep"), so the pool is made with the real stderr in place."""
    with _real_stderr():
        return local_executor(runs)


def shared_dask(address: str, workers: int | None = None) -> SharedExecutor:
    """The app's Dask executor: `address` ("local" or a scheduler's), connected (or the
    LocalCluster of `workers` started) when the first sweep or lesson seeds run, on their thread,
    and kept for the session (`OptplayApp.on_unmount` shuts it down). Worker processes are
    started with the real stderr in place, as the pool's (see `pool_executor`)."""

    def make() -> Executor:
        from engine.executors import DaskExecutor

        with _real_stderr():
            return DaskExecutor(address, workers=workers)

    return SharedExecutor(make, f"dask {address}")


def clock_text(seconds: float) -> str:
    """A duration for the progress line: "8 s", "2 min 05 s"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def point_name(spec: SweepSpec, optimizer: str, point: tuple[Any, ...], seed: int) -> str:
    """A point as a name: "sgd lr=0.1", "sgd lr=0.1 momentum=0.9 seed 1"."""
    knobs = " ".join(
        f"{axis.knob}={axis.label(value)}" for axis, value in zip(spec.axes, point, strict=True)
    )
    return f"{optimizer} {knobs}" + (f" seed {seed}" if spec.seeds > 1 else "")


class SweepScreen(Dialog[SweepPick | None]):
    """Set up and run a sweep, then open a point (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "start", "Start", priority=True, tooltip="start the sweep"),
        Binding("ctrl+n", "add", "Add optimizer", priority=True,
                tooltip="add an optimizer to the sweep"),
        Binding("ctrl+r", "remove", "Remove", priority=True,
                tooltip="remove the optimizer holding the focus"),
        Binding("escape", "cancel_sweep", "Cancel", tooltip="cancel the sweep (finished runs "
                "stay)"),
        Binding("escape", "results", "Results", tooltip="back to the sweep's results"),
        Binding("escape", "close", "Close", tooltip="back to the playground"),
        Binding("left", "move(-1, 0)", "", show=False),
        Binding("right", "move(1, 0)", "", show=False),
        Binding("up", "move(0, -1)", "", show=False),
        Binding("down", "move(0, 1)", "", show=False),
        Binding("enter", "open", "Watch", tooltip="open this point as the single run and run it"),
        Binding("p", "pin", "Pin", tooltip="pin this point next to the single run"),
        Binding("s", "seed", "Seed", tooltip="the next seed of this point"),
        Binding("e", "edit", "Edit", tooltip="change the setup (a new sweep)"),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("Z", "unzoom", "Unzoom", show=False),
    ]  # fmt: skip

    #: Which bindings apply in which view.
    SETUP_ACTIONS = frozenset({"start", "add", "remove"})
    RESULT_ACTIONS = frozenset({"move", "open", "pin", "seed", "edit", "zoom", "unzoom"})
    #: Knob values a zoom shows (the cursor's and half of the rest on each side).
    ZOOM_VALUES = 5

    class PinPoint(Message):
        """Pin the run of `config`, trained `steps` steps, as `name` (the app does it)."""

        def __init__(self, config: RunConfig, steps: int, name: str) -> None:
            super().__init__()
            self.config = config
            self.steps = steps
            self.name = name

    def __init__(
        self,
        draft: SweepSpec,
        executor: Callable[[int], Executor],
        *,
        start: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`draft`: what the setup shows first; `executor(runs)`: the executor of a sweep of
        that many runs (closed when the sweep ends); `start`: run the draft at once (a
        preset); `clock`: seconds, for the elapsed time and the ETA."""
        super().__init__()
        self.draft = draft
        self.make_executor = executor
        self.start_at_once = start
        self.clock = clock
        self.sweep: Sweep | None = None
        self.cursor = Cursor()
        #: The curves' zoom: (first, last) index into the knob's values, None for all.
        self.zoom: tuple[int, int] | None = None
        self.seed = 0
        self.failure: str | None = None
        self._started_at = 0.0
        self._ended_at: float | None = None
        self._drawn: tuple[Any, ...] | None = None

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="sweep-setup", id="sweep-views"):
            yield SweepSetup(self.draft, id="sweep-setup")
            with Vertical(id="sweep-results"):
                yield Static("", id="sweep-progress", markup=False)
                yield SweepCurves(id="sweep-curves")
                yield SweepHeatmap(id="sweep-heatmap")
                yield Static("", id="sweep-point", markup=False)
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.every(1 / REFRESH_HZ, self.redraw, name="sweep-redraw")  # dies with the screen
        if self.start_at_once:
            self.call_after_refresh(self.action_start)
        else:
            self.query_one("#grid-values-1", Input).focus()  # what a sweep changes most

    async def load(self, draft: SweepSpec, start: bool = False) -> None:
        """Set up `draft` instead (a preset, a new draft): a running sweep is cancelled and
        the setup rebuilt; `start`: run it at once."""
        if self.sweep is not None:
            self.sweep.cancel()
            self.sweep = None
        self.draft = draft
        switcher = self.query_one("#sweep-views", ContentSwitcher)
        await self.query_one(SweepSetup).remove()
        await switcher.mount(SweepSetup(draft, id="sweep-setup"), before=0)
        self._show("setup")
        if start:
            self.action_start()
        else:
            self.query_one("#grid-values-1", Input).focus()

    def on_unmount(self) -> None:
        if self.sweep is not None:
            self.sweep.cancel()  # the app is closing (or the screen was replaced)

    # -- state ---------------------------------------------------------------------------

    @property
    def view(self) -> str:
        """ "setup" or "results"."""
        current = self.query_one("#sweep-views", ContentSwitcher).current
        return "results" if current == "sweep-results" else "setup"

    @property
    def running(self) -> bool:
        return self.sweep is not None and self._ended_at is None

    @property
    def ended(self) -> bool:
        """Whether the sweep started here has ended (done, cancelled or failed) and been
        drawn so."""
        return self.sweep is not None and self._ended_at is not None

    @property
    def spec(self) -> SweepSpec | None:
        return self.sweep.spec if self.sweep is not None else None

    def _show(self, view: str) -> None:
        self.query_one("#sweep-views", ContentSwitcher).current = f"sweep-{view}"
        if view == "results":
            self.set_focus(None)  # the arrows move the cursor
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # escape: cancel a running sweep, else back to its results from the setup, else close
        if action == "cancel_sweep":
            return self.view == "results" and self.running
        if action == "results":
            return self.view == "setup" and self.sweep is not None
        if action == "close":
            return not (self.view == "results" and self.running) and not (
                self.view == "setup" and self.sweep is not None
            )
        if action in self.SETUP_ACTIONS:
            return self.view == "setup"
        if action in self.RESULT_ACTIONS:
            if self.view != "results":
                return False
            if action == "seed":
                return self.spec is not None and self.spec.seeds > 1
            return True
        return True

    # -- starting and running ----------------------------------------------------------------

    def action_start(self) -> None:
        """Start the sweep set up (a sweep still running is cancelled: this one replaces
        it); a bad setup is told and nothing starts."""
        setup = self.query_one(SweepSetup)
        try:
            spec = setup.spec()
        except SweepError as err:
            self.notify(str(err), title="Cannot start the sweep", severity="error", markup=False)
            return
        try:
            executor = self.make_executor(spec.total_runs)
        except ExecutorError as err:
            self.notify(str(err), title="Cannot start the sweep", severity="error", markup=False)
            return
        if self.sweep is not None:
            self.sweep.cancel()  # its worker ends on its own; its rows go with it
        self.sweep = Sweep(spec, executor)
        self.failure = None
        self.cursor = Cursor(0, tuple(0 for _ in spec.axes))
        self.zoom = None
        self.seed = 0
        self._started_at = self.clock()
        self._ended_at = None
        self._drawn = None
        two = len(spec.axes) == 2
        self.query_one(SweepCurves).display = not two
        self.query_one(SweepHeatmap).display = two
        self._show("results")
        self._run(self.sweep, executor)
        self.redraw()

    @work(thread=True, exclusive=False, group="sweep", exit_on_error=False)
    def _run(self, sweep: Sweep, executor: Executor) -> None:
        """Run the sweep to its end (or cancellation); the timer draws what has finished."""
        failure: str | None = None
        try:
            with executor:
                for _ in sweep.results():
                    pass
        except (JobError, ExecutorError) as err:
            failure = str(err)
        except Exception as err:  # the screen stays up and says what happened
            failure = f"{type(err).__name__}: {err}"
        try:
            self.app.call_from_thread(self.while_alive(self._ended), sweep, failure)
        except RuntimeError:
            pass  # the app has closed

    def _ended(self, sweep: Sweep, failure: str | None) -> None:
        if sweep is not self.sweep:
            return
        self._ended_at = self.clock()
        self.failure = failure
        if failure is not None:
            self.notify(failure, title="sweep failed", severity="error", timeout=10, markup=False)
        self.redraw()
        self.refresh_bindings()

    # -- drawing ---------------------------------------------------------------------------

    def points(self) -> list[SweepPoint]:
        return summarise(self.sweep.spec, self.sweep.rows) if self.sweep is not None else []

    def redraw(self) -> None:
        """The progress line, the chart and the selected point, from the rows so far."""
        sweep = self.sweep
        if sweep is None:
            return
        try:
            progress = self.query_one("#sweep-progress", Static)
        except NoMatches:  # the app is taking the screen down (a timer's last tick)
            return
        progress.update(self.progress_view())
        key = (id(sweep), sweep.done, self.cursor, self.seed, self.zoom)
        if key == self._drawn:
            return
        self._drawn = key
        spec, points = sweep.spec, self.points()
        opt = spec.optimizers[self.cursor.optimizer]
        point = self.cursor.point(spec)
        if len(spec.axes) == 1:
            self.query_one(SweepCurves).show(spec, points, (opt, point[0]), self.zoom)
        else:
            self.query_one(SweepHeatmap).show(spec, points, (opt, point))
        self.query_one("#sweep-point", Static).update(self.point_text(points))

    def progress_view(self) -> Text:
        """`progress_text` with its bar in the theme's accent: in the text colour it was a
        black block on a light theme (issue 25)."""
        text = self.progress_text()
        bar = len(text) - len(text.lstrip("█░"))
        shown = Text(text, no_wrap=True, overflow="ellipsis")
        accent = getattr(self.app.current_theme, "accent", None)
        if bar and accent:
            shown.stylize(Style(color=accent), 0, bar)
        return shown

    def progress_text(self) -> str:
        """ "█████░░░ 12/39 runs · 2 diverged · 4 s · eta 9 s · process pool, 2 workers"."""
        sweep = self.sweep
        assert sweep is not None
        rows = sweep.rows
        done, total = len(rows), sweep.total
        diverged = sum(r.diverged for r in rows)
        now = self._ended_at if self._ended_at is not None else self.clock()
        elapsed = now - self._started_at
        filled = round(BAR_CELLS * done / total) if total else BAR_CELLS
        bar = "█" * filled + "░" * (BAR_CELLS - filled)
        where = sweep.executor.describe()
        div = f" · {diverged} diverged" if diverged else ""
        if self.failure is not None:
            return f"failed after {done}/{total} runs: {self.failure}"
        if self._ended_at is not None:
            state = "cancelled: kept" if done < total else "done:"
            return f"{bar} {state} {done}/{total} runs{div} · {clock_text(elapsed)} · {where}"
        if sweep.cancelled:
            return f"{bar} cancelling… {done}/{total} runs kept{div}"
        eta = "-" if not done else clock_text(elapsed / done * (total - done))
        return f"{bar} {done}/{total} runs{div} · {clock_text(elapsed)} · eta {eta} · {where}"

    def selected(self) -> tuple[str, tuple[Any, ...]]:
        spec = self.spec
        assert spec is not None
        return spec.optimizers[self.cursor.optimizer], self.cursor.point(spec)

    def selected_row(self) -> SweepRow | None:
        if self.sweep is None:
            return None
        opt, point = self.selected()
        return next(
            (
                r
                for r in self.sweep.rows
                if r.optimizer == opt and r.point == point and r.seed == self.seed
            ),
            None,
        )

    def point_text(self, points: list[SweepPoint]) -> str:
        """Two lines: the selected point over its seeds, then the selected seed's run."""
        spec = self.spec
        assert spec is not None
        opt, point = self.selected()
        name = point_name(spec, opt, point, self.seed).removesuffix(f" seed {self.seed}")
        summary = next((p for p in points if p.optimizer == opt and p.point == point), None)
        if summary is None:
            first = f"▸ {name}: not run yet"
        elif summary.final_loss_mean is None:
            first = f"▸ {name}: diverged {summary.diverged}/{summary.runs}"
        else:
            loss = format_number(summary.final_loss_mean, 3)
            if spec.seeds > 1 and summary.final_loss_std is not None:
                loss += f" ± {format_number(summary.final_loss_std, 2)}"
            best = f" · best of {opt}" if summary.best else ""
            div = f" · diverged {summary.diverged}/{summary.runs}" if summary.diverged else ""
            first = f"▸ {name}: final loss {loss}{div}{best}"
        row = self.selected_row()
        seed = f"seed {self.seed}" + (f" of 0-{spec.seeds - 1}" if spec.seeds > 1 else "")
        if row is None:
            second = f"  {seed}: not run yet"
        elif row.diverged:
            second = f"  {seed}: diverged at step {row.score.diverged_at:,}"
        else:
            s = row.score
            target = (
                f"target at step {s.steps_to_target:,}"
                if s.steps_to_target is not None
                else "target never reached"
            )
            second = (
                f"  {seed}: final {format_number(s.final_loss, 4)} · best "
                f"{format_number(s.best_loss, 4)} · {target} · "
                f"{format_seconds(s.seconds_per_update)}/update"
            )
        return f"{first}\n{second}"

    # -- keys --------------------------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        if self.spec is not None:
            self.cursor = self.cursor.moved(self.spec, dx, dy)
            if self.zoom is not None:  # the window follows the cursor
                first, last = self.zoom
                i = self.cursor.index[-1]
                shift = min(0, i - first) or max(0, i - last)
                self.zoom = (first + shift, last + shift)
            self.redraw()

    def action_zoom(self) -> None:
        """The curves around the cursor: ZOOM_VALUES of the knob's values, the loss axis
        fitted to them (`Z` shows them all again)."""
        spec = self.spec
        if spec is None:
            return
        if len(spec.axes) != 1:
            self.notify("no zoom on the heatmap: every cell is already shown", timeout=3)
            return
        count = len(spec.axes[0].values)
        if count <= self.ZOOM_VALUES:
            self.notify(f"all {count} values of {spec.axes[0].knob} are already shown", timeout=3)
            return
        i = self.cursor.index[0]
        first = max(0, min(count - self.ZOOM_VALUES, i - self.ZOOM_VALUES // 2))
        self.zoom = (first, first + self.ZOOM_VALUES - 1)
        self.redraw()

    def action_unzoom(self) -> None:
        if self.zoom is not None:
            self.zoom = None
            self.redraw()

    def action_seed(self) -> None:
        if self.spec is not None:
            self.seed = (self.seed + 1) % self.spec.seeds
            self.redraw()

    def _pick(self) -> SweepPick | None:
        """The selected point's run (planned, finished or not)."""
        sweep = self.sweep
        if sweep is None:
            return None
        opt, point = self.selected()
        planned = next(
            p for p in sweep.plan if p.optimizer == opt and p.point == point and p.seed == self.seed
        )
        name = point_name(sweep.spec, opt, point, self.seed)
        return SweepPick(planned.config, sweep.spec.steps, name)

    def action_open(self) -> None:
        pick = self._pick()
        if pick is not None:
            self.dismiss(pick)

    def action_pin(self) -> None:
        pick = self._pick()
        if pick is not None:
            self.post_message(self.PinPoint(pick.config, pick.steps, pick.name))

    def action_edit(self) -> None:
        self._show("setup")
        self.query_one("#grid-values-1", Input).focus()

    def action_cancel_sweep(self) -> None:
        if self.sweep is not None:
            self.sweep.cancel()  # finished rows stay; the worker ends shortly
            self.redraw()
            self.refresh_bindings()

    def action_results(self) -> None:
        self._show("results")

    def action_close(self) -> None:
        if isinstance(self.focused, Input):  # first leave the field (as in the forms)
            self.set_focus(None)
            return
        self.dismiss(None)

    async def action_add(self) -> None:
        await self.query_one(SweepSetup).add_optimizer()

    async def action_remove(self) -> None:
        await self.query_one(SweepSetup).remove_optimizer()

    @on(Button.Pressed, "#sweep-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#sweep-close")
    def _close_pressed(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()
