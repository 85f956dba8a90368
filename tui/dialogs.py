"""`Dialog`: the base of optplay's modal screens, answering once.

Two keys that arrive in one burst (a double-tapped enter, enter then escape, key repeat) can
both reach a dialog before its first dismissal takes effect. Textual's `Screen.dismiss` pops
whatever screen is on top, so the second answer would pop the screen below it (on the main
screen: ScreenStackError, and the app ends with unsaved work lost; found by the key storm in
tests/tui/test_stress.py). A `Dialog` ignores a dismissal once it is no longer on top: the
first key already answered it. Only our own dialogs are guarded; Textual is not patched.
"""

from __future__ import annotations

from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose `dismiss` acts only while it is the screen on top."""

    #: While this dialog is open, space belongs to it (buttons, lists, fields), not to the
    #: app's run/pause. A read-only dialog (the help) leaves space to the app.
    takes_space = True

    @property
    def on_top(self) -> bool:
        try:
            return self.app.screen is self
        except Exception:  # no screens at all: the app is shutting down
            return False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.on_top:
            return AwaitComplete.nothing()  # already answered by an earlier key
        return super().dismiss(result)
