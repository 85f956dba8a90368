"""A lesson's verdict over many seeds: the statistics, as pure functions of the per-seed scores.

Each seed gives one score (the number a lesson judges: a ratio subject / baseline, or the
subject's value). The verdict reads three things from the scores:

- the median and a 90% interval for it: the 5th and 95th percentiles of the medians of
  `RESAMPLES` bootstrap resamples of the seeds, drawn with a fixed seed (`BOOTSTRAP_SEED`),
  so the same scores always give the same interval;
- the tie band: scores inside it are "no difference" (default ±5% around 1 for a ratio,
  ±5% around the threshold for a value);
- the threshold: the claim holds for a score that passes it (`at_most 0.5`, ...).

Outcomes: "holds" when the whole interval passes the threshold, lies outside the tie band and
at least `AGREE` of the seeds hold on their own; "fails" (does not hold) when the whole
interval fails the threshold, lies outside the tie band and at least `AGREE` of the seeds
fail; "undecided" otherwise: the interval touches the tie band, straddles the threshold, or
the seeds disagree. A seed with no score (nothing to compare) counts for neither side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples and the fixed seed they are drawn with.
RESAMPLES = 2000
BOOTSTRAP_SEED = 20_261_207
#: The interval's coverage.
LEVEL = 0.90
#: The share of seeds that must agree with the interval for a verdict other than undecided.
AGREE = 0.75
#: Default half-width of the tie band, relative (a ratio within ±5% of 1 is a tie).
TIE = 0.05
#: Threshold operators and how a score passes them.
OPS = ("at_most", "at_least", "below", "above")


def passes(score: float, op: str, threshold: float) -> bool:
    """Does `score` pass `op threshold` ("at_most" 0.5: score <= 0.5)?"""
    if op == "at_most":
        return score <= threshold
    if op == "at_least":
        return score >= threshold
    if op == "below":
        return score < threshold
    if op == "above":
        return score > threshold
    raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")


def default_tie_band(compare: str, threshold: float) -> tuple[float, float]:
    """±5% around 1 for a ratio (symmetric under swapping the lanes: [1/1.05, 1.05]);
    ±5% around the threshold for a value."""
    centre = 1.0 if compare == "ratio" else threshold
    lo, hi = centre / (1 + TIE), centre * (1 + TIE)
    return (min(lo, hi), max(lo, hi))


def median_interval(
    scores: Sequence[float], resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, tuple[float, float]]:
    """(median, (lo, hi)): the median of `scores` and its bootstrap interval at LEVEL.

    Scores may be infinite (a target never reached); percentiles are taken without
    interpolation so an infinite end stays infinite instead of becoming NaN."""
    values = np.asarray(scores, dtype=float)
    if values.size == 0 or np.isnan(values).any():
        raise ValueError("median_interval needs one or more scores, none NaN")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    medians = _medians(values[picks])
    tail = (1 - LEVEL) / 2
    lo = float(np.quantile(medians, tail, method="inverted_cdf"))
    hi = float(np.quantile(medians, 1 - tail, method="inverted_cdf"))
    return _median(values), (lo, hi)


def _median(values: np.ndarray) -> float:
    return float(_medians(values[None, :])[0])


def _medians(rows: np.ndarray) -> np.ndarray:
    """Row medians that stay finite-or-infinite: the mean of the two middle values, except
    that two infinite middles of the same sign give that infinity (not NaN)."""
    ordered = np.sort(rows, axis=1)
    n = ordered.shape[1]
    a, b = ordered[:, (n - 1) // 2], ordered[:, n // 2]
    with np.errstate(invalid="ignore"):
        mid = np.where(a == b, a, a + (b - a) / 2)
    return mid


@dataclass(frozen=True)
class Judgement:
    """The verdict's statistics. `outcome` is "holds", "fails" or "undecided"; `per_seed` the
    outcome of each seed on its own ("holds", "fails", "tie" or "none"); `median` and
    `interval` None when no seed had a score; `reason` says why it is undecided ("" else)."""

    outcome: str
    per_seed: tuple[str, ...]
    held: int
    failed: int
    median: float | None
    interval: tuple[float, float] | None
    tie_band: tuple[float, float]
    reason: str = ""

    @property
    def seeds(self) -> int:
        return len(self.per_seed)


def seed_outcome(
    score: float | None, op: str, threshold: float, tie_band: tuple[float, float]
) -> str:
    """One seed's outcome: "none" (no score), "tie" (inside the band), "holds" or "fails"."""
    if score is None or math.isnan(score):
        return "none"
    if tie_band[0] <= score <= tie_band[1]:
        return "tie"
    return "holds" if passes(score, op, threshold) else "fails"


def judge(
    scores: Sequence[float | None],
    op: str,
    threshold: float,
    tie_band: tuple[float, float],
) -> Judgement:
    """The verdict of per-seed `scores` against `op threshold` and the tie band."""
    lo_band, hi_band = tie_band
    if not lo_band <= hi_band:
        raise ValueError(f"tie band must be [lo, hi] with lo <= hi, got {list(tie_band)}")
    per_seed = tuple(seed_outcome(s, op, threshold, tie_band) for s in scores)
    held, failed = per_seed.count("holds"), per_seed.count("fails")
    known = [float(s) for s in scores if s is not None and not math.isnan(s)]
    if not known:
        return Judgement("undecided", per_seed, held, failed, None, None, tie_band, "no scores")
    median, (lo, hi) = median_interval(known)
    agree = math.ceil(AGREE * len(scores))

    def verdict(outcome: str, reason: str = "") -> Judgement:
        return Judgement(outcome, per_seed, held, failed, median, (lo, hi), tie_band, reason)

    if lo <= hi_band and hi >= lo_band:
        return verdict("undecided", "the interval reaches into the tie band")
    lo_passes, hi_passes = passes(lo, op, threshold), passes(hi, op, threshold)
    if lo_passes != hi_passes:
        return verdict("undecided", "the interval straddles the threshold")
    if lo_passes:
        if held >= agree:
            return verdict("holds")
        return verdict("undecided", f"only {held} of {len(scores)} seeds hold")
    if failed >= agree:
        return verdict("fails")
    return verdict("undecided", f"{failed} of {len(scores)} seeds fail, {held} hold")
