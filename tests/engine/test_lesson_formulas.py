"""The tutorials' formulas that lessons race (engine.lessons.formulas), and the hidden flag.

Each formula is checked against a plain reference loop written from the formula as stated
(tutorial 001's NAdam, tutorial 000's AMSGrad, Adam without its corrections), and against its
first step worked out by hand. Hidden optimizers are creatable and nameable in experiment
files but appear in no listing.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine import config, optimizers
from engine.run import Run, RunConfig

HIDDEN = ["adam-no-correction", "nadam-tutorial", "amsgrad-tutorial"]
B1, B2, EPS = 0.9, 0.999, 1e-8


def reference(name: str, grads: list[np.ndarray], p0: np.ndarray, lr: float) -> np.ndarray:
    """The formula as the tutorial (or the paper, for Adam) states it, one step at a time."""
    p = p0.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g**2
        if name == "adam-no-correction":
            p = p - lr * m / (np.sqrt(v) + EPS)
        elif name == "nadam-tutorial":
            m_hat = m / (1 - B1**t)
            v_hat = v / (1 - B2**t)
            m_bar = (B1 * m_hat + (1 - B1) * g) / (1 - B1**t)
            p = p - lr * m_bar / (np.sqrt(v_hat) + EPS)
        else:  # amsgrad-tutorial
            vmax = np.maximum(vmax, v)
            p = p - lr * (m / (1 - B1**t)) / (np.sqrt(vmax) + EPS)
    return p


@pytest.mark.parametrize("name", HIDDEN)
def test_matches_the_formula_as_written(name):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) * 10.0 ** rng.uniform(-3, 1) for _ in range(40)]
    opt = optimizers.create(name, lr=0.01)
    params = {"w": p0.copy()}
    for g in grads:
        opt.step(params, {"w": g})
    np.testing.assert_allclose(params["w"], reference(name, grads, p0, 0.01), rtol=1e-12)
    assert opt.steps == 40 and opt.state("w")["step"] == 40


@pytest.mark.parametrize(
    ("name", "factor"),
    [
        # m₁ = 0.1g and √v₁ = √0.001·|g|: the step is 0.1/0.0316 ≈ 3.16 times the rate.
        ("adam-no-correction", (1 - B1) / np.sqrt(1 - B2)),
        # m̂ = g, then (0.9g + 0.1g)/0.1 = 10g over √v̂ = |g|: ten times the rate.
        ("nadam-tutorial", 1 / (1 - B1)),
        # m̂ = g over the uncorrected √v₁ = √0.001·|g|: about 31.6 times the rate.
        ("amsgrad-tutorial", 1 / np.sqrt(1 - B2)),
    ],
)
def test_first_step_by_hand(name, factor):
    g = np.array([0.5, -2.0, 0.01])
    params = {"w": np.zeros(3)}
    optimizers.create(name, lr=0.1).step(params, {"w": g})
    np.testing.assert_allclose(params["w"], -0.1 * factor * np.sign(g), rtol=1e-4)


def test_the_tutorials_nadam_is_not_nadam():
    """The lesson's point: torch's NAdam and tutorial 001's formula part after one step."""
    g = {"x": np.array([4.0])}
    a, b = {"x": np.array([2.0])}, {"x": np.array([2.0])}
    optimizers.create("nadam", lr=0.001).step(a, g)
    optimizers.create("nadam-tutorial", lr=0.001).step(b, g)
    assert abs(2.0 - b["x"][0]) > 9 * abs(2.0 - a["x"][0])


def test_each_parameter_keeps_its_own_state():
    """The errata's shared-state bug: arrays of different shapes must not share m and v."""
    opt = optimizers.create("nadam-tutorial", lr=0.01)
    p = {"W": np.ones((2, 3)), "b": np.ones(3)}
    g = {"W": np.full((2, 3), 0.5), "b": np.full(3, -2.0)}
    for _ in range(3):
        opt.step(p, g)
    alone = {"b": np.ones(3)}
    other = optimizers.create("nadam-tutorial", lr=0.01)
    for _ in range(3):
        other.step(alone, {"b": g["b"]})
    np.testing.assert_array_equal(p["b"], alone["b"])
    assert opt.state("W")["exp_avg"].shape == (2, 3)


@pytest.mark.parametrize("name", HIDDEN)
def test_lr_override_reset_and_bad_input(name):
    opt = optimizers.create(name, lr=0.01)
    a = {"w": np.ones(2)}
    opt.step(a, {"w": np.ones(2)}, lr=0.0)
    np.testing.assert_array_equal(a["w"], np.ones(2))  # rate 0: no move
    opt.reset()
    assert opt.steps == 0
    with pytest.raises(ValueError, match=r"lr must be a number in \[0, inf\), got -1"):
        opt.step(a, {"w": np.ones(2)}, lr=-1)
    with pytest.raises(ValueError, match="grads has no entry for parameter 'w'"):
        opt.step(a, {})
    with pytest.raises(ValueError, match=r"beta2 must be a number in \[0, 1\)"):
        optimizers.create(name, beta2=1.0)


@pytest.mark.parametrize("name", HIDDEN)
def test_hidden_from_listings_but_creatable(name):
    assert name not in optimizers.names()
    assert name in optimizers.names(include_hidden=True)
    assert optimizers.get(name).hidden
    assert not optimizers.get("nadam").hidden
    with pytest.raises(ValueError, match="unknown optimizer 'nadamm'") as err:
        optimizers.get("nadamm")
    assert name not in str(err.value)  # the "expected one of" list offers only real ones


@pytest.mark.parametrize("name", HIDDEN)
def test_a_run_steps_them_like_any_optimizer(name):
    """Elementwise: the run's one-flat-buffer fast path gives the per-key result."""
    cfg = RunConfig(task="linear-regression", optimizer=name, optimizer_hypers={"lr": 0.05})
    run = Run(cfg, history_capacity=None)
    run.step(30)
    task = run.task
    params = task.init_params(np.random.default_rng(np.random.SeedSequence(0).spawn(2)[0]))
    opt = optimizers.create(name, lr=0.05)
    for _ in range(30):
        _, grads = task.loss_and_grads(params, (task.X, task.y))
        opt.step(params, grads)
    np.testing.assert_allclose(run.params["w"], params["w"], rtol=1e-12)
    np.testing.assert_allclose(run.params["b"], params["b"], rtol=1e-12)


def test_experiment_files_can_name_them():
    text = 'task = "quadratic"\noptimizer = "nadam-tutorial"\n[optimizer_hypers]\nlr = 0.01\n'
    exp = config.loads(text)
    assert exp.config.optimizer == "nadam-tutorial"
    assert config.loads(config.dumps(exp)) == exp  # saved and loaded back


def test_a_fresh_process_knows_them_without_importing_lessons():
    """engine.kinds imports the hidden formulas with the optimizer registry, so a plain
    `optplay run --config file` naming one works."""
    code = (
        "from engine.run import RunConfig, Run\n"
        "r = Run(RunConfig(task='quadratic', optimizer='amsgrad-tutorial'))\n"
        "r.step(3)\n"
        "print(r.steps_done)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


# -- how far the step as written is from its fix's step (the State tab's figures) -----------


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(a * a)))


def test_nadams_distance_from_its_fix_equals_the_hand_computation_at_steps_1_to_3():
    """Both steps worked out from the same m, v and g: as written m̄ is divided by 1 − β₁ᵗ a
    second time, so Δ = Δfix / (1 − β₁ᵗ): the distance is β₁ᵗ/(1 − β₁ᵗ) = 9, 81/19, 729/271
    and the ratio 1/(1 − β₁ᵗ) = 10, 100/19, 1000/271."""
    grads = [np.array([0.5, -2.0, 0.01]), np.array([1.0, 3.0, -0.2]), np.array([-0.3, 0.1, 4.0])]
    lr = 0.1
    opt = optimizers.create("nadam-tutorial", lr=lr)
    params = {"w": np.zeros(3)}
    m = np.zeros(3)
    v = np.zeros(3)
    for t, g in enumerate(grads, start=1):
        before = params["w"].copy()
        opt.step(params, {"w": g})
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        m_hat, v_hat = m / (1 - B1**t), v / (1 - B2**t)
        fixed = -lr * (B1 * m_hat + (1 - B1) * g) / (np.sqrt(v_hat) + EPS)
        as_written = -lr * ((B1 * m_hat + (1 - B1) * g) / (1 - B1**t)) / (np.sqrt(v_hat) + EPS)
        np.testing.assert_allclose(params["w"] - before, as_written, rtol=1e-12)
        scalars = opt.scalars("w")
        distance = _norm(as_written - fixed) / _norm(fixed)
        assert scalars.fix_distance == pytest.approx(distance, rel=1e-12)
        assert scalars.fix_ratio == pytest.approx(_norm(as_written) / _norm(fixed), rel=1e-12)
        assert scalars.fix_distance == pytest.approx(B1**t / (1 - B1**t), rel=1e-12)


def test_amsgrads_first_step_is_31_times_its_fix():
    """v̄₁ = (1 − β₂)g² uncorrected: the step is 1/√(1 − β₂) ≈ 31.6 times torch's (ε = 0)."""
    opt = optimizers.create("amsgrad-tutorial", lr=0.1, eps=0.0)
    opt.step({"w": np.zeros(3)}, {"w": np.array([0.5, -2.0, 0.01])})
    assert opt.scalars("w").fix_ratio == pytest.approx(1 / np.sqrt(1 - B2), rel=1e-12)
    assert opt.scalars("w").fix_distance == pytest.approx(1 / np.sqrt(1 - B2) - 1, rel=1e-12)


@pytest.mark.parametrize("name", HIDDEN)
def test_a_run_records_the_distance_from_the_fix_in_its_state_summaries(name):
    run = Run(RunConfig(task="rosenbrock", optimizer=name, optimizer_hypers={"lr": 0.02},
                        state_every=1))  # fmt: skip
    run.step(3)
    s = run.state_summaries
    assert s.scalars and {q.key for q in s.scalars} == {"fix_distance", "fix_ratio"}
    distance = s.scalar("fix_distance")
    assert distance.steps.tolist() == [1, 2, 3]
    assert np.all(np.isfinite(distance.values)) and np.all(distance.values > 0)
    assert run.inspect().scalars["fix_distance"] == distance.values[-1]
    if name == "nadam-tutorial":
        expected = [B1**t / (1 - B1**t) for t in (1, 2, 3)]
        np.testing.assert_allclose(distance.values, expected, rtol=1e-12)
    assert optimizers.get(name).differs and optimizers.get(name).fixed
