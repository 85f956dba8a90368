"""Pilot tests of a lesson's "what if" in the app (issue 23): a lesson whose knobs are edited
stays loaded as "your variant" and is judged as `optplay lesson NAME --set ...` judges it; the
verdict screen runs a flip and judges over other seeds, as `--seeds N --first-seed S` does.
"""

from __future__ import annotations

import json

from conftest import screen_text, wait_for
from textual.widgets import Input

from tui.app import create_app
from tui.cli import main as cli_main
from tui.screens.race_setup import RaceSetupScreen
from tui.screens.verdict import VerdictScreen

SMALL = (80, 24)
LARGE = (120, 40)


def flat(text: str) -> str:
    return " ".join(text.split())


def cli_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli_main(["lesson", *args, "--json", "--jobs", "1", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


async def finish(pilot, app) -> VerdictScreen:
    """Train what is loaded to its planned length; the last step through the app."""
    app.set_focus(None)
    app.session.race.step(app.session.planned_steps - 1)
    await pilot.press("n")
    await wait_for(lambda: isinstance(app.screen, VerdictScreen))
    return app.screen


async def test_editing_a_lanes_knob_keeps_the_lesson_as_your_variant_and_judges_it(capsys):
    """momentum-ravine with Momentum's momentum typed down to 0.5 in the race setup: still the
    lesson, labelled "your variant", and its verdict over seeds is the CLI's with --set."""
    headless = cli_json(capsys, "momentum-ravine", "--set", "Momentum.momentum=0.5", "--seeds", "2")
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.set_focus(None)
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        await pilot.press("c")
        assert isinstance(app.screen, RaceSetupScreen)
        field = app.screen.query_one("#r2-optimizer-momentum", Input)
        assert field.value == "0.9"
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"0.5")
        await pilot.press("ctrl+g")
        # The setup starts the race; the lesson's verdict opens at its end.
        await wait_for(lambda: isinstance(app.screen, VerdictScreen), timeout=60)
        screen = app.screen
        lesson = app.session.lesson
        assert lesson is not None and lesson.label == "your variant"
        assert [run.config.optimizer_hypers["momentum"] for run in app.session.race.runs] == [
            0.0,
            0.5,
        ]
        shown = flat(" ".join(screen_text(app).splitlines()))
        assert "Verdict on your variant: the claim" in shown
        assert "momentum 0.5" in shown  # the variant's setup, on top
        await pilot.press("escape")
        assert "Momentum through a ravine - your variant" in screen_text(app)
        await pilot.press("v")
        screen = app.screen
        await pilot.press("minus", "minus")  # 8 -> 4 -> 2 seeds
        await pilot.press("s")
        await wait_for(lambda: screen.seeds_verdict is not None, timeout=120)
        assert screen.seeds_verdict.as_json() == headless


async def test_f_runs_the_lessons_flip_and_the_verdict_turns(capsys):
    """momentum-ravine holds; `f` on its verdict loads flip 1 (a round bowl at lr 0.5),
    labelled so, which does not hold; `f` again goes back to the lesson as shipped."""
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        await finish(pilot, app)
        assert app.session.verdict.outcome == "holds"
        assert "f tries flip 1, where it should not hold: on a round bowl" in flat(
            " ".join(screen_text(app).splitlines())
        )
        await pilot.press("f")
        await wait_for(lambda: app.session.lesson is not None and app.session.lesson.label)
        assert app.session.lesson.label == "flip 1"
        assert app.session.race.runs[0].config.lr == 0.5
        assert "Momentum through a ravine - flip 1" in screen_text(app)
        await finish(pilot, app)
        assert app.session.verdict.outcome == "fails"
        assert "Verdict on flip 1: the claim DOES NOT HOLD" in screen_text(app)
        await pilot.press("f")
        await wait_for(lambda: app.session.lesson.label is None)
        assert app.session.race.runs[0].config.lr == 0.01


async def test_the_verdict_judges_other_seeds_as_optplay_lesson_first_seed_does(capsys):
    headless = cli_json(capsys, "momentum-ravine", "--seeds", "4", "--first-seed", "4")
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, VerdictScreen)
        await pilot.press("minus")  # 4 seeds: 0-3
        await pilot.press("greater_than_sign")  # the next 4: 4-7
        assert "s judges the claim over 4 seeds (4–7)" in screen_text(app)
        await pilot.press("s")
        await wait_for(lambda: screen.seeds_verdict is not None, timeout=120)
        await pilot.pause()
        assert screen.seeds_verdict.as_json() == headless
        assert "Over 4 seeds (4–7): the claim HOLDS" in screen_text(app)


async def test_a_single_run_lessons_knob_edited_mid_run_waits_for_a_reset():
    """noise-escape is one run: editing its rate after it started is not applied halfway
    (the verdict would judge two settings); r starts the variant from step 0."""
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.set_focus(None)
        app.open_lesson("noise-escape")
        await pilot.pause()
        app.session.race.step(10)
        field = app.query_one("#optimizer-lr", Input)
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"0.02", "enter")
        await pilot.pause()
        assert app.session.run.config.lr == 0.01  # not applied halfway
        assert app.session.lesson.label is None
        app.set_focus(None)
        await pilot.press("r")
        await wait_for(lambda: app.session.run.config.lr == 0.02)
        assert app.session.run.steps_done == 0
        assert app.session.lesson.label == "your variant"
        assert "your variant" in screen_text(app)


async def test_a_prediction_before_the_run_is_shown_next_to_the_verdict():
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        await pilot.press("v")
        assert "Your prediction? h: it holds, d: it does not, u: not sure" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
        assert "Your prediction: it does not hold" in screen_text(app)
        await pilot.press("escape")
        await finish(pilot, app)
        assert app.session.verdict.outcome == "holds"
        shown = flat(" ".join(screen_text(app).splitlines()))
        assert "You predicted: it does not hold - the verdict says otherwise." in shown
        await pilot.press("h")  # too late: the run is judged
        assert "You predicted: it does not hold" in flat(" ".join(screen_text(app).splitlines()))

        await pilot.press("f")  # flip 1: a prediction of its own
        await wait_for(lambda: app.session.lesson.label == "flip 1")
        await pilot.press("v")
        assert "Your prediction? h:" in screen_text(app)
        await pilot.press("d", "escape")
        await finish(pilot, app)
        shown = flat(" ".join(screen_text(app).splitlines()))
        assert "You predicted: it does not hold - as the verdict says." in shown
