"""The Textual guard is scoped to the Textual it was written for, and our dialogs answer once."""

from __future__ import annotations

from textual.widgets import OptionList

from tui.app import create_app
from tui.screens.prompt import PromptScreen
from tui.textual_fixes import (
    MOVE_PAGE_SOURCE,
    _original_move_page,
    guard_option_list_paging,
    source_digest,
)


def test_the_page_key_guard_is_for_this_textuals_option_list():
    """Fails when Textual changes `OptionList._move_page`: re-check whether pageup/pagedown
    before the list is laid out still raises KeyError (tests/tui/test_stress.py finds it),
    then update MOVE_PAGE_SOURCE or drop the guard."""
    assert source_digest(_original_move_page) == MOVE_PAGE_SOURCE
    assert guard_option_list_paging()
    assert OptionList._move_page is not _original_move_page


async def test_page_keys_in_a_fresh_palette_do_not_end_the_app():
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", "pagedown", "pageup", "escape")
        await pilot.pause()
        assert app.is_running and app._exception is None


async def test_a_dialog_answers_only_once():
    app = create_app()
    answers = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_focus(None)
        app.push_screen(PromptScreen("t", "name:", "x"), answers.append)
        await pilot.pause()
        dialog = app.screen
        dialog.dismiss("first")
        dialog.dismiss("second")  # a second key of the same burst: ignored
        await pilot.pause()
        assert answers == ["first"] and app.screen is app.screen_stack[0]
        assert app.is_running
