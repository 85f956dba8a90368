"""The Loss chart: training loss per step and the evaluation loss, or every lane's loss.

The training loss ("loss" series: each update's mini-batch loss) is a min/max band per bucket;
with smoothing on (`s`), an exponential moving average of it is drawn bold over the dimmed raw
band, debiased as TensorBoard does. The evaluation loss ("eval_loss": held-out data, or the
whole objective) is sparse, so it is drawn as markers at the steps it was measured, never as a
line through the gaps, and the training band stays visible under it.
"""

from __future__ import annotations

import numpy as np

from tui.charts.axes import step_text, value_label
from tui.charts.base import ChartView, Picture, RunChart

#: EMA weight of the smoothed training loss (TensorBoard's default).
SMOOTHING = 0.6
#: The glyph of an evaluation.
EVAL_MARK = "◆"


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

    #: Smooth the training loss (the app's `s`).
    smooth = False

    def data_key(self, view: ChartView) -> tuple[object, ...]:
        return (*super().data_key(view), self.smooth)

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history = run.history
        n = 2 * self.columns()
        train = history.downsample("loss", n)
        evals = history.downsample("eval_loss", self.columns())
        step = len(history)
        color = self.color("train")
        if len(train.steps):
            if self.smooth:
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
        if self.smooth:
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
        n = 2 * self.columns()
        end = 1
        for i, lane in enumerate(view.lanes):
            run, color = lane.run, self.lane_color(i)
            train = run.history.downsample("loss", n)
            if len(train.steps):
                lows, highs = train.mins, train.maxs
                if self.smooth:
                    lows = highs = ema(train.lasts)
                picture.band(train.steps, lows, highs, color, pattern=i)
                picture.marks(train.steps[-1:], train.lasts[-1:], str(i + 1), color)
            if run.diverged_at is not None:
                picture.vlines.append((run.diverged_at, color))
            end = max(end, len(run.history), run.diverged_at or 0)
        step = max(len(lane.run.history) for lane in view.lanes)
        # No single run's loss here: the legend names the curves, the status line the leader.
        parts = ["loss", f"{len(view.lanes)} runs", f"step {step_text(step)}"]
        if self.smooth:
            parts.append("smoothed")
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, end)
