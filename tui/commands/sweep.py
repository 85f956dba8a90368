"""`optplay sweep`: final loss against one or two knobs, per optimizer, every point a fresh run.

    optplay sweep --task digits-mlp --optimizers sgd momentum adam --lr 1e-4:1e1:13 --seeds 2
    optplay sweep --task quadratic --optimizers momentum --lr 1e-3:1:7 --grid momentum=0:0.99:8
    optplay sweep --preset lr-sensitivity --workers 2 --out lr.csv
    optplay sweep --preset lr-sensitivity --dask tcp://scheduler:8786

The swept knobs: `--lr A:B:N` (N log-spaced rates from A to B, or a list `--lr 0.01,0.1`) and
`--grid NAME=VALUES` (repeatable; VALUES a list `0.8,0.9,0.99` or a grid `A:B:N`, spaced on
the knob's scale, `A:B:N:log` / `A:B:N:linear` to choose); two knobs at most. Given on the
command line, they replace the grid of --config/--preset. Fixed knobs: `--set NAME=VALUE` for
the task, the schedule or every optimizer that has NAME; `--set adam.beta2=0.99` for one.

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

from tui.cli import (
    PROG,
    UsageError,
    _add_source_args,
    _check_outputs,
    _fail,
    _number,
    _positive_int,
    _split_list,
    load_source,
    parse_sets,
)
from tui.commands.running import (
    Cancel,
    RunsProgress,
    add_executor_args,
    make_executor,
    single_threaded_blas,
)


def add_sweep_command(subparsers: Any) -> None:
    """Add `sweep` to an argparse subparsers object (sets `handler` and `command_name`)."""
    sweep = subparsers.add_parser(
        "sweep",
        help="final loss against one or two knobs, per optimizer (fresh run per point)",
        description="Sweep one or two knobs: every grid point of every optimizer and seed is "
        "a fresh run, scored like `optplay bench`. Prints a table (and a chart on a "
        "terminal); --out writes one row per run. Runs on all cores by default, or on a Dask "
        "cluster. Exit status 0 done, 1 a run failed, 2 bad arguments, 128 + the signal when "
        "interrupted (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP: the finished runs are kept).",
    )
    _add_source_args(sweep, "sweep spec")
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
    sweep.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a fixed knob: of the task, the schedule or every optimizer that has it "
        "(task.hidden=64, momentum=0.9), or of one optimizer (adam.beta2=0.99) (repeatable)",
    )
    sweep.add_argument("--steps", type=_positive_int, metavar="N", help="updates per run")
    sweep.add_argument("--seeds", type=_positive_int, metavar="K", help="seeds 0..K-1 (default 1)")
    target = sweep.add_mutually_exclusive_group()
    target.add_argument("--target", type=_number, metavar="LOSS", help="target loss")
    target.add_argument(
        "--target-fraction",
        type=_number,
        metavar="F",
        help="target = F x the initial loss (default 0.1)",
    )
    sweep.add_argument(
        "--check-every", type=_positive_int, metavar="N", help="evaluate every N steps"
    )
    sweep.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")
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
    sweep.set_defaults(handler=cmd_sweep, command_name="sweep")


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
    sets: list[tuple[str, str]],
    task: str,
    opts: tuple[str, ...],
    schedule: str,
    task_hypers: dict[str, Any],
    opt_hypers: dict[str, dict[str, Any]],
    schedule_hypers: dict[str, Any],
) -> None:
    """Put each --set knob in the table(s) it belongs to (see the module docstring)."""
    from engine import optimizers, schedules, tasks

    task_knobs = {h.name for h in tasks.specs(task)}
    sched_knobs = {h.name for h in schedules.specs(schedule)}
    opt_knobs = {o: {h.name for h in optimizers.specs(o)} for o in opts}
    for name, raw in sets:
        prefix, dot, knob = name.partition(".")
        if dot and prefix in opts:
            if knob not in opt_knobs[prefix]:
                have = ", ".join(h.name for h in optimizers.specs(prefix))
                raise UsageError(f"--set {name}: {prefix} has no knob {knob!r} (its knobs: {have})")
            opt_hypers.setdefault(prefix, {})[knob] = raw
            continue
        if dot and prefix not in ("task", "optimizer", "schedule"):
            raise UsageError(
                f"--set {name}: {prefix!r} is not a swept optimizer, nor task., optimizer. or "
                "schedule."
            )
        key = knob if dot else name
        in_task = key in task_knobs and prefix in ("task", key)
        in_sched = key in sched_knobs and prefix in ("schedule", key)
        in_opts = [o for o in opts if key in opt_knobs[o]] if prefix in ("optimizer", key) else []
        found = (("task", in_task), ("schedule", in_sched), ("optimizer", bool(in_opts)))
        owners = [kind for kind, has in found if has]
        if not owners:
            raise UsageError(
                f"--set {name}: no task, schedule or swept optimizer has a knob {key!r}"
            )
        if len(owners) > 1:
            forms = " or ".join(f"{w}.{key}=..." for w in owners)
            raise UsageError(f"--set {name}: {key!r} is a knob of the {' and the '.join(owners)}: "
                             f"write {forms}")  # fmt: skip
        if in_task:
            task_hypers[key] = raw
        elif in_sched:
            schedule_hypers[key] = raw
        else:
            for o in in_opts:
                opt_hypers.setdefault(o, {})[key] = raw


def resolve_sweep(args: argparse.Namespace) -> Any:
    """The SweepSpec of --config/--preset, overridden by the flags; UsageError naming the flag
    or field on any problem (the whole plan is validated: nothing has run)."""
    from engine import optimizers, schedules, tasks
    from engine.sweep import MAX_RUNS, MAX_RUNS_WITH_CONSENT, SweepError, SweepSpec

    source = load_source(args.config, args.preset)
    if source is not None and not isinstance(source, SweepSpec):
        label = f"preset {args.preset}" if args.preset else args.config
        raise UsageError(f"{label} is not a sweep spec (it has no [sweep] table)")
    task = args.task or (source.task if source else None)
    opts = _split_list(args.optimizers)
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
    _route_sets(
        parse_sets(args.sets), task, tuple(opts), schedule, task_hypers, opt_hypers,
        schedule_hypers,
    )  # fmt: skip
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


def _chart_lines(report: Any) -> list[str]:
    import shutil

    from tui.charts.sweep import sweep_chart_text

    size = shutil.get_terminal_size((100, 30))
    return [sweep_chart_text(report.spec, report.points, size.columns, min(24, size.lines))]


def cmd_sweep(args: argparse.Namespace) -> int:
    """`optplay sweep`: run the sweep, write --out, print the table (and chart)."""
    single_threaded_blas()  # before NumPy loads: parallelism comes from the workers
    from engine.executors import ExecutorError, JobError
    from engine.sweep import MAX_RUNS, Sweep
    from engine.sweep_io import format_report, write_results
    from engine.textsafe import for_terminal

    try:
        spec = resolve_sweep(args)
        _check_outputs(args.out)
        if spec.total_runs > MAX_RUNS and not args.yes:  # (the planned count was at most)
            raise UsageError(_too_many_runs(spec.total_runs, MAX_RUNS))
        executor = make_executor(args, spec.total_runs)
    except (UsageError, ExecutorError) as err:
        return _fail(args, str(err))

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
                shown = for_terminal(f"--out {path}: {err.strerror or err}")
                print(f"{PROG} sweep: error: {shown}", file=sys.stderr)
                status = 2
        print(format_report(report))
        if sys.stdout.isatty() and not args.no_chart and report.points:
            for line in _chart_lines(report):
                print(line)
        for path in args.out:
            print(f"wrote {for_terminal(path)}")
    if failure is not None:
        print(f"{PROG} sweep: error: {failure}", file=sys.stderr)
        return 1
    if report.cancelled:
        print(f"{PROG} sweep: {cancel.word or 'interrupted'}", file=sys.stderr)
        return cancel.exit_status or 130
    return status
