"""Dask everywhere jobs run: the app's Sweep screen and a lesson's seeds on a real
LocalCluster, `optplay --dask` and the `dask` setting."""

from __future__ import annotations

import argparse

import pytest
from conftest import wait_for

from engine.executors import ExecutorError
from engine.sweep import Sweep, SweepSpec
from tui import settings as settings_file
from tui.__main__ import build_parser
from tui.app import create_app
from tui.commands.running import make_executor
from tui.screens.sweep import SweepScreen

SPEC = SweepSpec(task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-3:1e-1:3"},
                 steps=100, seeds=2)  # fmt: skip
TIMING = ("seconds_per_update", "run_seconds", "cpu_seconds", "worker")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPTPLAY_CONFIG_DIR", str(tmp_path / "config"))


def numbers(rows):
    return sorted(
        (r.index, {k: v for k, v in vars(r.score).items() if k not in TIMING}) for r in rows
    )


async def test_the_sweep_screen_runs_on_a_local_dask_cluster() -> None:
    pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[dask]'")
    serial = Sweep(SPEC).run()
    app = create_app()
    app.use_dask("local", workers=2)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_sweep(SPEC, start=True)
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        await wait_for(lambda: screen.sweep is not None)
        assert "dask local (starting…)" in screen.progress_text()  # before the cluster is up
        await wait_for(lambda: screen.ended, timeout=120)  # a LocalCluster starts in seconds
        assert screen.failure is None
        assert numbers(screen.sweep.rows) == numbers(serial.rows)
        # The status line says where the runs went and how many workers there are.
        assert "done: 12/12 runs" in screen.progress_text()
        assert "dask (local cluster), 2 worker threads" in screen.progress_text()
        workers = {r.score.worker for r in screen.sweep.rows}
        assert len(workers) >= 1 and all(w != "test" for w in workers)
        assert app.shared_jobs.started
        await pilot.press("escape")
    assert not app.shared_jobs.started  # the app shut its cluster down on the way out


async def test_a_lessons_seeds_are_judged_on_the_sessions_dask_cluster() -> None:
    pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[dask]'")
    from engine import lessons
    from engine.lessons import seeds
    from tui.screens.verdict import VerdictScreen

    name = "nadam-quadratic"  # ten steps a lane: the seeds are quick
    serial = seeds.run_seeds(lessons.load(name), range(8)).as_json()
    app = create_app()
    app.use_dask("local", workers=2)
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        app.open_lesson(name)
        app.session.race.step(app.session.planned_steps)
        await pilot.press("v")
        await wait_for(lambda: isinstance(app.screen, VerdictScreen))
        screen = app.screen
        await pilot.press("s")
        await wait_for(lambda: screen.seeds_verdict is not None, timeout=120)
        assert screen.seeds_verdict.as_json() == serial
        assert app.shared_jobs.describe() == "dask (local cluster), 2 worker threads"
    assert not app.shared_jobs.started


def test_the_dask_setting_and_the_global_flag_choose_the_cluster(tmp_path) -> None:
    assert create_app().shared_jobs is None  # no setting: this machine's pool
    settings_file.save(settings_file.Settings(dask="local"))
    app = create_app()
    assert app.shared_jobs is not None and not app.shared_jobs.started  # started on first use
    assert app.sweep_executor(12) is app.shared_jobs
    assert create_app(dask="").shared_jobs is None  # the flag wins over the setting
    assert build_parser().parse_args(["--dask", "local"]).global_dask == "local"
    bad = tmp_path / "config" / "settings.toml"
    bad.write_text("dask = 3\n")
    settings, warning = settings_file.load()
    assert settings.dask == "" and "dask must be" in warning


def test_commands_take_the_global_dask_flag_unless_they_have_their_own() -> None:
    args = argparse.Namespace(dask=None, workers=2, global_dask="tcp://127.0.0.1:1")
    with pytest.raises(ExecutorError, match=r"^--workers: the cluster at --dask ADDRESS"):
        make_executor(args, 10)
    own = argparse.Namespace(dask=None, workers=2, global_dask=None)
    with make_executor(own, 10) as executor:
        assert executor.describe() == "process pool, 2 workers"
