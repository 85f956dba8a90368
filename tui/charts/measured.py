"""The steps a lesson's verdict measured, marked on the chart the lesson watches.

A learner reading "Momentum reached loss 0.001 at step 98" should find step 98 on the chart:
each lane's target step (a `steps_to` measurement) is a vertical line in the lane's colour, the
window of a windowed measurement (a `max`, `mean` or `rise` over steps `start`..`stop`) is two
lines at its edges, and the chart's title names them ("measured: 1 at 13, 2 at 52").

Only the chart the lesson watches draws them, and only measurements of a series that chart
shows (the Norms chart: the series it shows now). Plain data: no Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.charts.lanes import lane_marker

#: The history series each watched view draws ("norms" alone: a single run's three series).
VIEW_SERIES = {
    "loss": ("loss", "eval_loss"),
    "norms": ("grad_norm", "update_norm", "update_grad_ratio"),
    "norms:grad": ("grad_norm",),
    "norms:update": ("update_norm",),
    "norms:ratio": ("update_grad_ratio",),
}
#: Measurement kinds over a window of steps.
WINDOWED = ("max", "mean", "rise")


@dataclass(frozen=True)
class MeasuredStep:
    """One measured step: `lane` the index of the lane it belongs to (None: a window's edge,
    the same for every lane), `what` the measurement's label ("steps to loss 0.001")."""

    step: int
    lane: int | None
    what: str


@dataclass(frozen=True)
class Measured:
    """What the watched chart marks: `view` is the lesson's watched view ("loss",
    "norms:update"), `steps` the marks."""

    view: str
    steps: tuple[MeasuredStep, ...] = ()

    def on(self, view: str) -> tuple[MeasuredStep, ...]:
        """The marks a chart showing `view` draws: none unless it is the watched view."""
        return self.steps if view == self.view else ()


def measured_steps(lesson: Any, verdict: Any, lanes: tuple[str, ...]) -> Measured | None:
    """The steps `verdict` (of `lesson`, on the lanes named `lanes` in chart order) measured
    on the series its watched view draws; None when the lesson watches no such chart or there
    is no verdict yet."""
    if lesson is None or verdict is None:
        return None
    view = lesson.watch.view
    shown = VIEW_SERIES.get(view)
    if shown is None:
        return None
    marks: list[MeasuredStep] = []
    for metric, values in verdict.measured:
        if metric.series not in shown:
            continue
        if metric.kind == "steps_to":
            for name, value in values.items():
                if value is not None and name in lanes:
                    marks.append(MeasuredStep(int(value), lanes.index(name), metric.label))
        elif metric.kind in WINDOWED and (metric.start is not None or metric.stop is not None):
            for edge in (metric.start or 1, metric.stop):
                if edge is not None:
                    marks.append(MeasuredStep(int(edge), None, metric.label))
    return Measured(view, tuple(dict.fromkeys(marks)))


def title_part(marks: tuple[MeasuredStep, ...]) -> str | None:
    """The chart title's part naming the marks: "measured: 1 at 13, 2 at 52" for lanes'
    steps, "window 1–10" for a window (lanes by their markers); None when there are none."""
    if not marks:
        return None
    window = sorted({m.step for m in marks if m.lane is None})
    parts = [f"{lane_marker(m.lane)} at {m.step:,}" for m in marks if m.lane is not None]
    if len(window) >= 2:
        parts.append(f"window {window[0]:,}–{window[-1]:,}")
    elif window:
        parts.append(f"from {window[0]:,}")
    return "measured: " + ", ".join(parts)


def draw(chart: Any, view: Any, shown: str, picture: Any) -> str | None:
    """Mark on `picture` the measured steps a chart showing `shown` draws for `view` (a
    ChartView): lanes' steps in the lanes' colours, a window's edges in the note colour; the
    title part naming them, or None."""
    measured = getattr(view, "measured", None)
    marks = measured.on(shown) if measured is not None else ()
    for mark in marks:
        if mark.lane is None or not view.lanes:
            color = chart.color("note")
        else:
            color = chart.lane_color(mark.lane)
        picture.vlines.append((mark.step, color))
    return title_part(marks)
