"""`AsciiFilter`: a Textual line filter that draws every cell with one ASCII character (the
table is in tui/terminal.py), for terminals whose encoding cannot show braille and box
drawing. The app installs it in `OptplayApp.get_line_filters`."""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from tui.terminal import to_ascii


class AsciiFilter(LineFilter):
    """Every character of every line made ASCII, one for one (control codes untouched)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text if control else to_ascii(text), style, control)
            for text, style, control in segments
        ]
