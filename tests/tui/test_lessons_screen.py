"""Pilot tests of the Lessons screen, the lesson line and the verdict (issue 19).

Keys in, screen out: a lesson chosen on the Lessons screen opens its experiment (a race as a
race) on the tab it says to watch, runs with space, and ends with the verdict that
`optplay lesson NAME` prints, numbers included.
"""

from __future__ import annotations

import re

from conftest import screen_text, shipped_verdict, wait_for
from textual.widgets import Input, TabbedContent

from engine import lessons
from engine.lessons.measure import number
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel
from tui.cli import main as cli_main
from tui.screens.lessons import LessonsScreen
from tui.screens.verdict import VerdictScreen
from tui.widgets.lesson_line import LessonLine
from tui.widgets.status import StatusLine

SMALL = (80, 24)

SOLO_EXPERIMENT = """
task = "quadratic"
seed = 0
steps = 40
optimizer = "sgd"
[optimizer_hypers]
lr = 0.1
"""
SOLO_LESSON = """
title = "SGD down a bowl"
topic = "basics"
order = 1
claim = "SGD at lr 0.1 reaches loss 0.001 within 40 steps."
source = "a test"
why = "Each step shrinks x by 1 - 2 lr."
expect = "holds"
[watch]
tab = "lr"
what = "the rate stays at 0.1"
[measure]
kind = "steps_to"
target = 1e-3
subject = "sgd"
compare = "value"
at_most = 40
"""


def flat(text: str) -> str:
    return " ".join(text.split())


def text_of(app: OptplayApp, selector: str) -> str:
    """What one widget's area of the screen shows (of the screen on top), rows joined."""
    region = app.screen.query_one(selector).content_region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return " ".join(" ".join(row[region.x : region.right].split()) for row in rows)


def rows_of(app: OptplayApp, selector: str) -> list[str]:
    region = app.screen.query_one(selector).content_region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return [row[region.x : region.right].rstrip() for row in rows]


def cells(line: str) -> list[str]:
    """A table row's cells (columns are separated by two spaces or more)."""
    return re.split(r"\s{2,}", line.strip())


def headless(capsys, name: str) -> str:
    """What `optplay lesson NAME --seed 0` prints (the app runs one seed, the shipped one)."""
    capsys.readouterr()
    assert cli_main(["lesson", name, "--seed", "0", "--no-progress"]) == 0
    return capsys.readouterr().out


async def test_L_lists_the_lessons_by_topic_with_the_highlighted_ones_claim() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("L")
        assert isinstance(app.screen, LessonsScreen)
        listing = text_of(app, "#lesson-list")
        expected = []
        for topic, group in lessons.by_topic().items():
            expected += [topic, *(lesson.title for lesson in group)]
        # Every lesson under its topic, in order, wrapped; at 80x24 the list scrolls (its
        # scrollbar's blocks are not text).
        shown = " ".join(w for w in listing.split() if not set(w) <= set("▁▂▃▄▅▆▇█▔"))
        assert " ".join(expected).startswith(shown) and len(shown.split()) > 60
        first, second = (lessons.load(n) for n in lessons.names()[:2])
        card = text_of(app, "#lesson-card")
        assert card.startswith(f"{first.title} {first.name}: a race of 2 (SGD, Momentum)")
        assert flat(first.claim) in card and "Watch: the Path tab" in card
        await pilot.press("down")  # the next lesson
        card = text_of(app, "#lesson-card")
        assert card.startswith(second.title) and flat(second.claim)[:60] in card
        assert f"Headless: optplay lesson {second.name}" not in screen_text(app)
        await pilot.press("tab", "end")  # to the card, then its end: the card scrolls
        assert f"Headless: optplay lesson {second.name}" in text_of(app, "#lesson-card-scroll")
        await pilot.press("escape")
        assert not isinstance(app.screen, LessonsScreen)
        assert app.session.lesson is None and not app.session.racing


async def test_a_race_lesson_runs_to_the_verdict_optplay_lesson_prints(capsys) -> None:
    name = "adam-bias-correction"
    lesson = lessons.load(name)
    out = headless(capsys, name)
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("L", *["down"] * lessons.names().index(name), "enter")
        await pilot.pause()
        session = app.session
        assert not isinstance(app.screen, LessonsScreen)
        assert session.racing and session.race.names == list(lesson.lanes)
        assert lesson.lanes[:2] == ("Adam", "Adam, uncorrected")
        assert session.planned_steps == 50 and session.lesson is lesson
        # Its view: the Norms tab, drawing each lane's update norm.
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-norms"
        line = text_of(app, "LessonLine")
        assert line.startswith(f"Lesson: {lesson.title}")
        assert "Watch the Norms tab (update norm):" in line
        assert f"race of {len(lesson.lanes)}" in str(app.query_one(StatusLine).render())

        await pilot.press("space")
        await wait_for(lambda: isinstance(app.screen, VerdictScreen))
        await pilot.pause()
        shown = text_of(app, "#verdict-text")
        assert shown.startswith("Verdict: the claim HOLDS on this run")
        assert "Verdict: the claim HOLDS on this run" in out
        verdict = shipped_verdict(name)
        assert app.session.verdict == verdict
        assert flat(verdict.summary) in shown and flat(verdict.summary) in flat(out)
        assert "The ratio Adam, uncorrected / Adam is 6.407" in shown
        # The table's rows hold the numbers `optplay lesson` prints, cell for cell.
        screen_rows = rows_of(app, "#verdict-text")
        printed = out.splitlines()
        for lane in lesson.lanes:
            on_screen = next(r for r in screen_rows if r.startswith(lane + "  "))
            in_cli = next(r for r in printed if r.startswith(f"  {lane}  "))
            assert cells(on_screen) == cells(in_cli)
        assert flat(verdict.conditions[0])[:50] in shown

        await pilot.press("escape")
        assert not isinstance(app.screen, VerdictScreen)
        line = text_of(app, "LessonLine")
        assert "Verdict: the claim HOLDS - Adam, uncorrected had a highest update" in line
        await pilot.press("v")  # the verdict again, until another experiment loads
        assert isinstance(app.screen, VerdictScreen)
        assert flat(verdict.summary) in text_of(app, "#verdict-text")


async def test_stepping_to_the_end_opens_the_verdict_and_a_preset_ends_the_lesson() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson("amsgrad-step")  # a race of three, 3,000 steps
        await pilot.pause()
        assert len(app.session.race.runs) == 3
        app.session.race.step(2999)
        await pilot.press("n")
        assert isinstance(app.screen, VerdictScreen)
        shown = text_of(app, "#verdict-text")
        assert shown.startswith("Verdict: the claim HOLDS on this run")
        assert (
            "AMSGrad rose to 1.226× its lowest effective learning rate so far from step 1,000"
            in shown
        )
        assert "It would be undecided starting at (0, 0)" in shown
        await pilot.press("end")  # the rest (claim, why) scrolls into view at 80x24
        assert "Headless: optplay lesson amsgrad-step" in screen_text(app)
        await pilot.press("escape")

        app.open_preset("schedules")
        await pilot.pause()
        assert app.session.lesson is None
        assert not app.query_one(LessonLine).display  # no lesson: the line takes no room
        await pilot.press("v")
        assert not isinstance(app.screen, VerdictScreen)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Lesson verdict" not in titles and "Lessons" in titles


async def test_v_before_the_end_shows_the_claim_and_how_far_the_run_is() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        assert not app.query_one(LessonLine).display
        app.open_lesson("momentum-ravine")
        await pilot.pause()
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-path"
        app.session.race.step(120)
        await pilot.press("v")
        assert isinstance(app.screen, VerdictScreen)
        shown = text_of(app, "#verdict-text")
        assert shown.startswith("Verdict: not yet")
        assert "step 120 of 600 now" in shown
        assert flat(lessons.load("momentum-ravine").claim)[:60] in shown


async def test_a_single_run_lesson_opens_as_the_single_run() -> None:
    lesson = lessons.loads("sgd-bowl", SOLO_EXPERIMENT, SOLO_LESSON)
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson(lesson)
        await pilot.pause()
        assert not app.session.racing and app.query_one("#sidebar").display
        assert app.query_one("#optimizer-lr", Input).value == "0.1"
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-lr"
        app.session.race.step(39)
        await pilot.press("n")
        assert isinstance(app.screen, VerdictScreen)
        shown = text_of(app, "#verdict-text")
        assert "sgd reached loss 0.001 at step" in shown.lower()
        assert app.session.verdict == lesson.run()[1]


async def test_the_palette_offers_the_lessons_and_each_lesson() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Lessons" in titles and "Lesson verdict" not in titles
        assert {f"Load lesson: {name}" for name in lessons.names()} <= titles
        command = next(
            c
            for c in app.get_system_commands(app.screen)
            if c.title == "Load lesson: cosine-restarts"
        )
        command.callback()
        await pilot.pause()
        assert app.session.lesson.name == "cosine-restarts" and app.session.racing
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Lesson verdict" in titles


async def test_s_judges_the_lesson_over_8_seeds_as_optplay_lesson_json_does(capsys) -> None:
    import json

    name = "adagrad-sparse"  # seeds differ here: data, init and batches
    capsys.readouterr()
    assert cli_main(["lesson", name, "--json", "--jobs", "1"]) == 0
    headless_json = json.loads(capsys.readouterr().out)
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson(name)
        app.session.race.step(app.session.planned_steps - 1)
        await pilot.press("space")
        await wait_for(lambda: isinstance(app.screen, VerdictScreen))
        screen = app.screen
        assert "s judges the claim over 8 seeds (0–7)" in flat(text_of(app, "#verdict-text"))
        await pilot.press("s")
        await wait_for(lambda: screen.seeds_verdict is not None, timeout=120)
        await pilot.pause()
        assert screen.seeds_verdict.as_json() == headless_json
        shown = text_of(app, "#verdict-seeds")
        assert shown.startswith("Over 8 seeds: the claim HOLDS")
        assert flat(screen.seeds_verdict.summary()) in shown
        assert "Per seed: ●●●●●●●●" in shown


async def test_a_lesson_that_measures_update_norms_opens_the_norms_tab_on_them() -> None:
    """adam-bias-correction measures the update norm: loading it opens the Norms tab drawing
    each lane's update norm (not the gradient norm), and `u` moves on to the ratio."""
    from tui.charts.norms import NormsChart

    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_lesson("adam-bias-correction")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "tab-norms"
        chart = app.query_one(NormsChart)
        assert chart.LANE_SERIES[chart.lane_series][0] == "update_norm"
        assert "Watch the Norms tab (update norm)" in screen_text(app)
        app.set_focus(None)
        app.session.race.step(20)
        await pilot.press("u")
        await pilot.pause()
        assert chart.LANE_SERIES[chart.lane_series][0] == "update_grad_ratio"
        app.query_one(ChartPanel).redraw()
        lanes = len(app.session.race.runs)
        await wait_for(lambda: f"‖Δθ‖/‖g‖ · {lanes} runs" in screen_text(app))


async def test_the_edge_of_stability_lesson_opens_on_the_sharpness_chart() -> None:
    """Its verdict reads λ_max × lr/2: the app's run measures the sharpness as the CLI's does,
    and the lesson opens on the chart that draws it against 2/η."""
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.open_lesson("edge-of-stability")
        await pilot.pause()
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-sharpness"
        assert {run.config.sharpness_every for run in app.session.race.runs} == {10}
        app.session.race.step(299)
        await pilot.press("n")
        assert isinstance(app.screen, VerdictScreen)
        assert app.session.verdict == shipped_verdict("edge-of-stability")
        mean = number(app.session.verdict.values["sgd"])
        assert f"mean sharpness × lr/2 of {mean} in steps 151–300" in text_of(app, "#verdict-text")
