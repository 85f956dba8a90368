"""Every command's text fits the terminal (issue 25): at COLUMNS=80 no line of `list`,
`lesson`, `sweep` or a help text is wider than 80 cells, and no name is cut mid-word into
the next line or column (`linear-regressi`/`on`, `weight_dec`/`ay`, `initial_accumu0`):
a name is whole, or cut with an ellipsis."""

from __future__ import annotations

import itertools

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
