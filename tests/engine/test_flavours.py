"""The `flavour` knob: optax's and Keras 3's arithmetic against the frameworks themselves.

The references live in fixtures/flavours.npz, written by make_flavour_fixtures.py (jax
0.10.2 with x64, optax 0.2.8, Keras 3.15.1 on the jax backend); these tests need only NumPy.
The torch flavour is the default and is checked bit for bit by test_optimizers.py's torch
fixtures, unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from make_flavour_fixtures import CHECKPOINTS, KNOBS
from make_optimizer_fixtures import gradient, lr_at

from engine import optimizers

FIXTURES = Path(__file__).parent / "fixtures" / "flavours.npz"
_Z = np.load(FIXTURES)
CASES = json.loads(str(_Z["meta"]))
NOISE = _Z["noise"]
FACTORS = _Z["lr_factors"]


def _case_arrays(case: dict) -> tuple[dict, np.ndarray]:
    shape = tuple(case["shape"])
    n = math.prod(shape)
    s = case["start"]
    prob = {k: _Z[k][s : s + n].reshape(shape) for k in ("p0", "a", "c", "stride", "offset")}
    cps = [c for c in CHECKPOINTS if c <= case["steps"]]
    t0 = case["traj_start"]
    ref = _Z["traj"][t0 : t0 + n * len(cps)].reshape((len(cps), *shape))
    return prob, ref


def run_case(case: dict, prob: dict) -> np.ndarray:
    dtype = np.dtype(case["dtype"])
    p = prob["p0"].astype(dtype)
    opt = optimizers.create(case["optimizer"], **case["hypers"])
    out = []
    for t in range(1, case["steps"] + 1):
        g = gradient(p, t, prob, NOISE)
        opt.step({"x": p}, {"x": g}, lr=lr_at(t, case["hypers"]["lr"], FACTORS))
        assert p.dtype == dtype
        if t in CHECKPOINTS:
            out.append(p.copy())
    return np.stack(out)


def _case_id(i: int) -> str:
    c = CASES[i]
    return f"{c['hypers']['flavour']}-{c['optimizer']}-{c['dtype']}-{i}"


def test_fixtures_cover_every_flavoured_optimizer_with_fifty_configs_per_framework():
    for framework in ("optax", "keras"):
        f64 = [c for c in CASES if c["hypers"]["flavour"] == framework and c["dtype"] == "float64"]
        assert len(f64) >= 50, framework
        assert {c["optimizer"] for c in f64} == set(KNOBS), framework
        assert any(c["dtype"] == "float32" and c["hypers"]["flavour"] == framework for c in CASES)
    for name in KNOBS:
        assert "flavour" in {h.name for h in optimizers.specs(name)}, name


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float64"], ids=_case_id
)
def test_float64_flavour_equals_its_framework(i):
    """<= 1e-12 relative, elementwise, at every checkpoint up to step 100, per-step rates."""
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out = run_case(case, prob)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=0, err_msg=json.dumps(case))


#: float32: the flavours compute in the parameters' dtype what the frameworks do (optax's
#: injected hyperparameters 1 − β, βᵗ; Keras' βᵗ and α), so every pair is within 4 ulp (optax
#: RMSprop's 2.3 ulp left: XLA's float32 rsqrt is not correctly rounded).
FLOAT32_ULPS = 4


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float32"], ids=_case_id
)
def test_float32_flavour_within_four_ulp_of_its_framework(i):
    """4 ulp of the parameters' scale, every pair."""
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out = run_case(case, prob).astype(np.float64)
    for k in range(len(ref)):
        scale = np.float32(np.max(np.abs(ref[k])))
        tol = FLOAT32_ULPS * float(np.spacing(scale))
        assert np.max(np.abs(out[k] - ref[k])) <= tol, (json.dumps(case), CHECKPOINTS[k])


def test_flavours_differ_from_torch_where_the_frameworks_do():
    """Keras' ε̂ and momentum form, optax's ε inside the root: visibly different numbers."""
    rng = np.random.default_rng(0)
    p0, grads = rng.normal(size=5), rng.normal(size=(20, 5))

    def final(name: str, lrs: list[float], **knobs) -> np.ndarray:
        opt = optimizers.create(name, **knobs)
        p = p0.copy()
        for g, lr in zip(grads, lrs, strict=True):
            opt.step({"x": p}, {"x": g}, lr=lr)
        return p

    constant, stepped = [0.1] * 20, [0.1] * 10 + [0.01] * 10
    # Momentum: the two forms agree at a constant rate, differ once it changes.
    for lrs, same in ((constant, True), (stepped, False)):
        torch_p = final("momentum", lrs, lr=0.1)
        keras_p = final("momentum", lrs, lr=0.1, flavour="keras")
        assert np.allclose(torch_p, keras_p, rtol=1e-12) == same
    eps = dict(lr=0.01, eps=1e-3)
    for name, flavour in (("adam", "keras"), ("rmsprop", "optax"), ("adagrad", "keras")):
        torch_p = final(name, constant, **eps)
        assert not np.allclose(torch_p, final(name, constant, **eps, flavour=flavour), rtol=1e-6)


def test_torch_is_the_default_and_other_flavours_refuse_what_they_lack():
    assert optimizers.create("adam").flavour == "torch"
    with pytest.raises(ValueError, match="flavour must be one of torch, optax, keras"):
        optimizers.create("adam", flavour="paper")
    assert optimizers.create("amsgrad", flavour="paper").flavour == "paper"
    with pytest.raises(ValueError, match="dampening must be 0 with flavour keras"):
        optimizers.create("sgd", momentum=0.9, dampening=0.1, flavour="keras")
    with pytest.raises(ValueError, match="lr_decay must be 0 with flavour optax"):
        optimizers.create("adagrad", lr_decay=0.1, flavour="optax")


def test_amsgrad_paper_flavour_is_reddi_et_al_without_bias_correction():
    opt = optimizers.create("amsgrad", lr=0.1, beta1=0.9, beta2=0.999, eps=0.0, flavour="paper")
    p = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    opt.step({"x": p}, {"x": g})
    # m = 0.1 g, v̂ = max(0, 0.001 g²): step = 0.1 · 0.1 g / (√0.001 |g|) = √10 · 0.1 · sign(g)
    np.testing.assert_allclose(p, [1.0 - 0.1 * math.sqrt(10), -2.0 - 0.1 * math.sqrt(10)])


def test_as_written_presets_race_each_seed_formula_next_to_its_fix():
    from engine import presets

    for name, seed_formula, fix in (
        ("as-written-amsgrad", "amsgrad-tutorial", "amsgrad"),
        ("as-written-nadam", "nadam-tutorial", "nadam"),
        ("flavours-momentum", "momentum", "momentum"),
    ):
        race = presets.load(name).race
        labels = [e.name for e in race]
        assert any("as written" in label for label in labels), name
        assert race[0].config.optimizer == seed_formula or "as written" in labels[-1]
        assert any(e.config.optimizer == fix for e in race)
        # Never a default: the seed's formula is a hidden optimizer or a non-torch flavour.
        for entry in race:
            if "as written" in entry.name:
                hidden = getattr(optimizers.get(entry.config.optimizer), "hidden", False)
                assert hidden or entry.config.optimizer_hypers.get("flavour") != "torch"


def test_keras_momentum_loses_ground_after_a_decay_in_its_preset():
    """The momentum preset's point: the lanes agree until the first decay, then differ."""
    from engine import presets
    from engine.run import Run

    race = presets.load("flavours-momentum").race
    runs = [Run(e.config, history_capacity=None) for e in race]
    for run in runs:
        run.step(30)
    torch_p, optax_p, keras_p = (np.concatenate([v.ravel() for v in r.params.values()])
                                 for r in runs)  # fmt: skip
    np.testing.assert_allclose(keras_p, torch_p, rtol=1e-9)
    for run in runs:
        run.step(10)
    torch_p, optax_p, keras_p = (np.concatenate([v.ravel() for v in r.params.values()])
                                 for r in runs)  # fmt: skip
    np.testing.assert_allclose(optax_p, torch_p, rtol=1e-12)
    assert np.max(np.abs(keras_p - torch_p)) > 1e-3
