"""History: exact while short, bounded when long, spikes survive downsampling."""

import math

import numpy as np
import pytest

from engine.history import STEP_SERIES, History
from engine.outcome import first_step_at_most


def fill(h: History, values: np.ndarray, start: int = 1, fold_every: int | None = None) -> None:
    for i, v in enumerate(values.tolist()):
        step = start + i
        h.record(step, v, 0.1, 2 * v, 3 * v, 0.5)
        if fold_every and step % fold_every == 0:
            h.last("loss")  # a read folds pending rows: exercises chunked folding


def test_short_history_is_exact():
    h = History(capacity=64)
    values = np.linspace(1.0, 0.0, 50)
    fill(h, values)
    b = h.buckets("loss")
    assert np.array_equal(b.steps, np.arange(1, 51))
    assert np.array_equal(b.mins, values) and np.array_equal(b.maxs, values)
    assert np.array_equal(h.buckets("grad_norm").lasts, 2 * values)
    assert len(h) == 50 and h.width("loss") == 1
    assert h.last("loss") == values[-1] and h.last_step("loss") == 50


def test_long_history_is_bounded_and_keeps_min_max_last():
    h = History(capacity=32)
    rng = np.random.default_rng(1)
    values = rng.random(10_000)
    values[6_789] = 50.0  # one-step spike
    values[1_234] = -7.0  # one-step dip
    fill(h, values)
    b = h.buckets("loss")
    assert len(b.steps) <= 32
    assert h.width("loss") > 1 and h.count("loss") == 10_000
    assert b.maxs.max() == 50.0 and b.mins.min() == -7.0
    assert b.steps[-1] == 10_000 and b.lasts[-1] == values[-1]
    # Each bucket's min/max are those of the steps it covers.
    edges = np.concatenate(([0], b.steps))
    for lo, hi, mn, mx in zip(edges[:-1], edges[1:], b.mins, b.maxs, strict=True):
        chunk = values[lo:hi]  # steps lo+1..hi are values[lo:hi]
        assert mn == chunk.min() and mx == chunk.max()


def test_buckets_do_not_depend_on_chunking():
    values = np.random.default_rng(2).standard_normal(5_000)
    a, b, c = History(capacity=16), History(capacity=16), History(capacity=16)
    fill(a, values)
    fill(b, values, fold_every=1)
    fill(c, values, fold_every=37)
    for name in STEP_SERIES:
        for x, y, z in zip(a.buckets(name), b.buckets(name), c.buckets(name), strict=True):
            assert np.array_equal(x, y) and np.array_equal(x, z)


def test_downsample_keeps_spike_and_point_count():
    h = History()
    values = np.ones(100_000)
    values[77_777] = 1e6
    fill(h, values)
    d = h.downsample("loss", 80)
    assert len(d.steps) <= 80
    assert d.maxs.max() == 1e6 and d.mins.min() == 1.0
    assert d.steps[-1] == 100_000
    assert np.all(np.diff(d.steps) > 0)
    # A window: only buckets overlapping steps 50_000..60_000.
    w = h.downsample("loss", 10, start=50_000, end=60_000)
    assert 0 < len(w.steps) <= 10
    assert w.steps[0] >= 50_000 and w.steps[-1] <= 60_000 + h.width("loss")


def test_million_steps_memory_bound():
    h = History()
    values = np.random.default_rng(3).random(1_000_000)
    fill(h, values)
    for step in range(0, 1_000_001, 1000):
        h.record_eval(step, 0.5, 0.9)
    for step in range(0, 1_000_001):
        h.record_point(step, step * 1e-6, -step * 1e-6)
    d = h.downsample("loss", 200)
    assert len(d.steps) <= 200 and d.maxs.max() == values.max()
    assert h.nbytes < 20 * 2**20
    assert len(h) == 1_000_000


def test_full_resolution_is_exact_and_compact():
    h = History(capacity=None)
    n = 100_000
    values = np.random.default_rng(4).random(n)
    fill(h, values)
    for step in range(0, n + 1, 1000):
        h.record_eval(step, 0.5, 0.9 if step % 2000 else None)
    b = h.buckets("update_norm")
    assert np.array_equal(b.steps, np.arange(1, n + 1))
    assert np.array_equal(b.lasts, 3 * values) and np.array_equal(b.mins, b.maxs)
    assert h.count("eval_loss") == 101 and h.count("eval_accuracy") == 50
    assert first_step_at_most(h, "loss", values.min()) == int(np.argmin(values)) + 1
    # One shared step column + 8 bytes per series value, grown by doubling (<= 2x slack).
    assert h.nbytes < 2 * 48 * n


def test_nan_values_do_not_hide_finite_ones():
    h = History(capacity=4)
    for step in range(1, 101):
        h.record(step, 1.0, 0.1, 0.0, 0.0, math.nan if step % 2 else float(step))
    d = h.downsample("update_grad_ratio", 2)
    assert np.all(np.isfinite(d.maxs)) and d.maxs.max() == 100.0


def test_eval_series_are_sparse():
    h = History()
    h.record_eval(0, 2.3, 0.1)
    h.record_eval(100, 1.0, 0.7)
    h.record_eval(200, 0.5, None)  # e.g. a regression task: no accuracy
    assert h.count("eval_loss") == 3 and h.count("eval_accuracy") == 2
    assert np.array_equal(h.buckets("eval_loss").steps, [0, 100, 200])
    assert h.last("eval_accuracy") == 0.7 and h.last_step("eval_accuracy") == 100


def test_trajectory_bounded_with_exact_ends():
    h = History(capacity=16)
    for step in range(0, 1001):
        h.record_point(step, float(step), float(-step))
    t = h.trajectory()
    assert len(t.steps) <= 17
    assert t.steps[0] == 0 and t.xs[0] == 0.0
    assert t.steps[-1] == 1000 and t.xs[-1] == 1000.0 and t.ys[-1] == -1000.0
    assert np.array_equal(t.xs, t.steps.astype(float))
    short = h.trajectory(5)
    assert len(short.steps) <= 5 and short.steps[-1] == 1000


def test_errors_name_the_problem():
    h = History()
    with pytest.raises(ValueError, match="unknown series 'los'"):
        h.downsample("los", 10)
    with pytest.raises(ValueError, match="n_points must be"):
        h.downsample("loss", 0)
    assert h.last("loss") is None and len(h.downsample("loss", 10).steps) == 0


def test_clear_forgets_everything():
    h = History()
    fill(h, np.ones(10))
    h.clear()
    assert len(h) == 0 and h.last("loss") is None
