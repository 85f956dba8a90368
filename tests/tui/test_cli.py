"""The headless commands through `tui.cli.main`: outputs, files and exit statuses."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import config, optimizers, presets, schedules, tasks
from engine.history import STEP_SERIES, load_history_json
from engine.run import Run, RunConfig
from tui.cli import add_commands, main
from tui.commands.common import ProgressBar

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


# -- run --------------------------------------------------------------------------------------


def test_run_writes_one_row_per_step(tmp_path, capsys):
    out = tmp_path / "h.csv"
    status, stdout, err = run_cli(
        capsys, "run", "--task", "digits-mlp", "--optimizer", "adam", "--steps", "120",
        "--seed", "3", "--set", "lr=0.003", "--set", "task.hidden=32", "--eval-every", "50",
        "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    rows = read_csv(out)
    assert rows[0] == ["step", *STEP_SERIES, "eval_loss", "eval_accuracy"]
    assert len(rows) - 1 == 120
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 121))
    assert [r[0] for r in rows[1:] if r[7]] == ["50", "100"]
    # The same numbers as a Run of that config.
    cfg = RunConfig(
        task="digits-mlp",
        optimizer="adam",
        seed=3,
        eval_every=50,
        optimizer_hypers={"lr": 0.003},
        task_hypers={"hidden": 32},
    )
    run = Run(cfg)
    run.step(120)
    assert [float(r[1]) for r in rows[1:]] == run.history.buckets("loss").lasts.tolist()
    # The summary.
    assert "steps            120 of 120" in stdout
    assert "state            finished" in stdout
    assert f"last batch loss  {run.history.last('loss'):.6g} (training loss of update 120" in stdout
    assert "eval accuracy" in stdout and "time/step" in stdout
    # Adam's state: m and v, two float64 arrays the size of the parameters.
    n = sum(a.size for a in run.params.values())
    assert run.state_bytes == 2 * n * 8
    assert f"optimizer state  {2 * n * 8:,} bytes" in stdout
    assert f"wrote {out}" in stdout
    assert "\r" not in err  # no progress bar when stderr is not a terminal


def test_run_json_round_trips(tmp_path, capsys):
    status, _, err = run_cli(
        capsys, "run", "--task", "rosenbrock", "--optimizer", "nadam", "--steps", "75",
        "--out", str(tmp_path / "h.json"), "--out", str(tmp_path / "h.csv"),
    )  # fmt: skip
    assert status == 0, err
    (rec,) = load_history_json(tmp_path / "h.json")
    rows = read_csv(tmp_path / "h.csv")
    assert rec["step"].tolist() == [int(r[0]) for r in rows[1:]] == list(range(1, 76))
    for i, series in enumerate(STEP_SERIES, start=1):
        assert rec[series].tolist() == [float(r[i]) for r in rows[1:]]
    assert rec["task"] == "rosenbrock" and rec["optimizer"] == "nadam" and rec["state"] == "ready"
    assert len(rec["trajectory"]["step"]) == 76
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["format"] == "optplay-history" and doc["version"] == 1


def test_diverging_run_exits_1(tmp_path, capsys):
    status, stdout, _ = run_cli(
        capsys, "run", "--task", "rosenbrock", "--optimizer", "sgd", "--set", "lr=1e6",
        "--out", str(tmp_path / "h.csv"),
    )  # fmt: skip
    assert status == 1
    assert "diverged at step 2 (the loss rose to" in stdout  # past 1e6 x the start
    assert len(read_csv(tmp_path / "h.csv")) - 1 == 1  # the kept steps are still written


def test_linear_regression_summary_shows_w_and_b_next_to_least_squares(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a row per line (at 80 the fit wraps: test_cli_width)
    status, stdout, err = run_cli(
        capsys, "run", "--task", "linear-regression", "--optimizer", "sgd", "--steps", "300",
        "--set", "lr=0.1",
    )  # fmt: skip
    assert status == 0, err
    run = Run(RunConfig(task="linear-regression", optimizer="sgd", optimizer_hypers={"lr": 0.1}))
    run.step(300)
    w, b = float(run.params["w"][0]), float(run.params["b"])
    A = np.column_stack([run.task.X[:, 0], np.ones(len(run.task.X))])
    (w_ls, b_ls), *_ = np.linalg.lstsq(A, run.task.y, rcond=None)
    line = next(x for x in stdout.splitlines() if x.startswith("final fit"))
    label, text = line.split("  ", 1)
    assert label == "final fit" and text.strip() == (
        f"w = {w:.6g}, b = {b:.6g} (least squares: w = {w_ls:.6g}, b = {b_ls:.6g})"
    )
    assert line.endswith(run.task.fit_summary(run.params))  # the app's status uses this text
    assert f"{w:.3f}" == f"{w_ls:.3f}"  # 300 steps of SGD at 0.1 reach the solution
    # Tasks without an exact solution print no such row.
    status, stdout, _ = run_cli(capsys, "run", "--task", "quadratic", "--optimizer", "sgd",
                                "--steps", "5")  # fmt: skip
    assert status == 0 and "final fit" not in stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "beta1=1.5"], "beta1 must be a number in [0, 1), got '1.5'"),
        (["--set", "beta1"], "--set expects NAME=VALUE, got 'beta1'"),
        (["--set", "foo=1"], "unknown knob 'foo' (task rosenbrock: x0, y0, grad_noise;"),
        (["--set", "task.lr=1"], "unknown knob 'lr' for task rosenbrock"),
        (["--set", "model.lr=1"], "unknown prefix 'model'"),
        (["--set", "x0=500"], "x0 must be a number in [-100, 100], got '500'"),
        (["--optimizer", "adm"], "optimizer: unknown optimizer 'adm'"),
        (["--schedule", "warmup-cosine", "--set", "warmup_steps=2000"], "warmup_steps"),
        (["--out", "h.txt"], "history files must end in .csv or .json"),
        (["--out", "no/such/dir/h.csv"], "does not exist"),
        (["--entry", "2"], "--entry picks a racer of a race file"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    status, stdout, err = run_cli(
        capsys, "run", "--task", "rosenbrock", "--optimizer", "adam", "--steps", "5", *argv
    )
    assert status == 2
    assert err.startswith("optplay run: error: ")
    assert message in err
    assert stdout == ""


def test_ambiguous_knobs_need_a_prefix(capsys):
    argv = ["run", "--task", "sine-rnn", "--optimizer", "adaptive-adam", "--steps", "2"]
    status, _, err = run_cli(capsys, *argv, "--set", "period=30")
    assert status == 2
    assert "'period' is a knob of the task (sine-rnn) and the optimizer (adaptive-adam)" in err
    assert "task.period=... or optimizer.period=..." in err
    status, _, err = run_cli(
        capsys, *argv, "--set", "task.period=30", "--set", "optimizer.period=7", "--no-progress"
    )
    assert status == 0, err


def test_missing_task_and_argparse_errors_exit_2(capsys):
    status, _, err = run_cli(capsys, "run", "--optimizer", "adam")
    assert status == 2 and "--task is required" in err
    status, _, err = run_cli(capsys, "run", "--task", "quadratic", "--steps", "0")
    assert status == 2 and "--steps" in err
    status, _, err = run_cli(capsys, "run", "--config", "a.toml", "--preset", "schedules")
    assert status == 2 and "not allowed with" in err


def test_a_misspelt_name_is_named_before_what_is_missing(capsys):
    # Issue 25: `run --task nope` said first that --optimizer is required.
    status, _, err = run_cli(capsys, "run", "--task", "nope")
    assert status == 2 and "unknown task 'nope'" in err and "required" not in err
    assert err.count("\n") == 1  # one line
    status, _, err = run_cli(capsys, "run", "--optimizer", "adamm")
    assert status == 2 and "unknown optimizer 'adamm'" in err and "required" not in err


def test_bad_config_file_exits_2_naming_the_field(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    path.write_text('task = "quadratic"\noptimizer = "adam"\n\n[optimizer_hypers]\nbeta1 = 1.5\n')
    status, _, err = run_cli(capsys, "run", "--config", str(path))
    assert status == 2
    assert f"{path}: [optimizer_hypers] beta1 must be a number in [0, 1), got 1.5 (line 5)" in err
    status, _, err = run_cli(capsys, "run", "--config", str(tmp_path / "missing.toml"))
    assert status == 2 and "cannot read the file" in err


def test_saved_experiment_reproduces_the_history_bit_for_bit(tmp_path, capsys):
    first, again = tmp_path / "a.csv", tmp_path / "b.csv"
    exp = tmp_path / "exp.toml"
    status, _, err = run_cli(
        capsys, "run", "--task", "digits-mlp", "--optimizer", "nadam", "--schedule", "cosine",
        "--set", "lr=0.0031", "--set", "total_steps=80", "--set", "hidden=24", "--seed", "9",
        "--steps", "80", "--eval-every", "20", "--save", str(exp), "--out", str(first),
    )  # fmt: skip
    assert status == 0, err
    loaded = config.load(exp)
    assert loaded.steps == 80 and loaded.config.optimizer_hypers["lr"] == 0.0031
    status, _, err = run_cli(capsys, "run", "--config", str(exp), "--out", str(again))
    assert status == 0, err
    assert first.read_bytes() == again.read_bytes()
    # Flags override the file: another seed gives another history.
    other = tmp_path / "c.csv"
    assert run_cli(capsys, "run", "--config", str(exp), "--seed", "1", "--out", str(other))[0] == 0
    assert other.read_bytes() != first.read_bytes()


def test_presets_run_and_race_entries(tmp_path, capsys):
    status, stdout, err = run_cli(
        capsys, "run", "--preset", "nadam-vs-adam", "--entry", "NAdam", "--steps", "30",
        "--save", str(tmp_path / "e.toml"), "--out", str(tmp_path / "a.csv"),
    )  # fmt: skip
    assert status == 0, err
    assert "optimizer        nadam (lr=0.1," in stdout
    saved = config.load(tmp_path / "e.toml")
    assert saved.config.optimizer == "nadam" and saved.name == "NAdam" and not saved.race
    status, _, err = run_cli(
        capsys, "run", "--config", str(tmp_path / "e.toml"), "--out", str(tmp_path / "b.csv")
    )
    assert status == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    status, _, err = run_cli(capsys, "run", "--preset", "schedules", "--steps", "5")
    assert status == 0 and "is a race of 4" in err and "running entry 1 (constant)" in err
    status, _, err = run_cli(capsys, "run", "--preset", "benchmark")
    assert status == 2 and "optplay bench --preset benchmark" in err
    status, _, err = run_cli(capsys, "run", "--preset", "nope")
    assert status == 2 and "unknown preset 'nope'" in err


# -- list -------------------------------------------------------------------------------------


def test_list_shows_every_item_with_its_knobs(capsys):
    status, out, _ = run_cli(capsys, "list")
    assert status == 0
    lines = out.splitlines()
    for registry in (optimizers, schedules, tasks):
        for name in registry.names():
            assert any(line.startswith(f"  {name}  ") for line in lines), name
            for h in registry.specs(name):
                assert any(line.split()[:1] == [h.name] for line in lines), (name, h.name)
    sources = [line.split()[1] for line in lines if line.startswith("      source: ")]
    assert len(sources) == len(optimizers.names()) >= 26
    assert "      source: torch twin: Riedmiller & Braun 1993" in out  # rprop
    for package in ("pytorch-optimizer", "schedulefree"):
        assert any(line.startswith(f"      source: reference package {package}") for line in lines)
    adam_lr = next(line for line in lines if line.split()[:2] == ["beta1", "0.9"])
    assert "[0, 1)" in adam_lr
    # A wrapper's long list of inner optimizers goes on its own line, not into a wide column.
    inner = next(i for i, line in enumerate(lines) if line.split()[:2] == ["inner", "momentum"])
    after = [line.split()[:3] for line in lines[inner + 1 : inner + 5]]  # under the meaning
    assert ["one", "of", "sgd,"] in after
    assert max(len(line) for line in lines if line.split()[:1] == ["k"]) <= 80
    status, out, _ = run_cli(capsys, "list", "--presets")
    for name in presets.names():
        assert name in out
    status, out, _ = run_cli(capsys, "list", "schedules")
    assert "cosine" in out and "adam" not in out


# -- bench ------------------------------------------------------------------------------------


def test_bench_prints_the_table_and_writes_files(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "bench", "--tasks", "quadratic,linear-regression", "--optimizers", "sgd",
        "momentum", "--sizes", "2", "--steps", "40", "--seeds", "2", "--set", "lr=0.02",
        "--out", str(tmp_path / "b.csv"), "--out", str(tmp_path / "b.json"),
    )  # fmt: skip
    assert status == 0, err
    assert "eval loss (mean ± sd)" in out and "steps to target" in out
    assert "n_features=2" in out and "note: quadratic has no size knob" in out
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))
    assert [(r["task"], r["optimizer"]) for r in rows] == [
        ("quadratic", "sgd"),
        ("quadratic", "momentum"),
        ("linear-regression", "sgd"),
        ("linear-regression", "momentum"),
    ]
    doc = json.loads((tmp_path / "b.json").read_text())
    assert len(doc["runs"]) == 8
    assert {r["seed"] for r in doc["runs"]} == {0, 1}
    assert doc["spec"]["optimizer_hypers"] == {"sgd": {"lr": "0.02"}, "momentum": {"lr": "0.02"}}


def test_bench_knob_errors_exit_2(capsys):
    status, _, err = run_cli(capsys, "bench", "--optimizers", "adam", "--set", "beta1=1.5")
    assert (
        status == 2 and "--set beta1 must be a number in [0, 1), got '1.5' (optimizer adam)" in err
    )
    status, _, err = run_cli(capsys, "bench", "--set", "sgd.foo=1")
    assert status == 2 and "--set sgd.foo: unknown knob 'foo' for optimizer sgd" in err
    status, _, err = run_cli(capsys, "bench", "--tasks", "nope")
    assert status == 2 and "unknown task 'nope'" in err
    status, _, err = run_cli(capsys, "bench", "--preset", "schedules")
    assert status == 2 and "not a bench spec" in err


def test_bench_tune_lr_tunes_before_comparing_and_says_so(capsys):
    status, out, err = run_cli(
        capsys, "bench", "--tasks", "quadratic", "--optimizers", "sgd", "adam", "--steps", "30",
        "--seeds", "1", "--tune-lr", "0.01,0.1", "0.5", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert "learning rates tuned per task and optimizer on the grid 0.01, 0.1, 0.5" in out
    header, _, *rows = out.split("\n")
    assert " lr " in header
    assert any(" sgd " in r and " 0.5 " in r for r in rows)  # x² at lr 0.5: one step to 0
    status, _, err = run_cli(capsys, "bench", "--tune-lr", "0.1,fast")
    assert status == 2 and "--tune-lr: each rate must be a number > 0, got 'fast'" in err


def test_bench_preset_is_used_and_overridable(capsys):
    status, out, err = run_cli(
        capsys, "bench", "--preset", "benchmark", "--sizes", "3", "--optimizers", "sgd",
        "adam", "--steps", "20", "--seeds", "1", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert "blobs-mlp  n_features=3  sgd" in out and "adafactor" not in out


# -- progress bar, wiring, subprocess ----------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal():
    tty = FakeTTY()
    bar = ProgressBar(tty)
    bar.show(0.5, "step 5/10", force=True)
    shown = tty.getvalue()
    assert "50%" in shown and "step 5/10" in shown and "eta" in shown  # Rich: bar, ETA, note
    bar.done()
    assert not bar.enabled and tty.getvalue().endswith("\x1b[2K")  # the bar is cleared away
    piped = io.StringIO()
    bar = ProgressBar(piped)
    bar.show(0.5, "x", force=True)
    bar.done()
    assert piped.getvalue() == ""


def test_add_commands_plugs_into_another_parser():
    import argparse

    parser = argparse.ArgumentParser(prog="optplay")
    parser.add_argument("--config")
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["run", "--task", "quadratic", "--optimizer", "sgd"])
    assert args.handler.__module__ == "tui.commands.run" and args.command_name == "run"
    assert parser.parse_args(["bench"]).handler.__module__ == "tui.commands.bench"
    assert parser.parse_args(["list", "tasks"]).kind == "tasks"


def test_subprocess_smoke(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "--task", "quadratic", "--optimizer", "sgd",
         "--steps", "7", "--out", str(tmp_path / "h.csv")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "state            finished" in proc.stdout
    assert len(read_csv(tmp_path / "h.csv")) == 8
    values = np.array([float(r[1]) for r in read_csv(tmp_path / "h.csv")[1:]])
    assert (np.diff(values) < 0).all()  # gradient descent on x^2 goes down
