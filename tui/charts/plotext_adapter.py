"""The one place that reaches into plotext and textual-plotext internals.

Charts let plotext lay out and draw the axes, ticks, frame and title (a figure built with the
public API: xlim, ylim, xticks, yticks, title, vline), then write their own rasterised data
into plotext's cell matrix and turn the matrix into Textual `Strip`s directly. Three things
need private API, and all of it is here:

- building the matrix at a given size and theme without rendering ANSI text
  (`Plot._set_size`, `_set_sizes`, `_build_matrix`, `monitor.matrix`): textual-plotext renders
  plotext's ANSI string and parses it back with `Text.from_ansi`, which costs more than the
  whole plot;
- the matrix's cell arrays (`marker`, `fullground`, `style`, `background`, stored bottom-up);
- textual-plotext's plotext theme for the app's theme (`PlotextPlot._get_plotext_theme_name`)
  and its colour conversion (`_rgbify`);
- two costs of a frame: the matrix's `set_matrices` (one lambda call per cell to fill the
  background; `_Matrix` fills whole rows instead) and the figure's references to itself
  (`discard` breaks them, so a dropped figure is freed at once, not by the cyclic GC).

`tests/tui/test_charts.py` fails when plotext's layout moves (the data area must be where
plotext draws the frame) or when these names disappear; plotext and textual-plotext are
pinned in pyproject.toml to the versions this was written against.
"""

from __future__ import annotations

import functools
import itertools
import operator
from typing import Any

import numpy as np
from plotext._matrix import matrix_class
from plotext._utility import no_color, space
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual_plotext import Plot, PlotextPlot
from textual_plotext.plot import _rgbify

#: What a matrix cell's colour may be: an RGB triple, a 256-colour index or a plotext name.
CellColor = Any


def new_plot() -> Plot:
    """A fresh plotext figure (ticks and limits cannot be set back to automatic)."""
    return Plot()


def discard(plot: Plot) -> None:
    """Break the figure's references to itself (its parent, master and active figure, and
    its dummy subfigure's) so it is freed as soon as it is dropped. Left to the cyclic
    garbage collector, a figure per frame piles up until a full collection, which stalls
    the UI thread for ~20 ms every few seconds."""
    for figure in (getattr(plot, "_dummy", None), plot):
        if figure is not None:
            for name in ("_parent", "_master", "_active", "_dummy"):
                if name in vars(figure):
                    setattr(figure, name, None)


class _Matrix(matrix_class):
    """plotext's cell matrix, its empty matrices made a row at a time (same content)."""

    def set_matrices(self) -> None:
        cols = self.cols
        self.marker = [[space] * cols for _ in self.Rows]
        self.fullground = [[no_color] * cols for _ in self.Rows]
        self.style = [[no_color] * cols for _ in self.Rows]
        # A cell's background is the canvas colour inside the canvas area, else the axes'.
        area = self.Cols_canvas
        start = min(max(area.start, 0), cols)
        stop = max(min(area.stop, cols), start)
        axes, canvas = self.axes_color, self.canvas_color
        inside = [axes] * start + [canvas] * (stop - start) + [axes] * (cols - stop)
        self.background = [
            inside.copy() if row in self.Rows_canvas else [axes] * cols for row in self.Rows
        ]


def build_matrix(widget: PlotextPlot, plot: Plot, width: int, height: int) -> Any:
    """Lay out `plot` at `width` x `height` cells in the widget's theme and return plotext's
    cell matrix (rows stored bottom-up), without rendering text."""
    if type(plot.monitor.matrix) is matrix_class:
        plot.monitor.matrix.__class__ = _Matrix
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme(widget._get_plotext_theme_name(widget.app.theme))
    plot._set_sizes()
    plot._build_matrix()
    return plot.monitor.matrix


def paint(
    matrix: Any,
    cells: list[tuple[Any, Any, list[str], CellColor, str]],
    origin: tuple[int, int],
    size: tuple[int, int],
) -> bool:
    """Write rasterised cells into the matrix. `origin` is the data area's bottom-left cell
    (column, row from the bottom), `size` its (columns, rows); cell rows count from its top;
    each layer of cells has a colour and a style word ("", "bold", "dim").
    False when the area does not fit (the widget was resized since the cells were made)."""
    col0, row0 = origin
    cols, rows = size
    if row0 + rows > matrix.rows or col0 + cols > matrix.cols:
        return False
    markers, colors, styles = matrix.marker, matrix.fullground, matrix.style
    top = row0 + rows - 1
    for rs, cs, chars, color, style in cells:
        style = style or "default"
        color = color if color is not None else "default"
        rows_at = (top - np.asarray(rs)).tolist()
        for r, c, char in zip(rows_at, (col0 + np.asarray(cs)).tolist(), chars, strict=True):
            markers[r][c] = char
            colors[r][c] = color
            styles[r][c] = style
    return True


@functools.lru_cache(maxsize=1024)
def cell_style(fg: Any, style: Any, bg: Any) -> Style:
    """The Rich style of a matrix cell (colours as RGB tuples, 256-colour ints or names)."""

    def color(value: Any) -> RichColor | None:
        if value == "default" or value is None:
            return None
        if isinstance(value, RichColor):
            return value
        if isinstance(value, tuple):
            return RichColor.from_rgb(*value)
        if isinstance(value, int):
            return RichColor.from_ansi(value)
        return color(_rgbify(value))

    words = set(str(style).split()) & {"bold", "dim", "italic", "underline", "strike"}
    if style == "default":
        words = set()
    return Style(color=color(fg), bgcolor=color(bg), **{w: True for w in words})


#: A row of the matrix as built (its markers, colours, styles, backgrounds) and its Strip.
Row = tuple[tuple[list[Any], ...], Strip]


def matrix_strips(
    matrix: Any, width: int, last: list[Row] | None = None
) -> tuple[list[Strip], list[Row]]:
    """One Strip per row of the matrix (top row first), one Segment per run of equal style;
    and the rows as `last` takes them. A row equal to the same row of `last` (the previous
    frame's) keeps its Strip object: nothing is built for it, Textual's caches of it stay
    valid, and a chart repaints only the rows that changed."""
    last = last or []
    rows: list[Row] = []
    cols = matrix.cols
    for y, row in enumerate(range(matrix.rows - 1, -1, -1)):
        cells = (matrix.marker[row], matrix.fullground[row], matrix.style[row],
                 matrix.background[row])  # fmt: skip
        if y < len(last) and last[y][0] == cells:
            rows.append((cells, last[y][1]))
            continue
        markers = cells[0]
        keys = list(zip(cells[1], cells[2], cells[3], strict=True))
        # Where the style changes: one Segment per run of cells alike.
        cuts = itertools.compress(range(1, cols), map(operator.ne, keys[1:], keys))
        bounds = [0, *cuts, cols] if cols else []
        segments = [
            Segment("".join(markers[a:b]), cell_style(*keys[a]))
            for a, b in itertools.pairwise(bounds)
        ]
        if cols == width:
            strip = Strip(segments, width)
        else:  # the matrix was laid out at another width: crop or pad to the widget
            strip = Strip(segments, min(cols, width)).crop_extend(0, width, None)
        rows.append((cells, strip))
    return [strip for _, strip in rows], rows
