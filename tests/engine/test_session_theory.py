"""The session and the theory: the optimum action, the predicted run of the settings shown,
and sharpness recorded once watched (like state summaries), never part of what is saved."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Experiment, RaceEntry
from engine.outcome import first_step_at_most
from engine.run import RunConfig
from engine.session import SHARPNESS_EVERY, Session

RAVINE = RunConfig(
    task="ill-conditioned",
    optimizer="momentum",
    task_hypers={"condition": 100.0, "angle": 0.0, "x0": -4.0, "y0": 1.5},
    optimizer_hypers={"lr": 0.01},
    eval_every=0,
)


def texts(change) -> str:
    return " | ".join(n.text for n in change.notices)


def test_the_optimum_action_sets_polyaks_lr_and_momentum_and_says_so():
    s = Session(Experiment(RAVINE, steps=200))
    change = s.use_optimum()
    assert change.ok
    assert texts(change) == (
        "set lr 0.0330579 and momentum 0.669421: Polyak's optimum for κ = 100, "
        "error × 0.818182 per step"
    )
    hypers = s.run.config.optimizer_hypers  # live: applied from the next step
    assert hypers["lr"] == pytest.approx(4.0 / 121.0) and hypers["momentum"] == pytest.approx(
        (9.0 / 11.0) ** 2
    )
    s.race.step(100)
    assert first_step_at_most(s.run.history, "loss", 1e-3) == 53  # the exact optimum's steps


def test_sgd_gets_the_gd_rate_and_a_landscape_says_near_the_minimum():
    s = Session(Experiment(RAVINE.replace(optimizer="sgd", optimizer_hypers={"lr": 0.001})))
    assert "set lr 0.019802: GD's optimal rate" in texts(s.use_optimum())
    rosen = Session(Experiment(RunConfig(task="rosenbrock", optimizer="nesterov")))
    text = texts(rosen.use_optimum())
    assert "Nesterov's optimal tuning for κ = 2508.01 (near the minimum)" in text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (RAVINE.replace(optimizer="adam", optimizer_hypers={}),
         "the theory knows the optimum of sgd, momentum and nesterov, not adam"),
        (RunConfig(task="digits-mlp", optimizer="sgd", task_hypers={"hidden": 8}),
         "no exact theory: the loss is not quadratic, and no known minimum"),
    ],
)  # fmt: skip
def test_the_optimum_action_says_why_when_there_is_none(config, message):
    s = Session(Experiment(config))
    before = s.config
    change = s.use_optimum()
    assert not change.ok and texts(change) == message
    assert s.config == before


def test_the_predicted_loss_is_the_sessions_run():
    s = Session(Experiment(RAVINE.replace(schedule="cosine"), steps=300))
    predicted = s.theory().prediction.loss
    assert predicted.shape == (301,)
    s.race.step(300)
    np.testing.assert_allclose(predicted[:300], s.run.history.buckets("loss").lasts, rtol=1e-9)
    assert s.theory() is s.theory()  # cached until the settings change
    s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 0.005})
    assert s.theory().lr == 0.005


def test_sharpness_is_measured_once_watched_in_every_run_and_not_saved():
    s = Session(Experiment(RAVINE, steps=100))
    s.race.step(SHARPNESS_EVERY)
    assert s.run.history.count("sharpness") == 0  # nothing paid before someone looks
    s.watch_sharpness()
    s.race.step(2 * SHARPNESS_EVERY)
    sharp = s.run.history.buckets("sharpness")
    assert sharp.steps.tolist() == [2 * SHARPNESS_EVERY, 3 * SHARPNESS_EVERY]
    np.testing.assert_allclose(sharp.lasts, 100.0, rtol=1e-6)
    race = s.race
    s.reset()
    assert s.race is race  # watching is not a change of settings
    assert not s.dirty and s.unsaved_changes() == []
    s.start_race([RaceEntry(RAVINE), RaceEntry(RAVINE.replace(optimizer="sgd"))], 50, go=False)
    s.race.step(SHARPNESS_EVERY)
    assert [r.history.count("sharpness") for r in s.race.runs] == [1, 1]
    assert all(e.config.sharpness_every == 0 for e in s.experiment().race)


def test_other_flavours_are_not_predicted():
    keras = RAVINE.replace(optimizer_hypers={"lr": 0.01, "flavour": "keras"})
    s = Session(Experiment(keras))
    assert s.theory().prediction is None
    assert s.theory().why_not == "the theory predicts torch's form, not flavour keras"
    assert "optimum" not in s.view().available
    change = s.use_optimum()
    assert not change.ok and "not flavour keras" in texts(change)
