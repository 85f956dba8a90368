"""`optplay sweep` (and `optplay bench` on the same executors): the table, the files, the chart,
Ctrl+C, and a one-line error with exit status 2 for every bad input, before anything runs."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sys

import pytest

from engine import sweep as sweep_module
from engine.run import Run
from engine.sweep import MAX_RUNS, SweepSpec, summarise
from tui import __main__ as app_main
from tui.charts.sweep import heatmap_lines, sweep_chart_text
from tui.cli import main
from tui.commands import running

SMALL = [
    "sweep", "--task", "digits-mlp", "--set", "task.hidden=16", "--optimizers", "sgd", "adam",
    "--lr", "1e-3:1:4", "--steps", "30", "--seeds", "2", "--check-every", "10",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def read_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def losses(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    keys = ("index", "optimizer", "seed", "lr", "final_loss", "best_loss", "train_loss")
    return [tuple(r[k] for k in keys) for r in rows]


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fail the test if a sweep is started."""

    def refuse(*args, **kwargs):
        raise AssertionError("a sweep was started")

    monkeypatch.setattr(sweep_module.Sweep, "__init__", refuse)


# -- a sweep on one machine ----------------------------------------------------------------------


def test_a_sweep_prints_a_table_and_writes_one_row_per_run(capsys):
    status, out, err = run_cli(capsys, *SMALL, "--out", "s.csv", "--out", "s.json")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["optimizer", "lr", "final"]
    assert sum(line.startswith(("sgd ", "adam ")) for line in lines) == 8  # one per point
    assert sum(line.rstrip().endswith("*") for line in lines) == 2  # the best lr of each
    assert "16 runs on process pool" in out and "wrote s.csv" in out
    rows = read_rows("s.csv")
    assert len(rows) == 16 and list(rows[0])[:4] == ["index", "optimizer", "seed", "lr"]
    doc = json.load(open("s.json"))
    assert len(doc["rows"]) == 16 and doc["spec"]["task_hypers"] == {"hidden": 16}
    # Any row is the run its config describes, done by hand.
    record = doc["rows"][5]
    cfg = SweepSpec(
        task="digits-mlp", optimizers=("sgd", "adam"), grid={"lr": "1e-3:1:4"}, steps=30,
        seeds=2, check_every=10, task_hypers={"hidden": 16},
    ).plan()[5].config  # fmt: skip
    assert record["config"]["optimizer_hypers"]["lr"] == cfg.lr
    run = Run(cfg, history_capacity=None)
    run.step(30)
    assert record["eval_losses"] == run.history.buckets("eval_loss").lasts.tolist()
    assert float(rows[5]["train_loss"]) == run.history.last("loss")


def test_serial_pool_and_dask_write_the_same_losses(capsys):
    status, _, err = run_cli(capsys, *SMALL, "--workers", "1", "--out", "serial.csv")
    assert status == 0, err
    status, out, err = run_cli(capsys, *SMALL, "--workers", "2", "--out", "pool.csv")
    assert status == 0 and "process pool, 2 workers" in out, err
    assert losses(read_rows("pool.csv")) == losses(read_rows("serial.csv"))
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed: pip install -e '.[dask]'"
    )
    status, out, err = run_cli(
        capsys, *SMALL, "--dask", "local", "--workers", "2", "--out", "d.csv"
    )
    assert status == 0 and "dask (local cluster), 2 worker threads" in out, err
    assert losses(read_rows("d.csv")) == losses(read_rows("serial.csv"))


def test_two_knobs_and_fixed_knobs(capsys):
    status, out, err = run_cli(
        capsys, "sweep", "--task", "rosenbrock", "--optimizers", "adam", "adamw",
        "--lr", "0.01,0.1", "--grid", "beta1=0.5,0.9", "--set", "adamw.weight_decay=0.1",
        "--set", "beta2=0.99", "--steps", "50", "--workers", "1", "--out", "s.json",
    )  # fmt: skip
    assert status == 0, err
    assert out.splitlines()[0].split()[:3] == ["optimizer", "lr", "beta1"]
    configs = [r["config"] for r in json.load(open("s.json"))["rows"]]
    assert len(configs) == 8
    assert {c["optimizer_hypers"]["beta2"] for c in configs} == {0.99}
    assert {
        c["optimizer_hypers"]["weight_decay"] for c in configs if c["optimizer"] == "adamw"
    } == {0.1}
    assert {c["optimizer_hypers"]["weight_decay"] for c in configs if c["optimizer"] == "adam"} == {
        0.0
    }


def test_a_sweep_runs_from_a_file_and_from_the_preset(capsys, tmp_path):
    (tmp_path / "s.toml").write_text(
        '[sweep]\ntask = "quadratic"\noptimizers = ["sgd", "momentum"]\nsteps = 20\n'
        '[sweep.grid]\nlr = "0.01:0.5:3"\n'
    )
    status, out, err = run_cli(capsys, "sweep", "--config", "s.toml", "--workers", "1")
    assert status == 0, err
    assert "6 runs on serial" in out
    # A preset, narrowed from the command line: the flags' grid replaces the preset's.
    status, out, err = run_cli(
        capsys, "sweep", "--preset", "lr-sensitivity", "--lr", "0.01,0.1", "--steps", "20",
        "--seeds", "1", "--set", "task.hidden=8", "--out", "p.csv",
    )  # fmt: skip
    assert status == 0, err
    rows = read_rows("p.csv")
    assert [r["optimizer"] for r in rows] == ["sgd", "momentum", "adam"] * 2
    assert sorted({float(r["lr"]) for r in rows}) == [0.01, 0.1]


def test_sweep_specs_are_pointed_at_optplay_sweep(capsys):
    status, _, err = run_cli(capsys, "run", "--preset", "lr-sensitivity")
    assert (
        status == 2
        and "is a sweep spec, not an experiment: run it with `optplay sweep --preset" in err
    )
    status, _, err = run_cli(capsys, "bench", "--preset", "lr-sensitivity")
    assert (
        status == 2
        and "is a sweep spec, not a bench spec: run it with `optplay sweep --preset" in err
    )
    assert app_main.main(["--preset", "lr-sensitivity"]) == 2
    assert "run it with `optplay sweep --preset lr-sensitivity`" in capsys.readouterr().err
    status, _, err = run_cli(capsys, "sweep", "--preset", "digits-adam")
    assert status == 2 and "preset digits-adam is an experiment, not a sweep spec" in err


# -- Ctrl+C ---------------------------------------------------------------------------------------


def interrupt_after(monkeypatch, runs: int) -> None:
    """Send this process a real SIGINT when the progress bar has counted `runs` runs."""
    seen = []
    original = running.RunsProgress.advance

    def advance(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(1)
        if len(seen) == runs:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(running.RunsProgress, "advance", advance)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_keeps_prints_and_writes_the_finished_runs(capsys, monkeypatch, workers):
    interrupt_after(monkeypatch, 3)
    status, out, err = run_cli(
        capsys, *SMALL, "--lr", "1e-3:1:12", "--steps", "200", "--workers", workers,
        "--out", "s.csv",
    )  # fmt: skip
    assert status == 130 and "interrupted" in err
    rows = read_rows("s.csv")
    assert 3 <= len(rows) < 48
    assert f"cancelled: {len(rows)} of 48 runs finished" in out
    assert all(r["steps"] == "200" for r in rows)  # finished runs only, never half a run


def test_ctrl_c_in_bench_keeps_the_finished_runs(capsys, monkeypatch):
    interrupt_after(monkeypatch, 2)
    status, out, err = run_cli(
        capsys, "bench", "--tasks", "quadratic", "--optimizers", "sgd", "momentum", "adam",
        "--steps", "3000", "--seeds", "4", "--workers", "2", "--out", "b.json",
    )  # fmt: skip
    assert status == 130 and "interrupted" in err
    doc = json.load(open("b.json"))
    assert 2 <= len(doc["runs"]) < 12
    assert f"interrupted: {len(doc['runs'])} of 12 runs finished" in out


def test_bench_runs_on_the_same_executors(capsys):
    args = ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "adam", "--steps", "40",
            "--seeds", "2"]  # fmt: skip
    status, serial, err = run_cli(capsys, *args, "--workers", "1", "--out", "one.csv")
    assert status == 0, err
    status, pooled, err = run_cli(capsys, *args, "--workers", "2", "--out", "two.csv")
    assert status == 0, err
    one, two = read_rows("one.csv"), read_rows("two.csv")
    keep = ("optimizer", "final_loss_mean", "final_loss_std", "steps_to_target_mean")
    assert [[r[k] for k in keep] for r in one] == [[r[k] for k in keep] for r in two]
    assert serial.splitlines()[:4] != [] and "eval loss (mean ± sd)" in pooled


# -- bad input: one line naming the field, exit 2, nothing started -------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", ""], "--lr: the grid is empty"),
        (["--lr", "1e-4:1:0"], "--lr: the grid is empty (N = 0)"),
        (["--lr", "0.1", "--grid", "beta1="], "--grid beta1: the grid is empty"),
        (["--lr", "0.1", "--grid", "beta1=0.5,1.5"],
         "--grid beta1 must be a number in [0, 1), got '1.5'"),
        (["--lr=-1,0.1"], "--lr: lr must be a number in (0, inf), got '-1'"),
        (["--optimizers", "sgd", "adam", "--grid", "momentum=0:0.9:3"],
         "--grid momentum: optimizer adam has no knob 'momentum' (its knobs: lr, beta1"),
        (["--grid", "nope=1,2"], "--grid nope: unknown knob 'nope'"),
        (["--lr", "0.1", "--grid", "lr=0.2"], "--lr and --grid lr: lr is swept twice"),
        (["--grid", "beta1"], "--grid expects NAME=VALUES, got 'beta1'"),
        ([], "nothing to sweep: give --lr A:B:N and/or --grid NAME=VALUES"),
        (["--lr", "0.1", "--grid", "beta1=0.9", "--grid", "eps=1e-8"], "at most 2 knobs"),
        (["--lr", "0.1", "--set", "adam.nope=1"],
         "--set adam.nope: unknown knob 'nope' for optimizer adam (its knobs: lr"),
        (["--optimizers", "sgd", "--lr", "0.1", "--set", "sgd.momentum=2"],
         "--set sgd.momentum must be a number in [0, 1), got '2'"),
        (["--lr", "0.1", "--set", "hidden=0"],
         "--set hidden: unknown knob 'hidden' (task quadratic: a, x0; optimizer adam: lr"),
        (["--lr", "0.1", "--out", "s.txt"], "--out s.txt: history files must end in .csv or .json"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(capsys, nothing_may_start, extra, message):
    argv = ["sweep", "--task", "quadratic", "--optimizers", "adam", *extra]
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert err.startswith("optplay sweep: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert out == "" and not os.path.exists("s.txt")


def test_too_many_runs_need_yes(capsys, nothing_may_start):
    lrs = f"1e-4:1:{MAX_RUNS // 4 + 1}"
    status, _, err = run_cli(
        capsys, "sweep", "--task", "quadratic", "--optimizers", "sgd", "adam", "--seeds", "2",
        "--lr", lrs,
    )  # fmt: skip
    assert status == 2
    assert f"more than {MAX_RUNS:,}; add --yes to start it" in err
    assert err.startswith("optplay sweep: error: --yes: this sweep is 1,004 runs")


def test_a_dead_scheduler_is_one_line_and_exit_2(capsys, monkeypatch, nothing_may_start):
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed: pip install -e '.[dask]'"
    )
    from engine import executors

    monkeypatch.setattr(executors, "DASK_CONNECT_SECONDS", 1.0)
    with socket.socket() as silent:  # listens, never answers: not a Dask scheduler
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        status, _, err = run_cli(capsys, *SMALL, "--dask", address)
    assert status == 2
    assert err.startswith(
        f"optplay sweep: error: --dask {address}: no Dask scheduler answered within 1 s"
    )
    assert len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, *SMALL, "--dask", "tcp://127.0.0.1:9", "--workers", "2")
    assert status == 2 and "--workers: the cluster at --dask ADDRESS has its own workers" in err


def test_without_dask_the_flag_says_how_to_install_it(capsys, monkeypatch, nothing_may_start):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    for command in (SMALL, ["bench", "--tasks", "quadratic"]):
        status, _, err = run_cli(capsys, *command, "--dask", "local")
        assert status == 2
        assert "--dask needs Dask: pip install 'optplay[dask]'" in err
        assert len(err.strip().splitlines()) == 1


# -- the chart ------------------------------------------------------------------------------------


def test_the_chart_marks_divergence_and_the_best_rate():
    spec = SweepSpec(
        task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-4:1e-1:4"}, steps=200
    )
    report = sweep_module.Sweep(spec).run()
    text = sweep_chart_text(spec, report.points, 80, 20, color=False)
    lines = text.splitlines()
    assert len(lines) == 20 and max(len(line) for line in lines) <= 80
    assert "final loss vs lr" in lines[0] and "* best, x diverged" in lines[0]
    assert "sgd" in text and "adam" in text and "lr (log)" in text
    assert "0.0001" in text and "0.1" in text
    plot = "\n".join(lines[1:-3])
    assert plot.count("*") >= 1 and plot.count("x") >= 2  # sgd diverged at 0.01 and 0.1


def test_the_heatmap_shows_every_point_per_optimizer():
    spec = SweepSpec(
        task="rosenbrock", optimizers=("adam",), grid={"lr": "0.01,0.1,1", "beta1": "0.5,0.9"},
        steps=100,
    )  # fmt: skip
    report = sweep_module.Sweep(spec).run()
    lines = heatmap_lines(spec, summarise(spec, report.rows))
    assert lines[0].startswith("final loss by lr (rows) and beta1 (columns)")
    body = lines[lines.index("adam") + 2 :]
    assert [line.split()[0] for line in body] == ["0.01", "0.1", "1"]
    assert sum(line.count("*") for line in body) == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "1e-4:1:1000000000"],
         "--yes: this sweep is 2,000,000,000 runs, more than 1,000; add --yes to start it "
         "(up to 100,000 runs)"),
        (["--lr", "1e-4:1:10", "--seeds", "10000000"],
         "--yes: this sweep is 200,000,000 runs, more than 1,000"),
        (["--lr", "1e-4:1:10", "--seeds", "10000000", "--yes"],
         "--lr, --grid, --seeds: this sweep is 200,000,000 runs, more than the 100,000 any "
         "sweep may have (even with --yes)"),
    ],
)  # fmt: skip
def test_a_huge_sweep_is_refused_at_once_with_its_count(capsys, monkeypatch, flags, message):
    def no_plan(*args, **kwargs):
        raise AssertionError("the plan was built before its size was checked")

    monkeypatch.setattr(SweepSpec, "_make_plan", no_plan)
    status, out, err = run_cli(
        capsys, "sweep", "--task", "quadratic", "--optimizers", "sgd", "adam", *flags
    )
    assert status == 2 and out == ""
    assert err.startswith(f"optplay sweep: error: {message}"), err
    assert len(err.strip().splitlines()) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "--dask: the address is empty; give tcp://HOST:PORT, HOST:PORT or local"),
        ("file://", "--dask file://: 'file' is not a Dask protocol (tcp or tls)"),
        ("file:///tmp/x", "--dask file:///tmp/x: 'file' is not a Dask protocol"),
        ("tcp://", "--dask tcp://: no host"),
        ("tcp://a b:8786", "--dask tcp://a b:8786: 'a b' is not a host name or address"),
        ("host:99999", "--dask host:99999: the port must be an integer in 1..65535, got '99999'"),
        ("host:http", "--dask host:http: the port must be an integer in 1..65535, got 'http'"),
        ("host:", "--dask host:: the port is missing after ':'"),
        ("[::1", "--dask [::1: an unclosed [ in the host"),
        ("malformed.invalid", "--dask malformed.invalid: unknown host 'malformed.invalid'"),
        ("CLOSED", "cannot connect to 127.0.0.1 port PORT ("),
        ("x\x1b[2J", "--dask 'x\\x1b[2J': "),
    ],
)  # fmt: skip
def test_a_bad_dask_address_is_one_line_before_dask_is_asked(
    capsys, monkeypatch, nothing_may_start, address, message
):
    distributed = pytest.importorskip("distributed")

    def no_client(*args, **kwargs):
        raise AssertionError("Dask was asked to connect to a bad address")

    monkeypatch.setattr(distributed, "Client", no_client)
    if address == "CLOSED":
        port = _closed_port()
        address, message = f"tcp://127.0.0.1:{port}", message.replace("PORT", str(port))
    for command in (SMALL, ["bench", "--tasks", "quadratic"]):
        status, out, err = run_cli(capsys, *command, "--dask", address)
        assert status == 2 and out == ""
        assert err.startswith(f"optplay {command[0]}: error: --dask") and message in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
