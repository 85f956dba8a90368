"""A one-line question: a name for a pinned overlay, where to export the history...

`PromptScreen(title, label, value)` returns the text typed (enter) or None (escape). An
optional `check` turns the text into an error message shown under the field (None: fine), so
the dialog stays open until the answer is usable. The app does whatever the answer is for.
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


class PromptScreen(Dialog[str | None]):
    """Ask for one line of text, prefilled with a suggestion."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        label: str,
        value: str,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body") as body:
            body.border_title = self.title_text
            body.border_subtitle = "enter confirms · esc cancels"
            yield Label(self.label, id="prompt-label")
            yield Input(self.value, id="prompt-value", select_on_focus=False)
            yield Static("", id="prompt-error", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problem = "type something first" if not text else None
        if problem is None and self.check is not None:
            problem = self.check(text)
        if problem:
            self.query_one("#prompt-error", Static).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
