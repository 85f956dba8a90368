"""The Path chart: for 2-D tasks, the parameters' trajectory over the loss surface's contours.

plotext has no contour plot: the surface is evaluated on the chart's dot grid, cut into a few
levels at quantiles of log(f - min) (so the lines spread evenly over the view, whatever the
function's range), and the dots where the level changes are drawn. A single run also shows
the last step's −g and Δθ as arrows from the current point (tui/charts/step_arrows.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tui.charts.axes import nice_ticks, step_text, tick_labels, value_label
from tui.charts.base import ChartView, Layer, Picture, RunChart
from tui.charts.braille import DotGrid, Frame
from tui.charts.step_arrows import step_arrows


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
    """The parameters' path over level sets of the loss surface (2-D tasks only)."""

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

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
        path = run.history.trajectory(8 * self.columns())
        picture.path(path.xs, path.ys, self.color("path"), style="bold")
        mx, my = task.minimum
        sx, sy = task.start
        keep = np.isfinite(path.xs) & np.isfinite(path.ys)
        nx, ny = (path.xs[keep][-1], path.ys[keep][-1]) if keep.any() else (sx, sy)
        picture.mark(mx, my, "✕", self.color("minimum"))
        picture.mark(sx, sy, "○", self.color("start"))
        arrows = step_arrows(self, run, picture, nx, ny)
        picture.mark(nx, ny, "●", self.color("now"))
        picture.title = [
            f"● ({value_label(nx)}, {value_label(ny)})",
            f"step {step_text(len(run.history))}",
            *arrows[:1],
            "○ start",
            "✕ minimum",
            *arrows[1:],
        ]

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's path over the same contours, each ending in a ● of its colour. Lanes
        on another task are left out (the session keeps only pins of the task shown)."""
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
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
        mx, my = task.minimum
        sx, sy = task.start
        picture.mark(mx, my, "✕", ink)
        picture.mark(sx, sy, "○", ink)
        for x, y, color, number in ends:
            picture.mark(x, y, number, color)  # the lane's number, as in the legend
        picture.title = [f"step {step_text(len(run.history))}", "○ start", "✕ minimum"]

    def planned_frame(self, picture: Picture) -> Frame | None:
        """The data area `render_picture` will use for this picture (fixed y range)."""
        if picture.y_range is None:
            return None
        y0, y1 = picture.y_range
        yt = nice_ticks(y0, y1, 5 if self.size.height >= 16 else 3)
        label_width = max((len(label) for label in tick_labels(yt)), default=0)
        x0, x1 = picture.x_range
        return Frame(self.size.width - 2 - label_width, self.size.height - 4, x0, x1, y0, y1)
