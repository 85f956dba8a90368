"""`optplay lesson NAME` and `optplay list lessons`: the tutorials' claims, run headless.

    optplay lesson NAME [--seeds N] [--first-seed S] [--jobs J | --dask ADDR|local]
                        [--flip K] [--set KEY=VALUE ...] [--json] [--no-progress]
    optplay lesson --file PATH.lesson.toml [...]
    optplay lesson NAME --seed S               (one run, judged on its own)

Runs the lesson's experiment (a race or one run) over N paired seeds (default 8, from seed
0) and prints the claim, the setup, what to watch in the app, each lane's median numbers,
the verdict (how many seeds hold, the median and 90% interval of the judged number against
the tie band, engine.lessons.stats) and the conditions under which it would flip. The seeds
are jobs: serial with --jobs 1, a process pool (default on more than one core) or a Dask
cluster; the numbers are the same on each. `--flip K` runs the lesson under its K-th flip
condition; `--set` changes knobs in the override grammar of engine/knobs.py (`lr=0.1` on
every lane, `sgd.lr=0.1` or `LANE.lr=0.1` on one).
`--json` prints one JSON object instead of the text. Exit status 0 whatever the verdict
(the lesson ran); 2 for an unknown lesson (the message lists them), a bad lesson file or a
bad option; 130 when interrupted (the verdict is judged on the seeds that finished).

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
    output_width,
    parse_sets,
    say,
    set_error,
    train,
    wrap_line,
    wrap_row,
)

NAME = "lesson"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay lesson` and its arguments."""
    parser = subparsers.add_parser(
        "lesson",
        help="run a lesson: a tutorial's claim tested by an experiment, with its verdict",
        description="Run a lesson headless and print its claim, the measured numbers and the "
        "verdict computed from them over paired seeds. `optplay list lessons` lists the "
        "lessons. Exit status 0 whatever the verdict, 2 for an unknown lesson or bad input.",
    )
    parser.add_argument(
        "name", metavar="NAME", nargs="?", help="the lesson (see `optplay list lessons`)"
    )
    parser.add_argument(
        "--file",
        metavar="PATH",
        help="run a lesson you wrote: PATH.lesson.toml, next to its experiment PATH.toml",
    )
    parser.add_argument(
        "--seeds", type=int, metavar="N", help="paired seeds to judge over (default 8)"
    )
    parser.add_argument(
        "--first-seed", type=int, metavar="S", default=0, help="the first seed (default 0)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="J",
        help="worker processes for the seeds (default: one per core; 1 = this process)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the seeds on a Dask cluster: its scheduler address, or 'local'",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--flip",
        type=int,
        metavar="K",
        help="run under the lesson's K-th flip condition (1-based), where the verdict should "
        "come out the other way",
    )
    parser.add_argument(
        "--seed", type=int, metavar="S", help="one run with this seed, judged on its own"
    )
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
    return textwrap.wrap(
        text, output_width(), initial_indent=indent, subsequent_indent=indent,
        break_on_hyphens=False,
    )  # fmt: skip


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
    series = f", {lesson.watch.series_label}," if lesson.watch.series else ""
    lines.append(f"Watch (the {lesson.watch.tab} tab{series} in the app)")
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
    if max(len(line) for line in table) > output_width() - 2:
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
    for line in verdict.theory:
        lines += _wrap(line)
    for condition in verdict.conditions:
        lines += _wrap(condition)
    lines.append("Why")
    lines += _wrap(lesson.why)
    return lines


def _lesson_of(args: argparse.Namespace) -> Any:
    """The lesson the arguments name (a shipped one or --file), under --flip and --set;
    LessonError / ValueError with a one-line message."""
    from engine import lessons

    if args.file is not None and args.name is not None:
        raise ValueError("give a lesson NAME or --file PATH, not both")
    if args.file is None and args.name is None:
        raise ValueError("give a lesson NAME (see `optplay list lessons`) or --file PATH")
    lesson = lessons.load_file(args.file) if args.file else lessons.load(args.name)
    if args.flip is not None:
        if not lesson.flips:
            raise ValueError(f"--flip: lesson {lesson.name} has no flip conditions")
        if not 1 <= args.flip <= len(lesson.flips):
            raise ValueError(
                f"--flip must be in 1..{len(lesson.flips)} for {lesson.name}, got {args.flip}"
            )
        lesson = lesson.flipped(args.flip - 1)
    if args.sets:
        lesson = with_sets(lesson, parse_sets(args.sets))
    return lesson


def _executor(args: argparse.Namespace, seeds: int) -> Any:
    from engine.executors import DaskExecutor, ExecutorError
    from tui.commands.running import local_executor

    if args.jobs is not None and args.jobs < 1:
        raise ExecutorError(f"--jobs must be an integer >= 1, got {args.jobs}")
    dask = args.dask if args.dask is not None else getattr(args, "global_dask", None)
    if dask is not None:
        if args.jobs is not None and dask != "local":
            raise ExecutorError("--jobs: the cluster at --dask ADDRESS has its own workers")
        return DaskExecutor(dask, workers=args.jobs)
    return local_executor(seeds, args.jobs)


def handle(args: argparse.Namespace) -> int:
    """`optplay lesson NAME`: run it over its seeds, print the verdict; 0 whatever it is,
    2 bad input."""
    from engine.executors import ExecutorError
    from engine.lessons import LessonError

    try:
        lesson = _lesson_of(args)
    except (LessonError, ValueError, UsageError) as err:
        return fail(args, str(err))
    flip_note = args.flip is not None
    if args.seed is not None:
        if args.seeds is not None or args.first_seed:
            return fail(args, "--seed runs one seed; use --seeds N --first-seed S for several")
        if not 0 <= args.seed < 2**32:
            return fail(args, f"--seed must be an integer in [0, 2^32), got {args.seed}")
        return _one_seed(args, lesson.with_seed(args.seed))
    from engine.lessons import seeds as lesson_seeds

    try:
        seeds = lesson_seeds.seed_range(args.first_seed, 8 if args.seeds is None else args.seeds)
    except ValueError as err:
        return fail(args, str(err))
    try:
        executor = _executor(args, len(seeds))
    except ExecutorError as err:
        return fail(args, str(err))
    from tui.commands.running import Cancel, RunsProgress

    with (
        executor,
        Cancel() as cancel,
        RunsProgress(len(seeds), f"{lesson.name} ({executor.describe()})", _bar(args)) as bar,
    ):
        try:
            verdict = lesson_seeds.run_seeds(
                lesson, seeds, executor, lambda _: bar.advance(), cancel.event
            )
        except ValueError as err:  # cancelled before any seed finished
            return fail(args, str(err)) if not cancel.hit else 130
    if args.json:
        import json

        say(json.dumps(verdict.as_json()))
    else:
        lines = seeds_report_lines(lesson, verdict)
        if flip_note:
            when = _lesson_of_flip_note(args)
            lines[1:1] = _wrap(f"Under flip {args.flip}: {when}", indent="")
        if args.sets:
            lines[1:1] = _wrap(f"Your variant: --set {' --set '.join(args.sets)}", indent="")
        if cancel.hit:
            lines.append(f"(interrupted: judged on {len(verdict.seeds)} of {len(seeds)} seeds)")
        for line in lines:
            for part in wrap_line(line, output_width()):
                say(part)
    return 130 if cancel.hit else 0


def _bar(args: argparse.Namespace) -> bool:
    return not args.no_progress and not args.json


def _lesson_of_flip_note(args: argparse.Namespace) -> str:
    from engine import lessons

    base = lessons.load_file(args.file) if args.file else lessons.load(args.name)
    return base.flips[args.flip - 1].when


def _one_seed(args: argparse.Namespace, lesson: Any) -> int:
    """`--seed S`: one run of the lesson, judged on its own (the single-run report)."""
    trained = lesson.start()
    bar = ProgressBar(sys.stderr, enabled=_bar(args))

    def show() -> None:
        bar.show(trained.steps_done / lesson.steps, f"step {trained.steps_done:,}/{lesson.steps:,}")

    with StopSignals() as interrupt:
        try:
            train(trained, lesson.steps, interrupt, show if bar.enabled else None)
        finally:
            bar.done()
    verdict = lesson.verdict(trained)
    if args.json:
        import json

        from engine.lessons import seeds as lesson_seeds

        runs = lesson.lane_runs(trained)
        result = lesson_seeds.SeedResult(
            args.seed,
            tuple(verdict_values for _, verdict_values in verdict.measured),
            {lane: run.diverged_at for lane, run in runs.items()},
            trained.steps_done,
            lesson_seeds.noise_floor(lesson),
        )
        say(json.dumps(lesson_seeds.judge_results(lesson, [result]).as_json()))
        return 128 + interrupt.signum if interrupt.signum is not None else 0
    lines = report_lines(lesson, verdict, trained)
    if args.flip is not None:
        lines[1:1] = _wrap(f"Under flip {args.flip}: {_lesson_of_flip_note(args)}", indent="")
    if interrupt.hit:
        lines.append(f"(interrupted at step {trained.steps_done:,} of {lesson.steps:,})")
    for line in lines:
        for part in wrap_line(line, output_width()):
            say(part)
    return 128 + interrupt.signum if interrupt.signum is not None else 0


def seeds_report_lines(lesson: Any, verdict: Any) -> list[str]:
    """What `optplay lesson` prints for a lesson judged over seeds: claim, setup, where to
    look, each lane's median per measurement, the verdict with its seeds, interval and tie
    band, the per-seed dots, and when it would flip."""
    from engine.compare import format_table
    from engine.lessons.measure import number

    lines = [f"{lesson.name}: {lesson.title}  [{lesson.topic}]", ""]
    lines.append("Claim")
    lines += _wrap(lesson.claim)
    lines += _wrap(f"Source: {lesson.source}")
    lines.append("Experiment")
    lines += _wrap(lesson.setup())
    series = f", {lesson.watch.series_label}," if lesson.watch.series else ""
    lines.append(f"Watch (the {lesson.watch.tab} tab{series} in the app)")
    lines += _wrap(lesson.watch.what)
    lines.append("")

    metrics = (lesson.measure.metric, *lesson.also)
    n = len(verdict.seeds)
    headers = ["lane", *(f"{m.label} (median)" if n > 1 else m.label for m in metrics)]
    rows = [
        [lane, *(m.text(_shown(verdict.lane_median(lane, i), m)) for i, m in enumerate(metrics))]
        for lane in lesson.lanes
    ]
    for row in rows:
        diverged = sum(r.diverged[row[0]] is not None for r in verdict.results)
        if diverged:
            row[0] += f" (diverged on {diverged} of {n} seeds)"
    table = format_table(headers, rows).splitlines()
    extra: list[str] = []
    if max(len(line) for line in table) > output_width() - 2:
        table = format_table(headers[:2], [row[:2] for row in rows]).splitlines()
        for column, label in enumerate(headers[2:], start=2):
            cells = ", ".join(f"{row[0]} {row[column]}" for row in rows)
            extra += _wrap(f"{label}: {cells}")
    lines += ["  " + row for row in table] + extra
    if verdict.floor is not None:
        lines += _wrap(
            f"Noise floor of the task (lowest loss any lane can reach): {number(verdict.floor)}"
        )
    lines.append("")
    shout = {"holds": "HOLDS", "fails": "DOES NOT HOLD", "undecided": "IS UNDECIDED"}
    lines.append(f"Verdict: the claim {shout[verdict.outcome]} over {n} seeds")
    lines += _wrap(verdict.summary())
    lines += _wrap(f"Per seed: {verdict.dots()}  (● holds, ○ does not, · tie)")
    for condition in verdict.conditions:
        lines += _wrap(condition)
    lines.append("Why")
    lines += _wrap(lesson.why)
    return lines


def _shown(value: float | None, metric: Any) -> float | None:
    """A median for a table cell: an infinite steps count is "never"."""
    if value is None or (metric.kind == "steps_to" and value == float("inf")):
        return None
    return value


def list_lines(width: int = 10**6) -> list[str]:
    """What `optplay list lessons` prints: the lessons by topic, one line each (its title
    wrapped under itself past `width` cells)."""
    from engine import lessons

    groups = lessons.by_topic()
    name_width = max(len(lesson.name) for group in groups.values() for lesson in group)
    lines = ["lessons (run one with `optplay lesson NAME`)"]
    for topic, group in groups.items():
        lines.append(f"  {topic}")
        for lesson in group:
            kind = "race" if lesson.is_race else "run"
            lines += wrap_row(f"    {lesson.name:<{name_width}}  {kind:<4}  ", lesson.title, width)
    return lines
