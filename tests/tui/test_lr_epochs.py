"""The LR tab's x axis in steps and epochs when the task has a data set in mini-batches."""

from __future__ import annotations

import re

from conftest import screen_text, wait_for

from engine.run import RunConfig
from tui.app import create_app
from tui.charts import LrChart

SMALL = (80, 24)


async def test_lr_axis_says_epochs_for_a_task_with_data() -> None:
    # 100 training points in batches of 10: 10 updates per epoch, step_size 3 epochs = 30
    config = RunConfig(
        task="linear-regression", optimizer="sgd", schedule="step",
        task_hypers={"batch_size": 10}, schedule_hypers={"step_size": "3 epochs"},
    )  # fmt: skip
    app = create_app(config, steps=200)
    async with app.run_test(size=SMALL) as pilot:
        app.show_tab("tab-lr")
        await wait_for(lambda: app.query_one(LrChart).drawn_key is not None)
        await pilot.pause()
        ticks = re.findall(r"(\d+) (\d+(?:\.\d)?)ep\b", screen_text(app))
        assert len(ticks) >= 3
        assert all(int(step) == round(float(epoch) * 10) for step, epoch in ticks)
        assert ("200", "20") in ticks
        app.set_focus(None)
        await pilot.press("b")  # without the sidebar the title has room for the epoch
        await wait_for(lambda: "epoch 0 of 20" in screen_text(app))
        assert "step 0 of 200 · epoch 0 of 20" in screen_text(app)


async def test_lr_axis_is_in_steps_only_without_epochs() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="sgd", schedule="cosine"), steps=200)
    async with app.run_test(size=SMALL) as pilot:
        app.show_tab("tab-lr")
        await wait_for(lambda: app.query_one(LrChart).drawn_key is not None)
        await pilot.pause()
        text = screen_text(app)
        assert "step 0 of 200" in text
        assert "epoch" not in text and not re.search(r"\dep\b", text)
