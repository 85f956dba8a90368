"""Focus moves in dialogs do only the work they need and show what Textual would show: the
same styles as Textual's restyle, the same footer as Textual's Footer (tui/dialogs.py,
tui/widgets/footer.py)."""

from __future__ import annotations

from typing import Any

from conftest import screen_text
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets._footer import FooterKey

from engine.config import Experiment
from engine.run import RunConfig
from tui.app import create_app
from tui.dialogs import FOCUS_STYLES_SOURCE, NARROW_FOCUS_STYLES
from tui.screens.race_setup import RaceSetupScreen
from tui.textual_fixes import source_digest
from tui.widgets.footer import SteadyFooter

#: Forward through the shared settings and the first racer's box, into the second, and back.
KEYS = ["tab"] * 18 + ["shift+tab"] * 18


def styles_of(screen: Screen) -> dict[DOMNode, Any]:
    """Every widget's CSS rules, its parts' (component classes) too."""
    return {
        node: (
            node._css_styles.get_rules(),
            {name: s.get_rules() for name, s in node._component_styles.items()},
        )
        for node in screen.walk_children(with_self=True)
    }


def race_setup_app() -> Any:
    return create_app(Experiment(RunConfig(task="digits-mlp", optimizer="adam"), steps=500))


def test_the_narrow_restyle_is_for_this_textuals_screen():
    """Fails when Textual changes `Screen._update_focus_styles`: re-check what it restyles on
    a focus move (the test below compares the two), then update FOCUS_STYLES_SOURCE."""
    assert source_digest(Screen._update_focus_styles) == FOCUS_STYLES_SOURCE
    assert NARROW_FOCUS_STYLES


async def test_a_focus_move_in_a_dialog_styles_widgets_as_textual_does():
    """After each tab / shift+tab through the race setup screen (fields, pickers, racers'
    boxes), Textual's own restyle of the move changes nothing more: the highlighted name,
    the shown help line and the racer's border are where Textual puts them."""
    app = race_setup_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RaceSetupScreen)
        racers_entered = set()
        for key in KEYS:
            blurred = screen.focused
            await pilot.press(key)
            await pilot.pause()
            focused = screen.focused
            assert focused is not None and focused is not blurred
            racers_entered.update(a.id for a in focused.ancestors if a.has_class("racer"))
            ours = styles_of(screen)
            Screen._update_focus_styles(screen, focused, blurred)  # Textual's restyle
            assert styles_of(screen) == ours, f"{key} to {focused.id}"
        assert racers_entered == {"racer-1", "racer-2"}


async def test_the_footer_shows_what_textuals_footer_shows_after_each_focus_move():
    """The footer keeps its keys while they stay, takes new labels in place (escape: "Leave
    form" in a knob's field, "Cancel" on a picker), and reads like a footer built afresh."""
    app = race_setup_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        footer = app.screen.query_one(SteadyFooter)
        labels = set()
        for key in KEYS:
            await pilot.press(key)
            await pilot.pause()
            shown = [(k.key_display, k.description, k.action, k.has_class("-disabled"))
                     for k in footer.query(FooterKey)]  # fmt: skip
            row = screen_text(app).splitlines()[-1]
            labels.update(description for _, description, _, _ in shown)
            footer.refresh(recompose=True)  # Textual's Footer: every key built again
            await pilot.pause()
            assert [(k.key_display, k.description, k.action, k.has_class("-disabled"))
                    for k in footer.query(FooterKey)] == shown  # fmt: skip
            assert screen_text(app).splitlines()[-1] == row
        assert {"Leave form", "Cancel", "Start race"} <= labels


async def test_changes_behind_a_dialog_reach_its_backdrop_together(monkeypatch):
    """The screen below changing many times (a run training behind the help) repaints the
    help's dimmed backdrop once per backdrop tick, every changed area included; behind the
    race setup screen (opaque) nothing is repainted at all. The tick is driven by hand (the
    timer is captured, not scheduled), so a loaded machine cannot make it fire early."""
    from textual.widget import Widget

    from tui.dialogs import BACKDROP_HZ, Dialog
    from tui.widgets.status import StatusLine

    repaints: list[tuple[Any, tuple]] = []
    ticks: list[tuple[float, Any]] = []
    widget_refresh = Widget.refresh
    dialog_set_timer = Dialog.set_timer

    def spy(self, *regions, **kwargs):
        if isinstance(self, Dialog) and regions:
            repaints.append((self, regions))
        return widget_refresh(self, *regions, **kwargs)

    def capture_backdrop_tick(self, delay, callback=None, *args, name=None, **kwargs):
        if name == "backdrop":
            ticks.append((delay, callback))
            return None
        return dialog_set_timer(self, delay, callback, *args, name=name, **kwargs)

    def tick() -> None:
        due, ticks[:] = list(ticks), []
        for _, callback in due:
            callback()

    monkeypatch.setattr(Widget, "refresh", spy)
    monkeypatch.setattr(Dialog, "set_timer", capture_backdrop_tick)
    app = race_setup_app()
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.main.query_one(StatusLine)
        for dialog_key, close_key, opaque in (("question_mark", "escape", False),
                                              ("c", "escape", True)):  # fmt: skip
            await pilot.press(dialog_key)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, Dialog)
            tick()  # what opening it changed below is shown
            await pilot.pause()
            repaints.clear()
            for _ in range(5):  # five changes behind it within one tick
                status.refresh()
                await pilot.pause()
            assert repaints == []  # not yet
            if opaque:
                assert ticks == []  # nothing below shows through: no tick is even asked for
            else:
                assert [delay for delay, _ in ticks] == [1 / BACKDROP_HZ]  # one tick for all five
            tick()
            await pilot.pause()
            if opaque:
                assert repaints == []
            else:
                assert len(repaints) == 1 and repaints[0][0] is dialog
                assert any(r.contains_region(status.region) for r in repaints[0][1])
            await pilot.press(close_key)
            await pilot.pause()
