"""Pilot tests of the Sweep screen: set up, run, cancel, and open a point as the single run.

Sweeps here are small (Rosenbrock, a few hundred steps) and run serially in this process
(`SteadyExecutor`), so they finish in well under a second and the numbers are the engine's
own: a row on screen equals `Run(row.config)` trained by hand.
"""

from __future__ import annotations

import pytest
from conftest import SteadyExecutor, screen_text, wait_for
from rich.style import Style
from textual.widgets import Input

from engine import presets
from engine import sweep as sweep_module
from engine.run import Run
from engine.sweep import SweepSpec, summarise
from tui.app import OptplayApp, create_app
from tui.charts.sweep_live import heatmap_text
from tui.screens.sweep import Cursor, SweepScreen

ONE_KNOB = SweepSpec(
    task="rosenbrock",
    optimizers=("sgd", "momentum", "adam"),
    grid={"lr": "1e-4:1:5"},
    steps=200,
)
TWO_KNOBS = SweepSpec(
    task="rosenbrock",
    optimizers=("momentum", "nesterov"),
    grid={"lr": "1e-4:1e-2:3", "momentum": "0.5,0.9,0.99"},
    steps=200,
)


def sweep_app(hold_after: int | None = None) -> OptplayApp:
    app = create_app()
    app.sweep_executor = lambda runs: SteadyExecutor(hold_after)
    return app


async def finished_sweep(pilot, spec: SweepSpec) -> SweepScreen:
    """Open the Sweep screen with `spec`, run it to its end, and return the screen."""
    pilot.app.open_sweep(spec, start=True)
    await wait_for(lambda: isinstance(pilot.app.screen, SweepScreen))
    screen = pilot.app.screen
    await wait_for(lambda: screen.ended)
    screen.redraw()
    await pilot.pause()
    return screen


# -- the setup -----------------------------------------------------------------------------------


async def test_the_key_opens_a_sweep_drafted_from_the_run_and_starts_it() -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_focus(None)
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await pilot.pause()
        text = screen_text(app)
        assert "swept knobs" in text and "knob 1 lr" in text
        plan = str(screen.query_one("#sweep-plan").render())
        assert plan == "3 optimizers x 13 points x 1 seed = 39 runs of 1,000 steps"
        assert [e.optimizer for e in screen.query_one("SweepSetup").editors] == [
            "adam", "sgd", "momentum"
        ]  # fmt: skip
        await pilot.press("ctrl+g")
        await wait_for(lambda: screen.ended)
        spec = screen.sweep.spec
        assert spec.task == "rosenbrock" and spec.optimizers == ("adam", "sgd", "momentum")
        assert spec.axes[0].values[0] == 1e-4 and len(spec.axes[0].values) == 13
        assert len(screen.sweep.rows) == 39 and "done: 39/39 runs" in screen.progress_text()


BAD_GRIDS = [
    ("1e-4:1e1:0", "grid: lr: the grid is empty (N = 0); N must be >= 1"),
    ("", "grid: lr: the grid is empty: give A:B:N or v1,v2,..."),
    ("0.1,-2", "grid: lr must be a number in (0, inf), got '-2'"),
    ("1e-4:x:3", "grid: lr: A and B of A:B:N must be numbers, got '1e-4:x:3'"),
]


async def test_a_bad_grid_shows_the_engines_message_and_nothing_starts(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a sweep was started")

    monkeypatch.setattr(sweep_module.Sweep, "__init__", refuse)
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_focus(None)
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        field = screen.query_one("#grid-values-1", Input)
        field.focus()
        for k, (grid, message) in enumerate(BAD_GRIDS):
            if k == 0:
                await pilot.press("ctrl+a", "ctrl+k", *grid)  # typed, key by key
            else:
                field.value = grid
            await pilot.pause()
            problem = str(screen.query_one("#sweep-problem").render())
            assert problem.startswith(message)
            assert screen.query_one("#grid-row-1").has_class("-invalid")
            assert message[:30] in screen_text(app)  # on screen, under the grid rows
            await pilot.press("ctrl+g")
            await pilot.press("enter")  # enter in a text field starts too
            await pilot.pause()
            assert screen.sweep is None and screen.view == "setup"
            assert any(message in n.message for n in app._notifications)
            app.clear_notifications()
        field.value = "0.01,0.1"
        await pilot.pause()
        assert not screen.query_one("#grid-row-1").has_class("-invalid")
        assert str(screen.query_one("#sweep-plan").render()).startswith("3 optimizers x 2 points")
        await pilot.press("escape")  # leaves the field
        assert isinstance(app.screen, SweepScreen) and screen.focused is None
        await pilot.press("escape")  # closes
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        await pilot.press("s")  # back as it was left
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        assert app.screen.query_one("#grid-values-1", Input).value == "0.01,0.1"


async def test_a_second_knob_an_optimizer_lacks_is_named_with_the_optimizer() -> None:
    app = sweep_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_sweep(ONE_KNOB)
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await pilot.pause()
        knob = screen.query_one("#grid-knob-2")
        knob.value = "momentum"  # adam has no momentum knob
        await pilot.pause()
        assert screen.query_one("#grid-values-2", Input).value == "0:0.99:5"  # a first grid
        problem = str(screen.query_one("#sweep-problem").render())
        assert problem.startswith("grid: momentum: optimizer adam has no knob 'momentum'")
        assert problem.endswith("sweep it with sgd, momentum only")
        assert screen.query_one("#grid-row-2").has_class("-invalid")
        knob.value = knob.NULL  # back to one knob: the plan is good again
        await pilot.pause()
        assert not screen.query_one("#sweep-problem").has_class("-shown")
        assert "3 optimizers x 5 points x 1 seed = 15 runs" in screen_text(app)  # one line


# -- running --------------------------------------------------------------------------------------


async def test_the_curves_fill_in_and_the_cursor_reads_each_point() -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await finished_sweep(pilot, ONE_KNOB)
        rows = screen.sweep.rows
        points = summarise(ONE_KNOB, rows)
        text = screen_text(app)
        assert "done: 15/15 runs" in text and "serial (this process)" in text
        assert "final loss vs lr" in text and "x diverged" in text
        await pilot.press("right", "right", "down")  # momentum at lr 0.01
        point = next(p for p in points if p.optimizer == "momentum" and p.point == (0.01,))
        row = next(r for r in rows if r.optimizer == "momentum" and r.point == (0.01,))
        text = screen_text(app)
        assert "▸ momentum lr=0.01:" in text
        if row.diverged:
            assert f"diverged at step {row.score.diverged_at:,}" in text
        else:
            assert f"final loss {point.final_loss_mean:.3g}"[:14] in text
        await pilot.press("down", "down", "down", "right", "right", "right")  # clamped
        assert screen.cursor == Cursor(2, (4,))
        assert "▸ adam lr=1:" in screen_text(app)
        first = screen.sweep
        await pilot.press("e")  # back to the setup, the grid in hand: a new sweep
        field = screen.query_one("#grid-values-1", Input)
        assert screen.view == "setup" and screen.focused is field
        field.value = "0.01,0.1"
        await pilot.press("enter")
        await wait_for(lambda: screen.sweep is not first and screen.ended)
        assert screen.view == "results" and len(screen.sweep.rows) == 6
        assert "done: 6/6 runs" in screen_text(app)


async def test_cancel_mid_sweep_keeps_the_finished_rows() -> None:
    app = sweep_app(hold_after=4)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_sweep(ONE_KNOB, start=True)
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await wait_for(lambda: screen.sweep is not None and screen.sweep.done == 4)
        await pilot.press("escape")  # cancels: the screen stays
        await wait_for(lambda: screen.ended)
        assert isinstance(app.screen, SweepScreen)
        rows = screen.sweep.rows
        assert [r.index for r in rows] == [0, 1, 2, 3]  # the first four of the plan
        assert screen.sweep.cancelled
        screen.redraw()
        await pilot.pause()
        assert "cancelled: kept 4/15 runs" in screen_text(app)
        for row in rows:  # kept rows are whole runs: the same numbers as by hand
            run = Run(row.config, history_capacity=None)
            run.step(ONE_KNOB.steps)
            if row.diverged:
                assert run.diverged_at == row.score.diverged_at
            else:
                assert run.task.evaluate(run.params)["loss"] == row.score.final_loss
        await pilot.press("escape")  # not running any more: closes
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        await pilot.press("s")  # the same sweep comes back
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        assert app.screen is screen and len(screen.sweep.rows) == 4


async def test_the_heatmap_cursor_walks_into_the_next_optimizers_grid() -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await finished_sweep(pilot, TWO_KNOBS)
        text = screen_text(app)
        assert "rows lr, columns momentum" in text and "o momentum" in text
        await pilot.press("down", "down", "down", "right")
        assert screen.cursor == Cursor(1, (0, 1))  # nesterov, lr 1e-4, momentum 0.9
        assert "▸ nesterov lr=0.0001 momentum=0.9:" in screen_text(app)
        body, where = heatmap_text(TWO_KNOBS, screen.points(), ("nesterov", (1e-4, 0.9)))
        line = body.plain.splitlines()[where.y]
        assert line.startswith("0.0001") and line[where.x : where.right].strip().startswith("░")


# -- a point, opened or pinned ------------------------------------------------------------------


async def test_selecting_a_point_opens_it_as_the_single_run_and_runs_it() -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await finished_sweep(pilot, ONE_KNOB)
        await pilot.press("right", "right", "right", "down")  # momentum at lr 0.1
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        row = next(r for r in screen.sweep.rows if r.optimizer == "momentum" and r.point == (0.1,))
        session = app.session
        assert session.config == row.config and session.planned_steps == ONE_KNOB.steps
        assert session.name == "momentum lr=0.1"
        run = session.run

        def ran() -> bool:  # to its end or its divergence
            over = run.steps_done == ONE_KNOB.steps or run.diverged_at is not None
            return over and not session.race.streaming

        await wait_for(ran)
        assert session.run.diverged_at == row.score.diverged_at
        if row.diverged:
            assert "diverged" in screen_text(app)
        else:
            assert session.run.history.last("eval_loss") == row.score.final_loss


async def test_pinning_a_point_puts_it_next_to_the_single_run() -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await finished_sweep(pilot, ONE_KNOB)  # rosenbrock, as the app's run
        await pilot.press("down", "down", "right", "right")  # adam at lr 0.01
        await pilot.press("p")
        await wait_for(lambda: len(app.session.pins) == 1)
        (pin,) = app.session.pins
        row = next(r for r in screen.sweep.rows if r.optimizer == "adam" and r.point == (0.01,))
        assert pin.name == "adam lr=0.01" and pin.run.config == row.config
        assert pin.run.steps_done == ONE_KNOB.steps
        assert isinstance(app.screen, SweepScreen)  # pin several, then leave
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        assert "adam lr=0.01" in screen_text(app)  # in the charts' legend


async def test_a_point_of_another_task_is_not_pinned() -> None:
    app = sweep_app()
    other = SweepSpec(task="beale", optimizers=("adam",), grid={"lr": "0.01,0.1"}, steps=20)
    async with app.run_test(size=(80, 24)) as pilot:
        await finished_sweep(pilot, other)
        await pilot.press("p")
        await pilot.pause()
        assert app.session.pins == []
        assert any("open it instead" in n.message for n in app._notifications)


# -- the shipped preset --------------------------------------------------------------------------


async def test_the_sweep_preset_opens_the_sweep_screen_and_runs_it() -> None:
    app = sweep_app(hold_after=1)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_focus(None)
        await pilot.press("s")  # a first sweep drafted, then left without running it
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await pilot.pause()
        assert screen.focused is screen.query_one("#grid-values-1")  # ready to type a grid
        await pilot.press("escape", "escape")  # leave the field, close
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        app.open_preset("lr-sensitivity")  # the same screen, set up with the preset
        await wait_for(lambda: app.screen is screen)
        await wait_for(lambda: screen.sweep is not None and screen.sweep.done == 1)
        assert screen.sweep.spec == presets.load("lr-sensitivity")
        assert screen.view == "results"
        await pilot.press("escape")  # cancel: one run kept
        await wait_for(lambda: screen.ended)
        assert len(screen.sweep.rows) == 1
        screen.redraw()
        await pilot.pause()
        assert "cancelled: kept 1/78 runs" in screen_text(app)


def test_cursor_moves_stay_on_the_grid() -> None:
    one = Cursor(0, (0,))
    assert one.moved(ONE_KNOB, -1, -1) == Cursor(0, (0,))
    assert one.moved(ONE_KNOB, 1, 1) == Cursor(1, (1,))
    two = Cursor(0, (2, 2))
    assert two.moved(TWO_KNOBS, 1, 1) == Cursor(1, (0, 2))  # into nesterov's first row
    assert Cursor(1, (0, 0)).moved(TWO_KNOBS, 0, -1) == Cursor(0, (2, 0))
    assert Cursor(1, (2, 0)).moved(TWO_KNOBS, 0, 1) == Cursor(1, (2, 0))  # the last row


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
async def test_the_progress_bar_takes_the_themes_accent(theme: str) -> None:
    # Issue 25: in the text colour the bar was a black block on the light theme.
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        screen = await finished_sweep(pilot, ONE_KNOB)
        row = screen.query_one("#sweep-progress").render_line(0)  # what the terminal gets
        colors = {seg.style.color.get_truecolor().hex for seg in row if "█" in seg.text}
        accent = app.current_theme.accent
        assert colors == {Style(color=accent).color.get_truecolor().hex}
        assert accent.lower() not in ("#000000", "black")
