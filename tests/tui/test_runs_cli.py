"""`optplay runs` and the recording of `optplay run` (engine/store.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import store
from tui.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_optplay_run_is_recorded_and_listed(capsys: pytest.CaptureFixture[str]) -> None:
    for opt in ("sgd", "adam"):
        code, _, _ = _run(capsys, "run", "--task", "quadratic", "--optimizer", opt,
                          "--steps", "30", "--seed", "4", "--no-progress")  # fmt: skip
        assert code == 0
    code, out, _ = _run(capsys, "runs", "list", "--json")
    assert code == 0
    runs = json.loads(out)
    assert [r["optimizer"] for r in runs] == ["adam", "sgd"]  # newest first
    for r in runs:
        assert {"id", "task", "optimizer", "seed", "steps", "started", "outcome"} <= set(r)
        assert (r["task"], r["seed"], r["steps"], r["outcome"]) == ("quadratic", 4, 30, "finished")
    code, out, _ = _run(capsys, "runs", "--optimizer", "sgd")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "started", "task"] and len(lines) == 2
    assert "sgd" in lines[1] and "finished" in lines[1]


def test_no_record_and_the_setting_keep_runs_out(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("run", "--task", "quadratic", "--optimizer", "sgd", "--steps", "5", "--no-progress")
    assert _run(capsys, *base, "--no-record")[0] == 0
    assert not store.default_path().exists()
    from tui import settings

    settings.save(settings.Settings(record_runs=False))
    assert _run(capsys, *base)[0] == 0
    assert not store.default_path().exists()
    settings.save(settings.Settings(record_runs=True))
    assert _run(capsys, *base)[0] == 0
    with store.Store() as s:
        assert len(s.list()) == 1


def test_show_export_rm_gc(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for seed in ("1", "2", "3"):
        _run(capsys, "run", "--task", "rosenbrock", "--optimizer", "adam", "--steps", "40",
             "--seed", seed, "--no-progress")  # fmt: skip
    ids = [r["id"] for r in json.loads(_run(capsys, "runs", "list", "--json")[1])]
    code, out, _ = _run(capsys, "runs", "show", str(ids[0]))
    assert code == 0 and "rosenbrock" in out and "seed             3" in out
    code, out, _ = _run(capsys, "runs", "export", str(ids[0]), "--out", "h.csv")
    assert code == 0 and (tmp_path / "h.csv").read_text().count("\n") == 41
    assert _run(capsys, "runs", "export", str(ids[0]), "--out", "e.toml")[0] == 0
    assert "seed = 3" in (tmp_path / "e.toml").read_text()
    code, _, err = _run(capsys, "runs", "export", str(ids[0]), "--out", "h.png")
    assert code == 2 and "must end in .csv, .json or .toml" in err
    code, _, err = _run(capsys, "runs", "show", "12345")
    assert code == 2 and "no stored run with id 12345" in err
    code, _, err = _run(capsys, "runs", "list", "--since", "yesterday-ish")
    assert code == 2 and "--since" in err
    assert _run(capsys, "runs", "rm", str(ids[2]))[0] == 0
    code, out, _ = _run(capsys, "runs", "gc", "--keep", "1")
    assert code == 0 and "deleted 1 run" in out
    assert [r["id"] for r in json.loads(_run(capsys, "runs", "list", "--json")[1])] == [ids[0]]


def test_a_corrupt_store_is_reported_and_set_aside(capsys: pytest.CaptureFixture[str]) -> None:
    path = store.default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    code, out, err = _run(capsys, "runs", "list", "--json")
    assert code == 0 and json.loads(out) == []
    assert "set aside" in err and err.count("\n") == 1
