"""How a lane is told apart without colour: its marker (a digit or letter) and its swatch.

Charts write the marker along the lane's curve and at its end; tables and panels put it in
the lane's swatch. Plain strings only (no Textual, no plotext): widgets and the CLI import it.
"""

from __future__ import annotations


def lane_marker(index: int) -> str:
    """The character naming lane `index` (0-based) without colour: 1..9, then a..z; the
    legend and the curve's end use the same number."""
    markers = "123456789abcdefghijklmnopqrstuvwxyz"
    return markers[index % len(markers)]


def lane_swatch(index: int, colors: bool = True, pinned: bool = False) -> str:
    """The two-character sample of a lane in tables and panels: its line in its colour, or
    without colour its marker then its line ("3━"), so every lane's sample differs."""
    line = "┅" if pinned else "━"
    return line * 2 if colors else lane_marker(index) + line
