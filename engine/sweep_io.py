"""Sweeps in and out of files: sweep spec files (TOML), results (CSV / JSON) and the text table.

A sweep file has a `[sweep]` table (so it is told apart from experiment and bench files)::

    name = "Learning-rate sensitivity"    # optional: a one-line title
    [sweep]
    task = "digits-mlp"                   # required
    optimizers = ["sgd", "momentum", "adam"]   # required
    schedule = "constant"                 # default constant
    steps = 300                           # updates per run (default 500)
    seeds = 2                             # seeds 0 .. seeds-1 (default 1)
    dtype = "float64"
    target_fraction = 0.1                 # or: target = 0.25 (an absolute loss)
    check_every = 10                      # optional; default steps // 100

    [sweep.grid]                          # required: one or two knobs, in axis order
    lr = "1e-4:1e1:13"                    # A:B:N (log-spaced for lr), or "v1,v2", or a list
    # beta1 = [0.8, 0.9, 0.99]

    [sweep.task_hypers]                   # optional: fixed knobs of the task
    hidden = 32
    [sweep.schedule_hypers]               # optional: fixed knobs of the schedule
    [sweep.optimizer_hypers.momentum]     # optional: fixed knobs of one optimizer
    momentum = 0.9

Errors are `engine.config.ConfigError` naming the file, the table and the line:
"lr.toml: [sweep.grid] beta1: beta1 must be a number in [0, 1), got 1.5 (optimizer adam)
(line 12)".

Results: `write_results(report, path)` writes .csv (one row per run: the run's position,
optimizer, seed, one column per swept knob, then the score) or .json (the spec, the points,
and every run with its evaluation curve and full config). Numbers are written with repr, so
they read back bit for bit. `format_report(report)` is the table the command line prints: one
row per point of the grid (its seeds summarised), each optimizer's best point marked.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import textwrap
from pathlib import Path
from typing import Any

from engine import specfile
from engine.compare import fit_table, format_number, format_seconds
from engine.history import export_format, write_text_atomic
from engine.specfields import SHARED_FIELDS
from engine.specfile import ConfigError, SpecFile
from engine.sweep import RunScore, SweepError, SweepReport, SweepRow, SweepSpec

#: Keys of the [sweep] table: its own, then those every spec of runs has.
SWEEP_KEYS = ("task", "schedule", "grid", "schedule_hypers", *SHARED_FIELDS)
_TABLES = ("grid", "task_hypers", "schedule_hypers", "optimizer_hypers")
#: Columns of the CSV after the swept knobs' columns.
SCORE_COLUMNS = tuple(k for k in RunScore.__dataclass_fields__ if not k.startswith("eval_"))


# -- reading spec files -------------------------------------------------------------------------


def is_sweep_text(text: str) -> bool:
    """Whether TOML text is a sweep spec (has a [sweep] table) rather than an experiment."""
    try:
        return specfile.parse(text).has_table("sweep")
    except ConfigError:  # left to the experiment parser's message
        return False


def _spec_error(spec: SpecFile, err: SweepError) -> ConfigError:
    """A SweepError located in the file's text."""
    if err.field == "optimizer_hypers" and err.key:
        table = f"sweep.optimizer_hypers.{err.key}"
        knob = err.detail.split(" ", 1)[0]
        line = spec.line(table, knob) or spec.line(table)
        return spec.error(f"[{table}] {err.detail}", line, knob)
    if err.field in _TABLES:
        table = f"sweep.{err.field}"
        line = None
        if err.key:
            line = spec.line(table, err.key)
        line = line or spec.line(table) or spec.line("sweep", err.field)
        what = SweepError.knob_text(err.detail, err.key)
        return spec.error(f"[{table}] {what}", line, err.key or err.field)
    line = spec.line("sweep", err.field)
    sep = " " if err.detail.startswith("must") else ": "
    return spec.error(f"[sweep] {err.field}{sep}{err.detail}", line, err.field)


def loads_spec(text: str | SpecFile, source: str = "<string>") -> SweepSpec:
    """Parse a sweep file (see the module docstring), or a file `engine.specfile` parsed
    already (it names itself); ConfigError names the file, the table, the key and the line."""
    spec = text if isinstance(text, SpecFile) else specfile.parse(text, source)
    data = spec.data
    unknown = [k for k in data if k not in ("name", "sweep")]
    if unknown:
        raise spec.error(
            f"unknown key {unknown[0]!r} in a sweep file (expected: name, [sweep])",
            spec.line(None, unknown[0]),
            unknown[0],
        )
    if not spec.has_table("sweep"):
        raise spec.error("missing the [sweep] table", None, "sweep")
    sweep = data["sweep"]
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise spec.error(f"name must be a string, got {name!r}", spec.line(None, "name"), "name")
    unknown = [k for k in sweep if k not in SWEEP_KEYS]
    if unknown:
        raise spec.error(
            f"[sweep] unknown key {unknown[0]!r} (expected one of: {', '.join(SWEEP_KEYS)})",
            spec.line("sweep", unknown[0]),
            unknown[0],
        )
    for key in ("task", "optimizers", "grid"):
        if key not in sweep:
            raise spec.error(f"[sweep] missing key {key!r}", None, key)
    for key in _TABLES:
        if key in sweep and not isinstance(sweep[key], dict):
            raise spec.error(
                f"[sweep] {key} must be a table ([sweep.{key}])", spec.line("sweep", key), key
            )
    kwargs = dict(sweep)
    if isinstance(kwargs.get("optimizers"), list):
        kwargs["optimizers"] = tuple(kwargs["optimizers"])
    try:
        return SweepSpec(name=name, **kwargs)
    except SweepError as err:
        raise _spec_error(spec, err) from None


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep file (within bounds, as experiment files: `engine.specfile.read`);
    ConfigError names the file on any problem."""
    return loads_spec(specfile.read(path, "sweep"))


# -- results ----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """Plain JSON data: tuples as lists, non-finite floats as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _config_record(row: SweepRow) -> dict[str, Any]:
    return _json_value(dataclasses.asdict(row.config))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def results_json(report: SweepReport) -> dict[str, Any]:
    """The JSON document of a report (what `write_results` writes for .json)."""
    return {
        "format": "optplay-sweep",
        "version": 1,
        "spec": _json_value(report.spec.as_dict()),
        "executor": report.executor,
        "seconds": report.seconds,
        "total_runs": report.total,
        "finished_runs": len(report.rows),
        "cancelled": report.cancelled,
        "points": [_json_value(p.as_dict()) for p in report.points],
        "rows": [
            {**_json_value(r.as_dict(curves=True)), "config": _config_record(r)}
            for r in report.rows
        ],
    }


def write_results(report: SweepReport, path: str | os.PathLike[str]) -> None:
    """Write one row per finished run: .csv or .json (atomically: a temp file, then rename)."""
    fmt = export_format(path)
    if fmt == "json":
        doc = results_json(report)
        write_text_atomic(Path(path), json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return
    knobs = list(report.spec.knobs)
    columns = ["index", "optimizer", "seed", *knobs, "target", *SCORE_COLUMNS, "diverged"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in report.rows:
        record = row.as_dict()
        writer.writerow([_csv_cell(record[c]) for c in columns])
    write_text_atomic(Path(path), buf.getvalue())


# -- the table --------------------------------------------------------------------------------


def format_report(report: SweepReport, width: int | None = None, ascii_only: bool = False) -> str:
    """One row per grid point (seeds summarised) with each optimizer's best point marked,
    then a note on what the numbers are and how the sweep ran. With `width` (a terminal's),
    long headers and names are cut with an ellipsis and the least telling columns left out
    until the table fits, the note saying which, and the notes are wrapped to it.
    `ascii_only`: the table is laid out with "+/-" for "±" (an ASCII terminal spells it so,
    and a table measured with "±" came out two columns wider there)."""
    spec = report.spec
    many_seeds = spec.seeds > 1
    has_acc = any(p.accuracy_mean is not None for p in report.points)
    headers = ["optimizer", *spec.knobs]
    headers.append("final loss (mean ± sd)" if many_seeds else "final loss")
    headers.append("best loss")
    if has_acc:
        headers.append("accuracy")
    headers += ["steps to target", "time/update", "diverged", "best"]
    axes = spec.axes
    rows = []
    for p in report.points:
        row = [p.optimizer, *(a.label(v) for a, v in zip(axes, p.point, strict=True))]
        if p.final_loss_mean is None:
            row.append("-")
        elif many_seeds:
            row.append(
                f"{format_number(p.final_loss_mean, 4)} ± {format_number(p.final_loss_std, 2)}"
            )
        else:
            row.append(format_number(p.final_loss_mean, 4))
        row.append(format_number(p.best_loss_mean, 4))
        if has_acc:
            row.append("-" if p.accuracy_mean is None else f"{100 * p.accuracy_mean:.1f}%")
        if p.reached:
            shown = f"{p.steps_to_target_mean:.0f}"
            row.append(f"{shown} ({p.reached}/{p.runs})" if many_seeds else shown)
        else:
            row.append(f"never ({p.reached}/{p.runs})" if many_seeds else "never")
        row.append(format_seconds(p.seconds_per_update_mean))
        row.append(f"{p.diverged}/{p.runs}" if p.diverged else "-")
        row.append("*" if p.best else "")
        rows.append(row)
    if ascii_only:
        headers = [h.replace("±", "+/-") for h in headers]
        rows = [[c.replace("±", "+/-") for c in row] for row in rows]
    drop = tuple(d.replace("±", "+/-") if ascii_only else d for d in _SWEEP_DROP_ORDER)
    table, left_out = fit_table(headers, rows, left=1 + len(axes), width=width, drop=drop)
    lines = [table]
    seeds = "seed 0" if spec.seeds == 1 else f"seeds 0-{spec.seeds - 1}"
    every = spec.steps_between_checks
    target = (
        f"target loss {spec.target:g}"
        if spec.target is not None
        else f"target {spec.target_fraction:g} x the initial loss"
    )
    lines.append(
        f"\n{spec.task}, {spec.schedule} schedule, {spec.steps} steps per run, {seeds}. "
        f"Loss: evaluation loss, checked every {every} step{'s' if every != 1 else ''}; "
        f"{target}.\nDiverged runs are counted, not averaged; * best: the lowest mean final "
        "loss of the optimizer with no diverged seed. Time/update is measured in the worker."
    )
    finished = len(report.rows)
    state = (
        f"cancelled: {finished} of {report.total} runs finished"
        if report.cancelled
        else f"{finished} runs"
    )
    lines.append(f"{state} on {report.executor}, {report.seconds:.1f} s.")
    if left_out:
        lines.append(f"(left out to fit the terminal: {', '.join(left_out)})")
    if width is None:
        return "\n".join(lines)
    text = "\n".join(lines).split("\n")
    return "\n".join(
        wrapped
        for line in text
        for wrapped in (
            [line] if len(line) <= width else textwrap.wrap(line, width, break_on_hyphens=False)
        )
    )


#: The columns a narrow terminal loses first, in order.
_SWEEP_DROP_ORDER = ("time/update", "best loss", "accuracy", "best", "steps to target")
