"""Two questions: the "unsaved changes" dialog shown when quitting an experiment that differs
from its file, and "replace the file?" before a save or an export overwrites one.

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
    """Ask what to do with unsaved changes before quitting (or before `doing` something else
    that replaces the experiment: "loading preset fast-adam")."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('save')", "Save and quit"),
        Binding("d", "choose('discard')", "Discard and quit"),
        Binding("escape,c", "choose('cancel')", "Cancel"),
    ]

    def __init__(self, what: str, path: str, doing: str = "quitting") -> None:
        """`what`: the changes in a few words; `path`: the file `s` offers to write;
        `doing`: what would lose them."""
        super().__init__()
        self.what = what
        self.path = path
        self.doing = doing

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
                f"Save them before {self.doing}? (save offers {self.path})",
                id="confirm-ask",
                markup=False,
            )
            with Horizontal(id="confirm-buttons"):
                then = "quit" if self.doing == "quitting" else "go on"
                yield Button(f"Save and {then}", id="confirm-save", variant="primary",
                             compact=True)  # fmt: skip
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


class ConfirmOverwriteScreen(Dialog[bool]):
    """Ask before replacing files that exist: `y` overwrites, `n` or escape keeps them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Overwrite"),
        Binding("n,escape", "choose(False)", "Keep"),
    ]

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths

    def compose(self) -> ComposeResult:
        with Vertical(id="overwrite-body") as body:
            body.border_title = "replace?"
            body.border_subtitle = "y overwrite · n keep"
            which = " and ".join(self.paths)
            # markup=False: the names are what was typed.
            yield Label(f"{which} already exists. Overwrite?", id="overwrite-what", markup=False)
            with Horizontal(id="overwrite-buttons"):
                yield Button("Overwrite", id="overwrite-yes", variant="warning", compact=True)
                yield Button("Keep", id="overwrite-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#overwrite-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(event.button.id == "overwrite-yes")

    def action_choose(self, overwrite: bool) -> None:
        self.dismiss(bool(overwrite))
