"""The State tab's text parts: the coordinate table, the histogram rows and the small curves.

Each is a `Static` given plain data and drawn as Rich text, one line per row, cropped to the
widget's width (nothing wraps). Every row carries its own label (a parameter's or a run's
name, a quantity's symbol), so the rows read without colour; colours only repeat the
matching band's colour on the α chart. Glyphs: histogram shades " ░▒▓█" (darker = more
parameters; an ASCII terminal's " .:#"), small curves in braille like every chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from engine.numbers import format_number
from tui.charts.axes import log_ticks
from tui.charts.braille import DotGrid, Frame
from tui.charts.state_data import CoordinateRow, log_histogram, shade_levels
from tui.terminal import ascii_words

#: Histogram shades by level 0..4 (empty, then more and more parameters in the bin).
SHADES = " ░▒▓█"
VALUE_WIDTH = 10  # "-1.235e-05"


def _pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded with spaces to `width` cells (cropped when longer)."""
    room = width - cell_len(text)
    if room < 0:
        return text[:width]
    return (" " * room + text) if right else (text + " " * room)


class TextRows(Static):
    """A Static showing lines of Rich text, cropped to its width."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.lines: list[Text] = []

    def show_lines(self, lines: list[Text]) -> None:
        """Show `lines`; nothing to do (no repaint) when they are the lines shown."""
        if _same_lines(lines, self.lines):
            return
        # As many lines as before: the same height, so no layout of the screen (it costs
        # more than drawing the rows).
        same_height = len(lines) == len(self.lines)
        self.lines = lines
        text = Text("\n").join(lines)
        text.no_wrap = True
        text.overflow = "crop"
        self.update(text, layout=not same_height)

    @property
    def plain(self) -> str:
        """What the rows say (for tests)."""
        return "\n".join(line.plain for line in self.lines)


def _same_lines(a: list[Text], b: list[Text]) -> bool:
    """Same characters and styles (Text's == leaves its base style out)."""
    return len(a) == len(b) and all(
        x.plain == y.plain and x.style == y.style and x.spans == y.spans
        for x, y in zip(a, b, strict=True)
    )


# -- the coordinate table --------------------------------------------------------------------


class CoordinateTable(TextRows):
    """Each coordinate's g, state, derived quantities and Δθ (a 2-D task's x and y)."""

    def show_table(
        self,
        title: str,
        coords: Sequence[str],
        rows: Sequence[CoordinateRow],
        width: int,
        note: str = "",
    ) -> None:
        head = Style(bold=True)
        dim = Style(dim=True)
        if getattr(self.app, "ascii_only", False):  # m̂ -> m_hat before the columns are sized
            title, coords, note = ascii_words(title), [ascii_words(c) for c in coords], (
                ascii_words(note))  # fmt: skip
            rows = [
                replace(r, symbol=ascii_words(r.symbol), help=ascii_words(r.help)) for r in rows
            ]
        lines = [Text(title[:width], style=head)]
        if note:
            lines.append(Text(note[:width], style=dim))
        if not rows:
            self.show_lines(lines)
            return
        sym_w = max(cell_len(r.symbol) for r in rows)
        key_w = max(len(r.key) for r in rows)
        used = sym_w + 1 + key_w + len(coords) * (1 + VALUE_WIDTH)
        help_w = width - used - 2
        header = _pad("", sym_w + 1 + key_w)
        header += "".join(" " + _pad(c, VALUE_WIDTH, right=True) for c in coords)
        if help_w >= 12:
            header += "  meaning"
        lines.append(Text(header[:width], style=dim))
        for r in rows:
            line = Text(_pad(r.symbol, sym_w), style=head)
            line.append(" " + _pad(r.key, key_w), style=dim)
            for v in r.values:
                line.append(" " + _pad(format_number(v, 4), VALUE_WIDTH, right=True))
            if help_w >= 12:
                text = r.help if len(r.help) <= help_w else r.help[: help_w - 1] + "…"
                line.append("  " + text, style=dim)
            line.truncate(width)
            lines.append(line)
        self.show_lines(lines)


# -- histogram rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistogramRow:
    """One row: a label (parameter group or run), the log10 of its positive effective
    rates, how many were not positive or not finite, and the row's colour."""

    label: str
    logs: np.ndarray
    dropped: int
    color: Any = None


class HistogramRows(TextRows):
    """Today's distribution of α, one row per parameter group (or per run), on one shared
    log axis, with the median at the end of each row."""

    def show_rows(
        self,
        title: str,
        rows: Sequence[HistogramRow],
        span: tuple[float, float] | None,
        width: int,
    ) -> None:
        head = Style(bold=True)
        dim = Style(dim=True)
        label_w = max((cell_len(r.label) for r in rows), default=1)
        value_w = 8
        bins = width - label_w - 1 - (1 + value_w)
        title_line = Text(_pad(title, width - value_w)[: width - value_w], style=head)
        title_line.append(_pad("median", value_w, right=True), style=dim)
        lines = [title_line]
        if span is None or bins < 4:
            for r in rows:
                lines.append(Text(f"{_pad(r.label, label_w)} no values yet"[:width]))
            self.show_lines(lines)
            return
        lo, hi = span
        for r in rows:
            line = Text(_pad(r.label, label_w) + " ", style=head)
            counts = log_histogram(r.logs, lo, hi, bins)
            levels = shade_levels(counts, len(SHADES) - 1)
            line.append("".join(SHADES[k] for k in levels.tolist()), style=Style(color=r.color))
            median = format_number(10 ** float(np.median(r.logs)), 2) if r.logs.size else "-"
            line.append(" " + _pad(median, value_w, right=True))
            if r.dropped and not r.logs.size:
                line = Text(f"{_pad(r.label, label_w)} no positive finite values"[:width])
            lines.append(line)
        lines.append(Text(self._axis(lo, hi, label_w + 1, bins, width), style=dim))
        self.show_lines(lines)

    @staticmethod
    def _axis(lo: float, hi: float, left: int, bins: int, width: int) -> str:
        """Tick labels under the bins: each centred on the bin holding its value."""
        ticks, labels = log_ticks(lo, hi)
        row = [" "] * width
        free_from = 0
        for t, label in zip(ticks, labels, strict=True):
            col = left + int((t - lo) / (hi - lo) * bins)
            start = max(col - len(label) // 2, left)
            start = min(start, left + bins - len(label))
            if start < free_from or start < 0:
                continue
            row[start : start + len(label)] = label
            free_from = start + len(label) + 1
        return "".join(row)[:width]


# -- small curves ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """A per-step scalar over time (a bias correction, β₁,t, μ_t, ρ_t ...)."""

    label: str
    steps: np.ndarray
    values: np.ndarray
    color: Any = None


def braille_curve(
    steps: np.ndarray, values: np.ndarray, x_end: float, cols: int, rows: int
) -> list[str]:
    """`rows` lines of `cols` braille cells drawing values over steps 0..x_end, scaled to
    the values' own range."""
    blank = [[" "] * cols for _ in range(rows)]
    finite = np.isfinite(values)
    if cols < 1 or rows < 1 or not finite.any():
        return ["".join(r) for r in blank]
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    frame = Frame(cols, rows, 0.0, max(float(x_end), 1.0), lo, hi)
    grid = DotGrid(frame)
    grid.polyline(np.asarray(steps, np.float64), np.asarray(values, np.float64))
    r, c, chars = grid.cells()
    for row, col, ch in zip(r.tolist(), c.tolist(), chars, strict=True):
        blank[row][col] = ch
    return ["".join(line) for line in blank]


class CurveRows(TextRows):
    """Small curves over time, each labelled with its symbol and its newest value."""

    def show_curves(
        self, curves: Sequence[Curve], rows_each: int, x_end: float, width: int
    ) -> None:
        if not curves:
            self.show_lines([])
            return
        label_w = max(cell_len(c.label) for c in curves)
        value_w = 9
        cols = max(width - label_w - 1 - (1 + value_w), 1)
        lines = []
        for curve in curves:
            drawn = braille_curve(curve.steps, curve.values, x_end, cols, rows_each)
            finite = curve.values[np.isfinite(curve.values)]
            newest = format_number(float(curve.values[-1]), 4) if len(curve.values) else "-"
            if len(curve.values) and not finite.size:
                newest = "-"
            for i, part in enumerate(drawn):
                label = curve.label if i == 0 else ""
                line = Text(_pad(label, label_w) + " ", style=Style(bold=True))
                line.append(part, style=Style(color=curve.color))
                if i == 0:
                    line.append(" " + _pad(newest, value_w, right=True))
                lines.append(line)
        self.show_lines(lines)
