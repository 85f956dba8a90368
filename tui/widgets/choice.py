"""`Choice`: a one-line drop-down that keeps the focus while its list is open (issue 25).

Textual's `Select` (8.2) is six widgets: the Select, a box for the value with its label and
two arrows (one hidden), and the list. Opening it moves the focus into the list and sets a
class on the Select, and closing moves it back: each is a restyle of the Select's subtree,
the footer's keys following the focus, and a whole-screen layout for the list's `display`;
a Tab onto or off one restyles its box, label and arrows. In the setup screens, where a
dozen of them sit among ~200 widgets, that was most of a drop-down's cost (68 ms p90 per key
in tmux on a quiet machine) and a good part of a Tab's.

A `Choice` is a `Select` to everything that uses one (`value`, `expanded`, `set_options`,
`Select.Changed`, queries for `Select`), drawn by one widget: the value and its arrow are
its own render, with the look of a compact Select's box (same colours, same cells). Its list
is Textual's overlay, which never takes the focus: the keys reach the `Choice`, which moves
the list's highlight, picks (enter), closes (escape) or searches (a printable key, as the
Select's list did). So opening or closing is one layout (the list shown or hidden: it is an
overlay, so nothing else moves) and a repaint of the line and the list; nothing is restyled
and the focus stays where it is. The footer shows the list's escape ("Dismiss menu") while
it is open, as it did.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content, Span
from textual.css.query import NoMatches
from textual.style import Style
from textual.widgets import Select
from textual.widgets._select import NoSelection, SelectOverlay

from tui.widgets.steady import SteadyOptionList


class ChoiceList(SelectOverlay, SteadyOptionList, can_focus=False):
    """A `Choice`'s list: shown over the screen below its `Choice`; the keys stay with the
    `Choice` (the list never has the focus), so its highlight is drawn as a focused list's.
    Up/down repaint the two options whose highlight changed, not the whole list and what
    lies under it (`SteadyOptionList`)."""

    DEFAULT_CSS = """
    ChoiceList > .option-list--option-highlighted {
        color: $block-cursor-foreground;
        background: $block-cursor-background;
        text-style: $block-cursor-text-style;
    }
    """


class Choice(Select[Any]):
    """A compact `Select` drawn by one widget whose list never takes the focus (see the
    module docstring). Keys: enter, space, up or down opens the list; up/down, page up/down,
    home/end move in it, enter picks, escape closes, typing searches."""

    DEFAULT_CSS = """
    Choice {
        height: 1;
        background: $surface;
        padding: 0 1 0 0;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "enter", "Show menu", show=False),
        Binding("space", "open", "Show menu", show=False),
        Binding("down", "down", "Show menu", show=False),
        Binding("up", "up", "Show menu", show=False),
        Binding("pagedown", "page('down')", show=False),
        Binding("pageup", "page('up')", show=False),
        Binding("home", "end('first')", show=False),
        Binding("end", "end('last')", show=False),
        Binding("escape", "dismiss", "Dismiss menu"),
    ]

    #: Seconds after a key's search before the next key starts a new search (as Select's).
    SEARCH_RESET = 0.7

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(*args, **kwargs)
        self._search = ""
        self._searched_at = 0.0

    # -- parts -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ChoiceList(type_to_search=False).data_bind(compact=Select.compact)

    @property
    def _list(self) -> ChoiceList | None:
        try:
            return self.query_one(ChoiceList)
        except NoMatches:  # not composed yet, or being removed
            return None

    def _index_of(self, value: Any) -> int | None:
        return next((i for i, (_, v) in enumerate(self._options) if v == value), None)

    def render(self) -> Content:
        width = self.content_region.width
        # The arrow and a prompt in the text's colour at half strength, as Select draws them
        # ($foreground 50%); no component classes: each would be restyled with the widget.
        faint = Style(foreground=self.styles.color.multiply_alpha(0.5))
        if isinstance(self.value, NoSelection):
            label = Content(self.prompt).stylize(faint)
        else:
            prompt = self._options[self._index_of(self.value) or 0][0]
            label = prompt if isinstance(prompt, Content) else Content(str(prompt))
        room = max(0, width - 2)
        # As the Select's label (a Static 1fr wide on one line): the first line of its text
        # wrapped to its width.
        lines = label.wrap(room) if room else [Content("")]
        first = lines[0] if lines else Content("")
        arrow = "▲" if self.expanded else "▼"
        # The label, the blank after it and the arrow as three segments, as the Select's
        # box drew them: a terminal gets the same cells either way, but a screenshot (the
        # snapshot tests) groups its text by segment, and a dialog's dimmed backdrop joins
        # neighbours of equal style (hence the label's explicit, invisible `bold=False`).
        pad = max(0, room - first.cell_length)
        plain = Style()
        text = first.plain
        n = len(text)
        return Content(
            f"{text}{' ' * pad} {arrow}",
            spans=[Span(0, n, Style(bold=False)), *first.spans, Span(n, n + pad + 1, plain),
                   Span(n + pad + 1, n + pad + 2, faint)],
        )  # fmt: skip

    # -- what Select does through its value box, done here ---------------------------------

    def _watch_value(self, value: Any) -> None:
        self._value = value
        if not self.is_mounted:
            return
        chosen = self._list
        index = self._index_of(value)
        if chosen is not None and index is not None and not isinstance(value, NoSelection):
            chosen.highlighted = index
        self.refresh()
        self.post_message(self.Changed(self, value))

    def _watch_expanded(self, expanded: bool) -> None:
        chosen = self._list
        if chosen is None:
            return
        self._search = ""
        chosen.display = expanded  # a layout: the list is an overlay, nothing else moves
        if expanded:
            index = self._index_of(self.value)
            if isinstance(self.value, NoSelection):
                index = None
            chosen.select(index if index is not None else (0 if self._options else None))
        self.refresh()  # the arrow
        # The footer shows the list's escape ("Dismiss menu") while it is open, drawn in the
        # same frame (tui/dialogs.py: a footer told now).
        screen = self.screen
        relabel = getattr(screen, "relabel_footer", None)
        if relabel is not None:
            relabel()
        else:
            screen.refresh_bindings()

    def watch_has_focus(self, has_focus: bool) -> None:
        # Only this widget's style can follow its focus (the list's does not): Textual
        # restyled its whole subtree, the list and its five component styles included.
        self.app.stylesheet.update_nodes([self], animate=True)
        self.refresh()
        if not has_focus and self.expanded:
            self.expanded = False

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "dismiss" or action in ("page", "end"):
            return self.expanded  # closed: escape is the screen's, the others go on up
        return True

    def action_show_overlay(self) -> None:
        self.expanded = True

    def action_open(self) -> None:
        if self.expanded:
            self._type(" ")
        else:
            self.expanded = True

    def action_enter(self) -> None:
        chosen = self._list
        if not self.expanded or chosen is None:
            self.expanded = True
            return
        index = chosen.highlighted
        if index is not None:
            value = self._options[index][1]
            if value != self.value:
                self.value = value
        self.expanded = False

    def action_down(self) -> None:
        chosen = self._list
        if self.expanded and chosen is not None:
            chosen.action_cursor_down()
        else:
            self.expanded = True

    def action_up(self) -> None:
        chosen = self._list
        if self.expanded and chosen is not None:
            chosen.action_cursor_up()
        else:
            self.expanded = True

    def action_page(self, direction: str) -> None:
        chosen = self._list
        if chosen is None or not chosen.size:  # not drawn yet: nothing to page through
            raise SkipAction()
        (chosen.action_page_down if direction == "down" else chosen.action_page_up)()

    def action_end(self, which: str) -> None:
        chosen = self._list
        if chosen is not None:
            (chosen.action_first if which == "first" else chosen.action_last)()

    def action_dismiss(self) -> None:
        self.expanded = False

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        return self.expanded and character is not None and character.isprintable()

    async def _on_key(self, event: events.Key) -> None:
        if self.expanded and event.character is not None and event.is_printable:
            event.stop()
            event.prevent_default()
            self._type(event.character)

    def _type(self, character: str) -> None:
        """Search the options for what was typed (the keys within SEARCH_RESET seconds of
        each other), as Select's list does: the highlight jumps to the best match."""
        now = time.monotonic()
        if now - self._searched_at > self.SEARCH_RESET:
            self._search = ""
        self._searched_at = now
        self._search += character
        chosen = self._list
        if chosen is not None:
            index = chosen._find_search_match(self._search)
            if index is not None:
                chosen.select(index)

    async def _on_click(self, event: events.Click) -> None:
        if event.widget is not self:
            return  # a click in the list: it picks (OptionList), as in a Select
        event.stop()
        if self.focusable:
            self.focus()
        self.expanded = not self.expanded
