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
  and its colour conversion (`_rgbify`).

`tests/tui/test_charts.py` fails when plotext's layout moves (the data area must be where
plotext draws the frame) or when these names disappear; plotext and textual-plotext are
pinned in pyproject.toml to the versions this was written against.
"""

from __future__ import annotations

import functools
from typing import Any

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


def build_matrix(widget: PlotextPlot, plot: Plot, width: int, height: int) -> Any:
    """Lay out `plot` at `width` x `height` cells in the widget's theme and return plotext's
    cell matrix (rows stored bottom-up), without rendering text."""
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
        for r, c, char in zip(rs.tolist(), cs.tolist(), chars, strict=True):
            markers[top - r][col0 + c] = char
            colors[top - r][col0 + c] = color if color is not None else "default"
            styles[top - r][col0 + c] = style
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


def matrix_strips(matrix: Any, width: int) -> list[Strip]:
    """One Strip per row of the matrix (top row first), one Segment per run of equal style."""
    strips = []
    for row in range(matrix.rows - 1, -1, -1):
        markers, fgs = matrix.marker[row], matrix.fullground[row]
        styles, bgs = matrix.style[row], matrix.background[row]
        segments = []
        start = 0
        key = (fgs[0], styles[0], bgs[0]) if matrix.cols else None
        for col in range(1, matrix.cols + 1):
            here = (fgs[col], styles[col], bgs[col]) if col < matrix.cols else None
            if here != key:
                segments.append(Segment("".join(markers[start:col]), cell_style(*key)))
                start, key = col, here
        strips.append(Strip(segments, min(matrix.cols, width)).crop_extend(0, width, None))
    return strips
