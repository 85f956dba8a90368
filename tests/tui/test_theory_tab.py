"""The Theory tab: for a task whose loss is exactly quadratic, κ, the limits and optima of GD,
heavy ball and Nesterov, the run's own lr against them, and heavy ball's rate phase diagram
with the run's point marked; `O` moves the run to the optimum and the tab follows."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import wait_for

from engine import tasks
from engine.run import RunConfig
from engine.theory import analyse, heavy_ball_lr_stable_max, rate
from tui.app import create_app
from tui.charts import ChartPanel
from tui.charts.tabs import shown_for
from tui.charts.theory import NOW, OPTIMUM, SHADES, TheoryTab, phase_grid

RAVINE = RunConfig(task="ill-conditioned", optimizer="momentum",
                   task_hypers={"condition": 100.0}, optimizer_hypers={"lr": 0.01})  # fmt: skip


def test_the_tab_is_for_tasks_with_exact_theory():
    def ids(name: str, **knobs) -> list[str]:
        return [t.id for t in shown_for(tasks.create(name, **knobs))]

    for name in ("quadratic", "ill-conditioned", "linear-regression"):
        assert "theory" in ids(name), name
    for name in ("rosenbrock", "digits-mlp"):
        assert "theory" not in ids(name), name
    assert "theory" not in ids("linear-regression", batch_size=8)  # mini-batches: not exact


@pytest.mark.parametrize("condition", [10.0, 100.0])
def test_the_phase_diagram_is_blank_exactly_where_heavy_ball_diverges(condition):
    eig = analyse(tasks.create("ill-conditioned", condition=condition)).eigenvalues
    alphas, betas, rates = phase_grid(eig, 60, 12)
    for r, beta in enumerate(betas):
        limit = heavy_ball_lr_stable_max(float(eig[-1]), float(beta))
        for c, alpha in enumerate(alphas[1:], start=1):  # α = 0 never moves (rate 1)
            assert (rates[r, c] < 1.0) == (alpha < limit), (beta, alpha)
            assert rates[r, c] == pytest.approx(rate("heavy_ball", eig, alpha, beta), rel=1e-9)


async def _theory_text(app, pilot) -> str:
    tab = app.query_one(TheoryTab)
    panel = app.query_one(ChartPanel)

    def drawn() -> bool:  # drawn from the view shown now
        panel.redraw()
        return panel.view is not None and tab.drawn_key == tab.data_key(panel.view)

    await wait_for(drawn)
    return tab.plain


async def test_the_tab_shows_the_figures_and_o_moves_the_point_to_the_optimum() -> None:
    app = create_app(RAVINE)
    async with app.run_test(size=(130, 40)) as pilot:
        app.set_focus(None)
        app.show_tab("tab-theory")
        await pilot.pause()
        text = await _theory_text(app, pilot)
        assert "exact: the loss is quadratic" in text
        assert "κ = λmax/λmin = 100" in text
        # Polyak's optimum and heavy ball's limit at μ 0.9: 2(1 + 0.9)/100
        assert "0.0330579" in text and "0.669421" in text and "0.038" in text
        assert "momentum lr 0.01 μ 0.9" in text and "converges" in text
        diagram = text[text.index("\nβ ") :]  # the rows of the phase diagram
        assert NOW in diagram and OPTIMUM in diagram and any(s in diagram for s in SHADES)
        await pilot.press("O")
        await pilot.pause()
        text = await _theory_text(app, pilot)
        assert "momentum lr 0.0330579 μ 0.6694: error × 0.8182/step" in text
        # the run's point sits on the optimum's cell now: one mark, the run's
        diagram = text[text.index("\nβ ") :]
        assert NOW in diagram and OPTIMUM not in diagram


async def test_an_lr_past_the_limit_is_said_to_diverge() -> None:
    config = RunConfig(
        task="ill-conditioned",
        optimizer="sgd",
        task_hypers={"condition": 100.0},
        optimizer_hypers={"lr": 0.0202},
    )
    app = create_app(config)
    async with app.run_test(size=(130, 40)) as pilot:
        app.set_focus(None)
        app.show_tab("tab-theory")
        await pilot.pause()
        text = await _theory_text(app, pilot)
        assert "sgd lr 0.0202: error × 1.02/step, diverges, lr 1.01× limit" in text


async def test_the_path_tab_draws_the_eigen_directions_and_says_kappa() -> None:
    from tui.charts.base import Picture
    from tui.charts.path import PathChart

    tilted = RunConfig(task="ill-conditioned", optimizer="sgd",
                       task_hypers={"condition": 10.0, "angle": 30.0})  # fmt: skip
    app = create_app(tilted)
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        app.show_tab("tab-path")
        await pilot.pause()
        panel = app.query_one(ChartPanel)
        picture = Picture()
        app.query_one(PathChart).picture(panel.view, picture)
        assert "κ 10" in picture.title
        theory = analyse(app.session.run.task)
        centre = theory.quadratic.minimizer
        for k, label in ((1, "λ 10 axis"), (0, "λ 1 axis")):
            xs, ys, _ = next(layer for layer in picture.layers if layer.label == label).data
            assert len(xs) > 10
            vx, vy = theory.eigenvectors[:, k]
            # every dot on the line through the minimum along the eigenvector
            np.testing.assert_allclose((xs - centre[0]) * vy - (ys - centre[1]) * vx, 0,
                                       atol=1e-9)  # fmt: skip
        # 30° from the axes: the steep direction is the rotated y axis
        assert abs(theory.eigenvectors[:, 1] @ [-0.5, 3**0.5 / 2]) == pytest.approx(1.0)
        app.do(app.session.pick("task", "rosenbrock"))  # no exact theory: no axes, no κ
        await pilot.pause()
        picture = Picture()
        app.query_one(PathChart).picture(panel.view, picture)
        assert not any(layer.label and "axis" in layer.label for layer in picture.layers)
        assert not any(part.startswith("κ") for part in picture.title)


def test_the_sweep_chart_marks_the_stability_limit_and_runs_past_it_diverge():
    from engine import sweep as sweep_module
    from engine.sweep import SweepSpec
    from tui.charts.sweep import lr_limits, sweep_chart_text

    spec = SweepSpec(task="ill-conditioned", optimizers=("sgd", "momentum"),
                     grid={"lr": "1e-3:1e-1:9"}, steps=100, seeds=1,
                     task_hypers={"condition": 100.0})  # fmt: skip
    assert lr_limits(spec) == [("sgd", pytest.approx(0.02)), ("momentum", pytest.approx(0.038))]
    report = sweep_module.Sweep(spec).run()
    limits = dict(lr_limits(spec))
    for point in report.points:  # the theory's limit is where training starts to diverge
        assert point.diverged == (point.point[0] > limits[point.optimizer]), point
    text = sweep_chart_text(spec, report.points, 100, 20, color=False)
    assert "│ stable lr < 0.02 sgd, 0.038 momentum (theory)" in text
    rosenbrock = SweepSpec(task="rosenbrock", optimizers=("sgd",), grid={"lr": "1e-3:1e-1:3"})
    assert lr_limits(rosenbrock) == []  # no exact theory: no limit drawn
    momenta = SweepSpec(task="ill-conditioned", optimizers=("momentum",),
                        grid={"momentum": "0:0.9:3"})  # fmt: skip
    assert lr_limits(momenta) == []  # not an lr axis
