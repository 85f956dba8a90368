"""Inside the optimizer: named state against torch, effective lr against the actual update,
per-parameter views of a run, and what each optimizer declares about its state.

The torch references live in fixtures/optimizer_state.npz, written by
make_optimizer_state_fixtures.py (torch 2.13.0, float64, foreach=False): the whole
`optimizer.state[p]` after 50 and 300 steps of random-knob, random-shape cases with an lr that
changes every step. Lion and adaptive-adam are checked against textbook code written here.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from make_optimizer_fixtures import TWINS, gradient, lr_at
from make_optimizer_state_fixtures import CHECKPOINTS, STEPS
from test_optimizers import ELEMENTWISE, RICH

from engine import optimizers
from engine.optimizer_state import StateDoc, StateInspection

FIXTURES = Path(__file__).parent / "fixtures" / "optimizer_state.npz"
_Z = np.load(FIXTURES)
CASES = json.loads(str(_Z["meta"]))
NOISE = _Z["noise"]
FACTORS = _Z["lr_factors"]


def _problem(case: dict) -> dict:
    shape = tuple(case["shape"])
    n = math.prod(shape)
    s = case["start"]
    return {k: _Z[k][s : s + n].reshape(shape) for k in ("p0", "a", "c", "stride", "offset")}


def _torch_state(checkpoint: dict) -> dict[str, np.ndarray]:
    out = {}
    for key, where in checkpoint["keys"].items():
        n = math.prod(where["shape"])
        out[key] = _Z["state"][where["start"] : where["start"] + n].reshape(where["shape"])
    return out


def _case_id(i: int) -> str:
    c = CASES[i]
    return f"{c['optimizer']}-{c['lr_mode']}-{i}"


# -- torch's optimizer.state[p] ------------------------------------------------------------


def test_state_fixtures_cover_every_torch_twin_and_every_state_key():
    assert CHECKPOINTS == (50, 300) and STEPS == 300
    keys_seen: set[str] = set()
    for name in TWINS:
        cases = [c for c in CASES if c["optimizer"] == name]
        assert sum(c["lr_mode"] == "varying" for c in cases) >= 5, name
        assert {len(c["shape"]) for c in cases} >= {0, 1, 2}, name
        for c in cases:
            assert [cp["step"] for cp in c["checkpoints"]] == [50, 300]
            keys_seen |= set(c["checkpoints"][0]["keys"])
    assert keys_seen >= {
        "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "sum",
        "square_avg", "grad_avg", "acc_delta", "exp_inf", "mu_product", "row_var", "col_var",
        "variance",
    }  # fmt: skip


@pytest.mark.parametrize("i", range(len(CASES)), ids=_case_id)
def test_every_state_tensor_matches_torch(i):
    """After 50 and 300 steps every entry of torch's optimizer.state[p] is in ours under the
    same key, equal to 1e-10 relative; we keep no state array torch does not."""
    case = CASES[i]
    prob = _problem(case)
    p = prob["p0"].copy()
    opt = optimizers.create(case["optimizer"], **case["hypers"])
    checkpoints = {cp["step"]: cp for cp in case["checkpoints"]}
    for t in range(1, STEPS + 1):
        g = gradient(p, t, prob, NOISE)
        lr = lr_at(t, case["hypers"]["lr"], FACTORS) if case["lr_mode"] == "varying" else None
        opt.step({"x": p}, {"x": g}, lr=lr)
        if t not in checkpoints:
            continue
        ours = opt.state("x")
        theirs = _torch_state(checkpoints[t])
        for key, ref in theirs.items():
            assert key in ours, (key, sorted(ours))
            mine = np.asarray(ours[key], dtype=np.float64)
            assert mine.shape == ref.shape, key
            np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=0, err_msg=f"{key} at {t}")
        arrays = {k for k, v in ours.items() if isinstance(v, np.ndarray)}
        assert arrays <= set(theirs), arrays - set(theirs)


# -- Lion and adaptive-adam against textbook code --------------------------------------------


@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_lion_state_matches_the_textbook(wd):
    rng = np.random.default_rng(8)
    lr0, b1, b2 = 0.01, 0.8, 0.95
    theta = rng.normal(size=(3, 4))
    m = np.zeros_like(theta)
    p = theta.copy()
    opt = optimizers.create("lion", lr=lr0, beta1=b1, beta2=b2, weight_decay=wd)
    for t in range(1, 301):
        lr = lr_at(t, lr0, FACTORS)
        g = np.sin(3 * theta + t)
        theta = theta - lr * (np.sign(b1 * m + (1 - b1) * g) + wd * theta)
        m = b2 * m + (1 - b2) * g
        opt.step({"w": p}, {"w": g.copy()}, lr=lr)
        if t in (50, 300):
            st = opt.state("w")
            assert st["step"] == t and set(st) == {"step", "exp_avg"}
            np.testing.assert_allclose(st["exp_avg"], m, rtol=1e-13, atol=1e-15)
            np.testing.assert_array_equal(opt.derived("w")["effective_lr"], np.full((3, 4), lr))


@pytest.mark.parametrize("schedule", ["constant", "decay", "cyclic"])
def test_adaptive_adam_state_and_scalars_match_the_textbook(schedule):
    rng = np.random.default_rng(12)
    hp = optimizers.validate(
        "adaptive-adam",
        dict(lr=0.02, beta1=0.95, beta1_min=0.3, beta1_decay=0.05, period=9, weight_decay=0.01),
    )
    hp["beta1_schedule"] = schedule
    theta = rng.normal(size=5)
    p = theta.copy()
    m = np.zeros(5)
    v = np.zeros(5)
    product = 1.0
    opt = optimizers.create("adaptive-adam", **hp)
    for t in range(1, 301):
        if schedule == "decay":
            beta = hp["beta1_min"] + (hp["beta1"] - hp["beta1_min"]) / (
                1 + hp["beta1_decay"] * (t - 1)
            )
        elif schedule == "cyclic":
            cos = math.cos(2 * math.pi * (t - 1) / hp["period"])
            beta = hp["beta1_min"] + (hp["beta1"] - hp["beta1_min"]) * (1 + cos) / 2
        else:
            beta = hp["beta1"]
        product *= beta
        lr = lr_at(t, hp["lr"], FACTORS)
        g = np.cos(2 * theta + t) + hp["weight_decay"] * theta
        m = beta * m + (1 - beta) * g
        v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
        v_hat = v / (1 - hp["beta2"] ** t)
        alpha = lr / (np.sqrt(v_hat) + hp["eps"])
        theta = theta - alpha * m / (1 - product)
        opt.step({"x": p}, {"x": np.cos(2 * p + t)}, lr=lr)
        if t in (50, 300):
            st, sc, der = opt.state("x"), opt.scalars("x"), opt.derived("x")
            np.testing.assert_allclose(st["exp_avg"], m, rtol=1e-10)
            np.testing.assert_allclose(st["exp_avg_sq"], v, rtol=1e-10)
            assert st["beta1_product"] == pytest.approx(product, rel=1e-12)
            assert sc.beta1 == pytest.approx(beta, rel=1e-14)
            assert sc.bias_correction1 == pytest.approx(1 - product, rel=1e-12)
            assert sc.bias_correction2 == pytest.approx(1 - hp["beta2"] ** t, rel=1e-12)
            np.testing.assert_allclose(der["exp_avg_hat"], m / (1 - product), rtol=1e-10)
            np.testing.assert_allclose(der["exp_avg_sq_hat"], v_hat, rtol=1e-10)
            np.testing.assert_allclose(der["effective_lr"], alpha, rtol=1e-10)


# -- the effective learning rate reproduces the update -----------------------------------------


def _used_grad(h: dict, g: np.ndarray, prev: np.ndarray, decoupled: bool) -> np.ndarray:
    d = -g if h.get("maximize") else g.copy()
    wd = h.get("weight_decay", 0.0)
    if wd and not decoupled:
        d = d + wd * prev
    return d


def _decoupled(name: str, h: dict) -> bool:
    if name == "adabound":
        return bool(h["weight_decouple"])
    return name in ("adamw", "lion") or bool(h.get("decoupled_weight_decay"))


class _Textbook:
    """What each optimizer multiplies by α, written from its paper / torch docs; `step`
    returns the predicted θ_t from θ_{t−1}, the state before and after, and α."""

    def __init__(self, name: str, h: dict) -> None:
        self.name, self.h = name, h
        self.mu_product = 1.0

    def predict(self, opt, g, prev, before, alpha) -> np.ndarray:
        name, h = self.name, self.h
        st, sc = opt.state("x"), opt.scalars("x")
        lr = sc.lr
        d = _used_grad(h, g, prev, _decoupled(name, h))
        decay = 1.0
        if _decoupled(name, h) and name != "lion" and h["weight_decay"]:
            decay = 1 - lr * h["weight_decay"]
        extra = 0.0
        if name in ("sgd", "momentum", "nesterov"):
            mu = h["momentum"]
            if mu == 0:
                x = d
            elif h["nesterov"]:
                x = d + mu * st["momentum_buffer"]
            else:
                x = st["momentum_buffer"]
        elif name in ("adagrad", "adadelta"):
            x = d
        elif name == "rmsprop":
            x = d
            if h["momentum"] > 0:
                extra = lr * h["momentum"] * before["momentum_buffer"]
        elif name in ("adam", "amsgrad", "adamw", "adaptive-adam", "radam", "adamax"):
            x = st["exp_avg"] / sc.bias_correction1
        elif name == "nadam":
            t = st["step"]
            b1, psi = h["beta1"], h["momentum_decay"]
            mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
            self.mu_product *= mu
            pi = self.mu_product
            x = (1 - mu) / (1 - pi) * d + mu_next / (1 - pi * mu_next) * st["exp_avg"]
        elif name == "lion":
            c = h["beta1"] * before["exp_avg"] + (1 - h["beta1"]) * g
            x = np.sign(c) + h["weight_decay"] * prev
        elif name == "adabound":
            x = st["exp_avg"]
            if h["weight_decay"] and h["weight_decouple"]:
                decay = 1 - h["weight_decay"] * (1.0 if h["fixed_decay"] else lr)
        elif name == "rprop":  # sign of g, 0 where it flipped (what the state remembers)
            x = np.sign(st["prev"])
        elif name == "asgd":
            x = d
            decay = 1 - h["lambd"] * sc.eta
        elif name in ("schedulefree-adamw", "schedulefree-sgd"):
            # θ ← θ + c(z − θ) + η(β(1 − c) − 1)·(ĝ + λθ), ĝ = g (SGD) or g/(√v̂ + ε)
            x = g
            extra = -sc.ckp1 * (before.get("z", prev) - prev)
            decay = 1 + sc.y_step * h["weight_decay"]
        else:
            raise AssertionError(name)
        return prev * decay - extra - alpha * x


def _reproduction_cases() -> list[tuple[str, dict]]:
    out = [(name, RICH[name]) for name in ELEMENTWISE]
    out += [(name, {}) for name in ELEMENTWISE]
    out += [(c["optimizer"], c["hypers"]) for c in CASES if c["lr_mode"] == "varying"]
    out.append(("adaptive-adam", dict(lr=0.01, beta1_schedule="decay", beta1_decay=0.1)))
    return [(n, h) for n, h in out if optimizers.get(n).elementwise]


@pytest.mark.parametrize(
    ("name", "hypers"), _reproduction_cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_effective_lr_times_what_it_multiplies_is_the_actual_step(name, hypers):
    """θ_t = θ_{t−1}·(decoupled decay) − α ⊙ X (RMSprop with momentum also − η·μ·b_{t−1}),
    X being g, m̂, the momentum buffer ... as the optimizer's state_doc says: equal to the
    actual parameters within rounding (4 ulp of θ plus 1e-13 of the step)."""
    h = optimizers.validate(name, hypers)
    opt = optimizers.create(name, **h)
    book = _Textbook(name, h)
    rng = np.random.default_rng(5)
    p = rng.normal(size=7)
    p[0] = 0.0  # a coordinate whose gradient starts at exactly zero
    for t in range(1, 61):
        g = np.sin(3 * p + t) + 0.3 * p
        g[0] = 0.0 if t < 4 else g[0]
        prev = p.copy()
        before = {k: np.array(v, copy=True) for k, v in opt.state("x").items()} if t > 1 else {}
        if name == "rmsprop" and h["momentum"] > 0 and t == 1:
            before["momentum_buffer"] = np.zeros(7)
        if name == "lion" and t == 1:
            before["exp_avg"] = np.zeros(7)
        opt.step({"x": p}, {"x": g}, lr=lr_at(t, h["lr"], FACTORS))
        alpha = opt.derived("x", g, prev)["effective_lr"]
        want = book.predict(opt, g, prev, before, alpha)
        tol = 4 * np.spacing(np.maximum(np.abs(p), np.abs(prev))) + 1e-13 * np.abs(p - prev)
        assert np.all(np.abs(want - p) <= tol), (t, want - p, tol)


def test_sgd_and_adam_effective_lr_by_definition():
    sgd = optimizers.create("sgd", lr=0.1, momentum=0.5)
    adam = optimizers.create("adam", lr=0.01, eps=1e-3)
    p, q = np.ones(3), np.ones(3)
    for t in range(1, 6):
        sgd.step({"w": p}, {"w": np.arange(3.0) * t}, lr=0.1 * t)
        adam.step({"w": q}, {"w": np.arange(3.0) * t})
    np.testing.assert_array_equal(sgd.derived("w")["effective_lr"], [0.5, 0.5, 0.5])
    v_hat = adam.state("w")["exp_avg_sq"] / (1 - 0.999**5)
    np.testing.assert_allclose(
        adam.derived("w")["effective_lr"], 0.01 / (np.sqrt(v_hat) + 1e-3), rtol=1e-14
    )
    assert adam.derived("w")["effective_lr"][0] == pytest.approx(0.01 / 1e-3)  # g = 0 there


def test_nadam_and_radam_scalars():
    nadam = optimizers.create("nadam", lr=0.01, momentum_decay=0.01)
    radam = optimizers.create("radam", beta2=0.9)
    p, q = np.ones(2), np.ones(2)
    product = 1.0
    for t in range(1, 8):
        nadam.step({"w": p}, {"w": np.ones(2)})
        radam.step({"w": q}, {"w": np.ones(2)})
        mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 0.01))
        product *= mu
        sc = nadam.scalars("w")
        assert sc.mu == mu and sc.mu_product == pytest.approx(product, rel=1e-15)
        assert nadam.state("w")["mu_product"] == sc.mu_product
        rs = radam.scalars("w")
        rho_inf = 2 / (1 - 0.9) - 1
        rho_t = rho_inf - 2 * t * 0.9**t / (1 - 0.9**t)
        assert rs.rho_t == pytest.approx(rho_t, rel=1e-14)
        assert rs.rectified is (rho_t > 5) and (rs.rect is None) is (rho_t <= 5)
    assert not radam.scalars("w").rectified or radam.scalars("w").rect > 0


# -- declarations --------------------------------------------------------------------------


@pytest.mark.parametrize("name", optimizers.names())
def test_each_optimizer_declares_its_state_and_effective_lr(name):
    cls = optimizers.get(name)
    doc = cls.state_doc
    assert isinstance(doc, StateDoc) and "α" in doc.effective_lr and "θ ←" in doc.effective_lr
    assert doc.state[0].key == "step" and all(q.help and q.symbol for q in doc.state)
    assert any(q.key == "effective_lr" for q in doc.derived)
    assert doc.summaries[0].key == "effective_lr"
    declared_state = {q.key for q in doc.state}
    declared_derived = {q.key for q in doc.derived}
    for s in doc.summaries:
        if s.via:  # a monotone function of an earlier-declared summary
            assert s.via in {x.key for x in doc.summaries} and not s.source, s
        else:
            assert s.source in declared_state | declared_derived, s
            assert s.op in ("", "abs", "sqrt")
    for knob in [q.knob for q in (*doc.state, *doc.summaries) if q.knob]:
        assert knob in {h.name for h in cls.specs}, knob
    # What a step with every optional path on creates is exactly what is declared.
    shape = (3, 4)
    opt = optimizers.create(name, **RICH[name])
    p = np.ones(shape)
    for t in range(1, 4):
        if opt.needs_closure:  # L-BFGS: the objective Σ −cos(θ + t) of that gradient
            closure = lambda t=t: (float(np.sum(-np.cos(p + t))), {"x": np.sin(p + t)})  # noqa: E731
            opt.step({"x": p}, {"x": np.sin(p + t)}, closure=closure, loss=closure()[0])
        else:
            opt.step({"x": p}, {"x": np.sin(p + t)})
    kept = set(opt.state("x"))
    applies = {q.key for q in doc.state if q.applies(opt.hypers)}
    if name == "adafactor":  # a matrix: the row and column factors, no full variance
        applies -= {"variance"}
    if name == "muon":  # a matrix: Muon's momentum, not the AdamW fallback's moments
        applies -= {"exp_avg", "exp_avg_sq"}
    assert kept == applies
    derived = opt.derived("x", np.sin(p), p)
    assert set(derived) == declared_derived
    assert all(a.shape == shape and not a.flags.writeable for a in derived.values())
    fields = opt.scalars("x")._fields
    assert {q.key for q in doc.scalars} <= set(fields)
    assert all(q.key in fields for q in doc.tracked_scalars())
    assert doc.lines()[0] == "state:" and any(x.startswith("effective lr: ") for x in doc.lines())


@pytest.mark.parametrize("name", optimizers.names())
def test_derived_on_a_scalar_parameter_equals_its_one_element_vector(name):
    # A 0-d parameter (a bias b, the quadratic's x) read directly, not through a Run's flat
    # buffer: NumPy gives scalars for arithmetic on 0-d arrays, which `out=` cannot take.
    runs = {}
    for shape in ((), (1,)):
        opt = optimizers.create(name, **RICH[name])
        p = np.full(shape, 0.7)
        for t in range(1, 4):
            prev = p.copy()
            g = np.asarray(np.sin(p + t))
            if opt.needs_closure:
                closure = lambda g=g, p=p: (float(np.sum(-np.cos(p))), {"x": g})  # noqa: E731
                opt.step({"x": p}, {"x": g}, closure=closure, loss=closure()[0])
            else:
                opt.step({"x": p}, {"x": g})
        runs[shape] = opt.derived("x", g, prev)
    scalar, vector = runs[()], runs[(1,)]
    assert set(scalar) == set(vector) and "effective_lr" in scalar
    for key, arr in scalar.items():
        assert isinstance(arr, np.ndarray) and arr.shape == () and not arr.flags.writeable, key
        np.testing.assert_array_equal(arr.reshape(1), vector[key], err_msg=key)


def test_state_views_are_read_only_and_reading_creates_nothing():
    opt = optimizers.create("sgd", lr=0.1)
    p = np.ones(4)
    opt.step({"x": p}, {"x": np.ones(4)})
    assert opt.state("x") == {"step": 1}  # momentum 0: no buffer, and reading makes none
    opt.set_hypers(momentum=0.9)
    opt.state("x")
    opt.derived("x", np.ones(4), p)
    assert "momentum_buffer" not in opt._state["x"].bufs
    opt.step({"x": p}, {"x": np.ones(4)})
    buf = opt.state("x")["momentum_buffer"]
    assert not buf.flags.writeable and np.shares_memory(
        buf, opt._state["x"].bufs["momentum_buffer"]
    )
    with pytest.raises(ValueError, match="read-only"):
        buf[0] = 1.0
    with pytest.raises(KeyError):
        opt.state("nope")


def test_derived_quantities_describe_the_last_step_not_later_edits():
    opt = optimizers.create("adam", lr=0.01, eps=1e-8)
    p = np.ones(3)
    opt.step({"x": p}, {"x": np.array([1.0, 2.0, 3.0])})
    before = opt.derived("x")["effective_lr"].copy()
    opt.set_hypers(eps=0.5, amsgrad=True)  # applies from the next step
    np.testing.assert_array_equal(opt.derived("x")["effective_lr"], before)
    assert opt.knobs_used("x")["eps"] == 1e-8


def test_inspection_snapshot_copies():
    from engine.run import Run, RunConfig

    run = Run(RunConfig(task="quadratic", optimizer="adam"))
    run.step(2)
    snap = run.inspect()
    assert isinstance(snap, StateInspection) and not snap.live and snap.step == 2
    copy = snap.snapshot()
    run.step(1)
    x = snap.params["x"]
    assert copy.params["x"].state["exp_avg"] != x.state["exp_avg"]  # the view moved on
    assert copy.params["x"].state["exp_avg"].flags.writeable
    # Plain data: it crosses a process boundary as it is.
    now = run.inspect(wait=True)
    shipped = pickle.loads(pickle.dumps(now))
    assert shipped.params["x"].derived["effective_lr"] == now.params["x"].derived["effective_lr"]
    assert shipped.params["x"].state["exp_avg"] == x.state["exp_avg"]  # the live value
    assert shipped.doc == optimizers.get("adam").state_doc and shipped.step == 3
