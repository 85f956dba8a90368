"""What a lesson measures on a finished run, and the words that report it.

A `Metric` turns one lane's `Run` into one number, read from the run's history (or its final
parameters): `value(run)`. `phrase(value, run)` says it in words for the verdict ("reached
loss 0.001 at step 98"), `label` names it in tables ("steps to loss 0.001"), and `better`
says which direction is an improvement ("lower", except for accuracy).

Kinds (`kind` in a lesson file's `[measure]` / `[[also]]` tables; `series` is one of SERIES):

- `steps_to`: the first step whose `series` value is <= `target` (None: never reached).
- `final`: the newest value of `series` (eval series: the newest evaluation).
- `best`: the lowest value of `series`.
- `max`: the highest value of `series` over steps `start`..`stop` (inclusive; default the run).
- `mean`: the mean of `series` over steps `start`..`stop`: where a noisy run settles (the size
  of its noise ball), less at the mercy of one step than `final`.
- `rise`: how far `series` climbs above its lowest value so far, over `start`..`stop`:
  max over t of s_t / min(s_u, u <= t); 1 means it never rose. Values below `floor` count as
  `floor`, so round-off at the bottom of a converged run is not read as growth.
- `param_norm`: the Euclidean norm of the final parameters (all of them, or `key` only).
- `state_bytes`: the bytes of optimizer state the run keeps at its end (`Run.state_bytes`:
  every state array of the optimizer, measured, not computed from a formula).

`sharpness` (λ_max, the top eigenvalue of the loss Hessian) and `sharpness_lr` (λ_max × lr/2,
1 at gradient descent's stability limit 2/lr) are read from the run's sharpness measurements;
a lesson that measures them has its lanes measure the sharpness every 10 steps.

`effective_lr` is read from the optimizer's state summaries (engine.state_history), not the
history: per step, the largest effective learning rate over the parameter groups. A lesson
that measures it records its lanes' state every 10 steps (engine/lessons/lesson.py); an
optimizer that declares no effective rate measures nothing (None).

Values are exact while the history is at full resolution (`Run(..., history_capacity=None)`,
or runs shorter than the history's capacity). A diverged run is measured up to its last
finite step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.outcome import first_step_at_most

#: Series a metric may read, and how the verdict text names them.
SERIES = {
    "loss": "training loss",
    "eval_loss": "held-out loss",
    "eval_accuracy": "held-out accuracy",
    "lr": "learning rate",
    "grad_norm": "gradient norm",
    "update_norm": "update norm",
    "update_grad_ratio": "update-to-gradient ratio",
    "effective_lr": "effective learning rate",
    "sharpness": "sharpness λ_max",
    "sharpness_lr": "sharpness × lr/2",
}
#: Series read from the optimizer's state summaries (engine.state_history; the run must record
#: them: `state_every = 1` in the experiment): the largest value over the parameters.
STATE_SERIES = ("effective_lr",)
#: Series read from the run's sharpness measurements (engine/theory.py; a lesson that measures
#: them records them every 10 steps, engine/lessons/lesson.py): λ_max itself, and λ_max × lr/2,
#: the sharpness as a share of gradient descent's stability limit 2/lr (1: at the edge).
SHARPNESS_SERIES = ("sharpness", "sharpness_lr")
#: Metric kinds and the parameters each takes (besides `kind`).
KINDS = {
    "steps_to": ("series", "target"),
    "final": ("series",),
    "best": ("series",),
    "max": ("series", "start", "stop"),
    "mean": ("series", "start", "stop"),
    "rise": ("series", "start", "stop", "floor"),
    "param_norm": ("key",),
    "state_bytes": (),
}
#: Parameters every kind must be given.
REQUIRED = {"steps_to": ("target",)}
#: Series that only exist at evaluation steps.
EVAL_SERIES = ("eval_loss", "eval_accuracy")


def number(x: float | None) -> str:
    """A measured number for prose: 4 significant digits, integers with thousands commas."""
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:.4g}"


@dataclass(frozen=True)
class Metric:
    """One declared measurement: `kind` (see KINDS) and its parameters."""

    kind: str
    series: str = "loss"
    target: float | None = None
    start: int | None = None
    stop: int | None = None
    floor: float = 1e-12
    key: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.series not in SERIES:
            raise ValueError(f"series must be one of {', '.join(SERIES)}, got {self.series!r}")
        if self.kind == "steps_to" and self.target is None:
            raise ValueError("kind steps_to needs a target")
        if self.start is not None and self.stop is not None and self.start > self.stop:
            raise ValueError(f"start ({self.start}) must be at most stop ({self.stop})")

    # -- description -------------------------------------------------------------------------

    @property
    def series_label(self) -> str:
        return SERIES[self.series]

    @property
    def better(self) -> str:
        """ "lower" or "higher": which direction of the value is an improvement."""
        if self.kind in ("final", "best", "max") and self.series == "eval_accuracy":
            return "higher"
        return "lower"

    def _range(self) -> str:
        if self.start is None and self.stop is None:
            return ""
        lo = 1 if self.start is None else self.start
        return f" in steps {lo:,}–{self.stop:,}" if self.stop is not None else f" from step {lo:,}"

    @property
    def label(self) -> str:
        """A short name of the measurement ("steps to loss 0.001")."""
        what = self.series_label
        if self.kind == "steps_to":
            short = "loss" if self.series == "loss" else what
            return f"steps to {short} {number(self.target)}"
        if self.kind == "final":
            return f"final {what}"
        if self.kind == "best":
            return f"best {what}"
        if self.kind == "max":
            return f"highest {what}{self._range()}"
        if self.kind == "mean":
            return f"mean {what}{self._range()}"
        if self.kind == "rise":
            return f"rise of the {what}{self._range()}"
        if self.kind == "state_bytes":
            return "bytes of optimizer state"
        return "norm of the final weights" + (f" {self.key}" if self.key else "")

    # -- measuring ---------------------------------------------------------------------------

    def _stored(self, run: Any) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the series as stored (exact at full resolution)."""
        if self.series in STATE_SERIES:
            return _state_series(run, self.series)
        if self.series == "sharpness_lr":
            return _sharpness_over_limit(run)
        b = run.history.buckets(self.series)
        if self.kind in ("final", "rise", "mean"):
            return b.steps, b.lasts
        if self.kind == "max" or (self.kind == "best" and self.better == "higher"):
            return b.steps, b.maxs
        return b.steps, b.mins  # steps_to, best (lower is better)

    def _window(self, steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.ones(len(steps), bool)
        if self.start is not None:
            keep &= steps >= self.start
        if self.stop is not None:
            keep &= steps <= self.stop
        if self.series in EVAL_SERIES:
            keep &= steps > 0  # the step-0 evaluation is the start, not a result
        return steps[keep], values[keep]

    def value(self, run: Any) -> float | None:
        """The measured number on `run` (None when there is nothing to measure: a target never
        reached, a series with no value in the window)."""
        if self.kind == "state_bytes":
            return int(run.state_bytes)
        if self.kind == "param_norm":
            arrays = run.params.values() if self.key is None else [run.params[self.key]]
            total = sum(float(np.vdot(a, a)) for a in arrays)
            return math.sqrt(total)
        if self.kind == "steps_to":
            start = max(self.start or 1, 1) if self.series in EVAL_SERIES else self.start
            return first_step_at_most(run.history, self.series, self.target, start, self.stop)
        _, values = self._window(*self._stored(run))
        values = values[~np.isnan(values)]
        if not len(values):
            return None
        if self.kind == "final":
            return float(values[-1])
        if self.kind == "best":
            return float(values.max() if self.better == "higher" else values.min())
        if self.kind == "max":
            return float(values.max())
        if self.kind == "mean":
            return float(values.mean())
        clipped = np.maximum(values, self.floor)  # rise
        return float((clipped / np.minimum.accumulate(clipped)).max())

    def phrase(self, value: float | None, run: Any) -> str:
        """The measurement in words, after a lane's name ("reached loss 0.001 at step 98")."""
        what = self.series_label
        if self.kind == "state_bytes":
            return f"keeps {number(value)} bytes of optimizer state"
        if self.kind == "steps_to":
            short = "loss" if self.series == "loss" else what
            if value is None:
                return f"did not reach {short} {number(self.target)} in {run.steps_done:,} steps"
            return f"reached {short} {number(self.target)} at step {value:,}"
        if value is None:
            return f"has no {what} to measure{self._range()}"
        shown = f"{100 * value:.1f}%" if self.series == "eval_accuracy" else number(value)
        if self.kind == "final":
            step = run.history.last_step(self.series)
            at = f" (step {step:,})" if step is not None and step != run.steps_done else ""
            return f"ended at {what} {shown}{at}"
        if self.kind == "best":
            return f"had a best {what} of {shown}"
        if self.kind == "max":
            return f"had a highest {what} of {shown}{self._range()}"
        if self.kind == "mean":
            return f"had a mean {what} of {shown}{self._range()}"
        if self.kind == "rise":
            return f"rose to {number(value)}× its lowest {what} so far{self._range()}"
        return f"ended with weights{' ' + self.key if self.key else ''} of norm {shown}"

    def text(self, value: float | None) -> str:
        """The bare value as a table cell ("98", "never", "0.0609")."""
        if value is None:
            return "never" if self.kind == "steps_to" else "-"
        if self.series == "eval_accuracy" and self.kind != "steps_to":
            return f"{100 * value:.1f}%"
        if self.kind == "rise":
            return f"{number(value)}×"
        return number(value)


def _state_series(run: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a state summary: per recorded step, the largest value over every
    parameter group (the coordinate with the largest effective rate); empty when the run
    recorded no summaries or its optimizer declares no such summary."""
    summaries = run.state_summaries
    empty = (np.zeros(0, np.int64), np.zeros(0))
    if summaries is None or key not in {q.key for q in summaries.summaries}:
        return empty
    bands = [summaries.band(group, key) for group in summaries.groups]
    if not bands or not len(bands[0].steps):
        return empty
    return bands[0].steps, np.max([band.max for band in bands], axis=0)


def _sharpness_over_limit(run: Any) -> tuple[np.ndarray, np.ndarray]:
    """(steps, λ_max × lr/2) at the steps where the run measured its sharpness, each with the
    learning rate of that step (a schedule's value): 1 is gradient descent's stability limit."""
    sharp = run.history.buckets("sharpness")
    lr = run.history.buckets("lr")
    if not len(sharp.steps) or not len(lr.steps):
        return np.zeros(0, np.int64), np.zeros(0)
    at = np.clip(np.searchsorted(lr.steps, sharp.steps), 0, len(lr.steps) - 1)
    return sharp.steps, sharp.lasts * lr.lasts[at] / 2
