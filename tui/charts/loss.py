"""The Loss chart: training loss per step and the evaluation loss, or every lane's loss.

The training loss ("loss" series: each update's mini-batch loss) is a min/max band per bucket;
with smoothing on (`S`; by itself in a race of more than three noisy lanes), an exponential
moving average of it is drawn bold over the dimmed raw band, debiased as TensorBoard does. A
race whose lanes span more than two decades goes to a log axis by itself (`l` decides). The
evaluation loss ("eval_loss": held-out data, or the whole objective) is sparse, so it is
drawn as markers at the steps it was measured, never as a line through the gaps, and the
training band stays visible under it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tui.charts.axes import step_label, value_label
from tui.charts.base import ChartView, Picture, RunChart

#: EMA weight of the smoothed training loss (TensorBoard's default).
SMOOTHING = 0.6
#: The glyph of an evaluation.
EVAL_MARK = "◆"
#: A race of more than this many noisy lanes (mini-batch losses) is smoothed by itself: six
#: raw bands make one thicket.
AUTO_SMOOTH_LANES = 3
#: A race's Loss goes to a log axis by itself when its lanes span more than this ratio
#: (two decades): on a linear axis all but the worst lane would lie on the bottom row.
AUTO_LOG_SPAN = 100.0


def ema(values: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); NaNs are skipped."""
    out = np.full(values.shape, np.nan)
    last, count = 0.0, 0
    for i, v in enumerate(values.tolist()):
        if not np.isfinite(v):
            continue
        count += 1
        last = last * weight + (1 - weight) * v
        out[i] = last / (1 - weight**count)
    return out


class LossChart(RunChart):
    """Training loss as a band (or smoothed over it), eval loss as markers, divergence marked."""

    #: Smooth the training loss (the app's `S`, remembered in the settings).
    smooth = False
    #: The user chose `smooth` in this session; until then a race of more than
    #: AUTO_SMOOTH_LANES noisy lanes (mini-batch losses) is smoothed by itself.
    smooth_chosen = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The user's choice of scale (`l`); None: linear for one run, and for a race log
        #: by itself when its lanes span more than two decades (`auto_log`).
        self._log_choice: bool | None = None
        self._log_shown = False  # the scale of the last frame
        self.auto_log = False  # the last frame went to log by itself
        self.smoothed = False  # the last frame was smoothed (by choice or by itself)
        self.auto_smooth = False  # ... by itself

    @property  # type: ignore[override]
    def log_y(self) -> bool:
        """The scale shown (what `l` flips): the user's choice, else the automatic one."""
        return self._log_choice if self._log_choice is not None else self._log_shown

    @log_y.setter
    def log_y(self, value: bool) -> None:
        if hasattr(self, "_log_choice"):  # not RunChart.__init__'s default: the user's `l`
            self._log_choice = value

    def data_key(self, view: ChartView) -> tuple[object, ...]:
        return (*super().data_key(view), self.smooth, self.smooth_chosen)

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        return [("loss", "loss"), ("eval_loss", "eval")]

    def _smoothing(self, view: ChartView) -> bool:
        """Whether this frame smooths: the user's choice, else for a race of more than
        AUTO_SMOOTH_LANES noisy lanes (tasks trained on mini-batches)."""
        self.auto_smooth = False
        if self.smooth or self.smooth_chosen or not view.lanes:
            self.smoothed = self.smooth
        else:
            noisy = sum(lane.run.task.steps_per_epoch > 1 for lane in view.lanes)
            self.smoothed = self.auto_smooth = noisy > AUTO_SMOOTH_LANES
        return self.smoothed

    def picture(self, view: ChartView, picture: Picture) -> None:
        picture.log_y = self._log_shown = bool(self._log_choice)
        self.auto_log = False
        smooth = self._smoothing(view)
        run = view.run
        history = run.history
        n = 2 * self.columns()
        train = history.downsample("loss", n)
        evals = history.downsample("eval_loss", self.columns())
        step = len(history)
        color = self.color("train")
        if len(train.steps):
            if smooth:
                picture.band(train.steps, train.mins, train.maxs, color, style="dim")
                picture.path(train.steps, ema(train.lasts), color, "train (smoothed)",
                             style="bold")  # fmt: skip
            else:
                picture.band(train.steps, train.mins, train.maxs, color, "train")
        if len(evals.steps) and step:
            picture.marks(evals.steps, evals.lasts, EVAL_MARK, self.color("eval"), "eval")
        parts = [f"loss {value_label(history.last('loss'))}" if step else "loss"]
        diverged_at = run.diverged_at
        if diverged_at is not None:
            parts.append(f"diverged at {diverged_at}")
            picture.vlines.append((diverged_at, self.color("eval")))
        eval_loss = history.last("eval_loss")
        if eval_loss is not None:
            parts.append(f"eval {value_label(eval_loss)}")
        accuracy = history.last("eval_accuracy")
        if accuracy is not None:
            parts.append(f"acc {accuracy:.1%}")
        if smooth:
            parts.append("smoothed")
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, max(step, diverged_at or 0, 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's training loss in its colour and line style, its number at its end;
        divergences marked."""
        smooth = self._smoothing(view)
        n = 2 * self.columns()
        end = 1
        trains = [lane.run.history.downsample("loss", n) for lane in view.lanes]
        span = lanes_span(trains)
        self.auto_log = self._log_choice is None and span > AUTO_LOG_SPAN
        picture.log_y = self._log_shown = bool(self._log_choice) or self.auto_log
        for i, (lane, train) in enumerate(zip(view.lanes, trains, strict=True)):
            run, color = lane.run, self.lane_color(i)
            if len(train.steps):
                lows, highs = train.mins, train.maxs
                if smooth:
                    lows = highs = ema(train.lasts)
                picture.band(train.steps, lows, highs, color, pattern=i)
                picture.marks(train.steps[-1:], train.lasts[-1:], str(i + 1), color)
            if run.diverged_at is not None:
                picture.vlines.append((run.diverged_at, color))
            end = max(end, len(run.history), run.diverged_at or 0)
        step = max(len(lane.run.history) for lane in view.lanes)
        # No single run's loss here: the legend names the curves, the status line the leader.
        parts = ["loss", f"{len(view.lanes)} runs", f"step {step_label(step)}"]
        if self.auto_log:
            parts.append(f"log: lanes span {math.log10(span):.0f} decades")
        elif picture.log_y:
            parts.append("log")
        if self.auto_smooth:
            parts.append("smoothed: noisy lanes (S)")
        elif smooth:
            parts.append("smoothed")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, end)


def lanes_span(series: list[Any]) -> float:
    """max / min of the lanes' plotted losses (1.0 when a value is not positive: such a
    chart cannot go to log by itself)."""
    lows, highs = [], []
    for s in series:
        lo, hi = s.mins[np.isfinite(s.mins)], s.maxs[np.isfinite(s.maxs)]
        if lo.size and hi.size:
            lows.append(float(lo.min()))
            highs.append(float(hi.max()))
    if not lows or min(lows) <= 0:
        return 1.0
    return max(highs) / min(lows)
