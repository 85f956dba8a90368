"""Charts: the braille raster, tick helpers, and the layout they share with plotext."""

from __future__ import annotations

import numpy as np
import pytest

from engine.run import RunConfig
from tui.app import create_app
from tui.charts import LossChart, NormsChart
from tui.charts.axes import log_ticks, nice_ticks, tick_labels
from tui.charts.braille import DotGrid, Frame


def test_band_of_a_rising_line_is_connected_and_bounded() -> None:
    frame = Frame(cols=10, rows=5, x0=0, x1=1, y0=0, y1=1)
    grid = DotGrid(frame)
    xs = np.array([0.0, 1.0])
    grid.band(xs, xs, xs)  # two points: the columns between are interpolated
    dots = grid.dots
    assert dots[-1, 0] and dots[0, -1]  # bottom-left to top-right
    assert dots.any(axis=0).all()  # every dot column has its stroke: no gaps
    *_, chars = grid.cells()
    assert len(chars) <= frame.cols * frame.rows
    assert all(0x2800 < ord(c) <= 0x28FF for c in chars)


def test_noisy_band_fills_between_min_and_max_only() -> None:
    frame = Frame(cols=20, rows=6, x0=0, x1=99, y0=0, y1=10)
    grid = DotGrid(frame)
    xs = np.arange(100.0)
    grid.band(xs, np.full(100, 4.0), np.full(100, 6.0))
    filled_rows = np.flatnonzero(grid.dots.any(axis=1))
    # 4..6 of 0..10 on 24 dot rows: rows around the middle, never the top or bottom.
    assert filled_rows.min() > 5 and filled_rows.max() < 18


def test_polyline_stays_on_the_grid_when_the_path_leaves_it() -> None:
    grid = DotGrid(Frame(cols=8, rows=4, x0=-1, x1=1, y0=-1, y1=1))
    grid.polyline(np.array([0.0, 1e300, np.nan, 0.5]), np.array([0.0, 1e300, 1.0, -0.5]))
    assert grid.dots.any()  # no overflow, no exception; the visible part is drawn


@pytest.mark.parametrize(
    ("lo", "hi", "count"), [(0.388, 2.4, 5), (0, 1000, 3), (-2, 2, 5), (9e-4, 1.1e-3, 5)]
)
def test_ticks_are_round_inside_the_range_and_labelled_exactly(lo, hi, count) -> None:
    ticks = nice_ticks(lo, hi, count)
    assert 2 <= len(ticks) <= count + 1
    assert all(lo - 1e-12 <= t <= hi + 1e-12 for t in ticks)
    labels = tick_labels(ticks)
    assert len(set(labels)) == len(labels)
    scale = max(map(abs, ticks))
    pairs = zip(labels, ticks, strict=True)
    assert all(abs(float(label) - t) <= 1e-9 * scale for label, t in pairs)


def test_log_ticks_stay_inside_the_axis() -> None:
    ticks, labels = log_ticks(-5.2, 3.1)
    assert labels == ["1e-5", "1e-3", "1e-1", "1e1", "1e3"]
    ticks, labels = log_ticks(-3.0, -2.7)  # less than a decade: values inside it
    assert all(-3.0 <= t <= -2.7 for t in ticks) and labels[0] == "1.00e-3"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_data_area_is_where_plotext_draws_the_frame(size) -> None:
    """The raster's layout assumption: plotext puts the data area exactly where Frame says."""
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02}))
    async with app.run_test(size=size) as pilot:
        app.session.race.step(500)
        await pilot.pause()
        for chart_type, tab in ((LossChart, "tab-loss"), (NormsChart, "tab-norms")):
            app.show_tab(tab)
            await pilot.pause()
            chart = app.query_one(chart_type)
            frame = chart.frame
            assert frame is not None
            rows = [strip.text for strip in chart.build_strips()]
            left = chart.size.width - 2 - frame.cols  # the y tick labels' width
            assert rows[1][left] == "┌" and rows[1][left + frame.cols + 1] == "┐"
            assert rows[2 + frame.rows][left] == "└"
            data = "".join(row[left + 1 : left + 1 + frame.cols] for row in rows[2:-2])
            assert any(0x2800 < ord(c) <= 0x28FF for c in data)  # the data is drawn inside
