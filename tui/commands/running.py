"""What `optplay sweep` and `optplay bench` share to run many runs: the executor flags
(`--workers`, `--dask`), a Rich progress bar with an ETA, and Ctrl+C (or SIGTERM, SIGHUP) as
"cancel".

    add_executor_args(parser)
    executor = make_executor(args, runs)          # ExecutorError (exit 2) before anything runs
    with executor, Cancel() as cancel, RunsProgress(total, "sweep", enabled) as progress:
        ... executor.map_unordered(fn, jobs, cancel.event) ... progress.advance(diverged=...)

Rich is imported only when the bar is shown (a terminal on stderr), so the commands start
fast and print nothing extra when piped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

#: Environment variables that give each NumPy process a single BLAS thread.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> None:
    """Run this process's NumPy on one BLAS thread, when NumPy is not loaded yet (a user's own
    setting wins). The runs of a sweep are small: threads inside one matrix product only
    contend with the other runs' processes (3x slower serially on a loaded 2-core machine);
    parallelism comes from running runs side by side."""
    if "numpy" in sys.modules:
        return
    for key in _BLAS_THREADS:
        os.environ.setdefault(key, "1")


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    """--workers N and --dask ADDRESS|local."""
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="worker processes (default: one per core; 1 runs everything in this process); "
        "with --dask local, the local cluster's size",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="send the runs to a Dask cluster: its scheduler address (tcp://host:8786), or "
        "'local' to start one on this machine (needs the dask extra)",
    )


def make_executor(args: argparse.Namespace, runs: int) -> Any:
    """The executor the flags ask for (a command's own --dask, else the global `optplay
    --dask`). Raises ExecutorError (Dask missing, no scheduler at the address, --workers with
    a remote scheduler): a one-line message naming the flag."""
    from engine.jobs import executor_for

    dask = args.dask if args.dask is not None else getattr(args, "global_dask", None)
    return executor_for(dask, args.workers, runs)


def local_executor(runs: int, workers: int | None = None) -> Any:
    """The executor for `runs` runs on this machine: a process pool of `workers` (default:
    one per core, never more than the runs), or this process when that is one. The app's
    sweep screen uses it too."""
    from engine.jobs import executor_for

    return executor_for(None, workers, runs)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class RunsProgress:
    """A Rich progress bar of finished runs on stderr: count, elapsed time, ETA, and how many
    diverged. Does nothing unless enabled and stderr is a terminal."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total = total
        self.label = label
        self.enabled = enabled and _is_tty(sys.stderr)
        self.diverged = 0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> RunsProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, note="")
        return self

    def advance(self, diverged: bool = False, note: str | None = None) -> None:
        self.diverged += bool(diverged)
        if self._progress is None:
            return
        text = note if note is not None else f"{self.diverged} diverged" if self.diverged else ""
        self._progress.update(self._task, advance=1, note=text)

    def message(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, note=text)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


#: The signals that cancel a run of many runs, as Ctrl+C does.
CANCEL_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Cancel:
    """SIGINT (Ctrl+C), SIGTERM and SIGHUP set `event` (and call `on_cancel`) instead of ending
    the process: runs in flight stop, finished results are kept and written, and the command
    exits with `exit_status` (128 + the signal). `signum` is the first signal received. A second
    signal raises KeyboardInterrupt (stop waiting for the runs in flight), unless `hold()` was
    called: from then on (writing the results) further signals are only counted."""

    def __init__(self, on_cancel: Callable[[], None] | None = None) -> None:
        self.event = threading.Event()
        self.on_cancel = on_cancel
        self.signum: int | None = None
        self.count = 0
        self._holding = False
        self._old: dict[int, Any] = {}

    @property
    def hit(self) -> bool:
        return self.event.is_set()

    @property
    def exit_status(self) -> int:
        """128 + the signal that cancelled (130 for Ctrl+C, 143 SIGTERM, 129 SIGHUP); 0 if none."""
        return 128 + self.signum if self.signum is not None else 0

    @property
    def word(self) -> str:
        """ "interrupted (SIGINT)", "terminated (SIGTERM)", "hung up (SIGHUP)"; "" if none."""
        if self.signum is None:
            return ""
        name = signal.Signals(self.signum).name
        words = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}
        return f"{words.get(name, 'stopped')} ({name})"

    def hold(self) -> None:
        """Further signals are only counted (the finished results are being written)."""
        self._holding = True

    def __enter__(self) -> Cancel:
        if threading.current_thread() is threading.main_thread():
            for signum in CANCEL_SIGNALS:
                self._old[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.event.is_set():
            if self._holding:
                return
            raise KeyboardInterrupt
        self.signum = signum
        self.event.set()
        if self.on_cancel is not None:
            self.on_cancel()

    def __exit__(self, *exc: object) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
        self._old.clear()
