"""Widgets whose navigation keys repaint only what changed (issue 25).

Textual (8.2) repaints the whole of an `OptionList` when its highlight moves (the
`highlighted` reactive repaints its widget): in the Lessons screen, each up/down redrew the
38 rows of the list, for the two options whose style changed. A `SteadyOptionList` repaints
those two options (a scroll to bring the highlight into view still repaints it all).

Each layout of the screen, whatever it was for, repainted the list's scroll bar and threw
its rendered options away (Textual's ScrollView compares two different container sizes); a
`SteadyOptionList` does that only when one of its sizes changed.

A `Static` whose text changes height (the Lessons screen's card, one lesson after another)
asks for a layout of its screen, as it must; Textual then sets the widget's `virtual_size`
from the new size, a reactive that asks for a second layout, and the card was laid out and
painted twice per key. A `SteadyStatic` takes its new virtual size without that second
layout (it does not scroll: its virtual size is its size, read by no one else).
"""

from __future__ import annotations

from typing import Any

from textual.actions import SkipAction
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.widgets import OptionList, Static


class SteadyOptionList(OptionList):
    """An `OptionList` that repaints only the options whose highlight changed."""

    highlighted: reactive[int | None] = reactive(None, repaint=False)

    #: The sizes of the last layout (given, and the list's own virtual size after it).
    _sizes: tuple[Size, Size, Size, Size] | None = None

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual's ScrollView compares the container size it is given with the one it keeps
        # (its own size less its gutter), never equal for a list with padding: every layout
        # of the screen, whatever it was for, repainted the list's scroll bar and sent it a
        # Resize, which threw its rendered options away. Same sizes: nothing to do.
        if (size, virtual_size, container_size, self.virtual_size) == self._sizes:
            return False
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        self._sizes = (size, virtual_size, container_size, self.virtual_size)
        return resized

    def _watch_highlighted(self, old: int | None, new: int | None) -> None:
        for index in (old, new):
            region = self._option_region(index)
            if region is not None:
                self.refresh(region)

    def _option_region(self, index: int | None) -> Region | None:
        """The lines of option `index`, the list's whole width, in the content coordinates
        `refresh` takes (None: not drawn)."""
        if index is None or not self.is_mounted or not self.size:
            return None
        try:
            line = self._index_to_line[index]
            height = self._heights[index]
        except KeyError:
            return None
        left = self.content_offset.x
        return Region(-left, line - self.scroll_offset.y, self.size.width, height)


class SteadyStatic(Static):
    """A `Static` whose change of height lays its screen out once, not twice."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class SteadyScroll(VerticalScroll):
    """A `VerticalScroll` whose keys move it at once. Textual animates a key's scroll (a line,
    a page: frames over a tenth of a second or so, each laid out and painted over the whole
    screen), and the key's answer is the last frame."""

    def _at_once(self, scroll: Any) -> None:
        """Scroll with `scroll` (one of the widget's scroll methods) without animation; the
        key goes on to others when this cannot scroll vertically."""
        if not self.allow_vertical_scroll:
            raise SkipAction()
        scroll(animate=False)

    def action_scroll_up(self) -> None:
        self._at_once(self.scroll_up)

    def action_scroll_down(self) -> None:
        self._at_once(self.scroll_down)

    def action_page_up(self) -> None:
        self._at_once(self.scroll_page_up)

    def action_page_down(self) -> None:
        self._at_once(self.scroll_page_down)
