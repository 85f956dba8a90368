"""The statistics of a multi-seed verdict (engine.lessons.stats): median, bootstrap interval,
tie band and the three outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.lessons import stats

BAND = stats.default_tie_band("ratio", 0.5)


def test_the_default_tie_band_is_5_percent_and_symmetric_under_swapping():
    assert BAND == pytest.approx((1 / 1.05, 1.05))
    assert stats.default_tie_band("value", 2.0) == pytest.approx((2 / 1.05, 2.1))


def test_self_comparison_is_undecided():
    j = stats.judge([1.0] * 8, "at_most", 0.5, BAND)
    assert j.outcome == "undecided" and j.per_seed == ("tie",) * 8
    assert j.median == 1.0 and j.interval == (1.0, 1.0)


def test_a_clear_effect_holds_and_swapped_lanes_do_not():
    ratios = [0.21, 0.22, 0.2, 0.23, 0.22, 0.21, 0.24, 0.2]
    j = stats.judge(ratios, "at_most", 0.5, BAND)
    assert (j.outcome, j.held) == ("holds", 8)
    assert j.median == pytest.approx(0.215) and j.interval[0] <= 0.215 <= j.interval[1]
    swapped = stats.judge([1 / r for r in ratios], "at_most", 0.5, BAND)
    assert (swapped.outcome, swapped.failed) == ("fails", 8)
    assert swapped.median == pytest.approx(1 / np.median(ratios), rel=0.03)


def test_a_rate_times_1_001_is_undecided():
    j = stats.judge([1.001, 1.0012, 0.9995, 1.0, 1.002, 1.001, 0.999, 1.0008], "below", 1, BAND)
    assert j.outcome == "undecided" and "tie band" in j.reason


def test_seed_luck_is_undecided():
    rng = np.random.default_rng(0)
    luck = list(np.exp(rng.normal(0.0, 0.3, size=8)))  # median ~1, spread ±30%
    j = stats.judge(luck, "below", 1.0, (1.0, 1.0))
    assert j.outcome == "undecided"
    assert 0 < j.held < 8


def test_seeds_that_disagree_make_it_undecided_even_with_a_clear_interval():
    scores = [0.2, 0.2, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9]  # 5 of 8 hold: under 3/4
    j = stats.judge(scores, "at_most", 0.5, BAND)
    assert j.outcome == "undecided" and (j.held, j.failed) == (5, 3)


def test_an_interval_across_the_threshold_is_undecided():
    scores = [0.4, 0.45, 0.5, 0.55, 0.6, 0.42, 0.58, 0.5]
    assert stats.judge(scores, "at_most", 0.5, BAND).reason == (
        "the interval straddles the threshold"
    )


def test_infinite_scores_and_missing_ones():
    j = stats.judge([math.inf] * 6 + [None, None], "at_most", 0.5, BAND)
    assert j.outcome == "fails" and j.median == math.inf and j.interval == (math.inf, math.inf)
    assert j.per_seed[-2:] == ("none", "none")
    assert stats.judge([None] * 4, "at_most", 0.5, BAND).outcome == "undecided"


def test_the_interval_is_reproducible():
    scores = [0.3, 0.5, 0.2, 0.4, 0.35, 0.25]
    assert stats.median_interval(scores) == stats.median_interval(list(scores))
    with pytest.raises(ValueError, match="none NaN"):
        stats.median_interval([1.0, math.nan])
