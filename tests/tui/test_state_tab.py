"""Pilot tests of the State tab: it reads the optimizer and changes nothing, shows the numbers
the engine has, records summaries only once shown, exports them, and the help explains them."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import screen_text, wait_for

from engine.config import Experiment, RaceEntry
from engine.history import SERIES
from engine.numbers import format_number
from engine.run import Run, RunConfig
from engine.session import STATE_EVERY
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel
from tui.charts.state import AlphaChart, StateTab
from tui.charts.state_rows import CoordinateTable, CurveRows, HistogramRows

SMALL = (80, 24)
DIGITS = RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 16}, seed=5,
                   eval_every=25)  # fmt: skip
ROSENBROCK = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})


async def show_state(pilot) -> StateTab:
    pilot.app.set_focus(None)
    pilot.app.show_tab("tab-state")
    await pilot.pause()
    await pilot.pause()
    return pilot.app.query_one(StateTab)


async def drawn(pilot) -> None:
    """Let the panel draw the State tab, its layout settle and the chart draw."""
    pilot.app.query_one(ChartPanel).redraw()
    await pilot.pause()
    await pilot.pause()


async def train_to_the_end(app: OptplayApp, pilot, state_tab: bool, speed: float = 500) -> int:
    """Run the real stream (at `speed` steps/s, slow enough for the tab to redraw several
    times while the run steps, even on a loaded machine) to the planned length, the State tab
    in view or not; returns how many frames the tab drew while the run was running."""
    app.set_focus(None)
    while app.session.speed != speed:
        app.session.slower()
    frames = []
    if state_tab:
        tab = await show_state(pilot)
        draw = tab.draw

        def counted(view) -> None:
            frames.append(app.session.race.state)
            draw(view)

        tab.draw = counted
    await pilot.press("space")
    await wait_for(lambda: app.session.status().state == "finished")
    await pilot.pause()
    return frames.count("running")


async def test_histories_are_bit_identical_with_and_without_the_state_tab() -> None:
    for config, steps, speed in ((DIGITS, 150, 100), (ROSENBROCK, 300, 200)):  # 1.5 s each
        app = create_app(config, steps=steps)
        async with app.run_test(size=SMALL) as pilot:
            frames = await train_to_the_end(app, pilot, True, speed)
            assert frames >= 2  # drawn while training, from the live state
            shown = app.session.run
        hidden = Run(config)  # small problems record in the app even unwatched: not here
        hidden.step(steps)
        assert shown.steps_done == hidden.steps_done == steps
        assert len(shown.state_summaries) == steps // STATE_EVERY
        assert hidden.state_summaries is None
        for name in SERIES:
            for a, b in zip(shown.history.buckets(name), hidden.history.buckets(name),
                            strict=True):  # fmt: skip
                assert np.array_equal(a, b, equal_nan=True), (config.task, name)
        for a, b in zip(shown.history.trajectory(), hidden.history.trajectory(), strict=True):
            assert np.array_equal(a, b, equal_nan=True)
        for key, value in shown.params.items():
            assert np.array_equal(value, hidden.params[key]), key


async def test_the_table_shows_the_optimizers_own_numbers() -> None:
    app = create_app(ROSENBROCK)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_state(pilot)
        app.session.race.step(3 * STATE_EVERY - 1)
        await pilot.press("n")
        await drawn(pilot)
        table = app.query_one(CoordinateTable).plain
        insp = app.session.run.inspect()
        assert "adam · step 48 · each coordinate" in table
        for coord in ("x", "y"):
            p = insp.params[coord]
            for value in (p.grad, p.state["exp_avg"], p.derived["effective_lr"], p.update):
                assert format_number(float(value), 4) in table
        lines = {line.split()[1]: line for line in table.splitlines()[2:]}
        assert "effective learning rate η / (√v̂ + ε)" in lines["effective_lr"]
        curves = app.query_one(CurveRows).plain
        assert "1 − β₁ᵗ" in curves and "1 − β₂ᵗ" in curves
        bc2 = insp.scalars["bias_correction2"]
        assert format_number(bc2, 4) in curves  # the newest record ends the curve's row
        assert "effective lr α per coordinate" in screen_text(app)


async def test_a_network_shows_a_band_and_a_histogram_row_per_layer() -> None:
    app = create_app(DIGITS)
    async with app.run_test(size=SMALL) as pilot:
        await show_state(pilot)
        app.session.race.step(63)
        await pilot.press("n")
        await drawn(pilot)
        rows = app.query_one(HistogramRows).plain.splitlines()
        assert rows[0].startswith("α now per group")
        assert [r.split()[0] for r in rows[1:5]] == ["W1", "b1", "W2", "b2"]
        alpha = app.session.run.inspect(["b2"]).params["b2"].derived["effective_lr"]
        assert rows[4].endswith(format_number(float(np.median(alpha)), 2))
        assert "1e" in rows[5]  # the log axis under the rows
        chart = app.query_one(AlphaChart)
        labels = {"".join(c[2]) for c in chart.cells}
        assert {"W1", "b1", "W2", "b2"} <= labels  # each band named at its end
        assert chart.log_y
        await pilot.press("l")  # the α chart follows the log toggle
        assert not chart.log_y


async def test_a_race_puts_adams_rates_next_to_sgds_single_lr() -> None:
    base = DIGITS.replace(optimizer_hypers={"lr": 0.01})
    sgd = base.replace(optimizer="sgd", optimizer_hypers={"lr": 0.05})
    app = create_app(Experiment.of_race([RaceEntry(base), RaceEntry(sgd)], steps=100))
    async with app.run_test(size=SMALL) as pilot:
        await show_state(pilot)
        app.session.race.step(47)
        await pilot.press("n")
        await drawn(pilot)
        rows = app.query_one(HistogramRows).plain.splitlines()
        assert rows[1].split()[0] == "adam" and rows[2].split() == ["sgd", "█", "0.05"]
        labels = {"".join(c[2]) for c in app.query_one(AlphaChart).cells}
        assert {"adam", "sgd"} <= labels
        assert "adam 1 − β₁ᵗ" in app.query_one(CurveRows).plain


async def test_showing_the_tab_switches_summaries_on_for_what_is_trained() -> None:
    app = create_app(DIGITS.replace(task_hypers={"hidden": 2048}))  # 153,610 parameters
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.session.race.step(20)
        assert app.session.run.state_summaries is None
        await show_state(pilot)
        assert app.session.run.state_summaries is not None
        assert "none recorded yet" in screen_text(app)
        app.session.race.step(12)  # step 32: the first record
        await drawn(pilot)
        assert "none recorded yet" not in screen_text(app)
        assert not app.session.dirty  # watching is not a change to save


async def test_the_path_chart_draws_the_gradient_and_the_step() -> None:
    app = create_app(ROSENBROCK)
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.session.race.step(49)
        await pilot.press("n")
        app.show_tab("tab-path")
        await pilot.pause()
        chart = app.query_one("#path-chart")
        glyphs = [ch for cells in chart.cells for ch in cells[2]]
        assert glyphs.count("g") == 1 and glyphs.count("s") == 1  # one tip each
        assert "*" in glyphs  # the step's shaft
        assert "g −g, s Δθ" in screen_text(app)


async def test_export_from_the_app_includes_the_state_summaries(tmp_path) -> None:
    app = create_app(DIGITS)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await show_state(pilot)
        app.session.race.step(2 * STATE_EVERY)
        await pilot.press("e")
        await pilot.press("ctrl+a", "ctrl+k", *"out", "enter")
        await pilot.pause()
        assert "out-state.csv" in screen_text(app).replace("\n", "")
    with open(tmp_path / "out-state.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows] == ["16", "32"]
    band = app.session.run.state_summaries.band("W2", "effective_lr")
    assert [float(r["W2.effective_lr.median"]) for r in rows] == band.median.tolist()
    assert (tmp_path / "out-state.json").exists() and (tmp_path / "out.csv").exists()


async def test_help_says_what_the_optimizer_keeps_and_how_its_rate_is_defined() -> None:
    app = create_app(ROSENBROCK.replace(optimizer="nadam"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body")
        heading = app.screen.query_one("#help-state-heading")
        body.scroll_to_widget(heading, animate=False, top=True)
        await pilot.pause()
        text = screen_text(app)
        expected = (
            "State it keeps",
            "exp_avg_sq",
            "mu_product",
            "μ_t",
            "momentum coefficient of this step",
            "Effective lr: α = η / (√v̂ + ε)",
        )
        for part in expected:
            assert part in text, part


async def test_state_opened_after_a_finished_2d_run_shows_its_history() -> None:
    app = create_app(Experiment(ROSENBROCK, steps=100))
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        app.session.race.step(100)  # the whole run, before the tab was ever shown
        app.render_view()
        summaries = app.session.run.state_summaries
        assert summaries is not None  # recorded from the start, unwatched
        first = summaries.band(summaries.groups[0], "effective_lr").steps
        assert list(first[:2]) == [STATE_EVERY, 2 * STATE_EVERY]
        await show_state(pilot)
        await drawn(pilot)
        assert "none recorded yet" not in screen_text(app)
        assert not app.session.dirty  # recording is not a change to save


async def test_the_header_gives_each_runs_optimizer_state_in_bytes() -> None:
    """Adam keeps m and v in full; Adafactor a row and a column per matrix: the α chart's
    title says how many bytes each run's state holds (what the adafactor-memory lesson
    measures)."""
    from engine.numbers import format_bytes

    adafactor = DIGITS.replace(optimizer="adafactor", optimizer_hypers={})
    app = create_app(Experiment.of_race([RaceEntry(DIGITS), RaceEntry(adafactor)], steps=100))
    async with app.run_test(size=(160, 40)) as pilot:
        await show_state(pilot)
        app.session.race.step(29)
        await pilot.press("n")
        await drawn(pilot)
        adam_run, adafactor_run = app.session.race.runs
        n = sum(a.size for a in adam_run.params.values())
        assert adam_run.state_bytes == 2 * n * 8 > 10 * adafactor_run.state_bytes
        expected = (
            f"state adam {format_bytes(adam_run.state_bytes)}, "
            f"adafactor {format_bytes(adafactor_run.state_bytes)}"
        )
        await wait_for(lambda: expected in screen_text(app))


async def test_the_as_written_nadam_preset_shows_its_distance_from_the_fix() -> None:
    """A race lane running tutorial 001's NAdam: the State tab names the formula that differs
    and shows how far the step is from the fix's (β₁ᵗ/(1 − β₁ᵗ) at step t: 2.69 at step 3)."""
    from engine import presets
    from tui.charts.state import FixRows

    app = create_app(presets.load("as-written-nadam"))
    async with app.run_test(size=(120, 40)) as pilot:
        await show_state(pilot)
        app.session.race.step(2)
        await pilot.press("n")
        await drawn(pilot)
        await wait_for(lambda: "step 3" in app.query_one(FixRows).plain)
        fix = app.query_one(FixRows).plain
        race = app.session.race
        run, name = race.runs[0], race.names[0]
        assert run.optimizer.name == "nadam-tutorial"
        distance = run.inspect().scalars["fix_distance"]
        assert distance == pytest.approx(0.9**3 / (1 - 0.9**3), rel=1e-12)
        first, second = fix.splitlines()
        assert first.startswith(f"as written vs fix · step 3: ‖Δ−Δfix‖/‖Δfix‖ {distance:.4g}")
        assert "2.69" in first and f" · {name[:5]}" in first
        assert "differs: m̄ = (β₁·m̂ + (1 − β₁)·g) / (1 − β₁ᵗ)" in second
        assert len(fix.splitlines()) == 2  # the fixed lanes have no line of their own
        race.step(2 * STATE_EVERY - 3)  # the summaries' second record: the curves' newest
        await drawn(pilot)
        recorded = run.state_summaries.scalar("fix_distance")
        assert recorded.steps.tolist() == [STATE_EVERY, 2 * STATE_EVERY]
        t = 2 * STATE_EVERY
        assert recorded.values[-1] == pytest.approx(0.9**t / (1 - 0.9**t), rel=1e-12)
        await wait_for(lambda: "‖Δ−Δfix‖/‖Δfix‖" in app.query_one(CurveRows).plain)
        curve = next(line for line in app.query_one(CurveRows).plain.splitlines()
                     if "‖Δ−Δfix‖/‖Δfix‖" in line)  # fmt: skip
        assert curve.startswith(name) and curve.endswith(format_number(recorded.values[-1], 4))
