"""Pilot tests of the chart cursor (`i`) where values are recorded only at some steps (the
Sharpness chart, the State tab's α chart), of the Sweep screen's cursor over its points, and
of the tabs that have no cursor saying why (issue 25: "the cursor reads the same values as the
history at that step for every chart; zoom and back restore the view").

Every expected value is read from the run's own records (`History.buckets`,
`StateSummaries.band`) or the sweep's rows, never from the chart.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from conftest import SteadyExecutor, screen_text, wait_for

from engine.config import Experiment, RaceEntry
from engine.numbers import format_number, format_seconds
from engine.run import RunConfig
from engine.session import SHARPNESS_EVERY
from engine.sweep import SweepSpec, summarise
from tui.actions import help_keys
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel
from tui.charts.axes import value_label
from tui.charts.sharpness import SharpnessChart
from tui.charts.state import AlphaChart
from tui.charts.state_data import ALPHA
from tui.screens.sweep import Cursor, SweepScreen

LARGE = (120, 40)
DIGITS = RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 8}, seed=3,
                   optimizer_hypers={"lr": 0.01}, eval_every=0)  # fmt: skip


def recorded_at(history, series: str) -> dict[int, float]:
    """Every value `series` recorded, by step (short runs: one bucket per measurement)."""
    assert history.width(series) == 1
    data = history.buckets(series)
    return {int(s): float(v) for s, v in zip(data.steps, data.lasts, strict=True)}


def on_screen(app: OptplayApp, chart, readout: str) -> bool:
    """Whether the readout's lines, wrapped as the chart wraps its note, are on screen."""
    if chart.frame is None:
        return False
    text = screen_text(app)
    return all(line in text for line in textwrap.wrap(readout, max(chart.frame.cols - 1, 8)))


def told(app: OptplayApp, words: str) -> bool:
    return any(words in n.message for n in app._notifications)


async def open_tab(app: OptplayApp, pilot, tab: str) -> None:
    app.set_focus(None)
    app.show_tab(tab)
    await pilot.pause()


async def redrawn(app: OptplayApp, chart) -> None:
    """The panel has drawn the current steps on `chart`."""
    panel = app.query_one(ChartPanel)

    def done() -> bool:
        panel.redraw()
        return chart.frame is not None and chart.last_view is not None

    await wait_for(done)


async def zoom_and_back(app: OptplayApp, pilot, chart) -> None:
    """`z` zooms around the cursor (the title says so), `Z` gives back the very same screen."""
    before = screen_text(app)
    await pilot.press("z")
    await wait_for(lambda: "zoom " in screen_text(app))
    low, high = chart.zoom
    assert low <= chart.cursor <= high
    await pilot.press("Z")
    await wait_for(lambda: chart.zoom is None)
    await pilot.pause()
    assert screen_text(app) == before


# -- the Sharpness chart ---------------------------------------------------------------------------


async def test_the_sharpness_cursor_stops_at_each_measurement_and_reads_it() -> None:
    app = create_app(DIGITS)
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-sharpness")
        app.session.race.step(6 * SHARPNESS_EVERY)
        chart = app.query_one(SharpnessChart)
        await redrawn(app, chart)
        history = app.session.run.history
        sharp = recorded_at(history, "sharpness")
        pre = recorded_at(history, "preconditioned_sharpness")
        lrs = recorded_at(history, "lr")
        measured = sorted(sharp)
        assert len(measured) == 6

        def expected(step: int) -> str:
            parts = [f"step {step:,}", f"λ_max {value_label(sharp[step])}"]
            if step in pre:
                parts.append(f"λ_max(P⁻¹H) {value_label(pre[step])}")
            parts.append(f"2/lr {value_label(2.0 / lrs[step])}")
            return " · ".join(parts)

        await pilot.press("i")
        await wait_for(lambda: chart.cursor == measured[-1])
        assert chart.has_focus
        await wait_for(lambda: on_screen(app, chart, expected(measured[-1])))
        # One press: the measurement before, not the step before (nothing was measured there).
        for k in (-2, -3, -4):
            await pilot.press("left")
            await wait_for(lambda k=k: chart.cursor == measured[k])
            assert chart.cursor_readout(chart.last_view, chart.cursor) == expected(measured[k])
            await wait_for(lambda k=k: on_screen(app, chart, expected(measured[k])))
        await pilot.press("right")
        await wait_for(lambda: chart.cursor == measured[-3])
        await pilot.press("shift+left")  # a tenth of the steps shown: on to the one before
        await wait_for(lambda: chart.cursor == measured[-4])
        await zoom_and_back(app, pilot, chart)
        await pilot.press("escape")
        await wait_for(lambda: chart.cursor is None and not chart.has_focus)
        assert f"step {measured[-4]:,} ·" not in screen_text(app)


async def test_the_sharpness_cursor_reads_each_lane_of_a_race() -> None:
    sgd = DIGITS.replace(optimizer="sgd", optimizer_hypers={"lr": 0.1})
    app = create_app(Experiment.of_race([RaceEntry(DIGITS), RaceEntry(sgd)], steps=100))
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-sharpness")
        lanes = app.session.race.lanes
        app.session.race.step(4 * SHARPNESS_EVERY)
        chart = app.query_one(SharpnessChart)
        await redrawn(app, chart)
        per_lane = [recorded_at(lane.run.history, "sharpness") for lane in lanes]
        steps = sorted(per_lane[0])
        assert steps == sorted(per_lane[1]) and len(steps) == 4

        def expected(step: int) -> str:
            values = [
                f"{i} {lane.name} {value_label(found[step])}"
                for i, (lane, found) in enumerate(zip(lanes, per_lane, strict=True), start=1)
            ]
            return " · ".join([f"step {step:,}", *values])

        await pilot.press("i", "left", "left")
        await wait_for(lambda: chart.cursor == steps[-3])
        await wait_for(lambda: on_screen(app, chart, expected(steps[-3])))
        await pilot.press("right")
        await wait_for(lambda: on_screen(app, chart, expected(steps[-2])))
        await zoom_and_back(app, pilot, chart)


# -- the State tab's α chart -----------------------------------------------------------------------


async def test_the_alpha_cursor_reads_each_groups_recorded_quantiles() -> None:
    app = create_app(DIGITS)
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-state")
        app.session.race.step(80)
        chart = app.query_one(AlphaChart)
        await redrawn(app, chart)
        await wait_for(lambda: chart.drawn_key is not None and chart.cells)
        s = app.session.run.state_summaries
        bands = {g: s.band(g, ALPHA) for g in s.groups}
        steps = [int(x) for x in bands[s.groups[0]].steps]
        assert len(steps) >= 4

        def expected(step: int) -> str:
            parts = [f"step {step:,}"]
            for group, band in bands.items():
                (k,) = np.flatnonzero(band.steps == step)
                parts.append(
                    f"{group} α {value_label(band.q10[k])}..{value_label(band.q90[k])} "
                    f"median {value_label(band.median[k])}"
                )
            return " · ".join(parts)

        await pilot.press("i")
        await wait_for(lambda: chart.cursor == steps[-1])
        await wait_for(lambda: on_screen(app, chart, expected(steps[-1])))
        for k in (-2, -3):
            await pilot.press("left")
            await wait_for(lambda k=k: chart.cursor == steps[k])
            await wait_for(lambda k=k: on_screen(app, chart, expected(steps[k])))
        await zoom_and_back(app, pilot, chart)
        await pilot.press("i")  # i leaves as escape does
        await wait_for(lambda: chart.cursor is None)


async def test_the_alpha_cursor_reads_each_runs_band_in_a_race() -> None:
    sgd = DIGITS.replace(optimizer="sgd", optimizer_hypers={"lr": 0.05})
    app = create_app(Experiment.of_race([RaceEntry(DIGITS), RaceEntry(sgd)], steps=100))
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-state")
        lanes = app.session.race.lanes
        app.session.race.step(64)
        chart = app.query_one(AlphaChart)
        await redrawn(app, chart)
        await wait_for(lambda: chart.drawn_key is not None and chart.cells)

        def band_at(run, step: int) -> str:
            s = run.state_summaries
            bands = [s.band(g, ALPHA) for g in s.groups]
            k = int(np.flatnonzero(bands[0].steps == step)[0])
            low = min(float(b.q10[k]) for b in bands)
            high = max(float(b.q90[k]) for b in bands)
            return f"{value_label(low)}..{value_label(high)}"

        steps = [int(x) for x in lanes[0].run.state_summaries.table()[0]]
        await pilot.press("i", "left")
        await wait_for(lambda: chart.cursor == steps[-2])
        want = " · ".join(
            [f"step {steps[-2]:,}"]
            + [f"{i} {ln.name} α {band_at(ln.run, steps[-2])}" for i, ln in enumerate(lanes, 1)]
        )
        await wait_for(lambda: on_screen(app, chart, want))
        assert "sgd α 0.05..0.05" in want  # SGD's one rate, next to Adam's spread
        await zoom_and_back(app, pilot, chart)


# -- the tabs without a cursor ---------------------------------------------------------------------


async def test_theory_and_model_say_why_they_have_no_cursor() -> None:
    ravine = RunConfig(task="ill-conditioned", optimizer="momentum")
    app = create_app(ravine)
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-theory")
        await pilot.press("i")
        await wait_for(lambda: told(app, "no cursor on this tab"))
        (note,) = [n.message for n in app._notifications if "no cursor" in n.message]
        assert "Theory" in note and "not a series over steps" in note
        assert app.focused is None
    app = create_app(DIGITS)
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-model")
        await pilot.press("i")
        await wait_for(lambda: told(app, "no cursor on this tab"))
        (note,) = [n.message for n in app._notifications if "no cursor" in n.message]
        assert "Model" in note and app.focused is None
    # The help (and the README's key table, tests/tui/test_actions.py) say where `i` works.
    (help_text,) = [text for key, text in help_keys() if key == "i"]
    assert "none on Theory and Model (not series over steps)" in help_text


# -- the Sweep screen: every point, read as the sweep recorded it ----------------------------------


async def finished_sweep(app: OptplayApp, spec: SweepSpec) -> SweepScreen:
    """Open and start the sweep of `spec` in `app` (its runs in this process) and wait until
    every run has finished; the Sweep screen."""
    app.sweep_executor = lambda runs: SteadyExecutor(None)
    app.open_sweep(spec, start=True)
    await wait_for(lambda: isinstance(app.screen, SweepScreen))
    screen = app.screen
    await wait_for(lambda: screen.ended)
    return screen


SWEEP = SweepSpec(task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-4:1:5"}, steps=150)


def point_lines(spec: SweepSpec, rows, opt: str, lr: float) -> tuple[str, str]:
    """What the point readout must say, from the sweep's own row and summary of that point."""
    (summary,) = [p for p in summarise(spec, rows) if p.optimizer == opt and p.point == (lr,)]
    (row,) = [r for r in rows if r.optimizer == opt and r.point == (lr,)]
    if row.diverged:
        at = row.score.diverged_at
        return f"diverged {summary.diverged}/{summary.runs}", f"diverged at step {at:,}"
    s = row.score
    target = (f"target at step {s.steps_to_target:,}" if s.steps_to_target is not None
              else "target never reached")  # fmt: skip
    return (
        f"final loss {format_number(summary.final_loss_mean, 3)}",
        f"final {format_number(s.final_loss, 4)} · best {format_number(s.best_loss, 4)} · "
        f"{target} · {format_seconds(s.seconds_per_update)}/update",
    )


async def test_the_sweep_cursor_reaches_every_point_and_reads_its_results() -> None:
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await finished_sweep(app, SWEEP)
        rows = screen.sweep.rows
        values = SWEEP.axes[0].values
        seen = set()
        for o, opt in enumerate(SWEEP.optimizers):
            # walk there with the arrows as a user does: along a row, then down to the next
            order = list(range(len(values)))[:: 1 if o % 2 == 0 else -1]
            for j, i in enumerate(order):
                if j:
                    await pilot.press("right" if o % 2 == 0 else "left")
                await wait_for(lambda o=o, i=i: screen.cursor == Cursor(o, (i,)))
                lr = values[i]
                first, second = point_lines(SWEEP, rows, opt, lr)
                text = str(screen.query_one("#sweep-point").render())
                assert text.startswith(f"▸ {opt} lr={lr:g}: {first}"), text
                assert second in text, text
                seen.add((opt, lr))
            await pilot.press("down")
        assert seen == {(opt, v) for opt in SWEEP.optimizers for v in values}


async def test_the_alpha_cursor_reads_each_coordinate_of_a_2d_run() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02}))
    async with app.run_test(size=LARGE) as pilot:
        await open_tab(app, pilot, "tab-state")
        app.session.race.step(50)
        chart = app.query_one(AlphaChart)
        await redrawn(app, chart)
        await wait_for(lambda: chart.drawn_key is not None and chart.cells)
        s = app.session.run.state_summaries
        steps = [int(x) for x in s.table()[0]]
        await pilot.press("i", "left")
        await wait_for(lambda: chart.cursor == steps[-2])
        parts = [f"step {steps[-2]:,}"]
        for group in s.groups:  # x and y: one number each, its own rate
            band = s.band(group, ALPHA)
            (k,) = np.flatnonzero(band.steps == steps[-2])
            parts.append(f"{group} α {value_label(band.median[k])}")
        await wait_for(lambda: on_screen(app, chart, " · ".join(parts)))


ZOOMED_SWEEP = SweepSpec(
    task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-4:1:9"}, steps=60
)


async def test_the_sweep_chart_zooms_around_its_cursor_follows_it_and_comes_back() -> None:
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await finished_sweep(app, ZOOMED_SWEEP)
        values = ZOOMED_SWEEP.axes[0].values
        for _ in range(4):
            await pilot.press("right")
        await wait_for(lambda: screen.cursor == Cursor(0, (4,)))
        await pilot.pause()
        before = screen_text(app)
        assert "zoom" not in before
        await pilot.press("z")
        # five of the nine rates, the cursor's in the middle, and the axis says which
        label = f"zoom {values[2]:.4g}-{values[6]:.4g} (Z: all)"
        await wait_for(lambda: label in screen_text(app))
        assert screen.zoom == (2, 6)
        # the loss axis is fitted to the points shown: its top tick is their highest loss
        points = summarise(ZOOMED_SWEEP, screen.sweep.rows)

        def top_tick(window: tuple[Any, ...]) -> str:
            losses = [p.final_loss_mean for p in points if p.point[0] in window]
            finite = [v for v in losses if v is not None and np.isfinite(v)]
            return format_number(max(finite), 3)

        zoomed, whole = top_tick(values[2:7]), top_tick(values)
        assert zoomed != whole
        assert zoomed in screen_text(app) and whole not in screen_text(app)
        assert whole in before
        # the window follows the cursor past its edge
        for _ in range(3):
            await pilot.press("right")
        await wait_for(lambda: screen.cursor == Cursor(0, (7,)))
        await wait_for(lambda: screen.zoom == (3, 7))
        await wait_for(lambda: f"zoom {values[3]:.4g}-{values[7]:.4g}" in screen_text(app))
        for _ in range(3):
            await pilot.press("left")
        await wait_for(lambda: screen.cursor == Cursor(0, (4,)))
        assert screen.zoom == (3, 7)
        await pilot.press("left", "left")
        await wait_for(lambda: screen.cursor == Cursor(0, (2,)))
        assert screen.zoom == (2, 6)
        await pilot.press("right", "right")  # back to where the zoom began, inside the window
        await wait_for(lambda: screen.cursor == Cursor(0, (4,)))
        assert screen.zoom == (2, 6)
        await pilot.press("Z")
        await wait_for(lambda: screen.zoom is None)
        await wait_for(lambda: screen_text(app) == before)


async def test_the_sweep_says_why_it_does_not_zoom() -> None:
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await finished_sweep(app, SWEEP)  # five rates: all already on screen
        await pilot.press("z")
        await wait_for(lambda: told(app, "all 5 values of lr are already shown"))
        assert screen.zoom is None
