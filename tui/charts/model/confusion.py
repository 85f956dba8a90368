"""The digits view: the test-set confusion matrix and the misclassified test digits.

The matrix has one row per true digit and one column per predicted digit; each count is
written out, and its cell is shaded by the count's share of its row (how often that digit
gets that answer): the diagonal in the theme's "correct" colour, the confusions in its
"wrong" colour (their share scaled up: a few percent must show). Zero is a dim `·`; without
colour the counts still read, and the confusions are bold.

Next to the matrix (or below it, where there is no room beside it) the first misclassified
test digits are drawn from their 8x8 pixels, 8 cells wide and 4 high: with colour two pixels
per cell (upper half block, grey levels between the background and the ink), without colour
or in ASCII the pixels above half ink as `▀ ▄ █` (ASCII `' . :`). Under each digit
`7→1`: its true digit and what the network answered.
"""

from __future__ import annotations

import numpy as np

from engine.tasks.views import ConfusionView
from tui.charts.cells import BOLD, DIM, CellCanvas, Look
from tui.charts.model.ink import Ink, fit_lines, title_rows

#: Grey levels of a digit's pixels (blend of the ink into the background).
GREYS = 5
#: Steps of a count's shade.
SHADES = 5
#: A digit is 8 cells wide and 4 high (two pixel rows per cell), its label row below.
DIGIT_COLS, DIGIT_ROWS = 8, 4
#: Cells between digits, and beside the matrix.
GAP = 2
#: Pixels above this much ink are drawn when a cell shows one shade (no colour, ASCII).
INK_THRESHOLD = 0.35


def paint_confusion(
    canvas: CellCanvas, view: ConfusionView, look: Look, ink: Ink, heading: list[str]
) -> None:
    cols, rows = canvas.cols, canvas.rows
    head = 2 if rows >= 14 else 1
    top = title_rows(canvas, fit_lines(heading, cols, head), ink.foreground)
    width, height = _matrix(canvas, view, look, ink, top)
    # The digits: beside the matrix when at least two fit there, else below it.
    room_beside = cols - width - GAP
    if room_beside >= 2 * (DIGIT_COLS + 1):
        _digits(canvas, view, look, ink, top, width + GAP, room_beside, rows - top)
    elif rows - top - height - 1 >= DIGIT_ROWS + 2:
        _digits(canvas, view, look, ink, top + height + 1, 0, cols, rows - top - height - 1)


def _matrix(
    canvas: CellCanvas, view: ConfusionView, look: Look, ink: Ink, top: int
) -> tuple[int, int]:
    """Header row, then one row per true class; returns the (cols, rows) it used."""
    matrix = np.asarray(view.matrix)
    n = len(view.class_names)
    cell = max(2, len(str(int(matrix.max(initial=0))))) + 1
    label = max(4, max(len(name) for name in view.class_names) + 1)  # room for "true"
    muted, fg = ink.role("note"), ink.foreground
    canvas.text(top, 0, "true", muted)
    for j, name in enumerate(view.class_names):
        canvas.text(top, label + 1 + j * cell, f"{name:>{cell}}", muted)
    canvas.text(top, label + 1 + n * cell, " ←predicted" if not look.ascii else " <-pred", muted)
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    share = matrix / totals
    strengths = np.linspace(0.15, 0.7, SHADES)
    correct = canvas.palette.ramp(ink.background, ink.role("correct"), strengths)
    wrong = canvas.palette.ramp(ink.background, ink.role("wrong"), strengths)
    for i, name in enumerate(view.class_names):
        row = top + 1 + i
        if row >= canvas.rows:
            break
        canvas.text(row, 0, f"{name:>{label}}", muted)
        canvas.text(row, label, "│", muted)
        for j in range(n):
            count = int(matrix[i, j])
            col = label + 1 + j * cell
            if count == 0:
                canvas.text(row, col, f"{'·' if not look.ascii else '.':>{cell}}", muted, DIM)
                continue
            diagonal = i == j
            s = share[i, j] if diagonal else min(1.0, 4 * share[i, j])
            level = min(SHADES - 1, int(s * SHADES))
            bg = (correct if diagonal else wrong)[level] if look.colors else 0
            attrs = 0 if diagonal else BOLD
            canvas.text(row, col, f"{count:>{cell}}", fg, attrs)
            canvas.bg[row, col + 1 : col + cell] = bg
    return label + 1 + n * cell + 11, n + 1


def _digits(
    canvas: CellCanvas,
    view: ConfusionView,
    look: Look,
    ink: Ink,
    top: int,
    left: int,
    cols: int,
    rows: int,
) -> None:
    """As many misclassified digits as fit in the rectangle, in test-set order."""
    muted = ink.role("note")
    shown = len(view.images)
    if shown == 0:
        canvas.text(top, left, "no test digit is misclassified", ink.role("correct"), BOLD)
        return
    per_row = max(1, (cols + 1) // (DIGIT_COLS + 1))
    stacks = max(0, (rows - 1) // (DIGIT_ROWS + 1))
    fits = min(shown, per_row * stacks)
    arrow = "→" if not look.ascii else ">"
    canvas.text(top, left, f"{fits} of {view.n_misclassified} wrong: true{arrow}said"[:cols], muted)
    greys = canvas.palette.ramp(ink.background, ink.foreground, np.linspace(0, 1, GREYS))
    for k in range(fits):
        r0 = top + 1 + (k // per_row) * (DIGIT_ROWS + 1)
        c0 = left + (k % per_row) * (DIGIT_COLS + 1)
        image = np.asarray(view.images[k])
        _digit(canvas, image, r0, c0, look, greys)
        true, said = view.true_labels[k], view.predicted_labels[k]
        canvas.text(r0 + DIGIT_ROWS, c0, f" {true}{arrow}{said}", ink.role("wrong"), BOLD)


def _digit(
    canvas: CellCanvas, image: np.ndarray, top: int, left: int, look: Look, greys: np.ndarray
) -> None:
    """One 8x8 image as 8 x 4 cells (two pixel rows per cell)."""
    rows = slice(top, top + DIGIT_ROWS)
    cols = slice(left, left + DIGIT_COLS)
    upper, lower = image[0::2], image[1::2]
    if top + DIGIT_ROWS > canvas.rows or left + DIGIT_COLS > canvas.cols:
        return
    if look.blocks:
        level = lambda a: np.rint(np.clip(a, 0, 1) * (GREYS - 1)).astype(np.intp)  # noqa: E731
        canvas.chars[rows, cols] = "▀"
        canvas.fg[rows, cols] = greys[level(upper)]
        canvas.bg[rows, cols] = greys[level(lower)]
        return
    glyphs = np.array([" ", ".", "'", ":"] if look.ascii else [" ", "▄", "▀", "█"])
    code = 2 * (upper > INK_THRESHOLD) + (lower > INK_THRESHOLD)
    canvas.chars[rows, cols] = glyphs[code]
