"""Workarounds for Textual bugs that crash the app; `tui.app` calls `apply()` on import.

OptionList page keys (Textual 8.2.8): `OptionList._move_page` indexes its line cache with
the highlighted option, but the cache is only filled once the list has a visible content
region. Pressing pageup/pagedown before that raises KeyError and the whole app exits. The
command palette hits it every time: ctrl+p then pagedown (before typing, or while the
search is still filling the list), at any terminal size; a Select's overlay can too
(reported against other apps with `SelectOverlay`). Found by the key storm in
tests/tui/test_stress.py. The guard makes the key do nothing until there is something to
page through, which is what a user expects from an empty or unrendered list.

Screen.dismiss twice (Textual 8.2.8): `dismiss()` runs the screen's result callback and
pops whatever screen is on top, without checking that it is itself. Two keys that arrive
in one burst (a double-tapped enter, enter then escape, key repeat) can both reach a dialog
before its first dismissal takes effect: the second pops the screen below, and on the
main screen raises ScreenStackError, which ends the app (unsaved work lost). Found by the
storm as: ctrl+s, enter, enter (the save dialog); ctrl+p, "help", enter, enter (the
command palette); o, enter, enter (the presets list). The guard ignores a dismissal of a
screen that is no longer the one on top: the first key already answered it. The command
palette also runs the chosen command after dismissing itself, so a second enter ran it
twice (two help screens, two steps): `OnceCommandPalette`, which the app opens for ctrl+p,
answers only while it is on top. For the same reason it ignores a search result or a
pick that arrives after it closed: its search worker could otherwise refresh a list that
is gone (NoMatches for CommandList, raised in a worker, ends the app; found by the storm
with keys sent as a fast typist does: ctrl+p, a few letters, escape, in one burst).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.await_complete import AwaitComplete
from textual.command import CommandPalette
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList

_original_move_page = OptionList._move_page
_original_dismiss = Screen.dismiss


def _move_page_when_laid_out(self: OptionList, direction: Any) -> None:
    if (self.highlighted or 0) not in self._index_to_line:
        return  # no lines yet (no content region): nothing to page through
    _original_move_page(self, direction)


def _dismiss_once(self: Screen, result: Any = None) -> AwaitComplete:
    try:
        on_top = self.app.screen is self
    except Exception:  # no screens at all (the app is shutting down)
        on_top = False
    if not on_top:
        return AwaitComplete.nothing()  # already dismissed by an earlier key
    return _original_dismiss(self, result)


def apply() -> None:
    """Install the guards (idempotent)."""
    if getattr(OptionList._move_page, "__optplay_fix__", False):
        return
    for owner, name, guard in (
        (OptionList, "_move_page", _move_page_when_laid_out),
        (Screen, "dismiss", _dismiss_once),
    ):
        guard.__optplay_fix__ = True  # type: ignore[attr-defined]
        setattr(owner, name, guard)


class OnceCommandPalette(CommandPalette):
    """Textual's command palette, ignoring keys, picks and search results that arrive after
    it was answered."""

    @on(Input.Submitted)
    @on(Input.Changed)
    @on(Button.Pressed)
    @on(OptionList.OptionSelected)
    def _only_while_on_top(self, event: Message) -> None:
        if self.app.screen is not self:
            event.stop()
            event.prevent_default()  # the base class's handler would act on a closed palette

    def _refresh_command_list(self, *args: Any, **kwargs: Any) -> None:
        if self.app.screen is not self:
            return  # a search finishing after the palette closed: its list is gone
        super()._refresh_command_list(*args, **kwargs)

    def _select_or_command(self, event: Input.Submitted | Button.Pressed | None = None) -> None:
        # Also reached without an event: a second OptionSelected from the same burst.
        if self.app.screen is not self:
            return
        super()._select_or_command(event)
