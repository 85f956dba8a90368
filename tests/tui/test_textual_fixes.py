"""The Textual fixes are scoped to the Textual they were written for, a late timer catches up,
and our dialogs answer once."""

from __future__ import annotations

import inspect
import time

import pytest
from textual._compositor import Compositor
from textual.app import App
from textual.timer import Timer
from textual.widgets import OptionList

from tui.app import create_app
from tui.screens.prompt import PromptScreen
from tui.textual_fixes import (
    MOVE_PAGE_SOURCE,
    NARROW_PARTIAL_UPDATES,
    PARTIAL_UPDATE_SOURCE,
    TIMER_RUN_SOURCE,
    _original_move_page,
    _original_timer_run,
    fix_timer_catch_up,
    guard_option_list_paging,
    source_digest,
)


def test_digests_read_the_source_lines_without_tokenizing_the_file(monkeypatch):
    """The four digests the app takes at launch cost ~5 ms through `inspect.getsource` (which
    tokenizes the file): they read the function's lines instead, with the same digests."""

    def tokenizes(*args: object) -> str:
        raise AssertionError("inspect.getsource called")

    monkeypatch.setattr(inspect, "getsource", tokenizes)
    assert source_digest(_original_move_page) == MOVE_PAGE_SOURCE
    assert source_digest(_original_timer_run) == TIMER_RUN_SOURCE
    digests = (
        source_digest(Compositor.render_partial_update),
        source_digest(Compositor._get_renders),
    )
    assert digests == PARTIAL_UPDATE_SOURCE
    with pytest.raises(TypeError):
        source_digest(len)  # no code: a built-in


def test_the_page_key_guard_is_for_this_textuals_option_list():
    """Fails when Textual changes `OptionList._move_page`: re-check whether pageup/pagedown
    before the list is laid out still raises KeyError (tests/tui/test_stress.py finds it),
    then update MOVE_PAGE_SOURCE or drop the guard."""
    assert source_digest(_original_move_page) == MOVE_PAGE_SOURCE
    assert guard_option_list_paging()
    assert OptionList._move_page is not _original_move_page


def test_the_dialogs_compositor_is_for_this_textuals_compositor():
    """Fails when Textual changes how a frame's changes are rendered: re-check whether it
    still renders every widget in a rectangle around them (tests/tui/test_dialog_layouts.py
    counts the widgets a Tab renders), then update PARTIAL_UPDATE_SOURCE or drop
    `RegionCompositor`."""
    digests = (
        source_digest(Compositor.render_partial_update),
        source_digest(Compositor._get_renders),
    )
    assert digests == PARTIAL_UPDATE_SOURCE
    assert NARROW_PARTIAL_UPDATES


def test_the_timer_fix_is_for_this_textuals_timer():
    """Fails when Textual changes `Timer._run`: re-check whether a late timer still sleeps
    past the next slot (the test below), then update TIMER_RUN_SOURCE or drop the fix."""
    assert source_digest(_original_timer_run) == TIMER_RUN_SOURCE
    assert fix_timer_catch_up()
    assert Timer._run is not _original_timer_run


async def test_a_late_timer_ticks_at_the_next_slot():
    """A tick that overran its interval is followed by the next slot's tick, not the one
    after (the screen's update timer behind a busy frame delayed keys by up to 33 ms)."""
    interval, busy = 0.2, 0.3
    ticks: list[tuple[float, float]] = []

    class Probe(App):
        def on_mount(self) -> None:
            self.set_interval(interval, self.tick)

        def tick(self) -> None:
            started = time.monotonic()
            if not ticks:
                time.sleep(busy)  # the first tick overruns: it ends half-way to slot 3
            ticks.append((started, time.monotonic()))
            if len(ticks) == 2:
                self.exit()

    async with Probe().run_test() as pilot:
        while len(ticks) < 2:
            await pilot.pause(0.05)
    (_, first_end), (second_start, _) = ticks
    # Slot 3 is 0.1 s after the overrun ends; the slot after it (what Textual 8.2 waits for)
    # is 0.3 s after.
    assert second_start - first_end < interval


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
