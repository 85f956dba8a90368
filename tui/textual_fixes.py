"""Two guards against Textual crashes, each scoped as narrowly as Textual allows.

OptionList page keys (Textual 8.2.x): `OptionList._move_page` indexes its line cache with the
highlighted option, but the cache is only filled once the list has a visible content region.
Pressing pageup/pagedown before that raises KeyError and the whole app exits. The command
palette hits it every time (ctrl+p then pagedown, before typing or while the search fills the
list); a Select's overlay can too. Found by the key storm in tests/tui/test_stress.py. The
guard makes the key do nothing until there is something to page through. It is installed only
while `OptionList._move_page` is exactly the method it was written for (same source as in
Textual 8.2.8): `tests/tui/test_textual_fixes.py` fails when Textual changes that method, so
the guard is re-checked (and dropped if fixed) on every Textual upgrade.

The command palette: it runs the chosen command after dismissing itself, so a second enter in
the same burst ran the command twice (two help screens, two steps), and a search that finished
after escape closed it refreshed a list that was gone (NoMatches in a worker, which ends the
app). `OnceCommandPalette`, which the app opens for ctrl+p, answers only while it is on top.

Our own dialogs guard their dismissal in `tui.dialogs.Dialog`; nothing else is patched.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

from textual import on
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import Button, Input, OptionList

#: sha256 (first 16 hex digits) of the source of the `OptionList._move_page` the guard is for.
MOVE_PAGE_SOURCE = "85f7f33005763486"

_original_move_page = OptionList._move_page


def source_digest(method: Any) -> str:
    """Short sha256 of a function's source (how the guard recognises the method it fixes)."""
    return hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]


def _move_page_when_laid_out(self: OptionList, direction: Any) -> None:
    if (self.highlighted or 0) not in self._index_to_line:
        return  # no lines yet (no content region): nothing to page through
    _original_move_page(self, direction)


def guard_option_list_paging() -> bool:
    """Install the page-key guard if Textual still has the method it fixes; True if on."""
    if getattr(OptionList._move_page, "__optplay_guard__", False):
        return True
    try:
        current = source_digest(OptionList._move_page)
    except (OSError, TypeError):  # no source available (a frozen build): leave Textual be
        return False
    if current != MOVE_PAGE_SOURCE:
        return False
    _move_page_when_laid_out.__optplay_guard__ = True  # type: ignore[attr-defined]
    OptionList._move_page = _move_page_when_laid_out  # type: ignore[method-assign]
    return True


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
