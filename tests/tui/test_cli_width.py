"""Every command's text fits the terminal (issue 25): at COLUMNS=80 no line of `list`,
`lesson`, `sweep` or a help text is wider than 80 cells, and no name is cut mid-word into
the next line or column (`linear-regressi`/`on`, `weight_dec`/`ay`, `initial_accumu0`):
a name is whole, or cut with an ellipsis."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from rich.cells import cell_len

from engine import lessons, optimizers, tasks
from tui.cli import main

WIDTH = 80


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def run_cli(capsys, *argv: str) -> str:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def names() -> set[str]:
    """The names a user types: tasks, optimizers, their knobs, lessons."""
    found = set(tasks.names()) | set(optimizers.names()) | set(lessons.names())
    for name in optimizers.names():
        found |= {h.name for h in optimizers.specs(name)}
    for name in tasks.names():
        found |= {h.name for h in tasks.specs(name)}
    return {n for n in found if len(n) > 3}


def mid_word_cuts(text: str) -> list[str]:
    """Names split over two lines (a line ends with its start, the next starts with the rest)
    or cut short without an ellipsis where a column ends."""
    lines = text.splitlines()
    cuts = []
    for name in names():
        for i in range(1, len(name)):
            head, tail = name[:i], name[i:]
            for line, after in itertools.pairwise(lines):
                if (
                    line.endswith(head)
                    and after.strip().startswith(tail)
                    and (not line.endswith(name))
                ):
                    cuts.append(f"{head}/{tail}")
    return cuts


def check_fits(text: str) -> None:
    wide = [line for line in text.splitlines() if cell_len(line) > WIDTH]
    assert not wide, wide[:3]
    assert not mid_word_cuts(text)


@pytest.mark.parametrize(
    "argv",
    [
        ("list",),
        ("list", "presets"),
        ("list", "lessons"),
        ("list", "optimizers", "--flavours"),
    ],
)
def test_list_fits_eighty_columns(capsys, argv) -> None:
    out = run_cli(capsys, *argv)
    check_fits(out)
    if argv == ("list",):  # wrapped, not lost: each knob's meaning is still there, in full
        flat = " ".join(out.split())
        for spec in optimizers.specs("adagrad"):
            assert " ".join(spec.help.split()) in flat


@pytest.mark.parametrize("command", ["run", "sweep", "lesson", "list", "bench", "theory"])
def test_help_texts_fit_eighty_columns(capsys, command) -> None:
    out = run_cli(capsys, command, "--help")
    assert out.startswith("usage: optplay")
    check_fits(out)


def test_a_sweep_table_fits_and_cuts_a_long_knob_name_with_an_ellipsis(capsys) -> None:
    out = run_cli(
        capsys, "sweep", "--task", "linear-regression", "--optimizers", "adagrad",
        "--lr", "0.01,0.1", "--grid", "initial_accumulator_value=0,0.1", "--steps", "5",
        "--seeds", "2", "--workers", "1", "--no-progress",
    )  # fmt: skip
    check_fits(out)
    header = out.splitlines()[0].split()
    assert header[:2] == ["optimizer", "lr"]
    assert header[2] == "initial_accumulator_value" or (
        header[2].endswith("…") and "initial_accumulator_value".startswith(header[2][:-1])
    )
    body = [line.split() for line in out.splitlines()[2:6]]
    assert [row[:3] for row in body] == [
        ["adagrad", "0.01", "0"], ["adagrad", "0.01", "0.1"],
        ["adagrad", "0.1", "0"], ["adagrad", "0.1", "0.1"],
    ]  # fmt: skip
    # What the table drops to fit, it names.
    full = "final loss (mean ± sd), best loss, steps to target, time/update, diverged, best"
    kept = out.splitlines()[0]
    missing = [c for c in full.split(", ") if c not in kept and c.split()[0] not in kept]
    if missing:
        assert "left out to fit the terminal" in out


def test_a_lesson_report_fits_eighty_columns(capsys) -> None:
    out = run_cli(capsys, "lesson", "momentum-ravine", "--seed", "0", "--no-progress")
    check_fits(out)
    assert "Verdict: the claim HOLDS on this run" in out


# -- found in tmux by tests/perf/audit_terminals.py (80 columns, LC_ALL=C) ----------------------


def ascii_cli(*argv: str, columns: int = WIDTH) -> str:
    """`optplay ARGV` in a C locale (ASCII output) at `columns`, as a terminal user runs it."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "COLUMNS": str(columns), "NO_COLOR": "1"}
    env.pop("PYTHONIOENCODING", None)
    done = subprocess.run(
        [sys.executable, "-m", "tui", *argv], capture_output=True, text=True, env=env,
        cwd=os.getcwd(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_run_summary_wraps_its_knobs_and_fit_to_the_terminal(capsys) -> None:
    # The knob list of adagrad (141 columns) and linear regression's fit (85) ran past 80.
    out = run_cli(
        capsys, "run", "--task", "linear-regression", "--optimizer", "adagrad", "--steps", "20",
        "--set", "optimizer.initial_accumulator_value=0.1", "--no-progress", "--no-record",
    )  # fmt: skip
    check_fits(out)
    flat = " ".join(out.split())
    assert "initial_accumulator_value=0.1" in flat and "(least squares: w =" in flat
    optimizer = [line for line in out.splitlines() if line.startswith("optimizer ")]
    assert optimizer and optimizer[0].split()[1] == "adagrad"  # the key, then its value


@pytest.mark.parametrize("task", ["ill-conditioned", "linear-regression"])
def test_theory_wraps_its_limits_and_predictions_to_the_terminal(capsys, task: str) -> None:
    out = run_cli(capsys, "theory", "--task", task, "--optimizer", "momentum", "--steps", "50")
    check_fits(out)
    assert "stable for lr <" in out and "predicted loss" in out


def test_a_two_knob_sweeps_heatmap_title_wraps_to_the_terminal() -> None:
    from engine.sweep import SweepSpec, summarise
    from tui.charts.sweep import sweep_chart_text

    spec = SweepSpec(task="linear-regression", optimizers=("adagrad",), steps=5,
                     grid={"lr": "0.01,0.1", "initial_accumulator_value": "0,0.1"})  # fmt: skip
    text = sweep_chart_text(spec, summarise(spec, []), WIDTH, 24)
    check_fits(text)
    title = " ".join(text.split("\n\n")[0].split())
    assert title.startswith("final loss by lr (rows) and initial_accumulator_value (columns)")


def test_a_sweep_table_in_ascii_is_measured_as_it_is_printed() -> None:
    # "±" became "+/-" after the table was laid out: a row of 81 columns at 80.
    out = ascii_cli(
        "sweep", "--task", "linear-regression", "--optimizers", "adagrad", "--lr", "0.01,0.1",
        "--grid", "initial_accumulator_value=0,0.1", "--steps", "10", "--seeds", "2",
        "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert out.isascii()
    check_fits(out)
    assert "+/-" in out


def test_help_in_ascii_is_spelled_out_before_it_is_wrapped() -> None:
    # "λ_max(P⁻¹H)" became "lambda_max(P?1H)" after wrapping: 83 columns, and a "?".
    out = ascii_cli("run", "--help")
    assert out.isascii()
    check_fits(out)
    assert "lambda_max(P^-1H)" in out


def test_help_never_splits_a_name_at_its_hyphen(capsys, monkeypatch) -> None:
    # argparse broke "linear-regression" after its hyphen at 200 columns.
    for columns in (80, 120, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        out = run_cli(capsys, "theory", "--help")
        assert "linear-regression" in out.replace("linear-\n", "!"), columns
        assert not any(line.rstrip().endswith("linear-") for line in out.splitlines())
