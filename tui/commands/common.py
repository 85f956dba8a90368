"""What the `optplay` commands share: argument types, output that survives a closed pipe,
the experiment/spec sources, `--set`, output checks, the progress bar, the stop signals and
headless stepping. Imports no UI library at import time (Rich loads only for a bar on a
terminal): the headless commands start fast.

    emit(stream, text) / say(text)        a line, control characters escaped, EPIPE-proof
    fail(args, message) -> 2 / note(...)  "optplay CMD: error: ..." / "... note: ..."
    load_source(config, preset)           Experiment, BenchSpec or SweepSpec (UsageError)
    refuse_source(args, source, wanted)   UsageError naming the kind of file given
    add_set_arg, parse_sets, set_error    `--set NAME=VALUE`: the flag, its pairs, a KnobError
    add_scoring_args(parser, seeds)       --steps --seeds --target(-fraction) --check-every --dtype
    check_outputs, write_outputs, finish_outputs   before training / after / "wrote" + errors
    ProgressBar, StopSignals, train       the headless run's bar, signals and chunked stepping
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from engine.textsafe import for_terminal

PROG = "optplay"

_PROGRESS_INTERVAL = 0.1  # seconds between progress-bar redraws (10 Hz)
_CHUNK_SECONDS = 0.05  # headless stepping chunk: short enough to react to Ctrl+C at once


class UsageError(Exception):
    """A bad argument or file: printed as `optplay CMD: error: ...`, exit status 2."""


# -- parser ---------------------------------------------------------------------------------


#: Counts past this do not fit the files' (signed 64-bit TOML) integers.
INT_LIMIT = 2**63


def positive_int(text: str) -> int:
    """An argparse type: an integer in [1, 2^63)."""
    return bounded_int(text, 1)


def nonneg_int(text: str) -> int:
    """An argparse type: an integer in [0, 2^63)."""
    return bounded_int(text, 0)


def bounded_int(text: str, low: int, bounded: bool = True) -> int:
    """An argparse type's check: an integer >= `low` (and < 2^63 when `bounded`)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
    if bounded and value >= INT_LIMIT:
        raise argparse.ArgumentTypeError(f"must be an integer in [{low}, 2^63), got {text!r}")
    return value


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, inf], got {text!r}") from None
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, inf], got {text!r}")
    return value


def add_source_args(parser: argparse.ArgumentParser, what: str) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help=f"start from this {what} file (TOML)")
    source.add_argument(
        "--preset", metavar="NAME", help="start from a shipped preset (see `optplay list presets`)"
    )


def add_set_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--set NAME=VALUE` (repeatable, into `args.sets`): the override grammar of
    engine/knobs.py, the same for every command."""
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"{help_text} (repeatable)",
    )


def add_scoring_args(parser: argparse.ArgumentParser, seeds_default: int) -> None:
    """How each run of a bench or sweep is scored: --steps, --seeds, --target or
    --target-fraction, --check-every, --dtype."""
    parser.add_argument("--steps", type=positive_int, metavar="N", help="updates per run")
    parser.add_argument(
        "--seeds", type=positive_int, metavar="K", help=f"seeds 0..K-1 (default {seeds_default})"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target", type=number, metavar="LOSS", help="target loss")
    target.add_argument(
        "--target-fraction",
        type=number,
        metavar="F",
        help="target = F x the initial loss (default 0.1)",
    )
    parser.add_argument(
        "--check-every", type=positive_int, metavar="N", help="evaluate every N steps"
    )
    parser.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")


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


def silence(stream: TextIO) -> None:
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


def emit(stream: TextIO, text: str, *, raw: bool = False) -> None:
    """Print a line with control characters escaped (`raw`: as it is, for our own colour
    codes); a closed pipe (EPIPE) or a hung-up terminal (EIO) silences the stream instead of
    raising: results never depend on it."""
    try:
        print(text if raw else for_terminal(text), file=stream, flush=True)
    except (OSError, ValueError):  # BrokenPipeError, EIO, a closed file object
        silence(stream)


def terminal_width(stream: TextIO) -> int | None:
    """The columns of the terminal `stream` writes to; None when it is not a terminal (a pipe
    or a file gets whole tables, to parse)."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((80, 24)).columns


def output_width() -> int:
    """Columns the commands' text and tables fit in: COLUMNS when it is set, else the
    terminal's width, 80 when stdout is not a terminal (issue 25: nothing wider)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), MIN_WIDTH)
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return max(shutil.get_terminal_size((80, 24)).columns, MIN_WIDTH) if tty else 80


#: Narrower terminals are written to as if they had this many columns.
MIN_WIDTH = 40


def for_stdout(text: str) -> str:
    """`text` as stdout will show it: on an ASCII terminal spelled out (α -> alpha) before
    it is wrapped, so the wrapped lines keep their width."""
    from tui.terminal import AsciiWriter, ascii_words

    return ascii_words(text) if isinstance(sys.stdout, AsciiWriter) else text


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped between words only: a name with a hyphen is never split over
    two lines (`linear-` / `regression`), and on an ASCII terminal the text is spelled out
    (λ -> lambda) before it is wrapped, so its lines keep their width (issue 25)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = " ".join(for_stdout(text).split())
        return textwrap.wrap(text, width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = " ".join(for_stdout(text).split())
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)  # fmt: skip


def use_help_formatter(parser: argparse.ArgumentParser) -> None:
    """`HelpFormatter` for `parser` and every sub-command parser under it."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                use_help_formatter(sub)


def wrap_row(prefix: str, text: str, width: int) -> list[str]:
    """`prefix` + `text`, the text wrapped at `width` between words, its next lines starting
    under its first (or 4 cells in from the prefix's indent when the prefix leaves no room).
    A word longer than a line is split: no line is wider than `width`."""
    prefix, text = for_stdout(prefix), for_stdout(text)
    hang = len(prefix)
    if width - hang < 24:
        hang = len(prefix) - len(prefix.lstrip()) + 4
    first, *rest = textwrap.wrap(
        text, width - hang, break_on_hyphens=False, break_long_words=True
    ) or [""]
    if len(prefix) + len(first) > width:  # the prefix is too long for the text beside it
        return [prefix.rstrip()[:width], *wrap_row(" " * hang, text, width)]
    return [(prefix + first).rstrip(), *(" " * hang + line for line in rest)]


def wrap_line(line: str, width: int, hang: int = 2) -> list[str]:
    """A line wrapped at `width`, its next lines indented `hang` cells more than it is."""
    line = for_stdout(line)
    indent = len(line) - len(line.lstrip())
    if len(line) <= width:
        return [line]
    return textwrap.wrap(
        line.strip(), width, initial_indent=" " * indent,
        subsequent_indent=" " * min(indent + hang, width // 2), break_on_hyphens=False,
    )  # fmt: skip


def say(text: str) -> None:
    emit(sys.stdout, text)


def flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            silence(stream)


def fail(args: argparse.Namespace, message: str) -> int:
    emit(sys.stderr, f"{PROG} {args.command_name}: error: {message}")
    return 2


def note(args: argparse.Namespace, message: str) -> None:
    emit(sys.stderr, f"{PROG} {args.command_name}: note: {message}")


# -- experiments: files, presets, flags and --set ----------------------------------------


def load_source(config_path: str | None = None, preset: str | None = None) -> Any:
    """The Experiment, BenchSpec or SweepSpec of `--config FILE` / `--preset NAME` (None if
    neither).

    Raises UsageError with a message naming the file and field. Also usable by the app's
    launcher for `optplay --config/--preset`."""
    if config_path is None and preset is None:
        return None  # the app's default run: nothing to load (or import)
    from engine import config, specfile
    from engine.config import ConfigError

    try:
        if preset is not None:
            from engine import presets

            return presets.load(preset)
        if config_path is not None:
            # Read (regular files of at most 1 MiB only: a FIFO or /dev/zero is refused
            # unread) and parsed once, whatever the file holds.
            spec = specfile.read(config_path)
            # The bench and sweep modules (and their process pools) load for their own files
            # only: an experiment opens the app without them.
            if spec.has_table("bench"):
                from engine import bench

                return bench.loads_spec(spec)
            if spec.has_table("sweep"):
                from engine import sweep_io

                return sweep_io.loads_spec(spec)
            return config.loads(spec)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    except ValueError as err:  # unknown preset
        raise UsageError(str(err)) from None
    return None


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


def set_error(err: Exception) -> UsageError:
    """A KnobError (engine/knobs.py) as every command shows it: "--set adam.nope: unknown knob
    'nope' for optimizer adam (its knobs: ...)", "--set beta1 must be a number in [0, 1),
    got '1.5' (optimizer adam)"."""
    return UsageError(f"--set {err}")


#: What each kind of file is called, and the command that runs it.
_SOURCE_KINDS = {
    "Experiment": ("an experiment", "run"),
    "BenchSpec": ("a bench spec", "bench"),
    "SweepSpec": ("a sweep spec", "sweep"),
}


def refuse_source(args: argparse.Namespace, source: Any, wanted: str) -> None:
    """UsageError when `source` (from --config/--preset) is not a `wanted` ("Experiment",
    "BenchSpec", "SweepSpec"), naming what it is and the command that runs it: "preset
    lr-sensitivity is a sweep spec, not an experiment: run it with `optplay sweep --preset
    lr-sensitivity`"."""
    kind = type(source).__name__
    if source is None or kind == wanted:
        return
    label = f"preset {args.preset}" if args.preset else args.config
    flag = f"--preset {args.preset}" if args.preset else f"--config {args.config}"
    what, command = _SOURCE_KINDS[kind]
    raise UsageError(
        f"{label} is {what}, not {_SOURCE_KINDS[wanted][0]}: run it with `{PROG} {command} {flag}`"
    )


def check_outputs(
    paths: Sequence[str],
    flag: str = "--out",
    file_format: Callable[[str], Any] | None = None,
) -> None:
    """Refuse, before any training, an output a save would refuse: a bad suffix (checked by
    `file_format`, default a history's .csv/.json), a missing folder, a name too long, a
    directory in the way, a folder where files cannot be created (`engine.files.check_writable`
    creates and removes a temporary file there)."""
    from engine.files import check_writable

    if file_format is None:
        from engine.history import export_format as file_format
    for path in paths:
        try:
            file_format(path)
        except ValueError as err:
            raise UsageError(f"{flag} {err}") from None
        parent = Path(path).parent
        if not parent.is_dir():
            raise UsageError(f"{flag} {path}: the directory {str(parent)!r} does not exist")
        try:
            check_writable(path)
        except OSError as err:
            raise UsageError(f"{flag} {path}: {err.strerror or err}") from None


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
    trained: Any,
    steps: int,
    interrupt: StopSignals | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> None:
    """Step a Run or a Race up to `steps` updates in chunks of ~50 ms (stops early when it
    diverged, every lane of a race did, or a signal came); the numbers do not depend on the
    chunking."""
    per_step: float | None = None
    while trained.steps_done < steps and not _diverged(trained):
        if interrupt is not None and interrupt.hit:
            break
        n = 1 if per_step is None else max(1, int(_CHUNK_SECONDS / per_step))
        n = min(n, steps - trained.steps_done)
        t0 = time.perf_counter()
        trained.step(n)
        elapsed = (time.perf_counter() - t0) / n
        per_step = elapsed if per_step is None else 0.5 * per_step + 0.5 * elapsed
        if on_chunk is not None:
            on_chunk()


def _diverged(trained: Any) -> bool:
    return getattr(trained, "diverged_at", None) is not None or getattr(
        trained, "all_diverged", False
    )


def write_outputs(
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


def finish_outputs(args: argparse.Namespace, written: Sequence[str], errors: Sequence[str]) -> int:
    """Say which files were written, then each error; 2 when a file could not be, else 0."""
    for path in written:
        say(f"wrote {path}")
    for message in errors:
        fail(args, message)
    return 2 if errors else 0


def split_list(values: Sequence[str] | None) -> list[str] | None:
    """`--tasks a b` and `--tasks a,b` alike."""
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]
