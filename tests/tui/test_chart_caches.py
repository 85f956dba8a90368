"""What the charts keep between frames (contours, schedule previews, the rows of the last
frame) never shows something stale: after a task switch, a reset, new knobs or more steps,
the chart draws what a chart drawing from scratch would."""

from __future__ import annotations

import gc
import random
import weakref

import numpy as np
from plotext._matrix import matrix_class

from engine.config import Experiment, RaceEntry
from engine.run import RunConfig
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel, LossChart, LrChart, PathChart
from tui.charts.braille import DotGrid, Frame
from tui.charts.lr import schedule_preview
from tui.charts.path import level_set_mask
from tui.charts.plotext_adapter import _Matrix

SIZE = (100, 30)
ROSENBROCK = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})


def raster(frame: Frame, draw) -> tuple[list[int], list[int], list[str]]:
    """The cells a fresh dot grid makes of `draw(grid)`."""
    grid = DotGrid(frame)
    draw(grid)
    rows, cols, chars = grid.cells()
    return rows.tolist(), cols.tolist(), chars


def drawn(layer) -> tuple[list[int], list[int], list[str]]:
    rows, cols, chars, *_ = layer
    return np.asarray(rows).tolist(), np.asarray(cols).tolist(), list(chars)


def contour_drawn(chart: PathChart, task) -> bool:
    """The first layer the Path chart drew is the task's contour, made from scratch."""
    frame = chart.frame
    levels = max(3, min(chart.MAX_LEVELS, frame.cols // 10, frame.rows // 3))
    mask = level_set_mask(task, frame, levels)
    return drawn(chart.cells[0]) == raster(frame, lambda grid: grid.add_mask(mask))


async def test_path_contour_is_the_tasks_after_a_reset_and_a_task_switch() -> None:
    app = create_app(ROSENBROCK)
    async with app.run_test(size=SIZE) as pilot:
        app.session.race.step(50)
        app.main.query_one(ChartPanel).redraw()
        await pilot.pause()
        chart = app.query_one(PathChart)
        assert contour_drawn(chart, app.session.run.task)
        before = chart.cells[0]

        app.action_reset()  # a new task object, the same surface: the same contour
        await pilot.pause()
        assert app.session.run.steps_done == 0
        assert contour_drawn(chart, app.session.run.task)
        assert drawn(chart.cells[0]) == drawn(before)

        app.do(app.session.pick("task", "ill-conditioned"))  # at step 0: applies now
        await pilot.pause()
        assert app.session.run.config.task == "ill-conditioned"
        assert contour_drawn(chart, app.session.run.task)
        assert drawn(chart.cells[0]) != drawn(before)
        ill = drawn(chart.cells[0])

        knobs = dict(app.session.config.task_hypers)
        app.do(app.session.edit("task", {**knobs, "condition": 50.0}))
        await pilot.pause()  # a steeper valley in the same window: its own contour
        assert app.session.run.task.condition == 50.0
        assert contour_drawn(chart, app.session.run.task)
        assert drawn(chart.cells[0]) != ill

        app.do(app.session.edit("task", knobs))
        await pilot.pause()
        assert drawn(chart.cells[0]) == ill

        app.do(app.session.pick("task", "rosenbrock"))  # and back
        await pilot.pause()
        assert contour_drawn(chart, app.session.run.task)
        assert drawn(chart.cells[0]) == drawn(before)


def schedule_drawn(chart: LrChart, schedule, span: int) -> bool:
    """The LR chart's first layer is `schedule`'s preview over `span` steps, from scratch."""
    preview = schedule_preview(schedule, span, 2 * chart.columns())
    return drawn(chart.cells[0]) == raster(chart.frame, lambda grid: grid.band(*preview))


async def test_lr_preview_is_the_new_schedules_after_new_knobs_and_a_reset() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="cosine")
    app = create_app(config, steps=1000)
    async with app.run_test(size=SIZE) as pilot:
        app.show_tab("tab-lr")
        await pilot.pause()
        chart = app.query_one(LrChart)
        assert schedule_drawn(chart, app.session.run.schedule, 1000)
        before = drawn(chart.cells[0])
        first = dict(app.session.config.optimizer_hypers)

        app.session.race.step(100)
        app.do(app.session.edit("schedule", {"total_steps": 300, "min_lr": 0.0}))
        await pilot.pause()  # applies from the next step: the preview shows it now
        assert app.session.run.schedule.total_steps == 300
        assert schedule_drawn(chart, app.session.run.schedule, 1000)
        assert drawn(chart.cells[0]) != before

        app.do(app.session.edit("optimizer", {**first, "lr": 0.5}))
        app.action_reset()
        await pilot.pause()
        assert app.session.run.steps_done == 0 and app.session.run.schedule.base_lr == 0.5
        assert schedule_drawn(chart, app.session.run.schedule, 1000)

        app.do(app.session.edit("schedule", {"total_steps": 1000, "min_lr": 0.0}))
        app.do(app.session.edit("optimizer", first))
        await pilot.pause()  # back to the first settings: the first curve
        assert drawn(chart.cells[0]) == before


async def wait_for_previews(pilot, chart: LrChart) -> None:
    for _ in range(500):
        await pilot.pause(0.01)
        if not chart.busy:
            break
    await pilot.pause()
    assert not chart.busy


async def test_long_schedules_made_off_the_frame_are_drawn_once_ready() -> None:
    """A preview of a long run is made in a thread; once it is ready the chart draws every
    lane's schedule exactly as a preview made from scratch."""
    base = RunConfig(task="quadratic", optimizer="sgd", schedule="exponential")
    gammas = (0.9999, 0.9995, 0.999, 0.998, 0.995, 0.99)
    entries = [RaceEntry(base.replace(schedule_hypers={"gamma": g}), f"gamma {g}") for g in gammas]
    app = create_app(Experiment.of_race(entries), steps=200_000)  # previews sample lr()
    async with app.run_test(size=SIZE) as pilot:
        app.show_tab("tab-lr")
        chart = app.query_one(LrChart)
        await wait_for_previews(pilot, chart)
        n = 2 * chart.columns()
        for i, run in enumerate(app.session.race.runs):
            preview = schedule_preview(run.schedule, 200_000, n)
            band = raster(chart.frame, lambda g, p=preview, i=i: (g.band(*p), g.dash(i)))
            assert drawn(chart.cells[2 * i]) == band  # each lane: its band, then its number
            assert chart.cells[2 * i + 1][2] == [str(i + 1)]

        app.session.race.step(10)  # the next frames draw them from the cache, in the frame
        app.main.query_one(ChartPanel).redraw()
        assert not chart.busy and len(chart.cells) >= 2 * len(gammas)


async def test_a_long_single_run_draws_its_schedule_once_ready() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="step")
    app = create_app(config, steps=300_000)
    async with app.run_test(size=SIZE) as pilot:
        app.show_tab("tab-lr")
        chart = app.query_one(LrChart)
        await wait_for_previews(pilot, chart)
        assert schedule_drawn(chart, app.session.run.schedule, 300_000)
        app.do(app.session.edit("schedule", {"step_size": 5000, "gamma": 0.5}))
        await wait_for_previews(pilot, chart)
        assert app.session.run.schedule.step_size == 5000
        assert schedule_drawn(chart, app.session.run.schedule, 300_000)


def chart_rows(app: OptplayApp, chart) -> list[str]:
    """The chart's part of the screen, as the user sees it."""
    region = chart.region
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


async def test_a_chart_that_drew_many_frames_shows_what_one_frame_draws() -> None:
    """Rows that did not change keep their strips and are not repainted; the screen still
    shows exactly the new picture, as built from scratch."""
    app = create_app(ROSENBROCK, steps=3000)
    async with app.run_test(size=SIZE) as pilot:
        app.show_tab("tab-loss")
        await pilot.pause()
        chart = app.query_one(LossChart)
        for steps in (500, 3, 1, 200, 1000, 0):  # small steps change few rows
            app.session.race.step(steps)
            app.main.query_one(ChartPanel).redraw()
            await pilot.pause()
            scratch = chart.build_strips(reuse=False)
            assert chart_rows(app, chart) == [strip.text for strip in scratch]
            assert list(map(list, chart.build_strips())) == list(map(list, scratch))
        assert any("\u2800" < c <= "\u28ff" for row in chart_rows(app, chart) for c in row)


async def test_a_dropped_plotext_figure_is_freed_without_the_garbage_collector() -> None:
    app = create_app(ROSENBROCK)
    async with app.run_test(size=SIZE) as pilot:
        app.show_tab("tab-loss")
        await pilot.pause()
        chart = app.query_one(LossChart)
        panel = app.main.query_one(ChartPanel)
        gc.disable()
        try:
            figure = weakref.ref(chart._figure)
            app.session.race.step(10)
            panel.redraw()
            assert figure() is None  # freed by reference counting: no full collection
        finally:
            gc.enable()


def test_plotext_matrix_rows_are_the_ones_plotext_makes() -> None:
    rng = random.Random(4)
    for _ in range(500):
        made = []
        cols, rows = rng.randint(0, 30), rng.randint(0, 20)
        area = [rng.randint(-3, 33) for _ in range(4)]
        for kind in (matrix_class, _Matrix):
            matrix = kind()
            matrix.set_size(cols, rows)
            matrix.set_axes_color((1, 2, 3))
            matrix.set_canvas_area(*area)
            matrix.set_canvas_color("blue")
            matrix.set_matrices()
            made.append((matrix.marker, matrix.fullground, matrix.background, matrix.style))
        assert made[0] == made[1]


def test_braille_codes_are_the_sum_of_the_dots_bits() -> None:
    rng = np.random.default_rng(3)
    frame = Frame(cols=9, rows=5, x0=0, x1=1, y0=0, y1=1)
    grid = DotGrid(frame)
    grid.dots[:] = rng.random(grid.dots.shape) < 0.3
    bits = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]])
    for r in range(frame.rows):
        for c in range(frame.cols):
            block = grid.dots[4 * r : 4 * r + 4, 2 * c : 2 * c + 2]
            assert grid.codes()[r, c] == int((block * bits).sum())
    rows, cols, chars = grid.cells()
    assert [ord(ch) - 0x2800 for ch in chars] == grid.codes()[rows, cols].tolist()
    assert all(grid.codes()[rows, cols] > 0) and len(rows) == np.count_nonzero(grid.codes())
