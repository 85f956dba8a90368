"""What a run achieved: the one definition races, bench, sweeps, lessons and the app's tables
read.

    from engine.outcome import evaluate_at_end, outcome_of

    evaluate_at_end(run)            # a finished headless run: its last step gets an evaluation
    o = outcome_of(run)             # an Outcome: plain numbers, small, picklable
    o.final_eval_loss, o.best_eval_loss, o.steps_to(0.1), o.diverged_at, o.seconds_per_step

The numbers, each named by the series it comes from (see "Loss series" in the README):

- Eval numbers come from the "eval_loss" series: the loss on held-out data where the task has
  them, the whole objective otherwise, measured at step 0 and every `eval_every` steps.
  `final_eval_loss` is the newest evaluation after step 0 (None when the run diverged or
  never evaluated after step 0); `best_eval_loss` the lowest evaluation after step 0 (the
  first step of equal minima).
- The evaluate-at-the-end rule: a headless run (bench, sweep, lesson seeds, a race run
  headless) that stops between two evaluations is evaluated once more at its last step
  (`evaluate_at_end`), so its final loss is the loss of the parameters it ends with. A live
  run in the app is read as it is (its newest evaluation, with its step).
- Steps to a target (`steps_to`): the first evaluation (step 0 included: the evaluation before
  training) whose eval loss is <= the target, None if none. It is read from the history's
  record of new lows (`History.eval_descents`), kept at full resolution however far the eval
  series has been downsampled, so it is exact for every run. It is a multiple of eval_every
  (or the last step, for the evaluation at the end).
- `diverged_at`: the step whose update diverged (None if the run did not); `seconds_per_step`:
  wall time per update, evaluation excluded (`Run.seconds_per_step`).
- Batch-loss counterparts, labelled as such: `batch_loss` (the last update's mini-batch
  loss), `best_batch_loss` and its step, and `first_step_at_most` on any series (the lessons'
  "steps to training loss 1e-3"): exact while that series is at full resolution, then at
  most one bucket late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The series on which races, bench, sweeps and lessons measure steps to a target loss.
TARGET_SERIES = "eval_loss"


@dataclass(frozen=True)
class Outcome:
    """What one run achieved (see the module docstring)."""

    steps: int  # updates done (fewer than asked when it diverged)
    initial_eval_loss: float | None  # the evaluation at step 0
    eval_loss: float | None  # the newest evaluation after step 0 (diverged runs too)
    eval_step: int | None  # its step
    eval_accuracy: float | None  # accuracy of that evaluation (classifiers)
    best_eval_loss: float | None  # the lowest evaluation after step 0
    best_eval_step: int | None
    diverged_at: int | None
    seconds_per_step: float | None  # wall time per update, evaluation excluded
    batch_loss: float | None  # the last update's mini-batch loss ("loss" series)
    best_batch_loss: float | None  # the lowest mini-batch loss
    best_batch_step: int | None  # its step (the end of its bucket once "loss" has folded)
    descent_steps: tuple[int, ...] = ()  # evaluations that set a new low, step 0 first
    descent_losses: tuple[float, ...] = ()

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final_eval_loss(self) -> float | None:
        """The run's final loss: its newest evaluation after step 0; None if it diverged."""
        return None if self.diverged else self.eval_loss

    @property
    def final_eval_accuracy(self) -> float | None:
        return None if self.diverged else self.eval_accuracy

    def steps_to(self, target: float | None) -> int | None:
        """The first evaluation step whose eval loss is <= `target` (None: never, or no
        target)."""
        if target is None:
            return None
        return _first_at_most(self.descent_steps, self.descent_losses, float(target))


def _first_at_most(steps: Any, losses: Any, target: float) -> int | None:
    hits = np.flatnonzero(np.asarray(losses, np.float64) <= target)
    return int(steps[hits[0]]) if len(hits) else None


def evaluate_at_end(run: Any) -> None:
    """The evaluate-at-the-end rule: a run that did not diverge and whose last step was not an
    evaluation is evaluated now (recorded in its history as an evaluation at that step)."""
    if run.diverged_at is None and run.history.last_step(TARGET_SERIES) != run.steps_done:
        run.evaluate()


def outcome_of(run: Any) -> Outcome:
    """The outcome of `run` (an `engine.run.Run`) as its history stands now."""
    h = run.history
    best_batch = best_batch_step = None
    if len(h):
        b = h.buckets("loss")
        if b.mins.size and not np.all(np.isnan(b.mins)):
            i = int(np.nanargmin(b.mins))  # the first bucket holding the minimum
            best_batch, best_batch_step = float(b.mins[i]), int(b.steps[i])
    steps, losses = h.eval_descents()
    eval_step = h.last_step(TARGET_SERIES)
    eval_loss = accuracy = None
    if eval_step:  # the step-0 evaluation alone is not an outcome of training
        eval_loss = h.last(TARGET_SERIES)
        if h.last_step("eval_accuracy") == eval_step:
            accuracy = h.last("eval_accuracy")
    else:
        eval_step = None
    best = h.best_eval()
    initial = float(losses[0]) if len(steps) and steps[0] == 0 else _initial(h)
    return Outcome(
        steps=run.steps_done,
        initial_eval_loss=initial,
        eval_loss=None if eval_loss is None else float(eval_loss),
        eval_step=eval_step,
        eval_accuracy=None if accuracy is None else float(accuracy),
        best_eval_loss=None if best is None else float(best[0]),
        best_eval_step=None if best is None else int(best[1]),
        diverged_at=run.diverged_at,
        seconds_per_step=run.seconds_per_step,
        batch_loss=h.last("loss"),
        best_batch_loss=best_batch,
        best_batch_step=best_batch_step,
        descent_steps=tuple(int(s) for s in steps),
        descent_losses=tuple(float(x) for x in losses),
    )


def _initial(history: Any) -> float | None:
    """The step-0 evaluation when it set no record (NaN): read from the stored series."""
    ev = history.buckets(TARGET_SERIES)
    if ev.steps.size and ev.steps[0] == 0:
        return float(ev.lasts[0])
    return None


def first_step_at_most(
    history: Any,
    series: str,
    target: float,
    start: int | None = None,
    stop: int | None = None,
) -> int | None:
    """The first step in `start`..`stop` (inclusive; default: all) at which `series` is <=
    `target`, or None. On the eval loss it is exact however the history folded (read from
    `History.eval_descents` whenever the first hit lies in the window); on other series it
    is exact while the series is at full resolution, then the end of the first bucket that
    qualified (at most one bucket width late)."""
    if series == TARGET_SERIES:
        steps, losses = history.eval_descents()
        step = _first_at_most(steps, losses, target)
        if step is None or (stop is not None and step > stop):
            return None  # nothing earlier reached it, so nothing in the window did
        if start is None or step >= start:
            return step
    b = history.buckets(series)
    keep = np.ones(len(b.steps), bool)
    if start is not None:
        keep &= b.steps >= start
    if stop is not None:
        keep &= b.steps <= stop
    steps, mins = b.steps[keep], b.mins[keep]
    return _first_at_most(steps, mins, target)


@dataclass(frozen=True)
class OverSeeds:
    """Several runs of one setting (its seeds), summarised: a diverged run is counted, never
    averaged into the losses; steps to target over the runs that reached it."""

    runs: int
    diverged: int
    final_mean: float | None  # final eval loss over the runs that did not diverge
    final_std: float | None  # sample standard deviation (0 for one run)
    final_min: float | None
    final_max: float | None
    best_mean: float | None  # best eval loss, same runs
    accuracy_mean: float | None
    reached: int  # runs that reached the target
    steps_mean: float | None  # steps to target, over the runs that reached it
    steps_min: int | None
    steps_max: int | None
    seconds_per_step_mean: float | None


def _mean(values: list[Any]) -> float | None:
    return float(np.mean(values)) if values else None


def over_seeds(outcomes: Sequence[Outcome], target: float | None) -> OverSeeds:
    """The summary of `outcomes` (one setting's seeds) for `target` (see OverSeeds)."""
    ok = [o for o in outcomes if o.final_eval_loss is not None]
    finals = [o.final_eval_loss for o in ok]
    arr = np.array(finals, np.float64)
    hits = [s for s in (o.steps_to(target) for o in outcomes) if s is not None]
    return OverSeeds(
        runs=len(outcomes),
        diverged=len(outcomes) - len(ok),
        final_mean=float(arr.mean()) if finals else None,
        final_std=(float(arr.std(ddof=1)) if len(arr) > 1 else 0.0) if finals else None,
        final_min=float(arr.min()) if finals else None,
        final_max=float(arr.max()) if finals else None,
        best_mean=_mean([o.best_eval_loss for o in ok if o.best_eval_loss is not None]),
        accuracy_mean=_mean([o.eval_accuracy for o in ok if o.eval_accuracy is not None]),
        reached=len(hits),
        steps_mean=_mean(hits),
        steps_min=min(hits) if hits else None,
        steps_max=max(hits) if hits else None,
        seconds_per_step_mean=_mean(
            [o.seconds_per_step for o in outcomes if o.seconds_per_step is not None]
        ),
    )
