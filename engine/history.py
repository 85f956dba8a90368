"""Bounded-memory metric history of a run, and downsampling for charts.

A run appends one row of metrics per step (loss, lr, grad_norm, update_norm, update_grad_ratio)
and, every `eval_every` steps, the eval metrics. Charts redraw 10-20 times a second from
`downsample()`, so both the memory and the cost of a chart frame must not grow with the run:

- Each series is a fixed-capacity array of *buckets* (default 4096). A bucket covers the steps
  `k * width .. (k + 1) * width - 1` and keeps the first and last step it saw and the min, max
  and last value. While the run is short, `width` is 1 and every step is stored exactly. When a
  series runs out of buckets, the width doubles and neighbours merge (min of mins, max of maxes,
  last of the later one), so a 1,000,000-step run still holds 4096 buckets per series and a
  one-step spike survives as a bucket's max.
- Because bucket boundaries depend only on step numbers (never on when data arrived), the
  buckets are identical however the run was chunked: histories can be compared bit for bit.
- Steps are appended to small pending lists (cheap, O(1) per step, called from the hot loop) and
  folded into the buckets in vectorised form every `_FOLD_EVERY` rows or before any read.
- The eval loss's new lows (each evaluation lower than every one before it) are also kept at
  full resolution, however the eval series folds: steps to a target is read from them exactly
  (`eval_descents`, `engine.outcome`). They grow only while the loss keeps improving.
- 2-D landscape runs also keep a bounded trajectory of (x, y): every `stride`-th step's point,
  where the stride doubles when the capacity is reached, plus the exact first and last points.

Step numbers: step 0 is the initial state (only eval metrics and the trajectory's start point are
recorded there); step k >= 1 is the state after the k-th update, and the training metrics of
step k are those of the k-th update (its batch loss before the update, its lr, its gradient).

Full resolution: `History(capacity=None)` never folds: it keeps plain (step, value) columns,
grown by doubling, so every step stays exact. The five training series share one step column,
so a step costs 48 bytes (8 for the step, 8 per series) plus up to 2x doubling slack, and 24
more on a 2-D landscape (the trajectory). The headless CLI uses it to write one row per step;
the app keeps the bounded default.

Thread safety: a run appends from a worker thread while the UI reads from the event loop; one
lock guards both sides.

Exporting: `export_history(runs, path)` writes the history of one or several runs as CSV (one
row per stored step) or JSON (every series, the eval points and the trajectory), and
`load_history_json(path)` reads the JSON back into arrays.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engine.files import write_text_atomic  # also offered here: the app's saves use it
from engine.named_runs import named_runs
from engine.textsafe import for_spreadsheet

#: Metrics recorded for every step, in the order `History.record` takes them.
STEP_SERIES = ("loss", "lr", "grad_norm", "update_norm", "update_grad_ratio")
#: Metrics recorded every `eval_every` steps.
EVAL_SERIES = ("eval_loss", "eval_accuracy")
SERIES = STEP_SERIES + EVAL_SERIES
#: Recorded every `sharpness_every` steps when a run measures sharpness (engine/theory.py):
#: λ_max of the loss Hessian, its stated error, and for adaptive optimizers λ_max(P⁻¹H).
SHARPNESS_SERIES = ("sharpness", "sharpness_error", "preconditioned_sharpness")
#: One line per series, for chart legends and help screens.
SERIES_HELP = {
    "loss": "training loss of the step's batch, before the update",
    "lr": "learning rate the update used (the schedule's value)",
    "grad_norm": "‖g‖: Euclidean norm of the whole gradient",
    "update_norm": "‖Δθ‖: Euclidean norm of the step actually taken",
    "update_grad_ratio": "‖Δθ‖ / ‖g‖: how far the parameters moved per unit of gradient. "
    "Equals the lr for plain SGD; with momentum or per-coordinate scaling it mixes past "
    "gradients and per-parameter rates in, so it is not a learning rate (the optimizer's "
    "per-parameter effective lr is in its state summaries)",
    "eval_loss": "loss on the evaluation set",
    "eval_accuracy": "accuracy on the evaluation set (classifiers)",
    "sharpness": "λ_max: top eigenvalue of the loss Hessian on the step's batch, after the "
    "update (GD is stable while it stays below 2/lr)",
    "sharpness_error": "the stated error of the sharpness (power-iteration residual, plus the "
    "finite-difference step's error where the product is not exact)",
    "preconditioned_sharpness": "λ_max(P⁻¹H), P⁻¹ the optimizer's per-parameter effective lr "
    "over its lr (adaptive optimizers)",
}
#: Former series names still accepted when reading (renamed series -> current name).
RENAMED_SERIES = {"effective_step": "update_grad_ratio"}

_FOLD_EVERY = 2048  # pending rows before a vectorised fold; bounds the pending lists' memory
_GROW_START = 4096  # initial arrays of a full-resolution history (doubled as needed)


class Downsampled(NamedTuple):
    """At most `n_points` points of one series: per point the last step it covers and the min,
    max and last value of the steps it covers. Draw `mins`/`maxs` as a band (spikes stay
    visible) or `lasts` as a line."""

    steps: np.ndarray  # int64
    mins: np.ndarray  # float64
    maxs: np.ndarray  # float64
    lasts: np.ndarray  # float64


class Trajectory(NamedTuple):
    """Bounded path of a 2-D run: `steps[i]` is the step at which params were `(xs[i], ys[i])`.
    Starts at step 0 (the initial point) and ends with the exact newest point."""

    steps: np.ndarray  # int64
    xs: np.ndarray  # float64
    ys: np.ndarray  # float64


def _empty_downsampled() -> Downsampled:
    return Downsampled(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0))


class _Reads:
    """Reads of one stored series: `n` buckets with first/last step and min/max/last value
    (arrays `first`, `last`, `mins`, `maxs`, `lasts`) of `width` steps each."""

    __slots__ = ()

    def stored(self) -> Downsampled:
        """Every stored bucket (copies)."""
        return self.downsample(max(self.n, 1))

    def downsample(
        self, n_points: int, start: int | None = None, end: int | None = None
    ) -> Downsampled:
        lo, hi = 0, self.n
        if start is not None:
            lo = int(np.searchsorted(self.last[:hi], start, side="left"))
        if end is not None:
            hi = int(np.searchsorted(self.first[:hi], end, side="right"))
        m = hi - lo
        if m <= 0:
            return _empty_downsampled()
        if m <= n_points:
            return Downsampled(
                self.last[lo:hi].copy(),
                self.mins[lo:hi].copy(),
                self.maxs[lo:hi].copy(),
                self.lasts[lo:hi].copy(),
            )
        group = -(-m // n_points)  # ceil: at most n_points groups
        starts = np.arange(lo, hi, group)
        ends = np.minimum(starts + group, hi) - 1
        return Downsampled(
            self.last[ends],
            np.fmin.reduceat(self.mins[lo:hi], starts - lo),
            np.fmax.reduceat(self.maxs[lo:hi], starts - lo),
            self.lasts[ends],
        )


class _Buckets(_Reads):
    """One series: fixed-capacity buckets of (first step, last step, min, max, last)."""

    __slots__ = ("capacity", "count", "first", "last", "lasts", "maxs", "mins", "n", "width")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.width = 1  # steps per bucket; a power of two
        self.n = 0  # buckets in use
        self.count = 0  # values ever appended
        self.first = np.zeros(capacity, np.int64)
        self.last = np.zeros(capacity, np.int64)
        self.mins = np.zeros(capacity)
        self.maxs = np.zeros(capacity)
        self.lasts = np.zeros(capacity)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.first, self.last, self.mins, self.maxs, self.lasts)

    @staticmethod
    def _group(
        keys: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        mins: np.ndarray,
        maxs: np.ndarray,
        lasts: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """Merge runs of equal (non-decreasing) keys into one bucket each."""
        starts = np.flatnonzero(np.diff(keys)) + 1
        starts = np.concatenate(([0], starts))
        ends = np.concatenate((starts[1:], [len(keys)])) - 1
        # fmin/fmax ignore NaN (update_grad_ratio is NaN when the gradient is exactly zero).
        return (
            first[starts],
            last[ends],
            np.fmin.reduceat(mins, starts),
            np.fmax.reduceat(maxs, starts),
            lasts[ends],
        )

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Append values at strictly increasing step numbers (all later than those stored)."""
        if len(steps) == 0:
            return
        self.count += len(steps)
        w = self.width
        keys = steps // w
        first, last, mins, maxs, lasts = self._group(keys, steps, steps, values, values, values)
        n = self.n
        if n and self.first[n - 1] // w == first[0] // w:
            # The chunk continues the newest bucket: merge its head group into it.
            j = n - 1
            self.last[j] = last[0]
            self.mins[j] = np.fmin(self.mins[j], mins[0])
            self.maxs[j] = np.fmax(self.maxs[j], maxs[0])
            self.lasts[j] = lasts[0]
            first, last, mins, maxs, lasts = first[1:], last[1:], mins[1:], maxs[1:], lasts[1:]
        g = len(first)
        if n + g <= self.capacity:
            self.first[n : n + g] = first
            self.last[n : n + g] = last
            self.mins[n : n + g] = mins
            self.maxs[n : n + g] = maxs
            self.lasts[n : n + g] = lasts
            self.n = n + g
            return
        # Out of buckets: widen (double) until everything fits, merging neighbours.
        all_first = np.concatenate((self.first[:n], first))
        all_last = np.concatenate((self.last[:n], last))
        all_mins = np.concatenate((self.mins[:n], mins))
        all_maxs = np.concatenate((self.maxs[:n], maxs))
        all_lasts = np.concatenate((self.lasts[:n], lasts))
        while len(all_first) > self.capacity:
            self.width *= 2
            keys = all_first // self.width
            all_first, all_last, all_mins, all_maxs, all_lasts = self._group(
                keys, all_first, all_last, all_mins, all_maxs, all_lasts
            )
        m = len(all_first)
        self.first[:m] = all_first
        self.last[:m] = all_last
        self.mins[:m] = all_mins
        self.maxs[:m] = all_maxs
        self.lasts[:m] = all_lasts
        self.n = m


def _grown(a: np.ndarray, n: int, capacity: int) -> np.ndarray:
    """A copy of `a` with room for `capacity` items, its first `n` kept."""
    new = np.zeros(capacity, a.dtype)
    new[:n] = a[:n]
    return new


class _Table:
    """Full-resolution storage: a step column and one value column per series, appended
    together and grown by doubling (8 bytes per step plus 8 per value)."""

    __slots__ = ("n", "steps", "values")

    def __init__(self, names: Iterable[str], capacity: int) -> None:
        self.n = 0
        self.steps = np.zeros(capacity, np.int64)
        self.values = {name: np.zeros(capacity) for name in names}

    def extend(self, steps: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """Append rows at strictly increasing steps; `columns` has a value array per series."""
        n, g = self.n, len(steps)
        if not g:
            return
        if n + g > len(self.steps):
            capacity = max(2 * len(self.steps), n + g)
            self.steps = _grown(self.steps, n, capacity)
            for name, col in self.values.items():
                self.values[name] = _grown(col, n, capacity)
        self.steps[n : n + g] = steps
        for name, values in columns.items():
            self.values[name][n : n + g] = values
        self.n = n + g


class _Column(_Reads):
    """One series of a `_Table`, read as buckets of width 1 (every step exact)."""

    __slots__ = ("name", "table")
    width = 1

    def __init__(self, table: _Table, name: str) -> None:
        self.table = table
        self.name = name

    @property
    def n(self) -> int:
        return self.table.n

    @property
    def count(self) -> int:
        return self.table.n

    # One step per bucket: first = last = the step, min = max = last = the value.
    @property
    def first(self) -> np.ndarray:
        return self.table.steps

    last = first

    @property
    def mins(self) -> np.ndarray:
        return self.table.values[self.name]

    maxs = lasts = mins

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Append to a one-series table (the eval series)."""
        self.table.extend(steps, {self.name: values})

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.table.steps, self.table.values[self.name])


class _Path:
    """Bounded (x, y) path: points at steps divisible by `stride`, plus the exact newest one."""

    __slots__ = ("capacity", "grow", "last", "n", "steps", "stride", "xs", "ys")

    def __init__(self, capacity: int, grow: bool = False) -> None:
        self.capacity = capacity
        self.grow = grow  # True: keep every point, reallocating instead of thinning
        self.stride = 1
        self.n = 0
        self.steps = np.zeros(capacity, np.int64)
        self.xs = np.zeros(capacity)
        self.ys = np.zeros(capacity)
        self.last: tuple[int, float, float] | None = None

    @property
    def nbytes(self) -> int:
        return self.steps.nbytes + self.xs.nbytes + self.ys.nbytes

    def extend(self, steps: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
        if len(steps) == 0:
            return
        self.last = (int(steps[-1]), float(xs[-1]), float(ys[-1]))
        keep = steps % self.stride == 0
        steps, xs, ys = steps[keep], xs[keep], ys[keep]
        n, g = self.n, len(steps)
        if n + g > self.capacity and self.grow:
            capacity = max(2 * self.capacity, n + g)
            self.steps = _grown(self.steps, n, capacity)
            self.xs = _grown(self.xs, n, capacity)
            self.ys = _grown(self.ys, n, capacity)
            self.capacity = capacity
        while n + g > self.capacity:
            # Thin out: double the stride and keep the points on it (step 0 always stays).
            self.stride *= 2
            old = self.steps[:n] % self.stride == 0
            m = int(old.sum())
            self.steps[:m] = self.steps[:n][old]
            self.xs[:m] = self.xs[:n][old]
            self.ys[:m] = self.ys[:n][old]
            n = m
            keep = steps % self.stride == 0
            steps, xs, ys = steps[keep], xs[keep], ys[keep]
            g = len(steps)
        self.steps[n : n + g] = steps
        self.xs[n : n + g] = xs
        self.ys[n : n + g] = ys
        self.n = n + g

    def get(self, n_points: int | None) -> Trajectory:
        steps, xs, ys = self.steps[: self.n], self.xs[: self.n], self.ys[: self.n]
        if n_points is not None and self.n > n_points:
            # Evenly thinned; first point kept (the newest is appended below).
            idx = np.linspace(0, self.n - 1, max(n_points - 1, 1)).astype(np.int64)
            idx = np.unique(idx)
            steps, xs, ys = steps[idx], xs[idx], ys[idx]
        if self.last is not None and (len(steps) == 0 or steps[-1] != self.last[0]):
            steps = np.append(steps, self.last[0])
            xs = np.append(xs, self.last[1])
            ys = np.append(ys, self.last[2])
        return Trajectory(steps.copy(), xs.copy(), ys.copy())


class History:
    """Metric series of one run with memory bounded however long the run.

    `capacity` is the number of buckets per series (and points of the trajectory). `None`
    means full resolution: nothing is ever folded and memory grows with the run (48 bytes per
    step plus up to 2x doubling slack, about 50 at 1,000,000 steps; 24 more for a landscape's
    trajectory); for headless runs that must write every step.
    """

    def __init__(self, capacity: int | None = 4096) -> None:
        if capacity is not None and (
            isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 2
        ):
            raise ValueError(f"capacity must be an integer >= 2 or None, got {capacity!r}")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._init_storage()

    @property
    def full_resolution(self) -> bool:
        """True when every step is kept (capacity None)."""
        return self.capacity is None

    def _init_storage(self) -> None:
        grow = self.capacity is None
        capacity = _GROW_START if grow else self.capacity
        self._series: dict[str, _Buckets | _Column]
        self._table: _Table | None = None  # full resolution: the training series' columns
        if grow:
            self._table = _Table(STEP_SERIES, capacity)
            self._series = {name: _Column(self._table, name) for name in STEP_SERIES}
            for name in EVAL_SERIES + SHARPNESS_SERIES:  # sparse, each at its own steps
                self._series[name] = _Column(_Table((name,), capacity), name)
        else:
            self._series = {name: _Buckets(capacity) for name in SERIES + SHARPNESS_SERIES}
        self._path = _Path(capacity, grow)
        self._last: dict[str, float] = {}
        self._last_step: dict[str, int] = {}
        # Pending rows, folded into buckets in bulk.
        self._p_steps: list[int] = []
        self._p_cols: tuple[list[float], ...] = tuple([] for _ in STEP_SERIES)
        self._p_eval: list[tuple[int, float, float | None]] = []
        self._p_path: list[tuple[int, float, float]] = []
        self._p_sharp: list[tuple[int, float, float, float | None]] = []
        # The eval loss's new lows at full resolution, however the series folds (see
        # `eval_descents`), and its lowest value after step 0 with the step it came at.
        self._descent_steps: list[int] = []
        self._descent_losses: list[float] = []
        self._best_eval: tuple[float, int] | None = None

    # -- appending (hot path) ------------------------------------------------------------

    def record(
        self,
        step: int,
        loss: float,
        lr: float,
        grad_norm: float,
        update_norm: float,
        update_grad_ratio: float,
    ) -> None:
        """Append the training metrics of `step` (steps must increase)."""
        with self._lock:
            self._p_steps.append(step)
            c = self._p_cols
            c[0].append(loss)
            c[1].append(lr)
            c[2].append(grad_norm)
            c[3].append(update_norm)
            c[4].append(update_grad_ratio)
            if len(self._p_steps) >= _FOLD_EVERY:
                self._fold()

    def record_eval(self, step: int, loss: float, accuracy: float | None = None) -> None:
        """Append eval metrics at `step` (accuracy only for classifiers)."""
        with self._lock:
            self._p_eval.append((step, loss, accuracy))
            if len(self._p_eval) >= _FOLD_EVERY:
                self._fold()

    def record_sharpness(
        self, step: int, value: float, error: float, preconditioned: float | None = None
    ) -> None:
        """Append a sharpness measurement at `step` (see SHARPNESS_SERIES)."""
        with self._lock:
            self._p_sharp.append((step, value, error, preconditioned))
            if len(self._p_sharp) >= _FOLD_EVERY:
                self._fold()

    def record_point(self, step: int, x: float, y: float) -> None:
        """Append the (x, y) params of a 2-D run at `step` (step 0 = the start)."""
        with self._lock:
            self._p_path.append((step, x, y))
            if len(self._p_path) >= _FOLD_EVERY:
                self._fold()

    def _fold(self) -> None:
        """Move pending rows into the buckets (caller holds the lock)."""
        if self._p_steps:
            steps = np.array(self._p_steps, np.int64)
            columns = {}
            for name, col in zip(STEP_SERIES, self._p_cols, strict=True):
                columns[name] = np.array(col, np.float64)
                self._last[name] = col[-1]
                self._last_step[name] = self._p_steps[-1]
                col.clear()
            if self._table is not None:
                self._table.extend(steps, columns)  # one shared step column
            else:
                for name, values in columns.items():
                    self._series[name].extend(steps, values)
            self._p_steps.clear()
        if self._p_eval:
            rows = self._p_eval
            self._note_descents(rows)
            steps = np.array([r[0] for r in rows], np.int64)
            self._series["eval_loss"].extend(steps, np.array([r[1] for r in rows], np.float64))
            self._last["eval_loss"] = rows[-1][1]
            self._last_step["eval_loss"] = rows[-1][0]
            acc = [r for r in rows if r[2] is not None]
            if acc:
                self._series["eval_accuracy"].extend(
                    np.array([r[0] for r in acc], np.int64),
                    np.array([r[2] for r in acc], np.float64),
                )
                self._last["eval_accuracy"] = acc[-1][2]  # type: ignore[assignment]
                self._last_step["eval_accuracy"] = acc[-1][0]
            rows.clear()
        if self._p_sharp:
            rows = self._p_sharp
            for i, name in enumerate(SHARPNESS_SERIES):
                kept = [r for r in rows if r[i + 1] is not None]
                if kept:
                    self._series[name].extend(
                        np.array([r[0] for r in kept], np.int64),
                        np.array([r[i + 1] for r in kept], np.float64),
                    )
                    self._last[name] = kept[-1][i + 1]  # type: ignore[assignment]
                    self._last_step[name] = kept[-1][0]
            rows.clear()
        if self._p_path:
            arr = np.array(self._p_path, np.float64)
            self._path.extend(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2])
            self._p_path.clear()

    def _note_descents(self, rows: list[tuple[int, float, float | None]]) -> None:
        low = self._descent_losses[-1] if self._descent_losses else math.inf
        best = self._best_eval
        for step, loss, _ in rows:
            if loss < low:  # NaN never is
                low = loss
                self._descent_steps.append(step)
                self._descent_losses.append(loss)
            if step > 0 and (best is None or loss < best[0]):
                best = (loss, step)  # the first of equal minima
        self._best_eval = best

    # -- reading -------------------------------------------------------------------------

    def _check(self, name: str) -> _Buckets | _Column:
        try:
            return self._series[RENAMED_SERIES.get(name, name)]
        except KeyError:
            raise ValueError(
                f"unknown series {name!r} (expected one of: {', '.join(SERIES + SHARPNESS_SERIES)})"
            ) from None

    def downsample(
        self, name: str, n_points: int, start: int | None = None, end: int | None = None
    ) -> Downsampled:
        """At most `n_points` points of series `name`, each covering neighbouring steps with
        their min, max and last value, so spikes stay visible. Optional `start`/`end` restrict
        to buckets overlapping that step range. Cost is bounded by the bucket capacity."""
        if n_points < 1:
            raise ValueError(f"n_points must be an integer >= 1, got {n_points!r}")
        buckets = self._check(name)
        with self._lock:
            self._fold()
            return buckets.downsample(n_points, start, end)

    def last(self, name: str) -> float | None:
        """The newest value of series `name`, or None before it has any."""
        self._check(name)
        with self._lock:
            self._fold()
            return self._last.get(name)

    def last_step(self, name: str) -> int | None:
        """The step of the newest value of series `name`, or None."""
        self._check(name)
        with self._lock:
            self._fold()
            return self._last_step.get(name)

    def count(self, name: str) -> int:
        """How many values series `name` has received (not how many are stored)."""
        buckets = self._check(name)
        with self._lock:
            self._fold()
            return buckets.count

    def width(self, name: str) -> int:
        """Steps per bucket of series `name` (1 while every step is stored exactly)."""
        buckets = self._check(name)
        with self._lock:
            self._fold()
            return buckets.width

    def __len__(self) -> int:
        """Number of steps recorded (training metrics)."""
        with self._lock:
            return self._series["loss"].count + len(self._p_steps)

    def trajectory(self, n_points: int | None = None) -> Trajectory:
        """The bounded (x, y) path of a 2-D run (empty for other tasks)."""
        with self._lock:
            self._fold()
            return self._path.get(n_points)

    def buckets(self, name: str) -> Downsampled:
        """All stored buckets of `name` (exact values while `width(name) == 1`)."""
        buckets = self._check(name)
        with self._lock:
            self._fold()
            return buckets.stored()

    def eval_descents(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, losses) of the evaluations whose eval loss was lower than every one before
        (step 0 first), kept at full resolution however the eval series folds: the first
        evaluation at or below any threshold is one of them (`engine.outcome.steps_to`).
        Grows with the evaluations only while the loss keeps reaching new lows."""
        with self._lock:
            self._fold()
            return (
                np.array(self._descent_steps, np.int64),
                np.array(self._descent_losses, np.float64),
            )

    def best_eval(self) -> tuple[float, int] | None:
        """(lowest eval loss after step 0, its first step), exact however the series folds;
        None before an evaluation after step 0 (or when every one was NaN)."""
        with self._lock:
            self._fold()
            return self._best_eval

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored arrays (pending rows are bounded by `_FOLD_EVERY`)."""
        arrays = {id(a): a for b in self._series.values() for a in b.arrays()}  # shared once
        total = sum(a.nbytes for a in arrays.values()) + self._path.nbytes
        # Pending lists: at most _FOLD_EVERY rows of Python floats (~32 bytes per float + slot).
        pending = len(self._p_steps) * 6 + len(self._p_eval) * 3 + len(self._p_path) * 3
        pending += len(self._p_sharp) * 4
        descents = 72 * len(self._descent_steps)  # new lows: 2 list slots + 2 Python numbers
        return total + descents + pending * 40

    def clear(self) -> None:
        """Forget everything (a run's reset)."""
        with self._lock:
            self._init_storage()


# -- export -------------------------------------------------------------------------------

#: Columns of an exported CSV, in order (eval columns only when a run evaluates).
CSV_COLUMNS = ("step", *STEP_SERIES, *EVAL_SERIES)
_JSON_FORMAT = "optplay-history"


def _evaluates(run: Any) -> tuple[bool, bool]:
    """Whether a run's export has eval_loss / eval_accuracy columns: it evaluates during
    training (eval_every > 0); accuracy only for classifiers."""
    every = int(getattr(run.config, "eval_every", 0) or 0) > 0
    return every, every and bool(getattr(run.task, "is_classifier", False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _float_list(values: np.ndarray) -> list[float | None]:
    # JSON has no NaN: a missing number (update_grad_ratio of a zero gradient) becomes null.
    return [v if math.isfinite(v) else None for v in values.tolist()]


def run_record(run: Any, name: str | None = None) -> dict[str, Any]:
    """Everything `export_history` writes for one run, as plain Python (JSON-ready) data."""
    cfg = run.config
    h: History = run.history
    first = h.buckets(STEP_SERIES[0])
    record: dict[str, Any] = {
        "name": name if name is not None else cfg.optimizer,
        "task": cfg.task,
        "optimizer": cfg.optimizer,
        "schedule": cfg.schedule,
        "seed": cfg.seed,
        "dtype": cfg.dtype,
        "eval_every": cfg.eval_every,
        "task_hypers": _jsonable(dict(cfg.task_hypers)),
        "optimizer_hypers": _jsonable(dict(cfg.optimizer_hypers)),
        "schedule_hypers": _jsonable(dict(cfg.schedule_hypers)),
        "state": run.state,
        "diverged_at": run.diverged_at,
        "steps_done": int(run.steps_done),
        "resolution": h.width(STEP_SERIES[0]),
        "step": first.steps.tolist(),
    }
    for series in STEP_SERIES:
        record[series] = _float_list(h.buckets(series).lasts)
    ev = h.buckets("eval_loss")
    record["eval"] = {"step": ev.steps.tolist(), "loss": _float_list(ev.lasts)}
    if h.count("eval_accuracy"):
        acc = h.buckets("eval_accuracy")
        record["eval"]["accuracy_step"] = acc.steps.tolist()
        record["eval"]["accuracy"] = _float_list(acc.lasts)
    path = h.trajectory()
    if len(path.steps):
        record["trajectory"] = {
            "step": path.steps.tolist(),
            "x": _float_list(path.xs),
            "y": _float_list(path.ys),
        }
    if h.count("sharpness"):
        sharp = h.buckets("sharpness")
        record["sharpness"] = {
            "step": sharp.steps.tolist(),
            "value": _float_list(sharp.lasts),
            "error": _float_list(h.buckets("sharpness_error").lasts),
        }
        if h.count("preconditioned_sharpness"):
            pre = h.buckets("preconditioned_sharpness")
            record["sharpness"]["preconditioned_step"] = pre.steps.tolist()
            record["sharpness"]["preconditioned"] = _float_list(pre.lasts)
    if getattr(run, "state_summaries", None) is not None:
        from engine.state_history import state_record

        record["state_summaries"] = state_record(run, record["name"])
    return record


def _csv_number(x: float) -> str:
    return repr(float(x))  # shortest round-tripping text; "nan"/"inf" parse back with float()


def _csv_rows(name: str | None, run: Any, columns: list[str]) -> Iterable[list[str]]:
    h: History = run.history
    steps = h.buckets(STEP_SERIES[0]).steps
    cols = {s: h.buckets(s).lasts for s in STEP_SERIES}
    evals: dict[str, dict[int, float]] = {}
    for series in EVAL_SERIES + SHARPNESS_SERIES:
        if series in columns:
            b = h.buckets(series)
            evals[series] = dict(zip(b.steps.tolist(), b.lasts.tolist(), strict=True))
    shown = None if name is None else for_spreadsheet(name)  # never a formula (module doc)
    for i, step in enumerate(steps.tolist()):
        row = [] if shown is None else [shown]
        row.append(str(step))
        row += [_csv_number(cols[s][i]) for s in STEP_SERIES]
        for series in EVAL_SERIES + SHARPNESS_SERIES:
            if series in columns:
                value = evals[series].get(step)
                row.append("" if value is None else _csv_number(value))
        yield row


def export_format(path: str | os.PathLike[str]) -> str:
    """ "csv" or "json" from a file name; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise ValueError(f"{os.fspath(path)}: history files must end in .csv or .json")


def export_history(runs: Any, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write the history of one run or several (see `engine.named_runs.named_runs`) to `path`.

    The format comes from the suffix (.csv / .json) unless `fmt` is given.

    CSV: one row per stored training step (step >= 1; every step at full resolution, i.e. a
    Run with `history_capacity=None`; a folded app history gives one row per bucket, holding the
    exact metrics of the bucket's last step). Columns: step, loss, lr, grad_norm, update_norm,
    update_grad_ratio, then eval_loss (when the run evaluates during training, eval_every > 0) and
    eval_accuracy (classifiers), filled on the rows where an evaluation happened, then
    sharpness, sharpness_error and preconditioned_sharpness when a run measured them
    (`RunConfig.sharpness_every`), filled on the rows where it did. With several
    runs, a first column `run` names each row's run; a name starting with =, +, -, @, a tab
    or a carriage return is written with a leading apostrophe, so a spreadsheet shows it as
    text instead of running it as a formula. The step-0 evaluation (before training) is in
    the JSON only. Numbers are written with repr, so they parse back exactly.

    Written atomically (`engine.files.write_text_atomic`): the old file or the new one,
    never half of one; symlinks, modes and owners are kept.

    JSON: {"format": "optplay-history", "version": 1, "runs": [...]}, one object per run with
    its config, state, and the arrays "step", "loss", ... (NaN as null), "eval" (step, loss,
    accuracy, including step 0), "sharpness" (step, value, error; preconditioned_step and
    preconditioned) when measured, for 2-D tasks "trajectory" (step, x, y) and, for a run that
    records them, "state_summaries" (engine.state_history.state_record). Read it back with
    `load_history_json`."""
    fmt = fmt or export_format(path)
    named = named_runs(runs)
    target = Path(path)
    if fmt == "json":
        doc = {
            "format": _JSON_FORMAT,
            "version": 1,
            "runs": [run_record(run, name) for name, run in named],
        }
        write_text_atomic(target, json.dumps(doc, allow_nan=False, indent=1) + "\n")
        return
    if fmt != "csv":
        raise ValueError(f"unknown history format {fmt!r} (expected csv or json)")
    has_eval = has_acc = False
    for _, run in named:
        e, a = _evaluates(run)
        has_eval, has_acc = has_eval or e, has_acc or a
    columns = ["step", *STEP_SERIES]
    if has_eval:
        columns.append("eval_loss")
    if has_acc:
        columns.append("eval_accuracy")
    for series in SHARPNESS_SERIES:  # only when some run measured it: old formats unchanged
        if any(run.history.count(series) for _, run in named):
            columns.append(series)
    multi = len(named) > 1
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((["run"] if multi else []) + columns)
    for name, run in named:
        writer.writerows(_csv_rows(name if multi else None, run, columns))
    write_text_atomic(target, buf.getvalue())


def load_history_json(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read an exported JSON history: a list of run records whose series are NumPy arrays
    ("step" int64, metrics float64 with NaN for null); the rest as written."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != _JSON_FORMAT:
        raise ValueError(f"{os.fspath(path)}: not an optplay history file")

    def floats(values: list[float | None]) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in values], np.float64)

    out = []
    for record in doc["runs"]:
        rec = dict(record)
        for old, new in RENAMED_SERIES.items():  # files written before a series was renamed
            if old in rec and new not in rec:
                rec[new] = rec.pop(old)
        rec["step"] = np.array(rec["step"], np.int64)
        for series in STEP_SERIES:
            rec[series] = floats(rec[series])
        ev = dict(rec["eval"])
        ev["step"] = np.array(ev["step"], np.int64)
        ev["loss"] = floats(ev["loss"])
        if "accuracy" in ev:
            ev["accuracy_step"] = np.array(ev["accuracy_step"], np.int64)
            ev["accuracy"] = floats(ev["accuracy"])
        rec["eval"] = ev
        if "sharpness" in rec:
            sharp = dict(rec["sharpness"])
            for key in ("step", "preconditioned_step"):
                if key in sharp:
                    sharp[key] = np.array(sharp[key], np.int64)
            for key in ("value", "error", "preconditioned"):
                if key in sharp:
                    sharp[key] = floats(sharp[key])
            rec["sharpness"] = sharp
        if "trajectory" in rec:
            tr = rec["trajectory"]
            rec["trajectory"] = {
                "step": np.array(tr["step"], np.int64),
                "x": floats(tr["x"]),
                "y": floats(tr["y"]),
            }
        out.append(rec)
    return out
