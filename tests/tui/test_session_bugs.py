"""The three bugs of the app before the session (issue 11), driven through the screen only, so
the same tests ran against the old app (they failed there) and pass now."""

from __future__ import annotations

import asyncio
import re

from conftest import screen_text
from textual.widgets import Input, Select

from tui.app import create_app


async def choose(pilot, kind: str, name: str) -> None:
    pilot.app.query_one(f"#{kind}-select", Select).value = name
    await pilot.pause()
    await pilot.pause()


async def type_value(pilot, field_id: str, text: str) -> None:
    field = pilot.app.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
    await pilot.pause()
    await pilot.pause()


async def test_rosenbrock_starts_at_its_own_start_after_the_quadratic() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await choose(pilot, "task", "quadratic")
        await type_value(pilot, "task-x0", "2")
        await choose(pilot, "task", "rosenbrock")
        app.query_one("#chart-tabs").active = "tab-path"
        await pilot.pause(0.3)
        assert app.query_one("#task-x0", Input).value == "-1.5"
        assert "● (-1.5, 2)" in screen_text(app)  # not (2, 2)


async def test_a_pin_of_another_task_leaves_with_it() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnn", "p", "enter")  # pin the Rosenbrock run, default name
        await pilot.pause()
        app.open_preset("schedules")  # a race of 4 on linear regression
        await pilot.pause(0.3)
        app.query_one("#chart-tabs").active = "tab-loss"
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "4 runs" in text and "5 runs" not in text
        assert "race of 4" in text


async def test_typing_a_longer_run_while_paused_keeps_it_paused() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_value(pilot, "run-steps", "200")
        app.set_focus(None)
        while "speed 20/s" not in screen_text(app):  # slow: 10 s to the end
            await pilot.press("minus")
        await pilot.press("space")
        for _ in range(500):
            await asyncio.sleep(0.01)
            step = re.search(r"step (\d+)", screen_text(app).splitlines()[-2])
            if step and int(step.group(1)) >= 3:
                break
        await pilot.press("space")
        await asyncio.sleep(0.2)
        await type_value(pilot, "run-steps", "600")  # 6, then 60, then 600 as typed
        await asyncio.sleep(0.3)
        text = screen_text(app)
        status = text.splitlines()[-2]
        assert "paused" in status and "finished" not in status, status
