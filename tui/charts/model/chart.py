"""The Model tab: what the network (or the fitted line) has learned, drawn live while training.

The task computes the picture (`task.model_view(params, width=, height=)`, plain arrays: see
engine/tasks/views.py); this chart lays it out in character cells (`cells.CellCanvas`) and
draws it with one painter per kind of view (regions.py, confusion.py, fits.py).

Off the hot path: the view is computed in a thread worker (`model_view` copies the params, so
it may run while the run trains in its own thread), one at a time, at most MAX_VIEWS_PER_SECOND
and for at most MAX_SHARE of the time (an expensive view is refreshed less often, so training
keeps its speed); the newest request wins and the picture on screen stays until the next one
arrives. The first view of a task may be slow on big data (a principal-component plane, least
squares: cached by the task after that), and the UI keeps answering meanwhile. Painting a
view costs one pass over the cells, once per computed view (tests/perf/bench_model_tab.py).

In a race (or with pins) the tab shows one lane at a time: the session's `model_lane` (the
leader unless `m` chose another). `d` shows the test points instead of the training points
on decision regions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from textual.strip import Strip
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from engine.tasks.views import (
    ConfusionView,
    DecisionRegions,
    LineFit,
    ParabolaView,
    SequenceView,
    WeightsFit,
)
from tui.charts.axes import value_label
from tui.charts.base import ChartView, RunChart
from tui.charts.cells import BOLD, CellCanvas, Look, look_of, to_color
from tui.charts.model import confusion, fits, regions
from tui.charts.model.ink import Ink

#: Theme roles of the classes (component classes chart--class-0 ...).
CLASS_ROLES = tuple(f"class-{k}" for k in range(6))
#: Other roles the painters use.
PAINT_ROLES = ("fit", "truth", "solution", "correct", "wrong", "now", "start", "minimum",
               "path", "note")  # fmt: skip
#: Points of x over time (quadratic) read per frame.
PATH_POINTS = 2000
#: Views are computed at most this often, and for at most this share of the time (a view
#: that costs 40 ms waits 160 ms before the next one), so training keeps its speed.
MAX_VIEWS_PER_SECOND = 10
MAX_SHARE = 0.2


class Request(NamedTuple):
    """What a computed view was asked for: the run and its task (compared by identity: a
    reset builds a new task), its step, the pixel grid."""

    run: Any
    task: Any
    step: int
    width: int
    height: int


@dataclass(frozen=True)
class Computed:
    """A computed view and what else the painters need from the same moment."""

    request: Request
    view: Any  # an engine.tasks.views dataclass, or None
    fit: str | None  # task.fit_summary(params)
    path: Any  # the run's trajectory (quadratic) or None


def compute(run: Any, request: Request) -> Computed:
    """The view of `run` now (runs in a worker thread: reads only copies and locked history)."""
    task = run.task
    params = run.params
    view = task.model_view(params, width=request.width, height=request.height)
    fit = task.fit_summary(params)
    path = None
    if isinstance(view, ParabolaView):
        path = run.history.trajectory(PATH_POINTS)
    return Computed(request, view, fit, path)


def subject(run: Any) -> str:
    """The data set as a heading names it ("spiral", "3 blobs in 20-D")."""
    task, name = run.task, run.config.task
    if hasattr(task, "dataset"):
        return str(task.dataset)
    if name == "blobs-mlp":
        return f"{task.n_classes} blobs in {task.n_features}-D"
    return name


class ModelChart(RunChart):
    """What the model learned: see the module docstring."""

    NO_CURSOR = "the Model tab draws the model as it is now, not a series over steps"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_test = False
        self.computed: Computed | None = None
        self._wanted: Request | None = None
        self._worker: Worker[Computed] | None = None
        self._chart_view: ChartView | None = None
        self._cell_strips: list[Strip] = []
        self._failed: str | None = None
        self.canvas: CellCanvas | None = None  # the last painted cells
        self._started = 0.0  # when the running (or last) computation started
        self._next_start = 0.0  # no new computation before this (perf_counter seconds)
        self._retry: Timer | None = None
        self._painted: tuple[Any, ...] | None = None  # what the cells on screen show

    # -- what is shown --------------------------------------------------------------------

    def lane(self, view: ChartView) -> tuple[Any, str]:
        """The run shown and the heading's lane part ("" for a single run)."""
        lanes = view.lanes
        if len(lanes) < 2:
            return view.run, ""
        index = min(max(view.model_lane, 0), len(lanes) - 1)
        lane = lanes[index]
        tag = " (leads)" if view.leader_lane == index else ""
        pinned = " (pinned)" if getattr(lane, "pinned", False) else ""
        return lane.run, f"{lane.name}{pinned}{tag} · lane {index + 1}/{len(lanes)} · m: next"

    def look(self) -> Look:
        return look_of(self.app)

    def toggle_test_points(self) -> bool:
        """Show the test points instead of the training points (or back); the new choice."""
        self.show_test = not self.show_test
        if self._chart_view is not None and self.size.area:
            self.draw(self._chart_view)
        return self.show_test

    def data_key(self, view: ChartView) -> tuple[Any, ...]:
        run, _ = self.lane(view)
        return (
            id(run),
            id(run.task),
            run.steps_done,
            run.state,
            view.version,
            view.model_lane,
            view.leader_lane,
            len(view.lanes),
            self.show_test,
            self.size.width,
            self.size.height,
            self.app.theme,
            self.look(),
        )

    # -- computing (off the UI thread) ----------------------------------------------------

    def request_for(self, run: Any) -> Request:
        """The view to compute for `run` at this chart's size."""
        cols, rows = self.size.width, self.size.height
        width, height = regions.pixel_size(cols, rows, self.look())
        return Request(run, run.task, run.steps_done, width, height)

    def draw(self, view: ChartView) -> None:
        """Paint the newest computed view of the lane shown; ask for a newer one if the run
        moved on (the picture stays until it arrives)."""
        self._chart_view = view
        self.drawn_key = self.data_key(view)
        run, _ = self.lane(view)
        if not run.task.has_model_view:
            self._paint_message("no model view for this task: its parameters are the picture "
                                "(see the Path tab)")  # fmt: skip
            return
        wanted = self.request_for(run)
        if self.computed is not None and self.computed.request == wanted:
            self._paint(view, self.computed)
            return
        self._wanted = wanted
        self._start(run)
        same_run = self.computed is not None and self.computed.request[:2] == wanted[:2]
        if same_run and self.computed is not None:
            self._paint(view, self.computed)  # until the new one arrives (a resize, a toggle)
        elif self._failed is None:
            self._paint_message("computing what the model learned…")

    def _start(self, run: Any) -> None:
        if self._worker is not None and self._worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            return  # one at a time: the newest request starts when this one ends
        wanted = self._wanted
        if wanted is None:
            return
        wait = self._next_start - time.perf_counter()
        if wait > 0:  # too soon after the last one: start when it is time
            if self._retry is None:
                self._retry = self.set_timer(wait, self._start_later)
            return
        self._started = time.perf_counter()
        self._worker = self.run_worker(
            partial(compute, run, wanted),
            name="model-view",
            group="model-view",
            thread=True,
            exit_on_error=False,
        )

    def _start_later(self) -> None:
        self._retry = None
        view = self._chart_view
        if view is not None and self.size.area:
            run, _ = self.lane(view)
            if run.task.has_model_view:
                self._wanted = self.request_for(run)
                self._start(run)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._worker or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self._worker = None
        cost = time.perf_counter() - self._started
        self._next_start = self._started + max(cost / MAX_SHARE, 1 / MAX_VIEWS_PER_SECOND)
        view = self._chart_view
        if event.state == WorkerState.ERROR:
            self._failed = f"the view failed: {type(worker.error).__name__}: {worker.error}"
            self._paint_message(self._failed)
            return
        self._failed = None
        result: Computed = worker.result  # type: ignore[assignment]
        if view is None:
            return
        run, _ = self.lane(view)
        wanted = self.request_for(run)
        if result.request[:2] == wanted[:2]:
            self.computed = result
            self._paint(view, result)
        if result.request != wanted:
            self._wanted = wanted
            self._start(run)

    @property
    def busy(self) -> bool:
        """True while a view is being computed or a newer one is wanted (tests wait on it)."""
        if self._worker is not None or self._retry is not None:
            return True
        view = self._chart_view
        if view is None or not self.size.area:
            return False
        run, _ = self.lane(view)
        if not run.task.has_model_view:
            return False
        return self.computed is None or self.computed.request != self.request_for(run)

    # -- painting -------------------------------------------------------------------------

    def ink(self) -> Ink:
        """The theme's colours for the painters."""
        _, background = self.background_colors
        return Ink(
            background=background,
            foreground=to_color(self.rich_style.color),
            classes=tuple(to_color(self.color(role)) for role in CLASS_ROLES),
            roles={role: to_color(self.color(role)) for role in PAINT_ROLES},
        )

    def _paint(self, view: ChartView, computed: Computed) -> None:
        run, lane = self.lane(view)
        key = (id(computed), self.size, self.look(), self.show_test, self.app.theme, lane)
        if key == self._painted:
            return  # the same picture (a tick while the next view is computed)
        self._painted = key
        canvas = paint(
            self.size.width,
            self.size.height,
            run,
            computed,
            self.look(),
            self.ink(),
            show_test=self.show_test,
            lane=lane,
        )
        self._show(canvas)

    def _paint_message(self, text: str) -> None:
        self._painted = None
        canvas = CellCanvas(self.size.width, self.size.height)
        canvas.text(0, 0, text[: canvas.cols], to_color(self.color("note")))
        self._show(canvas)

    def _show(self, canvas: CellCanvas) -> None:
        self.canvas = canvas
        self._cell_strips = canvas.strips(self.rich_style)
        self._frame_number += 1
        self.refresh()

    def build_strips(self) -> list[Strip]:
        """The painted cells (this chart draws no plotext figure)."""
        width, height = self.size.width, self.size.height
        style = self.rich_style  # every segment styled: filters such as NO_COLOR's need it
        # A strip of the right width as it is: crop_extend would cache it in itself, a cycle
        # only the garbage collector frees.
        strips = [
            strip if strip.cell_length == width else strip.crop_extend(0, width, style)
            for strip in self._cell_strips[:height]
        ]
        return strips + [Strip.blank(width, style)] * (height - len(strips))

    def picture(self, view: ChartView, picture: Any) -> None:  # not a plotext chart
        raise NotImplementedError

    lanes_picture = picture


def paint(
    cols: int,
    rows: int,
    run: Any,
    computed: Computed,
    look: Look,
    ink: Ink,
    *,
    show_test: bool = False,
    lane: str = "",
) -> CellCanvas:
    """The chart's cells for a computed view of `run` (the UI's per-frame drawing work)."""
    canvas = CellCanvas(cols, rows)
    heading = [lane] if lane else []
    heading += headings(run, computed, show_test)
    v = computed.view
    if isinstance(v, DecisionRegions):
        regions.paint_regions(canvas, v, look, ink, heading, show_test)
    elif isinstance(v, ConfusionView):
        confusion.paint_confusion(canvas, v, look, ink, heading)
    elif isinstance(v, LineFit):
        fits.paint_line(canvas, v, look, ink, heading)
    elif isinstance(v, WeightsFit):
        fits.paint_weights(canvas, v, look, ink, heading)
    elif isinstance(v, ParabolaView):
        fits.paint_parabola(canvas, v, look, ink, heading, computed.path)
    elif isinstance(v, SequenceView):
        fits.paint_sequence(canvas, v, look, ink, heading)
    else:
        canvas.text(0, 0, "no model view for this task", ink.foreground, BOLD)
    return canvas


def headings(run: Any, computed: Computed, show_test: bool) -> list[str]:
    """Title parts stating what the view draws, most important first (packed into the
    chart's top rows; what does not fit is left out)."""
    v = computed.view
    if isinstance(v, DecisionRegions):
        points = v.test if show_test else v.train
        parts = [f"{subject(run)}: class regions (shade: how sure)"]
        if v.projection.method == "pca":
            e1, e2 = v.projection.explained or (0.0, 0.0)
            parts.append(f"on the PCA plane: PC1 {e1:.0%}, PC2 {e2:.0%} of variance")
            parts.append(f"the plane agrees with {v.plane_agreement:.0%} of points")
        parts.append(f"accuracy {points.accuracy:.1%}")
        parts.append(f"d: {'training' if show_test else 'test'} points")
        return parts
    if isinstance(v, ConfusionView):
        return [
            f"confusion matrix of the {v.n_test} test digits",
            f"accuracy {v.accuracy:.1%}",
            f"{v.n_misclassified} misclassified",
        ]
    if isinstance(v, LineFit):
        return [f"{len(v.x):,} training points and three lines", computed.fit or ""]
    if isinstance(v, WeightsFit):
        return [
            f"{len(v.names) - 1} weights and b: now, true and least squares",
            f"distance to least squares {value_label(v.distance_to_least_squares)}",
        ]
    if isinstance(v, ParabolaView):
        return [f"f(x) = {v.a:g}*x^2 and the current x; x over time below",
                f"f = {value_label(v.loss)}"]  # fmt: skip
    if isinstance(v, SequenceView):
        first, last = int(v.steps[0]), int(v.steps[-1])
        return [f"next-value predictions vs the held-out series ({first}-{last})",
                f"MSE {value_label(v.mse)}"]  # fmt: skip
    return [run.config.task]
