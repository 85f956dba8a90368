"""The "unsaved changes" dialog shown when quitting an experiment that differs from its file.

Three answers, each one key away: `s` saves (then quits), `d` discards the changes and quits,
`escape` (or `c`) cancels and goes back to the app. The buttons do the same with tab and
enter. The dialog only answers; the app saves, quits or stays.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from tui.dialogs import Dialog

#: What the user chose.
QuitChoice = Literal["save", "discard", "cancel"]


class ConfirmQuitScreen(Dialog[QuitChoice]):
    """Ask what to do with unsaved changes before quitting."""

    # Kept with the screen (not in app.tcss) so the dialog looks the same in any app.
    DEFAULT_CSS = """
    ConfirmQuitScreen {
        align: center middle;
    }
    #confirm-body {
        width: 64;
        max-width: 95%;
        height: auto;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    #confirm-buttons {
        height: auto;
        margin: 1 0 0 0;
    }
    #confirm-buttons Button {
        margin: 0 2 0 0;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('save')", "Save and quit"),
        Binding("d", "choose('discard')", "Discard and quit"),
        Binding("escape,c", "choose('cancel')", "Cancel"),
    ]

    def __init__(self, what: str, path: str) -> None:
        """`what`: the changes in a few words; `path`: the file `s` offers to write."""
        super().__init__()
        self.what = what
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body") as body:
            body.border_title = "unsaved changes"
            body.border_subtitle = "s save · d discard · esc cancel"
            # markup=False: the path is whatever was typed in the save dialog ("[x=.toml").
            yield Label(
                f"The experiment has unsaved changes ({self.what}).",
                id="confirm-what",
                markup=False,
            )
            yield Label(
                f"Save them before quitting? (save offers {self.path})",
                id="confirm-ask",
                markup=False,
            )
            with Horizontal(id="confirm-buttons"):
                yield Button("Save and quit", id="confirm-save", variant="primary", compact=True)
                yield Button("Discard", id="confirm-discard", variant="error", compact=True)
                yield Button("Cancel", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-save", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = (event.button.id or "").removeprefix("confirm-")
        if choice in ("save", "discard", "cancel"):
            self.action_choose(choice)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)  # type: ignore[arg-type]
