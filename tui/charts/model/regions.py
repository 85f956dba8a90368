"""Decision regions: what the classifier answers over the data's plane, the points on top.

With colour (and Unicode) every cell shows two pixels, one above the other: the upper half
block `▀` in the top pixel's colour over a background of the bottom pixel's. A pixel's colour
is its class's colour, blended into the chart background by how sure the network is there
(its probability for the winning class, from 1/classes to 1, in SHADES steps): sure regions
are strong, the boundaries fade, as in TensorFlow Playground.

Without colour (NO_COLOR) or in an ASCII terminal a cell is one pixel, drawn with its class's
texture character (`·`, `-`, `'`...) at a density that follows the same certainty (an ordered
2x2 dither: every cell where it is sure, none where it is not); with colour in ASCII the
background keeps the shaded colours too.

Points are drawn on top, one glyph per class (● ✕ ▲ ○ ...; bold, the class colour); a point
the network gets wrong is drawn in reverse video. `d` shows the test points instead of the
training points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.tasks.views import DecisionRegions
from tui.charts.cells import BOLD, REVERSE, CellCanvas, Look
from tui.charts.model.ink import (
    Ink,
    class_glyph,
    class_texture,
    fit_lines,
    short_number,
    title_rows,
)

#: Steps of certainty in the shading (and blend strengths into the background).
SHADES = 6
WEAKEST, STRONGEST = 0.04, 0.62
#: Columns left of the grid for the y labels and the axis line.
LEFT = 6
#: Thresholds of the 2x2 ordered dither (texture mode), by (row % 2, col % 2).
DITHER = (np.array([[0, 2], [3, 1]]) + 0.5) / 4


def header_rows(rows: int) -> int:
    """Title rows above the grid (the last one is the legend)."""
    return 3 if rows >= 16 else 2


def grid_shape(cols: int, rows: int) -> tuple[int, int]:
    """(cols, rows) of cells the regions fill in a chart of cols x rows."""
    return max(cols - LEFT, 0), max(rows - header_rows(rows) - 1, 0)


def pixel_size(cols: int, rows: int, look: Look) -> tuple[int, int]:
    """The pixel grid (width, height) to ask `model_view` for: two pixels per cell with half
    blocks, one otherwise (at least 1 x 1)."""
    gc, gr = grid_shape(cols, rows)
    return max(gc, 1), max(gr * (2 if look.blocks else 1), 1)


def certainty(view: DecisionRegions) -> np.ndarray:
    """How sure the network is at each pixel, rescaled to [0, 1] (0: every class equally
    likely, or no number at all; 1: certain)."""
    c = view.n_classes
    sure = np.clip((view.confidence - 1.0 / c) / (1.0 - 1.0 / c), 0.0, 1.0)
    return np.nan_to_num(sure, nan=0.0)  # a diverged network: no certainty anywhere


def shade_table(canvas: CellCanvas, ink: Ink, n_classes: int, look: Look) -> np.ndarray:
    """Palette indices (classes, SHADES): each class's colour blended into the background."""
    strengths = np.linspace(WEAKEST, STRONGEST, SHADES)
    if not look.colors:
        return np.zeros((n_classes, SHADES), np.int32)
    ramp = canvas.palette.ramp
    return np.stack([ramp(ink.background, ink.class_color(k), strengths) for k in range(n_classes)])


def paint_regions(
    canvas: CellCanvas,
    view: DecisionRegions,
    look: Look,
    ink: Ink,
    heading: list[str],
    show_test: bool = False,
) -> None:
    """The whole chart: heading, legend, the regions with their axis labels, the points."""
    cols, rows = canvas.cols, canvas.rows
    top = header_rows(rows)
    gc, gr = grid_shape(cols, rows)
    points = view.test if show_test else view.train
    what = "test" if show_test else "training"
    wrong = int(np.count_nonzero(points.wrong))
    shown = len(points.labels)
    counted = f"{shown:,}" if shown == points.total else f"{shown:,} of {points.total:,}"
    title_rows(canvas, fit_lines(heading, cols, top - 1), ink.foreground)
    _legend(canvas, top - 1, view, look, ink, f"{wrong} wrong", f"of {counted} {what} points")
    if gc < 2 or gr < 2:
        return
    height, width = view.region.shape
    per_cell = 2 if look.blocks and height >= 2 * gr else 1
    gr = min(gr, height // per_cell)
    gc = min(gc, width)
    table = shade_table(canvas, ink, view.n_classes, look)
    level = np.rint(certainty(view) * (SHADES - 1)).astype(np.intp)
    pixels = table[view.region, level]  # palette index per pixel
    cells = (slice(top, top + gr), slice(LEFT, LEFT + gc))
    if per_cell == 2:
        canvas.chars[cells] = "▀"
        canvas.fg[cells] = pixels[0 : 2 * gr : 2, :gc]
        canvas.bg[cells] = pixels[1 : 2 * gr : 2, :gc]
    else:
        region = view.region[:gr, :gc]
        sure = (level[:gr, :gc] / (SHADES - 1)) > DITHER[
            np.arange(gr)[:, None] % 2, np.arange(gc)[None, :] % 2
        ]
        textures = np.array([class_texture(k, look) for k in range(view.n_classes)])
        canvas.chars[cells] = np.where(sure, textures[region], " ")
        canvas.bg[cells] = pixels[:gr, :gc]
        if look.colors:
            strong = table[:, -1]
            canvas.fg[cells] = strong[region]
    _axes(canvas, view, ink, top, gc, gr)
    _points(canvas, view, points, look, ink, top, per_cell, gc, gr)


def _legend(
    canvas: CellCanvas,
    row: int,
    view: DecisionRegions,
    look: Look,
    ink: Ink,
    wrong: str,
    counts: str,
) -> None:
    """`● 0 ✕ 1 ▲ 2  ● 12 wrong of 250 training points` on one row (the second ● reversed,
    as wrong points are drawn), as far as it fits."""
    col = 0
    for k, name in enumerate(view.class_names):
        item = f"{class_glyph(k, look)} {name}"
        if col + len(item) + 1 > canvas.cols - 12:
            col = canvas.text(row, col, "… " if not look.ascii else "+ ", ink.foreground)
            break
        col = canvas.text(row, col, class_glyph(k, look), ink.class_color(k), BOLD)
        col = canvas.text(row, col, f" {name} ", ink.foreground)
    col = canvas.text(row, col + 1, class_glyph(0, look), ink.class_color(0), BOLD | REVERSE)
    col = canvas.text(row, col, f" {wrong} ", ink.foreground, BOLD)
    canvas.text(row, col, counts, ink.role("note"))


def _axes(canvas: CellCanvas, view: DecisionRegions, ink: Ink, top: int, gc: int, gr: int) -> None:
    """The y range at the left of the grid (top and bottom values, the axis name between) and
    the x range below it."""
    (x0, x1), (y0, y1) = view.x_range, view.y_range
    xname, yname = view.axis_labels
    muted = ink.role("note")
    for r in range(top, top + gr):
        canvas.text(r, LEFT - 1, "│", muted)
    canvas.text(top, 0, f"{short_number(y1, 5):>5}", muted)
    canvas.text(top + gr - 1, 0, f"{short_number(y0, 5):>5}", muted)
    if gr >= 3:
        canvas.text(top + gr // 2, 0, f"{yname[:5]:>5}", muted)
    below = top + gr
    left, right = short_number(x0), short_number(x1)
    canvas.text(below, LEFT - 1, "└" + left, muted)
    canvas.text(below, LEFT + gc - len(right), right, muted)
    middle = LEFT + (gc - len(xname)) // 2
    if middle > LEFT + len(left) + 1:
        canvas.text(below, middle, xname, muted)


def _points(
    canvas: CellCanvas,
    view: DecisionRegions,
    points: Any,
    look: Look,
    ink: Ink,
    top: int,
    per_cell: int,
    gc: int,
    gr: int,
) -> None:
    """The points' glyphs, the right ones first, then the wrong ones (reversed) on top."""
    if not len(points.labels):
        return
    prow, pcol = view.pixel_of(points.points)
    row, col = prow // per_cell, pcol
    inside = (row < gr) & (col < gc)
    labels = points.labels
    n = view.n_classes
    glyphs = np.array([class_glyph(k, look) for k in range(n)])
    colors = np.array([canvas.palette.add(ink.class_color(k)) for k in range(n)], np.int32)
    wrong = points.wrong
    for mask, attrs in ((~wrong, BOLD), (wrong, BOLD | REVERSE)):
        pick = inside & mask
        r, c, k = row[pick] + top, col[pick] + LEFT, labels[pick]
        canvas.chars[r, c] = glyphs[k]
        canvas.fg[r, c] = colors[k]
        canvas.attrs[r, c] = attrs
