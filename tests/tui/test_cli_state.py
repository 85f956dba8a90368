"""`optplay run --state-out` and the state lines of `optplay list`."""

import csv
import re

import numpy as np

from engine import optimizers
from engine.run import Run, RunConfig
from engine.state_history import load_state_json
from tui.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_state_out_writes_the_summaries_of_every_recorded_step(tmp_path, capsys):
    csv_path, json_path = tmp_path / "state.csv", tmp_path / "state.json"
    status, out, _ = run_cli(
        capsys, "run", "--task", "digits-mlp", "--optimizer", "adam", "--steps", "20",
        "--set", "hidden=8", "--state-every", "5", "--no-progress",
        "--state-out", str(csv_path), "--state-out", str(json_path),
    )  # fmt: skip
    assert status == 0 and f"wrote {csv_path}" in out and f"wrote {json_path}" in out
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    same = Run(
        RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 8}, state_every=5)
    )
    same.step(20)
    band = same.state_summaries.band("W2", "effective_lr")
    assert [float(r["W2.effective_lr.q90"]) for r in rows] == band.q90.tolist()
    assert [float(r["bias_correction2"]) for r in rows] == [1 - 0.999**t for t in (5, 10, 15, 20)]
    (rec,) = load_state_json(json_path)
    assert rec["step"].tolist() == [5, 10, 15, 20] and rec["groups"] == ["W1", "b1", "W2", "b2"]


def test_state_out_defaults_to_every_step_at_full_resolution(tmp_path, capsys):
    path = tmp_path / "s.csv"
    status, _, _ = run_cli(
        capsys, "run", "--task", "rosenbrock", "--optimizer", "radam", "--steps", "1500",
        "--no-progress", "--state-out", str(path),
    )  # fmt: skip
    assert status == 0
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == list(range(1, 1501))  # more than the buckets
    assert [r["rectified"] for r in rows[:6]] == ["0.0"] * 5 + ["1.0"]
    assert np.isfinite(float(rows[-1]["x.effective_lr.median"]))


def test_bad_state_out_is_refused_before_training(tmp_path, capsys):
    base = ("run", "--task", "quadratic", "--optimizer", "sgd", "--steps", "5", "--no-progress")
    status, out, err = run_cli(capsys, *base, "--state-out", str(tmp_path / "s.txt"))
    assert status == 2 and out == ""
    assert "--state-out" in err and "must end in .csv or .json" in err
    status, out, err = run_cli(capsys, *base, "--state-out", str(tmp_path / "no" / "s.csv"))
    assert status == 2 and out == "" and "does not exist" in err
    status, out, err = run_cli(capsys, *base, "--state-every", "3")
    assert status == 2 and out == "" and "--state-every needs --state-out" in err
    status, _, err = run_cli(
        capsys, *base, "--state-out", str(tmp_path / "s.csv"), "--state-every", "0"
    )
    assert status == 2 and "--state-every" in err
    assert list(tmp_path.iterdir()) == []


def test_list_says_what_each_optimizer_keeps_and_its_effective_lr(capsys):
    status, out, _ = run_cli(capsys, "list", "optimizers")
    assert status == 0
    blocks = re.split(r"\n  (?=\S)", out)  # one block per optimizer
    for name in optimizers.names():
        block = next(b for b in blocks if b.startswith(f"{name}  "))
        doc = optimizers.get(name).state_doc
        assert "\n      state: step (t)" in block, name
        flat = " ".join(block.split())  # the text wraps to the terminal's width
        for q in doc.state:
            assert f"{q.key} ({q.symbol}" in flat, (name, q.key)
        assert f"\n      effective lr: {doc.effective_lr.split()[0]}" in block
        assert f"effective lr: {' '.join(doc.effective_lr.split())}" in flat
    assert "max_exp_avg_sq (v̄; when amsgrad)" in " ".join(out.split())
