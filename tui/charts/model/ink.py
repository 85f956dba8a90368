"""What the Model tab's painters share: theme colours, class glyphs and the title rows.

Classes are told apart by colour AND by glyph, so a view reads without colour (NO_COLOR) and
in an ASCII-only terminal, where the app maps each character to one ASCII character (● @,
✕ x, ▲ ^, ○ o, ▼ v, ► >, ◄ <): the point glyphs below stay different there. Region textures
(used when half blocks cannot carry colour) are plain ASCII marks, lighter than any point
glyph, so points stand out on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.color import Color

from tui.charts.cells import CellCanvas, Look, wrap_parts

#: A data point's glyph per class (cycled beyond ten); their ASCII forms differ too.
CLASS_GLYPHS = ("●", "✕", "▲", "○", "▼", "►", "◄", "+", "*", "#")
#: A region's texture per class when regions are drawn with characters (no colour, ASCII).
CLASS_TEXTURES = ("·", "-", "'", ",", ":", "=", '"', ";", "_", "`")
#: ASCII forms of the dot and of the block glyphs used in pictures.
ASCII_DOT = "."


def class_glyph(k: int, look: Look) -> str:
    glyph = CLASS_GLYPHS[k % len(CLASS_GLYPHS)]
    return (
        {"●": "@", "✕": "x", "▲": "^", "○": "o", "▼": "v", "►": ">", "◄": "<"}.get(glyph, glyph)
        if look.ascii
        else glyph
    )


def class_texture(k: int, look: Look) -> str:
    texture = CLASS_TEXTURES[k % len(CLASS_TEXTURES)]
    return ASCII_DOT if look.ascii and texture == "·" else texture


@dataclass(frozen=True)
class Ink:
    """The theme's colours for the painters (Textual Colors; None: the widget's own)."""

    background: Color | None
    foreground: Color | None
    classes: tuple[Color | None, ...]
    roles: Mapping[str, Color | None]

    def role(self, name: str) -> Color | None:
        return self.roles.get(name)

    def class_color(self, k: int) -> Color | None:
        return self.classes[k % len(self.classes)] if self.classes else None


def title_rows(
    canvas: CellCanvas, lines: list[str], color: Color | None, bold_first: bool = True
) -> int:
    """Write title lines from row 0 (the first bold); returns the rows used."""
    for i, line in enumerate(lines):
        canvas.text(i, 0, line, color, 1 if bold_first and i == 0 else 0)
    return len(lines)


def fit_lines(parts: list[str], width: int, max_lines: int) -> list[str]:
    """Title parts packed into at most `max_lines` lines of `width`."""
    return wrap_parts(parts, width, max_lines)


def short_number(value: float, width: int = 6) -> str:
    """A number in at most `width` characters (3, then 2 significant digits)."""
    for digits in (3, 2, 1):
        text = f"{value:.{digits}g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
        if len(text) <= width:
            return text
    return text[:width]
