"""The race results screen: the comparison table over the charts.

Shown when a race finishes, and on `t` at any time (a paused race gives the table so far).
The rows are `Race.results(target)`; the target loss is the one set in the race setup, or
(auto) the highest best eval loss among the racers that did not diverge, so every one of them
has a "steps to target". Rows are in rank order (eval loss; README "Ranking"). Escape, `t`
or `q` close.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from engine.compare import Result
from tui.dialogs import Dialog
from tui.widgets.race_table import RaceTable

#: Cells around the table: the dialog's border and padding.
FRAME = 4
#: The note wraps at the table's width, and at no fewer cells than this.
NOTE_WIDTH = 76


class RaceResultsScreen(Dialog[None]):
    """The table of a race (or of a run and its pinned overlays)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t,q", "close", "Close table"),
    ]

    def __init__(
        self,
        title: str,
        rows: Sequence[Result],
        target: float | None,
        colors: Sequence[Any],
        note: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.rows = list(rows)
        self.target = target
        self.lane_colors = list(colors)
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="results-body") as body:
            body.border_title = self.title_text
            body.border_subtitle = "esc closes"
            table = RaceTable(id="race-table")
            # Sized from the start, to the screen (border and padding: 4 cells). The body is
            # given the table's width: an auto width would be measured from the note, and the
            # columns chosen to fit would be cropped without a word (issue 25).
            room = self.app.size.width - FRAME
            table.show(self.rows, self.target, self.lane_colors, width=room)
            body.styles.width = min(room, max(table.width_needed, NOTE_WIDTH)) + FRAME
            yield table
            note = self.note
            if table.left_out:
                note += f". Left out to fit this width: {', '.join(table.left_out)}"
            if note:
                yield Static(note, id="results-note", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
