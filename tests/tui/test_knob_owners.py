"""Pilot tests: knob values follow their owner (issue 25). A rate typed for one optimizer
does not follow the user to another, and race setup's suggested rates follow its task."""

from __future__ import annotations

from conftest import screen_text
from textual.widgets import Input, Select

from tui.app import create_app
from tui.screens.race_setup import RaceSetupScreen

LARGE = (120, 40)


async def test_adam_at_lr_1000_switched_to_sgd_gets_sgds_rate_with_a_toast() -> None:
    app = create_app()  # adam on rosenbrock
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        field = app.query_one("#optimizer-lr", Input)
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"1000", "enter")
        await pilot.pause()
        assert app.session.config.lr == 1000
        app.query_one("#optimizer-select", Select).focus()
        await pilot.press("enter", *"sgd", "enter")
        await pilot.pause()
        assert app.session.config.optimizer == "sgd" and app.session.config.lr == 0.001
        assert app.query_one("#optimizer-lr", Input).value == "0.001"
        assert "lr reset to 0.001 for sgd on rosenbrock" in screen_text(app)


async def test_race_setup_re_suggests_rates_the_user_did_not_type_when_the_task_changes():
    app = create_app()  # adam on rosenbrock (0.02, its suggestion); the rival is sgd
    async with app.run_test(size=LARGE) as pilot:
        app.set_focus(None)
        await pilot.press("c")
        assert isinstance(app.screen, RaceSetupScreen)
        screen = app.screen
        assert screen.query_one("#r1-optimizer-lr", Input).value == "0.02"
        typed = screen.query_one("#r2-optimizer-lr", Input)
        typed.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"0.5")
        screen.query_one("#race-task-select", Select).focus()
        await pilot.press("enter", *"digits-mlp", "enter")
        await pilot.pause()
        assert screen.base.task == "digits-mlp"
        assert screen.query_one("#r1-optimizer-lr", Input).value == "0.001"  # adam's own
        assert typed.value == "0.5"  # typed: kept
        await pilot.press("ctrl+n")  # a new racer: its rate for digits-mlp
        await pilot.pause()
        editor = screen.editors[-1]
        assert editor.config.task == "digits-mlp"
        assert editor.config.lr == 0.001
        await pilot.press("ctrl+g")
        await pilot.pause()
        runs = app.session.race.runs
        assert [r.config.task for r in runs] == ["digits-mlp"] * 3
        assert [r.config.lr for r in runs] == [0.001, 0.5, 0.001]
