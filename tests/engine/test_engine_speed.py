"""The engine's fast paths compute the same numbers as the plain ones.

Adafactor's blocked two-pass step for large vectors against its whole-array step, the skipped
division by a bias correction that has reached 1 against always dividing, and the digits
network's np.dot calls against np.matmul where np.dot cannot write the output. Speed itself
is measured by tests/perf/bench_optimizers.py and tests/perf/bench_run.py, never here.
"""

from __future__ import annotations

import importlib
import math
import pkgutil

import numpy as np
import pytest

from engine import optimizers, tasks
from engine.optimizers import base
from engine.run import Run, RunConfig


def _patch_in_every_optimizer_module(patch, name: str, value) -> None:
    """Set `name` in every module of engine.optimizers that has it: each kernel module binds
    its own reference to a shared helper, so that is where the kernels look it up."""
    for info in pkgutil.iter_modules(optimizers.__path__):
        module = importlib.import_module(f"engine.optimizers.{info.name}")
        if hasattr(module, name):
            patch.setattr(module, name, value)


def _adafactor_run(dtype, knobs: dict, blocked: bool, monkeypatch, steps: int = 12):
    """(params after each step, scalars after each step) of Adafactor on one long vector."""
    with monkeypatch.context() as patch:
        if blocked:  # small blocks, so a 5003-element vector takes the two-pass path
            patch.setattr(base, "BLOCK_BYTES", 64 * np.dtype(dtype).itemsize)
            patch.setattr(base, "BLOCKED_MIN_BLOCKS", 2)
        else:
            patch.setattr(base, "BLOCKED_MIN_BLOCKS", 10**9)
        rng = np.random.default_rng(4)
        p = rng.normal(size=5003).astype(dtype)
        opt = optimizers.create("adafactor", **knobs)
        params, scalars = [], []
        for t in range(1, steps + 1):
            g = (np.sin(3.0 * p + t) + 0.3 * p).astype(dtype)
            opt.step({"w": p}, {"w": g}, lr=0.05 * (1 + 0.5 * math.sin(t)))
            params.append(p.copy())
            scalars.append(opt.scalars("w"))
            assert opt.state("w")["variance"].shape == p.shape
        return params, scalars, opt.state("w")["variance"].copy()


@pytest.mark.parametrize(
    "knobs", [{}, {"weight_decay": 0.1, "maximize": True}, {"d": 1.5, "eps1": 1e-20}]
)
def test_adafactor_blocked_vector_step_is_the_whole_array_step(knobs, monkeypatch):
    # float64: the same norms (whole-array dot products), so bit for bit.
    whole = _adafactor_run(np.float64, knobs, False, monkeypatch)
    blocked = _adafactor_run(np.float64, knobs, True, monkeypatch)
    for a, b in zip(whole[0], blocked[0], strict=True):
        assert a.tobytes() == b.tobytes()
    assert whole[1] == blocked[1] and whole[2].tobytes() == blocked[2].tobytes()
    # float32: the norms are float64 sums in another order, so α_t and the clipping divisor
    # may differ in their last float64 bits, the float32 parameters by a rounding at most.
    whole = _adafactor_run(np.float32, knobs, False, monkeypatch)
    blocked = _adafactor_run(np.float32, knobs, True, monkeypatch)
    for a, b in zip(whole[0], blocked[0], strict=True):
        np.testing.assert_array_max_ulp(a, b, maxulp=1)
    for a, b in zip(whole[1], blocked[1], strict=True):
        np.testing.assert_allclose(tuple(a), tuple(b), rtol=1e-12)
    np.testing.assert_array_max_ulp(whole[2], blocked[2], maxulp=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "name, knobs",
    [
        ("adam", {"beta2": 0.3}),
        ("amsgrad", {"beta1": 0.2, "beta2": 0.3}),
        ("nadam", {"beta2": 0.3}),
        ("radam", {"beta1": 0.3}),
        ("adaptive-adam", {"beta2": 0.3}),
    ],
)
def test_skipping_a_division_by_a_bias_correction_of_one_changes_nothing(
    name, knobs, dtype, monkeypatch
):
    """With β = 0.3 the corrections 1 − βᵗ round to 1 within 40 steps; from then on their
    division is skipped. The run equals one that always divides, bit for bit."""
    assert base._is_one(1.0 - 0.3**40, np.zeros(1, dtype))
    assert base._is_one(1.0 - 1e-9, np.zeros(1, np.float32))
    assert not base._is_one(1.0 - 1e-9, np.zeros(1, np.float64))

    def run() -> list[bytes]:
        rng = np.random.default_rng(2)
        p = rng.normal(size=300).astype(dtype)
        opt = optimizers.create(name, lr=0.01, **knobs)
        out = []
        for t in range(1, 61):
            g = (np.cos(2.0 * p + t) + 0.1 * p).astype(dtype)
            opt.step({"w": p}, {"w": g})
            out.append(p.tobytes())
        return out

    skipped = []
    is_one = base._is_one
    with monkeypatch.context() as patch:
        _patch_in_every_optimizer_module(
            patch, "_is_one", lambda x, a: skipped.append(is_one(x, a)) or is_one(x, a)
        )
        skipping = run()
    assert any(skipped)  # the skip did happen
    with monkeypatch.context() as patch:
        _patch_in_every_optimizer_module(patch, "_is_one", lambda x, a: False)
        dividing = run()
    assert skipping == dividing


def test_digits_network_writes_gradients_it_cannot_write_with_np_dot():
    """Strided gradient arrays and float64 parameters for a float32 network (where np.dot
    refuses the output) give the same loss and gradients as the usual layout."""
    task = tasks.create("digits-mlp", dtype="float32", hidden=16)
    rng = np.random.default_rng(0)
    params = task.init_params(rng)
    batch = next(task.batches(rng))
    loss, grads = task.loss_and_grads(params, batch)
    strided = {
        k: np.empty(v.shape[::-1], v.dtype).T if v.ndim == 2 else np.empty_like(v)
        for k, v in grads.items()
    }
    loss2, got = task.loss_and_grads(params, batch, strided)
    assert got is strided and loss2 == loss
    for key in grads:
        assert not got[key].flags.c_contiguous or got[key].ndim == 1
        np.testing.assert_array_equal(got[key], grads[key])
    wide = {k: v.astype(np.float64) for k, v in params.items()}
    loss3, got3 = task.loss_and_grads(wide, batch)
    assert got3["W1"].dtype == np.float32
    np.testing.assert_allclose(loss3, loss, rtol=1e-5)


@pytest.mark.parametrize("task", ["linear-regression", "quadratic"])
def test_adafactor_state_of_a_scalar_parameter_can_be_inspected(task):
    """A 0-d parameter (a bias, a 1-D landscape): effective lr and RMS come back as arrays."""
    run = Run(RunConfig(task=task, optimizer="adafactor", state_every=1))
    run.step(5)
    for name, p in run.inspect().params.items():
        assert p.derived["effective_lr"].shape == p.shape, name
        assert np.all(np.isfinite(p.derived["rms"])), name
    assert run.state_summaries is not None and len(run.state_summaries.table()[0]) == 5
