"""The Path chart's marks (a converged ● on its ✕, both of the saddle's minima) and toasts
that leave a chart's labels readable."""

from __future__ import annotations

from textual.widgets._toast import Toast

from engine.run import RunConfig
from tui.app import create_app
from tui.charts import ChartPanel, PathChart
from tui.charts.base import Picture


def marks_at(chart: PathChart) -> dict[str, set[tuple[int, int]]]:
    """The (row, column) cells of each mark glyph in the chart's last drawing."""
    found: dict[str, set[tuple[int, int]]] = {}
    for rows, cols, chars, *_ in chart.cells:
        for r, c, ch in zip(rows, cols, chars, strict=True):
            if ch in "✕●○":
                found.setdefault(ch, set()).add((int(r), int(c)))
    return found


async def drawn_path(config: RunConfig, steps: int, size: tuple[int, int]) -> PathChart:
    app = create_app(config)
    async with app.run_test(size=size) as pilot:
        app.session.race.step(steps)
        app.main.query_one(ChartPanel).redraw()
        await pilot.pause()
        return app.query_one(PathChart)


async def test_a_converged_run_is_drawn_on_its_minimum() -> None:
    # Adam ends at (1 - 2e-16, 1 - 1e-15); at 80x24 y = 1 lies on a cell's edge, where float
    # noise used to put the ● one row under the ✕.
    config = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    chart = await drawn_path(config, 5000, (80, 24))
    marks = marks_at(chart)
    assert marks["●"] == marks["✕"]


async def test_the_saddle_marks_both_minima() -> None:
    config = RunConfig(task="saddle", optimizer="sgd", optimizer_hypers={"lr": 0.1})
    chart = await drawn_path(config, 10, (100, 30))
    frame = chart.frame
    expected = {frame.cell_of(0.0, 1.0)[::-1], frame.cell_of(0.0, -1.0)[::-1]}
    assert marks_at(chart)["✕"] == expected
    picture = Picture()
    chart.picture(chart.last_view, picture)
    assert "✕ minima" in picture.title


async def test_a_toast_leaves_the_charts_labels_readable() -> None:
    config = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    for size in ((80, 24), (120, 40)):
        app = create_app(config)
        async with app.run_test(size=size, notifications=True) as pilot:
            app.notify("lr reset to 0.01 for sgd on rosenbrock, a message of two lines at 80")
            while not app.screen.query(Toast) or not app.screen.query_one(Toast).region:
                await pilot.pause()
            toast = app.screen.query_one(Toast).region
            chart = app.query_one(PathChart).region
            x_labels_and_frame = chart.bottom - 2
            assert toast.bottom <= x_labels_and_frame, (size, toast, chart)
            assert toast.right < chart.right  # the frame's right edge shows
            assert toast.y > chart.y  # not over the title
