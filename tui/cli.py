"""The `optplay` commands as a table: each row is a module of tui/commands/ with its parser
and handler; this module only registers and dispatches them.

    optplay run ...        train one run headless                 tui/commands/run.py
    optplay bench ...      optimizers across tasks, sizes, seeds  tui/commands/bench.py
    optplay list [KIND]    optimizers, schedules, tasks, ...      tui/commands/listing.py
    optplay lesson NAME    a tutorial's claim and its verdict     tui/commands/lesson.py
    optplay sweep ...      loss against one or two knobs          tui/commands/sweep.py
    optplay theory ...     limits, optimal rates, predicted loss  tui/commands/theory.py
    optplay serve          the app in a web browser               tui/commands/serve.py
    optplay plot INPUT...  pictures: PNG, SVG, PDF, GIF, text     tui/commands/plot.py
    optplay runs ...       the runs kept in the run store         tui/commands/runs.py
    optplay code ...       the experiment as a numpy/torch/optax script   tui/commands/code.py

A command module defines `NAME` (the word typed), `add_parser(subparsers)` (adds its
argparse parser and returns it) and `handle(args) -> exit status`; what commands share
(output, sources, `--set`, progress, signals) is public in tui/commands/common.py. Adding a
command is one new module and one row in `COMMANDS`. The app itself (`optplay` without a
command) is tui/__main__.py. Nothing here imports a UI library: headless commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from tui.commands import bench, code, lesson, listing, plot, run, runs, serve, sweep, theory
from tui.commands.common import (
    PROG,
    HelpFormatter,
    UsageError,
    emit,
    flush_quietly,
    refuse_double_dash_values,
    use_help_formatter,
)
from tui.terminal import ascii_stdout_if_needed

#: Every `optplay` command, in the order `optplay --help` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    run,
    bench,
    listing,
    lesson,
    sweep,
    theory,
    serve,
    plot,
    runs,
    code,
)


def add_commands(subparsers: Any) -> None:
    """Add every command of `COMMANDS` to an argparse subparsers object; each parser gets
    `handler` (the module's `handle`: args -> exit status) and `command_name`."""
    for command in COMMANDS:
        parser = command.add_parser(subparsers)
        parser.set_defaults(handler=command.handle, command_name=command.NAME)
        use_help_formatter(parser)


def build_parser() -> argparse.ArgumentParser:
    """A parser with just the commands (what `main` uses)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="optplay's commands.", formatter_class=HelpFormatter
    )
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
        from tui.settings import apply_compiled

        apply_compiled()  # `compiled = false` in the settings: NumPy for every command
        return handler(args)
    except UsageError as err:
        emit(sys.stderr, f"{PROG}: error: {err}")
        return 2
    finally:
        flush_quietly()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the command; returns the exit status (argparse's own errors: 2)."""
    return dispatch(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover - `python -m tui.cli ...` for quick checks
    sys.exit(main())
