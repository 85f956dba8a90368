"""Rasterise chart data into braille cells ourselves, so a frame's cost is bounded by the plot.

plotext draws lines by interpolating every segment into dots in Python and then grouping the
dots into braille characters; a noisy series (a loss band, gradient norms over decades) turns
into tens of thousands of dots and a frame into hundreds of milliseconds. Here the same
picture is made with NumPy on a fixed grid of 2x4 dots per character cell; the chart then
writes the non-empty cells (one braille character each) into plotext's matrix after plotext
has drawn the axes. A frame costs the same whatever the data: at most cols x rows cells.

Coordinates: `Frame` is the plot's data area in cells and its data limits. Values map to
dots the way plotext maps them (`get_matrix_data`: floor(0.5 + (n - 1) * fraction)), so the
cells line up with plotext's ticks and lines.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Braille dot bits by (row from top, column) inside a cell: dots 1-2-3-7 left, 4-5-6-8 right.
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.int32)
#: (row, column, bit shift) of each dot inside a cell, for `DotGrid.codes`.
_SHIFTS = tuple((r, c, int(bit).bit_length() - 1) for (r, c), bit in np.ndenumerate(_BITS))
#: The braille character of each dot code 0..255.
_GLYPHS = np.array([chr(0x2800 + code) for code in range(256)])
#: Most dots one segment of a path is drawn with (a far-off point of a diverging run).
_MAX_SEGMENT_DOTS = 4096


#: Line styles by lane (0 solid, 1 dashed, 2 dotted, 3 dash-dot, 4 long dash, 5 sparse): which
#: dot columns are drawn, as (period, drawn columns) in dot columns (two per character cell).
PATTERNS: tuple[tuple[int, tuple[int, ...]], ...] = (
    (1, (0,)),
    (8, (0, 1, 2, 3)),
    (4, (0,)),
    (12, (0, 1, 2, 3, 4, 5, 8)),
    (16, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    (8, (0,)),
)


@functools.lru_cache(maxsize=64)
def pattern_columns(pattern: int, width: int) -> np.ndarray | None:
    """Which of `width` dot columns line style `pattern` draws (None: all of them; read-only:
    shared between calls)."""
    period, drawn = PATTERNS[pattern % len(PATTERNS)]
    if period == 1:
        return None
    keep = np.isin(np.arange(width) % period, drawn)
    keep.flags.writeable = False
    return keep


def nearest(scaled: Any) -> Any:
    """The nearest whole cell or dot to a scaled coordinate, halves up. Rounded to 1e-6 of a
    cell first, so a point equal to another but for float noise (a run converged to 1 -
    1e-15 next to a minimum at 1, on a cell's edge) lands in the same cell."""
    return np.floor(0.5 + np.round(scaled, 6))


@dataclass(frozen=True)
class Frame:
    """The data area of a plot: `cols` x `rows` character cells showing [x0, x1] x [y0, y1]."""

    cols: int
    rows: int
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def usable(self) -> bool:
        return self.cols >= 2 and self.rows >= 2 and self.x1 > self.x0 and self.y1 > self.y0

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """The (column, row from the top) cell plotext puts the point (x, y) in."""
        c = nearest((self.cols - 1) * (x - self.x0) / (self.x1 - self.x0))
        r = nearest((self.rows - 1) * (y - self.y0) / (self.y1 - self.y0))
        return int(c), int(self.rows - 1 - r)

    def point_of(self, col: int, row: int) -> tuple[float, float]:
        """The (x, y) at the centre of cell (column, row from the top): `cell_of` inverted."""
        x = self.x0 + col * (self.x1 - self.x0) / max(self.cols - 1, 1)
        y = self.y0 + (self.rows - 1 - row) * (self.y1 - self.y0) / max(self.rows - 1, 1)
        return float(x), float(y)

    def cells_of(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`cell_of` for arrays of points: (columns, rows from the top); points that are not
        finite land outside the area (-1)."""
        with np.errstate(all="ignore"):
            c = nearest((self.cols - 1) * (xs - self.x0) / (self.x1 - self.x0))
            r = nearest((self.rows - 1) * (ys - self.y0) / (self.y1 - self.y0))
        ok = np.isfinite(c) & np.isfinite(r)
        cols = np.where(ok, c, -1).astype(np.int64)
        rows = np.where(ok, self.rows - 1 - r, -1).astype(np.int64)
        return cols, rows


class DotGrid:
    """A grid of braille dots over a `Frame` (row 0 at the top); draw into it, then `cells()`."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.width = 2 * frame.cols
        self.height = 4 * frame.rows
        self.dots = np.zeros((self.height, self.width), bool)

    # -- coordinates ----------------------------------------------------------------------

    def dot_x(self, xs: np.ndarray) -> np.ndarray:
        """Dot column of each x (may fall outside the grid)."""
        f = self.frame
        with np.errstate(all="ignore"):
            return nearest((self.width - 1) * (xs - f.x0) / (f.x1 - f.x0))

    def dot_y(self, ys: np.ndarray) -> np.ndarray:
        """Dot row from the bottom of each y (may fall outside the grid)."""
        f = self.frame
        with np.errstate(all="ignore"):
            return nearest((self.height - 1) * (ys - f.y0) / (f.y1 - f.y0))

    # -- drawing --------------------------------------------------------------------------

    def band(self, xs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """A series given per x as a [lo, hi] range: one vertical stroke per dot column.

        Columns between data points are interpolated and each stroke is stretched to touch
        its left neighbour, so a smooth series reads as a continuous line and a noisy one as
        a filled band (its spikes included)."""
        keep = np.isfinite(xs) & np.isfinite(lo) & np.isfinite(hi)
        if not keep.any():
            return
        cols = self.dot_x(xs[keep]).astype(np.int64)
        rlo = self.dot_y(np.minimum(lo[keep], hi[keep]))
        rhi = self.dot_y(np.maximum(lo[keep], hi[keep]))
        inside = (cols >= 0) & (cols < self.width)
        if not inside.any():
            return
        # Keep strokes far off the grid finite but harmless.
        rlo = np.clip(rlo, -1, self.height)
        rhi = np.clip(rhi, -1, self.height)
        col_lo = np.full(self.width, np.inf)
        col_hi = np.full(self.width, -np.inf)
        np.minimum.at(col_lo, cols[inside], rlo[inside])
        np.maximum.at(col_hi, cols[inside], rhi[inside])
        known = np.flatnonzero(col_hi >= col_lo)
        first, last = int(known[0]), int(known[-1]) + 1
        span = np.arange(first, last)
        lo_s, hi_s = col_lo[first:last], col_hi[first:last]
        drawn = hi_s >= lo_s
        if not drawn.all():  # columns between data points: interpolated through the middle
            filled = np.round(np.interp(span, known, 0.5 * (col_lo[known] + col_hi[known])))
            lo_s = np.where(drawn, lo_s, filled)
            hi_s = np.where(drawn, hi_s, filled)
        # Touch the left neighbour: no gaps on steep stretches.
        lo_c, hi_c = lo_s.copy(), hi_s.copy()
        lo_c[1:] = np.minimum(lo_s[1:], hi_s[:-1] + 1)
        hi_c[1:] = np.maximum(hi_s[1:], lo_s[:-1] - 1)
        # Rows counted from the top: the stroke covers height-1-hi .. height-1-lo.
        rows_down = np.arange(self.height)[:, None]
        top, bottom = self.height - 1 - hi_c, self.height - 1 - lo_c
        self.dots[:, first:last] |= (rows_down >= top) & (rows_down <= bottom)

    def polyline(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """A path through the points in order (need not be monotonic in x)."""
        keep = np.isfinite(xs) & np.isfinite(ys)
        c, r = self.dot_x(xs[keep]), self.dot_y(ys[keep])
        if len(c) == 0:
            return
        if len(c) == 1:
            self._set(c, r)
            return
        dc, dr = np.diff(c), np.diff(r)
        steps = np.minimum(np.maximum(np.abs(dc), np.abs(dr)), _MAX_SEGMENT_DOTS).astype(np.int64)
        steps = np.maximum(steps, 1)
        seg = np.repeat(np.arange(len(dc)), steps)
        starts = np.cumsum(steps) - steps
        t = (np.arange(int(steps.sum())) - starts[seg]) / steps[seg]
        self._set(
            np.append(np.round(c[seg] + t * dc[seg]), c[-1]),
            np.append(np.round(r[seg] + t * dr[seg]), r[-1]),
        )

    def add_mask(self, mask_bottom_up: np.ndarray) -> None:
        """Dots from a boolean grid of this grid's shape whose row 0 is the bottom."""
        self.dots |= mask_bottom_up[::-1]

    def _set(self, cols: np.ndarray, rows_up: np.ndarray) -> None:
        ok = (cols >= 0) & (cols < self.width) & (rows_up >= 0) & (rows_up < self.height)
        self.dots[self.height - 1 - rows_up[ok].astype(np.int64), cols[ok].astype(np.int64)] = True

    def dash(self, pattern: int) -> None:
        """Keep only the dot columns of line style `pattern` (see PATTERNS): lanes drawn in
        one colour, or without colour, still differ by style."""
        keep = pattern_columns(pattern, self.width)
        if keep is not None:
            self.dots &= keep[None, :]

    # -- output ---------------------------------------------------------------------------

    def codes(self) -> np.ndarray:
        """The braille dot code (0-255) of every cell, rows from the top."""
        dots = self.dots.view(np.uint8)  # one byte per dot, 0 or 1
        codes = np.zeros((self.frame.rows, self.frame.cols), np.uint8)
        for row, col, shift in _SHIFTS:
            codes |= dots[row::4, col::2] << shift
        return codes

    def cells(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Non-empty cells: rows (from the top), columns and their braille characters."""
        codes = self.codes()
        r, c = np.nonzero(codes)
        return r, c, _GLYPHS[codes[r, c]].tolist()
