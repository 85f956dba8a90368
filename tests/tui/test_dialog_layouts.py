"""Keys in the setup screens and the sidebar lay the screen out again only when they must,
repaint only what they change, and are answered in one frame (issue 25).

A layout of a dialog (Textual's `Screen._refresh_layout`, a reflow of every widget on it) was
most of what a Tab cost in the race and sweep setup screens: the footer moved its keys when
escape became "Leave form", and each section's help line appeared and left. Here the layouts
are counted while the focus goes through the fields, pickers and racers' boxes and back:
counts, never times, so the figure does not depend on the machine's load. On the main screen
the sidebar's help lines did the same, and each Tab repainted the whole screen.

A key is answered when its whole answer is on screen: the focused field's name marked, its
help shown, the footer's escape saying what it does now. These came in two or three frames
(each a repaint, the last one the answer): the help and the name from handlers that ran after
the screen had drawn the new focus, the footer after the next frame. Every frame drawn during
the walk is checked: none shows the focus without the rest of its answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import screen_text, wait_for
from rich.console import Console
from textual._compositor import Compositor
from textual.css.stylesheet import Stylesheet
from textual.screen import Screen
from textual.widget import Widget

from engine.config import Experiment
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.race_setup import RaceSetupScreen
from tui.screens.sweep import SweepScreen
from tui.textual_fixes import NARROW_PARTIAL_UPDATES, RegionCompositor
from tui.widgets.footer import SteadyFooter
from tui.widgets.hyper_form import FORM_HINT, HelpLine, HyperField, HyperForm, HyperSection

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


class FrameChecker:
    """At every frame the screen draws (`Screen._compositor_refresh`), what shows the focus
    must agree with it: the focused field's name marked (and no other), the help line of its
    section (or the form's) showing its help, the footer's escape its label for that focus.
    Also sums the cells each frame repaints."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.screen: Screen | None = None
        self.frames = 0
        self.cells = 0
        self.wrong: list[str] = []
        compositor_refresh = Screen._compositor_refresh
        render_update = Compositor.render_update

        def checked(screen: Screen) -> None:
            if screen is self.screen and screen.is_current:
                self.frames += 1
                self.check(screen)
            compositor_refresh(screen)

        def counted(compositor: Compositor, full: bool = False, **kwargs: Any) -> Any:
            if self.screen is not None and compositor is self.screen._compositor:
                region = compositor.size.region
                dirty = compositor._dirty_regions
                whole = full or region in dirty
                self.cells += region.area if whole else sum(r.area for r in dirty)
            return render_update(compositor, full, **kwargs)

        monkeypatch.setattr(Screen, "_compositor_refresh", checked)
        monkeypatch.setattr(Compositor, "render_update", counted)

    def check(self, screen: Screen) -> None:
        focused = screen.focused
        field = next((a for a in focused.ancestors_with_self if isinstance(a, HyperField)),
                     None) if focused is not None else None  # fmt: skip
        marked = [f for f in screen.query(HyperField) if f.query_one(".hyper-name").has_class(
            "-focused")]  # fmt: skip
        where = f"focus on {focused.id if focused is not None else None}"
        if marked != ([field] if field is not None else []):
            self.wrong.append(f"{where}: names marked {[f.spec.name for f in marked]}")
        for line in screen.query(HelpLine):
            scope = line.parent if isinstance(line.parent, HyperSection) else screen
            inside = field is not None and scope in field.ancestors
            want = field.help_text if inside else line.idle
            if line.id == "form-help":  # the sidebar's: any field of the form
                want = field.help_text if field is not None else FORM_HINT
            if str(line.render()) != want:
                self.wrong.append(f"{where}: help line shows {str(line.render())[:30]!r}")
        footers = screen.query(SteadyFooter)
        if footers:
            in_form = focused is not None and any(
                isinstance(a, HyperForm) for a in focused.ancestors
            )
            labels = [k.description for k in footers.first().children if hasattr(k, "key")
                      and k.key == "escape"]  # fmt: skip
            if len(labels) != 1 or (labels[0] == "Leave form") != in_form:  # else Cancel, Close
                self.wrong.append(f"{where}: footer's escape says {labels}")


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


async def open_screen(pilot: Any, key: str, screen_type: type) -> Any:
    """Press `key` and wait until the app shows a `screen_type` screen, settled; return it."""
    await pilot.press(key)
    await wait_for(lambda: isinstance(pilot.app.screen, screen_type))
    await pilot.pause()
    return pilot.app.screen


def app_of_digits() -> Any:
    return create_app(Experiment(RunConfig(task="digits-mlp", optimizer="adam"), steps=500))


async def test_tab_through_the_race_setup_lays_the_screen_out_at_most_twice(monkeypatch):
    counter = LayoutCounter(monkeypatch)
    frames = FrameChecker(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "c", RaceSetupScreen)
        frames.screen = app.screen
        visited = await focus_moves(pilot, counter, "race-task-select")
        # The walk went through knob fields (help line, "Leave form") and pickers ("Cancel").
        assert {"race-task-hidden", "race-run-steps", "r1-optimizer-select"} <= set(visited)
        assert counter.count <= MAX_LAYOUTS, f"{counter.count} layouts for {len(KEYS)} keys"
        assert frames.frames >= len(KEYS)
        assert frames.wrong == []  # before: 15-20 frames showed half an answer


async def test_tab_through_the_sweep_setup_lays_the_screen_out_at_most_twice(monkeypatch):
    counter = LayoutCounter(monkeypatch)
    frames = FrameChecker(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "s", SweepScreen)
        frames.screen = app.screen
        visited = await focus_moves(pilot, counter, "sweep-task-select")
        assert {"sweep-task-hidden", "sweep-run-steps", "sweep-schedule-select"} <= set(visited)
        assert counter.count <= MAX_LAYOUTS, f"{counter.count} layouts for {len(KEYS)} keys"
        assert frames.frames >= len(KEYS)
        assert frames.wrong == []


async def test_tab_through_the_sidebar_lays_out_nothing_and_repaints_what_changed(monkeypatch):
    """The sidebar's help line keeps its cells (docked, a fixed height): a Tab from a picker
    into the form, or between sections, lays out no screen (before: one or two per key,
    each a repaint of the whole screen), and a focus move repaints the widgets it changes,
    not the whole screen (before: 120x40 cells per key)."""
    counter = LayoutCounter(monkeypatch)
    frames = FrameChecker(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.sidebar_built and app.screen.query(HyperField))
        await pilot.pause()
        frames.screen = app.screen
        frames.cells = 0
        visited = await focus_moves(pilot, counter, "task-select")
        assert {"optimizer-select", "optimizer-lr", "optimizer-flavour"} <= set(visited)
        assert counter.count == 0, f"{counter.count} layouts for {len(KEYS)} keys"
        assert frames.wrong == []
        per_key = frames.cells / len(KEYS)
        assert per_key < 120 * 40 / 4, f"{per_key:.0f} cells repainted per key"


async def test_the_footer_keeps_escape_in_place_and_the_help_line_its_room():
    """Relabelled, escape stays the last key (no key moves); a shorter label than one shown
    before keeps the key's width, the rest blank. A section's help line is there, blank,
    when none of its fields has the focus, and shows the focused field's help in place."""
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "c", RaceSetupScreen)
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
        field = screen.focused.parent
        await wait_for(lambda: field.help_text.split()[0] in screen_text(app))
        assert help_line.region == room  # the same cells
        keys = list(footer.children)
        await pilot.press("shift+tab")  # back to the task's picker
        await wait_for(lambda: footer_row().endswith("esc Cancel"))
        assert list(footer.children) == keys  # relabelled in place, not rebuilt
        assert footer_row().startswith("^g Start race ^n Add racer ^r Remove racer")
        await wait_for(lambda: field.help_text.split()[0] not in screen_text(app))
        assert help_line.region == room


# -- lessons, help, pin prompt: what an up/down or left/right costs ---------------------------


class UpdateCounter(LayoutCounter):
    """Counts the layouts of one screen and its paints to the terminal (each a pass over every
    widget under the painted area: `Screen._compositor_refresh` of the screen on top)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(monkeypatch)
        self.paints = 0
        compositor_refresh = Screen._compositor_refresh

        def counted(screen: Screen) -> None:
            if screen is self.screen and screen.is_current:
                self.paints += 1
            compositor_refresh(screen)

        monkeypatch.setattr(Screen, "_compositor_refresh", counted)


async def press_each(pilot: Any, counter: UpdateCounter, keys: list[str], answered: Any) -> None:
    """Press `keys` one at a time, each answered (`answered()` changed) before the next,
    counting from the first."""
    screen = pilot.app.screen
    counter.screen, counter.count, counter.paints = screen, 0, 0
    for key in keys:
        before = answered()
        await pilot.press(key)
        await wait_for(lambda before=before: answered() != before)
        await pilot.pause()


UP_DOWN = ["down"] * 10 + ["up"] * 10
#: Paints besides the keys' own that may fall in the 20 keys' window (one extra in about 1 run
#: of 4 of the lessons test, not tied to a key); the old code took 39 to 76.
STRAY_PAINTS = 2


async def test_up_down_in_the_lessons_lays_out_and_paints_once_per_key(monkeypatch):
    """Each key shows another lesson's card, of another height: one layout (the card's
    Static set its virtual size with a second one), and one paint for the list's two options
    and the card (the list repainted all of itself, the card came a moment later in a paint
    of its own, and each layout repainted the list's scroll bar). Before: 36 layouts and 76
    paints for 20 keys."""
    from engine import lessons
    from tui.screens.lessons import LessonsScreen, lesson_card

    counter = UpdateCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot, "L", LessonsScreen)
        card = screen.query_one("#lesson-card")
        await press_each(pilot, counter, UP_DOWN, lambda: card.content)
        shown = screen.query_one("#lesson-list").highlighted_option.id
        assert card.content == lesson_card(lessons.load(shown))
        assert card.region.height == len(card.render_lines(card.region.reset_offset))
        assert counter.count <= len(UP_DOWN), f"{counter.count} layouts for 20 keys"
        assert counter.paints <= len(UP_DOWN) + STRAY_PAINTS, f"{counter.paints} paints, 20 keys"


async def test_the_lessons_list_repaints_only_the_options_whose_highlight_moved():
    from tui.screens.lessons import LessonsScreen

    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "L", LessonsScreen)
        listing = app.screen.query_one("#lesson-list")
        repainted = []
        set_dirty = listing._set_dirty
        listing._set_dirty = lambda *regions: (repainted.append(regions), set_dirty(*regions))
        await pilot.press("down")
        await wait_for(lambda: repainted)
        await pilot.pause()
        assert repainted and all(regions for regions in repainted)  # never the whole list
        rows = {y for regions in repainted for region in regions for y in region.line_range}
        assert 2 <= len(rows) <= 6, rows  # the two options (a title may take two lines)


async def test_up_down_in_the_help_scrolls_in_one_paint_per_key(monkeypatch):
    """A key scrolls the help at once: Textual animated each line's scroll (two paints or
    more per key, the key's answer the last). Before: 39-41 paints for 20 keys."""
    from tui.screens.help import HelpScreen

    counter = UpdateCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "question_mark", HelpScreen)
        body = app.screen.query_one("#help-body")
        await press_each(pilot, counter, UP_DOWN, lambda: body.scroll_y)
        assert body.scroll_y == 0
        assert counter.count == 0
        assert counter.paints <= len(UP_DOWN) + STRAY_PAINTS, f"{counter.paints} paints, 20 keys"


async def test_left_right_in_the_pin_prompt_lays_nothing_out(monkeypatch):
    """The pin prompt (over a paused run): a cursor move lays out neither the prompt nor the
    screen behind it (its p90 of 109 ms in bench_latency was a toast leaving the screen
    during the keys, counted as a key's answer: the bench now waits toasts out)."""
    from tui.screens.prompt import PromptScreen

    counter = UpdateCounter(monkeypatch)
    behind = []
    refresh_layout = Screen._refresh_layout

    def counted(screen: Screen, size: Any = None, scroll: bool = False) -> None:
        if not screen.is_current:
            behind.append(screen)
        refresh_layout(screen, size, scroll)

    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_step()
        await wait_for(lambda: app.session.run.steps_done > 0)
        await open_screen(pilot, "p", PromptScreen)
        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        field = app.screen.query_one("#prompt-value")
        keys = ["left"] * 5 + ["right"] * 5
        await press_each(pilot, counter, keys, lambda: field.cursor_position)
        assert field.cursor_position == len(field.value)
        assert counter.count == 0 and not behind


# -- the setup screens' drop-downs: what a Tab onto one, or its opening, costs -----------------


class ApplyCounter:
    """Counts the style applications (`Stylesheet.apply`, a component style's included) while
    `on` is set: all of them, and those to the parts of the drop-down lists (a Select's
    `SelectOverlay` and its component styles)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from textual.css.stylesheet import Stylesheet
        from textual.widgets._select import SelectOverlay

        self.on = False
        self.all = 0
        self.lists = 0
        apply = Stylesheet.apply

        def counted(stylesheet: Stylesheet, node: Any, **kwargs: Any) -> None:
            self.all += self.on
            if self.on and any(isinstance(n, SelectOverlay) for n in (node, *node.ancestors)):
                self.lists += 1
            apply(stylesheet, node, **kwargs)

        monkeypatch.setattr(Stylesheet, "apply", counted)


#: Style applications allowed per Tab in the walk: the fields' names, the old and the new focus
#: (an Input and its four component styles), a Select and its value's box. Before: 24-28 per
#: key (a drop-down's hidden list; an Input restyled twice, the dialog's focus-within pass
#: counting it in because one rule styled `Input:focus` and `Select:focus-within`).
MAX_APPLIES = 16


@pytest.mark.parametrize("setup", ["race", "sweep"])
async def test_a_tab_is_drawn_in_one_frame_and_restyles_no_hidden_list(monkeypatch, setup):
    """Each Tab draws its whole answer in one frame: a Tab onto or off a drop-down drew the
    value's box a frame later (its parts asked for their repaint from their own queues), and
    one into or out of a form drew the footer's escape a frame later. Only the footer's
    first widening (to "Leave form") takes a layout and a frame of its own. Before: 37
    frames for 20 keys (race and sweep setup). And no Tab restyles the hidden list of a
    drop-down (before: its five component styles and itself, on every Tab onto or off one:
    84-102 style applications for the 20 keys), nor an Input twice."""
    counter = LayoutCounter(monkeypatch)
    frames = FrameChecker(monkeypatch)
    applies = ApplyCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c" if setup == "race" else "s")
        await wait_for(lambda: isinstance(app.screen, (RaceSetupScreen, SweepScreen)))
        await pilot.pause()
        frames.screen = app.screen
        applies.on = True
        visited = await focus_moves(pilot, counter, f"{setup}-task-select")
        assert any(v.endswith("-select") and v != f"{setup}-task-select" for v in visited)
        assert frames.wrong == []
        # The footer's widening (a layout, a frame), and paints not tied to a key.
        most = len(KEYS) + 1 + STRAY_PAINTS
        assert frames.frames <= most, f"{frames.frames} frames for {len(KEYS)} keys"
        assert applies.lists == 0, f"{applies.lists} style applications to hidden lists"
        assert applies.all <= MAX_APPLIES * len(KEYS), f"{applies.all} style applications"


async def test_a_drop_down_closes_with_the_footer_and_the_focus_in_one_frame(monkeypatch):
    """Enter opens the task's drop-down, up/down move in it, enter closes it: every frame
    shows the footer's escape for the list's state ("Dismiss menu" while it is open, the
    setup's "Cancel" once it is closed), repaints the footer's keys whose label changed since
    the frame before, and has the focus back on the Select once the list is closed. Before:
    the closing frame drew the closed list with the footer's old label (the new one was
    painted a frame later: Textual gave the focus back after the next frame, and the keys
    asked for their repaint from their own queues)."""
    wrong: list[str] = []
    seen: list[bool] = []
    drawn: dict[Any, str] = {}  # footer key -> the label its last repaint drew
    armed = [False]  # from the first key on
    compositor_refresh = Screen._compositor_refresh
    app = app_of_digits()

    def checked(screen: Screen) -> None:
        if armed[0] and isinstance(screen, RaceSetupScreen) and screen.is_current:
            select = screen.query_one("#race-task-select")
            keys = [k for k in screen.query_one(SteadyFooter).children if hasattr(k, "key")]
            labels = [k.description for k in keys if k.key == "escape"]
            open_ = bool(select.expanded)
            seen.append(open_)
            if labels != ["Dismiss menu" if open_ else "Cancel"]:
                wrong.append(f"list {'open' if open_ else 'closed'}, footer {labels}")
            if not open_ and screen.focused is not select:
                wrong.append(f"list closed, focus on {screen.focused}")
            for key in keys:
                if key in screen._dirty_widgets:
                    drawn[key] = key.description
                elif drawn.setdefault(key, key.description) != key.description:
                    wrong.append(f"{key.description!r} not painted, {drawn[key]!r} shows")
        compositor_refresh(screen)

    monkeypatch.setattr(Screen, "_compositor_refresh", checked)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "c", RaceSetupScreen)
        select = app.screen.query_one("#race-task-select")
        await wait_for(lambda: app.screen.focused is select)
        await pilot.pause()
        armed[0] = True
        for _ in range(3):
            for key, want in (("enter", True), ("down", True), ("up", True), ("enter", False)):
                before = len(seen)
                await pilot.press(key)
                await wait_for(lambda want=want, before=before: len(seen) > before
                               and select.expanded == want)  # fmt: skip
                await pilot.pause()
        assert True in seen and wrong == []


async def test_a_schedule_knobs_help_shows_under_the_schedule_not_the_optimizer():
    """A racer's form has two sections (optimizer, schedule), each with its own help line:
    the focused schedule knob's help shows under the schedule's knobs, and the optimizer's
    line stays blank. Before: every field of the racer's form wrote into the form's first
    help line (the optimizer's), the schedule's stayed blank."""
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot, "c", RaceSetupScreen)
        screen.query_one("#r1-schedule-select").focus()
        await pilot.press("enter", *"cosine", "enter")
        await wait_for(lambda: screen.query("#r1-schedule-min_lr"))
        await pilot.pause()
        field = screen.query_one("#r1-schedule-min_lr")
        screen.set_focus(field)
        await wait_for(lambda: screen.focused is field)
        await pilot.pause()
        spec = next(a for a in field.ancestors if isinstance(a, HyperField))
        schedule_help = screen.query_one("#section-r1-schedule .hyper-help", HelpLine)
        optimizer_help = screen.query_one("#section-r1-optimizer .hyper-help", HelpLine)
        assert str(schedule_help.render()) == spec.help_text
        assert str(optimizer_help.render()) == ""


async def test_a_dialog_frame_renders_only_what_changed_and_sends_what_textual_would(
    monkeypatch,
):
    """A dialog draws a frame's changes by rendering only the widgets over a changed region
    (`RegionCompositor`), not every widget in a rectangle around all of them: a Tab in the
    race setup renders a handful of widgets (before: ~55 per key, as the rectangle from the
    focused field to the footer's escape spans most of the screen). Every frame of the walk
    sends the terminal the same text as Textual's own compositor would."""
    assert NARROW_PARTIAL_UPDATES  # written for this Textual (tui/textual_fixes.py)
    renders = [0]
    differ: list[str] = []
    narrow = RegionCompositor.render_partial_update
    render_lines = Widget.render_lines

    def counted(widget: Widget, crop: Any) -> Any:
        renders[0] += 1
        return render_lines(widget, crop)

    def both(compositor: RegionCompositor) -> Any:
        dirty = set(compositor._dirty_regions)
        ours = narrow(compositor)
        compositor._dirty_regions.update(dirty)
        calls = renders[0]
        theirs = Compositor.render_partial_update(compositor)
        renders[0] = calls  # Textual's renders are not counted
        console = Console(
            width=compositor.size.width, force_terminal=True, color_system="truecolor"
        )
        with console.capture() as mine:
            console.print(ours, end="")
        with console.capture() as textual:
            console.print(theirs, end="")
        if mine.get() != textual.get():
            differ.append(f"{sorted(dirty)}")
        return ours

    monkeypatch.setattr(RegionCompositor, "render_partial_update", both)
    monkeypatch.setattr(Widget, "render_lines", counted)
    counter = LayoutCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(pilot, "c", RaceSetupScreen)
        renders[0] = 0
        await focus_moves(pilot, counter, "race-task-select")
        per_key = renders[0] / len(KEYS)
        for key in ("enter", "down", "up", "enter"):  # a drop-down, opened and closed
            await pilot.press(key)
            await pilot.pause()
    assert differ == []
    assert per_key < 25, f"{per_key:.0f} widgets rendered per Tab"


async def test_a_drop_down_opens_and_closes_with_one_layout_and_no_restyle(monkeypatch):
    """Enter opens a picker's list, up/down move in it, enter closes it: one layout of the
    screen to show the list and one to hide it (it is an overlay: nothing else moves), no
    style applied to any widget (the list never takes the focus), and up/down lay out
    nothing. Before (Textual's Select): the same layouts, and 165 style applications for
    these three (the Select's parts, the list's focus and its five component styles)."""
    applies = [0]
    apply = Stylesheet.apply

    def counted(stylesheet: Stylesheet, node: Any, **kwargs: Any) -> None:
        applies[0] += 1
        apply(stylesheet, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", counted)
    counter = LayoutCounter(monkeypatch)
    app = app_of_digits()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot, "c", RaceSetupScreen)
        select = screen.query_one("#race-task-select")
        await wait_for(lambda: screen.focused is select)
        await pilot.press("enter", "escape")  # the list's first showing sizes it
        await wait_for(lambda: not select.expanded)
        await pilot.pause()
        counter.screen, counter.count, applies[0] = screen, 0, 0
        layouts = []
        for key, want in (("enter", True), ("down", True), ("up", True), ("enter", False)) * 3:
            before = counter.count
            await pilot.press(key)
            await wait_for(lambda want=want: select.expanded == want)
            await pilot.pause()
            layouts.append(counter.count - before)
        assert layouts == [1, 0, 0, 1] * 3
        assert applies[0] == 0
        assert screen.focused is select
