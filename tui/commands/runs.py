"""`optplay runs`: the runs kept in the local store (engine/store.py).

    optplay runs [list] [--task T] [--optimizer O] [--since WHEN] [--limit N] [--json]
    optplay runs show ID
    optplay runs rm ID [ID ...]
    optplay runs export ID --out FILE.json|.csv|.toml
    optplay runs gc --keep N

`--since` takes a date (2026-12-01), a date and time (2026-12-01T14:30) or an age (30m, 12h,
7d). `list --json` prints a JSON array of objects (id, name, task, optimizer, schedule, seed,
steps, planned_steps, started, ended (ISO 8601, UTC), code_version, outcome, final_loss,
final_eval_loss, best_eval_loss, diverged_at). `export` writes the history as `optplay run
--out` does (.csv, .json) or the run's experiment (.toml, to train it again). Exit status 0;
2 for a bad argument, an unknown id or a store that cannot be read.

This module imports no UI library.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from engine.textsafe import for_terminal
from tui.commands.common import PROG, UsageError, emit, terminal_width

NAME = "runs"


def _write(lines: list[str], escape: bool = True) -> None:
    """Print many lines in one write (10,000 runs list fast), control characters escaped
    unless the text is JSON (which escapes its own); a closed pipe is silenced as `emit`
    does."""
    text = "\n".join(for_terminal(line) if escape else line for line in lines) + "\n"
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):
        emit(sys.stdout, "")  # silences the stream


def _since(text: str) -> float:
    """Unix seconds from a date, a date and time, or an age (30m, 12h, 7d)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        return time.time() - float(m.group(1)) * unit
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a date (2026-12-01), a date and time (2026-12-01T14:30) or an age "
            f"(30m, 12h, 7d), got {text!r}"
        ) from None
    return when.timestamp()  # a naive time is local time, as the user typed it


def _run_id(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text.strip()):
        raise argparse.ArgumentTypeError(f"must be a run id (a number >= 1), got {text!r}")
    return int(text)


def _keep(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text.strip()):
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return int(text)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `runs` to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "runs",
        help="list, show, export and delete the runs kept in the local store",
        description="Every run the app or `optplay run` trained is kept in a local database "
        "(see `optplay runs path`). List them, show one, export its history or experiment, "
        "delete some, or keep only the newest.",
    )
    parser.set_defaults(action="list")
    sub = parser.add_subparsers(title="actions", metavar="ACTION")
    listing = sub.add_parser("list", help="the stored runs, newest first")
    _add_filters(listing)
    _add_filters(parser)  # `optplay runs --task T` = `optplay runs list --task T`
    show = sub.add_parser("show", help="one run's settings and outcome")
    show.add_argument("id", type=_run_id, metavar="ID")
    show.set_defaults(action="show")
    remove = sub.add_parser("rm", help="delete runs")
    remove.add_argument("ids", type=_run_id, nargs="+", metavar="ID")
    remove.set_defaults(action="rm")
    export = sub.add_parser("export", help="write a run's history (.csv/.json) or experiment")
    export.add_argument("id", type=_run_id, metavar="ID")
    export.add_argument("--out", required=True, metavar="FILE", help=".csv, .json or .toml")
    export.set_defaults(action="export")
    gc = sub.add_parser("gc", help="keep only the newest runs")
    gc.add_argument("--keep", type=_keep, required=True, metavar="N", help="runs to keep")
    gc.set_defaults(action="gc")
    where = sub.add_parser("path", help="where the runs are kept")
    where.set_defaults(action="path")
    return parser


def _add_filters(parser: argparse.ArgumentParser) -> None:
    d = argparse.SUPPRESS  # the subcommand's value wins over the parent's default
    parser.add_argument("--task", metavar="T", default=d, help="only runs of this task")
    parser.add_argument("--optimizer", metavar="O", default=d, help="only this optimizer")
    parser.add_argument(
        "--since", type=_since, metavar="WHEN", default=d, help="started since (date or 7d)"
    )
    parser.add_argument("--limit", type=_keep, metavar="N", default=d, help="newest N only")
    parser.add_argument("--json", action="store_true", default=d, help="a JSON array")
    parser.set_defaults(action="list")


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _local(seconds: float, shown: dict[int, str] = {}) -> str:  # noqa: B006 - a cache
    """Local date and time to the minute (cached per minute: 10,000 runs list fast)."""
    minute = int(seconds // 60)
    text = shown.get(minute)
    if text is None:
        text = shown[minute] = time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
    return text


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def list_rows(runs: list[dict[str, Any]]) -> list[str]:
    """The table `optplay runs list` prints."""
    head = ("id", "started", "task", "optimizer", "seed", "steps", "outcome", "eval loss")
    rows = [
        (
            str(r["id"]),
            _local(r["started"]),
            r["task"],
            r["optimizer"] + ("" if r["schedule"] == "constant" else f"+{r['schedule']}"),
            str(r["seed"]),
            f"{r['steps']:,}",
            r["outcome"] + (f" at {r['diverged_at']}" if r["diverged_at"] is not None else ""),
            _number(r["final_eval_loss"]),
        )
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head).rstrip()] + [fmt.format(*row).rstrip() for row in rows]


def as_json(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "started": _iso(run["started"]), "ended": _iso(run["ended"])}


def _open_store() -> Any:
    from engine.store import Store, StoreError

    try:
        store = Store()
    except StoreError as err:
        raise UsageError(str(err)) from None
    if store.notice:
        emit(sys.stderr, f"{PROG} runs: note: {store.notice}")
    return store


def handle(args: argparse.Namespace) -> int:
    """`optplay runs ...`: see the module docstring."""
    import sqlite3

    from engine.store import default_path

    if args.action == "path":
        emit(sys.stdout, str(default_path()))
        return 0
    try:
        with _open_store() as store:
            return _act(args, store)
    except sqlite3.Error as err:
        emit(sys.stderr, f"{PROG} runs: error: the run store {default_path()}: {err}")
        return 2
    except UsageError as err:
        emit(sys.stderr, f"{PROG} runs: error: {err}")
        return 2


def _get(store: Any, run_id: int) -> Any:
    try:
        return store.get(run_id)
    except KeyError:
        raise UsageError(f"no stored run with id {run_id} (see `optplay runs list`)") from None


def _act(args: argparse.Namespace, store: Any) -> int:
    if args.action == "list":
        runs = store.list(
            task=getattr(args, "task", None),
            optimizer=getattr(args, "optimizer", None),
            since=getattr(args, "since", None),
            limit=getattr(args, "limit", None),
        )
        if getattr(args, "json", False):
            _write(json.dumps([as_json(r) for r in runs], indent=1).split("\n"), escape=False)
        elif not runs:
            emit(sys.stderr, f"{PROG} runs: no stored runs match")
        else:
            width = terminal_width(sys.stdout)
            _write([line if width is None else line[:width] for line in list_rows(runs)])
        return 0
    if args.action == "show":
        stored = _get(store, args.id)
        s = stored.summary
        rows = [(k, s[k]) for k in ("id", "name", "source", "task", "optimizer", "schedule")]
        rows += [
            ("seed", s["seed"]),
            ("steps", f"{s['steps']:,} of {s['planned_steps'] or s['steps']:,}"),
            ("started", _local(s["started"])),
            ("ended", _local(s["ended"])),
            ("outcome", s["outcome"]),
            ("diverged at", s["diverged_at"]),
            ("last batch loss", _number(s["final_loss"])),
            ("final eval loss", _number(s["final_eval_loss"])),
            ("best eval loss", _number(s["best_eval_loss"])),
            ("code version", s["code_version"]),
            ("history points", len(stored.arrays["step"])),
        ]
        for key, value in rows:
            if value is not None:
                emit(sys.stdout, f"{key:<16} {value}")
        emit(sys.stdout, "")
        for line in stored.config.rstrip("\n").split("\n"):
            emit(sys.stdout, line)
        return 0
    if args.action == "rm":
        found = store.remove(args.ids)
        missing = [i for i in args.ids if i not in found]
        if found:
            emit(sys.stdout, f"deleted {len(found)} run{'s' * (len(found) != 1)}")
        if missing:
            raise UsageError(f"no stored run with id {', '.join(map(str, missing))}")
        return 0
    if args.action == "export":
        return _export(store, args.id, args.out)
    if args.action == "gc":
        deleted = store.gc(args.keep)
        plural = "s" * (deleted != 1)
        emit(sys.stdout, f"deleted {deleted} run{plural}, kept the newest {args.keep}")
        return 0
    raise UsageError(f"unknown action {args.action!r}")  # pragma: no cover - argparse checks


def _export(store: Any, run_id: int, out: str) -> int:
    from pathlib import Path

    from engine.files import write_text_atomic
    from engine.store import export_text

    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".json", ".toml"):
        raise UsageError(f"--out {out}: must end in .csv, .json or .toml")
    stored = _get(store, run_id)
    try:
        write_text_atomic(out, export_text(stored, suffix[1:]))
    except OSError as err:
        raise UsageError(f"--out {out}: {err.strerror or err}") from None
    emit(sys.stdout, f"wrote {out}")
    return 0
