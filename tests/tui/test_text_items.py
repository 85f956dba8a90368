"""Pilot tests of issue 25's smaller text items: keys that do not apply say why, the status
line's loss names its series as the task has it, a step is written one way everywhere."""

from __future__ import annotations

import pytest
from conftest import screen_text, wait_for

from engine.compare import Race
from engine.run import RunConfig
from tui.app import create_app
from tui.charts import LossChart
from tui.screens.race_results import RaceResultsScreen
from tui.widgets.status import StatusLine

SIZE = (120, 40)


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize(
    ("key", "says"),
    [("t", "t shows a race's results table"), ("v", "load a lesson first")],
)
async def test_a_key_that_does_not_apply_says_why(key: str, says: str) -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=SIZE) as pilot:
        app.set_focus(None)
        await pilot.press(key)
        await wait_for(lambda: any(says in t for t in toasts(app)))
        assert not isinstance(app.screen, RaceResultsScreen)


async def test_p_in_a_race_says_why() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=SIZE) as pilot:
        base = RunConfig(task="rosenbrock", optimizer="adam")
        app.do(app.session.start_race(Race.of(base, ["adam", "sgd"]).experiment().race, 50,
                                      go=False))  # fmt: skip
        app.set_focus(None)
        await pilot.press("p")
        await wait_for(lambda: any("x leaves the race" in t for t in toasts(app)))


@pytest.mark.parametrize(
    ("config", "label"),
    [
        (RunConfig(task="rosenbrock", optimizer="adam"), "loss"),
        (RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 8}), "batch loss"),
    ],
)
async def test_the_status_calls_a_2d_functions_loss_loss(config: RunConfig, label: str) -> None:
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        app.set_focus(None)
        await pilot.press("n")
        await wait_for(lambda: app.session.run.steps_done == 1)
        await pilot.pause()
        text = str(app.query_one(StatusLine).render())
        loss = app.session.run.history.last("loss")
        assert f"  {label} " in text and str(loss)[:4] in text.replace(",", "")
        if label == "loss":
            assert "batch loss" not in text


async def test_a_step_is_written_the_same_in_titles_and_status() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=SIZE) as pilot:
        base = RunConfig(task="rosenbrock", optimizer="adam")
        app.do(app.session.start_race(Race.of(base, ["adam", "sgd"]).experiment().race, 2000,
                                      go=False))  # fmt: skip
        app.session.race.step(1523)
        app.render_view()
        app.set_focus(None)
        app.show_tab("tab-loss")
        await pilot.pause()
        app.query_one(LossChart)
        await pilot.pause()
        text = screen_text(app)
        assert "step 1,523" in str(app.query_one(StatusLine).render())
        assert "step 1,523" in text and "step 1.5k" not in text
