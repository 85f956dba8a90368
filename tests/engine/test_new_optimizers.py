"""The optimizers of issue 28 against their references: torch 2.13 twins and published
reference packages, from fixtures/new_optimizers.npz (make_new_optimizer_fixtures.py); these
tests need only NumPy.

Closure optimizers (lbfgs, sam) re-evaluate `closure_objective` at the step's noise inside a
step, as a Run does with the task's loss_and_grads on the step's batch.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from make_new_optimizer_fixtures import RANDOM_CASES, closure_objective
from make_optimizer_fixtures import CHECKPOINTS, gradient, lr_at

from engine import optimizers
from engine.run import Run, RunConfig

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


def _eval_reference(case: dict, ref: np.ndarray) -> np.ndarray | None:
    """The reference's evaluation point at the checkpoints (schedule-free's x), or None."""
    e0 = case.get("eval_traj_start")
    if e0 is None:
        return None
    return _Z["eval_traj"][e0 : e0 + ref.size].reshape(ref.shape)


def _run_case(case: dict, prob: dict, at_eval: list | None = None) -> tuple[np.ndarray, list[int]]:
    """The case's checkpoints, and (closure optimizers) the function evaluations so far after
    each step, counted as a Run counts them (its own evaluation + the closure's). `at_eval`
    collects the optimizer's evaluation point at the checkpoints."""
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
            if at_eval is not None:
                shifted = opt.eval_params({"x": p})
                at_eval.append(p.copy() if shifted is None else shifted["x"])
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
    at_eval: list[np.ndarray] = []
    out, evals = _run_case(case, prob, at_eval)
    k = case["stable_checkpoints"]
    np.testing.assert_allclose(out[:k], ref[:k], rtol=1e-10, atol=0, err_msg=json.dumps(case))
    ref_eval = _eval_reference(case, ref)
    if ref_eval is not None:  # where the reference evaluates (its `optimizer.eval()`)
        np.testing.assert_allclose(np.stack(at_eval), ref_eval, rtol=1e-10, atol=0)
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
    at_eval: list[np.ndarray] = []
    out = _run_case(case, prob, at_eval)[0].astype(np.float64)
    ref_eval = _eval_reference(case, ref)
    if ref_eval is not None:
        out, ref = np.concatenate([out, np.stack(at_eval)]), np.concatenate([ref, ref_eval])
    for k in range(len(ref)):
        scale = max(float(np.max(np.abs(ref[k]))), 1e-3)
        assert np.max(np.abs(out[k] - ref[k])) <= 1e-4 * scale, (json.dumps(case), CHECKPOINTS[k])


# -- where a run evaluates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hypers"),
    [("schedulefree-adamw", {"lr": 0.01}), ("lookahead", {"inner": "schedulefree-sgd"})],
)
def test_a_run_evaluates_schedule_free_at_the_average_x_not_at_y(name, hypers):
    """The eval loss is the task's loss at x = y + (1 − 1/β)(z − y) (the reference's
    `optimizer.eval()`), not at the params y the gradients are taken at; training continues
    from y unchanged."""
    cfg = RunConfig(task="digits-mlp", optimizer=name, optimizer_hypers=hypers, seed=2,
                    eval_every=10)  # fmt: skip
    run = Run(cfg)
    run.step(30)
    y = {k: v.copy() for k, v in run._params.items()}
    x = run.optimizer.eval_params(run._opt_params)
    if "flat" in x:  # the elementwise fast path steps one flat buffer
        flat, x, offset = x["flat"], {}, 0
        for k, v in y.items():
            x[k] = flat[offset : offset + v.size].reshape(v.shape)
            offset += v.size
    at_x = run.task.evaluate(x)["loss"]
    at_y = run.task.evaluate(y)["loss"]
    assert run.step(0)["eval_loss"] == at_x != at_y
    assert all(np.array_equal(run._params[k], y[k]) for k in y)


def test_optimizers_without_an_evaluation_point_evaluate_at_the_params():
    run = Run(RunConfig(task="digits-mlp", optimizer="adam", seed=2, eval_every=10))
    run.step(10)
    assert run.optimizer.eval_params(run._opt_params) is None
    assert run.step(0)["eval_loss"] == run.task.evaluate(run._params)["loss"]


def test_sam_in_a_run_evaluates_twice_per_step_on_the_steps_batch():
    """SAM's second gradient comes through the run's closure (as L-BFGS's evaluations): two
    evaluations a step, on the step's mini-batch, and the same history every time."""
    cfg = RunConfig(task="digits-mlp", optimizer="sam", optimizer_hypers={"rho": 0.1}, seed=4)
    a, b = Run(cfg), Run(cfg)
    a.step(7)
    b.step(7)
    assert a.function_evals == 14
    assert np.array_equal(a._flat, b._flat)
    plain = Run(RunConfig(task="digits-mlp", optimizer="momentum", seed=4))
    plain.step(7)
    assert plain.function_evals == 7 and not np.array_equal(a._flat, plain._flat)


@pytest.mark.parametrize(
    ("name", "why"), [("sam", "it evaluates at θ + ε"), ("lbfgs", "it re-evaluates the objective")]
)
def test_a_closure_optimizer_stepped_without_a_closure_says_why_and_changes_nothing(name, why):
    """Without its closure a step refuses, naming what the closure is for; a bad rate gets the
    usual rate message first. The parameters and the state are left as they were."""
    opt = optimizers.create(name)
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.25])}
    with pytest.raises(ValueError, match=re.escape(f"{name} needs a closure ({why})")):
        opt.step(p, g)
    with pytest.raises(ValueError, match=r"^lr must be a number in \[0, inf\), got -1.0$"):
        opt.step(p, g, lr=-1.0)
    assert np.array_equal(p["w"], [1.0, -2.0])
    assert opt.steps == 0 and not opt.has_state("w")


@pytest.mark.parametrize("name", ["lbfgs", "lbfgs-wolfe"])
def test_lbfgs_at_rate_zero_stays_put_then_trains(name):
    """A step at lr 0 (allowed: a schedule may reach it): L-BFGS with the strong-Wolfe line
    search divided by zero in its cubic interpolation there (torch's does too). Now the point
    stays, and the next steps at a positive rate train."""
    opt = optimizers.create(name)
    p = {"w": np.array([1.5, -2.0, 0.5])}
    scale = np.array([1.0, 10.0, 100.0])

    def closure() -> tuple[float, dict]:
        return float(np.sum(scale * p["w"] ** 2) / 2), {"w": scale * p["w"]}

    for _ in range(2):
        opt.step(p, closure()[1], lr=0.0, closure=closure)
        assert np.array_equal(p["w"], [1.5, -2.0, 0.5])
    start = closure()[0]
    for _ in range(3):
        opt.step(p, closure()[1], lr=1.0, closure=closure)
    assert closure()[0] < 1e-6 * start
