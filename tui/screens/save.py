"""The save dialog: where to write the current settings as an experiment file (TOML).

Returns the path typed (enter) or None (escape); the app does the writing.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from tui.dialogs import Dialog


class SaveScreen(Dialog[str | None]):
    """Ask for a file name, prefilled with the last one used."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="save-body") as body:
            body.border_title = "save experiment"
            body.border_subtitle = "enter saves · esc cancels"
            yield Label("File (TOML; `optplay --config FILE` opens it again):")
            yield Input(self.path, id="save-path", select_on_focus=False)
            yield Static("", id="save-error", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.query_one("#save-error", Static).update("type a file name")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
