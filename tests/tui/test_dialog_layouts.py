"""Keys in the setup screens lay the screen out again only when they must (issue 25).

A layout of a dialog (Textual's `Screen._refresh_layout`, a reflow of every widget on it) was
most of what a Tab cost in the race and sweep setup screens: the footer moved its keys when
escape became "Leave form", and each section's help line appeared and left. Here the layouts
are counted while the focus goes through the fields, pickers and racers' boxes and back:
counts, never times, so the figure does not depend on the machine's load.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import screen_text, wait_for
from textual.screen import Screen

from engine.config import Experiment
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.race_setup import RaceSetupScreen
from tui.screens.sweep import SweepScreen
from tui.widgets.footer import SteadyFooter

#: Through the shared settings into the first racer's (optimizer's) box, and back.
KEYS = ["tab"] * 10 + ["shift+tab"] * 10
#: Layouts allowed for those 20 keys: the footer's escape key widening once, to "Leave
#: form" (a layout and the one its new size asks for). Before: 20 to 23.
MAX_LAYOUTS = 2


class LayoutCounter:
    """Counts the layouts of one screen (a patched `Screen._refresh_layout`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.screen: Screen | None = None
        self.count = 0
        refresh_layout = Screen._refresh_layout

        def counted(screen: Screen, size: Any = None, scroll: bool = False) -> None:
            if screen is self.screen and not (scroll and not screen._layout_widgets):
                self.count += 1  # a scroll alone is no layout
            refresh_layout(screen, size, scroll)

        monkeypatch.setattr(Screen, "_refresh_layout", counted)


async def focus_moves(pilot: Any, counter: LayoutCounter, start: str) -> list[str]:
    """From the widget `start`, press KEYS one at a time, each answered (focus moved)
    before the next; the ids of the widgets that had the focus."""
    screen = pilot.app.screen
    screen.set_focus(screen.query_one(f"#{start}"))
    await wait_for(lambda: screen.focused is not None and screen.focused.id == start)
    await pilot.pause()
    counter.screen, counter.count = screen, 0
    visited = []
    for key in KEYS:
        before = screen.focused
        await pilot.press(key)
        await wait_for(lambda before=before: screen.focused is not before)
        await pilot.pause()
        visited.append(screen.focused.id)
    return visited


def app_of_digits() -> Any:
    return create_app(Experiment(RunConfig(task="digits-mlp", optimizer="adam"), steps=500))


async def test_tab_through_the_race_setup_lays_the_screen_out_at_most_twice(monkeypatch):
    counter = LayoutCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await wait_for(lambda: isinstance(app.screen, RaceSetupScreen))
        await pilot.pause()
        visited = await focus_moves(pilot, counter, "race-task-select")
        # The walk went through knob fields (help line, "Leave form") and pickers ("Cancel").
        assert {"race-task-hidden", "race-run-steps", "r1-optimizer-select"} <= set(visited)
        assert counter.count <= MAX_LAYOUTS, f"{counter.count} layouts for {len(KEYS)} keys"


async def test_tab_through_the_sweep_setup_lays_the_screen_out_at_most_twice(monkeypatch):
    counter = LayoutCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, SweepScreen))
        await pilot.pause()
        visited = await focus_moves(pilot, counter, "sweep-task-select")
        assert {"sweep-task-hidden", "sweep-run-steps", "sweep-schedule-select"} <= set(visited)
        assert counter.count <= MAX_LAYOUTS, f"{counter.count} layouts for {len(KEYS)} keys"


async def test_the_footer_keeps_escape_in_place_and_the_help_line_its_room():
    """Relabelled, escape stays the last key (no key moves); a shorter label than one shown
    before keeps the key's width, the rest blank. A section's help line is there, blank,
    when none of its fields has the focus, and shows the focused field's help in place."""
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await wait_for(lambda: isinstance(app.screen, RaceSetupScreen))
        await pilot.pause()
        screen = app.screen
        footer = screen.query_one(SteadyFooter)

        def footer_row() -> str:
            return screen_text(app).splitlines()[-1].rstrip()

        assert footer_row().endswith("esc Cancel")
        help_line = screen.query_one("#section-race-task .hyper-help")
        room = help_line.region
        assert room.height >= 1 and help_line.render_str("").plain == ""  # blank, there
        await pilot.press("tab")  # into the task's first knob field
        await wait_for(lambda: footer_row().endswith("esc Leave form"))
        field = screen.focused.parent.parent
        await wait_for(lambda: field.help_text.split()[0] in screen_text(app))
        assert help_line.region == room  # the same cells
        keys = list(footer.children)
        await pilot.press("shift+tab")  # back to the task's picker
        await wait_for(lambda: footer_row().endswith("esc Cancel"))
        assert list(footer.children) == keys  # relabelled in place, not rebuilt
        assert footer_row().startswith("^g Start race ^n Add racer ^r Remove racer")
        await wait_for(lambda: field.help_text.split()[0] not in screen_text(app))
        assert help_line.region == room
