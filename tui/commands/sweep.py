"""`optplay sweep`: final loss against one or two knobs, per optimizer, every point a fresh run.

    optplay sweep --task digits-mlp --optimizers sgd momentum adam --lr 1e-4:1e1:13 --seeds 2
    optplay sweep --task quadratic --optimizers momentum --lr 1e-3:1:7 --grid momentum=0:0.99:8
    optplay sweep --preset lr-sensitivity --workers 2 --out lr.csv
    optplay sweep --preset lr-sensitivity --dask tcp://scheduler:8786

The swept knobs: `--lr A:B:N` (N log-spaced rates from A to B, or a list `--lr 0.01,0.1`) and
`--grid NAME=VALUES` (repeatable; VALUES a list `0.8,0.9,0.99` or a grid `A:B:N`, spaced on
the knob's scale, `A:B:N:log` / `A:B:N:linear` to choose); two knobs at most. Given on the
command line, they replace the grid of --config/--preset. Fixed knobs: `--set NAME=VALUE` in
the override grammar of engine/knobs.py: the task's, the schedule's or every optimizer's that
has NAME; `--set adam.beta2=0.99` for one. A knob is swept or set, never both.

Prints one row per grid point (seeds summarised, each optimizer's best point marked) and, on a
terminal, a chart: final loss against the knob per optimizer, or a heatmap for two knobs.
`--out` writes one row per run (.csv or .json), before anything else is printed.

Runs go to a process pool (one worker per core; `--workers N`), or to a Dask cluster
(`--dask ADDRESS`, `--dask local`). Ctrl+C, SIGTERM and SIGHUP cancel: finished runs are kept,
printed and written (exit 128 + the signal). Exit status: 0 done, 1 a run failed (an error, not
a divergence), 2 bad arguments (nothing started), 130/143/129 interrupted by SIGINT, SIGTERM,
SIGHUP.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.commands.common import (
    PROG,
    UsageError,
    add_scoring_args,
    add_set_arg,
    add_source_args,
    check_outputs,
    emit,
    fail,
    load_source,
    output_width,
    parse_sets,
    refuse_source,
    say,
    set_error,
    split_list,
)
from tui.commands.running import (
    Cancel,
    RunsProgress,
    add_executor_args,
    make_executor,
    single_threaded_blas,
)
from tui.terminal import AsciiWriter

NAME = "sweep"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay sweep` and its flags."""
    sweep = subparsers.add_parser(
        "sweep",
        help="final loss against one or two knobs, per optimizer (fresh run per point)",
        description="Sweep one or two knobs: every grid point of every optimizer and seed is "
        "a fresh run, scored like `optplay bench`. Prints a table (and a chart on a "
        "terminal); --out writes one row per run. Runs on all cores by default, or on a Dask "
        "cluster. Exit status 0 done, 1 a run failed, 2 bad arguments, 128 + the signal when "
        "interrupted (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP: the finished runs are kept).",
    )
    add_source_args(sweep, "sweep spec")
    sweep.add_argument("--task", metavar="T", help="task name (see `optplay list tasks`)")
    sweep.add_argument(
        "--optimizers", "--optimizer", nargs="+", metavar="O", help="optimizers to sweep"
    )
    sweep.add_argument("--schedule", metavar="S", help="learning-rate schedule (default constant)")
    sweep.add_argument(
        "--lr", metavar="A:B:N", help="sweep lr: N log-spaced rates from A to B, or a list"
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="sweep a knob: a list (beta1=0.8,0.9,0.99) or a grid (momentum=0:0.99:8) "
        "(repeatable; two knobs at most, --lr included)",
    )
    add_set_arg(
        sweep,
        "a fixed knob: of the task, the schedule or every optimizer that has it "
        "(task.hidden=64, momentum=0.9), or of one optimizer (adam.beta2=0.99)",
    )
    add_scoring_args(sweep, seeds_default=1)
    add_executor_args(sweep)
    sweep.add_argument(
        "--yes",
        action="store_true",
        help="start a sweep of more than 1,000 runs (at most 100,000 even so)",
    )
    sweep.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="FILE",
        help="write one row per run: .csv or .json (repeatable)",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--no-chart", action="store_true", help="no chart, only the table")
    return sweep


# -- from flags to a SweepSpec ----------------------------------------------------------------


def _grid_flags(args: argparse.Namespace) -> dict[str, str]:
    grid: dict[str, str] = {}
    if args.lr is not None:
        grid["lr"] = args.lr
    for item in args.grid:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--grid expects NAME=VALUES, got {item!r}")
        if name in grid:
            flag = "--lr and --grid lr" if name == "lr" and args.lr is not None else "--grid"
            raise UsageError(f"{flag}: {name} is swept twice")
        grid[name] = values
    return grid


def _route_sets(
    args: argparse.Namespace,
    grid: dict[str, Any],
    task: str,
    opts: tuple[str, ...],
    schedule: str,
    tables: dict[str, dict[str, Any]],
) -> None:
    """Put each --set knob in its table (`tables[owner name]`, engine/knobs.py routes it);
    UsageError for a knob that is also swept, naming both."""
    from engine.knobs import KnobError, Owner, resolve, route

    owners = [Owner("task", task), *(Owner("optimizer", o) for o in opts)]
    owners.append(Owner("schedule", schedule))
    swept: dict[tuple[str, str], str] = {}
    for name in grid:
        try:
            for owner, knob in route(name, owners):
                swept[owner.kind, knob] = name
        except KnobError:
            pass  # the sweep's own check names a bad grid knob
    try:
        for name, raw in parse_sets(args.sets):
            for owner, knob, value in resolve([(name, raw)], owners):
                if (owner.kind, knob) in swept:
                    axis = swept[owner.kind, knob]
                    flag = "--lr" if axis == "lr" and args.lr is not None else f"--grid {axis}"
                    if not (args.lr is not None or args.grid):
                        flag = f"the grid of {_source_label(args)}"
                    raise UsageError(
                        f"--set {name}={raw}: {knob} is swept by {flag}; a knob is swept or "
                        "set, not both (drop one)"
                    )
                tables[owner.name][knob] = value  # as typed: the spec keeps text
    except KnobError as err:
        raise set_error(err) from None


def _source_label(args: argparse.Namespace) -> str:
    return f"preset {args.preset}" if args.preset else str(args.config)


def resolve_sweep(args: argparse.Namespace) -> Any:
    """The SweepSpec of --config/--preset, overridden by the flags; UsageError naming the flag
    or field on any problem (the whole plan is validated: nothing has run)."""
    from engine import optimizers, schedules, tasks
    from engine.sweep import MAX_RUNS, MAX_RUNS_WITH_CONSENT, SweepError, SweepSpec

    source = load_source(args.config, args.preset)
    refuse_source(args, source, "SweepSpec")
    task = args.task or (source.task if source else None)
    opts = split_list(args.optimizers)
    if opts is None and source is not None:
        opts = list(source.optimizers)
    missing = [flag for flag, v in (("--task", task), ("--optimizers", opts)) if not v]
    if missing:
        raise UsageError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
            "(or start from --config FILE / --preset NAME)"
        )
    schedule = args.schedule or (source.schedule if source else "constant")
    try:
        tasks.get(task)
        for o in opts:
            optimizers.get(o)
        schedules.get(schedule)
    except ValueError as err:
        flag = "--task" if "task" in str(err) else "--schedule" if "schedule" in str(err) else ""
        raise UsageError(f"{flag or '--optimizers'}: {err}") from None
    grid = _grid_flags(args)
    kwargs: dict[str, Any] = {}
    if source is not None:
        same_task = source.task == task
        kwargs = {
            "steps": source.steps,
            "seeds": source.seeds,
            "dtype": source.dtype,
            "target": source.target,
            "target_fraction": source.target_fraction,
            "check_every": source.check_every,
            "name": source.name,
        }
        task_hypers = dict(source.task_hypers) if same_task else {}
        schedule_hypers = dict(source.schedule_hypers) if source.schedule == schedule else {}
        opt_hypers = {o: dict(v) for o, v in source.optimizer_hypers.items() if o in opts}
        grid = grid or dict(source.grid)
    else:
        task_hypers, schedule_hypers, opt_hypers = {}, {}, {}
    if not grid:
        raise UsageError("nothing to sweep: give --lr A:B:N and/or --grid NAME=VALUES")
    for key in ("steps", "seeds", "target", "target_fraction", "check_every", "dtype"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    if args.target is not None:
        kwargs.setdefault("target_fraction", 0.1)
    if args.target_fraction is not None:
        kwargs["target"] = None
    tables = {task: task_hypers, schedule: schedule_hypers}
    tables.update({o: opt_hypers.setdefault(o, {}) for o in opts})
    _route_sets(args, grid, task, tuple(opts), schedule, tables)
    opt_hypers = {o: v for o, v in opt_hypers.items() if v}
    try:
        return SweepSpec(
            task=task,
            optimizers=tuple(opts),
            grid=grid,
            schedule=schedule,
            task_hypers=task_hypers,
            optimizer_hypers=opt_hypers,
            schedule_hypers=schedule_hypers,
            max_runs=MAX_RUNS_WITH_CONSENT if getattr(args, "yes", False) else MAX_RUNS,
            **kwargs,
        )
    except SweepError as err:
        raise UsageError(_flag_message(err, args)) from None


def _flag_message(err: Any, args: argparse.Namespace) -> str:
    """A SweepError as the flag that set the field would name it."""
    from engine.sweep import PlanTooLarge, SweepError

    flags = {
        "steps": "--steps",
        "seeds": "--seeds",
        "target": "--target",
        "target_fraction": "--target-fraction",
        "check_every": "--check-every",
        "optimizers": "--optimizers",
        "task": "--task",
        "schedule": "--schedule",
    }
    if isinstance(err, PlanTooLarge):  # the plan's size, checked before it is built
        return _too_many_runs(err.runs, err.limit)
    if err.field == "grid":
        if err.key == "lr" and args.lr is not None:
            return f"--lr: {err.detail}"
        if err.key is None:
            return f"--grid: {err.detail}"
        return f"--grid {SweepError.knob_text(err.detail, err.key)}"
    if err.field == "optimizer_hypers" and err.key:
        return f"--set {err.key}.{err.detail}"  # "--set sgd.momentum must be ..."
    if err.field in ("task_hypers", "schedule_hypers", "optimizer_hypers"):
        return f"--set {err.detail}"
    flag = flags.get(err.field, err.field)
    return f"{flag} {err.detail}" if err.detail.startswith("must") else f"{flag}: {err.detail}"


def _too_many_runs(runs: int, limit: int) -> str:
    from engine.sweep import MAX_RUNS_WITH_CONSENT

    if limit < MAX_RUNS_WITH_CONSENT:
        return (
            f"--yes: this sweep is {runs:,} runs, more than {limit:,}; add --yes to start it "
            f"(up to {MAX_RUNS_WITH_CONSENT:,} runs), or sweep fewer points, optimizers or seeds"
        )
    return (
        f"--lr, --grid, --seeds: this sweep is {runs:,} runs, more than the "
        f"{MAX_RUNS_WITH_CONSENT:,} any sweep may have (even with --yes); sweep fewer points, "
        "optimizers or seeds"
    )


# -- the command ----------------------------------------------------------------------------------


def _is_tty(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed
        return False


def _chart_lines(report: Any) -> list[str]:
    import shutil

    from tui.charts.sweep import sweep_chart_text

    size = shutil.get_terminal_size((100, 30))
    return [sweep_chart_text(report.spec, report.points, size.columns, min(24, size.lines))]


def handle(args: argparse.Namespace) -> int:
    """`optplay sweep`: run the sweep, write --out, print the table (and chart)."""
    single_threaded_blas()  # before NumPy loads: parallelism comes from the workers
    from engine.executors import ExecutorError, JobError
    from engine.sweep import MAX_RUNS, Sweep
    from engine.sweep_io import format_report, write_results

    try:
        spec = resolve_sweep(args)
        check_outputs(args.out)
        if spec.total_runs > MAX_RUNS and not args.yes:  # (the planned count was at most)
            raise UsageError(_too_many_runs(spec.total_runs, MAX_RUNS))
        executor = make_executor(args, spec.total_runs)
    except (UsageError, ExecutorError) as err:
        return fail(args, str(err))

    failure: str | None = None
    sweep = Sweep(spec, executor)
    status = 0
    with Cancel(sweep.cancel) as cancel:
        with executor:
            label = f"sweep ({executor.describe()})"
            with RunsProgress(sweep.total, label, enabled=not args.no_progress) as progress:
                try:
                    for row in sweep.results():
                        progress.advance(diverged=row.diverged)
                except (JobError, ExecutorError) as err:
                    failure = str(err)
                except KeyboardInterrupt:  # a second signal: stop waiting, keep what finished
                    sweep.cancel()
                cancel.hold()  # the finished rows are written whatever signal comes next
            report = sweep.report()
        for path in args.out:  # finished results first: nothing after this can lose them
            try:
                write_results(report, path)
            except OSError as err:
                fail(args, f"--out {path}: {err.strerror or err}")
                status = 2
        ascii_only = isinstance(sys.stdout, AsciiWriter)
        for line in format_report(report, output_width(), ascii_only).split("\n"):
            say(line)
        if _is_tty(sys.stdout) and not args.no_chart and report.points:
            for chart in _chart_lines(report):
                for line in chart.split("\n"):
                    emit(sys.stdout, line, raw=True)  # keeps plotext's colour codes
        for path in args.out:
            say(f"wrote {path}")
    if failure is not None:
        fail(args, failure)
        return 1
    if report.cancelled:
        emit(sys.stderr, f"{PROG} sweep: {cancel.word or 'interrupted'}")
        return cancel.exit_status or 130
    return status
