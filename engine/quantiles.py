"""The five order statistics recorded per parameter group: min, 10%, median, 90%, max.

Each is the order statistic at rank floor(q·(n − 1)) of the group's n values (numpy's
`method="lower"`): exact values of the group, never interpolated. A group holding a NaN gives
NaN for all five. Used by the optimizer state reader (engine.optimizer_state), which computes
them, and the state summaries over time (engine.state_history), which store them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["QUANTILES", "STATS", "order_statistics_into", "quantiles_into", "stat_ranks"]

#: The statistics recorded per (group, summary), and the quantile each one is.
STATS = ("min", "q10", "median", "q90", "max")
QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)

_RANKS: dict[int, tuple[np.ndarray, int, int, int]] = {}
_SORT_BELOW = 4096  # groups up to this size are sorted whole (fast SIMD sort), larger selected


def stat_ranks(n: int) -> tuple[np.ndarray, int, int, int]:
    """For n values: the ranks of STATS followed by their mirror images n − 1 − rank in the
    same order (an index array of 10), and the ranks of q10, median and q90.

    The mirror ranks give the STATS of f(x) for a non-increasing f from the order statistics
    of x: min f(x) = f(max x), q10 of f(x) = f(x at rank n − 1 − k10), ..."""
    found = _RANKS.get(n)
    if found is None:
        k10, k50, k90 = (math.floor(q * (n - 1)) for q in QUANTILES[1:4])
        ranks = [0, k10, k50, k90, n - 1]
        mirror = [n - 1 - r for r in ranks]
        found = _RANKS[n] = (np.array(ranks + mirror, np.intp), k10, k50, k90)
    return found


def order_statistics_into(a: np.ndarray, out: np.ndarray, mirrored: bool = False) -> None:
    """Write the STATS of the 1-D array `a` into `out[:5]` and, with `mirrored`, the values
    at the mirror ranks into `out[5:10]` (see `stat_ranks`); `a` is reordered in place and
    `out` must be contiguous. All NaN when `a` holds a NaN (or is empty)."""
    m = 10 if mirrored else 5
    n = a.size
    if n == 0:
        out[:m] = math.nan
        return
    ranks, k10, k50, k90 = stat_ranks(n)
    if n <= _SORT_BELOW:
        a.sort()  # NaNs sort last
        out[:m] = a[ranks[:m]]
        if a[-1] != a[-1]:
            out[:m] = math.nan
        return
    # One k at a time: the median, then q90 in the upper part and q10 in the lower one.
    # numpy's single-k selection is SIMD-accelerated, its several-k one is not (5x slower).
    a.partition(k50)
    a[k50:].partition(k90 - k50)
    a[:k50].partition(k10)
    top = a[k90:].max()  # NaNs sort last: the max is NaN iff `a` holds one
    if top != top:
        out[:m] = math.nan
        return
    low = a[: k10 + 1].min()
    cuts = (k10, k50, k90)
    for i, r in enumerate(ranks[:m].tolist()):
        if r == 0:
            out[i] = low
        elif r == n - 1:
            out[i] = top
        elif r in cuts:
            out[i] = a[r]
        else:  # a mirror rank next to a cut: the smallest value of the part after the cut
            lo = max(c for c in cuts if c < r)
            hi = min([c for c in cuts if c > r] + [n])
            part = a[lo + 1 : hi]
            if r > lo + 1:
                part.partition(r - lo - 1)
                out[i] = a[r]
            else:
                out[i] = part.min()


def quantiles_into(a: np.ndarray, out: np.ndarray) -> None:
    """Write the STATS of the 1-D array `a` into `out[:5]` (contiguous), reordering `a` in
    place. Each is the order statistic at rank floor(q·(n − 1)), as `np.quantile(a, q,
    method="lower")`; all NaN when `a` holds a NaN (or is empty)."""
    order_statistics_into(a, out)
