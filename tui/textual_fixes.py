"""Workarounds for Textual bugs that crash the app; `tui.app` calls `apply()` on import.

OptionList page keys (Textual 8.2.8): `OptionList._move_page` indexes its line cache with
the highlighted option, but the cache is only filled once the list has a visible content
region. Pressing pageup/pagedown before that raises KeyError and the whole app exits. The
command palette hits it every time: ctrl+p then pagedown (before typing, or while the
search is still filling the list), at any terminal size; a Select's overlay can too
(reported against other apps with `SelectOverlay`). Found by the key storm in
tests/tui/test_stress.py. The guard makes the key do nothing until there is something to
page through, which is what a user expects from an empty or unrendered list.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import OptionList

_original_move_page = OptionList._move_page


def _move_page_when_laid_out(self: OptionList, direction: Any) -> None:
    if (self.highlighted or 0) not in self._index_to_line:
        return  # no lines yet (no content region): nothing to page through
    _original_move_page(self, direction)


def apply() -> None:
    """Install the guards (idempotent)."""
    if getattr(OptionList._move_page, "__optplay_fix__", False):
        return
    _move_page_when_laid_out.__optplay_fix__ = True  # type: ignore[attr-defined]
    OptionList._move_page = _move_page_when_laid_out  # type: ignore[method-assign]
