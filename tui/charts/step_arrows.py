"""Arrows on the Path chart: the last step's −g and Δθ, drawn from the current point.

The gradient g of the last step (evaluated where that step started) and the step actually
taken Δθ = θ_t − θ_{t−1} usually differ in direction: momentum carries past gradients, Adam
and RMSprop rescale each coordinate, so Δθ is not along −g. Both are drawn from ● with a
fixed length (a step is often far smaller than a cell): only their directions are to scale,
on screen, where a cell is about twice as tall as it is wide. The title gives their lengths.

Glyphs are ASCII and differ by shape, so the arrows read without colour and in an ASCII
terminal: −g is a line of `- / | \\` ending in `g`, Δθ a shorter line of `*` ending in `s`
(shorter, so both stay visible when they point the same way, as with plain SGD).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.numbers import format_number
from tui.charts.base import Picture
from tui.charts.braille import Frame

#: Shaft glyphs of the −g arrow by direction: →, ↗, ↑, ↖ (and their opposites).
LINE_GLYPHS = "-/|\\"
GRAD_TIP, STEP_SHAFT, STEP_TIP = "g", "*", "s"
#: A cell is about this many times as tall as it is wide.
CELL_ASPECT = 2.0


def line_glyph(vx: float, vy: float) -> str:
    """The line character closest to the on-screen direction (vx right, vy up)."""
    angle = math.degrees(math.atan2(vy, vx)) % 180.0
    return LINE_GLYPHS[int(((angle + 22.5) % 180.0) // 45.0)]


def arrow_cells(
    frame: Frame, x: float, y: float, dx: float, dy: float, length: int
) -> list[tuple[int, int]]:
    """Cells (column, row from the top) of an arrow `length` cells wide on screen, from the
    point (x, y) along the data-space direction (dx, dy); the point's own cell excluded,
    cut where it leaves the frame. Empty for a zero or non-finite direction."""
    if not (frame.usable and all(math.isfinite(v) for v in (x, y, dx, dy))):
        return []
    per_x = (frame.cols - 1) / (frame.x1 - frame.x0)  # cells per data unit
    per_y = (frame.rows - 1) / (frame.y1 - frame.y0)
    vx, vy = dx * per_x, dy * per_y * CELL_ASPECT  # on screen, in cell widths
    norm = math.hypot(vx, vy)
    if not norm or not math.isfinite(norm):
        return []
    c0, r0 = frame.cell_of(x, y)
    out: list[tuple[int, int]] = []
    for k in np.arange(0.5, length + 0.01, 0.5):  # half-cell steps: no gaps on diagonals
        c = c0 + math.floor(0.5 + k * vx / norm)
        r = r0 - math.floor(0.5 + k * vy / norm / CELL_ASPECT)
        if not (0 <= c < frame.cols and 0 <= r < frame.rows):
            break
        if (c, r) != (c0, r0) and (not out or out[-1] != (c, r)):
            out.append((c, r))
    return out


def _mark_cells(
    picture: Picture, frame: Frame, cells: list[tuple[int, int]], shaft: str, tip: str, color: Any
) -> None:
    """Marks at the centres of `cells` (data coordinates that map back to those cells)."""
    for i, (c, r) in enumerate(cells):
        x = frame.x0 + c * (frame.x1 - frame.x0) / (frame.cols - 1)
        y = frame.y0 + (frame.rows - 1 - r) * (frame.y1 - frame.y0) / (frame.rows - 1)
        picture.mark(x, y, tip if i == len(cells) - 1 else shaft, color)


def step_arrows(chart: Any, run: Any, picture: Picture, x: float, y: float) -> list[str]:
    """Add the −g and Δθ arrows of `run`'s last step at (x, y) to `picture` (a PathChart's);
    returns the title parts naming them and their lengths, or [] before the first step."""
    frame = chart.planned_frame(picture)
    if frame is None or not frame.usable:
        return []
    try:
        params = list(run.inspect().params.values())
    except RuntimeError:  # the optimizer was creating its state at that moment
        return []
    if len(params) != 2 or any(p.update is None for p in params):
        return []
    gx, gy = (float(p.grad) for p in params)
    ux, uy = (float(p.update) for p in params)
    length = min(max(4, min(frame.cols, int(CELL_ASPECT * frame.rows)) // 4), 12)
    grad = arrow_cells(frame, x, y, -gx, -gy, length)
    if grad:
        vx = -gx * (frame.cols - 1) / (frame.x1 - frame.x0)
        vy = -gy * (frame.rows - 1) / (frame.y1 - frame.y0) * CELL_ASPECT
        _mark_cells(picture, frame, grad, line_glyph(vx, vy), GRAD_TIP, chart.color("grad"))
    step = arrow_cells(frame, x, y, ux, uy, max(2, round(0.6 * length)))
    _mark_cells(picture, frame, step, STEP_SHAFT, STEP_TIP, chart.color("update"))
    return [
        f"{GRAD_TIP} −g, {STEP_TIP} Δθ",
        f"|g| {format_number(math.hypot(gx, gy), 3)}",
        f"|Δθ| {format_number(math.hypot(ux, uy), 3)}",
    ]
