"""A lesson's measured steps are marked on the chart it watches (issue 23): each lane's target
step on the Loss chart in the lane's colour, a max's window on the Norms chart's update norms,
and the title names them; nothing is marked before the verdict, nor on a series not measured.
"""

from __future__ import annotations

from conftest import wait_for

from tui.app import create_app
from tui.charts import ChartPanel
from tui.charts.base import Picture
from tui.charts.loss import LossChart
from tui.charts.norms import NormsChart
from tui.screens.verdict import VerdictScreen

SIZE = (100, 30)


def described(app, chart_type) -> Picture:
    """What the chart draws for the view shown now (the lanes' picture: a race)."""
    picture = Picture(log_y=False)
    app.query_one(chart_type).lanes_picture(app.query_one(ChartPanel).view, picture)
    return picture


async def finish(pilot, app) -> None:
    """Train the loaded lesson to its end (the last step through the app) and close the
    verdict it opens."""
    app.set_focus(None)
    app.session.race.step(app.session.planned_steps - 1)
    await pilot.press("n")
    await wait_for(lambda: isinstance(app.screen, VerdictScreen))
    await pilot.press("escape")
    await wait_for(lambda: not isinstance(app.screen, VerdictScreen))
    await wait_for(lambda: app.query_one(ChartPanel).view.measured is not None)


async def test_each_lanes_target_step_is_marked_on_the_loss_chart_in_its_colour() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        app.set_focus(None)
        app.open_lesson("lr-overshoot")
        await pilot.pause()
        chart = app.query_one(LossChart)
        assert not any(line[0] > 0 for line in described(app, LossChart).vlines)
        await finish(pilot, app)
        reached = app.session.verdict.values  # lane -> the step it reached loss 1e-6
        lanes = list(reached)
        assert all(isinstance(step, int) for step in reached.values()), reached
        picture = described(app, LossChart)
        want = {(reached[name], chart.lane_color(i)) for i, name in enumerate(lanes)}
        assert want <= set(picture.vlines)
        named = ", ".join(f"{i + 1} at {reached[name]:,}" for i, name in enumerate(lanes))
        assert f"measured: {named}" in picture.title
        # The Norms chart is not what this lesson watches: nothing marked there.
        norms = described(app, NormsChart)
        assert not norms.vlines and not any("measured" in part for part in norms.title)


async def test_a_max_over_steps_1_to_10_marks_its_window_on_the_update_norms_only() -> None:
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        app.set_focus(None)
        app.open_lesson("adam-bias-correction")  # the highest update norm in steps 1-10
        await pilot.pause()
        await finish(pilot, app)
        norms = app.query_one(NormsChart)
        assert norms.LANE_SERIES[norms.lane_series][2] == "update"
        picture = described(app, NormsChart)
        assert {(1, norms.color("note")), (10, norms.color("note"))} <= set(picture.vlines)
        assert "measured: window 1–10" in picture.title
        norms.next_series()  # the update/gradient ratio: not what the verdict measured
        picture = described(app, NormsChart)
        assert not picture.vlines and not any("measured" in part for part in picture.title)
        # A reset clears the verdict, and the marks with it.
        await pilot.press("r")
        await wait_for(lambda: app.query_one(ChartPanel).view.measured is None)
