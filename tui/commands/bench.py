"""`optplay bench`: compare optimizers across tasks, sizes and seeds.

    optplay bench [--tasks ...] [--optimizers ...] [--sizes ...] [--steps N] [--seeds K]
                  [--target LOSS | --target-fraction F] [--out b.csv|b.json] [--preset NAME]
                  [--set NAME=VALUE ...] [--tune-lr LR ...] [--workers N | --dask ADDRESS|local]

`--set` is the override grammar of engine/knobs.py over the benchmarked tasks and optimizers:
`lr=0.01` for every optimizer that has lr, `sgd.lr=0.05` or `digits-mlp.batch_size=64` for
one. `--tune-lr GRID` tunes each optimizer's lr per task on the grid first (`engine.bench.
tune_lrs`: lowest held-out loss at seed 0) and the table's note says so. Ctrl+C keeps and
reports the runs that finished (exit 130); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import math
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
    finish_outputs,
    load_source,
    parse_sets,
    positive_int,
    refuse_source,
    say,
    set_error,
    split_list,
    terminal_width,
    write_outputs,
)
from tui.commands.running import (
    Cancel,
    RunsProgress,
    add_executor_args,
    make_executor,
    single_threaded_blas,
)

NAME = "bench"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay bench` and its flags."""
    bench = subparsers.add_parser(
        "bench",
        help="benchmark optimizers across tasks, sizes and seeds",
        description="A fresh run per (task, size, optimizer, seed); prints the mean and "
        "spread of the final loss, steps to reach a target loss and time per step.",
    )
    add_source_args(bench, "bench spec")
    bench.add_argument("--tasks", nargs="+", metavar="T", help="tasks (default digits-mlp)")
    bench.add_argument(
        "--optimizers",
        nargs="+",
        metavar="O",
        help="optimizers (default sgd momentum adam adamw nadam)",
    )
    bench.add_argument(
        "--sizes", nargs="+", metavar="N", help="values of each task's size knob (e.g. hidden)"
    )
    add_scoring_args(bench, seeds_default=3)
    add_set_arg(
        bench,
        "a knob for every optimizer/task that has it (lr=0.01), or for one "
        "(sgd.lr=0.05, digits-mlp.batch_size=64)",
    )
    bench.add_argument(
        "--out", action="append", default=[], metavar="FILE", help="write results: .csv or .json"
    )
    bench.add_argument(
        "--tune-lr",
        nargs="+",
        metavar="LR",
        help="tune each optimizer's lr per task on this grid (e.g. 1e-3,3e-3,1e-2) before "
        "comparing: the rate with the lowest held-out loss at seed 0",
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress line")
    add_executor_args(bench)
    return bench


def resolve_bench(args: argparse.Namespace) -> Any:
    """The BenchSpec of --preset/--config, overridden by the flags and --set."""
    import dataclasses

    from engine import optimizers, tasks
    from engine.bench import BenchError, BenchSpec
    from engine.knobs import KnobError, Owner, resolve

    source = load_source(args.config, args.preset)
    refuse_source(args, source, "BenchSpec")
    spec = source or BenchSpec()
    changes: dict[str, Any] = {}
    for flag, key in (("tasks", "tasks"), ("optimizers", "optimizers")):
        value = split_list(getattr(args, flag))
        if value is not None:
            changes[key] = tuple(value)
    sizes = split_list(args.sizes)
    if sizes is not None:
        try:
            changes["sizes"] = tuple(positive_int(s) for s in sizes)
        except argparse.ArgumentTypeError as err:
            raise UsageError(f"--sizes: {err}") from None
    for key in ("steps", "seeds", "target", "target_fraction", "check_every", "dtype"):
        value = getattr(args, key)
        if value is not None:
            changes[key] = value
    if args.target is not None:
        changes.setdefault("target_fraction", spec.target_fraction)
    if args.target_fraction is not None:
        changes["target"] = None
    chosen_tasks = changes.get("tasks", spec.tasks)
    chosen_opts = changes.get("optimizers", spec.optimizers)
    # Knob tables from the spec, kept only for what is still benchmarked.
    task_hypers = {k: dict(v) for k, v in spec.task_hypers.items() if k in chosen_tasks}
    opt_hypers = {k: dict(v) for k, v in spec.optimizer_hypers.items() if k in chosen_opts}
    try:
        for t in chosen_tasks:
            tasks.get(t)
        for o in chosen_opts:
            optimizers.get(o)
    except ValueError as err:
        raise UsageError(str(err)) from None
    owners = [Owner("task", t) for t in chosen_tasks]
    owners += [Owner("optimizer", o) for o in chosen_opts]
    try:
        for owner, knob, raw in resolve(parse_sets(args.sets), owners):
            table = task_hypers if owner.kind == "task" else opt_hypers
            table.setdefault(owner.name, {})[knob] = raw  # as typed: the spec keeps text
    except KnobError as err:
        raise set_error(err) from None
    changes["task_hypers"] = task_hypers
    changes["optimizer_hypers"] = opt_hypers
    try:
        return dataclasses.replace(spec, **changes)
    except BenchError as err:
        raise UsageError(str(err)) from None


def tune_grid(args: argparse.Namespace) -> tuple[float, ...]:
    """The --tune-lr grid (values separated by spaces or commas; empty: no tuning)."""
    values = split_list(args.tune_lr)
    if values is None:
        return ()
    grid = []
    for text in values:
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and x > 0):
            raise UsageError(f"--tune-lr: each rate must be a number > 0, got {text!r}")
        grid.append(x)
    return tuple(grid)


def handle(args: argparse.Namespace) -> int:
    """`optplay bench`: run the benchmark on the executor (--workers / --dask), print the
    table, write --out files. Ctrl+C keeps and reports the runs that finished (exit 130)."""
    single_threaded_blas()  # before NumPy loads: parallelism comes from the workers
    from engine.bench import BenchError, format_report, run_bench, tune_lrs, write_report
    from engine.executors import ExecutorError, JobError

    try:
        spec = resolve_bench(args)
        grid = tune_grid(args)
        check_outputs(args.out)
        total = spec.seeds * len(spec.configs(0))
        executor = make_executor(args, total)
    except (UsageError, ExecutorError) as err:
        return fail(args, str(err))
    with executor, Cancel() as cancel:
        label = f"bench ({executor.describe()})"
        with RunsProgress(total, label, enabled=not args.no_progress) as progress:

            def show(p: Any) -> None:
                size = "" if p.size is None else f" {spec.size_knob(p.task)}={p.size}"
                progress.advance(note=f"{p.task}{size} {p.optimizer} seed {p.seed}")

            try:
                if grid:
                    spec = tune_lrs(spec, grid, executor, cancel.event)
                report = run_bench(spec, show, executor, cancel.event)
            except (JobError, ExecutorError, BenchError) as err:
                return fail(args, str(err))
            cancel.hold()  # the finished runs are written whatever signal comes next
        # Finished results are written first, then printed; further signals wait.
        written, errors = write_outputs(args, args.out, lambda path: write_report(report, path))
    for line in format_report(report, terminal_width(sys.stdout)).split("\n"):
        say(line)
    if finish_outputs(args, written, errors):
        return 2
    if cancel.hit:
        emit(sys.stderr, f"{PROG} bench: {cancel.word or 'interrupted'}")
        return cancel.exit_status or 130
    return 0
