"""The headless commands of `optplay`: `run`, `bench` and `list` (and `sweep`, in its own
module tui/commands/sweep.py).

    optplay run --task T --optimizer O [--schedule S] [--set NAME=VALUE ...] [--steps N]
                [--seed K] [--config exp.toml | --preset NAME] [--out h.csv|h.json ...]
                [--state-out s.csv|s.json ...] [--state-every N]
    optplay bench [--tasks ...] [--optimizers ...] [--sizes ...] [--steps N] [--seeds K]
                  [--target LOSS | --target-fraction F] [--out b.csv|b.json] [--preset NAME]
                  [--workers N | --dask ADDRESS|local]
    optplay sweep ...             (see tui/commands/sweep.py)
    optplay list [optimizers|schedules|tasks|presets|lessons]   (list --presets = list presets)

`add_commands(subparsers)` adds the three subcommands to an argparse subparsers object (the
`optplay` parser in tui/__main__.py); each sets `handler` (args -> exit status). `main(argv)`
builds a parser with just these commands (for tests).

Exit status: 0 success; 1 the run diverged (a non-finite value, or the loss past
divergence_factor times its start); 2 bad arguments, a bad experiment file (the message names
the field or knob) or an output file that could not be written; 128 + the signal when a
signal ended the run: 130 Ctrl+C (SIGINT), 143 SIGTERM, 129 SIGHUP (a closed terminal or SSH
session). Whatever ended the run, what was trained is written to the --out files first, then
summarised.

Faults the commands survive: output files are checked before training (name length, folder,
permissions) and written before anything is printed; a closed stdout (`optplay run ... | head`)
or a vanished terminal loses no file and prints no traceback; further signals while the
history is being written wait for it; names from files are printed with control characters
escaped (`engine.textsafe.for_terminal`); `--config` reads regular files of at most 1 MiB.

`--set NAME=VALUE` picks the task's, optimizer's or schedule's knob called NAME; when several
have one (e.g. `period`), write `task.period=...`, `optimizer.period=...` or
`schedule.period=...`. Values are checked by the knob's spec ("beta1 must be a number in
[0, 1), got '1.5'"). This module imports no UI library: the headless commands start fast.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from engine.textsafe import for_terminal
from tui.commands.running import (
    Cancel,
    RunsProgress,
    add_executor_args,
    make_executor,
    single_threaded_blas,
)
from tui.terminal import ascii_stdout_if_needed

PROG = "optplay"
DEFAULT_RUN_STEPS = 1000
_PROGRESS_INTERVAL = 0.1  # seconds between progress-bar redraws (10 Hz)
_CHUNK_SECONDS = 0.05  # headless stepping chunk: short enough to react to Ctrl+C at once


class UsageError(Exception):
    """A bad argument or file: printed as `optplay CMD: error: ...`, exit status 2."""


# -- parser ---------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, inf], got {text!r}") from None
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, inf], got {text!r}")
    return value


def _add_source_args(parser: argparse.ArgumentParser, what: str) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help=f"start from this {what} file (TOML)")
    source.add_argument(
        "--preset", metavar="NAME", help="start from a shipped preset (see `optplay list presets`)"
    )


def add_commands(subparsers: Any) -> None:
    """Add `run`, `bench` and `list` to an argparse subparsers object. Each subcommand sets
    `handler` (a function args -> exit status) and `command_name`."""
    run = subparsers.add_parser(
        "run",
        help="train one run without the UI and write its history",
        description="Train one run headless: a progress bar on a terminal (none when piped), "
        "a summary at the end, the history written with --out. Exit status 0 on success, "
        "1 if the run diverged, 2 for bad arguments or a bad experiment file.",
    )
    _add_source_args(run, "experiment")
    run.add_argument("--task", metavar="T", help="task name (see `optplay list tasks`)")
    run.add_argument("--optimizer", metavar="O", help="optimizer name")
    run.add_argument("--schedule", metavar="S", help="learning-rate schedule (default constant)")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a knob, e.g. lr=0.01 or task.batch_size=64 (repeatable)",
    )
    run.add_argument(
        "--steps", type=_positive_int, metavar="N", help=f"updates (default {DEFAULT_RUN_STEPS})"
    )
    run.add_argument("--seed", type=_nonneg_int, metavar="K", help="seed (init and data order)")
    run.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")
    run.add_argument(
        "--eval-every", type=_nonneg_int, metavar="N", help="evaluate every N steps (0 = never)"
    )
    run.add_argument(
        "--divergence-factor",
        type=_factor,
        metavar="F",
        help="the run diverged once its loss passes the starting loss + F x max(|start|, 1) "
        "(default 1e6; inf = only non-finite values)",
    )
    run.add_argument(
        "--entry",
        metavar="NAME|K",
        help="for a race file or preset: which racer to run (name or 1-based index; default 1)",
    )
    run.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="FILE",
        help="write the history, one row per step: .csv or .json (repeatable)",
    )
    run.add_argument(
        "--state-out",
        action="append",
        default=[],
        metavar="FILE",
        help="write the optimizer-state summaries (quantiles of the effective lr, |m|, √v̂ "
        "... per parameter, bias corrections ...): .csv or .json (repeatable)",
    )
    run.add_argument(
        "--state-every",
        type=_positive_int,
        metavar="N",
        help="record the state summaries every N steps (default 1; needs --state-out)",
    )
    run.add_argument(
        "--save", metavar="FILE", help="write the resolved experiment (TOML) before training"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=cmd_run, command_name="run")

    bench = subparsers.add_parser(
        "bench",
        help="benchmark optimizers across tasks, sizes and seeds",
        description="A fresh run per (task, size, optimizer, seed); prints the mean and "
        "spread of the final loss, steps to reach a target loss and time per step.",
    )
    _add_source_args(bench, "bench spec")
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
    bench.add_argument("--steps", type=_positive_int, metavar="N", help="updates per run")
    bench.add_argument("--seeds", type=_positive_int, metavar="K", help="seeds 0..K-1 (default 3)")
    target = bench.add_mutually_exclusive_group()
    target.add_argument("--target", type=_number, metavar="LOSS", help="target loss")
    target.add_argument(
        "--target-fraction",
        type=_number,
        metavar="F",
        help="target = F x the initial loss (default 0.1)",
    )
    bench.add_argument(
        "--check-every", type=_positive_int, metavar="N", help="evaluate every N steps"
    )
    bench.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")
    bench.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a knob for every optimizer/task that has it (lr=0.01), or for one "
        "(sgd.lr=0.05, digits-mlp.batch_size=64) (repeatable)",
    )
    bench.add_argument(
        "--out", action="append", default=[], metavar="FILE", help="write results: .csv or .json"
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress line")
    add_executor_args(bench)
    bench.set_defaults(handler=cmd_bench, command_name="bench")

    listing = subparsers.add_parser(
        "list",
        help="list optimizers, schedules and tasks with their knobs",
        description="Every optimizer, schedule and task with its knobs: default, allowed "
        "range and meaning. `list presets` (or --presets: the same) lists only the shipped "
        "presets.",
    )
    listing.add_argument(
        "kind",
        nargs="?",
        choices=("optimizers", "schedules", "tasks", "presets", "lessons"),
        help="only this kind",
    )
    listing.add_argument(
        "--presets", action="store_true", help="list only the shipped presets (= list presets)"
    )
    listing.set_defaults(handler=cmd_list, command_name="list")

    from tui.commands import lesson as lesson_command  # `optplay lesson NAME`

    lesson_command.add_command(subparsers)

    from tui.commands.sweep import add_sweep_command  # imports this module: added last

    add_sweep_command(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """A parser with just the headless commands (what `main` uses)."""
    parser = argparse.ArgumentParser(prog=PROG, description="optplay's headless commands.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_commands(sub)
    return parser


def dispatch(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    default: Callable[[argparse.Namespace], int] | None = None,
) -> int:
    """Parse `argv` with `parser` and run the chosen command's handler (or `default`);
    returns the exit status (argparse's own errors: 2). Shared by `main` and the `optplay`
    entry point: it refuses `--option=--`, and ends with stdout flushed quietly."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ascii_stdout_if_needed()  # an ASCII terminal gets ASCII, never escapes or a crash
    try:
        refuse_double_dash_values(argv)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help (0) or a usage error (2)
            return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
        handler = getattr(args, "handler", None) or default
        if handler is None:
            parser.print_usage(sys.stderr)
            return 2
        return handler(args)
    except UsageError as err:
        emit(sys.stderr, f"{PROG}: error: {err}")
        return 2
    finally:
        _flush_quietly()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the command; returns the exit status (argparse's own errors: 2)."""
    return dispatch(build_parser(), argv)


def refuse_double_dash_values(argv: Sequence[str]) -> None:
    """UsageError for `--option=--`: argparse drops a "--" value, so `--steps=--` silently
    meant the default (issue 18)."""
    for arg in argv:
        if arg == "--":
            return  # what follows is positional
        m = re.fullmatch(r"(--[A-Za-z0-9][\w-]*)=--", arg)
        if m:
            raise UsageError(f"argument {m.group(1)}: expected a value, got '--'")


# -- output that survives a closed pipe or a vanished terminal -------------------------------


def _silence(stream: TextIO) -> None:
    """Point a stream whose reader is gone at /dev/null, so later writes and the final flush
    at exit neither fail nor print "Exception ignored" (a no-op for streams without a file
    descriptor, e.g. in tests)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def emit(stream: TextIO, text: str) -> None:
    """Print a line with control characters escaped; a closed pipe (EPIPE) or a hung-up
    terminal (EIO) silences the stream instead of raising: results never depend on it."""
    try:
        print(for_terminal(text), file=stream, flush=True)
    except (OSError, ValueError):  # BrokenPipeError, EIO, a closed file object
        _silence(stream)


def terminal_width(stream: TextIO) -> int | None:
    """The columns of the terminal `stream` writes to; None when it is not a terminal (a pipe
    or a file gets whole tables, to parse)."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((80, 24)).columns


def _say(text: str) -> None:
    emit(sys.stdout, text)


def _flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            _silence(stream)


def _fail(args: argparse.Namespace, message: str) -> int:
    emit(sys.stderr, f"{PROG} {args.command_name}: error: {message}")
    return 2


def _note(args: argparse.Namespace, message: str) -> None:
    emit(sys.stderr, f"{PROG} {args.command_name}: note: {message}")


# -- experiments: files, presets, flags and --set ----------------------------------------


def load_source(config_path: str | None = None, preset: str | None = None) -> Any:
    """The Experiment, BenchSpec or SweepSpec of `--config FILE` / `--preset NAME` (None if
    neither).

    Raises UsageError with a message naming the file and field. Also usable by the app's
    launcher for `optplay --config/--preset`."""
    if config_path is None and preset is None:
        return None  # the app's default run: nothing to load (or import)
    from engine import config
    from engine.config import ConfigError

    try:
        if preset is not None:
            from engine import presets

            return presets.load(preset)
        if config_path is not None:
            # Regular files of at most 1 MiB only: a FIFO or /dev/zero is refused unread.
            text = config.read_text(config_path)
            # The bench and sweep modules (and their process pools) load for their own files
            # only: an experiment opens the app without them.
            if _has_table(text, "bench"):
                from engine import bench

                return bench.loads_spec(text, config_path)
            if _has_table(text, "sweep"):
                from engine import sweep_io

                return sweep_io.loads_spec(text, config_path)
            return config.loads(text, config_path)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    except ValueError as err:  # unknown preset
        raise UsageError(str(err)) from None
    return None


def _has_table(text: str, table: str) -> bool:
    """Whether TOML text has a top-level `[table]` (a [bench] or [sweep] spec), as
    engine.bench.is_bench_text and engine.sweep_io.is_sweep_text decide."""
    from engine.config import ConfigError, parse_toml

    try:
        return isinstance(parse_toml(text).get(table), dict)  # bounded, as every parse
    except ConfigError:  # left to the experiment parser's message
        return False


def parse_sets(items: Sequence[str]) -> list[tuple[str, str]]:
    """`NAME=VALUE` strings as (name, value) pairs; UsageError for a malformed one."""
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        out.append((name, value))
    return out


def apply_sets(cfg: Any, sets: Sequence[tuple[str, str]]) -> Any:
    """`cfg` with the --set values applied (`RunConfig.with_knobs` routes and checks them);
    UsageError with the knob's message, e.g. "beta1 must be a number in [0, 1), got '1.5'"."""
    from engine.run import KnobError, RunConfigError

    try:
        return cfg.with_knobs(sets)
    except KnobError as err:
        shown = f"--set {err}" if err.detail.startswith(f"{err.key}: ") else str(err)
        raise UsageError(shown) from None
    except RunConfigError as err:  # a rule between knobs (e.g. warmup_steps < total_steps)
        raise UsageError(err.detail) from None


def _pick_entry(args: argparse.Namespace, experiment: Any, label: str) -> tuple[Any, str | None]:
    """The RunConfig (and name) to run from an experiment; races use --entry (default 1)."""
    if not experiment.race:
        if args.entry is not None:
            raise UsageError(f"--entry: {label} is a single run, not a race")
        return experiment.config, experiment.name
    entries = experiment.race
    names = [e.name or e.config.optimizer for e in entries]
    if args.entry is None:
        index = 0
        _note(
            args,
            f"{label} is a race of {len(entries)} ({', '.join(names)}); running entry 1 "
            f"({names[0]}). Pick another with --entry; race them all in the app.",
        )
    elif re.fullmatch(r"[0-9]{1,9}", args.entry) and 1 <= int(args.entry) <= len(entries):
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses
        index = int(args.entry) - 1
    elif args.entry in names:
        index = names.index(args.entry)
    else:
        raise UsageError(
            f"--entry: no racer {args.entry!r} in {label} (racers: {', '.join(names)}, "
            f"or 1-{len(entries)})"
        )
    return entries[index].config, entries[index].name or experiment.name


def _refuse_sweep(args: argparse.Namespace, source: Any, label: str | None) -> None:
    """UsageError pointing a sweep spec given to `run` or `bench` at `optplay sweep`."""
    from engine.sweep import SweepSpec

    if isinstance(source, SweepSpec):
        flag = f"--preset {args.preset}" if args.preset else f"--config {args.config}"
        raise UsageError(f"{label} is a sweep spec: run it with `optplay sweep {flag}`")


def resolve_run(args: argparse.Namespace) -> tuple[Any, int, str | None]:
    """(RunConfig, steps, name) from --config/--preset, then the flags, then --set."""
    from engine.bench import BenchSpec
    from engine.run import RunConfig, RunConfigError

    source = load_source(args.config, args.preset)
    label = f"preset {args.preset}" if args.preset else args.config
    steps = None
    name = None
    if isinstance(source, BenchSpec):
        flag = f"--preset {args.preset}" if args.preset else f"--config {args.config}"
        raise UsageError(f"{label} is a benchmark spec: run it with `optplay bench {flag}`")
    _refuse_sweep(args, source, label)
    try:
        if source is None:
            missing = [f"--{k}" for k in ("task", "optimizer") if getattr(args, k) is None]
            if missing:
                raise UsageError(
                    f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                    "(or start from --config FILE / --preset NAME)"
                )
            if args.entry is not None:
                raise UsageError("--entry picks a racer of a race file (--config or --preset)")
            cfg = RunConfig(task=args.task, optimizer=args.optimizer)
        else:
            cfg, name = _pick_entry(args, source, label)
            steps = source.steps
        changes: dict[str, Any] = {}
        for key in (
            "task",
            "optimizer",
            "schedule",
            "seed",
            "dtype",
            "eval_every",
            "divergence_factor",
        ):
            value = getattr(args, key)
            if value is not None:
                changes[key] = value
        if "schedule" in changes and changes["schedule"] != cfg.schedule:
            changes["schedule_hypers"] = {}
        if changes:
            cfg = cfg.replace(**changes)
    except RunConfigError as err:
        raise UsageError(str(err)) from None
    cfg = apply_sets(cfg, parse_sets(args.sets))
    return cfg, args.steps or steps or DEFAULT_RUN_STEPS, name


def _check_outputs(paths: Sequence[str], flag: str = "--out") -> None:
    """Refuse, before any training, an output a save would refuse: a bad suffix, a missing
    folder, a name too long, a directory in the way, a folder where files cannot be created
    (`engine.files.check_writable` creates and removes a temporary file there)."""
    from engine.files import check_writable
    from engine.history import export_format

    for path in paths:
        try:
            export_format(path)
        except ValueError as err:
            raise UsageError(f"{flag} {err}") from None
        parent = Path(path).parent
        if not parent.is_dir():
            raise UsageError(f"{flag} {path}: the directory {str(parent)!r} does not exist")
        try:
            check_writable(path)
        except OSError as err:
            raise UsageError(f"{flag} {path}: {err.strerror or err}") from None


def _check_state_outputs(args: argparse.Namespace) -> None:
    """--state-out paths: a .csv/.json name in an existing directory; --state-every needs one."""
    from engine.state_history import state_export_format

    if args.state_every is not None and not args.state_out:
        raise UsageError("--state-every needs --state-out FILE (where to write the summaries)")
    for path in args.state_out:
        try:
            state_export_format(path)
        except ValueError as err:
            raise UsageError(f"--state-out {err}") from None
        parent = Path(path).parent
        if not parent.is_dir():
            raise UsageError(f"--state-out {path}: the directory {str(parent)!r} does not exist")


# -- progress and stepping --------------------------------------------------------------------


class ProgressBar:
    """A Rich progress bar on a terminal (bar, percent, elapsed, ETA, a note), redrawn at most
    10 times a second and gone when `done()`; nothing when `stream` is not a TTY. Rich draws
    it in ASCII on a terminal that cannot show more."""

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.enabled = enabled and tty
        self._progress: Any = None
        self._task: Any = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(file=stream, stderr=stream is sys.stderr)
            self._progress = Progress(
                BarColumn(bar_width=None if console.width < 100 else 30),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=console,
                transient=True,
                refresh_per_second=1 / _PROGRESS_INTERVAL,
            )
            self._task = self._progress.add_task("", total=1.0, note="")
            try:
                self._progress.start()
            except (OSError, ValueError):
                self.enabled = False

    def show(self, fraction: float, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        try:
            self._progress.update(
                self._task, completed=max(0.0, min(1.0, fraction)), note=text, refresh=force
            )
        except (OSError, ValueError):  # the terminal is gone (SIGHUP): train on, silently
            self.enabled = False

    def done(self) -> None:
        if self._progress is not None:
            progress, self._progress = self._progress, None
            try:
                progress.stop()
            except (OSError, ValueError):
                pass
            self.enabled = False


#: Signals that end a headless run the way Ctrl+C does, and how the summary names them.
STOP_SIGNALS = {
    name: word
    for name, word in (("SIGINT", "interrupted"), ("SIGTERM", "terminated"), ("SIGHUP", "hung up"))
    if hasattr(signal, name)
}


class StopSignals:
    """Turns SIGINT, SIGTERM and SIGHUP into a flag checked between chunks (never stopping
    mid-update) for as long as the `with` block lasts: training stops at the next chunk, and
    signals arriving while the history is written are only counted, so the save finishes.
    `signum` is the first signal received (None if none), `hit` whether there was one."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self._old: dict[int, Any] = {}

    @property
    def hit(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return "" if self.signum is None else signal.Signals(self.signum).name

    @property
    def word(self) -> str:
        """ "interrupted (SIGINT)", "terminated (SIGTERM)", "hung up (SIGHUP)"."""
        return f"{STOP_SIGNALS.get(self.name, 'stopped')} ({self.name})" if self.hit else ""

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                signum = getattr(signal, name)
                self._old[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
        self._old.clear()


def train(
    run: Any,
    steps: int,
    interrupt: StopSignals | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> None:
    """Step `run` up to `steps` updates in chunks of ~50 ms (stops early on divergence or
    interruption); the numbers do not depend on the chunking."""
    per_step: float | None = None
    while run.steps_done < steps and run.diverged_at is None:
        if interrupt is not None and interrupt.hit:
            break
        n = 1 if per_step is None else max(1, int(_CHUNK_SECONDS / per_step))
        n = min(n, steps - run.steps_done)
        t0 = time.perf_counter()
        run.step(n)
        elapsed = (time.perf_counter() - t0) / n
        per_step = elapsed if per_step is None else 0.5 * per_step + 0.5 * elapsed
        if on_chunk is not None:
            on_chunk()


def _knobs_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items())


def summary_lines(run: Any, steps: int, stopped: str = "") -> list[str]:
    """The final summary of a headless run. Each loss says which series it is (see "Loss
    series" in the README): the last training batch loss and the latest evaluation. `stopped`
    says what ended the run early ("interrupted (SIGINT)"), if something did."""
    from engine.compare import Lane, format_number, format_seconds, result_of

    cfg = run.config
    r = result_of(Lane(cfg.optimizer, run))
    rows = [
        ("task", f"{cfg.task} ({_knobs_text(cfg.task_hypers)})"),
        ("optimizer", f"{cfg.optimizer} ({_knobs_text(cfg.optimizer_hypers)})"),
        (
            "schedule",
            cfg.schedule
            + (f" ({_knobs_text(cfg.schedule_hypers)})" if cfg.schedule_hypers else ""),
        ),
        ("seed", f"{cfg.seed} ({cfg.dtype})"),
        ("steps", f"{r.steps} of {steps}"),
    ]
    if r.steps:
        rows += [
            (
                "last batch loss",
                f"{format_number(r.final_loss, 6)} "
                f"(training loss of update {r.steps}, on its batch)",
            ),
            ("best batch loss", f"{format_number(r.best_loss, 6)} at step {r.best_step}"),
        ]
    m = run.metrics()
    step = run.history.last_step("eval_loss")
    if m["eval_loss"] is not None and step is not None:
        held_out = getattr(run.task, "X_test", None) is not None
        where = "held-out data" if held_out else "the whole objective"
        when = " (before training)" if step == 0 else ""
        rows.append(
            ("eval loss", f"{format_number(m['eval_loss'], 6)} at step {step}{when} ({where})")
        )
        if m["eval_accuracy"] is not None:
            rows.append(("eval accuracy", f"{100 * m['eval_accuracy']:.2f}%"))
    fit = run.task.fit_summary(run.params)  # e.g. linear regression's w, b vs least squares
    if fit is not None:
        rows.append(("final fit", fit))
    rows.append(("time/step", format_seconds(r.seconds_per_step)))
    if r.diverged:
        state = (
            f"diverged at step {r.diverged_at} ({run.divergence}; "
            f"the params are those of step {r.diverged_at - 1})"
        )
    elif stopped:
        state = f"{stopped} at step {r.steps}"
    else:
        state = "finished"
    rows.append(("state", state))
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v}" for k, v in rows]


# -- commands -----------------------------------------------------------------------------


def _write_outputs(
    args: argparse.Namespace,
    paths: Sequence[str],
    write: Callable[[str], None],
    flag: str = "--out",
) -> tuple[list[str], list[str]]:
    """Write each output file; (written paths, error messages). Never raises for an OSError:
    one full disk must not cost the other files."""
    written, errors = [], []
    for path in paths:
        try:
            write(path)
        except OSError as err:
            errors.append(f"{flag} {path}: {err.strerror or err}")
        else:
            written.append(path)
    return written, errors


def cmd_run(args: argparse.Namespace) -> int:
    """`optplay run`: train one run headless. The history is written to the --out files
    before anything is printed; exit status in the module docstring."""
    from engine import config
    from engine.history import export_history
    from engine.run import Run
    from engine.state_history import export_state

    try:
        cfg, steps, name = resolve_run(args)
        _check_outputs(args.out)
        _check_state_outputs(args)
        if args.state_out:
            cfg = cfg.replace(state_every=args.state_every or cfg.state_every or 1)
        if args.save:
            try:
                config.save(args.save, cfg, steps=steps, name=name)
            except OSError as err:
                raise UsageError(f"--save {args.save}: {err.strerror or err}") from None
    except UsageError as err:
        return _fail(args, str(err))

    # Full resolution only when the history or the state is written (one row per step).
    run = Run(cfg, history_capacity=None if args.out or args.state_out else 4096)
    bar = ProgressBar(sys.stderr, enabled=not args.no_progress)

    def show() -> None:
        loss = run.history.last("loss")
        rate = f"{1 / run.seconds_per_step:,.0f} steps/s" if run.seconds_per_step else ""
        bar.show(
            run.steps_done / steps,
            f"step {run.steps_done}/{steps}  loss {loss:.5g}  {rate}" if loss is not None else "",
        )

    # The signal handlers stay until the command is done: a second Ctrl+C (or a SIGTERM, a
    # SIGHUP) during the export or the summary is counted, and the export finishes.
    with StopSignals() as stop:
        try:
            train(run, steps, stop, show if bar.enabled else None)
        finally:
            bar.done()
        if stop.hit and (args.out or args.state_out):
            _note(
                args,
                f"{stop.word} at step {run.steps_done}: saving the history first "
                "(further signals wait for the save)",
            )
        lane = [(name or cfg.optimizer, run)]
        written, errors = _write_outputs(args, args.out, lambda path: export_history(lane, path))
        states, state_errors = _write_outputs(
            args, args.state_out, lambda path: export_state(lane, path), "--state-out"
        )
        written, errors = written + states, errors + state_errors
        early = stop.word if run.steps_done < steps and run.diverged_at is None else ""
        for line in summary_lines(run, steps, early):
            _say(line)
        for path in written:
            _say(f"wrote {path}")
        for message in errors:
            _fail(args, message)
    if errors:
        return 2
    if run.diverged_at is not None:
        return 1
    return 128 + stop.signum if stop.signum is not None else 0


def _split_list(values: Sequence[str] | None) -> list[str] | None:
    """`--tasks a b` and `--tasks a,b` alike."""
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def resolve_bench(args: argparse.Namespace) -> Any:
    """The BenchSpec of --preset/--config, overridden by the flags and --set."""
    import dataclasses

    from engine import optimizers, tasks
    from engine.bench import BenchError, BenchSpec

    source = load_source(args.config, args.preset)
    if source is not None and not isinstance(source, BenchSpec):
        label = f"preset {args.preset}" if args.preset else args.config
        _refuse_sweep(args, source, label)
        flag = f"--preset {args.preset}" if args.preset else f"--config {args.config}"
        raise UsageError(f"{label} is an experiment, not a bench spec: try `optplay run {flag}`")
    spec = source or BenchSpec()
    changes: dict[str, Any] = {}
    for flag, key in (("tasks", "tasks"), ("optimizers", "optimizers")):
        value = _split_list(getattr(args, flag))
        if value is not None:
            changes[key] = tuple(value)
    sizes = _split_list(args.sizes)
    if sizes is not None:
        try:
            changes["sizes"] = tuple(_positive_int(s) for s in sizes)
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
    for name, raw in parse_sets(args.sets):
        prefix, dot, knob = name.partition(".")
        task_knobs = {t: [h.name for h in tasks.specs(t)] for t in chosen_tasks}
        opt_knobs = {o: [h.name for h in optimizers.specs(o)] for o in chosen_opts}
        if dot and (prefix in chosen_tasks or prefix in chosen_opts):
            table, knobs = (
                (task_hypers, task_knobs) if prefix in chosen_tasks else (opt_hypers, opt_knobs)
            )
            if knob not in knobs[prefix]:
                raise UsageError(
                    f"unknown knob {knob!r} for {prefix} (its knobs: {', '.join(knobs[prefix])})"
                )
            table.setdefault(prefix, {})[knob] = raw
            continue
        if dot and prefix not in ("task", "optimizer"):
            raise UsageError(
                f"--set {name}: {prefix!r} is not a benchmarked task or optimizer, nor task. "
                "or optimizer."
            )
        key = knob if dot else name
        t_owners = [t for t in chosen_tasks if key in task_knobs[t]]
        o_owners = [o for o in chosen_opts if key in opt_knobs[o]]
        if dot:
            owners_t = t_owners if prefix == "task" else []
            owners_o = o_owners if prefix == "optimizer" else []
        else:
            owners_t, owners_o = t_owners, o_owners
            if t_owners and o_owners:
                raise UsageError(
                    f"{key!r} is a knob of tasks and of optimizers: write task.{key}=... or "
                    f"optimizer.{key}=..."
                )
        if not owners_t and not owners_o:
            raise UsageError(f"no benchmarked task or optimizer has a knob {key!r}")
        for t in owners_t:
            task_hypers.setdefault(t, {})[key] = raw
        for o in owners_o:
            opt_hypers.setdefault(o, {})[key] = raw
    changes["task_hypers"] = task_hypers
    changes["optimizer_hypers"] = opt_hypers
    try:
        return dataclasses.replace(spec, **changes)
    except BenchError as err:
        raise UsageError(str(err)) from None


def cmd_bench(args: argparse.Namespace) -> int:
    """`optplay bench`: run the benchmark on the executor (--workers / --dask), print the
    table, write --out files. Ctrl+C keeps and reports the runs that finished (exit 130)."""
    single_threaded_blas()  # before NumPy loads: parallelism comes from the workers
    from engine.bench import format_report, run_bench, write_report
    from engine.executors import ExecutorError, JobError

    try:
        spec = resolve_bench(args)
        _check_outputs(args.out)
        total = spec.seeds * len(spec.configs(0))
        executor = make_executor(args, total)
    except (UsageError, ExecutorError) as err:
        return _fail(args, str(err))
    with executor, Cancel() as cancel:
        label = f"bench ({executor.describe()})"
        with RunsProgress(total, label, enabled=not args.no_progress) as progress:

            def show(p: Any) -> None:
                size = "" if p.size is None else f" {spec.size_knob(p.task)}={p.size}"
                progress.advance(note=f"{p.task}{size} {p.optimizer} seed {p.seed}")

            try:
                report = run_bench(spec, show, executor, cancel.event)
            except (JobError, ExecutorError) as err:
                return _fail(args, str(err))
            cancel.hold()  # the finished runs are written whatever signal comes next
        # Finished results are written first, then printed; further signals wait.
        written, errors = _write_outputs(args, args.out, lambda path: write_report(report, path))
    for line in format_report(report, terminal_width(sys.stdout)).split("\n"):
        _say(line)
    for path in written:
        _say(f"wrote {path}")
    for message in errors:
        _fail(args, message)
    if errors:
        return 2
    if cancel.hit:
        emit(sys.stderr, f"{PROG} bench: {cancel.word or 'interrupted'}")
        return cancel.exit_status or 130
    return 0


def _hyper_rows(hypers: Sequence[Any]) -> list[str]:
    if not hypers:
        return ["      (no knobs)"]
    cells = [(h.name, h.format(h.default) or "-", h.range_text, h.help) for h in hypers]
    w0 = max(len(c[0]) for c in cells)
    w1 = max(len(c[1]) for c in cells)
    w2 = max(len(c[2]) for c in cells)
    return [f"      {a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in cells]


def list_lines(kind: str | None = None) -> list[str]:
    """What `optplay list` prints: every item with its summary and knobs (name, default,
    range, help); presets with their kind and title; lessons by topic."""
    from engine import optimizers, presets, schedules, tasks

    registries = {"optimizers": optimizers, "schedules": schedules, "tasks": tasks}
    kinds = [kind] if kind else list(registries)
    lines: list[str] = []
    for k in kinds:
        if lines:
            lines.append("")
        if k == "lessons":
            from tui.commands.lesson import list_lines as lesson_lines

            lines += lesson_lines()
            continue
        lines.append(k)
        if k == "presets":
            names = presets.names()
            width = max(len(n) for n in names)
            for n in names:
                lines.append(f"  {n:<{width}}  {presets.kind(n):<5}  {presets.title(n)}")
            continue
        registry = registries[k]
        for name in registry.names():
            lines.append(f"  {name}  {registry.summary(name)}")
            lines += _hyper_rows(registry.specs(name))
            if k == "optimizers":
                lines += _state_rows(optimizers.get(name).state_doc)
            if k == "tasks" and tasks.get(name).suggested_lr:
                lr = ", ".join(f"{o} {v:g}" for o, v in tasks.get(name).suggested_lr.items())
                lines.append(f"      suggested lr: {lr} (when a run sets no lr)")
    return lines


def _state_rows(doc: Any) -> list[str]:
    """What an optimizer keeps and how its effective lr is defined (under its knobs)."""
    kept = [f"{q.key} ({q.symbol}{'; when ' + q.knob if q.knob else ''})" for q in doc.state]
    return [f"      state: {', '.join(kept)}", f"      effective lr: {doc.effective_lr}"]


def cmd_list(args: argparse.Namespace) -> int:
    """`optplay list`: every optimizer, schedule and task with knobs, defaults and ranges;
    `list presets` and `list --presets` alike: the presets only."""
    if args.presets and args.kind not in (None, "presets"):
        return _fail(args, f"--presets lists only presets: drop it, or `{args.kind}`")
    for line in list_lines("presets" if args.presets else args.kind):
        _say(line)
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m tui.cli ...` for quick checks
    sys.exit(main())
