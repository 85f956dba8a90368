"""`optplay lesson NAME` and `optplay list lessons`: what they print and their exit statuses."""

from __future__ import annotations

import json
import statistics
from importlib import resources

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


def test_one_seed_prints_claim_numbers_and_verdict(capsys):
    status, out, err = run_cli(capsys, "lesson", "momentum-ravine", "--seed", "0", "--no-progress")
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


def test_lesson_over_seeds_prints_medians_interval_and_dots(capsys):
    status, out, err = run_cli(capsys, "lesson", "adagrad-sparse", "--seeds", "4", "--jobs", "1")
    assert status == 0, err
    text = flat(out)
    assert "Verdict: the claim HOLDS over 4 seeds" in out
    assert "The claim holds on 4 of 4 seeds (seeds 0–3)" in text
    assert "Per seed: ●●●● " in out
    assert "Noise floor of the task (lowest loss any lane can reach): 0.3" in text
    status, raw, _ = run_cli(
        capsys, "lesson", "adagrad-sparse", "--seeds", "4", "--jobs", "1", "--json"
    )
    data = json.loads(raw)
    assert f"median {number(data['median'])}, 90% interval" in text
    medians = {lane: statistics.median(v) for lane, v in data["lanes"].items()}
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    for lane, value in medians.items():
        assert rows[lane][1] == number(value)  # the table's median of the judged measure


def test_json_is_one_object_with_the_issues_keys(capsys):
    status, raw, err = run_cli(
        capsys, "lesson", "nadam-quadratic", "--seeds", "3", "--first-seed", "100", "--json"
    )
    assert status == 0 and err == ""
    data = json.loads(raw)
    assert list(data) == [
        "lesson",
        "verdict",
        "seeds",
        "held",
        "figure",
        "median",
        "interval",
        "tie_band",
        "floor",
        "lanes",
    ]
    assert data["verdict"] == "undecided" and data["seeds"] == 3 and data["held"] == 0
    assert data["figure"] == "NAdam / Adam, steps to loss 1e-06"
    assert data["lanes"]["Adam"] == [4818, 4818, 4818] and data["lanes"]["NAdam"] == [4841] * 3
    assert data["median"] == pytest.approx(4841 / 4818)
    assert data["tie_band"] == pytest.approx([1 / 1.05, 1.05]) and data["floor"] is None


def test_set_changes_one_lane_or_every_lane(capsys):
    _, raw, _ = run_cli(
        capsys,
        "lesson",
        "momentum-ravine",
        "--seeds",
        "1",
        "--json",
        "--set",
        "SGD.lr=0.011",
        "--set",
        "momentum=0.8",
    )
    data = json.loads(raw)
    assert data["lanes"] == {"SGD": [61], "Momentum": [70]}  # SGD got momentum 0.8 too
    assert data["verdict"] == "does not hold"
    status, _, err = run_cli(capsys, "lesson", "momentum-ravine", "--set", "SGD.foo=1")
    assert status == 2 and "--set SGD.foo: unknown knob 'foo'" in err


def test_a_lesson_from_a_file_and_its_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = resources.files("engine.lessons").joinpath("library")
    (tmp_path / "mine.toml").write_text(
        folder.joinpath("momentum-ravine.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    text = folder.joinpath("momentum-ravine.lesson.toml").read_text(encoding="utf-8")
    (tmp_path / "mine.lesson.toml").write_text(text, encoding="utf-8")
    status, raw, err = run_cli(
        capsys, "lesson", "--file", "mine.lesson.toml", "--seeds", "2", "--json"
    )
    assert status == 0, err
    assert json.loads(raw)["verdict"] == "holds" and json.loads(raw)["lesson"] == "mine"
    for old, new, message in [
        ('subject = "Momentum"', 'subject = "Nesterov"', "subject must be one of SGD, Momentum"),
        ('series = "loss"\ntarget', 'series = "loss_x"\ntarget', "series must be one of"),
        ("at_most = 0.5\n", "", "needs exactly one threshold of at_most"),
    ]:
        (tmp_path / "mine.lesson.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
        status, out, err = run_cli(capsys, "lesson", "--file", "mine.lesson.toml")
        assert status == 2 and out == ""
        assert err.startswith("optplay lesson: error: mine.lesson.toml: [measure] "), err
        assert message in err


def test_flip_runs_the_lesson_under_its_condition(capsys):
    status, out, _ = run_cli(capsys, "lesson", "momentum-ravine", "--flip", "1", "--seeds", "2")
    assert status == 0
    assert flat(out).startswith(
        "momentum-ravine: Momentum through a ravine [Momentum] Under flip 1"
    )
    assert "Verdict: the claim DOES NOT HOLD over 2 seeds" in out
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
        (["lesson", "momentum-ravine", "--seed", "-1"], "--seed must be an integer in [0, 2^32)"),
        (["lesson", "momentum-ravine", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["lesson", "momentum-ravine", "--jobs", "0"], "--jobs must be an integer >= 1, got 0"),
        (["lesson", "momentum-ravine", "--set", "lr"], "--set expects NAME=VALUE"),
        (["lesson", "--file", "none.lesson.toml"], "none.lesson.toml: cannot read"),
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
    assert status == 2 and "give a lesson NAME" in err


def test_list_lessons_by_topic(capsys):
    status, out, _ = run_cli(capsys, "list", "lessons")
    assert status == 0
    lines = []  # a title too long for the terminal wraps under itself: one entry per lesson
    for line in out.splitlines():
        if line.startswith(" " * 6) and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    assert lines[0].startswith("lessons")
    for topic, group in lessons.by_topic().items():
        at = lines.index(f"  {topic}")
        for offset, lesson in enumerate(group, start=1):
            kind = "race" if lesson.is_race else "run"
            assert lines[at + offset].split() == [lesson.name, kind, *lesson.title.split()]
    status, out, _ = run_cli(capsys, "list")
    assert "momentum-ravine" not in out  # `list` alone stays optimizers, schedules and tasks


def test_the_optplay_entry_point_has_the_command(capsys):
    assert entry.main(["lesson", "cosine-restarts", "--seeds", "2", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "cosine restarts" in out and "HOLDS" in out
    assert entry.main(["list", "lessons"]) == 0
