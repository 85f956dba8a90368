"""Textual line filters the app installs in `OptplayApp.get_line_filters`:

- `AsciiFilter` draws every cell with one ASCII character (the table is in tui/terminal.py),
  for terminals whose encoding cannot show braille and box drawing;
- `PrintableFilter`, always on, drops every non-printable character (ESC, BEL, the C1
  controls, bidi overrides...) from the text of every line before it reaches the terminal.
  Names and values from users and files are shown through `engine.textsafe.for_terminal`
  (their controls escaped, visibly); this filter is the net under it, so a string that
  reached a widget some other way still cannot retitle the window or clear the screen. Such
  characters take no cell (Rich gives them a width of 0), so dropping them moves nothing.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from tui.terminal import to_ascii


class PrintableFilter(LineFilter):
    """Every non-printable character dropped from the lines' text (control segments, the
    terminal's own sequences, untouched)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(control or text.isprintable() for text, _, control in segments):
            return segments
        return [
            segment
            if segment.control or segment.text.isprintable()
            else Segment("".join(ch for ch in segment.text if ch.isprintable()), segment.style)
            for segment in segments
        ]


class AsciiFilter(LineFilter):
    """Every character of every line made ASCII, one for one (control codes untouched)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text if control else to_ascii(text), style, control)
            for text, style, control in segments
        ]
