"""The fitted-curve views: linear regression (a line, or its coefficients), the quadratic's
parabola with x over time, and the sine RNN's predictions against the held-out series.

Lines differ by colour AND by dash pattern (solid, dashed, dotted: see cell_plot.py), and the
legend says which is which in words, so the views read without colour and in ASCII.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.tasks.views import LineFit, ParabolaView, SequenceView, WeightsFit
from tui.charts.axes import nice_ticks, step_label, value_label
from tui.charts.cell_plot import DASHED, DOTTED, SOLID, CellPlot
from tui.charts.cells import BOLD, CellCanvas, Look
from tui.charts.model.ink import Ink, fit_lines, title_rows


def _heading(canvas: CellCanvas, heading: list[str], ink: Ink) -> int:
    """The title: up to 3 lines on a tall chart, 2 on a short one, 1 on a tiny one."""
    lines = 3 if canvas.rows >= 18 else 2 if canvas.rows >= 12 else 1
    return title_rows(canvas, fit_lines(heading, canvas.cols, lines), ink.foreground)


def _legend(canvas: CellCanvas, row: int, items: list[tuple[str, Any]], ink: Ink) -> int:
    """`items` (text, colour) on one row, wrapping onto a second if needed; rows used."""
    col, used = 0, 1
    for text, color in items:
        if col and col + 2 + len(text) > canvas.cols:
            row, col, used = row + 1, 0, used + 1
        if col:
            col += 2
        col = canvas.text(row, col, text, color, BOLD)
    return used


def paint_line(canvas: CellCanvas, view: LineFit, look: Look, ink: Ink, heading: list[str]) -> None:
    """The training points, the current fit (solid), the true line (dashed) and the least-
    squares line (dotted)."""
    top = _heading(canvas, heading, ink)
    cur, true, ls = view.current, view.true, view.least_squares
    top += _legend(
        canvas,
        top,
        [
            ("solid: now", ink.role("fit")),
            (f"dashed: true y={true.intercept:g}{true.slope:+g}x", ink.role("truth")),
            ("dotted: least squares", ink.role("solution")),
        ],
        ink,
    )
    plot = CellPlot(canvas, top, 0, canvas.rows - top, canvas.cols, view.x_range, view.y_range,
                    ink.role("note"), ink.role("note"))  # fmt: skip
    plot.points(view.x, view.y, ink.role("note"))
    ends = np.array(view.x_range)
    plot.line(ends, true.at(ends), ink.role("truth"), DASHED)
    plot.line(ends, ls.at(ends), ink.role("solution"), DOTTED)
    plot.line(ends, cur.at(ends), ink.role("fit"), SOLID)
    plot.draw()


def paint_weights(
    canvas: CellCanvas, view: WeightsFit, look: Look, ink: Ink, heading: list[str]
) -> None:
    """One row per coefficient: its name and value, a bar from 0 to the current value, the
    true value `│` and the least-squares value `○` on the same scale."""
    top = _heading(canvas, heading, ink)
    bar, true_mark, ls_mark = ("#", "|", "o") if look.ascii else ("█", "│", "○")
    top += _legend(
        canvas,
        top,
        [
            (f"{bar} now", ink.role("fit")),
            (f"{true_mark} true", ink.role("truth")),
            (f"{ls_mark} least squares", ink.role("solution")),
        ],
        ink,
    )
    values = np.concatenate([view.current, view.true, view.least_squares])
    values = values[np.isfinite(values)]
    lo = min(0.0, float(values.min())) if len(values) else -1.0
    hi = max(0.0, float(values.max())) if len(values) else 1.0
    if hi - lo < 1e-12:
        hi = lo + 1.0
    name_width = max(len(n) for n in view.names)
    number = 9
    room = canvas.rows - top - 1  # the column heads take a row
    left = name_width + 1 + 2 * number + 2
    track = canvas.cols - left - 1
    if track < 4 or room < 1:
        return
    count = len(view.names)
    shown = count if count <= room else max(room - 1, 0)
    canvas.text(top, name_width + 1, f"{'now':>{number}} {'least sq':>{number}}", ink.role("note"))
    top += 1

    def col_of(v: float) -> int:
        return int(np.clip(np.rint((v - lo) / (hi - lo) * (track - 1)), 0, track - 1))

    zero = col_of(0.0)
    muted = ink.role("note")
    for i in range(shown):
        row = top + i
        cur, true, ls = view.current[i], view.true[i], view.least_squares[i]
        canvas.text(row, 0, f"{view.names[i]:>{name_width}}", muted)
        canvas.text(row, name_width + 1, f"{value_label(cur):>{number}}", ink.role("fit"))
        canvas.text(row, name_width + 2 + number, f"{value_label(ls):>{number}}",
                    ink.role("solution"))  # fmt: skip
        canvas.text(row, left + zero, "┊" if not look.ascii else ":", muted)
        if np.isfinite(cur):
            a, b = sorted((zero, col_of(cur)))
            canvas.text(row, left + a, bar * (b - a + 1), ink.role("fit"))
        if np.isfinite(true):
            canvas.text(row, left + col_of(true), true_mark, ink.role("truth"), BOLD)
        if np.isfinite(ls):
            canvas.text(row, left + col_of(ls), ls_mark, ink.role("solution"), BOLD)
    if shown < count:
        canvas.text(top + shown, 0, f"… {count - shown} more (a taller window shows them)",
                    muted)  # fmt: skip


def paint_parabola(
    canvas: CellCanvas,
    view: ParabolaView,
    look: Look,
    ink: Ink,
    heading: list[str],
    path: Any,
) -> None:
    """f(x) = a x² with the minimum ✕, the start ○ and the current x ●; below it, x over
    time (`path`: the run's trajectory, steps and xs)."""
    top = _heading(canvas, heading, ink)
    now, start, minimum = ("@", "o", "x") if look.ascii else ("●", "○", "✕")
    top += _legend(
        canvas,
        top,
        [
            (f"{now} x = {value_label(view.x)}", ink.role("now")),
            (f"{start} start x0 = {value_label(view.start)}", ink.role("start")),
            (f"{minimum} minimum 0", ink.role("minimum")),
        ],
        ink,
    )
    rest = canvas.rows - top
    upper = rest if rest < 12 else (rest * 3) // 5
    muted = ink.role("note")
    plot = CellPlot(canvas, top, 0, upper, canvas.cols, view.x_range, view.y_range, muted, muted)
    plot.line(view.xs, view.fs, ink.role("truth"))
    plot.mark(0.0, 0.0, minimum, ink.role("minimum"), BOLD)
    plot.mark(view.start, view.a * view.start**2, start, ink.role("start"), BOLD)
    plot.mark(view.x, view.loss, now, ink.role("now"), BOLD)
    plot.draw()
    lower = rest - upper
    if lower < 5 or path is None or len(path.steps) == 0:
        return
    canvas.text(top + upper, 0, "x over time (steps)", ink.foreground, BOLD)
    steps = np.asarray(path.steps, np.float64)
    xs = np.asarray(path.xs, np.float64)
    finite = xs[np.isfinite(xs)]
    span = float(np.abs(finite).max()) if len(finite) else 1.0
    span = span * 1.1 if span > 0 else 1.0
    x_end = max(float(steps[-1]), 1.0)
    timeline = CellPlot(canvas, top + upper + 1, 0, lower - 1, canvas.cols, (0.0, x_end),
                        (-span, span), muted, muted, y_ticks=3)  # fmt: skip
    timeline.hline(0.0, muted)
    timeline.line(steps, xs, ink.role("path"))
    ticks = _step_ticks(timeline)
    timeline.draw(ticks)


def _step_ticks(plot: CellPlot) -> list[str]:
    x0, x1 = plot.x_range
    return [step_label(t) for t in nice_ticks(x0, x1, plot.x_ticks if plot.data_cols >= 30 else 2)]


def paint_sequence(
    canvas: CellCanvas, view: SequenceView, look: Look, ink: Ink, heading: list[str]
) -> None:
    """The held-out series (a solid line) and the one-step-ahead predictions (a dot each, on
    top); below, when there is room, the error of each prediction around zero."""
    top = _heading(canvas, heading, ink)
    top += _legend(
        canvas,
        top,
        [
            ("solid: held-out series", ink.role("truth")),
            ("dots: predicted from the values before", ink.role("fit")),
        ],
        ink,
    )
    steps = np.asarray(view.steps, np.float64)
    target = np.asarray(view.target, np.float64)
    predicted = np.asarray(view.predicted, np.float64)
    both = np.concatenate([target, predicted])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    x_range = (float(steps[0]), float(steps[-1])) if len(steps) > 1 else (0.0, 1.0)
    muted = ink.role("note")
    rest = canvas.rows - top
    upper = rest if rest < 14 else (rest * 5) // 8
    plot = CellPlot(canvas, top, 0, upper, canvas.cols, x_range, (lo - pad, hi + pad),
                    muted, muted)  # fmt: skip
    plot.line(steps, target, ink.role("truth"), SOLID)
    plot.points(steps, predicted, ink.role("fit"))
    plot.draw()
    lower = rest - upper
    if lower < 5:
        return
    error = predicted - target
    finite = np.abs(error[np.isfinite(error)])
    span = float(finite.max()) * 1.1 if len(finite) and finite.max() > 0 else 1.0
    canvas.text(top + upper, 0, "error: predicted - true", ink.foreground, BOLD)
    errors = CellPlot(canvas, top + upper + 1, 0, lower - 1, canvas.cols, x_range, (-span, span),
                      muted, muted, y_ticks=3)  # fmt: skip
    errors.hline(0.0, muted)
    errors.line(steps, error, ink.role("fit"))
    errors.draw()
