"""`optplay lesson NAME` and `optplay list lessons`: what they print and their exit statuses."""

from __future__ import annotations

import pytest
from conftest import shipped_verdict

from engine import lessons
from engine.lessons.measure import number
from tui import __main__ as entry
from tui.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def flat(text: str) -> str:
    """The output with its line wrapping undone (for phrases that may wrap)."""
    return " ".join(text.split())


def test_lesson_prints_claim_numbers_and_verdict(capsys):
    status, out, err = run_cli(capsys, "lesson", "momentum-ravine", "--no-progress")
    assert status == 0, err
    assert err == ""
    lesson = lessons.load("momentum-ravine")
    verdict = shipped_verdict("momentum-ravine")
    text = flat(out)
    assert out.startswith("momentum-ravine: Momentum through a ravine  [Momentum]")
    assert flat(lesson.claim) in text
    assert "Watch (the path tab in the app)" in out
    # The table: one row per lane with the measured steps, then the verdict with them.
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("  lane "))
    assert "steps to loss 0.001" in lines[head] and "final training loss" in lines[head]
    table = lines[head + 2 : lines.index("", head)]
    rows = {line.split()[0]: line.split() for line in table}
    assert list(rows) == ["SGD", "Momentum"]
    assert rows["SGD"][1] == number(verdict.values["SGD"]) == "449"
    assert rows["Momentum"][1] == number(verdict.values["Momentum"]) == "98"
    assert "Verdict: the claim HOLDS on this run" in out
    assert flat(verdict.summary) in text
    assert flat(verdict.conditions[0]) in text


def test_a_claim_that_fails_still_exits_0(capsys):
    status, out, err = run_cli(capsys, "lesson", "nadam-quadratic", "--no-progress")
    assert status == 0, err
    assert "Verdict: the claim DOES NOT HOLD on this run" in out
    assert "NAdam, tutorial's formula" in out  # the clearly labelled third lane
    assert "It would hold at lr 0.1 over 100 steps" in flat(out)


def test_flip_runs_the_lesson_under_its_condition(capsys):
    status, out, _ = run_cli(capsys, "lesson", "momentum-ravine", "--flip", "1", "--no-progress")
    assert status == 0
    assert flat(out).startswith(
        "momentum-ravine: Momentum through a ravine [Momentum] Under flip 1"
    )
    assert "Verdict: the claim DOES NOT HOLD on this run" in out
    assert "condition 2" in out  # the flipped knob shows in the experiment line


def test_seed_changes_the_numbers(capsys):
    _, default, _ = run_cli(capsys, "lesson", "adam-bias-correction", "--no-progress")
    status, seeded, _ = run_cli(
        capsys, "lesson", "adam-bias-correction", "--seed", "3", "--no-progress"
    )
    assert status == 0
    assert "seed 3" in seeded and "seed 0" in default
    assert seeded.split("Verdict")[0] != default.split("Verdict")[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lesson", "nope"], "optplay lesson: error: unknown lesson 'nope' (expected one of: "),
        (["lesson", "momentum-ravine", "--flip", "2"], "--flip must be in 1..1 for momentum-"),
        (["lesson", "momentum-ravine", "--flip", "0"], "--flip must be in 1..1"),
        (["lesson", "momentum-ravine", "--seed", "-1"], "--seed must be an integer in [0, 2^63)"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert out == ""
    assert message in err
    if argv[1] == "nope":
        assert all(name in err for name in lessons.names())


def test_missing_name_is_a_usage_error(capsys):
    status, _, err = run_cli(capsys, "lesson")
    assert status == 2 and "NAME" in err


def test_list_lessons_by_topic(capsys):
    status, out, _ = run_cli(capsys, "list", "lessons")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("lessons")
    for topic, group in lessons.by_topic().items():
        at = lines.index(f"  {topic}")
        for offset, lesson in enumerate(group, start=1):
            assert lines[at + offset].split() == [lesson.name, "race", *lesson.title.split()]
    status, out, _ = run_cli(capsys, "list")
    assert "momentum-ravine" not in out  # `list` alone stays optimizers, schedules and tasks


def test_the_optplay_entry_point_has_the_command(capsys):
    assert entry.main(["lesson", "cosine-restarts", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "cosine restarts" in out and "HOLDS" in out
    assert entry.main(["list", "lessons"]) == 0
