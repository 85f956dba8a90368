"""Pilot tests of compare mode: races, pinned overlays, the results table, export, presets.

Keys in, screen out, as in test_app.py; the numbers on screen are checked against the
engine's own (`Race.results`, `export_history`, `engine.config.load`).
"""

from __future__ import annotations

import asyncio
import csv

import numpy as np
import pytest
from conftest import screen_text, wait_for
from textual.widgets import Input, OptionList, Select

from engine import presets
from engine.bench import BenchSpec
from engine.compare import Race, format_number
from engine.config import Experiment, RaceEntry, load
from engine.history import load_history_json
from engine.run import RunConfig
from tui import __main__ as cli_main
from tui.app import OptplayApp, create_app
from tui.charts import LossChart, LrChart, NormsChart, PathChart
from tui.screens.bench import BenchScreen
from tui.screens.presets import PresetScreen
from tui.screens.race_results import RaceResultsScreen
from tui.screens.race_setup import RaceSetupScreen
from tui.widgets.race_panel import RacePanel
from tui.widgets.race_table import RaceTable
from tui.widgets.status import StatusLine

SMALL = (80, 24)
LARGE = (120, 40)


def status_text(app: OptplayApp) -> str:
    return str(app.query_one(StatusLine).render())


async def type_into(pilot, field_id: str, text: str) -> None:
    field = pilot.app.screen.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()


async def pick(pilot, select_id: str, name: str) -> None:
    """Choose `name` in a Select with the keyboard: open it, type to search, enter."""
    pilot.app.screen.query_one(f"#{select_id}", Select).focus()
    await pilot.press("enter", *name, "enter")
    await pilot.pause()


def start_race(app: OptplayApp, *optimizers: str, length: int, steps: int = 0) -> Race:
    """Show a race of `optimizers` on Rosenbrock planned for `length` steps, not started,
    after `steps` lockstep steps."""
    base = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    entries = Race.of(base, list(optimizers)).experiment().race
    app.do(app.session.start_race(entries, length, go=False))
    if steps:
        app.session.race.step(steps)
        app.render_view()
    return app.session.race


# -- a race from the app -----------------------------------------------------------------------


async def test_a_race_of_three_runs_to_its_table_from_the_keyboard() -> None:
    # Steps to target are measured on the eval series (issue 18): evaluate every 10 steps.
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam", eval_every=10))
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("c")
        assert isinstance(app.screen, RaceSetupScreen)
        text = screen_text(app)
        assert "racer 1" in text and "racer 2" in text and "optimizer adam" in text
        await type_into(pilot, "race-run-steps", "60")
        await pilot.press("ctrl+n")  # a third racer
        await pick(pilot, "r2-optimizer-select", "nesterov")
        await type_into(pilot, "r2-optimizer-lr", "0.001")
        await pilot.press("ctrl+g")
        race = app.session.race
        assert race is not None and not isinstance(app.screen, RaceSetupScreen)
        await wait_for(lambda: race.state == "finished")
        await wait_for(lambda: isinstance(app.screen, RaceResultsScreen))
        await pilot.pause()

        # Three racers, same task, seed and start point; they advanced together.
        assert [r.config.optimizer for r in race.runs] == ["adam", "nesterov", "momentum"]
        assert race.runs[1].config.optimizer_hypers["lr"] == 0.001
        assert {r.config.seed for r in race.runs} == {0}
        assert len({str(sorted(r.config.task_hypers.items())) for r in race.runs}) == 1
        starts = {(r.history.trajectory().xs[0], r.history.trajectory().ys[0]) for r in race.runs}
        assert starts == {tuple(race.runs[0].task.start)}
        assert [r.steps_done for r in race.runs] == [60, 60, 60]

        # The table on screen holds the engine's numbers.
        text = screen_text(app)
        target = race.default_target()
        assert f"steps to {format_number(target)}" in text
        widget = app.screen.query_one("#race-table", RaceTable)
        # At 80 columns the columns that decide a race stay; the others are named in the note.
        shown = [c.key for c in widget.columns]
        assert {"run", "eval", "target", "diverged"} <= set(shown)
        note = str(app.screen.query_one("#results-note").render())
        assert widget.left_out and all(header in note for header in widget.left_out)
        table = widget.content_region
        lines = [row[table.x : table.right] for row in text.splitlines()[table.y : table.bottom]]
        for row in race.results(target):
            line = next(line for line in lines if line.startswith(f"━━ {row.name} "))
            cells = line.split()
            for column in widget.columns[1:]:
                assert column.cell(row, target) in cells, column.key
            assert "no" in cells  # none diverged
        await pilot.press("escape")
        assert not isinstance(app.screen, RaceResultsScreen)
        assert "finished" in status_text(app) and "race of 3" in status_text(app)


async def test_pausing_a_race_pauses_every_racer() -> None:
    app = create_app(steps=100_000)
    async with app.run_test(size=SMALL) as pilot:
        start_race(app, "adam", "sgd", "rmsprop", length=100_000)
        app.set_focus(None)
        while app.session.speed != 20:
            await pilot.press("minus")
        await pilot.press("space")
        race = app.session.race
        await wait_for(lambda: race.steps_done >= 3)
        await pilot.press("space")
        await pilot.pause()
        stopped = [run.steps_done for run in race.runs]
        assert len(set(stopped)) == 1 and race.state == "paused"
        await asyncio.sleep(0.3)
        assert [run.steps_done for run in race.runs] == stopped
        assert "paused" in status_text(app) and f"step {stopped[0]}" in status_text(app)
        await pilot.press("n")  # one lockstep step
        assert [run.steps_done for run in race.runs] == [stopped[0] + 1] * 3
        await pilot.press("r")
        assert [run.steps_done for run in race.runs] == [0, 0, 0]


async def test_setup_keeps_two_to_six_racers_and_checks_their_knobs() -> None:
    app = create_app()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        app.set_focus(None)
        await pilot.press("c")
        screen = app.screen
        await pilot.press(*["ctrl+n"] * 5)
        assert len(screen.editors) == 6
        assert "at most 6 racers" in screen_text(app)
        await pilot.press(*["ctrl+r"] * 5)
        assert len(screen.editors) == 2
        assert "at least 2 racers" in screen_text(app)
        await type_into(pilot, "r2-optimizer-lr", "-1")
        assert "lr must be a number in (0, inf)," in screen_text(app)  # under the field
        errors = screen.query_one("#racer-2 HyperForm").errors()
        assert errors == {"r2-optimizer.lr": "lr must be a number in (0, inf), got '-1'"}
        await pilot.press("ctrl+g")
        assert app.screen is screen and not app.session.racing  # nothing started
        await pilot.press("escape", "escape")  # leave the field, then cancel
        assert not app.session.racing and not isinstance(app.screen, RaceSetupScreen)


async def test_x_leaves_the_race_for_the_single_run() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        start_race(app, "adam", "sgd", length=50, steps=5)
        await pilot.pause()
        assert app.query_one(RacePanel).display and not app.query_one("#sidebar").display
        app.set_focus(None)
        await pilot.press("x")
        assert not app.session.racing
        assert app.query_one("#sidebar").display and not app.query_one(RacePanel).display
        assert "optimizer · adam" in screen_text(app)


# -- charts --------------------------------------------------------------------------------------


async def test_every_chart_draws_every_lane_in_its_colour_with_a_legend() -> None:
    names = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        start_race(app, *names, length=100, steps=50)
        await pilot.pause()
        for tab, chart_type in (
            ("tab-loss", LossChart),
            ("tab-lr", LrChart),
            ("tab-norms", NormsChart),
            ("tab-path", PathChart),
        ):
            app.show_tab(tab)
            await pilot.pause()
            chart = app.query_one(chart_type)
            legend = screen_text(app).splitlines()[4]  # the data area's top row
            # Each lane's number and name: the number also ends its curve (no colour needed).
            assert "  ".join(f"{i} {n}" for i, n in enumerate(names, start=1)) in legend
            colours = {cell[3] for cell in chart.cells}
            dark = [chart.lane_color(i) for i in range(6)]
            assert len(set(dark)) >= 5 and set(dark) <= colours
        app.theme = "textual-light"  # the theme's own colours on a light background
        path = app.query_one(PathChart)
        await wait_for(lambda: path.lane_color(0) != dark[0])
        light = {path.lane_color(i) for i in range(6)}
        await wait_for(lambda: light <= {cell[3] for cell in path.cells})  # next tick
        assert app.lane_colors()[0] == path.lane_color(0)


# -- pinning -------------------------------------------------------------------------------------


async def test_pin_keeps_the_run_as_a_named_overlay_and_restarts_the_live_run() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnn", "p")
        field = app.screen.query_one("#prompt-value", Input)
        assert field.value == "adam lr=0.02"  # a default name
        await pilot.press("ctrl+a", "ctrl+k", *"first [try]", "enter")
        await pilot.pause()
        (overlay,) = app.session.pins
        assert overlay.name == "first [try]" and overlay.run.steps_done == 5
        assert app.session.run is not overlay.run and app.session.run.steps_done == 0
        app.set_focus(None)
        await pilot.press(*"nnn")
        await pilot.pause()
        assert overlay.run.steps_done == 5  # frozen
        app.show_tab("tab-loss")
        await pilot.pause()
        # The legend: the live run with its rate, then the pin (numbered, as the curves'
        # ends are).
        assert "1 adam lr 0.02  2 first [try] (pinned)" in screen_text(app)
        await pilot.press("t")  # the table compares the live run with the overlay
        text = screen_text(app)
        assert "first [try] (pinned)" in text
        assert format_number(overlay.run.history.last("loss")) in text


# -- export --------------------------------------------------------------------------------------


async def test_export_writes_csv_and_json_of_every_run_shown(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        start_race(app, "adam", "sgd", "momentum", length=50, steps=7)
        await pilot.pause()
        app.set_focus(None)
        await pilot.press("e")
        await pilot.press("ctrl+a", "ctrl+k", *"hist.csv", "enter")  # the suffix is dropped
        await pilot.pause()
        assert "exported 3 runs to hist.csv" in screen_text(app)  # a notification
    with open(tmp_path / "hist.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header = ["run", "step", "loss", "lr", "grad_norm", "update_norm", "update_grad_ratio"]
    assert rows[0] == [*header, "eval_loss"]  # rosenbrock evaluates every 100 steps
    assert [r[0] for r in rows[1:]] == ["adam"] * 7 + ["sgd"] * 7 + ["momentum"] * 7
    adam = app.session.race.runs[0]
    assert [float(r[2]) for r in rows[1:8]] == adam.history.downsample("loss", 100).lasts.tolist()
    records = load_history_json(tmp_path / "hist.json")
    assert [r["name"] for r in records] == ["adam", "sgd", "momentum"]
    assert np.array_equal(records[2]["loss"], [float(r[2]) for r in rows[15:]])


# -- presets, files and saving -------------------------------------------------------------------


async def test_a_race_preset_opens_as_a_race_from_the_preset_screen() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("o")
        assert isinstance(app.screen, PresetScreen)
        app.screen.query_one(OptionList).focus()
        await pilot.press(*["down"] * presets.names().index("schedules"))
        await pilot.pause()
        # the highlighted preset is scrolled into view with its description (12 presets
        # are more than 80x24 shows at once)
        assert "race of 4: constant, step decay" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        race = app.session.race
        assert race is not None and race.names == [
            "constant",
            "step decay",
            "exponential decay",
            "cosine",
        ]
        assert (
            app.session.planned_steps == 100
            and app.session.name == "Learning-rate schedules compared"
        )
        panel = " ".join(screen_text(app).split())
        assert "━━ step decay" in panel and "adam · lr 0.1 · step" in panel
        details = [lane.detail for lane in app.session.view().lanes]
        assert details[0] == "adam · lr 0.1"  # a constant schedule goes without saying


async def test_a_run_preset_fills_the_form_and_leaves_a_race() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        start_race(app, "adam", "sgd", length=10)
        app.open_preset("digits-adam")
        await pilot.pause()
        await pilot.press("d")  # the race is unsaved, as quitting would say: discard it
        await pilot.pause()
        assert not app.session.racing and app.query_one("#sidebar").display
        assert (
            app.session.run.config.replace(state_every=0) == app.session.config
            and app.session.config.task == "digits-mlp"
        )
        assert app.session.planned_steps == 4500 and app.session.config.eval_every == 45
        assert app.query_one("#optimizer-lr", Input).value == "0.001"
        assert app.query_one("#task-hidden", Input).value == "128"
        assert not app.session.dirty  # just opened: nothing to lose on quit


async def test_optplay_preset_and_config_open_race_files_as_races(monkeypatch, tmp_path) -> None:
    opened: list[OptplayApp] = []
    monkeypatch.setattr(OptplayApp, "run", lambda self, *a, **k: opened.append(self))
    assert cli_main.main(["--preset", "linreg-optimizers"]) == 0
    race = opened[-1].session.race
    assert opened[-1].session.racing and race.names == ["SGD", "Momentum", "Adam"]
    path = tmp_path / "race.toml"
    path.write_text(
        'task = "beale"\nsteps = 30\n[[race]]\noptimizer = "sgd"\n[[race]]\noptimizer = "adam"\n'
        '[[race]]\nname = "fast adam"\noptimizer = "adam"\n[race.optimizer_hypers]\nlr = 0.01\n'
    )
    assert cli_main.main(["--config", str(path)]) == 0
    app = opened[-1]
    assert (
        app.session.race.names == ["sgd", "adam", "fast adam"] and app.session.planned_steps == 30
    )
    assert app.session.save_path == str(path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "race of 3" in status_text(app) and "━━ fast adam" in screen_text(app)


async def test_ctrl_s_saves_the_race_file_that_loads_back(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = RunConfig(task="rosenbrock", optimizer="sgd", seed=3)
    entries = (
        RaceEntry(base, "plain"),
        RaceEntry(base.replace(optimizer="adam", optimizer_hypers={"lr": 0.05}), None),
        RaceEntry(base.replace(optimizer="adam", schedule="cosine"), "cosine adam"),
    )
    app = create_app(Experiment.of_race(entries, steps=250, name="three"))
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        app.set_focus(None)
        await pilot.press("ctrl+s")
        await pilot.press("ctrl+a", "ctrl+k", *"race.toml", "enter")
        await pilot.pause()
        assert "saved to" in screen_text(app)
    experiment = load(tmp_path / "race.toml")
    assert experiment.race == entries
    assert experiment.steps == 250 and experiment.name == "three"


async def test_the_benchmark_preset_runs_in_the_background(monkeypatch) -> None:
    small = BenchSpec(tasks=("quadratic",), optimizers=("sgd", "adam"), seeds=1, steps=40)
    monkeypatch.setattr(presets, "load", lambda name: small)
    monkeypatch.setattr(presets, "title", lambda name: "tiny bench")
    app = create_app()
    async with app.run_test(size=LARGE) as pilot:
        app.open_preset("benchmark")
        screen = app.screen
        assert isinstance(screen, BenchScreen)
        await wait_for(lambda: screen.report is not None)
        await pilot.pause()
        text = screen_text(app)
        assert "done: 2 runs" in text and "optplay bench --preset benchmark" in text
        assert "sgd" in text and "adam" in text and "quadratic" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, BenchScreen)


@pytest.mark.parametrize("race", [False, True])
async def test_palette_offers_every_compare_action(race: bool) -> None:
    app = create_app()
    async with app.run_test(size=SMALL):
        if race:
            start_race(app, "adam", "sgd", length=10)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        expected = {"Race optimizers", "Export history", "Presets"}
        expected |= {f"Load preset: {name}" for name in presets.names()}
        expected |= {"Leave race", "Results table"} if race else {"Pin run"}
        assert expected <= titles
