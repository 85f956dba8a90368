"""`optplay lesson NAME` and `optplay list lessons`: the tutorials' claims, run headless.

    optplay lesson NAME [--flip K] [--seed S] [--set NAME=VALUE ...] [--no-progress]

Runs the lesson's experiment (a race or one run) to its step count and prints the claim, the
setup, what to watch in the app, the measured numbers per lane, the verdict computed from
them and the conditions under which it would flip. `--flip K` runs the lesson under its K-th
flip condition instead; `--seed S` with another seed; `--set` changes knobs in the override
grammar of engine/knobs.py (`lr=0.1` on every lane, `sgd.lr=0.1` or `LANE.lr=0.1` on one).
Exit status 0 whatever the verdict
(the lesson ran); 2 for an unknown lesson (the message lists them) or a bad option; 130 when
interrupted (the verdict is still computed on the steps done).

This module imports no UI library.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from typing import Any

from tui.commands.common import (
    ProgressBar,
    StopSignals,
    UsageError,
    add_set_arg,
    fail,
    parse_sets,
    say,
    set_error,
    train,
)

NAME = "lesson"
_WIDTH = 88


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay lesson` and its arguments."""
    parser = subparsers.add_parser(
        "lesson",
        help="run a lesson: a tutorial's claim tested by an experiment, with its verdict",
        description="Run a lesson headless and print its claim, the measured numbers and the "
        "verdict computed from them. `optplay list lessons` lists the lessons. Exit status 0 "
        "whatever the verdict, 2 for an unknown lesson.",
    )
    parser.add_argument("name", metavar="NAME", help="the lesson (see `optplay list lessons`)")
    parser.add_argument(
        "--flip",
        type=int,
        metavar="K",
        help="run under the lesson's K-th flip condition (1-based), where the verdict should "
        "come out the other way",
    )
    parser.add_argument("--seed", type=int, metavar="S", help="another seed for every lane")
    add_set_arg(parser, "change a knob: lr=0.1 on every lane, LANE.lr=0.1 or sgd.lr=0.1 on one")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def with_sets(lesson: Any, sets: list[tuple[str, str]]) -> Any:
    """The lesson with the --set knobs applied to its lanes (engine/knobs.py routes them);
    UsageError with the same message `optplay run --set` gives."""
    from engine.config import Experiment, RaceEntry
    from engine.knobs import KnobError, apply_lanes
    from engine.run import RunConfigError

    entries = lesson.entries
    try:
        configs = apply_lanes(
            [(lane, e.config) for lane, e in zip(lesson.lanes, entries, strict=True)], sets
        )
    except KnobError as err:
        raise set_error(err) from None
    except RunConfigError as err:  # a rule between knobs (e.g. warmup_steps < total_steps)
        raise UsageError(err.detail) from None
    exp = lesson.experiment
    if exp.race:
        raced = [RaceEntry(cfg, e.name) for cfg, e in zip(configs, entries, strict=True)]
        experiment = Experiment.of_race(raced, steps=exp.steps, name=exp.name)
    else:
        experiment = Experiment(configs[0], steps=exp.steps, name=exp.name)
    return dataclasses.replace(lesson, experiment=experiment)


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent)


def report_lines(lesson: Any, verdict: Any, trained: Any) -> list[str]:
    """What `optplay lesson` prints for a trained lesson: claim, setup, where to look, the
    numbers per lane, the verdict and the conditions under which it would flip."""
    from engine.compare import format_table

    lines = [f"{lesson.name}: {lesson.title}  [{lesson.topic}]", ""]
    lines.append("Claim")
    lines += _wrap(lesson.claim)
    lines += _wrap(f"Source: {lesson.source}")
    lines.append("Experiment")
    lines += _wrap(lesson.setup())
    lines.append(f"Watch (the {lesson.watch.tab} tab in the app)")
    lines += _wrap(lesson.watch.what)
    lines.append("")

    headers, rows = verdict.table()
    runs = lesson.lane_runs(trained)
    for row in rows:
        run = runs[row[0]]
        if run.diverged_at is not None:
            row[0] += f" (diverged at step {run.diverged_at:,})"
    table = format_table(headers, rows).splitlines()
    extra: list[str] = []
    if max(len(line) for line in table) > _WIDTH - 2:
        # Too wide for a terminal: the judged measurement as a table, the others as lines.
        table = format_table(headers[:2], [row[:2] for row in rows]).splitlines()
        for column, label in enumerate(headers[2:], start=2):
            cells = ", ".join(f"{row[0]} {row[column]}" for row in rows)
            extra += _wrap(f"{label}: {cells}")
    lines += ["  " + row for row in table] + extra
    lines.append("")
    shout = {"holds": "HOLDS", "fails": "DOES NOT HOLD", "undecided": "IS UNDECIDED"}
    lines.append(f"Verdict: the claim {shout[verdict.outcome]} on this run")
    lines += _wrap(verdict.summary)
    for condition in verdict.conditions:
        lines += _wrap(condition)
    lines.append("Why")
    lines += _wrap(lesson.why)
    return lines


def handle(args: argparse.Namespace) -> int:
    """`optplay lesson NAME`: run it, print the verdict; 0 whatever it is, 2 bad input."""
    from engine import lessons
    from engine.lessons import LessonError

    try:
        lesson = lessons.load(args.name)
    except LessonError as err:
        return fail(args, str(err))
    flip_note = None
    if args.flip is not None:
        if not lesson.flips:
            return fail(args, f"--flip: lesson {lesson.name} has no flip conditions")
        if not 1 <= args.flip <= len(lesson.flips):
            return fail(
                args, f"--flip must be in 1..{len(lesson.flips)} for {lesson.name}, got {args.flip}"
            )
        flip_note = lesson.flips[args.flip - 1].when
        lesson = lesson.flipped(args.flip - 1)
    if args.seed is not None:
        if not 0 <= args.seed < 2**63:
            return fail(args, f"--seed must be an integer in [0, 2^63), got {args.seed}")
        lesson = lesson.with_seed(args.seed)
    try:
        lesson = with_sets(lesson, parse_sets(args.sets))
    except UsageError as err:
        return fail(args, str(err))

    trained = lesson.start()
    bar = ProgressBar(sys.stderr, enabled=not args.no_progress)

    def show() -> None:
        bar.show(trained.steps_done / lesson.steps, f"step {trained.steps_done:,}/{lesson.steps:,}")

    with StopSignals() as interrupt:
        try:
            train(trained, lesson.steps, interrupt, show if bar.enabled else None)
        finally:
            bar.done()
    verdict = lesson.verdict(trained)
    lines = report_lines(lesson, verdict, trained)
    if flip_note is not None:
        lines[1:1] = _wrap(f"Under flip {args.flip}: {flip_note}", indent="")
    if interrupt.hit:
        lines.append(f"(interrupted at step {trained.steps_done:,} of {lesson.steps:,})")
    for line in lines:
        say(line)
    return 128 + interrupt.signum if interrupt.signum is not None else 0


def list_lines() -> list[str]:
    """What `optplay list lessons` prints: the lessons by topic, one line each."""
    from engine import lessons

    groups = lessons.by_topic()
    width = max(len(lesson.name) for group in groups.values() for lesson in group)
    lines = ["lessons (run one with `optplay lesson NAME`)"]
    for topic, group in groups.items():
        lines.append(f"  {topic}")
        for lesson in group:
            kind = "race" if lesson.is_race else "run"
            lines.append(f"    {lesson.name:<{width}}  {kind:<4}  {lesson.title}")
    return lines
