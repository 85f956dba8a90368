"""The commands as a table, one `--set` grammar for all of them, and the faults of issue 26:
a knob both swept and set, a huge --state-every, --state-out checked before training and on a
run that diverges before its first summary, a closed pipe, a file of the wrong kind."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.__main__ import main as app_main
from tui.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# -- the table ----------------------------------------------------------------------------------


def test_every_command_is_one_module_with_name_parser_and_handler():
    names = [command.NAME for command in COMMANDS]
    assert names == [
        "run",
        "bench",
        "list",
        "lesson",
        "sweep",
        "theory",
        "serve",
        "plot",
        "runs",
        "code",
    ]
    parser = build_parser()
    for command in COMMANDS:
        needs = {"lesson": ["x"], "theory": ["--task", "x"], "plot": ["x"]}
        argv = [command.NAME, *needs.get(command.NAME, [])]
        args = parser.parse_args(argv)
        assert args.handler is command.handle and args.command_name == command.NAME
        assert command.__name__.startswith("tui.commands.")


def test_no_command_module_imports_the_dispatcher():
    """tui/cli.py imports the commands; a command importing it back would be a cycle."""
    for path in (ROOT / "tui" / "commands").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}  # fmt: skip
        assert "tui.cli" not in imported and "tui.__main__" not in imported, path.name


# -- one --set grammar ----------------------------------------------------------------------------

#: The same knobs through each command: sgd is the (first) optimizer everywhere.
COMMAND_ARGV = {
    "run": ["run", "--task", "ill-conditioned", "--optimizer", "sgd"],
    "bench": ["bench", "--tasks", "ill-conditioned", "--optimizers", "sgd"],
    "sweep": ["sweep", "--task", "ill-conditioned", "--optimizers", "sgd", "--lr", "0.1"],
    "lesson": ["lesson", "momentum-ravine"],  # lanes SGD (sgd) and Momentum (momentum)
    "theory": ["theory", "--task", "ill-conditioned", "--optimizer", "sgd"],
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("momentum=1.5", "--set momentum must be a number in [0, 1), got '1.5' (optimizer sgd)"),
        ("momentum", "--set expects NAME=VALUE, got 'momentum'"),
        ("sgd.nesterov=maybe", "--set sgd.nesterov must be true or false"),
        ("task.lr=1", "--set task.lr: unknown knob 'lr' for task ill-conditioned (its knobs: "),
        ("nope=1", "--set nope: unknown knob 'nope' (task ill-conditioned: "),
        ("model.lr=1", "--set model.lr: unknown prefix 'model' (expected task., optimizer., "),
    ],
)
def test_the_same_bad_set_gives_the_same_message_from_every_command(capsys, bad, message):
    shown = {}
    for command, argv in COMMAND_ARGV.items():
        status, out, err = run_cli(capsys, *argv, "--set", bad)
        assert status == 2 and out == "", command
        assert len(err.strip().splitlines()) == 1, err
        shown[command] = err.strip().removeprefix(f"optplay {command}: error: ")
    assert all(text.startswith(message) for text in shown.values()), shown
    if "(optimizer sgd)" in message or "expects" in message:
        assert len(set(shown.values())) == 1, shown  # word for word


def test_lesson_set_reaches_every_lane_or_one(capsys):
    status, out, _ = run_cli(capsys, "lesson", "momentum-ravine", "--set", "Momentum.lr=0.002",
                             "--no-progress")  # fmt: skip
    assert status == 0
    # The setup lists every knob the lesson is about, momentum included.
    setup = " ".join(out.split())
    assert "SGD: sgd (lr 0.01, momentum 0); Momentum: momentum (lr 0.002, momentum 0.9)" in setup
    status, out, _ = run_cli(capsys, "lesson", "momentum-ravine", "--set", "lr=0.002",
                             "--no-progress")  # fmt: skip
    setup = " ".join(out.split())
    assert "SGD: sgd (lr 0.002, momentum 0); Momentum: momentum (lr 0.002, momentum 0.9)" in setup


# -- issue 26: a knob swept and set ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "0.01,0.1", "--set", "lr=0.1"],
         "--set lr=0.1: lr is swept by --lr; a knob is swept or set, not both"),
        (["--lr", "0.1", "--grid", "momentum=0,0.9", "--set", "sgd.momentum=0.5"],
         "--set sgd.momentum=0.5: momentum is swept by --grid momentum;"),
        (["--grid", "optimizer.lr=0.01,0.1", "--set", "optimizer.lr=0.5"],
         "--set optimizer.lr=0.5: lr is swept by --grid optimizer.lr;"),
    ],
)  # fmt: skip
def test_sweep_refuses_a_knob_both_swept_and_set(capsys, extra, message):
    argv = ["sweep", "--task", "quadratic", "--optimizers", "sgd", "--steps", "5", *extra]
    status, out, err = run_cli(capsys, *argv, "--workers", "1")
    assert status == 2 and out == ""
    assert err == f"optplay sweep: error: {message}" + err.split(message, 1)[1]
    assert len(err.strip().splitlines()) == 1


def test_sweep_refuses_setting_the_knob_of_its_preset_grid(capsys):
    status, out, err = run_cli(capsys, "sweep", "--preset", "lr-sensitivity", "--set", "lr=0.1")
    assert status == 2 and out == ""
    assert "--set lr=0.1: lr is swept by the grid of preset lr-sensitivity;" in err


# -- issue 26: run's tracebacks -------------------------------------------------------------------

RUN = ["run", "--task", "quadratic", "--optimizer", "sgd", "--no-progress"]


def test_a_huge_state_every_is_one_line_and_exit_2(capsys):
    status, out, err = run_cli(capsys, *RUN, "--state-out", "s.csv",
                               "--state-every", "99999999999999999999")  # fmt: skip
    assert status == 2 and out == ""
    assert err == (
        "optplay run: error: --state-every must be an integer in [1, 2^63), "
        "got 99999999999999999999\n"
    )
    assert not os.path.exists("s.csv")


def test_state_out_is_checked_before_training(capsys):
    os.mkdir("s.csv")  # a directory where the file should go
    status, out, err = run_cli(capsys, *RUN, "--steps", "20", "--state-out", "s.csv")
    assert status == 2
    assert out == ""  # nothing trained, nothing summarised
    assert err.startswith("optplay run: error: --state-out s.csv: ")


def test_a_run_diverging_before_its_first_state_summary_says_so(capsys):
    status, out, err = run_cli(capsys, *RUN, "--set", "lr=1e300", "--steps", "50",
                               "--state-out", "s.csv", "--out", "h.csv")  # fmt: skip
    assert status == 1  # diverged
    assert "diverged at step 1" in out and "wrote h.csv" in out and "s.csv" not in out
    assert err == (
        "optplay run: note: --state-out s.csv: not written: the run diverged at step 1, "
        "before its first state summary (one every 1 steps); nothing was recorded\n"
    )
    assert os.path.exists("h.csv") and not os.path.exists("s.csv")


# -- issue 26: a closed pipe ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--task", "quadratic", "--optimizer", "sgd", "--steps", "5"],
        ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "--steps", "5", "--seeds", "1",
         "--workers", "1"],
        ["sweep", "--task", "quadratic", "--optimizers", "sgd", "--lr", "0.01,0.1", "--steps",
         "5", "--workers", "1"],
        ["lesson", "momentum-ravine"],
        ["list"],
        ["list", "lessons"],
    ],
    ids=lambda argv: argv[0],
)  # fmt: skip
def test_every_command_is_quiet_on_a_closed_pipe(tmp_path, argv):
    """`optplay CMD | true`: the reader is gone before the first line is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tui", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT), "OPTPLAY_CONFIG_DIR": str(tmp_path)},
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""  # no traceback, no "Exception ignored"
    assert done.returncode == 0


# -- issue 26: the kind of file ------------------------------------------------------------------


def test_serve_names_a_sweep_spec_a_sweep_spec(capsys):
    assert app_main(["serve", "--preset", "lr-sensitivity"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "optplay serve: error: preset lr-sensitivity is a sweep spec, not an experiment: "
        "run it with `optplay sweep --preset lr-sensitivity`\n"
    )


def test_every_command_names_the_kind_of_file_it_was_given(capsys, tmp_path):
    (tmp_path / "b.toml").write_text('[bench]\ntasks = ["quadratic"]\n')
    for command in ("run", "sweep"):
        status, _, err = run_cli(capsys, command, "--config", "b.toml")
        assert status == 2 and "b.toml is a bench spec, not " in err
        assert "run it with `optplay bench --config b.toml`" in err
    status, _, err = run_cli(capsys, "bench", "--preset", "digits-adam")
    assert "preset digits-adam is an experiment, not a bench spec: run it with `optplay run" in err
