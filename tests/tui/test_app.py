"""Pilot tests: keys in, screen out.

Each test drives the app the way a user would (keys, picks, typing) and asserts on what the
terminal then shows, plus the run's state where the screen alone can't tell (step counts).
Training that must keep running during a test is slowed to a few steps per second with `-`,
so the Pilot's "wait until idle" returns promptly.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import screen_text, wait_for
from textual.widgets import Input, Select, TabbedContent, Tabs

from engine import optimizers, schedules, tasks
from engine.run import RunConfig
from engine.session import SPEEDS
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel, LossChart, LrChart, NormsChart, PathChart
from tui.charts.state import StateTab
from tui.screens.help import HelpScreen
from tui.widgets.status import StatusLine

SMALL = (80, 24)


def text_of(app: OptplayApp, selector: str) -> str:
    """What one widget's area of the screen shows, wrapped lines joined with spaces."""
    region = app.query_one(selector).content_region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return " ".join(" ".join(row[region.x : region.right].split()) for row in rows)


def status_text(app: OptplayApp) -> str:
    return str(app.query_one(StatusLine).render())


async def pick(pilot, kind: str, name: str) -> None:
    """Choose `name` in the `kind` picker with the keyboard: open, type to search, enter."""
    pilot.app.query_one(f"#{kind}-select", Select).focus()
    await pilot.press("enter", *name, "enter")
    await pilot.pause()


async def choose(pilot, kind: str, name: str) -> None:
    """Set a picker's choice directly (same message path as a pick; for loops over all)."""
    pilot.app.query_one(f"#{kind}-select", Select).value = name
    await pilot.pause()


async def type_into(pilot, field_id: str, text: str, commit: bool = True) -> Input:
    """Replace a form field's text by typing, as a user would, then Enter (commit=False:
    leave it typed but not committed)."""
    field = pilot.app.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)  # to the start, delete to the end, type
    if commit:
        await pilot.press("enter")
    await pilot.pause()
    return field


async def slow_down(pilot, steps_per_second: float = 20) -> None:
    """Press `-` until the speed limit is `steps_per_second`."""
    while pilot.app.session.speed != steps_per_second:
        await pilot.press("minus")


# -- the start screen --------------------------------------------------------------------------


async def test_start_screen_shows_pickers_form_status_and_keys() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "rosenbrock" in text and "adam" in text and "constant" in text
        assert "banana valley" in text  # the task's one-line summary
        assert "optimizer · adam" in text and "0.02" in text  # the generated form
        assert "ready" in text and "step 0" in text
        # The key bar keeps the most useful keys that fit in 80 columns; the rest are in
        # the help and the palette, which it names.
        for key in ("space Run/pause", "n Step", "r Reset", "] Tab", "q Quit", "? help"):
            assert key in text
        assert "^p palette" in text.splitlines()[-1]
        # Keyboard first: the task picker has the focus.
        assert app.focused is app.query_one("#task-select")


# -- pickers -----------------------------------------------------------------------------------


async def test_picking_each_optimizer_rebuilds_the_form_and_the_run() -> None:
    app = create_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await pick(pilot, "optimizer", "nadam")  # by keyboard once, then the rest directly
        assert app.session.run.config.optimizer == "nadam"
        for name in optimizers.names():
            await choose(pilot, "optimizer", name)
            # The sidebar's column, its rows joined: a long name wraps onto the next row.
            sidebar = " ".join(row.split("▕")[0] for row in screen_text(app).splitlines())
            assert f"optimizer · {name}" in " ".join(sidebar.split())
            assert optimizers.summary(name) in text_of(app, "#optimizer-picker")
            for spec in optimizers.specs(name):
                assert app.query_one(f"#optimizer-{spec.name}")  # one field per knob
            assert app.session.run.config.optimizer == name  # at step 0 the pick applies at once


async def test_picking_each_task_and_schedule_applies_at_step_zero() -> None:
    app = create_app()
    async with app.run_test(size=(100, 50)) as pilot:
        for name in tasks.names():
            await choose(pilot, "task", name)
            assert tasks.summary(name) in text_of(app, "#task-picker")
            assert app.session.run.config.task == name
            landscape = bool(getattr(app.session.run.task, "is_landscape", False))
            assert ("Path" in screen_text(app).splitlines()[0]) == landscape
        for name in schedules.names():
            await choose(pilot, "schedule", name)
            assert f"schedule · {name}" in screen_text(app)
            assert app.session.run.config.schedule == name


async def test_changing_optimizer_mid_run_offers_a_reset() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.query_one("#task-select").focus()
        await pilot.press("escape")  # leave the pickers so letter keys act on the app
        await pilot.press("n", "n", "n")
        await pick(pilot, "optimizer", "sgd")
        assert "optimizer changed: r resets the run to apply" in text_of(app, "#sidebar")
        assert app.session.run.config.optimizer == "adam" and app.session.run.steps_done == 3
        app.set_focus(None)
        await pilot.press("r")
        assert app.session.run.config.optimizer == "sgd" and app.session.run.steps_done == 0
        assert "r resets" not in text_of(app, "#sidebar")


# -- the form ----------------------------------------------------------------------------------


async def test_bad_input_shows_the_message_inline_and_blocks_starting() -> None:
    app = create_app()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await type_into(pilot, "optimizer-lr", "-1")
        assert "lr must be a number in (0, inf), got '-1'" in text_of(app, "#sidebar")
        await pilot.press("space")  # run/pause works from the form, but not with bad input
        await pilot.pause()
        assert app.session.status().state == "ready" and app.session.run.steps_done == 0
        assert "Fix optimizer.lr first" in screen_text(app)  # a notification says why
        await type_into(pilot, "optimizer-lr", "1e-3")
        assert "must be" not in text_of(app, "#sidebar")
        assert app.session.run.config.optimizer_hypers["lr"] == 0.001


async def test_cross_knob_rule_is_shown_at_the_named_field() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="warmup-cosine")
    app = create_app(config)
    async with app.run_test(size=(100, 50)) as pilot:
        await type_into(pilot, "schedule-warmup_steps", "5000")
        assert "warmup_steps must be" in text_of(app, "#sidebar")
        assert "schedule.warmup_steps" in app.query_one("#form").errors()


async def test_space_in_a_form_field_runs_instead_of_typing() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await slow_down(pilot)
        field = await type_into(pilot, "optimizer-lr", "0.01", commit=False)
        await pilot.press("space")  # runs, with the value typed (committed first)
        await wait_for(lambda: app.session.run.steps_done > 0)
        assert field.value == "0.01" and app.session.run.config.lr == 0.01
        assert app.session.status().state == "running"
        await pilot.press("space")
        assert app.session.status().state == "paused"


async def test_escape_leaves_the_form_so_letter_keys_act() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        field = await type_into(pilot, "optimizer-lr", "0.05", commit=False)
        await pilot.press("n")  # refused: a number has no n
        assert field.value == "0.05" and app.session.run.steps_done == 0
        await pilot.press("enter", "escape", "n")
        assert app.session.run.steps_done == 1
        assert "paused" in status_text(app) and "step 1" in status_text(app)


async def test_lr_edited_while_paused_applies_to_the_next_step_without_reset() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnn")
        assert app.session.run.steps_done == 5
        await type_into(pilot, "optimizer-lr", "0.005")
        assert "lr 0.005" in status_text(app)  # the rate the next step will use
        await pilot.press("escape", "n")
        assert app.session.run.steps_done == 6  # no reset
        assert app.session.run.history.last("lr") == 0.005
        assert "r resets" not in screen_text(app)


# -- run control -------------------------------------------------------------------------------


async def test_space_starts_and_pauses_training() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await slow_down(pilot)
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done >= 3)
        await pilot.pause()
        assert "running" in status_text(app)
        assert "speed 20/s" in status_text(app)
        await pilot.press("space")
        await pilot.pause()
        paused_at = app.session.run.steps_done
        assert "paused" in status_text(app) and f"step {paused_at}" in status_text(app)
        assert "steps/s" not in status_text(app)  # a rate only while running
        await asyncio.sleep(0.3)
        assert app.session.run.steps_done == paused_at
        await pilot.press("space")  # resume
        await wait_for(lambda: app.session.run.steps_done > paused_at)
        await pilot.press("space")


async def test_n_steps_once_and_pauses_a_running_run() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("n")
        assert app.session.run.steps_done == 1 and "step 1" in status_text(app)
        await slow_down(pilot, 5)
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done >= 3)
        await pilot.press("n")
        await pilot.pause()
        assert app.session.status().state == "paused"
        stepped = app.session.run.steps_done
        await asyncio.sleep(0.4)
        assert app.session.run.steps_done == stepped
        assert "paused" in status_text(app)


async def test_r_resets_to_step_zero() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnn")
        assert "step 4" in status_text(app)
        await pilot.press("r")
        assert app.session.run.steps_done == 0 and app.session.status().state == "ready"
        assert "ready" in status_text(app) and "step 0" in status_text(app)
        app.show_tab("tab-loss")  # (a 2-D task opens on its Path tab)
        await pilot.pause()
        assert "space starts" in screen_text(app)  # the loss chart is empty again


async def test_plus_and_minus_change_the_speed_limit() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        assert "speed max" in status_text(app)
        await pilot.press("minus")
        assert f"speed {SPEEDS[-2]:g}/s" in status_text(app)
        assert app.session.race.steps_per_second == SPEEDS[-2]
        await pilot.press("minus", "minus")
        assert f"speed {SPEEDS[-4]:g}/s" in status_text(app)
        await pilot.press("plus", "plus", "plus", "plus")  # past the top stays at max
        assert "speed max" in status_text(app) and app.session.race.steps_per_second is None


async def test_keys_while_training_hold_it_only_until_the_screen_answers() -> None:
    from engine.config import Experiment

    app = create_app(Experiment(RunConfig(task="digits-mlp", optimizer="adam"), steps=10**7))
    holds = []
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        real_hold = app.session.hold_training
        app.session.hold_training = lambda: holds.append(1) or real_hold()
        await pilot.press("space")
        while app.session.race.steps_done < 50:
            await pilot.pause(0.02)
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert f"speed {SPEEDS[-3]:g}/s" in status_text(app) and len(holds) == 2
        assert not app.session.race.held  # released once the screen showed the new speed
        before = app.session.race.steps_done
        await pilot.pause(0.3)
        assert app.session.race.steps_done > before and app.session.race.state == "running"
        await pilot.press("space")


async def test_progress_between_two_frame_ticks_still_reaches_the_status_line() -> None:
    # The frame timer draws the status line on one tick and the race panel on the next; a
    # report arriving between the two must not be spent by the second (a paused race then
    # showed an older step until the next report, which never came).
    from tui.messages import RunProgress

    app = create_app(steps=10**6)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        race = app.session.race
        race.step(7)  # the status line has not been told yet
        app._tick = 1  # the status line's tick has just gone by
        app._progress(RunProgress(race, race.progress(None)))
        for _ in range(3):  # the race panel's tick, the chart's, the status line's
            app._frame()
        await pilot.pause()
        assert "step 7" in status_text(app)


async def test_a_run_stops_at_its_planned_length() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await type_into(pilot, "run-steps", "40")
        await pilot.press("escape", "space")
        await wait_for(lambda: app.session.status().state == "finished")
        await pilot.pause()
        assert app.session.run.steps_done == 40
        assert "finished" in status_text(app) and "step 40" in status_text(app)


async def test_raising_the_planned_length_while_paused_keeps_the_run_paused() -> None:
    app = create_app(steps=500)
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await slow_down(pilot, 20)
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done >= 3)
        await pilot.press("space")
        await asyncio.sleep(0.1)  # the pause lands after the step in progress
        paused_at = app.session.run.steps_done
        await type_into(pilot, "run-steps", "600")
        await asyncio.sleep(0.3)
        assert app.session.run.steps_done == paused_at and "paused" in status_text(app)
        await pilot.press("escape", *["plus"] * len(SPEEDS), "space")  # at full speed
        await wait_for(lambda: app.session.status().state == "finished")
        assert app.session.run.steps_done == 600


async def test_divergence_is_reported_and_the_app_stays_up() -> None:
    config = RunConfig(task="rosenbrock", optimizer="sgd", optimizer_hypers={"lr": 0.05})
    app = create_app(config)
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("space")
        await wait_for(lambda: app.session.status().state == "diverged")
        await pilot.pause()
        at = app.session.run.diverged_at
        assert at is not None
        assert f"diverged at step {at}" in status_text(app)
        app.show_tab("tab-loss")
        await pilot.pause()
        assert f"diverged at {at}" in screen_text(app)  # marked on the loss chart
        await pilot.press("n", "space")  # nothing to do until a reset, and no crash
        assert app.session.status().state == "diverged"
        await pilot.press("r")
        assert app.session.status().state == "ready"


# -- charts ------------------------------------------------------------------------------------


async def test_tabs_switch_charts_with_the_keyboard() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnnnnnnn")
        app.query_one(Tabs).focus()
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "tab-path"  # a 2-D task opens on its path
        expected = [
            ("tab-state", StateTab, "each coordinate"),
            ("tab-loss", LossChart, "loss"),
            ("tab-lr", LrChart, "lr 0.02"),
            ("tab-norms", NormsChart, "grad"),
            ("tab-path", PathChart, "g −g, s Δθ"),
        ]
        for tab, chart_type, title in expected:
            await pilot.press("right")
            await pilot.pause()
            assert tabs.active == tab
            assert isinstance(app.query_one(ChartPanel).active_chart(), chart_type)
            assert title in screen_text(app)


async def test_lr_tab_previews_the_whole_schedule_before_the_run() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="cosine")
    app = create_app(config)
    async with app.run_test(size=SMALL) as pilot:
        app.show_tab("tab-lr")
        await pilot.pause()
        chart = app.query_one(LrChart)
        assert chart.drawn_key is not None
        assert "step 0 of 1k" in screen_text(app)
        view = app.query_one(ChartPanel).view
        x, lo, hi = chart.preview(view, app.session.run, 1000, 100)
        assert x[0] <= 10 and x[-1] == 1000 and hi[0] > lo[-1]  # decays over the planned run


async def test_plateau_preview_says_why_it_is_flat() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="plateau")
    app = create_app(config)
    async with app.run_test(size=SMALL) as pilot:
        app.show_tab("tab-lr")
        await pilot.pause()
        assert "plateau: depends on the loss" in text_of(app, "#lr-chart")


async def test_l_toggles_log_scale_on_the_chart_in_view() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnn")
        app.show_tab("tab-loss")
        await pilot.pause()
        assert "· log" not in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert app.query_one(LossChart).log_y
        assert "· log" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert "· log" not in screen_text(app)


async def test_path_tab_only_for_two_d_tasks() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        assert "Path" in screen_text(app).splitlines()[0]
        await pick(pilot, "task", "digits-mlp")
        assert "Path" not in screen_text(app).splitlines()[0]


async def test_resizing_mid_run_keeps_everything_on_screen() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await slow_down(pilot)
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done >= 2)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert "running" in status_text(app)
        assert app.query_one(PathChart).size.width > 80
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "Run/pause" in screen_text(app)
        await pilot.press("space")


async def test_light_theme_draws_charts() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.theme = "textual-light"
        app.set_focus(None)
        await pilot.press(*"nnn")
        await pilot.pause()
        assert "loss" in screen_text(app) and "paused" in status_text(app)


# -- help, palette, quit -----------------------------------------------------------------------


async def test_help_shows_the_selected_optimizers_update_rule() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await pick(pilot, "optimizer", "rmsprop")
        app.set_focus(None)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "rmsprop — help" in text and "Update rule" in text
        first_line = optimizers.get("rmsprop").equations.strip().splitlines()[0]
        assert first_line.strip()[:30] in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action() -> None:
    app = create_app()
    async with app.run_test(size=SMALL):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        expected = ("Run / pause", "Step once", "Reset run", "Faster", "Slower")
        for title in (*expected, "Toggle log scale", "Help", "Show path chart", "Quit"):
            assert title in titles


async def test_palette_search_keeps_its_spaces() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"step once")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "step once"
        assert app.session.status().state == "ready"
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.run.steps_done == 1


async def test_ctrl_s_saves_an_experiment_file_that_opens_again(tmp_path, monkeypatch) -> None:
    from engine.config import load

    monkeypatch.chdir(tmp_path)
    app = create_app()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await type_into(pilot, "optimizer-lr", "0.004")
        await pilot.press("escape", "ctrl+s")
        path = tmp_path / "mine.toml"
        await pilot.press("ctrl+a", "ctrl+k", *"mine.toml", "enter")
        await pilot.pause()
        assert "saved to" in screen_text(app)  # a notification (the long path wraps)
    experiment = load(path)
    assert experiment.config == app.session.config
    assert experiment.config.optimizer_hypers["lr"] == 0.004 and experiment.steps == 1000


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_quit_exits_with_status_zero(key: str) -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(key)
        await pilot.pause()
    assert app.return_code == 0
