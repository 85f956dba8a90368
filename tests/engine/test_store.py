"""The run store (engine/store.py): many writers lose nothing, a killed writer leaves every
committed run, a corrupt file is set aside, a newer schema is refused, and a stored run
reads back as it was recorded."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import store
from engine.run import Run, RunConfig

ROOT = Path(__file__).resolve().parents[2]


def _trained(steps: int = 60, **changes: object) -> Run:
    cfg = RunConfig(task="quadratic", optimizer="sgd", seed=3).replace(**changes)
    run = Run(cfg)
    run.step(steps)
    return run


def test_a_stored_run_reads_back_as_recorded() -> None:
    run = _trained(eval_every=10)
    with store.Store() as s:
        run_id = s.add(store.snapshot(run, started=time.time(), planned_steps=100, name="mine"))
        got = s.get(run_id)
    h = run.history
    assert np.array_equal(got.arrays["step"], h.buckets("loss").steps)
    for series in ("loss", "lr", "grad_norm", "update_norm"):
        assert np.array_equal(got.arrays[series], h.buckets(series).lasts)
    assert np.array_equal(got.arrays["eval_loss"], h.buckets("eval_loss").lasts)
    assert np.array_equal(got.arrays["path_x"], h.trajectory().xs)
    assert got.summary["outcome"] == "stopped"  # 60 of 100 planned steps
    assert got.summary["steps"] == 60 and got.summary["name"] == "mine"
    assert got.summary["final_eval_loss"] == pytest.approx(h.last("eval_loss"))
    assert got.experiment().config == run.config
    assert got.experiment().steps == 100


def test_the_store_lives_in_the_data_folder_the_environment_names(tmp_path: Path) -> None:
    assert store.default_path() == Path(os.environ["OPTPLAY_DATA_DIR"]) / "runs.sqlite"
    store.record_runs([store.snapshot(_trained(5), started=0.0)])
    assert store.default_path().exists()
    assert not list(tmp_path.iterdir())  # nothing in the working folder


def test_filters_and_order() -> None:
    rows = []
    for k, (task, opt) in enumerate([("quadratic", "sgd"), ("quadratic", "adam"),
                                     ("rosenbrock", "adam")]):  # fmt: skip
        run = Run(RunConfig(task=task, optimizer=opt, seed=k))
        run.step(5)
        rows.append(store.snapshot(run, started=1000.0 + k))
    with store.Store() as s:
        ids = [s.add(r) for r in rows]
        assert [r["id"] for r in s.list()] == ids[::-1]  # newest first
        assert [r["id"] for r in s.list(optimizer="adam")] == [ids[2], ids[1]]
        assert [r["id"] for r in s.list(task="quadratic", optimizer="adam")] == [ids[1]]
        assert [r["id"] for r in s.list(since=1001.0)] == [ids[2], ids[1]]
        assert s.remove([ids[0], 999]) == [ids[0]]
        assert s.gc(keep=1) == 1
        assert s.ids() == [ids[2]]


_WRITER = """
import sys, time
from engine import store
from engine.run import Run, RunConfig
who, count = int(sys.argv[1]), int(sys.argv[2])
run = Run(RunConfig(task="quadratic", optimizer="sgd", seed=who))
run.step(20)
with store.Store() as s:
    for k in range(count):
        row = store.snapshot(run, started=time.time(), name=f"w{who}-{k}")
        print(s.add(row), flush=True)
"""


def _writer(who: int, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(who), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_four_processes_writing_50_runs_each_at_once_lose_none() -> None:
    writers = [_writer(who, 50) for who in range(4)]
    outputs = [w.communicate(timeout=300)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0, 0]
    reported = sorted(int(line) for out in outputs for line in out.split())
    with store.Store() as s:
        assert s.ids() == reported and len(reported) == 200
        names = sorted(r["name"] for r in s.list())
        assert names == sorted(f"w{w}-{k}" for w in range(4) for k in range(50))
        assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_during_writes_leaves_every_committed_run() -> None:
    writer = _writer(7, 100_000)
    committed = []
    assert writer.stdout is not None
    for line in writer.stdout:  # each line is printed after its COMMIT
        committed.append(int(line))
        if len(committed) >= 30:
            break
    writer.send_signal(signal.SIGKILL)  # in the middle of a later write
    writer.wait(timeout=60)
    with store.Store() as s:
        assert s.notice is None
        assert set(committed) <= set(s.ids())
        assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for run_id in committed:
            assert len(s.get(run_id).arrays["loss"]) == 20


def test_a_corrupt_file_is_set_aside_and_a_new_store_started() -> None:
    path = store.default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with store.Store() as s:
        assert s.notice is not None and "set aside" in s.notice
        assert s.list() == []
        s.add(store.snapshot(_trained(5), started=0.0))
    aside = [p for p in path.parent.iterdir() if "corrupt" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert aside[0].name in s.notice


def test_a_newer_schema_is_refused_and_left_as_it_is() -> None:
    path = store.default_path()
    with store.Store():
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(store.StoreError, match="schema version 99, newer"):
        store.Store()
    assert path.read_bytes() == before
    assert "newer" in (store.record_runs([store.snapshot(_trained(5), started=0.0)]) or "")


def test_an_older_empty_database_is_migrated() -> None:
    path = store.default_path()
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()  # version 0: no tables
    with store.Store() as s:
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert s.list() == []


def test_exports_read_back_as_histories(tmp_path: Path) -> None:
    from engine.history import load_history_json

    run = _trained(eval_every=10)
    with store.Store() as s:
        got = s.get(s.add(store.snapshot(run, started=0.0)))
    (tmp_path / "h.json").write_text(store.export_text(got, "json"))
    back = load_history_json(tmp_path / "h.json")[0]
    assert np.array_equal(back["loss"], run.history.buckets("loss").lasts)
    assert back["task"] == "quadratic"
    csv_lines = store.export_text(got, "csv").splitlines()
    assert csv_lines[0] == "step,loss,lr,grad_norm,update_norm,update_grad_ratio,eval_loss"
    assert len(csv_lines) == 61
    assert json.loads(json.dumps(store.export_text(got, "toml")))  # text
    assert 'optimizer = "sgd"' in store.export_text(got, "toml")


def test_a_full_resolution_run_is_kept_at_the_apps_resolution() -> None:
    cfg = RunConfig(task="quadratic", optimizer="sgd", seed=1)
    full, app = Run(cfg, history_capacity=None), Run(cfg)
    full.step(5000)
    app.step(5000)
    kept = store.snapshot(full, started=0.0).arrays
    assert len(kept["step"]) <= store.APP_RESOLUTION < 5000
    assert np.array_equal(kept["step"], app.history.buckets("loss").steps)
    assert np.array_equal(kept["loss"], app.history.buckets("loss").lasts)
