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

from tui.charts.axes import step_text, value_label
from tui.charts.base import ChartView, Picture, RunChart
from tui.charts.measured import draw as draw_measured
from tui.charts.theory import PREDICT_HORIZON, config_theory, run_theory

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
    #: Split the predicted error into its eigen-directions (the app's `y`; exact theory only).
    components = False

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
        return (*super().data_key(view), self.smooth, self.smooth_chosen, self.components)

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
        if self.components and predicted_run(view.run) is not None:
            self._components(view, picture)
            return
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
        parts[1:1] = self._predicted(view, picture, train)  # after the loss: kept when narrow
        measured = draw_measured(self, view, "loss", picture)
        if measured:
            parts.insert(1, measured)
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, max(step, diverged_at or 0, 1))

    # -- the exact theory beside the run (engine/theory.py) --------------------------------

    def _predicted(self, view: ChartView, picture: Picture, train: Any) -> list[str]:
        """The predicted loss to the current step, dashed, when the theory is exact; the
        title says whether the run still follows it (a setting changed mid-run does not)."""
        prediction = predicted_run(view.run)
        step = len(view.run.history)
        if prediction is None or not step:
            return []
        ys = prediction.loss[: min(step, len(prediction.loss))]
        xs = np.arange(1, len(ys) + 1)  # step s records the loss after s − 1 updates
        color = self.color("schedule")
        picture.path(xs, ys, color, "predicted (exact theory)", pattern=1, glyph="╍")
        dtype = view.run.config.dtype
        off = first_departure(prediction.loss, train.steps, train.lasts, dtype)
        if off is not None:  # the bucket that departs: look at its steps one by one
            earlier = train.steps[train.steps < off]
            start = int(earlier[-1]) + 1 if earlier.size else 1
            fine = view.run.history.downsample("loss", off - start + 1, start=start, end=off)
            off = first_departure(prediction.loss, fine.steps, fine.lasts, dtype) or off
        if off is None:
            return ["theory: exact"]
        return [f"theory: off from step {step_text(off)} (settings changed?)"]

    def _components(self, view: ChartView, picture: Picture) -> None:
        """Distill's milestones: the predicted loss above the minimum, ½λᵢeᵢ², per
        eigen-direction, beside the observed loss above the minimum."""
        run = view.run
        prediction = predicted_run(run)
        assert prediction is not None
        step = len(run.history)
        shown = max(step, 1)
        n = min(shown, len(prediction.loss))
        xs = np.arange(1, n + 1)
        eig = prediction.eigenvalues
        parts = eigen_components(prediction, n)
        floor = 1e-12 * max(float(np.nanmax(parts[0])) if parts.size else 1.0, 1e-300)
        order = _directions_shown(eig)
        for rank, i in enumerate(order):
            ys = np.where(parts[:, i] > floor, parts[:, i], np.nan)
            picture.path(xs, ys, self.lane_color(rank + 1), f"λ {value_label(float(eig[i]))}",
                         pattern=rank + 1)  # fmt: skip
        theory = run_theory(run)
        minimum = theory.quadratic.min_loss if theory and theory.quadratic else 0.0
        train = run.history.downsample("loss", 2 * self.columns())
        if len(train.steps):
            above = np.maximum(train.lasts - minimum, 0.0)
            picture.path(train.steps, np.where(above > floor, above, np.nan), self.color("train"),
                         "observed", style="bold")  # fmt: skip
        title = ["loss − f* by eigen-direction: ½λe²", f"κ {value_label(theory.condition)}"]
        if len(order) < eig.size:
            title.append(f"{len(order)} of {eig.size} directions")
        if picture.log_y:
            title.append("log")
        title.append("y: total")
        picture.title = title
        picture.x_range = (0, shown)

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
        parts = ["loss", f"{len(view.lanes)} runs", f"step {step_text(step)}"]
        measured = draw_measured(self, view, "loss", picture)
        if measured:
            parts.insert(1, measured)
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


#: The eigen-directions drawn at most (the flattest, the steepest, and between them).
MAX_COMPONENTS = 5


def predicted_run(run: Any) -> Any:
    """engine.theory's exact prediction of a run of `run`'s settings from step 0 (to
    tui.charts.theory.PREDICT_HORIZON steps), None where the theory does not predict it."""
    quadratic = getattr(run.task, "quadratic_loss", None)
    if quadratic is None or quadratic() is None:
        return None
    steps = min(max(len(run.history), 1), PREDICT_HORIZON)
    # Predicted in blocks of 500 steps, so a growing run asks anew every 500 steps only.
    steps = min(PREDICT_HORIZON, -(-steps // 500) * 500)
    return config_theory(run.config, steps).prediction


def eigen_components(prediction: Any, n: int) -> np.ndarray:
    """½λᵢeᵢ² of the first n predicted losses: [k, i] the part of loss − f* after k updates
    that lies along eigen-direction i (the parts sum to the predicted loss − f*)."""
    errors = prediction.errors[:n]
    return 0.5 * errors * errors * prediction.eigenvalues[None, :]


def first_departure(
    predicted: np.ndarray, steps: np.ndarray, observed: np.ndarray, dtype: str
) -> int | None:
    """The first recorded step whose loss is not the predicted one (relative 1e-6 in float64,
    1e-3 in float32), None when every recorded step within the prediction agrees."""
    steps = np.asarray(steps, np.int64)
    keep = (steps >= 1) & (steps <= len(predicted))
    steps, observed = steps[keep], np.asarray(observed, np.float64)[keep]
    want = predicted[steps - 1]
    tol = 1e-6 if dtype == "float64" else 1e-3
    with np.errstate(invalid="ignore", over="ignore"):
        off = ~(np.abs(observed - want) <= tol * np.maximum(np.abs(want), 1e-300))
    both_inf = ~np.isfinite(observed) & ~np.isfinite(want)
    off &= ~both_inf
    hits = np.flatnonzero(off)
    return int(steps[hits[0]]) if hits.size else None


def _directions_shown(eigenvalues: np.ndarray) -> list[int]:
    """Indices of the directions drawn, steepest first: all when few, else spread."""
    n = eigenvalues.size
    if n <= MAX_COMPONENTS:
        return list(range(n - 1, -1, -1))
    picks = np.unique(np.round(np.linspace(0, n - 1, MAX_COMPONENTS)).astype(int))
    return [int(i) for i in picks[::-1]]


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
