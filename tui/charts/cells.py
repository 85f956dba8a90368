"""A grid of character cells drawn with NumPy: for charts that are pictures, not line plots.

The Model tab's views (decision regions in half blocks, a confusion matrix, 8x8 digits, bar
rows, small braille plots) set each cell's character, foreground and background colour and
text style in arrays, then `CellCanvas.strips()` turns the grid into Textual `Strip`s with one
Segment per run of equal style. A frame costs about one NumPy pass over the cells plus one
Segment per run, whatever the data behind it.

Colours live in the canvas's `Palette` (index 0 is "the widget's own colour"), so a style is
built once per (foreground, background, text style) triple. `Look` says what the terminal
shows: without colour (NO_COLOR) or without Unicode (an ASCII-only terminal), views draw with
glyphs that stay apart (see tui/charts/model_regions.py).
"""

from __future__ import annotations

import itertools
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.strip import Strip

#: Text style bits of a cell.
BOLD = 1
REVERSE = 2
DIM = 4

#: Braille dot bits by (row from top, column) inside a cell (as tui/charts/braille.py).
BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.int32)


@dataclass(frozen=True)
class Look:
    """What the terminal can show: `colors` False under NO_COLOR, `ascii` True when every
    character is mapped to one ASCII character (views then pick glyphs that differ there)."""

    colors: bool = True
    ascii: bool = False

    @property
    def blocks(self) -> bool:
        """Whether half blocks with two colours per cell can carry a picture."""
        return self.colors and not self.ascii


def look_of(app: Any) -> Look:
    """The `Look` of a running app: NO_COLOR is Textual's `app.no_color`; an ASCII terminal is
    the app's `ascii_only` (it then draws every cell through tui.ascii_filter.AsciiFilter)."""
    colors = not getattr(app, "no_color", False)
    return Look(colors=colors, ascii=bool(getattr(app, "ascii_only", False)))


def to_color(color: Any) -> Color | None:
    """A Textual Color from a rich Color, a Textual Color or None."""
    if color is None or isinstance(color, Color):
        return color
    return Color.from_rich_color(color)


class Palette:
    """Colours by index; index 0 is None (the widget's own foreground or background)."""

    def __init__(self) -> None:
        self.colors: list[Color | None] = [None]
        self._index: dict[tuple[int, int, int, float], int] = {}

    def add(self, color: Any) -> int:
        """The index of `color` (a rich or Textual Color; None gives 0), added if new."""
        c = to_color(color)
        if c is None:
            return 0
        key = (c.r, c.g, c.b, c.a)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.colors)
            self.colors.append(c)
        return index

    def ramp(self, base: Any, top: Any, strengths: np.ndarray | list[float]) -> np.ndarray:
        """Indices of `base` blended toward `top` by each strength in [0, 1] (base None or
        top None: the other one, or index 0)."""
        b, t = to_color(base), to_color(top)
        out = []
        for s in strengths:
            if t is None:
                out.append(self.add(b))
            elif b is None:
                out.append(self.add(t))
            else:
                out.append(self.add(b.blend(t, float(s))))
        return np.array(out, np.int32)


class CellCanvas:
    """`rows` x `cols` cells: `chars` (one character each), `fg` and `bg` (palette indices)
    and `attrs` (BOLD | REVERSE | DIM bits). Row 0 is the top."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = max(cols, 0), max(rows, 0)
        shape = (self.rows, self.cols)
        self.chars = np.full(shape, " ", dtype="<U1")
        self.fg = np.zeros(shape, np.int32)
        self.bg = np.zeros(shape, np.int32)
        self.attrs = np.zeros(shape, np.int32)
        self.palette = Palette()

    # -- writing --------------------------------------------------------------------------

    def text(
        self, row: int, col: int, text: str, color: Any = None, attrs: int = 0, bg: Any = None
    ) -> int:
        """Write `text` from (row, col), clipped to the canvas; returns the column after it."""
        if not 0 <= row < self.rows or col >= self.cols or not text:
            return col + len(text)
        start = max(col, 0)
        chars = list(text[start - col : self.cols - col])
        end = start + len(chars)
        if chars:
            self.chars[row, start:end] = chars
            self.fg[row, start:end] = self.palette.add(color)
            self.attrs[row, start:end] = attrs
            if bg is not None:
                self.bg[row, start:end] = self.palette.add(bg)
        return col + len(text)

    def texts(self, row: int, col: int, parts: list[tuple[str, Any, int]]) -> int:
        """Write (text, colour, attrs) parts one after another on one row."""
        for text, color, attrs in parts:
            col = self.text(row, col, text, color, attrs)
        return col

    def braille(
        self, top: int, left: int, bits: np.ndarray, owner: np.ndarray, colors: list[int]
    ) -> None:
        """Braille cells at (top, left): `bits` (rows, cols) dot bits, `owner` the index into
        `colors` (palette indices) of the layer that colours each cell; 0 bits stay as they
        are."""
        r, c = np.nonzero(bits)
        if len(r) == 0:
            return
        rr, cc = r + top, c + left
        ok = (rr >= 0) & (rr < self.rows) & (cc >= 0) & (cc < self.cols)
        r, c, rr, cc = r[ok], c[ok], rr[ok], cc[ok]
        codes = (0x2800 + bits[r, c]).tolist()
        self.chars[rr, cc] = [chr(code) for code in codes]
        self.fg[rr, cc] = np.asarray(colors, np.int32)[owner[r, c]]

    # -- output ---------------------------------------------------------------------------

    def strips(self, base: Style | None = None) -> list[Strip]:
        """One Strip per row; each run of cells with the same colours and style is one
        Segment, its style laid over `base` (the widget's own style)."""
        base = base or Style()
        styles: dict[int, Style] = {}
        n = len(self.palette.colors)
        key = (self.fg.astype(np.int64) * n + self.bg) * 8 + self.attrs
        out = []
        for row in range(self.rows):
            k = key[row]
            text = "".join(self.chars[row].tolist())
            cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
            bounds = [0, *cuts.tolist(), self.cols]
            segments = []
            for a, b in itertools.pairwise(bounds):
                style_key = int(k[a])
                style = styles.get(style_key)
                if style is None:
                    style = styles[style_key] = base + self._style(style_key, n)
                segments.append(Segment(text[a:b], style))
            out.append(Strip(segments, self.cols))
        return out

    def _style(self, key: int, n: int) -> Style:
        attrs = key % 8
        fg, bg = divmod(key // 8, n)
        return Style(
            color=_rich(self.palette.colors[fg]),
            bgcolor=_rich(self.palette.colors[bg]),
            bold=bool(attrs & BOLD) or None,
            reverse=bool(attrs & REVERSE) or None,
            dim=bool(attrs & DIM) or None,
        )

    def lines(self) -> list[str]:
        """The characters, row by row (for tests and text captures)."""
        return ["".join(row.tolist()) for row in self.chars]


def _rich(color: Color | None) -> RichColor | None:
    return None if color is None else color.rich_color


def braille_bits(dots: np.ndarray) -> np.ndarray:
    """Braille bits per cell (rows, cols) of a boolean dot grid (4 rows, 2 cols per cell; row
    0 at the top)."""
    h, w = dots.shape
    blocks = dots.reshape(h // 4, 4, w // 2, 2)
    return (blocks * BRAILLE_BITS[None, :, None, :]).sum(axis=(1, 3)).astype(np.int32)


def wrap_parts(parts: list[str], width: int, max_lines: int, sep: str = " · ") -> list[str]:
    """`parts` joined with `sep` into at most `max_lines` lines of `width` characters. A part
    starts a new line when it does not fit on the current one, and is word-wrapped when it is
    wider than a line; what does not fit in `max_lines` is left out (the last line ends with
    "…" when a part was cut)."""
    width = max(width, 1)
    lines: list[str] = []
    for part in parts:
        if not part:
            continue
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
            continue
        lines.extend(textwrap.wrap(part, width) or [""])
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        lines[-1] = (last[: width - 1] + "…") if len(last) >= width else last + "…"
    return lines
