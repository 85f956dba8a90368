"""A small x-y plot drawn into a `CellCanvas`: tick labels, an L-shaped axis, braille layers.

The Model tab draws several plots in one chart (the parabola and x over time) and plots next to
other pictures, so these plots are laid out in a rectangle of cells rather than by plotext.
Lines are rasterised with `braille.DotGrid` (the same dot mapping as the other charts); a line
may be dashed or dotted (`pattern`), so lines stay apart without colour and in ASCII (where
braille becomes `.`, `'` and `:`, and a dashed line keeps its gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tui.charts.axes import nice_ticks, tick_labels
from tui.charts.braille import DotGrid, Frame
from tui.charts.cells import CellCanvas, braille_bits

#: Dot patterns along a line: on/off per dot, repeated.
SOLID = (True,)
DASHED = (True, True, True, True, False, False, False)
DOTTED = (True, False, False)


@dataclass
class CellPlot:
    """A plot in the canvas rectangle (top, left, rows, cols) showing x_range x y_range."""

    canvas: CellCanvas
    top: int
    left: int
    rows: int
    cols: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    axis_color: Any = None
    label_color: Any = None
    x_ticks: int = 4
    y_ticks: int = 3
    _layers: list[tuple[np.ndarray, int]] = field(default_factory=list)
    _marks: list[tuple[float, float, str, Any, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        if not x1 > x0:
            x1 = x0 + 1.0
        if not y1 > y0:
            y1 = y0 + 1.0
        self.x_range, self.y_range = (x0, x1), (y0, y1)
        self.yt = nice_ticks(y0, y1, self.y_ticks if self.rows >= 6 else 2)
        self.y_labels = tick_labels(self.yt)
        label_width = max((len(s) for s in self.y_labels), default=0)
        self.data_left = self.left + label_width + 1
        self.data_cols = max(self.cols - label_width - 1, 0)
        self.data_rows = max(self.rows - 2, 0)
        self.frame = Frame(self.data_cols, self.data_rows, x0, x1, y0, y1)

    @property
    def usable(self) -> bool:
        return self.frame.usable

    # -- layers -------------------------------------------------------------------------------

    def line(self, xs: Any, ys: Any, color: Any, pattern: tuple[bool, ...] = SOLID) -> None:
        """A line through the points in order (NaNs break it), with a dash `pattern`."""
        if not self.usable:
            return
        grid = DotGrid(self.frame)
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        if pattern == SOLID:
            grid.polyline(xs, ys)
        else:
            c, r = _line_dots(grid.dot_x(xs), grid.dot_y(ys))
            keep = np.asarray(pattern, bool)[np.arange(len(c)) % len(pattern)]
            _set_dots(grid, c[keep], r[keep])
        self._layers.append((grid.dots, self.canvas.palette.add(color)))

    def points(self, xs: Any, ys: Any, color: Any) -> None:
        """One dot per point."""
        if not self.usable:
            return
        grid = DotGrid(self.frame)
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        _set_dots(grid, grid.dot_x(xs), grid.dot_y(ys))
        self._layers.append((grid.dots, self.canvas.palette.add(color)))

    def mark(self, x: float, y: float, char: str, color: Any, attrs: int = 0) -> None:
        """One character at the cell of (x, y) (drawn over the lines)."""
        self._marks.append((x, y, char, color, attrs))

    def hline(self, y: float, color: Any, pattern: tuple[bool, ...] = DOTTED) -> None:
        x0, x1 = self.x_range
        self.line([x0, x1], [y, y], color, pattern)

    # -- drawing ------------------------------------------------------------------------------

    def draw(self, x_tick_labels: list[str] | None = None) -> None:
        """Axes, tick labels, the layers (a cell takes the colour of the last layer with dots
        in it: draw what matters most last) and the marks."""
        if self.rows < 3 or self.data_cols < 2:
            return
        canvas, f = self.canvas, self.frame
        axis_col = self.data_left - 1
        bottom = self.top + self.data_rows  # the axis row
        for r in range(self.top, bottom):
            canvas.text(r, axis_col, "│", self.axis_color)
        canvas.text(bottom, axis_col, "└" + "─" * self.data_cols, self.axis_color)
        for t, label in zip(self.yt, self.y_labels, strict=True):
            row = self.top + self.cell_row(t)
            if self.top <= row < bottom:
                canvas.text(row, axis_col - len(label), label, self.label_color)
                canvas.text(row, axis_col, "┤", self.axis_color)
        x0, x1 = self.x_range
        xt = nice_ticks(x0, x1, self.x_ticks if self.data_cols >= 30 else 2)
        labels = x_tick_labels if x_tick_labels is not None else tick_labels(xt)
        taken = -1
        for t, label in zip(xt, labels, strict=False):
            col = self.cell_col(t)
            if not 0 <= col < self.data_cols:
                continue
            canvas.text(bottom, self.data_left + col, "┴", self.axis_color)
            start = min(max(col - len(label) // 2, 0), self.data_cols - len(label))
            if start > taken:
                canvas.text(bottom + 1, self.data_left + start, label, self.label_color)
                taken = start + len(label)
        if self._layers and f.usable:
            bits = np.zeros((f.rows, f.cols), np.int32)
            owner = np.zeros((f.rows, f.cols), np.int32)
            colors = []
            for i, (dots, color) in enumerate(self._layers):
                layer = braille_bits(dots)
                bits |= layer
                owner[layer > 0] = i
                colors.append(color)
            canvas.braille(self.top, self.data_left, bits, owner, colors)
        for x, y, char, color, attrs in self._marks:
            c, r = self.cell_col(x), self.cell_row(y)
            if 0 <= c < f.cols and 0 <= r < f.rows:
                canvas.text(self.top + r, self.data_left + c, char, color, attrs)

    def cell_row(self, y: float) -> int:
        """The data row (from the top) holding the dots of value y (as lines are drawn)."""
        grid = DotGrid(self.frame)
        dot = grid.dot_y(np.array([y], np.float64))[0]
        return int((grid.height - 1 - dot) // 4) if np.isfinite(dot) else -1

    def cell_col(self, x: float) -> int:
        """The data column holding the dots of value x."""
        grid = DotGrid(self.frame)
        dot = grid.dot_x(np.array([x], np.float64))[0]
        return int(dot // 2) if np.isfinite(dot) else -1


def _line_dots(c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dots along the polyline through dot coordinates (c, r), in order (NaN ends a piece)."""
    cs, rs = [], []
    for i in range(len(c) - 1):
        a, b = (c[i], r[i]), (c[i + 1], r[i + 1])
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        n = int(min(max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1), 8192))
        t = np.arange(n) / n
        cs.append(np.round(a[0] + t * (b[0] - a[0])))
        rs.append(np.round(a[1] + t * (b[1] - a[1])))
    if not cs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(cs), np.concatenate(rs)


def _set_dots(grid: DotGrid, cols: np.ndarray, rows_up: np.ndarray) -> None:
    ok = np.isfinite(cols) & np.isfinite(rows_up)
    cols, rows_up = cols[ok], rows_up[ok]
    ok = (cols >= 0) & (cols < grid.width) & (rows_up >= 0) & (rows_up < grid.height)
    grid.dots[grid.height - 1 - rows_up[ok].astype(np.int64), cols[ok].astype(np.int64)] = True
