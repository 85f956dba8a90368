"""The Loss tab beside the exact theory: the predicted loss drawn next to the observed one
(dashed, named in the legend), a title that says whether the run still follows it, and `y`
splitting the predicted error into its eigen-directions (Distill's "milestones")."""

from __future__ import annotations

import numpy as np
from conftest import wait_for

from engine.run import RunConfig
from engine.theory import for_config
from tui.app import create_app
from tui.charts import ChartPanel
from tui.charts.base import Picture
from tui.charts.loss import LossChart, first_departure

RAVINE = RunConfig(task="ill-conditioned", optimizer="momentum",
                   task_hypers={"condition": 100.0}, optimizer_hypers={"lr": 0.01})  # fmt: skip


def described(app) -> Picture:
    """What the Loss chart draws for the view shown now (linear y)."""
    panel = app.query_one(ChartPanel)
    picture = Picture(log_y=False)
    app.query_one(LossChart).picture(panel.view, picture)
    return picture


def layer(picture: Picture, label: str):
    return next(layer for layer in picture.layers if layer.label == label)


async def test_the_predicted_curve_is_engine_theorys_prediction() -> None:
    app = create_app(RAVINE.replace(schedule="cosine"))
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        app.session.race.step(199)
        await pilot.press("n")
        await pilot.pause()
        await wait_for(lambda: len(app.query_one(ChartPanel).view.run.history) == 200)
        picture = described(app)
        xs, ys = layer(picture, "predicted (exact theory)").data
        config = app.session.run.config
        want = for_config(config, app.session.planned_steps).prediction.loss[:200]
        np.testing.assert_array_equal(xs, np.arange(1, 201))
        np.testing.assert_allclose(ys, want, rtol=1e-12)
        assert "theory: exact" in picture.title
        # A knob changed mid-run: the run is not what its settings predict from step 0 (with
        # a cosine schedule the base lr changes the rate of every step, so from step 2 on).
        app.do(app.session.edit("optimizer", {**config.optimizer_hypers, "lr": 0.02}))
        app.session.race.step(5)
        await pilot.pause()
        assert "theory: off from step 2 (settings changed?)" in described(app).title


async def test_y_splits_the_predicted_loss_into_eigen_directions() -> None:
    gd = RAVINE.replace(optimizer="sgd", optimizer_hypers={"lr": 0.015})
    app = create_app(gd)
    told: list[str] = []
    app.tell = lambda text, *args, **kwargs: told.append(text)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        app.session.race.step(100)
        await pilot.press("y")
        await pilot.pause()
        assert told[-1] == "loss split by eigen-direction on"
        picture = described(app)
        assert picture.title[0] == "loss − f* by eigen-direction: ½λe²"
        steep, flat = layer(picture, "λ 100").data[1], layer(picture, "λ 1").data[1]
        predicted = for_config(app.session.run.config, 100).prediction.loss[:100]
        # the parts sum to the predicted loss (this task's minimum is 0)
        total = np.nan_to_num(steep) + np.nan_to_num(flat)
        np.testing.assert_allclose(total, predicted, rtol=1e-9)
        # GD: each part shrinks by its own (1 − ηλ)² per step, the flat one slowly
        np.testing.assert_allclose(flat[1:11] / flat[:10], (1 - 0.015) ** 2, rtol=1e-9)
        np.testing.assert_allclose(steep[1:11] / steep[:10], (1 - 1.5) ** 2, rtol=1e-9)
        await pilot.press("y")
        await pilot.pause()
        assert "predicted (exact theory)" in [layer.label for layer in described(app).layers]


async def test_y_on_a_network_says_why_there_is_nothing_to_split() -> None:
    app = create_app(RunConfig(task="digits-mlp", optimizer="sgd", task_hypers={"hidden": 8}))
    told: list[str] = []
    app.tell = lambda text, *args, **kwargs: told.append(text)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        await pilot.press("y")
        await pilot.pause()
        assert told[-1].startswith("no eigen-components: no exact theory")
        assert not app.query_one(ChartPanel).components


def test_first_departure_finds_the_first_step_off_the_prediction():
    predicted = np.array([4.0, 2.0, 1.0, 0.5])
    steps = np.array([1, 2, 3, 4])
    assert first_departure(predicted, steps, predicted.copy(), "float64") is None
    observed = predicted.copy()
    observed[2] *= 1 + 1e-5
    assert first_departure(predicted, steps, observed, "float64") == 3
    assert first_departure(predicted, steps, observed, "float32") is None
