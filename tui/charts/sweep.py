"""The sweep chart: final loss against the swept knob, one curve per optimizer (one knob), or a
heatmap per optimizer (two knobs).

    sweep_chart_text(spec, points, width, height)   # the terminal's chart, as text
    draw_curves(plt, spec, points)                   # on any plotext-like object (a
                                                     # textual-plotext widget's `plt` too)
    heatmap_lines(spec, points)                      # the two-knob view, as text lines

It reads `engine.sweep.SweepPoint`s (`summarise(spec, rows)`), so it can be redrawn while a
sweep is still running, from whatever points have arrived.

Curves: x is the knob on its own scale (log for lr), y the mean final loss on a log scale
(when every loss is positive). Log scales are done here, not by plotext: values are plotted as
log10 and the ticks labelled with the original numbers. Each optimizer has its own marker as
well as its colour, so the chart reads without colour. A point where a seed diverged is
marked `x` at the top edge (its loss is not a number to plot), and each optimizer's best point
(the lowest mean final loss where no seed diverged) is marked `*`.

Heatmap: one grid per optimizer, rows the first knob, columns the second; each cell shows a
shade (darker = lower loss, on one log scale shared by every optimizer) and the loss; `x` a
diverged seed, `*` the optimizer's best point.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from engine.compare import format_number
from tui.charts.axes import nice_ticks, tick_labels

#: One marker per optimizer, in order (x and * are taken by divergence and the best point).
MARKERS = ("o", "+", "#", "@", "%", "&", "=", "$", "~", "^")
COLORS = ("blue+", "orange+", "green+", "red+", "magenta+", "cyan+", "gray+", "blue")
DIVERGED_MARK = "x"
BEST_MARK = "*"
#: Rows between two optimizers' diverged marks, as a fraction of the loss range.
DIVERGED_ROW = 0.07
#: Heatmap shades from high loss (light) to low loss (dark).
SHADES = "░▒▓█"


def _x_of(axis: Any, value: Any) -> float:
    if axis.scale == "category":
        return float(axis.values.index(value))
    x = float(value)
    return math.log10(x) if axis.scale == "log" else x


def _use_log_y(points: Sequence[Any]) -> bool:
    finite = [p.final_loss_mean for p in points if p.final_loss_mean is not None]
    return bool(finite) and all(math.isfinite(v) and v > 0 for v in finite)


def _ticks(axis: Any, max_ticks: int) -> tuple[list[float], list[str]]:
    """Round ticks on a numeric axis (1e-3, 2e-3, 5e-3 on a log one; 0.2, 0.4 on a linear
    one), not the grid's own values (0.0006813); a category axis: its values."""
    if axis.scale != "category" and len(axis.values) > 1:
        xs = [_x_of(axis, v) for v in axis.values]
        lo, hi = min(xs), max(xs)
        if axis.scale == "log":
            for mantissas in ((1,), (1, 3), (1, 2, 5)):
                values = [m * 10.0**k for k in range(math.floor(lo), math.ceil(hi) + 1)
                          for m in mantissas]  # fmt: skip
                shown = [v for v in values if lo - 1e-9 <= math.log10(v) <= hi + 1e-9]
                if len(shown) >= 3 or mantissas == (1, 2, 5):
                    break
            step = max(1, math.ceil(len(shown) / max(1, max_ticks)))
            shown = shown[::step]
            if len(shown) >= 2:
                return [math.log10(v) for v in shown], [f"{v:g}" for v in shown]
        else:
            ticks = nice_ticks(lo, hi, max(2, min(max_ticks, 6)))
            if len(ticks) >= 2:
                return ticks, tick_labels(ticks)
    step = max(1, math.ceil(len(axis.values) / max(1, max_ticks)))
    shown = list(axis.values)[::step]
    return [_x_of(axis, v) for v in shown], [axis.label(v) for v in shown]


_limits_cache: list[tuple[Any, list[tuple[str, float]]]] = []


def lr_limits(spec: Any) -> list[tuple[str, float]]:
    """(optimizer, largest stable lr) for each optimizer of a sweep over lr on a task whose
    loss is exactly quadratic, where engine.theory knows the limit (sgd, momentum, nesterov at
    their swept settings); [] otherwise. Remembered for the last spec asked."""
    if _limits_cache and _limits_cache[0][0] is spec:
        return _limits_cache[0][1]
    found: list[tuple[str, float]] = []
    if len(spec.axes) == 1 and spec.axes[0].knob == "lr" and spec.plan():
        from engine import tasks, theory  # only for sweeps over lr

        task = tasks.create(spec.task, dtype="float64", **dict(spec.task_hypers))
        if task.quadratic_loss() is not None:
            analysed = theory.analyse(task)
            for opt in spec.optimizers:
                planned = next(run for run in spec.plan() if run.optimizer == opt)
                limit = theory.for_config(planned.config, 0, analysed).lr_limit
                if limit is not None and math.isfinite(limit):
                    found.append((opt, limit))
    _limits_cache[:] = [(spec, found)]
    return found


def draw_curves(
    plt: Any,
    spec: Any,
    points: Sequence[Any],
    width: int = 80,
    cursor: tuple[str, Any] | None = None,
    window: tuple[int, int] | None = None,
) -> None:
    """Draw the one-knob chart on `plt` (plotext or textual-plotext's `plt`); size, clearing
    and building are the caller's. `cursor` (optimizer, knob value): a point to highlight
    (the app's selection), drawn as a vertical line at its value and its marker inverted.
    `window` (first, last index into the knob's values): a zoom, only those values drawn, the
    loss axis fitted to their points, and the x label saying so."""
    axis = spec.axes[0]
    if window is not None:
        first, last = window
        axis = dataclasses.replace(axis, values=axis.values[first : last + 1])
        points = [p for p in points if p.point[0] in axis.values]
    if cursor is not None:  # first: every marker is drawn over the line
        plt.vline(_x_of(axis, cursor[1]), "default")
    limits = lr_limits(spec)
    if window is not None and axis.scale != "category":  # the limits inside the window
        xs = [_x_of(axis, v) for v in axis.values]
        limits = [(o, lim) for o, lim in limits if min(xs) <= _x_of(axis, lim) <= max(xs)]
    for opt, limit in limits:  # the theory's stability limit: larger rates diverge
        i = spec.optimizers.index(opt)
        plt.vline(_x_of(axis, limit), COLORS[i % len(COLORS)])
    log_y = _use_log_y(points)

    def y_of(loss: float) -> float:
        return math.log10(loss) if log_y else loss

    finite = [
        y_of(p.final_loss_mean)
        for p in points
        if p.final_loss_mean is not None and math.isfinite(p.final_loss_mean)
    ]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = high - low or 1.0
    top = high + 0.08 * span  # where diverged points are marked
    marks: list[tuple[str, str, list[float], list[float], str | None]] = []  # over every line
    diverged_rows: dict[str, float] = {}  # optimizer -> the y of its diverged marks
    for i, opt in enumerate(spec.optimizers):
        mine = [p for p in points if p.optimizer == opt]
        color = COLORS[i % len(COLORS)]
        marker = MARKERS[i % len(MARKERS)]
        ok = [p for p in mine if p.final_loss_mean is not None and math.isfinite(p.final_loss_mean)]
        ok.sort(key=lambda p: _x_of(axis, p.point[0]))
        xs = [_x_of(axis, p.point[0]) for p in ok]
        ys = [y_of(p.final_loss_mean) for p in ok]
        if xs:  # (plotext's legend fails on an empty labelled series)
            plt.plot(xs, ys, marker=marker, color=color, label=opt)
        bad = [_x_of(axis, p.point[0]) for p in mine if p.diverged]
        if bad:  # an optimizer with no loss to plot is named by its divergence marks
            label = None if xs else f"{opt} (diverged)"
            # Each optimizer's marks on a row of their own: on one row they hid each other.
            row = top + DIVERGED_ROW * span * len(diverged_rows)
            diverged_rows[opt] = row
            marks.append((DIVERGED_MARK, color, bad, [row] * len(bad), label))
        best = [p for p in mine if p.best]
        if best:
            marks.append((BEST_MARK, color, [_x_of(axis, best[0].point[0])],
                          [y_of(best[0].final_loss_mean)], None))  # fmt: skip
    for mark, color, xs, ys, label in marks:
        plt.scatter(xs, ys, marker=mark, color=color, label=label)
    if cursor is not None:
        _draw_cursor(plt, spec, axis, points, cursor, y_of, diverged_rows.get(cursor[0], top))
    any_diverged = any(mark == DIVERGED_MARK for mark, *_ in marks)
    xticks, xlabels = _ticks(axis, max(2, (width - 12) // 9))
    plt.xticks(xticks, xlabels)
    if axis.scale != "category" and len(axis.values) > 1:
        xs = [_x_of(axis, v) for v in axis.values]
        pad = 0.03 * ((max(xs) - min(xs)) or 1.0)
        plt.xlim(min(xs) - pad, max(xs) + pad)
    ys = [low + k * (high - low) / 4 for k in range(5)] if high > low else [low]
    plt.yticks(ys, [format_number(10**y if log_y else y, 3) for y in ys])
    plt.ylim(low - 0.05 * span, max([top, *diverged_rows.values()]) + 0.04 * span)
    legend = f"{BEST_MARK} best" + (f", {DIVERGED_MARK} diverged" if any_diverged else "")
    plt.title(f"final loss vs {axis.knob} · {spec.task}, {spec.steps} steps · {legend}")
    xlabel = f"{axis.knob}{' (log)' if axis.scale == 'log' else ''}"
    if window is not None:
        xlabel += f" · zoom {axis.label(axis.values[0])}-{axis.label(axis.values[-1])} (Z: all)"
    if limits:  # plotext leaves out a label wider than the chart: the longest that fits
        named = ", ".join(f"{format_number(limit, 3)} {opt}" for opt, limit in limits)
        short = ", ".join(format_number(limit, 3) for _, limit in limits)
        for text in (f" · │ stable lr < {named} (theory)", f" · │ stable < {short}", ""):
            if len(xlabel + text) <= width - 4:
                break
        xlabel += text
    plt.xlabel(xlabel)


def _draw_cursor(
    plt: Any,
    spec: Any,
    axis: Any,
    points: Sequence[Any],
    cursor: tuple[str, Any],
    y_of: Any,
    top: float,
) -> None:
    """The selected point's marker, inverted (a diverged point: its `x` at the top edge)."""
    opt, value = cursor
    point = next((p for p in points if p.optimizer == opt and p.point == (value,)), None)
    if point is None or opt not in spec.optimizers:
        return  # not run yet: the vertical line alone shows where
    i = spec.optimizers.index(opt)
    loss = point.final_loss_mean
    if point.diverged or loss is None or not math.isfinite(loss):
        y, marker = top, DIVERGED_MARK
    else:
        y, marker = y_of(loss), BEST_MARK if point.best else MARKERS[i % len(MARKERS)]
    x = _x_of(axis, value)
    plt.scatter([x], [y], marker=marker, color=COLORS[i % len(COLORS)], style="inverted")


def curves_text(spec: Any, points: Sequence[Any], width: int, height: int, color: bool) -> str:
    """The one-knob chart as terminal text (plotext's global figure is used and cleared)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    if not color:
        plt.theme("clear")
    draw_curves(plt, spec, points, width)
    text = plt.build()
    plt.clear_figure()
    return text if color else plt.uncolorize(text)


def loss_shader(points: Sequence[Any]) -> Callable[[float], str]:
    """The heatmap's shade of a mean final loss: darker = lower, on one scale (log when
    every loss is positive) shared by every optimizer's points."""
    finite = [
        p.final_loss_mean
        for p in points
        if p.final_loss_mean is not None and math.isfinite(p.final_loss_mean)
    ]
    log = bool(finite) and all(v > 0 for v in finite)
    scale = [math.log10(v) if log else v for v in finite]
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)

    def shade(loss: float) -> str:
        v = math.log10(loss) if log else loss
        frac = 0.0 if high == low else (v - low) / (high - low)  # 0: the lowest loss
        return SHADES[len(SHADES) - 1 - min(len(SHADES) - 1, int(frac * len(SHADES)))]

    return shade


def heatmap_lines(spec: Any, points: Sequence[Any]) -> list[str]:
    """The two-knob view: a grid per optimizer (see the module docstring)."""
    rows_axis, cols_axis = spec.axes
    shade = loss_shader(points)
    by_key = {(p.optimizer, p.point): p for p in points}
    head = max(len(rows_axis.knob), *(len(rows_axis.label(v)) for v in rows_axis.values))
    width = max(
        len(f"{DIVERGED_MARK} diverged"), *(len(cols_axis.label(v)) for v in cols_axis.values)
    )
    lines = [
        f"final loss by {rows_axis.knob} (rows) and {cols_axis.knob} (columns): darker = "
        f"lower; {DIVERGED_MARK} a seed diverged; {BEST_MARK} best of the optimizer"
    ]
    for opt in spec.optimizers:
        lines += ["", opt]
        header = " " * head + "".join(f"  {cols_axis.label(v):>{width}}" for v in cols_axis.values)
        lines.append(header.rstrip())
        for rv in rows_axis.values:
            cells = []
            for cv in cols_axis.values:
                p = by_key.get((opt, (rv, cv)))
                if p is None:
                    cell = "·"
                elif p.final_loss_mean is None:
                    cell = f"{DIVERGED_MARK} diverged"
                else:
                    mark = BEST_MARK if p.best else DIVERGED_MARK if p.diverged else " "
                    cell = f"{shade(p.final_loss_mean)} {format_number(p.final_loss_mean, 3)}{mark}"
                cells.append(f"  {cell:>{width}}")
            lines.append(f"{rows_axis.label(rv):<{head}}" + "".join(cells))
    return lines


def sweep_chart_text(
    spec: Any, points: Sequence[Any], width: int, height: int, color: bool = True
) -> str:
    """What `optplay sweep` prints on a terminal: the curves for one knob, the heatmap for
    two."""
    if len(spec.axes) == 2:
        title, *grid = heatmap_lines(spec, points)
        # The title wrapped to the terminal between words (it ran to 120 columns at 80).
        title_lines = textwrap.wrap(title, max(width, 20), break_on_hyphens=False)
        return "\n".join([*title_lines, *grid])
    return curves_text(spec, points, width, height, color)
