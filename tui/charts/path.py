"""The Path chart: for 2-D tasks, the parameters' trajectory over the loss surface's contours.

plotext has no contour plot: the surface is evaluated on the chart's dot grid, cut into a few
levels at quantiles of log(f - min) (so the lines spread evenly over the view, whatever the
function's range), and the dots where the level changes are drawn. A single run also shows
the last step's −g and Δθ as arrows from the current point (tui/charts/step_arrows.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from textual import events
from textual.binding import Binding
from textual.message import Message

from tui.charts.axes import nice_ticks, step_text, tick_labels, value_label
from tui.charts.base import ChartView, Layer, Picture, RunChart
from tui.charts.braille import DotGrid, Frame
from tui.charts.step_arrows import step_arrows
from tui.charts.theory import run_theory


def level_set_mask(task: Any, frame: Frame, levels: int) -> np.ndarray:
    """Dots (row 0 at the bottom) where the quantised surface changes level."""
    grid = DotGrid(frame)
    nx, ny = grid.width, grid.height
    # The data value at each dot's centre, as DotGrid maps them.
    xs = frame.x0 + np.arange(nx) * (frame.x1 - frame.x0) / (nx - 1)
    ys = frame.y0 + np.arange(ny) * (frame.y1 - frame.y0) / (ny - 1)
    with np.errstate(all="ignore"):
        z = np.asarray(task.surface(xs, ys), np.float64)
        ok = np.isfinite(z)
        if not ok.any():
            return np.zeros((ny, nx), bool)
        shifted = np.log(np.where(ok, z - z[ok].min(), np.nan) + 1e-12 * (np.ptp(z[ok]) + 1))
    cuts = np.nanquantile(shifted, np.linspace(0, 1, levels + 2)[1:-1])
    level = np.where(np.isfinite(shifted), np.searchsorted(cuts, shifted), -1)
    edge = np.zeros(level.shape, bool)
    edge[:, 1:] |= level[:, 1:] != level[:, :-1]
    edge[1:, :] |= level[1:, :] != level[:-1, :]
    return edge


class PathChart(RunChart):
    """The parameters' path over level sets of the loss surface (2-D tasks only).

    A click on the surface (where the terminal sends clicks), or enter with the cursor on a
    step, asks for a run from that point: `StartPicked`, which the app turns into the task's
    start (x0, y0)."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "start_here", "Start here", show=False),
    ]

    class StartPicked(Message):
        """Start the run at (x, y)."""

        def __init__(self, x: float, y: float) -> None:
            super().__init__()
            self.x, self.y = x, y

    MAX_LEVELS = 5
    #: Contours kept (a few tasks and sizes: switching back, or a reset, draws from here).
    KEEP_CONTOURS = 8

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._contours: dict[tuple[Any, ...], np.ndarray] = {}

    def contour(self, task: Any, frame: Frame) -> np.ndarray:
        """Boolean dot grid (row 0 at the bottom) of level-set boundaries; cached per task
        kind and knobs (a reset builds a new task object with the same surface) and frame."""
        key = (type(task), repr(sorted(getattr(task, "hypers", {}).items())), frame)
        mask = self._contours.pop(key, None)
        if mask is None:
            # Fewer lines on a small plot so the path stays readable.
            levels = max(3, min(self.MAX_LEVELS, frame.cols // 10, frame.rows // 3))
            mask = level_set_mask(task, frame, levels)
            mask.flags.writeable = False  # shared by every frame drawn over it
        self._contours[key] = mask  # the newest last: the oldest goes first
        while len(self._contours) > self.KEEP_CONTOURS:
            del self._contours[next(iter(self._contours))]
        return mask

    def contour_backdrop(self, view: ChartView, picture: Picture) -> Any:
        """Set the view window to the task's bounds and draw its contours; returns the task,
        or None (with a title saying why) when the task is not a 2-D landscape."""
        task = view.run.task
        if not getattr(task, "is_landscape", False):
            picture.title = ["path: only for 2-D tasks"]
            return None
        (x0, x1), (y0, y1) = task.bounds
        picture.x_range, picture.y_range = (x0, x1), (y0, y1)
        picture.step_axis = False
        picture.log_y = False
        frame = self.planned_frame(picture)
        if frame is not None and frame.usable:
            mask = self.contour(task, frame)
            # Dim: the backdrop; the path over it is bold (it must read without colour too).
            picture.layers.append(Layer("mask", self.color("contour"), (mask,), style="dim"))
        return task

    def eigen_axes(self, view: ChartView, picture: Picture) -> list[str]:
        """Where the theory is exact: the Hessian's eigen-directions through the minimum, as
        rows of dots (∙ the steep one, where GD zig-zags; · the flat one, where it crawls),
        named by their curvature; returns the title's part saying κ."""
        theory = run_theory(view.run)
        if theory is None or theory.quadratic is None or theory.eigenvalues.size != 2:
            return []
        (x0, x1), (y0, y1) = picture.x_range, picture.y_range or (0.0, 1.0)
        centre = np.asarray(theory.quadratic.minimizer, np.float64)
        reach = np.hypot(x1 - x0, y1 - y0)
        t = np.linspace(-reach, reach, 801)
        for k in (1, 0):  # the steep direction first in the legend
            direction = theory.eigenvectors[:, k]
            xs, ys = centre[0] + t * direction[0], centre[1] + t * direction[1]
            inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            label = f"λ {value_label(float(theory.eigenvalues[k]))} axis"
            glyph = "∙" if k else "·"
            picture.marks(xs[inside], ys[inside], glyph, self.color("minimum"), label, style="")
        return [f"κ {value_label(theory.condition)}"]

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
        axes = self.eigen_axes(view, picture)
        path = run.history.trajectory(8 * self.columns())
        picture.path(path.xs, path.ys, self.color("path"), style="bold")
        sx, sy = task.start
        keep = np.isfinite(path.xs) & np.isfinite(path.ys)
        nx, ny = (path.xs[keep][-1], path.ys[keep][-1]) if keep.any() else (sx, sy)
        for mx, my in minima(task):
            picture.mark(mx, my, "✕", self.color("minimum"))
        picture.mark(sx, sy, "○", self.color("start"))
        arrows = step_arrows(self, run, picture, nx, ny)
        picture.mark(nx, ny, "●", self.color("now"))
        picture.title = [
            f"● ({value_label(nx)}, {value_label(ny)})",
            f"step {step_text(len(run.history))}",
            *axes,
            *arrows[:1],
            "○ start",
            minima_label(task),
            *arrows[1:],
        ]

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's path over the same contours, each ending in a ● of its colour. Lanes
        on another task are left out (the session keeps only pins of the task shown)."""
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
        axes = self.eigen_axes(view, picture)
        same = (run.config.task, run.config.task_hypers)
        ends = []
        points = 8 * self.columns()
        for i, lane in enumerate(view.lanes):
            cfg = lane.run.config
            if (cfg.task, cfg.task_hypers) != same:
                continue
            path = lane.run.history.trajectory(points)
            color = self.lane_color(i)
            picture.path(path.xs, path.ys, color, pattern=i, style="bold")
            keep = np.isfinite(path.xs) & np.isfinite(path.ys)
            if keep.any():
                ends.append((path.xs[keep][-1], path.ys[keep][-1], color, str(i + 1)))
        ink = self.color("ink")
        sx, sy = task.start
        for mx, my in minima(task):
            picture.mark(mx, my, "✕", ink)
        picture.mark(sx, sy, "○", ink)
        for x, y, color, number in ends:
            picture.mark(x, y, number, color)  # the lane's number, as in the legend
        picture.title = [
            f"step {step_text(len(run.history))}",
            *axes,
            "○ start",
            minima_label(task),
        ]

    # -- the cursor: a step of the path, its point and loss ------------------------------

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        return [("loss", "loss")] if getattr(view.run.task, "is_landscape", False) else []

    def cursor_readout(self, view: ChartView, step: int) -> str:
        parts = [f"step {step:,}"]
        lanes = view.lanes or (None,)
        for i, lane in enumerate(lanes):
            run = view.run if lane is None else lane.run
            point = point_at(run, step)
            if point is None:
                continue
            x, y = point
            name = "" if lane is None else f"{i + 1} {lane.name} "
            loss = run.task.value(x, y)
            parts.append(f"{name}({value_label(x)}, {value_label(y)}) loss {value_label(loss)}")
        return " · ".join(parts)

    def show_cursor(self, view: ChartView, picture: Picture, step: int) -> None:
        """The readout, and a ◇ on each path at the cursor's step (not a vertical line: x
        here is a coordinate, not a step)."""
        for lane in view.lanes or (None,):
            run = view.run if lane is None else lane.run
            point = point_at(run, step)
            if point is not None:
                picture.mark(*point, "◇", self.color("ink"))
        readout = self.cursor_readout(view, step)
        picture.note = f"{readout}\n{picture.note}" if picture.note else readout

    def action_start_here(self) -> None:
        """Enter with the cursor on: start from the live run's point at the cursor's step."""
        view = self.last_view
        if view is None or self.cursor is None:
            return
        point = point_at(view.run, self.cursor)
        if point is not None:
            self.post_message(self.StartPicked(*point))

    def on_click(self, event: events.Click) -> None:
        """A click on the data area: start from the point under it."""
        frame, view = self.frame, self.last_view
        if frame is None or view is None or not self.cursor_series(view):
            return
        col = event.x - self._origin[0]
        row = event.y - 2  # the title row, then the frame's top edge
        if 0 <= col < frame.cols and 0 <= row < frame.rows:
            self.post_message(self.StartPicked(*frame.point_of(col, row)))

    def planned_frame(self, picture: Picture) -> Frame | None:
        """The data area `render_picture` will use for this picture (fixed y range)."""
        if picture.y_range is None:
            return None
        y0, y1 = picture.y_range
        yt = nice_ticks(y0, y1, 5 if self.size.height >= 16 else 3)
        label_width = max((len(label) for label in tick_labels(yt)), default=0)
        x0, x1 = picture.x_range
        return Frame(self.size.width - 2 - label_width, self.size.height - 4, x0, x1, y0, y1)


def minima(task: Any) -> tuple[tuple[float, float], ...]:
    """Every minimum of a 2-D task (the saddle has two, at (0, ±1))."""
    return tuple(getattr(task, "minima", (task.minimum,)))


def minima_label(task: Any) -> str:
    return "✕ minima" if len(minima(task)) > 1 else "✕ minimum"


def point_at(run: Any, step: int) -> tuple[float, float] | None:
    """Where `run`'s parameters were at `step` (its last point if it stopped before)."""
    path = run.history.trajectory()
    if not len(path.steps):
        return None
    i = min(int(np.searchsorted(path.steps, step, side="right")) - 1, len(path.steps) - 1)
    i = max(i, 0)
    return float(path.xs[i]), float(path.ys[i])
