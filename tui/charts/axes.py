"""Axis helpers shared by the charts: round ticks, their labels, log scales and titles."""

from __future__ import annotations

import itertools
import math

import numpy as np


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick positions (steps of 1, 2, 2.5 or 5 x 10^k) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    best: list[float] = []
    for m in (0.5, 1, 2, 2.5, 5, 10):
        step = m * mag
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        ticks = [0.0 if k == 0 else k * step for k in range(first, last + 1)]
        closer = not best or abs(len(ticks) - count) < abs(len(best) - count)
        if len(ticks) <= count + 1 and closer:
            best = ticks
    return best


def step_label(x: float) -> str:
    """Step numbers on the x axis: 0, 500, 1.5k, 20k, 1M."""
    x = round(x)
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(x) >= size:
            value = x / size
            return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    return str(x)


def epoch_label(x: float) -> str:
    """An epoch count on the x axis: 0, 2.5, 12, 1.2k (one decimal below 10)."""
    if abs(x) >= 10:
        return step_label(x)
    return f"{x:.1f}".rstrip("0").rstrip(".")


def value_label(x: float | None) -> str:
    """A value in a title: 4 significant digits (0.01234, 1.234e-05)."""
    if x is None:
        return "—"
    return f"{x:.4g}"


def _short_exp(text: str) -> str:
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for evenly spaced ticks, all in one format with just enough decimals."""
    if not ticks:
        return []
    biggest = max(abs(t) for t in ticks)
    spacing = min((b - a for a, b in itertools.pairwise(ticks)), default=biggest)
    spacing = spacing or biggest or 1.0
    decimals = max(0, -math.floor(math.log10(spacing) + 1e-9))
    if abs(round(spacing * 10**decimals) - spacing * 10**decimals) > 1e-6:
        decimals += 1  # steps like 0.25
    if biggest < 1e5 and decimals <= 4:
        return [f"{t:.{decimals}f}" for t in ticks]
    for digits in range(1, 6):  # exponent form with just enough digits to be exact
        labels = [f"{t:.{digits}e}" for t in ticks]
        pairs = zip(labels, ticks, strict=True)
        if all(abs(float(label) - t) <= 1e-9 * biggest for label, t in pairs):
            break
    return [_short_exp(label) if t else "0" for label, t in zip(labels, ticks, strict=True)]


def to_plot(values: np.ndarray, log_y: bool) -> np.ndarray:
    """Values as plotted: log10 on a log axis (non-positive values become NaN)."""
    if not log_y:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks inside [lo, hi] (log10 units) for a log axis, labelled with the values."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        step = math.ceil(len(decades) / 5)
        ticks = [float(d) for d in decades[::step]]
        return ticks, [_short_exp(f"{10**t:.0e}") for t in ticks]
    # Less than a decade in view: round values inside it.
    values = [v for v in nice_ticks(10**lo, 10**hi, 4) if v > 0]
    return [math.log10(v) for v in values], tick_labels(values)


def fit_title(parts: list[str], room: int) -> str:
    """The leading parts that fit in `room` columns (plotext drops a wider title)."""
    room = max(room, 10)
    parts = parts or [""]
    title = parts[0][:room]
    for part in parts[1:]:
        if len(title) + 3 + len(part) > room:
            break
        title += " · " + part
    return title


def one_tick_per_row(
    ticks: list[float], labels: list[str], lo: float, hi: float, rows: int
) -> tuple[list[float], list[str]]:
    """The ticks (and labels) that each fall on a row of their own, among `rows` rows
    showing [lo, hi] (rows mapped as plotext maps them). Two ticks on one row would leave
    plotext to pick which label shows, and its pick is not the same from run to run."""
    if rows < 1 or not hi > lo:
        return ticks, labels
    kept: tuple[list[float], list[str]] = ([], [])
    used: set[int] = set()
    for t, label in zip(ticks, labels, strict=True):
        row = math.floor(round(0.5 + (rows - 1) * (t - lo) / (hi - lo), 8))
        if row not in used:
            used.add(row)
            kept[0].append(t)
            kept[1].append(label)
    return kept
