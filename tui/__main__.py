"""The `optplay` command.

    optplay                      open the app (rosenbrock, adam)
    optplay --config FILE        open the app with an experiment file's settings (a race
                                 file, with [[race]] entries, opens as that race)
    optplay --preset NAME        open the app with a shipped preset (optplay list presets)
    optplay --dask ADDRESS|local the app's sweeps and lesson seeds run on a Dask cluster
    optplay --optimizer-file PATH.py   open the app with your own optimizer (runs the file)
    optplay run | bench | sweep | lesson | list   the headless commands
    optplay serve                the app in a web browser

The app part lives here; the commands are the table of tui/cli.py (`add_commands`), each
setting `handler` (args -> exit status). Without a command the app opens.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import Any

# The commands (tui.cli and what it imports) load in `main`, with the cyclic GC off.


def version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("optplay")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """`--version`: print the version and exit. Looked up only when asked: importlib.metadata
    and the distribution lookup would otherwise slow every launch of the app."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 **kwargs: Any) -> None:  # fmt: skip
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from engine.optimizers.compiled import describe
        from tui.settings import apply_compiled

        apply_compiled()
        sys.stdout.write(f"{parser.prog} {version()}\noptimizer kernels: {describe()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from tui.cli import add_commands
    from tui.commands.common import PROG, HelpFormatter

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A terminal playground for gradient-based optimizers: "
        "pick, tune, run and watch live. Without a command, opens the app.",
        formatter_class=HelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", metavar="FILE", help="open the app with this experiment file (TOML)"
    )
    source.add_argument(
        "--preset", metavar="NAME", help="open the app with a shipped preset (optplay list presets)"
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        dest="global_dask",
        help="run jobs (the app's sweeps and lesson seeds; sweep, bench and lesson without "
        "their own --dask) on a Dask cluster: its scheduler address, or 'local'",
    )
    parser.add_argument(
        "--optimizer-file",
        metavar="PATH.py",
        dest="app_optimizer_file",
        help="open the app with your own optimizer class from a Python file, picked unless "
        "--config/--preset names another (contract: README); this RUNS THE FILE'S CODE, so "
        "use only files you trust",
    )
    parser.add_argument("--version", action=VersionAction)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_commands(commands)
    return parser


def cmd_app(args: argparse.Namespace) -> int:
    """Open the app; the exit status is 0 when the user quits."""
    # The cyclic GC would run some 270 times while the app loads and draws its first frame
    # (about 50 ms; nearly all it finds is alive): off until then (the app turns it back on
    # after its first frame, tui/app.py on_mount), and on again whatever happens here.
    gc.disable()
    try:
        return open_app(args)
    finally:
        gc.enable()


def open_app(args: argparse.Namespace) -> int:
    """The app of `--config` / `--preset` (or the default run), run until the user quits;
    2 with a message when the source is not a run."""
    from tui.commands.common import PROG, UsageError, emit, load_source, refuse_source

    try:
        loaded = load_named_optimizer_file(args.app_optimizer_file)
        source = load_source(args.config, args.preset)
        refuse_source(args, source, "Experiment")
    except UsageError as error:
        emit(sys.stderr, f"{PROG}: error: {error}")
        return 2

    from tui.app import create_app  # Textual loads only when the app opens

    if source is None and loaded is not None:
        from engine.run import RunConfig
        from engine.session import DEFAULT_TASK

        source = RunConfig(task=DEFAULT_TASK, optimizer=loaded)
    # An experiment with [[race]] entries opens as a race (all its racers), not its first run.
    app = create_app(experiment=source, save_path=args.config, dask=args.global_dask)
    app.defer_sidebar = True  # the first screen drawn sooner; sidebar, other charts a moment later
    app.run()
    return app.return_code or 0


def load_named_optimizer_file(path: str | None) -> str | None:
    """Register the optimizer of `--optimizer-file` (the user named it: its code runs); its
    name, None without the flag; UsageError with the message `optplay run` gives."""
    if path is None:
        return None
    from engine.optimizer_file import OptimizerFileError, load_optimizer_file
    from tui.commands.common import UsageError

    try:
        return load_optimizer_file(path)
    except OptimizerFileError as err:
        raise UsageError(str(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: parse `argv` (default: the process's arguments) and dispatch
    (without a subcommand, the app opens)."""
    # NumPy on one BLAS thread (a user's own setting wins), set before anything loads it
    # (the parser does: `optplay code` lists engine.codegen's frameworks). OpenBLAS's extra
    # threads spin as it loads (~90 ms of CPU taken from the app's first screen on a 2-core
    # machine) and then contend with the UI and training threads; optplay's matrices are
    # small, so they never made a run faster, and a run's numbers are the same either way.
    # Sweeps and benches wanted this already for their workers' sake (tui/commands/running.py).
    # The cyclic GC stays off while the commands load and the parser is built (some 40
    # collections, finding nothing to free); the app keeps it off to its first frame (cmd_app),
    # every other command runs with it on.
    gc.disable()
    try:
        from tui.cli import dispatch
        from tui.commands.running import single_threaded_blas

        single_threaded_blas()
        parser = build_parser()
    finally:
        gc.enable()
    return dispatch(parser, argv, default=cmd_app)


if __name__ == "__main__":
    sys.exit(main())
