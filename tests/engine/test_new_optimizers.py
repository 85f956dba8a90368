"""The optimizers of issue 28 against their references: torch 2.13 twins and published
reference packages, from fixtures/new_optimizers.npz (make_new_optimizer_fixtures.py); these
tests need only NumPy.

Closure optimizers (lbfgs, sam) re-evaluate `closure_objective` at the step's noise inside a
step, as a Run does with the task's loss_and_grads on the step's batch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from make_new_optimizer_fixtures import RANDOM_CASES, closure_objective
from make_optimizer_fixtures import CHECKPOINTS, gradient, lr_at

from engine import optimizers

FIXTURES = Path(__file__).parent / "fixtures" / "new_optimizers.npz"
_Z = np.load(FIXTURES)
CASES = json.loads(str(_Z["meta"]))
NOISE = _Z["noise"]
FACTORS = _Z["lr_factors"]
NEW = sorted({c["optimizer"] for c in CASES})


def _case_arrays(case: dict) -> tuple[dict, np.ndarray]:
    shape = tuple(case["shape"])
    n = math.prod(shape)
    s = case["start"]
    prob = {k: _Z[k][s : s + n].reshape(shape) for k in ("p0", "a", "c", "stride", "offset")}
    cps = [c for c in CHECKPOINTS if c <= case["steps"]]
    t0 = case["traj_start"]
    ref = _Z["traj"][t0 : t0 + n * len(cps)].reshape((len(cps), *shape))
    return prob, ref


def _run_case(case: dict, prob: dict) -> tuple[np.ndarray, list[int]]:
    """The case's checkpoints, and (closure optimizers) the function evaluations so far after
    each step, counted as a Run counts them (its own evaluation + the closure's)."""
    dtype = np.dtype(case["dtype"])
    p = prob["p0"].astype(dtype)
    opt = optimizers.create(case["optimizer"], **case["hypers"])
    out, evals, total = [], [], 0
    for t in range(1, case["steps"] + 1):
        lr = lr_at(t, opt.lr, FACTORS) if case["lr_mode"] == "varying" else None
        if opt.needs_closure:
            calls = [0]

            def closure(t=t, calls=calls):
                calls[0] += 1
                loss, g = closure_objective(p, t, prob, NOISE)
                return loss, {"x": g}

            loss, g = closure_objective(p, t, prob, NOISE)
            opt.step({"x": p}, {"x": g}, lr=lr, closure=closure, loss=loss)
            total += 1 + calls[0]
            evals.append(total)
        else:
            opt.step({"x": p}, {"x": gradient(p, t, prob, NOISE)}, lr=lr)
        assert p.dtype == dtype
        if t in CHECKPOINTS:
            out.append(p.copy())
    return np.stack(out), evals


def _case_id(i: int) -> str:
    c = CASES[i]
    return f"{c['optimizer']}-{c['dtype']}-{i}"


def test_fixtures_cover_every_new_optimizer_with_30_random_configs():
    for name in NEW:
        f64 = [c for c in CASES if c["optimizer"] == name and c["dtype"] == "float64"]
        varying = [c for c in f64 if c["lr_mode"] == "varying"]
        assert len(varying) >= 30 == RANDOM_CASES, name
        assert any(c["lr_mode"] == "constant" for c in f64), name
        assert any(c["dtype"] == "float32" for c in CASES if c["optimizer"] == name), name
        # Most cases are compared at most checkpoints (L-BFGS: see the generator).
        stable = [c["stable_checkpoints"] >= 4 for c in varying]
        assert sum(stable) >= 0.7 * len(varying), name
        for knob, value in varying[0]["hypers"].items():
            if isinstance(value, bool):
                assert {c["hypers"][knob] for c in varying} == {True, False}, (name, knob)
    assert {"rprop", "asgd", "muon"} <= set(NEW)


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float64"], ids=_case_id
)
def test_float64_matches_the_reference(i):
    """<= 1e-10 relative, elementwise, at every checkpoint where the reference is itself
    reproducible (all of them but for L-BFGS: see make_new_optimizer_fixtures.py); closure
    optimizers also make the same number of function evaluations up to there."""
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out, evals = _run_case(case, prob)
    k = case["stable_checkpoints"]
    np.testing.assert_allclose(out[:k], ref[:k], rtol=1e-10, atol=0, err_msg=json.dumps(case))
    if case["evals_start"] is not None and k:
        e0 = case["evals_start"]
        last = CHECKPOINTS[k - 1]
        assert evals[:last] == _Z["evals"][e0 : e0 + last].tolist()


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float32"], ids=_case_id
)
def test_float32_stays_close_to_the_reference(i):
    """float32 runs stay within 1e-4 of the parameters' scale of the reference's float32 run
    (FMA and summation order differ by an ulp per operation, and L-BFGS's line search can
    take a different branch on such a difference: a relative 1e-4 shows the same path)."""
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out = _run_case(case, prob)[0].astype(np.float64)
    for k in range(len(ref)):
        scale = max(float(np.max(np.abs(ref[k]))), 1e-3)
        assert np.max(np.abs(out[k] - ref[k])) <= 1e-4 * scale, (json.dumps(case), CHECKPOINTS[k])
