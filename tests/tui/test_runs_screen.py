"""The app and the run store: a finished run is kept (written off the UI thread), a corrupt
store is set aside and the app starts, and the Runs screen opens a stored run as the run (with
the history it had) or pins it beside the current one."""

from __future__ import annotations

import numpy as np
from conftest import screen_text, wait_for
from textual.widgets import DataTable

from engine import store
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.runs import RunsScreen

SIZE = (100, 30)
CONFIG = RunConfig(task="quadratic", optimizer="momentum", seed=5, eval_every=10)


def _stored_ids() -> list[int]:
    if not store.default_path().exists():
        return []
    with store.Store() as s:
        return s.ids()


async def test_a_finished_run_is_kept_in_the_store() -> None:
    app = create_app(CONFIG, steps=150)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(lambda: len(_stored_ids()) == 1)
        with store.Store() as s:
            kept = s.get(s.ids()[0])
        run = app.session.run
        assert kept.summary["steps"] == 150 and kept.summary["outcome"] == "finished"
        assert kept.summary["source"] == "app"
        assert np.array_equal(kept.arrays["loss"], run.history.buckets("loss").lasts)
        assert kept.experiment().config == run.config.replace(state_every=0)  # not watching


async def test_no_run_is_kept_when_the_settings_say_so() -> None:
    from tui import settings

    settings.save(settings.Settings(speed=None, sidebar="shown", record_runs=False))
    app = create_app(CONFIG, steps=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done == 50)
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert _stored_ids() == []


async def test_a_corrupt_store_is_set_aside_and_the_app_starts() -> None:
    path = store.default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not sqlite at all " * 500)
    app = create_app(CONFIG, steps=40)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(lambda: any("set aside" in n.message for n in app._notifications))
        await wait_for(lambda: "Run store" in screen_text(app))  # the toast is shown
        assert [p for p in path.parent.iterdir() if "corrupt" in p.name]
        await pilot.press("space")  # and runs are kept in the new store
        await wait_for(lambda: len(_stored_ids()) == 1)


def _store_a_run(config: RunConfig, steps: int, name: str | None = None) -> int:
    from engine.run import Run

    run = Run(config)
    run.step(steps)
    with store.Store() as s:
        return s.add(store.snapshot(run, started=0.0, planned_steps=steps, name=name))


async def test_the_runs_screen_opens_a_stored_run_with_its_history() -> None:
    first = _store_a_run(CONFIG, 120, "yesterday")
    _store_a_run(CONFIG.replace(optimizer="adam"), 80)
    with store.Store() as s:
        kept = s.get(first)
    app = create_app(RunConfig(task="rosenbrock", optimizer="sgd"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, RunsScreen))
        table = app.screen.query_one(DataTable)
        await wait_for(lambda: table.row_count == 2)
        text = screen_text(app)
        assert "quadratic" in text and "momentum" in text and "adam" in text
        await pilot.press("down", "enter")  # the older one: newest first
        await wait_for(lambda: app.session.config == kept.experiment().config)
        run = app.session.run
        assert run.steps_done == 120 and app.session.name == "yesterday"
        assert store.same_history(kept, run)
        for series in ("loss", "grad_norm", "eval_loss"):
            h = run.history.buckets(series)
            stored_steps = kept.arrays["eval_step" if series == "eval_loss" else "step"]
            assert np.array_equal(h.steps, stored_steps)
        assert np.array_equal(run.history.buckets("loss").lasts, kept.arrays["loss"])
        assert "step 120" in screen_text(app).replace(",", "")


async def test_the_runs_screen_pins_a_stored_run_beside_the_current_one() -> None:
    stored = _store_a_run(CONFIG.replace(optimizer="adam"), 90)
    app = create_app(CONFIG, steps=200)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, RunsScreen))
        await wait_for(lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("p")
        await wait_for(lambda: len(app.session.pins) == 1)
        pinned = app.session.pins[0]
        assert pinned.run.steps_done == 90 and pinned.run.config.optimizer == "adam"
        assert pinned.name == f"run {stored}"
        assert app.session.config == CONFIG  # the current run stays
