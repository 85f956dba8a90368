"""Pilot tests: nothing is discarded without asking (issue 25). Loading a preset or a lesson
over unsaved edits asks as quitting does; `x` from a race goes on with its leader's run."""

from __future__ import annotations

from conftest import screen_text
from textual.widgets import Input

from engine.compare import Race
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.confirm import ConfirmQuitScreen

LARGE = (120, 40)


async def edit_lr(pilot, text: str) -> None:
    field = pilot.app.query_one("#optimizer-lr", Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
    await pilot.pause()


async def test_loading_a_preset_over_edits_asks_and_cancel_keeps_them() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        await edit_lr(pilot, "0.05")
        app.open_preset("digits-adam")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)
        text = screen_text(app)
        assert "unsaved changes (optimizer knobs)" in text
        assert "Save them before loading preset digits-adam?" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.session.config.task == "rosenbrock" and app.session.config.lr == 0.05
        app.open_preset("digits-adam")
        await pilot.pause()
        await pilot.press("d")  # discard: the preset loads
        await pilot.pause()
        assert app.session.config.task == "digits-mlp"


async def test_loading_a_preset_without_edits_does_not_ask() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.open_preset("digits-adam")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmQuitScreen)
        assert app.session.config.task == "digits-mlp"


async def test_loading_a_lesson_over_edits_asks(tmp_path) -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        await edit_lr(pilot, "0.05")
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)
        assert "before loading lesson momentum-ravine?" in screen_text(app)
        await pilot.press("s")  # save first, then the lesson loads
        await pilot.pause()
        await pilot.press("ctrl+a", "ctrl+k", *"mine", "enter")
        await pilot.pause()
        assert (tmp_path / "mine.toml").exists()
        assert app.session.lesson is not None and app.session.lesson.name == "momentum-ravine"


async def test_x_from_a_race_goes_on_with_the_leading_lanes_run_and_says_so() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=LARGE, notifications=True) as pilot:
        base = RunConfig(task="rosenbrock", optimizer="adam")
        entries = Race.of(base, ["sgd", "adam"]).experiment().race
        app.do(app.session.start_race(entries, 40, go=False))
        app.session.race.step(40)
        app.render_view()
        await pilot.pause()
        leader = app.session.race.lanes[app.session.view().leader_lane]
        app.set_focus(None)
        await pilot.press("x")
        await pilot.pause()
        assert not app.session.racing and app.session.run is leader.run
        assert app.session.run.steps_done == 40 and "step 40" in screen_text(app)
        assert f"the single run is now {leader.name}, the race's leader" in screen_text(app)
