"""The save dialog: where to write the current settings as an experiment file (TOML).

It shows the folder files are written to, adds ".toml" when the name has none, and keeps
itself open with the reason when the name can't be used (`check`: control characters, a path
outside the current folder...). Returns the text typed (enter) or None (escape); the app asks
before replacing a file that exists, and does the writing.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def __init__(
        self,
        path: str,
        folder: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.path = path
        self.folder = folder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="save-body") as body:
            body.border_title = "save experiment"
            body.border_subtitle = "enter saves · esc cancels"
            yield Label(
                "File (TOML; `optplay --config FILE` opens it again):", classes="dialog-text"
            )
            if self.folder:
                # markup=False: the folder is the file system's, brackets and all.
                yield Label(f"in {self.folder}", id="save-folder", classes="dialog-text",
                            markup=False)  # fmt: skip
            yield Input(self.path, id="save-path", select_on_focus=False)
            yield Static("", id="save-error", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        problem = "type a file name" if not path else None
        if problem is None and self.check is not None:
            problem = self.check(path)
        if problem:
            self.query_one("#save-error", Static).update(problem)
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
