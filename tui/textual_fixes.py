"""Guards against Textual bugs (two crashes, one stall), each scoped as narrowly as Textual
allows.

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

Timers that fall behind (Textual 8.2.x): a timer whose tick ran late skips to the slot after
the next one (`count = int((now - start) / interval + 1)`, then `start + (count + 1) *
interval`), so it sleeps up to two intervals. The screen's update timer (1/60 s) ticks late
whenever a frame took a while, so a key pressed after a busy frame waited up to 33 ms for the
screen to show it (measured in tmux while training: the update slept 20-29 ms after the status
line changed). `fix_timer_catch_up` makes a late timer wait for the next slot only; it is
installed only while `Timer._run` has the source it was written for (Textual 8.2.8), checked
by tests/tui/test_textual_fixes.py like the guard above.

Our own dialogs guard their dismissal in `tui.dialogs.Dialog`; nothing else is patched.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Iterable
from typing import Any

from textual import on
from textual import timer as textual_timer
from textual._compositor import ChopsUpdate, Compositor
from textual.command import CommandPalette
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Button, Input, OptionList

#: sha256 (first 16 hex digits) of the source of the `OptionList._move_page` the guard is for.
MOVE_PAGE_SOURCE = "85f7f33005763486"

_original_move_page = OptionList._move_page


def source_digest(method: Any) -> str:
    """Short sha256 of a function's source lines (how the guard recognises the method it
    fixes): from its first line (a decorator's) to the last its code spans, read as they are
    in the file. Not `inspect.getsource`, which tokenizes the file from the function on: the
    four digests taken at launch cost ~5 ms that way, ~0.1 ms this way. OSError when the
    source is not available (a frozen build), TypeError when `method` has no code."""
    code = getattr(method, "__code__", None)
    if code is None:
        raise TypeError(f"{method!r} has no code")
    lines = linecache.getlines(code.co_filename)
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=0)
    if not lines or last < code.co_firstlineno or last > len(lines):
        raise OSError(f"no source for {code.co_name}")
    source = "".join(lines[code.co_firstlineno - 1 : last])
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _move_page_when_laid_out(self: OptionList, direction: Any) -> None:
    if (self.highlighted or 0) not in self._index_to_line:
        return  # no lines yet (no content region): nothing to page through
    _original_move_page(self, direction)


def _replace_method(owner: type, name: str, replacement: Any, digest: str, mark: str) -> bool:
    """Put `replacement` in place of `owner.name` if that is still the Textual method it was
    written for (its source has `digest`); True if the replacement is in place. `mark` flags
    the replacement, so installing twice is harmless."""
    method = getattr(owner, name)
    if getattr(method, mark, False):
        return True
    try:
        current = source_digest(method)
    except (OSError, TypeError):  # no source available (a frozen build): leave Textual be
        return False
    if current != digest:
        return False
    setattr(replacement, mark, True)
    setattr(owner, name, replacement)
    return True


def guard_option_list_paging() -> bool:
    """Install the page-key guard if Textual still has the method it fixes; True if on."""
    return _replace_method(
        OptionList, "_move_page", _move_page_when_laid_out, MOVE_PAGE_SOURCE, "__optplay_guard__"
    )


#: sha256 (first 16 hex digits) of the source of the `Timer._run` the fix is for.
TIMER_RUN_SOURCE = "60c942a84c1a8765"

_original_timer_run = textual_timer.Timer._run


async def _run_timer_catching_up(self: Any) -> None:
    """Textual's `Timer._run` with a late timer waiting for the next slot, not the one after."""
    count = 0
    repeat, interval = self._repeat, self._interval
    await self._active.wait()
    clock = textual_timer._time
    start = clock.get_time()
    while repeat is None or count <= repeat:
        next_timer = start + (count + 1) * interval
        now = clock.get_time()
        if self._skip and next_timer < now:
            count = int((now - start) / interval)  # start + (count + 1) * interval > now
            continue
        await textual_timer.sleep(max(0.0, next_timer - clock.get_time()))
        count += 1
        await self._active.wait()
        if self._reset:
            start = clock.get_time()
            count = 0
            self._reset = False
            continue
        try:
            await self._tick(next_timer=next_timer, count=count)
        except textual_timer.EventTargetGone:
            break


def fix_timer_catch_up() -> bool:
    """Install the late-timer fix if Textual still has the method it fixes; True if on."""
    return _replace_method(
        textual_timer.Timer, "_run", _run_timer_catching_up, TIMER_RUN_SOURCE, "__optplay_fix__"
    )


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


#: sha256 (first 16 hex digits) of the `Compositor.render_partial_update` and
#: `Compositor._get_renders` that `RegionCompositor` narrows (Textual 8.2.8).
PARTIAL_UPDATE_SOURCE = ("888dccc892d8ecc2", "8ac93299aa5d3bef")
#: Whether Textual's methods are those ones (else a `RegionCompositor` is Textual's own).
NARROW_PARTIAL_UPDATES = (
    source_digest(Compositor.render_partial_update),
    source_digest(Compositor._get_renders),
) == PARTIAL_UPDATE_SOURCE


class RegionCompositor(Compositor):
    """A screen's compositor whose frames render only the widgets over a changed region.

    Textual (8.2) draws a frame's changes through one rectangle around all of them: every
    widget that overlaps the rectangle renders its lines, and the changed cells are cut out
    of those. A Tab in a setup screen changes a few cells here and there (the field left, the
    field entered, its section's help line, the footer's escape at the bottom): the
    rectangle around them spans most of the screen, and most of the screen's widgets
    rendered for ~300 cells. Here a widget renders only if it lies over a changed region
    (those are the widgets whose cells are sent: the topmost widget over a changed cell lies
    over its region), each once, and the cells sent to the terminal are the same
    (tests/tui/test_dialog_layouts.py compares every frame with Textual's). Used by our
    dialogs (`tui.dialogs.Dialog`) while Textual's methods are the ones this was written
    for; else it is Textual's compositor."""

    _changed: tuple[Region, ...] | None = None  # the frame's changed regions, while drawn

    def render_partial_update(self) -> ChopsUpdate | None:
        if not NARROW_PARTIAL_UPDATES:
            return super().render_partial_update()
        self._changed = tuple(self._dirty_regions)
        try:
            return super().render_partial_update()
        finally:
            self._changed = None

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        changed = self._changed
        if changed is None or crop is None:
            yield from super()._get_renders(crop)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not shown or not any(shown.overlaps(area) for area in changed):
                continue
            # As Textual's: the widget's lines inside its clip.
            yield (
                region,
                clip,
                widget.render_lines(
                    Region(shown.x - region.x, shown.y - region.y, shown.width, shown.height)
                ),
            )
