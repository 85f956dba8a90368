"""engine/theory.py against the runs it describes: predicted losses equal the engine's to 1e-9
relative over 1,000 steps, closed forms equal the rates of the recurrences, GD just under its
stability limit converges and just over it diverges, sharpness equals λ_max."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import tasks, theory
from engine.outcome import first_step_at_most
from engine.run import Run, RunConfig
from engine.tasks.base import QuadraticLoss

STEPS = 1000
RAVINE = {"condition": 100.0, "angle": 0.0, "x0": -4.0, "y0": 1.5}  # the momentum-ravine lesson

QUADRATIC_TASKS = [
    ("quadratic", {"a": 1.5, "x0": 2.0}),
    ("ill-conditioned", {"condition": 10.0, "angle": 0.0}),
    ("ill-conditioned", {"condition": 100.0, "angle": 30.0}),
    ("ill-conditioned", {"condition": 1000.0, "angle": -60.0}),
    ("linear-regression", {"n_features": 3, "batch_size": 0}),
]
OPTIMIZERS = [
    ("sgd", {}),
    ("momentum", {"momentum": 0.9}),
    ("momentum", {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.01}),
    ("nesterov", {"momentum": 0.8}),
]
SCHEDULES = [("constant", {}), ("cosine", {"total_steps": 800}), ("warmup", {})]


def train(
    task: str,
    task_hypers: dict,
    optimizer: str,
    hypers: dict,
    schedule: str = "constant",
    schedule_hypers: dict | None = None,
    steps: int = STEPS,
) -> Run:
    cfg = RunConfig(
        task=task,
        optimizer=optimizer,
        schedule=schedule,
        task_hypers=task_hypers,
        optimizer_hypers=hypers,
        schedule_hypers=schedule_hypers or {},
        eval_every=0,
    )
    run = Run(cfg, history_capacity=None)
    run.step(steps)
    return run


def stable_fraction(th: theory.Theory, optimizer: str, hypers: dict, fraction: float) -> float:
    """`fraction` of the optimizer's stability limit on this task."""
    kind = theory.optimizer_kind(
        optimizer, {"momentum": 0.0, "nesterov": optimizer == "nesterov", **hypers}
    )
    mu = hypers.get("momentum", 0.0)
    if kind == "gd":
        limit = theory.gd_lr_stable_max(th.lam_max)
    elif kind == "heavy_ball":
        limit = theory.heavy_ball_lr_stable_max(th.lam_max, mu, hypers.get("dampening", 0.0))
    else:
        limit = theory.nesterov_lr_stable_max(th.lam_max, mu)
    return fraction * limit


def predicted_for(run: Run, steps: int = STEPS) -> theory.Prediction:
    cfg = run.config
    th = theory.analyse(run.task)
    assert theory.why_not_predicted(th, cfg.optimizer, cfg.optimizer_hypers, run.schedule) is None
    start = theory.start_params(run.task, cfg.seed)
    return theory.predict(th, start, cfg.optimizer, cfg.optimizer_hypers, run.schedule.curve(steps))


@pytest.mark.parametrize("schedule, schedule_hypers", SCHEDULES)
@pytest.mark.parametrize("optimizer, hypers", OPTIMIZERS)
@pytest.mark.parametrize("task, task_hypers", QUADRATIC_TASKS)
def test_predicted_loss_equals_the_run_at_every_step(
    task, task_hypers, optimizer, hypers, schedule, schedule_hypers
):
    th = theory.analyse(tasks.create(task, **task_hypers))
    assert th.exact and not th.local
    # a rate that keeps every loss a normal float64 for 1,000 steps (subnormals lose digits)
    lr = stable_fraction(th, optimizer, hypers, 0.1 if task == "quadratic" else 0.6)
    run = train(task, task_hypers, optimizer, {**hypers, "lr": lr}, schedule, schedule_hypers)
    observed = run.history.buckets("loss").lasts  # step k: the loss after k - 1 updates
    assert len(observed) == STEPS and run.diverged_at is None
    assert observed.min() > np.finfo(np.float64).tiny
    predicted = predicted_for(run).loss
    assert predicted.shape == (STEPS + 1,)
    np.testing.assert_allclose(predicted[:STEPS], observed, rtol=1e-9, atol=0.0)
    # the error per eigen-direction adds up to the loss
    pred = predicted_for(run)
    recomposed = th.quadratic.min_loss + 0.5 * (pred.errors**2) @ th.eigenvalues
    np.testing.assert_allclose(recomposed, pred.loss, rtol=1e-12)


@pytest.mark.parametrize("optimizer, hypers", OPTIMIZERS)
def test_a_diverging_run_is_predicted_until_it_stops(optimizer, hypers):
    task_hypers = {"condition": 30.0, "angle": 20.0}
    th = theory.analyse(tasks.create("ill-conditioned", **task_hypers))
    lr = stable_fraction(th, optimizer, hypers, 1.05)
    run = train("ill-conditioned", task_hypers, optimizer, {**hypers, "lr": lr})
    assert run.diverged_at is not None
    observed = run.history.buckets("loss").lasts
    predicted = predicted_for(run).loss
    np.testing.assert_allclose(predicted[: len(observed)], observed, rtol=1e-9)
    assert predicted[len(observed)] > observed[0] * 1e6  # the loss that stopped the run


@pytest.mark.parametrize("kappa, angle", [(10.0, 0.0), (100.0, 45.0), (1000.0, -30.0)])
@pytest.mark.parametrize("optimizer, hypers", OPTIMIZERS[:2] + OPTIMIZERS[3:])
def test_just_under_the_limit_converges_just_over_diverges(kappa, angle, optimizer, hypers):
    task_hypers = {"condition": kappa, "angle": angle}
    th = theory.analyse(tasks.create("ill-conditioned", **task_hypers))
    under = train(
        "ill-conditioned",
        task_hypers,
        optimizer,
        {**hypers, "lr": stable_fraction(th, optimizer, hypers, 0.99)},
    )
    over = train(
        "ill-conditioned",
        task_hypers,
        optimizer,
        {**hypers, "lr": stable_fraction(th, optimizer, hypers, 1.01)},
    )
    assert under.diverged_at is None
    losses = under.history.buckets("loss").lasts
    assert losses[-1] < 1e-2 * losses[0]
    assert over.diverged_at is not None


def test_gd_limit_is_two_over_lambda_max_on_linear_regression():
    task_hypers = {"n_features": 4, "batch_size": 0}
    th = theory.analyse(tasks.create("linear-regression", **task_hypers))
    limit = 2.0 / th.lam_max
    under = train("linear-regression", task_hypers, "sgd", {"lr": 0.99 * limit}, steps=3000)
    over = train("linear-regression", task_hypers, "sgd", {"lr": 1.01 * limit}, steps=3000)
    assert under.diverged_at is None and over.diverged_at is not None


def test_steps_to_target_on_the_ravine_match_the_engines_known_figures():
    th = theory.analyse(tasks.create("ill-conditioned", **RAVINE))
    start = theory.start_params(tasks.create("ill-conditioned", **RAVINE), 0)
    figures = th.figures()

    def steps(optimizer: str, hypers: dict) -> int:
        pred = theory.predict(th, start, optimizer, hypers, np.full(STEPS, hypers["lr"]))
        run = train("ill-conditioned", RAVINE, optimizer, hypers)
        measured = first_step_at_most(run.history, "loss", 1e-3)
        assert pred.steps_to(1e-3) == measured
        return measured

    assert steps("sgd", {"lr": 0.01}) == 449
    assert steps("sgd", {"lr": 0.0198}) == 291  # 2/(1 + κ) to three digits
    assert steps("momentum", {"lr": 0.01, "momentum": 0.9}) == 98
    assert steps("momentum", {"lr": 0.0331, "momentum": 0.669}) == 70  # α*, β* to three digits
    gd = figures["gd"]
    hb = figures["heavy_ball"]
    assert steps("sgd", {"lr": gd["lr_opt"]}) == 294
    assert steps("momentum", {"lr": hb["lr_opt"], "momentum": hb["momentum_opt"]}) == 53


@pytest.mark.parametrize("kappa, angle", [(4.0, 10.0), (100.0, 0.0), (1e4, 70.0)])
def test_optima_and_limits_equal_their_closed_forms(kappa, angle):
    th = theory.analyse(tasks.create("ill-conditioned", condition=kappa, angle=angle))
    np.testing.assert_allclose(th.eigenvalues, [1.0, kappa], rtol=1e-12)
    assert th.condition == pytest.approx(kappa, rel=1e-12)
    f = th.figures(momentum=0.9)
    L, m = kappa, 1.0
    assert f["gd"]["lr_stable_max"] == pytest.approx(2.0 / L, rel=1e-12)
    assert f["gd"]["lr_opt"] == pytest.approx(2.0 / (L + m), rel=1e-12)
    assert f["gd"]["rate_opt"] == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-12)
    assert f["heavy_ball"]["lr_opt"] == pytest.approx(4.0 / (math.sqrt(L) + 1.0) ** 2, rel=1e-12)
    root = math.sqrt(kappa)
    assert f["heavy_ball"]["momentum_opt"] == pytest.approx(((root - 1) / (root + 1)) ** 2)
    assert f["heavy_ball"]["lr_stable_max"] == pytest.approx(2.0 * 1.9 / L, rel=1e-12)
    assert f["nesterov"]["lr_stable_max"] == pytest.approx(2.0 * 1.9 / (2.8 * L), rel=1e-12)
    eig = th.eigenvalues
    # each optimum's rate is the spectral radius of its own recurrence ...
    assert theory.rate("gd", eig, f["gd"]["lr_opt"]) == pytest.approx(f["gd"]["rate_opt"])
    hb, nes = f["heavy_ball"], f["nesterov"]
    assert theory.rate("heavy_ball", eig, hb["lr_opt"], hb["momentum_opt"]) == pytest.approx(
        hb["rate_opt"], rel=1e-6
    )
    assert theory.rate("nesterov", eig, nes["lr_opt"], nes["momentum_opt"]) == pytest.approx(
        nes["rate_opt"], rel=1e-6
    )
    # ... and no point of a fine grid around it does better
    for kind, best, lr, mu in (
        ("gd", f["gd"]["rate_opt"], f["gd"]["lr_opt"], 0.0),
        ("heavy_ball", hb["rate_opt"], hb["lr_opt"], hb["momentum_opt"]),
        ("nesterov", nes["rate_opt"], nes["lr_opt"], nes["momentum_opt"]),
    ):
        for dl in np.linspace(0.9, 1.1, 9):
            for dm in np.linspace(0.95, 1.05, 9) if mu else [1.0]:
                near = theory.rate(kind, eig, lr * dl, min(mu * dm, 0.999))
                assert near >= best - 1e-7, (kind, dl, dm)
    # limits: spectral radius just under 1 below them, over 1 above them
    for kind, limit in (
        ("gd", f["gd"]["lr_stable_max"]),
        ("heavy_ball", hb["lr_stable_max"]),
        ("nesterov", nes["lr_stable_max"]),
    ):
        mu = 0.0 if kind == "gd" else 0.9
        assert theory.rate(kind, eig, 0.999 * limit, mu) < 1.0
        assert theory.rate(kind, eig, 1.001 * limit, mu) > 1.0


def test_heavy_ball_phase_diagram_is_the_recurrences_rate():
    eig = [1.0, 50.0]
    lrs = np.array([0.005, 0.02, 0.05, 0.08])
    momenta = np.array([0.0, 0.5, 0.9])
    grid = theory.heavy_ball_rates(eig, lrs, momenta)
    for i, mu in enumerate(momenta):
        for j, lr in enumerate(lrs):
            assert grid[i, j] == pytest.approx(theory.rate("heavy_ball", eig, lr, mu), rel=1e-9)


def test_landscapes_get_the_figures_near_their_minimum():
    th = theory.analyse(tasks.create("rosenbrock"))
    assert th.local and not th.exact and th.where.startswith("near the minimum (1, 1)")
    np.testing.assert_allclose(th.hessian, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-6)
    assert theory.why_not_predicted(th, "sgd", {"lr": 1e-3}, None) is not None
    saddle = theory.analyse(tasks.create("saddle"))
    np.testing.assert_allclose(saddle.eigenvalues, [2.0, 2.0], rtol=1e-6)


def test_tasks_say_when_there_is_no_exact_theory():
    minibatch = theory.analyse(tasks.create("linear-regression", batch_size=10))
    assert not minibatch.exact and "mini-batches" in minibatch.where
    noisy = theory.analyse(tasks.create("ill-conditioned", grad_noise=0.1))
    assert not noisy.exact and "noisy" in noisy.where
    mlp = theory.analyse(tasks.create("binary-mlp", hidden=4))
    assert not mlp.known and mlp.figures()["gd"] is None


# -- sharpness -------------------------------------------------------------------------------


@pytest.mark.parametrize("task, task_hypers", QUADRATIC_TASKS)
def test_sharpness_of_a_quadratic_is_lambda_max(task, task_hypers):
    t = tasks.create(task, **task_hypers)
    th = theory.analyse(t)
    params = t.init_params(np.random.default_rng(1))
    batch = next(iter(t.batches(np.random.default_rng(2))))
    probe = theory.SharpnessProbe(t, tol=1e-12, max_iter=5000)
    measured = probe.measure(params, batch)
    assert measured.value == pytest.approx(th.lam_max, rel=1e-6)
    assert measured.method == "exact Hessian-vector products"
    precond = np.linspace(0.5, 2.0, th.eigenvalues.size)
    pre = probe.measure(params, batch, preconditioner=precond).preconditioned
    top = np.max(np.linalg.eigvals(np.diag(precond) @ th.hessian).real)
    assert pre == pytest.approx(top, rel=1e-6)


def test_sharpness_by_finite_differences_on_a_small_mlp():
    t = tasks.create("binary-mlp", hidden=5, batch_size=0, n_samples=40)
    params = t.init_params(np.random.default_rng(3))
    batch = next(iter(t.batches(np.random.default_rng(4))))
    flat = np.concatenate([np.ravel(params[k]) for k in t.param_shapes()])
    probe = theory.SharpnessProbe(t, tol=1e-10, max_iter=2000)

    def gradient(x: np.ndarray) -> np.ndarray:
        return probe._gradient(x, batch)

    dense = theory.finite_difference_hessian(gradient, flat.copy(), step=1e-5)
    top = float(np.linalg.eigvalsh(dense)[-1])
    measured = probe.measure(params, batch)
    assert measured.method == "finite differences of gradients"
    assert measured.value == pytest.approx(top, rel=1e-3)
    assert 0.0 < measured.error < 1e-3 * abs(top)
    # the caller's parameters are untouched
    np.testing.assert_array_equal(np.concatenate([np.ravel(params[k]) for k in params]), flat)


def _small_mlp():
    t = tasks.create("binary-mlp", hidden=5, batch_size=0, n_samples=40)
    params = t.init_params(np.random.default_rng(3))
    batch = next(iter(t.batches(np.random.default_rng(4))))
    flat = np.concatenate([np.ravel(params[k]) for k in t.param_shapes()])
    probe = theory.SharpnessProbe(t, tol=1e-10, max_iter=2000)
    dense = theory.finite_difference_hessian(lambda x: probe._gradient(x, batch), flat.copy(),
                                             step=1e-5)  # fmt: skip
    return t, params, batch, flat, 0.5 * (dense + dense.T)


def test_preconditioned_sharpness_by_finite_differences_on_a_small_mlp():
    """λ_max(P⁻¹H) against the dense Hessian, with zeros in P⁻¹ too (parameters an optimizer
    does not move), and P⁻¹ given as weights times a scale (α and 1/η) the same."""
    t, params, batch, flat, dense = _small_mlp()
    rng = np.random.default_rng(5)
    for weights in (rng.uniform(0.2, 5.0, flat.size), np.where(np.arange(flat.size) % 3, 2.0, 0.0)):
        root = np.sqrt(weights)
        top = float(np.linalg.eigvalsh(root[:, None] * dense * root[None, :])[-1])
        probe = theory.SharpnessProbe(t, tol=1e-10, max_iter=2000)
        measured = probe.measure(params, batch, preconditioner=weights)
        assert measured.preconditioned == pytest.approx(top, rel=1e-3)
        scaled = theory.SharpnessProbe(t, tol=1e-10, max_iter=2000).measure(
            params, batch, preconditioner=weights * 4.0, preconditioner_scale=0.25
        )
        assert scaled.preconditioned == pytest.approx(measured.preconditioned, rel=1e-6)


def test_a_warm_started_measurement_agrees_with_a_converged_one_in_fewer_products():
    """A run's probe tracks the eigenvector from call to call: started from the previous
    call's, a few products give the value a cold, converged call gives, within its stated
    error, and within the tolerance when it may iterate to it."""
    t, params, batch, flat, _ = _small_mlp()
    moved = {k: v + 1e-3 * np.random.default_rng(6).standard_normal(v.shape)
             for k, v in params.items()}  # fmt: skip
    weights = np.random.default_rng(7).uniform(0.5, 2.0, flat.size)
    cold = theory.SharpnessProbe(t, tol=1e-10, max_iter=2000).measure(moved, batch, weights)
    tracking = theory.SharpnessProbe(t, tol=1e-4, max_iter=2000, warm_iter=4)
    tracking.measure(params, batch, weights)  # converges from a random vector
    warm = tracking.measure(moved, batch, weights)
    assert warm.iterations == 4 < cold.iterations  # two products a series
    assert abs(warm.value - cold.value) <= warm.error
    assert abs(warm.preconditioned - cold.preconditioned) <= warm.preconditioned_error
    to_tol = theory.SharpnessProbe(t, tol=1e-8, max_iter=2000)
    to_tol.measure(params, batch, weights)
    again = to_tol.measure(moved, batch, weights)
    assert again.iterations < cold.iterations
    assert again.value == pytest.approx(cold.value, rel=1e-6)
    assert again.preconditioned == pytest.approx(cold.preconditioned, rel=1e-6)


def test_sharpness_is_the_top_of_the_spectrum_when_a_negative_eigenvalue_is_larger():
    """An indefinite Hessian whose largest |λ| is negative: the measured λ_max is still the
    algebraically largest eigenvalue (power iteration shifted by the first estimate)."""
    t = tasks.create("ill-conditioned", condition=10.0, angle=30.0)
    hessian = np.array([[1.0, 0.5], [0.5, -6.0]])
    t.quadratic_loss = lambda: QuadraticLoss(hessian, np.zeros(2), 0.0)
    probe = theory.SharpnessProbe(t, tol=1e-12, max_iter=5000)
    params = t.init_params(np.random.default_rng(1))
    measured = probe.measure(params, None, preconditioner=np.array([2.0, 0.5]))
    assert measured.value == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-6)
    top = np.max(np.linalg.eigvals(np.diag([2.0, 0.5]) @ hessian).real)
    assert measured.preconditioned == pytest.approx(top, rel=1e-6)


# -- sharpness recorded by a run -------------------------------------------------------------


def sharp_run(task: str, task_hypers: dict, optimizer: str, hypers: dict, every: int,
              steps: int) -> Run:  # fmt: skip
    cfg = RunConfig(task=task, optimizer=optimizer, task_hypers=task_hypers,
                    optimizer_hypers=hypers, eval_every=0, sharpness_every=every)  # fmt: skip
    run = Run(cfg, history_capacity=None)
    run.step(steps)
    return run


def test_a_run_records_lambda_max_of_a_quadratic_every_k_steps():
    hypers = {"condition": 300.0, "angle": 25.0}
    run = sharp_run("ill-conditioned", hypers, "momentum", {"lr": 0.001}, 7, 100)
    sharp = run.history.buckets("sharpness")
    assert sharp.steps.tolist() == list(range(7, 101, 7))
    np.testing.assert_allclose(sharp.lasts, 300.0, rtol=1e-6)
    assert run.history.count("preconditioned_sharpness") == 0  # SGD: P = I, nothing more
    errors = run.history.buckets("sharpness_error").lasts
    assert np.all(errors < 1e-6 * 300.0)


def test_sharpness_changes_no_number_of_the_run():
    task_hypers = {"hidden": 8, "batch_size": 16}
    off = sharp_run("digits-mlp", task_hypers, "adam", {"lr": 0.01}, 0, 60)
    on = sharp_run("digits-mlp", task_hypers, "adam", {"lr": 0.01}, 10, 60)
    for series in ("loss", "grad_norm", "update_norm"):
        np.testing.assert_array_equal(on.history.buckets(series).lasts,
                                      off.history.buckets(series).lasts)  # fmt: skip
    assert on.history.count("sharpness") == 6 and off.history.count("sharpness") == 0
    assert on.history.count("preconditioned_sharpness") == 6  # Adam: λ_max(P⁻¹H) too


def test_preconditioned_sharpness_uses_the_optimizers_effective_lr():
    """Adam on the ravine: λ_max(P⁻¹H) with P⁻¹ = α/η, α read from the run's own state."""
    cfg = RunConfig(task="ill-conditioned", optimizer="adam", task_hypers={"condition": 50.0,
                    "angle": 30.0}, optimizer_hypers={"lr": 0.05}, eval_every=0,
                    sharpness_every=5)  # fmt: skip
    run = Run(cfg, history_capacity=None)
    run.step(5)
    inspection = run.inspect()
    alpha = np.array([inspection.params[k].derived["effective_lr"] for k in ("x", "y")]).ravel()
    hessian = theory.analyse(run.task).hessian
    expected = np.max(np.linalg.eigvals(np.diag(alpha / 0.05) @ hessian).real)
    assert run.history.last("preconditioned_sharpness") == pytest.approx(expected, rel=1e-6)


def test_sharpness_is_exported_only_when_recorded(tmp_path):
    from engine.history import export_history, load_history_json

    plain = sharp_run("quadratic", {}, "sgd", {"lr": 0.1}, 0, 10)
    measured = sharp_run("quadratic", {"a": 2.0}, "sgd", {"lr": 0.1}, 5, 10)
    export_history([("plain", plain)], tmp_path / "plain.csv")
    header = (tmp_path / "plain.csv").read_text().splitlines()[0]
    assert header == "step,loss,lr,grad_norm,update_norm,update_grad_ratio"  # as before
    export_history([("sharp", measured)], tmp_path / "sharp.csv")
    lines = (tmp_path / "sharp.csv").read_text().splitlines()
    assert lines[0] == f"{header},sharpness,sharpness_error"
    assert lines[5].split(",")[-2] == "4.0" and lines[4].split(",")[-2] == ""  # step 5 only
    export_history([("plain", plain)], tmp_path / "plain.json")
    assert "sharpness" not in load_history_json(tmp_path / "plain.json")[0]
    export_history([("sharp", measured)], tmp_path / "sharp.json")
    record = load_history_json(tmp_path / "sharp.json")[0]
    assert record["sharpness"]["step"].tolist() == [5, 10]
    np.testing.assert_allclose(record["sharpness"]["value"], [4.0, 4.0], rtol=1e-9)
    assert "preconditioned" not in record["sharpness"]


def test_sharpness_every_is_validated():
    with pytest.raises(ValueError, match="sharpness_every: must be an integer >= 0"):
        RunConfig(task="quadratic", optimizer="sgd", sharpness_every=-1)


@pytest.mark.parametrize("task, task_hypers", QUADRATIC_TASKS)
def test_the_declared_quadratic_is_the_tasks_loss_and_gradient(task, task_hypers):
    t = tasks.create(task, **task_hypers)
    quad = t.quadratic_loss()
    batch = next(iter(t.batches(np.random.default_rng(0))))
    rng = np.random.default_rng(5)
    shapes = t.param_shapes()
    for _ in range(5):
        flat = rng.standard_normal(sum(int(np.prod(s)) for s in shapes.values())) * 3.0
        params, offset = {}, 0
        for key, shape in shapes.items():
            size = int(np.prod(shape))
            params[key] = flat[offset : offset + size].reshape(shape).copy()
            offset += size
        loss, grads = t.loss_and_grads(params, batch)
        e = flat - quad.minimizer
        assert loss == pytest.approx(quad.min_loss + 0.5 * e @ quad.hessian @ e, rel=1e-12)
        g = np.concatenate([np.ravel(grads[k]) for k in shapes])
        np.testing.assert_allclose(g, quad.hessian @ e, rtol=1e-10, atol=1e-12)


def test_full_batch_gd_on_a_network_rises_to_the_edge_of_stability():
    """Cohen et al. 2021 on sine-rnn: λ_max climbs to 2/η and hovers there."""
    run = sharp_run("sine-rnn", {"batch_size": 0}, "sgd", {"lr": 0.5}, 50, 600)
    sharp = run.history.buckets("sharpness")
    assert run.diverged_at is None and sharp.lasts[0] < 3.6  # starts below the edge
    late = sharp.lasts[sharp.steps >= 300]
    np.testing.assert_allclose(late, 2.0 / 0.5, rtol=0.1)


def test_a_lessons_verdict_says_what_the_exact_theory_predicted():
    from engine import lessons

    _, verdict = lessons.load("momentum-ravine").run()
    assert verdict.theory == (
        "Theory (exact: the loss is quadratic) predicts SGD 449 steps, Momentum 98 steps: "
        "as measured.",
    )
    assert verdict.theory[0] in verdict.text
    _, other = lessons.load("amsgrad-step").run()  # rosenbrock: no exact theory, no line
    assert other.theory == ()
