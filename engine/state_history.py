"""State summaries over time: per parameter group, quantiles of the optimizer's state.

A run with `RunConfig.state_every = k > 0` records, every k steps, for each parameter group
(each weight matrix and bias; "x" and "y" on a 2-D task) and each of its optimizer's
declared summaries (`state_doc.summaries`: the effective learning rate α, |m|, √v̂ or the
optimizer's equivalents) the five statistics STATS = min, 10%, median, 90%, max, plus the
per-step scalars it tracks (bias corrections, β₁,t, μ_t, ρ_t and whether RAdam rectifies).

    s = run.state_summaries                      # StateSummaries, or None when off
    band = s.band("W1", "effective_lr", 200)     # QuantileBand: steps, min, q10, median, q90, max
    s.scalar("bias_correction1", 200)            # ScalarSeries: steps, lasts
    export_state(run, "state.csv")               # or .json; several runs too

Quantiles: the order statistic at rank floor(q·(n − 1)) of the group's n values (numpy's
`method="lower"`): exact values of the group, never interpolated; min and max are exact.
A group holding a NaN gives NaN for all five. Coordinates still at their start value (never
given a gradient, e.g. weights of always-blank pixels: α there is η/ε, up to 1e9) are left
out once anything has moved (`Run.never_updated` counts them).

Memory: like `History`, bounded by bucket count. Each bucket covers the steps
`k·width .. (k + 1)·width − 1` (width doubles when the buckets run out, merging neighbours),
and keeps per column the min, max and last value, so bucket boundaries depend on step numbers
only and a run gives the same buckets however it was chunked. The default 1024 buckets
(2 points per column of a 500-column chart) cost 24 bytes per column per bucket: 1.5 MB for
Adam on digits-mlp (4 groups x 3 summaries x 5 stats + 2 scalars). `capacity=None` keeps
every record (the CLI's `--state-out`).

Cost: recording happens on the training thread, inside the step loop, at the steps divisible
by k; `tests/perf/bench_run.py` prints it on digits-mlp. Off (k = 0) costs one comparison per
step. Recording reads the state and never writes it: histories with and without summaries are
bit-identical.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engine.files import write_text_atomic
from engine.named_runs import named_runs
from engine.optimizer_state import Quantity, Summary
from engine.quantiles import (  # re-exported: this was their home
    QUANTILES,
    STATS,
    order_statistics_into,
    quantiles_into,
    stat_ranks,
)

__all__ = [
    "QUANTILES",
    "STATS",
    "QuantileBand",
    "ScalarSeries",
    "StateSummaries",
    "export_state",
    "load_state_json",
    "order_statistics_into",
    "quantiles_into",
    "stat_ranks",
    "state_export_format",
    "state_record",
]

DEFAULT_CAPACITY = 1024
_FOLD_EVERY = 256  # pending records before a vectorised fold
_GROW_START = 1024
_JSON_FORMAT = "optplay-state"


class QuantileBand(NamedTuple):
    """One (group, summary) series, downsampled: per point the last step it covers, the
    lowest min and highest max over the steps it covers (spikes stay visible) and the last
    q10 / median / q90. Draw q10..q90 as a band, min..max as whiskers."""

    steps: np.ndarray  # int64
    min: np.ndarray
    q10: np.ndarray
    median: np.ndarray
    q90: np.ndarray
    max: np.ndarray


class ScalarSeries(NamedTuple):
    """A tracked scalar (bias correction, β₁,t, ...), downsampled: last step and value."""

    steps: np.ndarray  # int64
    values: np.ndarray


class _Rows:
    """Records of `ncols` values at increasing steps: bounded buckets or every row."""

    def __init__(self, ncols: int, capacity: int | None) -> None:
        self.ncols = ncols
        self.capacity = capacity
        self.width = 1
        self.n = 0
        self.count = 0
        size = _GROW_START if capacity is None else capacity
        self.first = np.zeros(size, np.int64)
        self.last = self.first if capacity is None else np.zeros(size, np.int64)
        self.lasts = np.zeros((size, ncols))
        if capacity is None:  # one value per row: min = max = last
            self.mins = self.maxs = self.lasts
        else:
            self.mins = np.zeros((size, ncols))
            self.maxs = np.zeros((size, ncols))

    @property
    def nbytes(self) -> int:
        arrays = {id(a): a for a in (self.first, self.last, self.mins, self.maxs, self.lasts)}
        return sum(a.nbytes for a in arrays.values())

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        if not len(steps):
            return
        self.count += len(steps)
        if self.capacity is None:
            self._append(steps, values)
            return
        w = self.width
        first, last, mins, maxs, lasts = _group(steps // w, steps, steps, values, values, values)
        n = self.n
        if n and self.first[n - 1] // w == first[0] // w:
            j = n - 1  # the chunk continues the newest bucket
            self.last[j] = last[0]
            self.mins[j] = np.fmin(self.mins[j], mins[0])
            self.maxs[j] = np.fmax(self.maxs[j], maxs[0])
            self.lasts[j] = lasts[0]
            first, last, mins, maxs, lasts = first[1:], last[1:], mins[1:], maxs[1:], lasts[1:]
        g = len(first)
        if n + g > self.capacity:
            first = np.concatenate((self.first[:n], first))
            last = np.concatenate((self.last[:n], last))
            mins = np.concatenate((self.mins[:n], mins))
            maxs = np.concatenate((self.maxs[:n], maxs))
            lasts = np.concatenate((self.lasts[:n], lasts))
            while len(first) > self.capacity:
                self.width *= 2
                first, last, mins, maxs, lasts = _group(
                    first // self.width, first, last, mins, maxs, lasts
                )
            n, g = 0, len(first)
        self.first[n : n + g] = first
        self.last[n : n + g] = last
        self.mins[n : n + g] = mins
        self.maxs[n : n + g] = maxs
        self.lasts[n : n + g] = lasts
        self.n = n + g

    def _append(self, steps: np.ndarray, values: np.ndarray) -> None:
        n, g = self.n, len(steps)
        if n + g > len(self.first):
            size = max(2 * len(self.first), n + g)
            first = np.zeros(size, np.int64)
            first[:n] = self.first[:n]
            lasts = np.zeros((size, self.ncols))
            lasts[:n] = self.lasts[:n]
            self.first = self.last = first
            self.lasts = self.mins = self.maxs = lasts
        self.first[n : n + g] = steps
        self.lasts[n : n + g] = values
        self.n = n + g

    def select(
        self,
        n_points: int | None,
        start: int | None,
        end: int | None,
        cols: Sequence[int] | slice = slice(None),
    ) -> tuple:
        """(steps, mins, maxs, lasts) of columns `cols`, at most `n_points` points over
        [start, end]: copies of just those columns (cost bounded by the bucket count)."""
        lo, hi = 0, self.n
        if start is not None:
            lo = int(np.searchsorted(self.last[:hi], start, side="left"))
        if end is not None:
            hi = int(np.searchsorted(self.first[:hi], end, side="right"))
        m = hi - lo
        if m <= 0:
            empty = np.empty((0, self.ncols))[:, cols]
            return np.empty(0, np.int64), empty, empty, empty
        mins, maxs, lasts = (a[lo:hi][:, cols] for a in (self.mins, self.maxs, self.lasts))
        if n_points is None or m <= n_points:
            return self.last[lo:hi].copy(), mins.copy(), maxs.copy(), lasts.copy()
        group = -(-m // n_points)
        starts = np.arange(0, m, group)
        ends = np.minimum(starts + group, m) - 1
        return (
            self.last[lo:hi][ends],
            np.fmin.reduceat(mins, starts, axis=0),
            np.fmax.reduceat(maxs, starts, axis=0),
            lasts[ends],
        )


def _group(
    keys: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    mins: np.ndarray,
    maxs: np.ndarray,
    lasts: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Merge runs of equal (non-decreasing) keys into one bucket each (NaN-ignoring)."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    ends = np.concatenate((starts[1:], [len(keys)])) - 1
    return (
        first[starts],
        last[ends],
        np.fmin.reduceat(mins, starts, axis=0),
        np.fmax.reduceat(maxs, starts, axis=0),
        lasts[ends],
    )


class StateSummaries:
    """The state summaries of one run (see the module docstring). Thread-safe: the training
    thread records, the UI reads.

    `groups` are the parameter names, `summaries` the optimizer's declared summaries that
    apply under its knobs, `scalars` the tracked per-step scalars. `columns` names every
    recorded value: "W1.effective_lr.q10", ..., then "bias_correction1", ..."""

    def __init__(
        self,
        optimizer: str,
        groups: Sequence[str],
        summaries: Sequence[Summary],
        scalars: Sequence[Quantity],
        every: int,
        capacity: int | None = DEFAULT_CAPACITY,
    ) -> None:
        if capacity is not None and (not isinstance(capacity, int) or capacity < 2):
            raise ValueError(f"capacity must be an integer >= 2 or None, got {capacity!r}")
        self.optimizer = optimizer
        self.groups = tuple(groups)
        self.summaries = tuple(summaries)
        self.scalars = tuple(scalars)
        self.every = int(every)
        self.capacity = capacity
        self.columns: tuple[str, ...] = tuple(
            f"{g}.{q.key}.{s}" for g in self.groups for q in self.summaries for s in STATS
        ) + tuple(q.key for q in self.scalars)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._rows = _Rows(len(self.columns), self.capacity)
            self._p_steps: list[int] = []
            self._p_rows: list[np.ndarray] = []

    # -- recording (training thread) ------------------------------------------------------

    def record(self, step: int, row: np.ndarray) -> None:
        """Append one record (`row` holds a value per column; it is kept, not copied)."""
        with self._lock:
            self._p_steps.append(step)
            self._p_rows.append(row)
            if len(self._p_steps) >= _FOLD_EVERY:
                self._fold()

    def _fold(self) -> None:
        if self._p_steps:
            steps = np.array(self._p_steps, np.int64)
            self._rows.extend(steps, np.stack(self._p_rows))
            self._p_steps.clear()
            self._p_rows.clear()

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        """How many records were made (not how many are stored)."""
        with self._lock:
            return self._rows.count + len(self._p_steps)

    @property
    def width(self) -> int:
        """Steps per bucket (1 until the buckets first run out, and always at full
        resolution)."""
        with self._lock:
            self._fold()
            return self._rows.width

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._rows.nbytes + len(self._p_rows) * len(self.columns) * 8

    def column(self, group: str, key: str, stat: str) -> int:
        """The index of a (group, summary, stat) column; ValueError naming what is known."""
        name = f"{group}.{key}.{stat}"
        if name not in self._index:
            if group not in self.groups:
                raise ValueError(
                    f"unknown parameter {group!r} (expected one of: {', '.join(self.groups)})"
                )
            if stat not in STATS:
                raise ValueError(f"unknown statistic {stat!r} (expected one of: {STATS})")
            keys = ", ".join(q.key for q in self.summaries)
            raise ValueError(f"{self.optimizer} records no summary {key!r} (it records: {keys})")
        return self._index[name]

    def band(
        self,
        group: str,
        key: str,
        n_points: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> QuantileBand:
        """The quantile band of summary `key` (e.g. "effective_lr") of parameter `group`,
        at most `n_points` points (None: every stored bucket) over steps [start, end]."""
        cols = [self.column(group, key, s) for s in STATS]
        with self._lock:
            self._fold()
            steps, mins, maxs, lasts = self._rows.select(n_points, start, end, cols)
        return QuantileBand(
            steps,
            mins[:, 0],
            lasts[:, 1].copy(),
            lasts[:, 2].copy(),
            lasts[:, 3].copy(),
            maxs[:, 4],
        )

    def scalar(
        self,
        key: str,
        n_points: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> ScalarSeries:
        """A tracked scalar over time (e.g. "bias_correction1", "beta1", "mu", "rho_t")."""
        if key not in self._index or key not in {q.key for q in self.scalars}:
            known = ", ".join(q.key for q in self.scalars) or "none"
            raise ValueError(f"{self.optimizer} tracks no scalar {key!r} (it tracks: {known})")
        col = self._index[key]
        with self._lock:
            self._fold()
            steps, _, _, lasts = self._rows.select(n_points, start, end, [col])
        return ScalarSeries(steps, lasts[:, 0])

    def latest(self) -> dict[str, float]:
        """The newest record by column name (empty before any)."""
        with self._lock:
            if self._p_rows:
                row = self._p_rows[-1]
            elif self._rows.n:
                row = self._rows.lasts[self._rows.n - 1]
            else:
                return {}
            return dict(zip(self.columns, row.tolist(), strict=True))

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values[rows, columns]) of every stored bucket: each bucket's last record
        (every record at full resolution). Copies."""
        with self._lock:
            self._fold()
            steps, _, _, lasts = self._rows.select(None, None, None)
        return steps, lasts


# -- export ----------------------------------------------------------------------------------


def state_export_format(path: str | os.PathLike[str]) -> str:
    """ "csv" or "json" from a file name; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise ValueError(f"{os.fspath(path)}: state summary files must end in .csv or .json")


def _number(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _quantity_record(q: Quantity) -> dict[str, str]:
    return {"key": q.key, "symbol": q.symbol, "help": q.help}


def state_record(run: Any, name: str | None = None) -> dict[str, Any] | None:
    """A run's state summaries as plain (JSON-ready) data, or None when it records none:
    {"name", "optimizer", "every", "resolution", "stats", "groups", "summaries" (key,
    symbol, help), "scalars" (same), "step": [...], "params": {group: {summary: {stat:
    [...]}}}, "scalar_values": {key: [...]}} (NaN as null)."""
    s: StateSummaries | None = getattr(run, "state_summaries", None)
    if s is None:
        return None
    steps, values = s.table()
    params: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for g in s.groups:
        params[g] = {}
        for q in s.summaries:
            params[g][q.key] = {
                stat: [_number(v) for v in values[:, s.column(g, q.key, stat)].tolist()]
                for stat in STATS
            }
    return {
        "name": name if name is not None else run.config.optimizer,
        "optimizer": s.optimizer,
        "task": run.config.task,
        "every": s.every,
        "resolution": s.width,
        "stats": list(STATS),
        "groups": list(s.groups),
        "summaries": [_quantity_record(q) for q in s.summaries],
        "scalars": [_quantity_record(q) for q in s.scalars],
        "step": steps.tolist(),
        "params": params,
        "scalar_values": {
            q.key: [_number(v) for v in values[:, s.columns.index(q.key)].tolist()]
            for q in s.scalars
        },
    }


def export_state(runs: Any, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write the state summaries of one run or several (as `history.export_history` takes
    them) to `path`; the format comes from the suffix unless `fmt` is given.

    CSV: one row per stored record (every record at full resolution): `step`, then one
    column per (group, summary, stat), "W1.effective_lr.q10", and per tracked scalar. With
    several runs a first column `run` names each row's run and the columns are the union
    (empty where a run has no such column). JSON: {"format": "optplay-state", "version": 1,
    "runs": [state_record, ...]}. Runs without summaries are left out; ValueError when none
    has any."""
    fmt = fmt or state_export_format(path)
    named = [(n, r) for n, r in named_runs(runs) if getattr(r, "state_summaries", None)]
    if not named:
        raise ValueError("no state summaries to export (set RunConfig.state_every > 0)")
    if fmt == "json":
        doc = {
            "format": _JSON_FORMAT,
            "version": 1,
            "runs": [state_record(run, name) for name, run in named],
        }
        write_text_atomic(path, json.dumps(doc, allow_nan=False, indent=1) + "\n")
        return
    if fmt != "csv":
        raise ValueError(f"unknown state summary format {fmt!r} (expected csv or json)")
    columns: list[str] = []
    for _, run in named:
        columns += [c for c in run.state_summaries.columns if c not in columns]
    multi = len(named) > 1
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((["run"] if multi else []) + ["step", *columns])
    for name, run in named:
        s: StateSummaries = run.state_summaries
        steps, values = s.table()
        where = [s.columns.index(c) if c in s.columns else -1 for c in columns]
        for step, row in zip(steps.tolist(), values.tolist(), strict=True):
            cells = [repr(row[i]) if i >= 0 else "" for i in where]
            writer.writerow(([name] if multi else []) + [str(step), *cells])
    write_text_atomic(path, buf.getvalue())


def load_state_json(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read an exported JSON state file: run records whose series are NumPy arrays ("step"
    int64, values float64 with NaN for null)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != _JSON_FORMAT:
        raise ValueError(f"{os.fspath(path)}: not an optplay state summary file")

    def floats(values: list[float | None]) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in values], np.float64)

    out = []
    for record in doc["runs"]:
        rec = dict(record)
        rec["step"] = np.array(rec["step"], np.int64)
        rec["params"] = {
            g: {k: {s: floats(v) for s, v in stats.items()} for k, stats in per.items()}
            for g, per in rec["params"].items()
        }
        rec["scalar_values"] = {k: floats(v) for k, v in rec["scalar_values"].items()}
        out.append(rec)
    return out
