"""Optimizers: trajectories against torch.optim, validation messages, the flat-buffer fast path.

The torch references live in fixtures/optimizers.npz, written by make_optimizer_fixtures.py
(torch 2.13.0, float64 with foreach=False); these tests need only NumPy. Lion and
adaptive-adam have no torch twin and are checked against straightforward textbook code.
"""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from make_optimizer_fixtures import CHECKPOINTS, STEPS, TWINS, gradient, lr_at

from engine import optimizers
from engine.optimizers import base

FIXTURES = Path(__file__).parent / "fixtures" / "optimizers.npz"
_Z = np.load(FIXTURES)
CASES = json.loads(str(_Z["meta"]))
NOISE = _Z["noise"]
FACTORS = _Z["lr_factors"]

ALL = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "amsgrad",
    "adamw",
    "nadam",
    "radam",
    "adamax",
    "adafactor",
    "lion",
    "adaptive-adam",
    "rprop",
    "asgd",
    "muon",
    "lbfgs",
    "lbfgs-wolfe",
    "adabound",
    "schedulefree-adamw",
    "schedulefree-sgd",
    "prodigy",
    "sam",
    "lookahead",
]
# Optimizers whose update couples elements (norms, matrices, line searches, a model-wide d,
# wrappers of any inner optimizer).
COUPLED = {"adafactor", "muon", "lbfgs", "lbfgs-wolfe", "prodigy", "sam", "lookahead"}
ELEMENTWISE = [n for n in ALL if n not in COUPLED]

# Knob sets that switch every optional path on (momentum buffers, centering, amsgrad, ...).
RICH = {
    "sgd": dict(lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.01, maximize=True),
    "momentum": dict(lr=0.05, weight_decay=0.02),
    "nesterov": dict(lr=0.05, momentum=0.7, weight_decay=0.01),
    "adagrad": dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
    "adadelta": dict(lr=0.5, rho=0.8, weight_decay=0.01, maximize=True),
    "adam": dict(lr=0.01, beta1=0.3, weight_decay=0.01, amsgrad=True),
    "amsgrad": dict(lr=0.01, maximize=True),
    "adamw": dict(lr=0.01, weight_decay=0.1),
    "nadam": dict(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True),
    "radam": dict(lr=0.01, beta2=0.9, weight_decay=0.01),
    "adamax": dict(lr=0.01, beta1=0.2, weight_decay=0.01, maximize=True),
    "adafactor": dict(lr=0.05, weight_decay=0.01, d=1.0),
    "lion": dict(lr=0.01, beta1=0.3, weight_decay=0.1),
    "adaptive-adam": dict(lr=0.01, beta1_schedule="cyclic", period=7, weight_decay=0.01),
    "rprop": dict(lr=0.01, etaminus=0.4, etaplus=1.3, maximize=True),
    "asgd": dict(lr=0.01, lambd=0.01, t0=2.0, weight_decay=0.01),
    "muon": dict(lr=0.01, nesterov=False, adjust_lr_fn="match_rms_adamw"),
    "lbfgs": dict(lr=0.5, max_iter=5, history_size=3),
    "lbfgs-wolfe": dict(max_iter=4, max_eval=9, tolerance_grad=1e-9),
    "adabound": dict(lr=0.01, weight_decay=0.01, ams_bound=True, maximize=True),
    "schedulefree-adamw": dict(lr=0.01, beta1=0.8, weight_decay=0.01, warmup_steps=3),
    "schedulefree-sgd": dict(lr=0.05, momentum=0.8, weight_decay=0.01, warmup_steps=3, r=0.5),
    "prodigy": dict(
        weight_decay=0.01,
        bias_correction=True,
        safeguard_warmup=True,
        growth_rate=1.5,
        maximize=True,
    ),
    "sam": dict(lr=0.05, inner="adam", rho=0.1, adaptive=True),
    "lookahead": dict(lr=0.01, inner="momentum", k=2, alpha=0.6),
}


def _case_arrays(case: dict) -> tuple[dict, np.ndarray]:
    shape = tuple(case["shape"])
    n = math.prod(shape)
    s = case["start"]
    prob = {k: _Z[k][s : s + n].reshape(shape) for k in ("p0", "a", "c", "stride", "offset")}
    cps = [c for c in CHECKPOINTS if c <= case["steps"]]
    t0 = case["traj_start"]
    ref = _Z["traj"][t0 : t0 + n * len(cps)].reshape((len(cps), *shape))
    return prob, ref


def _run_case(case: dict, prob: dict) -> np.ndarray:
    dtype = np.dtype(case["dtype"])
    p = prob["p0"].astype(dtype)
    opt = optimizers.create(case["optimizer"], **case["hypers"])
    out = []
    for t in range(1, case["steps"] + 1):
        g = gradient(p, t, prob, NOISE)
        lr = lr_at(t, case["hypers"]["lr"], FACTORS) if case["lr_mode"] == "varying" else None
        opt.step({"x": p}, {"x": g}, lr=lr)
        assert p.dtype == dtype
        if t in CHECKPOINTS:
            out.append(p.copy())
    return np.stack(out)


def _case_id(i: int) -> str:
    c = CASES[i]
    return f"{c['optimizer']}-{c['dtype']}-{i}"


# -- torch references --------------------------------------------------------------------------


def test_fixtures_cover_every_torch_twin():
    for name in TWINS:
        f64 = [c for c in CASES if c["optimizer"] == name and c["dtype"] == "float64"]
        varying = [c for c in f64 if c["lr_mode"] == "varying"]
        assert len(varying) >= 5 and all(c["steps"] >= 300 for c in f64), name
        assert any(c["lr_mode"] == "constant" and len(c["hypers"]) <= 2 for c in f64), name
        assert any(c["dtype"] == "float32" for c in CASES if c["optimizer"] == name), name
        shapes = {len(c["shape"]) for c in f64}
        assert {0, 1, 2} <= shapes, name  # scalar, vector and matrix parameters
        # Every boolean knob is exercised both ways, weight decay is on somewhere.
        for knob, value in varying[0]["hypers"].items():
            if isinstance(value, bool) and knob not in TWINS[name][1]:
                assert {c["hypers"][knob] for c in varying} == {True, False}, (name, knob)
        assert any(c["hypers"].get("weight_decay", 0) > 0 for c in varying), name
    assert STEPS >= 300


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float64"], ids=_case_id
)
def test_float64_matches_torch(i):
    """<= 1e-10 relative, elementwise, at every checkpoint up to step 300."""
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out = _run_case(case, prob)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=0, err_msg=json.dumps(case))


@pytest.mark.parametrize(
    "i", [i for i, c in enumerate(CASES) if c["dtype"] == "float32"], ids=_case_id
)
def test_float32_matches_torch_to_a_few_ulp(i):
    """float32 runs stay within 4 ulp of the parameters' scale of torch's float32 run.

    Exact agreement is impossible: torch fuses multiply-adds (FMA) in add/addcmul/lerp and its
    CPU sqrt is not correctly rounded, so single operations differ by an ulp here and there.
    """
    case = CASES[i]
    prob, ref = _case_arrays(case)
    out = _run_case(case, prob).astype(np.float64)
    for k in range(len(ref)):
        scale = np.float32(np.max(np.abs(ref[k])))
        tol = 4 * float(np.spacing(scale))
        assert np.max(np.abs(out[k] - ref[k])) <= tol, (json.dumps(case), CHECKPOINTS[k])


TORCH_DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    "momentum": dict(momentum=0.9, nesterov=False),
    "nesterov": dict(momentum=0.9, nesterov=True),
    "adagrad": dict(lr=1e-2, lr_decay=0.0, initial_accumulator_value=0.0, eps=1e-10),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False),
    "amsgrad": dict(amsgrad=True),
    "adamw": dict(lr=1e-3, weight_decay=1e-2, amsgrad=False),
    "nadam": dict(lr=2e-3, momentum_decay=4e-3, decoupled_weight_decay=False),
    "radam": dict(lr=1e-3, decoupled_weight_decay=False),
    "adamax": dict(lr=2e-3, beta2=0.999, eps=1e-8),
    "adafactor": dict(lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0),
    "lion": dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=1e-3),
}


@pytest.mark.parametrize("name", list(TORCH_DEFAULTS))
def test_defaults_are_torch_and_optax_defaults(name):
    values = optimizers.validate(name, {})
    for knob, default in TORCH_DEFAULTS[name].items():
        assert values[knob] == default, knob
    if name in TWINS:
        assert values["maximize"] is False


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_bad_lr_is_rejected_with_field_and_range(name):
    for bad, shown in [(-1, "-1"), (math.nan, "nan"), ("nan", "'nan'"), ("abc", "'abc'")]:
        with pytest.raises(ValueError, match=rf"^lr must be a number in \(0, inf\), got {shown}$"):
            optimizers.create(name, lr=bad)
    opt = optimizers.create(name)
    with pytest.raises(ValueError, match=r"^lr must be a number in \(0, inf\)"):
        opt.set_hypers(lr=-1)
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^lr must be a number in \[0, inf\)"):
            opt.step({"x": np.zeros(2)}, {"x": np.zeros(2)}, lr=bad)
    assert opt.steps == 0


_DECAY_KNOBS = {"beta1", "beta2", "alpha", "rho", "momentum", "beta1_min"}


@pytest.mark.parametrize("name", ALL)
def test_betas_of_one_or_more_are_rejected(name):
    # ASGD's alpha is the power of its rate decay, SAM's rho a radius, Lookahead's alpha a
    # fraction in [0, 1]: not decay factors.
    others = {("asgd", "alpha"), ("sam", "rho"), ("lookahead", "alpha")}
    decays = [
        h.name
        for h in optimizers.specs(name)
        if h.name in _DECAY_KNOBS and (name, h.name) not in others
    ]
    no_decay = ("sgd", "adagrad", "adafactor", "rprop", "asgd", "lbfgs", "lbfgs-wolfe")
    if name not in (*no_decay, "sam", "lookahead"):
        assert decays, name
    for knob in decays:
        # Schedule-free divides by its β (the evaluation point): 0 is refused there too.
        low = "\\(" if name.startswith("schedulefree") and knob in ("beta1", "momentum") else "\\["
        for bad in (1.0, 1.5, -0.1, math.nan, "high"):
            with pytest.raises(ValueError, match=rf"^{knob} must be a number in {low}0, 1\), got "):
                optimizers.create(name, **{knob: bad})
        if low == "\\(":
            with pytest.raises(ValueError, match=rf"^{knob} must be a number in \(0, 1\)"):
                optimizers.create(name, **{knob: 0.0})


@pytest.mark.parametrize("name", ALL)
def test_every_float_knob_rejects_nan_and_text(name):
    for h in optimizers.specs(name):
        if h.kind not in ("float", "int"):
            continue
        for bad in (math.nan, "nan", "text"):
            with pytest.raises(ValueError, match=rf"^{h.name} must be "):
                optimizers.create(name, **{h.name: bad})
        if h.low is not None:
            with pytest.raises(ValueError, match=rf"^{h.name} must be "):
                optimizers.create(name, **{h.name: h.low - 1})


def test_unknown_knob_and_unknown_optimizer():
    with pytest.raises(ValueError, match=r"^betas is not a hyperparameter of optimizer adam"):
        optimizers.create("adam", betas=(0.9, 0.999))
    with pytest.raises(ValueError, match=r"^unknown optimizer 'adamm' \(expected one of: sgd"):
        optimizers.create("adamm")


def test_cross_knob_rules_name_the_knob():
    with pytest.raises(ValueError, match=r"^nesterov requires momentum > 0 and dampening = 0"):
        optimizers.create("sgd", nesterov=True)
    with pytest.raises(ValueError, match=r"^nesterov requires momentum > 0 and dampening = 0"):
        optimizers.create("nesterov", dampening=0.1)
    with pytest.raises(ValueError, match=r"^nesterov requires"):
        optimizers.create("nesterov", momentum=0.0)
    with pytest.raises(ValueError, match=r"^beta1_min must be at most beta1"):
        optimizers.create("adaptive-adam", beta1=0.4, beta1_schedule="decay")
    optimizers.create("adaptive-adam", beta1=0.4)  # constant: beta1_min unused
    opt = optimizers.create("nesterov")
    with pytest.raises(ValueError, match=r"^nesterov requires"):
        opt.set_hypers(momentum=0)
    assert opt.hypers["momentum"] == 0.9  # a rejected edit changes nothing


def test_form_strings_are_typed_and_adafactor_eps1_auto():
    values = optimizers.validate("adam", {"beta1": " 0.95 ", "amsgrad": "yes", "lr": "1e-2"})
    assert values["beta1"] == 0.95 and values["amsgrad"] is True and values["lr"] == 0.01
    eps1 = next(h for h in optimizers.specs("adafactor") if h.name == "eps1")
    assert eps1.validate("auto") is None and eps1.format(None) == "auto"
    assert optimizers.create("adafactor", eps1="1e-30").hypers["eps1"] == 1e-30


# -- descriptions -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_each_optimizer_describes_itself(name):
    cls = optimizers.get(name)
    assert optimizers.names() == ALL
    assert optimizers.summary(name) and "\n" not in optimizers.summary(name)
    assert len(optimizers.summary(name)) <= 80
    assert cls.equations.count("\n") >= 2 and "θ" in cls.equations
    ref = cls.reference
    twin = "torch.optim." in ref or "optax." in ref
    assert twin or name == "adaptive-adam" or "package" in ref
    assert "19" in ref or "20" in ref  # a year
    doc = cls.__doc__ or ""
    assert "\n\n" in doc.strip() and any(str(y) in doc for y in range(1950, 2030))
    assert cls.elementwise is (name not in COUPLED)


# -- engine behaviour ----------------------------------------------------------------------------


def _params(rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    return {
        "W": rng.normal(size=(7, 5)).astype(dtype),
        "b": rng.normal(size=5).astype(dtype),
        "s": np.array(rng.normal(), dtype=dtype),
    }


def _grads(params: dict, t: int) -> dict[str, np.ndarray]:
    return {k: (np.sin(3.0 * v + t) + 0.3 * v).astype(v.dtype) for k, v in params.items()}


def _loss(params: dict, t: int) -> float:
    """The objective `_grads` is the gradient of."""
    return float(sum(np.sum(-np.cos(3.0 * v + t) / 3 + 0.15 * v * v) for v in params.values()))


def step_any(opt, params: dict, grads: dict, t: int, lr: float | None = None) -> None:
    """One step; a closure optimizer (L-BFGS) gets the closure of `_loss`/`_grads` at t."""
    if opt.needs_closure:
        closure = lambda: (_loss(params, t), _grads(params, t))  # noqa: E731
        opt.step(params, grads, lr=lr, closure=closure, loss=_loss(params, t))
    else:
        opt.step(params, grads, lr=lr)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_flat_buffer_is_bit_identical_to_per_key(name, dtype, monkeypatch):
    """Stepping one flat buffer == stepping per-tensor views, whole or in blocks."""
    rng = np.random.default_rng(7)
    per_key = _params(rng, dtype)
    flat = np.concatenate([v.ravel() for v in per_key.values()])
    a = optimizers.create(name, **RICH[name])
    b = optimizers.create(name, **RICH[name])
    c = optimizers.create(name, **RICH[name])
    blocked = flat.copy()
    for t in range(1, 16):
        lr = RICH[name]["lr"] * (1 + 0.5 * math.sin(t))
        g_flat = np.concatenate([v.ravel() for v in _grads(per_key, t).values()])
        a.step(per_key, _grads(per_key, t), lr=lr)
        b.step({"all": flat}, {"all": g_flat}, lr=lr)
        # Same flat buffer through the blocked path (tiny blocks: 4 elements, ragged tail).
        monkeypatch.setattr(base, "BLOCK_BYTES", 4 * blocked.itemsize)
        monkeypatch.setattr(base, "BLOCKED_MIN_BLOCKS", 2)
        c.step({"all": blocked}, {"all": g_flat}, lr=lr)
        monkeypatch.undo()
        joined = np.concatenate([v.ravel() for v in per_key.values()])
        assert joined.tobytes() == flat.tobytes(), t
        assert blocked.tobytes() == flat.tobytes(), t


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_large_arrays_take_the_blocked_path_with_the_same_numbers(name):
    """A 700K-element float32 array (blocked) equals the same data split into small keys."""
    rng = np.random.default_rng(3)
    n = 700_003  # 2.8 MB: blocked; not a multiple of the block size
    assert n * 4 >= optimizers.BLOCKED_MIN_BLOCKS * optimizers.BLOCK_BYTES
    big = rng.normal(size=n).astype(np.float32)
    cut = [0, 1, 5000, 5003, 400_000, n]  # pieces below the blocked threshold
    small = {f"k{i}": big[cut[i] : cut[i + 1]].copy() for i in range(len(cut) - 1)}
    a = optimizers.create(name, **RICH[name])
    b = optimizers.create(name, **RICH[name])
    for t in range(1, 4):
        g = np.sin(big * t).astype(np.float32)
        a.step({"w": big}, {"w": g})
        b.step(small, {k: g[cut[i] : cut[i + 1]] for i, k in enumerate(small)})
    assert np.concatenate(list(small.values())).tobytes() == big.tobytes()


@pytest.mark.parametrize("name", ["adam", "sgd", "lion", "rmsprop"])
def test_large_step_allocates_no_memory_proportional_to_n(name):
    n = 1_000_000
    p = np.ones(n, np.float32)
    g = np.full(n, 0.5, np.float32)
    opt = optimizers.create(name, **RICH[name])
    opt.step({"w": p}, {"w": g})  # state and scratch are allocated here, once
    tracemalloc.start()
    opt.step({"w": p}, {"w": g})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.01 * p.nbytes


@pytest.mark.parametrize("name", ALL)
def test_dtypes_shapes_scalars_and_untouched_grads(name):
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(1)
        params = _params(rng, dtype)
        opt = optimizers.create(name, **RICH[name])
        for t in range(1, 6):
            grads = _grads(params, t)
            before = {k: v.copy() for k, v in grads.items()}
            step_any(opt, params, grads, t)
            assert all(grads[k].tobytes() == before[k].tobytes() for k in grads)
        for key, p in params.items():
            assert p.dtype == dtype and np.all(np.isfinite(p)), key
            assert opt.state(key)["step"] == 5
            for arr in opt.state(key).values():
                if isinstance(arr, np.ndarray) and arr.ndim == p.ndim:
                    assert arr.dtype == dtype
        assert params["s"].shape == ()
        assert opt.steps == 5


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_scalar_param_equals_a_one_element_vector(name):
    s = np.array(0.7)
    v = np.array([0.7])
    a = optimizers.create(name, **RICH[name])
    b = optimizers.create(name, **RICH[name])
    for t in range(1, 10):
        a.step({"x": s}, {"x": np.array(math.sin(t) + s)})
        b.step({"x": v}, {"x": np.array([math.sin(t)]) + v})
        assert s.tobytes() == v.tobytes()


def test_state_is_per_key_and_created_lazily():
    opt = optimizers.create("adam", lr=0.1)
    p = {"a": np.zeros(3)}
    opt.step(p, {"a": np.ones(3)})
    opt.step(p, {"a": np.ones(3)})
    p["b"] = np.zeros(2)  # a key seen for the first time starts at its own step 1
    opt.step(p, {"a": np.ones(3), "b": np.ones(2)})
    assert opt.state("a")["step"] == 3 and opt.state("b")["step"] == 1
    assert opt.state("b")["exp_avg"].shape == (2,)
    # Adam's first bias-corrected step has magnitude lr (m̂/√v̂ = ±1 up to eps).
    np.testing.assert_allclose(p["b"], -0.1, rtol=1e-6)


def test_bad_inputs_are_reported():
    opt = optimizers.create("sgd")
    with pytest.raises(ValueError, match=r"grads has no entry for parameter 'w'"):
        opt.step({"w": np.zeros(2)}, {})
    with pytest.raises(ValueError, match=r"grads\['w'\] is float64\[3\] but params\['w'\]"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(3)})
    with pytest.raises(ValueError, match=r"params\['i'\] must be a float32 or float64"):
        opt.step({"i": np.zeros(2, int)}, {"i": np.zeros(2, int)})
    opt.step({"w": np.zeros(2)}, {"w": np.zeros(2)})
    with pytest.raises(ValueError, match=r"reset\(\) the optimizer first"):
        opt.step({"w": np.zeros(4)}, {"w": np.zeros(4)})


def test_a_bad_array_is_reported_before_any_array_is_updated():
    opt = optimizers.create("adam", lr=0.1)
    p = {"a": np.zeros(3), "b": np.zeros(2)}
    with pytest.raises(ValueError, match=r"grads\['b'\] is float64\[3\] but params\['b'\]"):
        opt.step(p, {"a": np.ones(3), "b": np.ones(3)})
    assert not p["a"].any() and opt.keys() == [] and opt.steps == 0


def test_lr_override_set_hypers_and_reset():
    rng = np.random.default_rng(0)
    start = rng.normal(size=6)
    g = [rng.normal(size=6) for _ in range(20)]
    # Editing lr mid-run keeps the moments: same as overriding lr for the later steps.
    a, b = optimizers.create("adam", lr=0.01), optimizers.create("adam", lr=0.01)
    pa, pb = {"x": start.copy()}, {"x": start.copy()}
    for t in range(20):
        if t == 10:
            a.set_hypers(lr="0.05")
        a.step(pa, {"x": g[t]})
        b.step(pb, {"x": g[t]}, lr=0.05 if t >= 10 else None)
    assert pa["x"].tobytes() == pb["x"].tobytes()
    assert a.lr == 0.05 and b.lr == 0.01 and a.steps == 20  # override did not stick
    # Turning momentum on mid-run creates its buffer then (torch: a copy of that gradient).
    sgd = optimizers.create("sgd", lr=0.1)
    p = {"x": np.zeros(2)}
    sgd.step(p, {"x": np.ones(2)})
    sgd.set_hypers(momentum=0.5)
    sgd.step(p, {"x": np.ones(2)})
    sgd.step(p, {"x": np.ones(2)})
    np.testing.assert_allclose(p["x"], -0.1 * (1 + 1 + 1.5))
    # reset() drops the state: the next step is a first step again.
    a.reset()
    assert a.steps == 0
    fresh = optimizers.create("adam", lr=0.05)
    pa, pf = {"x": start.copy()}, {"x": start.copy()}
    a.step(pa, {"x": g[0]})
    fresh.step(pf, {"x": g[0]})
    assert pa["x"].tobytes() == pf["x"].tobytes()


# -- Lion and adaptive-adam against textbook code --------------------------------------------------


def test_lion_matches_the_textbook_update():
    """Chen et al. 2023, Algorithm 2 with optax's weight decay placement."""
    rng = np.random.default_rng(5)
    for lr, b1, b2, wd in [(1e-3, 0.9, 0.99, 1e-3), (3e-2, 0.2, 0.9, 0.3), (1e-2, 0.0, 0.5, 0.0)]:
        theta = rng.normal(size=(4, 3))
        mine = theta.copy()
        m = np.zeros_like(theta)
        opt = optimizers.create("lion", lr=lr, beta1=b1, beta2=b2, weight_decay=wd)
        for t in range(60):
            g = rng.normal(size=(4, 3))
            g[0, 0] = 0.0 if t < 3 else g[0, 0]  # sign(0) = 0 while m is still 0
            c = b1 * m + (1 - b1) * g
            theta = theta - lr * (np.sign(c) + wd * theta)
            m = b2 * m + (1 - b2) * g
            opt.step({"w": mine}, {"w": g})
            np.testing.assert_allclose(mine, theta, rtol=1e-15, atol=1e-15)
    # Without decay every coordinate moves by exactly lr (or not at all for a zero gradient).
    w = np.array([1.0, -2.0, 3.0])
    lion = optimizers.create("lion", lr=0.25, weight_decay=0.0)
    lion.step({"w": w}, {"w": np.array([5, -1e-9, 0.0])})
    np.testing.assert_array_equal(w, [0.75, -1.75, 3.0])


def _textbook_adaptive_adam(hp: dict, theta: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    used = []
    b1, lo, k, period = hp["beta1"], hp["beta1_min"], hp["beta1_decay"], hp["period"]
    for t, g in enumerate(grads, start=1):
        if hp["beta1_schedule"] == "decay":
            beta = lo + (b1 - lo) / (1 + k * (t - 1))
        elif hp["beta1_schedule"] == "cyclic":
            beta = lo + (b1 - lo) * 0.5 * (1 + math.cos(2 * math.pi * (t - 1) / period))
        else:
            beta = b1
        used.append(beta)
        g = g + hp["weight_decay"] * theta
        m = beta * m + (1 - beta) * g
        v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
        m_hat = m / (1 - np.prod(used))
        v_hat = v / (1 - hp["beta2"] ** t)
        theta = theta - hp["lr"] * m_hat / (np.sqrt(v_hat) + hp["eps"])
    return theta


@pytest.mark.parametrize("schedule", ["decay", "cyclic"])
def test_adaptive_adam_matches_the_textbook_update(schedule):
    rng = np.random.default_rng(11)
    hp = optimizers.validate(
        "adaptive-adam",
        dict(lr=0.02, beta1=0.95, beta1_min=0.3, beta1_decay=0.05, period=9, weight_decay=0.01),
    )
    hp["beta1_schedule"] = schedule
    theta = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(120)]
    want = _textbook_adaptive_adam(hp, theta.copy(), grads)
    opt = optimizers.create("adaptive-adam", **hp)
    p = {"x": theta.copy()}
    for g in grads:
        opt.step(p, {"x": g})
    np.testing.assert_allclose(p["x"], want, rtol=1e-12)


def test_adaptive_adam_constant_is_adam_bit_for_bit():
    rng = np.random.default_rng(2)
    a = optimizers.create("adam", lr=0.01, beta1=0.8, weight_decay=0.01)
    b = optimizers.create("adaptive-adam", lr=0.01, beta1=0.8, weight_decay=0.01)
    pa = {"x": rng.normal(size=(3, 4)), "s": np.array(0.5)}
    pb = {k: v.copy() for k, v in pa.items()}
    for t in range(1, 301):
        g = {k: np.sin(v * t) for k, v in pa.items()}
        a.step(pa, g, lr=0.01 * (1 + 0.5 * math.cos(t)))
        b.step(pb, g, lr=0.01 * (1 + 0.5 * math.cos(t)))
    assert all(pa[k].tobytes() == pb[k].tobytes() for k in pa)


def test_adaptive_adam_schedules_and_bias_correction():
    cyc = optimizers.create("adaptive-adam", beta1_schedule="cyclic", period=10)
    betas = [cyc.beta1_at(t) for t in range(1, 41)]
    assert betas[0] == 0.9 and min(betas) == pytest.approx(0.5) and betas[5] == pytest.approx(0.5)
    assert all(0.5 - 1e-12 <= b <= 0.9 for b in betas)  # never 0 unless beta1_min = 0
    dec = optimizers.create("adaptive-adam", beta1_schedule="decay", beta1_decay=0.1)
    dbetas = [dec.beta1_at(t) for t in range(1, 2000)]
    assert dbetas[0] == 0.9 and all(x > y for x, y in itertools.pairwise(dbetas))
    assert 0.5 < dbetas[-1] < 0.51
    # With a constant gradient, m̂ = g and v̂ = g² exactly when the correction is the product of
    # the betas used: with eps = 0 every step moves each coordinate by exactly lr. (The naive
    # 1 − β₁ᵗ correction overshoots or undershoots as soon as β₁ moves.)
    for opt in (
        optimizers.create("adaptive-adam", lr=0.01, eps=0, beta1_schedule="cyclic", period=6),
        optimizers.create("adaptive-adam", lr=0.01, eps=0, beta1_schedule="decay", beta1_decay=1),
    ):
        p = np.zeros(3)
        for t in range(1, 40):
            opt.step({"x": p}, {"x": np.array([2.0, -0.5, 1e-3])})
            np.testing.assert_allclose(p, [-0.01 * t, 0.01 * t, -0.01 * t], rtol=1e-12)
