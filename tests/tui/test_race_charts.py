"""Pilot tests of how a race's charts read: the Loss axis that picks its own scale, lanes told
apart without colour, the State tab's α bands of a race.

Races are started as in test_race.py (`Session.start_race`, lockstep steps, not streamed), so
every screen is the engine's numbers at a known step.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from conftest import screen_text, wait_for
from textual.color import Color, rgb_to_lab

from engine import presets
from engine.compare import Race
from engine.run import Run, RunConfig
from tui.app import OptplayApp, create_app
from tui.charts import LossChart, LrChart, NormsChart, PathChart
from tui.charts.axes import value_label
from tui.charts.state import AlphaChart

LARGE = (120, 40)


def race(app: OptplayApp, task: str, *optimizers: str, steps: int, **hypers: float) -> Race:
    """A race of `optimizers` on `task` after `steps` lockstep steps (not streaming)."""
    base = RunConfig(task=task, optimizer="adam", optimizer_hypers={"lr": 0.02})
    entries = Race.of(base, list(optimizers)).experiment().race
    app.do(app.session.start_race(entries, steps, go=False))
    app.session.race.step(steps)
    app.render_view()
    return app.session.race


def y_tick_labels(text: str) -> list[str]:
    """The labels left of the chart's frame (a number just left of a tick on the axis)."""
    found = []
    for line in text.splitlines():
        m = re.search(r"([-+0-9.e]+)┤", line)
        if m:
            found.append(m.group(1))
    return found


async def test_a_rosenbrock_race_of_four_goes_to_a_log_loss_axis_and_says_so() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        r = race(app, "rosenbrock", "adam", "sgd", "momentum", "rmsprop", steps=1000)
        app.show_tab("tab-loss")
        await pilot.pause()
        chart = app.query_one(LossChart)
        losses = [lane.run.history.downsample("loss", 10_000) for lane in r.lanes]
        lo = min(float(s.mins.min()) for s in losses)
        hi = max(float(s.maxs.max()) for s in losses)
        assert hi / lo > 100  # the lanes span more than two decades
        text = screen_text(app)
        assert "log: lanes span" in text
        labels = y_tick_labels(text)
        # Ticks at powers of ten, at least three decades of them (a linear axis would show
        # evenly spaced values from 0).
        decades = [label for label in labels if re.fullmatch(r"1e-?\d+", label)]
        assert len(decades) >= 3, labels
        assert chart.log_y
        # `l` is the user's say: back to linear, the note gone.
        app.set_focus(None)
        await pilot.press("l")
        await pilot.pause()
        text = screen_text(app)
        (title,) = [line for line in text.splitlines() if "loss · 4 runs" in line]
        assert not chart.log_y and "log" not in title
        assert not [label for label in y_tick_labels(text) if "e-" in label]


async def test_lanes_within_two_decades_keep_a_linear_loss_axis() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        race(app, "rosenbrock", "adam", "adam", steps=3)
        app.show_tab("tab-loss")
        await pilot.pause()
        assert not app.query_one(LossChart).log_y
        assert "log" not in screen_text(app)


# -- the State tab's α bands -------------------------------------------------------------------


def never_moved(run: Run) -> np.ndarray:
    """Which parameters of `run` are still where a fresh run of its config starts them."""
    start = Run(run.config).params
    now = run.params
    return np.concatenate([(now[k] == start[k]).reshape(-1) for k in start])


async def test_a_digits_race_leaves_never_updated_coordinates_out_of_its_alpha_bands() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        r = race(app, "digits-mlp", "adam", "rmsprop", "adagrad", steps=96)
        app.show_tab("tab-state")
        chart = app.query_one(AlphaChart)
        await wait_for(lambda: chart.drawn_key is not None and chart.cells)
        await pilot.pause()
        counts = {int(never_moved(lane.run).sum()) for lane in r.lanes}
        (count,) = counts  # blank pixels: the same weights in every run
        size = never_moved(r.lanes[0].run).size
        assert 0 < count < size
        note = f"{count:,} of {size:,} coordinates never updated in each run: left out"
        assert note in screen_text(app)
        for lane in r.lanes:
            run = lane.run
            never = never_moved(run)
            alpha = {name: p.derived["effective_lr"].reshape(-1)
                     for name, p in run.inspect().params.items()}  # fmt: skip
            flat = np.concatenate(list(alpha.values()))
            # α there is η/ε, the largest of all: what made the bands reach 1e9.
            assert flat[never].min() == flat.max() > 1e4
            # Each group's recorded quantiles are those of its coordinates that moved.
            s = run.state_summaries
            offset = 0
            for name, values in alpha.items():
                moved = values[~never[offset : offset + values.size]]
                offset += values.size
                band = s.band(name, "effective_lr")
                assert band.steps[-1] == 96
                want = np.quantile(moved, [0.1, 0.9], method="lower").tolist()
                assert [band.q10[-1], band.q90[-1]] == want, name


# -- lanes told apart --------------------------------------------------------------------------


def delta_e(a: Color, b: Color) -> float:
    """CIE76 colour difference (about 2.3 is just noticeable; 20 reads as another colour)."""
    la, lb = rgb_to_lab(a), rgb_to_lab(b)
    return math.dist((la.L, la.a, la.b), (lb.L, lb.a, lb.b))


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio (3 is the minimum for graphics)."""

    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_six_lanes_differ_from_each_other_from_the_text_and_read_on_the_background(
    theme: str,
) -> None:
    app = create_app()
    app.theme = theme
    async with app.run_test(size=LARGE) as pilot:
        race(app, "rosenbrock", "adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad",
             steps=20)  # fmt: skip
        app.show_tab("tab-loss")
        await pilot.pause()
        chart = app.query_one(LossChart)
        lanes = [Color.from_rich_color(chart.lane_color(i)) for i in range(6)]
        text = Color.parse(app.current_theme.foreground or "white")
        background = Color.parse(app.current_theme.background or "black")
        for i, j in itertools.combinations(range(6), 2):
            assert delta_e(lanes[i], lanes[j]) > 20, (i + 1, j + 1)
        for i, lane in enumerate(lanes):
            assert delta_e(lane, text) > 20, i + 1
            assert contrast(lane, background) >= 3, i + 1
        # The race panel shows the same colours.
        assert [Color.from_rich_color(c) for c in app.lane_colors(6)] == lanes


async def test_without_colour_six_lanes_carry_six_markers_in_chart_panel_and_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    names = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        assert app.no_color
        race(app, "rosenbrock", *names, steps=300)
        app.show_tab("tab-loss")
        await pilot.pause()
        text = screen_text(app)
        # The race panel: each lane's swatch starts with its own marker.
        panel = {m.group(2): m.group(1) for m in re.finditer(r"([1-6])━ (\w+)  ", text)}
        assert panel == {name: str(i) for i, name in enumerate(names, start=1)}
        # The chart: each lane's marker along its curve, not only at its end and in the
        # legend (cells in the lane's colour holding its digit).
        chart = app.query_one(LossChart)
        for i in range(6):
            color = chart.lane_color(i)
            marks = sum(chars.count(str(i + 1)) for _, _, chars, c, _ in chart.cells if c == color)
            assert marks >= 3, (i + 1, marks)
        # The results table: the same swatches.
        app.set_focus(None)
        await pilot.press("t")
        await pilot.pause()
        table = screen_text(app)
        for i, name in enumerate(names, start=1):
            assert re.search(rf"│ {i}━ {name} ", table), name


async def test_without_colour_a_lane_drawn_under_the_others_still_shows_its_marker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 25, found in tmux at 80x24 (tests/perf/audit_terminals.py): in the linear
    # regression race SGD ends under Momentum and Adam on the bottom row, and its "1" was
    # drawn over by theirs: on screen lane 1 had its digit in the legend only.
    monkeypatch.setenv("NO_COLOR", "1")
    app = create_app(presets.load("linreg-optimizers"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.session.race.step(1000)
        app.render_view()
        app.show_tab("tab-loss")
        await pilot.pause()
        lanes = app.session.race.lanes
        rows = []
        for line in screen_text(app).splitlines():
            m = re.search(r"[│┤](.*)│", line)
            if m:
                row = m.group(1)
                for i, lane in enumerate(lanes, start=1):
                    row = row.replace(f"{i} {lane.name}", "")  # the legend
                rows.append(row)
        for i in range(1, len(lanes) + 1):
            assert any(str(i) in row for row in rows), f"lane {i} has no marker on screen"


def loss_title(app: OptplayApp) -> str:
    (title,) = [line for line in screen_text(app).splitlines() if "loss · " in line]
    return title


async def test_more_than_three_noisy_lanes_are_smoothed_until_the_user_says_otherwise() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        r = race(app, "digits-mlp", "adam", "sgd", "momentum", "rmsprop", steps=60)
        app.show_tab("tab-loss")
        await pilot.pause()
        chart = app.query_one(LossChart)
        assert "smoothed: noisy lanes" in loss_title(app)
        assert chart.smoothed
        app.set_focus(None)
        await pilot.press("S")
        await pilot.pause()
        assert not chart.smoothed and "smoothed" not in loss_title(app)
        await pilot.press("S")
        await pilot.pause()
        assert chart.smoothed and "smoothed" in loss_title(app)
        assert len(r.lanes) == 4


@pytest.mark.parametrize(
    ("task", "optimizers"),
    [
        ("digits-mlp", ("adam", "sgd", "rmsprop")),
        ("rosenbrock", ("adam", "sgd", "momentum", "rmsprop")),
    ],
)
async def test_three_noisy_lanes_or_exact_losses_stay_raw(task: str, optimizers: tuple) -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        race(app, task, *optimizers, steps=30)
        app.show_tab("tab-loss")
        await pilot.pause()
        assert not app.query_one(LossChart).smoothed
        assert "smoothed" not in loss_title(app)


# -- the chart cursor and zoom -----------------------------------------------------------------


def readout_line(app: OptplayApp) -> str:
    """The cursor's readout (the data area's row starting "step "), without the frame's
    edges or the curves' dots right of its last value."""
    for line in screen_text(app).splitlines():
        m = re.search(r"[│┤]\s?(step [\d,]+ · [^\u2800-\u28ff│]*?)\s*(?:[\u2800-\u28ff│]|$)", line)
        if m:
            return m.group(1)
    raise AssertionError("no readout on screen")


def recorded(run: Run, series: str, step: int) -> float:
    """The value the history recorded for `series` at `step` (every step kept: short runs)."""
    assert run.history.width(series) == 1
    data = run.history.downsample(series, 1_000_000)
    (index,) = np.flatnonzero(data.steps == step)
    return float(data.lasts[index])


@pytest.mark.parametrize(
    ("tab", "chart_type", "series"),
    [
        ("tab-loss", LossChart, "loss"),
        ("tab-lr", LrChart, "lr"),
        ("tab-norms", NormsChart, "grad_norm"),
    ],
)
async def test_the_cursor_reads_every_lane_as_its_history_recorded_it(
    tab: str, chart_type: type, series: str
) -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        r = race(app, "rosenbrock", "adam", "sgd", "momentum", steps=200)
        app.show_tab(tab)
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("i")  # on the last step
        await pilot.pause()
        chart = app.query_one(chart_type)
        assert chart.cursor == 200 and chart.has_focus
        await pilot.press("left", "left", "shift+left", "right")  # 200 - 2 - 20 + 1
        await pilot.pause()
        assert chart.cursor == 179

        def expected(step: int) -> str:
            values = [
                f"{i} {lane.name} {value_label(recorded(lane.run, series, step))}"
                for i, lane in enumerate(r.lanes, start=1)
            ]
            return " · ".join([f"step {step:,}", *values])

        assert readout_line(app) == expected(179)
        # Zoom to a window around the cursor and back: the view as it was.
        before = screen_text(app)
        await pilot.press("z")
        await pilot.pause()
        zoomed = screen_text(app)
        assert "zoom " in zoomed and zoomed != before
        low, high = chart.zoom
        assert low <= 179 <= high and high - low == pytest.approx(40)  # 20% of 200 steps
        assert readout_line(app) == expected(179)
        await pilot.press("Z")
        await pilot.pause()
        assert screen_text(app) == before
        # Leaving: no cursor line nor readout, the keys back to the app.
        await pilot.press("escape")
        await pilot.pause()
        assert chart.cursor is None and not chart.has_focus
        assert "step 179 ·" not in screen_text(app)


async def test_the_cursor_on_the_path_reads_each_lanes_point_and_loss() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        r = race(app, "rosenbrock", "adam", "sgd", steps=100)
        app.show_tab("tab-path")
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("i", "shift+left", "left")  # 100 - 10 - 1
        await pilot.pause()
        parts = ["step 89"]
        for i, lane in enumerate(r.lanes, start=1):
            path = lane.run.history.trajectory()
            (k,) = np.flatnonzero(path.steps == 89)
            x, y = float(path.xs[k]), float(path.ys[k])
            loss = lane.run.task.value(x, y)
            parts.append(f"{i} {lane.name} ({value_label(x)}, {value_label(y)}) loss "
                         f"{value_label(loss)}")  # fmt: skip
        assert readout_line(app) == " · ".join(parts)
        assert "◇" in screen_text(app)


async def test_a_chart_without_a_cursor_says_so() -> None:
    app = create_app(RunConfig(task="digits-mlp", optimizer="adam"))
    async with app.run_test(size=LARGE) as pilot:
        app.show_tab("tab-state")
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("i")
        await wait_for(lambda: any("no cursor" in n.message for n in app._notifications))
        assert app.focused is None


# -- picking a start on the Path chart ---------------------------------------------------------


async def test_enter_on_the_path_cursor_starts_the_run_from_that_point() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.session.run.step(30)
        app.render_view()
        app.show_tab("tab-path")
        await pilot.pause()
        path = app.session.run.history.trajectory()
        (k,) = np.flatnonzero(path.steps == 27)
        want = (float(f"{path.xs[k]:.3g}"), float(f"{path.ys[k]:.3g}"))
        app.set_focus(None)
        await pilot.press("i", "shift+left", "enter")  # 30 - 3
        await wait_for(lambda: app.session.run.steps_done == 0)
        hypers = app.session.run.config.task_hypers
        assert (hypers["x0"], hypers["y0"]) == want
        assert app.session.run.task.start == want
        await wait_for(lambda: any("start at" in n.message for n in app._notifications))


async def test_a_click_on_the_path_chart_starts_the_run_under_it() -> None:
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.show_tab("tab-path")
        await pilot.pause()
        chart = app.query_one(PathChart)
        await wait_for(lambda: chart.frame is not None)
        frame = chart.frame
        col, row = frame.cols // 4, frame.rows // 4
        x, y = frame.point_of(col, row)
        assert frame.cell_of(x, y) == (col, row)
        await pilot.click(PathChart, offset=(chart._origin[0] + col, 2 + row))
        await wait_for(lambda: app.session.run.task.start != (-1.5, 2.0))
        assert app.session.run.task.start == (float(f"{x:.3g}"), float(f"{y:.3g}"))
