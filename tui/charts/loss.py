"""The Loss chart: training loss per step and the evaluation loss, or every lane's loss."""

from __future__ import annotations

from tui.charts.axes import step_label, value_label
from tui.charts.base import ChartView, Picture, RunChart


class LossChart(RunChart):
    """Training loss as a min/max band per bucket, eval loss as a line, divergence marked."""

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history = run.history
        n = 2 * self.columns()
        train = history.downsample("loss", n)
        evals = history.downsample("eval_loss", n)
        step = len(history)
        if len(train.steps):
            picture.band(train.steps, train.mins, train.maxs, self.color("train"), "train")
            if len(evals.steps):
                picture.band(evals.steps, evals.lasts, evals.lasts, self.color("eval"), "eval")
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
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, max(step, diverged_at or 0, 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's training loss (min/max band) in its colour; divergences marked."""
        n = 2 * self.columns()
        end = 1
        for i, lane in enumerate(view.lanes):
            run, color = lane.run, self.lane_color(i)
            train = run.history.downsample("loss", n)
            if len(train.steps):
                picture.band(train.steps, train.mins, train.maxs, color)
            if run.diverged_at is not None:
                picture.vlines.append((run.diverged_at, color))
            end = max(end, len(run.history), run.diverged_at or 0)
        step = max(len(lane.run.history) for lane in view.lanes)
        # No single run's loss here: the legend names the curves, the status line the leader.
        parts = ["loss", f"{len(view.lanes)} runs", f"step {step_label(step)}"]
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, end)
