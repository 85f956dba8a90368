"""The Model tab: what the network (or the line) learned, drawn live.

Pilot tests drive the app (the tab shows up only for tasks with a view, `d` swaps training and
test points, `m` walks the lanes of a race from the leader, the picture follows a running
run); the painters are also checked on their own against the engine's view (what a cell
shows is what the view says), with colour, without (NO_COLOR) and in ASCII.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest
from conftest import screen_text
from textual.widgets import TabbedContent

from engine.config import RaceEntry
from engine.run import Run, RunConfig
from tui.app import OptplayApp, create_app
from tui.charts.axes import value_label
from tui.charts.cells import REVERSE, CellCanvas, Look
from tui.charts.model import ModelChart, fits, regions
from tui.charts.model.chart import Computed, Request, headings, paint
from tui.charts.model.ink import CLASS_GLYPHS, Ink, class_glyph, class_texture
from tui.widgets.status import StatusLine

SMALL = (80, 24)
SPIRAL = RunConfig(task="binary-mlp", optimizer="adam", task_hypers={"dataset": "spiral"},
                   optimizer_hypers={"lr": 0.03})  # fmt: skip


async def settle(pilot, timeout: float = 10.0) -> ModelChart:
    """Wait until the Model tab shows the view of the run as it is now."""
    chart = pilot.app.query_one(ModelChart)
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if not chart.busy:
            return chart
        await asyncio.sleep(0.02)
    raise AssertionError("the model view was not drawn in time")


def chart_text(app: OptplayApp) -> str:
    chart = app.query_one(ModelChart)
    region = chart.content_region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return "\n".join(row[region.x : region.right] for row in rows)


async def stepped(pilot, steps: int) -> None:
    pilot.app.set_focus(None)
    pilot.app.session.race.step(steps - 1)
    await pilot.press("n")


# -- in the app ------------------------------------------------------------------------------


async def test_the_tab_is_there_only_for_tasks_with_a_view_and_draws_the_regions() -> None:
    app = create_app(SPIRAL)
    async with app.run_test(size=SMALL) as pilot:
        await stepped(pilot, 200)
        assert "Model" in screen_text(app).splitlines()[0]
        app.show_tab("tab-model")
        chart = await settle(pilot)
        text = chart_text(app)
        assert "spiral: class regions (shade: how sure)" in text
        view = chart.computed.view
        wrong = int(np.count_nonzero(view.train.wrong))
        assert f"{wrong} wrong of 250 training points" in text
        canvas = chart.canvas
        top = regions.header_rows(canvas.rows)
        grid = canvas.chars[top : top + 16, regions.LEFT :]
        assert set(grid.ravel()) <= {"▀", "●", "✕"} and "●" in grid and "✕" in grid
        reversed_cells = canvas.attrs[top:, regions.LEFT :] & REVERSE
        assert reversed_cells.any() == (wrong > 0)
        # A landscape has no Model tab; leaving it for one opens the landscape's Path.
        app.show_tab("tab-model")
        app.do(app.session.pick("task", "rosenbrock"))
        await pilot.press("r")  # the run has started: a new task applies on reset
        await pilot.pause()
        assert "Model" not in screen_text(app).splitlines()[0]
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-path"


async def test_d_shows_the_test_points_instead_of_the_training_points_and_back() -> None:
    app = create_app(RunConfig(task="binary-mlp", optimizer="adam"))
    async with app.run_test(size=(120, 40)) as pilot:
        await stepped(pilot, 50)
        assert app.check_action("model_points", ())  # the key applies (in the footer)
        await pilot.press("d")  # from the Loss tab: the Model tab comes into view
        assert app.query_one("#chart-tabs", TabbedContent).active == "tab-model"
        chart = await settle(pilot)
        view = chart.computed.view
        wrong = int(np.count_nonzero(view.test.wrong))
        assert f"{wrong} wrong of 250 test points" in chart_text(app)
        assert "d: training points" in chart_text(app)
        await pilot.press("d")
        await settle(pilot)
        wrong = int(np.count_nonzero(view.train.wrong))
        assert f"{wrong} wrong of 250 training points" in chart_text(app)
        assert "d: test points" in chart_text(app)


async def test_m_walks_the_lanes_of_a_race_starting_from_the_leader() -> None:
    app = create_app(SPIRAL)
    async with app.run_test(size=(120, 40)) as pilot:
        assert not app.check_action("model_lane", ())  # one run: nothing to cycle
        entries = [RaceEntry(SPIRAL.replace(optimizer=o, optimizer_hypers={"lr": lr}))
                   for o, lr in (("sgd", 1e-4), ("adam", 0.05), ("momentum", 1e-4))]  # fmt: skip
        app.do(app.session.start_race(entries, 500, go=False))
        race = app.session.race
        await stepped(pilot, 30)
        app.show_tab("tab-model")
        chart = await settle(pilot)
        assert app.check_action("model_lane", ())
        leader = app.session.view().leader_lane
        assert leader == 1 and chart.computed.request.run is race.runs[1]
        assert "adam (leads) · lane 2/3 · m: next" in chart_text(app)
        await pilot.press("m")
        chart = await settle(pilot)
        assert chart.computed.request.run is race.runs[2]
        assert "momentum · lane 3/3 · m: next" in chart_text(app)
        await pilot.press("m")
        chart = await settle(pilot)
        assert chart.computed.request.run is race.runs[0]
        assert "sgd · lane 1/3" in chart_text(app)


async def test_the_picture_follows_a_running_run_and_keys_still_answer() -> None:
    app = create_app(SPIRAL)
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        while app.session.speed != 50:
            await pilot.press("minus")
        app.show_tab("tab-model")
        await pilot.press("space")
        chart = app.query_one(ModelChart)
        seen = set()
        for _ in range(400):
            await asyncio.sleep(0.02)
            if chart.computed is not None:
                seen.add(chart.computed.request.step)
            if len(seen) >= 3:
                break
        assert len(seen) >= 3  # several pictures, each of a later step
        await pilot.press("space")
        await pilot.pause()
        assert app.session.race.state == "paused"
        chart = await settle(pilot)
        assert chart.computed.request.step == app.session.run.steps_done


async def test_linear_regression_shows_its_lines_and_the_fit_in_the_status() -> None:
    config = RunConfig(task="linear-regression", optimizer="sgd", optimizer_hypers={"lr": 0.05})
    app = create_app(config)
    async with app.run_test(size=(160, 40)) as pilot:
        await stepped(pilot, 40)
        app.show_tab("tab-model")
        chart = await settle(pilot)
        run = app.session.run
        fit = run.task.fit_summary(run.params)
        text = chart_text(app)
        assert "100 training points and three lines" in text
        assert fit[:40] in text  # the heading carries w, b and least squares
        assert "solid: now" in text and "dashed: true y=4+3x" in text
        assert fit in str(app.query_one(StatusLine).render())
        assert chart.computed.fit == fit


async def test_without_colour_classes_differ_by_texture_and_glyph() -> None:
    saved = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"  # Textual reads (and removes) it when the app is created
    try:
        app = create_app(SPIRAL)
    finally:
        if saved is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = saved
    async with app.run_test(size=SMALL) as pilot:
        await stepped(pilot, 600)
        app.show_tab("tab-model")
        chart = await settle(pilot)
        assert chart.look() == Look(colors=False)
        canvas = chart.canvas
        top = regions.header_rows(canvas.rows)
        grid = set(canvas.chars[top : top + 16, regions.LEFT :].ravel())
        assert {"·", "-", "●", "✕"} <= grid  # both regions' textures, both classes' glyphs


# -- the painters, against the engine's views ----------------------------------------------------

INK = Ink(
    background=None,
    foreground=None,
    classes=tuple(None for _ in range(6)),
    roles={},
)


def color_ink() -> Ink:
    from textual.color import Color

    classes = tuple(Color.parse(c) for c in ("#4499ff", "#ffaa33", "#44cc77", "#ee4455"))
    roles = {
        r: Color.parse(c)
        for r, c in (
            ("fit", "#ee4455"),
            ("truth", "#44cc77"),
            ("solution", "#4499ff"),
            ("note", "#999999"),
        )
    }
    roles |= {"correct": Color.parse("#44cc77"), "wrong": Color.parse("#ee4455")}
    return Ink(Color.parse("#121212"), Color.parse("#e0e0e0"), classes, roles)


def trained(task: str, steps: int, **knobs) -> Run:
    run = Run(RunConfig(task=task, optimizer="adam", task_hypers=knobs))
    run.step(steps)
    return run


def computed_for(run: Run, cols: int, rows: int, look: Look) -> Computed:
    width, height = regions.pixel_size(cols, rows, look)
    view = run.task.model_view(run.params, width=width, height=height)
    return Computed(Request(run, run.task, run.steps_done, width, height), view,
                    run.task.fit_summary(run.params), None)  # fmt: skip


def test_each_cell_shows_its_two_pixels_shaded_by_certainty() -> None:
    run = trained("blobs-mlp", 100)
    look, ink = Look(), color_ink()
    computed = computed_for(run, 88, 36, look)
    view = computed.view
    canvas = paint(88, 36, run, computed, look, ink)
    table = regions.shade_table(CellCanvas(1, 1), ink, view.n_classes, look)
    level = np.rint(regions.certainty(view) * (regions.SHADES - 1)).astype(int)
    top = regions.header_rows(36)
    rows, cols = view.region.shape[0] // 2, view.region.shape[1]
    blocks = canvas.chars[top : top + rows, regions.LEFT : regions.LEFT + cols] == "▀"
    assert blocks.mean() > 0.5  # the rest are points
    colors = canvas.palette.colors
    for r, c in zip(*np.nonzero(blocks), strict=True):
        for pixel, where in ((2 * r, canvas.fg), (2 * r + 1, canvas.bg)):
            k, s = view.region[pixel, c], level[pixel, c]
            expected = ink.background.blend(
                ink.classes[k],
                regions.WEAKEST + s * (regions.STRONGEST - regions.WEAKEST) / (regions.SHADES - 1),
            )
            assert colors[where[top + r, regions.LEFT + c]] == expected
    assert table.shape == (3, regions.SHADES)


def test_points_are_drawn_with_their_class_glyph_and_the_wrong_ones_reversed() -> None:
    run = trained("binary-mlp", 30, dataset="xor")
    look = Look()
    computed = computed_for(run, 88, 36, look)
    view = computed.view
    canvas = paint(88, 36, run, computed, look, INK)
    top = regions.header_rows(36)
    prow, pcol = view.pixel_of(view.train.points)
    cells = {}
    for i, (r, c) in enumerate(zip(prow // 2, pcol, strict=True)):
        cells.setdefault((r, c), []).append(i)
    assert any(view.train.wrong)
    for (r, c), members in cells.items():
        last_wrong = [i for i in members if view.train.wrong[i]]
        shown = last_wrong[-1] if last_wrong else members[-1]  # the wrong ones are drawn last
        char = canvas.chars[top + r, regions.LEFT + c]
        assert char == class_glyph(int(view.train.labels[shown]), look)
        assert bool(canvas.attrs[top + r, regions.LEFT + c] & REVERSE) == bool(last_wrong)


@pytest.mark.parametrize("look", [Look(colors=False), Look(ascii=True), Look(False, True)])
def test_without_half_blocks_regions_are_textures_that_thin_out_where_unsure(look) -> None:
    run = trained("blobs-mlp", 100, n_classes=4)
    computed = computed_for(run, 48, 20, look)
    view = computed.view
    assert view.region.shape == regions.grid_shape(48, 20)[::-1]  # one pixel per cell
    canvas = paint(48, 20, run, computed, look, color_ink() if look.colors else INK)
    top = regions.header_rows(20)
    grid = canvas.chars[top : top + view.region.shape[0], regions.LEFT :]
    textures = {class_texture(k, look) for k in range(4)}
    glyphs = {class_glyph(k, look) for k in range(4)}
    assert len(textures) == len(glyphs) == 4 and not textures & glyphs
    sure = regions.certainty(view) > 0.95
    unsure = regions.certainty(view) < 0.1
    is_point = np.isin(grid, list(glyphs))
    textured = np.isin(grid, list(textures))
    assert textured[sure & ~is_point].all()  # sure: every cell
    assert not textured[unsure & ~is_point].any()  # unsure: blank
    if look.ascii:
        assert all(ch.isascii() for ch in grid.ravel())


def test_class_glyphs_stay_distinct_in_ascii_and_cycle_beyond_ten() -> None:
    for look in (Look(), Look(ascii=True)):
        glyphs = [class_glyph(k, look) for k in range(len(CLASS_GLYPHS))]
        assert len(set(glyphs)) == len(glyphs)
    assert all(class_glyph(k, Look(ascii=True)).isascii() for k in range(12))
    assert class_glyph(10, Look()) == class_glyph(0, Look())


@pytest.mark.parametrize("look", [Look(), Look(colors=False), Look(ascii=True)])
def test_confusion_matrix_cells_hold_the_views_counts_and_the_digits_their_labels(look) -> None:
    run = trained("digits-mlp", 40)
    computed = computed_for(run, 88, 36, look)
    view = computed.view
    canvas = paint(88, 36, run, computed, look, color_ink() if look.colors else INK)
    lines = canvas.lines()
    header = next(i for i, line in enumerate(lines) if line.startswith("true"))
    for i in range(10):
        cells = lines[header + 1 + i].split("│", 1)[1].split()
        counts = [0 if cell in ("·", ".") else int(cell) for cell in cells[:10]]
        assert counts == view.matrix[i].tolist()
    arrow = ">" if look.ascii else "→"
    labels = [f"{t}{arrow}{p}" for t, p in zip(view.true_labels, view.predicted_labels,
                                                strict=True)]  # fmt: skip
    drawn = " ".join(lines).split()
    shown = [w for w in drawn if arrow in w and w[0].isdigit()]
    assert shown == labels[: len(shown)] and len(shown) >= min(8, view.n_misclassified)
    assert f"{len(shown)} of {view.n_misclassified} wrong" in " ".join(lines)


def test_weights_rows_list_now_and_least_squares_and_say_how_many_are_left_out() -> None:
    run = trained("linear-regression", 50, n_features=40)
    computed = computed_for(run, 48, 20, Look())
    view = computed.view
    canvas = paint(48, 20, run, computed, Look(), INK)
    rows = [line for line in canvas.lines() if line.strip().startswith(("w", "b "))]
    assert rows
    for line in rows:
        name, now, least = line.split()[:3]
        i = view.names.index(name)
        assert now == value_label(view.current[i]) and least == value_label(view.least_squares[i])
    assert f"… {41 - len(rows)} more" in "\n".join(canvas.lines())


def test_every_view_fits_and_states_what_it_draws_at_80x24() -> None:
    for task, knobs in [("binary-mlp", {"dataset": "circle"}), ("blobs-mlp", {}),
                        ("linear-regression", {}), ("linear-regression", {"n_features": 5}),
                        ("quadratic", {}), ("digits-mlp", {}), ("sine-rnn", {})]:  # fmt: skip
        run = trained(task, 20, **knobs)
        computed = computed_for(run, 48, 20, Look())
        run.history.trajectory(10)
        canvas = paint(48, 20, run, computed, Look(), INK)
        first = headings(run, computed, False)[0]
        assert canvas.lines()[0].startswith(first[:30]), task  # the title, on top
        assert len(canvas.lines()) == 20 and all(len(line) == 48 for line in canvas.lines())


def test_line_fit_draws_three_distinct_lines() -> None:
    run = trained("linear-regression", 5)
    computed = computed_for(run, 88, 36, Look())
    canvas = CellCanvas(88, 36)
    ink = color_ink()
    fits.paint_line(canvas, computed.view, Look(), ink, ["heading"])
    text = "\n".join(canvas.lines())
    assert "solid: now" in text and "dotted: least squares" in text
    colors = {canvas.palette.colors[i] for i in np.unique(canvas.fg[canvas.chars >= "\u2800"])}
    assert len(colors) >= 2  # points and lines in their own colours


def test_the_look_follows_no_color_and_the_apps_ascii_mode() -> None:
    from types import SimpleNamespace

    from tui.charts.cells import look_of

    def app(no_color: bool, ascii_only: bool = False) -> SimpleNamespace:
        return SimpleNamespace(no_color=no_color, ascii_only=ascii_only)

    assert look_of(app(False)) == Look(colors=True, ascii=False)
    assert look_of(app(True)) == Look(colors=False, ascii=False)
    assert look_of(app(False, ascii_only=True)) == Look(colors=True, ascii=True)
    assert not Look(colors=True, ascii=True).blocks and Look().blocks


@pytest.mark.parametrize(
    ("task", "knobs"),
    [("binary-mlp", {}), ("blobs-mlp", {}), ("linear-regression", {}),
     ("linear-regression", {"n_features": 4}), ("quadratic", {}), ("digits-mlp", {}),
     ("sine-rnn", {})],
)  # fmt: skip
def test_a_diverged_network_still_gets_a_picture(task, knobs) -> None:
    run = trained(task, 3, **knobs)
    for values in run.params.values():
        values[...] = np.nan  # what a run that diverged holds
    for look in (Look(), Look(colors=False)):
        computed = computed_for(run, 48, 20, look)
        canvas = paint(48, 20, run, computed, look, INK)
        assert canvas.lines()[0].strip()  # the title is there; nothing raised


async def test_a_race_names_its_eval_loss_leader_in_the_status_panel_model_tab_and_table() -> None:
    """Batch-loss order and eval-loss order differ (adam has the lowest batch loss at step
    100, sgd the lowest eval loss): every screen names sgd, ranked by eval loss."""
    from tui.widgets.race_panel import RacePanel
    from tui.widgets.race_table import RaceTable

    base = SPIRAL.replace(eval_every=50)
    app = create_app(base)
    async with app.run_test(size=(140, 40)) as pilot:
        entries = [RaceEntry(base.replace(optimizer=o, optimizer_hypers={"lr": lr}))
                   for o, lr in (("sgd", 0.1), ("adam", 0.01), ("momentum", 0.05))]  # fmt: skip
        app.do(app.session.start_race(entries, 300, go=False))
        race = app.session.race
        await stepped(pilot, 100)
        batch = [run.history.last("loss") for run in race.runs]
        assert min(range(3), key=batch.__getitem__) == 1  # adam leads on batch loss
        text = screen_text(app)
        assert "best sgd eval loss" in text
        panel = str(app.query_one(RacePanel).render())
        assert "ranked by eval loss" in panel
        assert panel.index("sgd") < panel.index("momentum") < panel.index("adam")
        app.show_tab("tab-model")
        await settle(pilot)
        assert "sgd (leads) · lane 1/3 · m: next" in chart_text(app)
        await pilot.press("t")
        for _ in range(200):
            await pilot.pause()
            if app.screen.query(RaceTable):
                break
        table = app.screen.query_one(RaceTable)
        order = [r.name for r in table.rows]
        assert order == ["sgd", "adam", "momentum"]  # the rows as given, in entry order...
        shown = screen_text(app)
        rows_at = [shown.index(f"━━ {name}") for name in ("sgd", "momentum", "adam")]
        assert rows_at == sorted(rows_at)  # ...drawn in rank order
        assert "ranked by eval loss" in shown
