"""What the State tab shows, computed from a run's optimizer state: plain data, no Textual.

- `coordinate_rows`: a table of every coordinate of a small problem (a 2-D landscape's x and
  y): the gradient g, each state array (m, v, ...), each derived array (m̂, v̂, α ...) and the
  step actually taken Δθ, labelled with the optimizer's own symbols and keys (its state_doc).
- `log_histogram`: today's distribution of a parameter's effective learning rates on a
  log axis shared by every row.
- `lanes_alpha_band`: one α band per run for a race: per recorded step, the lowest 10%
  quantile and the highest 90% quantile over the run's parameter groups (every group's own
  10-90% range lies inside), from the recorded state summaries.
- `small_problem`: whether a run is small enough for the coordinate table.

Everything here reads the run (`Run.inspect`, `Run.state_summaries`) and writes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.optimizer_state import StateInspection

#: The key every optimizer's effective learning rate has (derived array and summary).
ALPHA = "effective_lr"
#: At most this many coordinates get the table (one column each).
MAX_TABLE_COORDS = 4


@dataclass(frozen=True)
class CoordinateRow:
    """One quantity of the table: its symbol and key as the optimizer names them, what it
    means, and its value at each coordinate (None where it does not exist)."""

    symbol: str
    key: str
    help: str
    values: tuple[float | None, ...]


def small_problem(names: tuple[str, ...], shapes: dict[str, tuple[int, ...]]) -> bool:
    """True when every parameter group is a single number and there are at most
    MAX_TABLE_COORDS of them (a 2-D landscape, the quadratic, a 1-D regression)."""
    return 0 < len(names) <= MAX_TABLE_COORDS and all(math.prod(shapes[n]) == 1 for n in names)


def _number(a: Any) -> float | None:
    if a is None:
        return None
    if isinstance(a, np.ndarray):
        if a.size != 1:
            return None
        return float(a.reshape(-1)[0])
    if isinstance(a, bool):
        return float(a)
    if isinstance(a, int | float):
        return float(a)
    return None


def coordinate_rows(inspection: StateInspection) -> list[CoordinateRow]:
    """The table's rows, in the optimizer's declared order: g, its state arrays, its derived
    arrays, then Δθ. Arrays that do not exist yet (before the first step, or switched off by
    a knob) are left out; so are scalar state entries ("step", NAdam's "mu_product"), which
    are the same for every coordinate."""
    names = list(inspection.params)
    params = [inspection.params[n] for n in names]
    doc = inspection.doc
    rows = [
        CoordinateRow(
            "g", "grad", "gradient of the last step", tuple(_number(p.grad) for p in params)
        )
    ]
    declared = [(q, "state") for q in doc.state] + [(q, "derived") for q in doc.derived]
    for q, where in declared:
        values = []
        for p in params:
            source = p.state if where == "state" else p.derived
            value = source.get(q.key)
            values.append(_number(value) if isinstance(value, np.ndarray) else None)
        if any(v is not None for v in values):
            rows.append(CoordinateRow(q.symbol, q.key, q.help, tuple(values)))
    if any(p.update is not None for p in params):
        rows.append(
            CoordinateRow(
                "Δθ",
                "update",
                "the step actually taken: θ_t − θ_{t−1}",
                tuple(_number(p.update) for p in params),
            )
        )
    return rows


def positive_log10(values: np.ndarray) -> tuple[np.ndarray, int]:
    """log10 of the finite positive values, and how many values were left out."""
    flat = np.asarray(values, np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        keep = np.isfinite(flat) & (flat > 0)
        return np.log10(flat[keep]), int(flat.size - keep.sum())


def log_range(logs: list[np.ndarray]) -> tuple[float, float] | None:
    """The [lo, hi] (log10 units) covering every array, at least half a decade wide and
    padded slightly; None when there is nothing."""
    found = [a for a in logs if a.size]
    if not found:
        return None
    lo = min(float(a.min()) for a in found)
    hi = max(float(a.max()) for a in found)
    if hi - lo < 0.5:
        mid = 0.5 * (lo + hi)
        return mid - 0.25, mid + 0.25
    pad = 0.02 * (hi - lo)
    return lo - pad, hi + pad


def log_histogram(logs: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts of `logs` (log10 values) in `bins` equal bins over [lo, hi]; values outside
    go to the edge bins."""
    if bins <= 0:
        return np.zeros(0, np.int64)
    if not logs.size:
        return np.zeros(bins, np.int64)
    idx = np.floor((logs - lo) / (hi - lo) * bins).astype(np.int64)
    return np.bincount(np.clip(idx, 0, bins - 1), minlength=bins)


def shade_levels(counts: np.ndarray, levels: int = 4) -> np.ndarray:
    """Each bin's shade 0..levels: 0 for an empty bin, else ceil(levels · count / max), so
    a bin holding a single value still shows."""
    top = int(counts.max()) if counts.size else 0
    if top == 0:
        return np.zeros(counts.shape, np.int64)
    return np.ceil(levels * counts / top).astype(np.int64)


def lanes_alpha_band(
    summaries: Any, n_points: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(steps, low, high) of a run's α over time for a race: `low` is the lowest q10 and
    `high` the highest q90 over its parameter groups, so every group's own 10-90% range lies
    inside. None when the run records no α (summaries off, or none recorded yet)."""
    if summaries is None or ALPHA not in {q.key for q in summaries.summaries}:
        return None
    bands = [summaries.band(g, ALPHA, n_points) for g in summaries.groups]
    if not bands or not len(bands[0].steps):
        return None
    with np.errstate(all="ignore"):
        low = np.fmin.reduce([b.q10 for b in bands])
        high = np.fmax.reduce([b.q90 for b in bands])
    return bands[0].steps, low, high
