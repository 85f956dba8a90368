"""Pickers: choose a task, an optimizer or a schedule by name, with its one-line summary.

A picker is a compact `Select` (one line, keyboard friendly: enter/up/down open it, typing
searches) with a label in front and the chosen item's summary below. It reports a choice with
`Picker.Changed`; the app decides whether the choice applies now or needs a reset. A picker
may end with one more entry that is an action, not a name (the optimizer picker's "optimizer
from file…"): choosing it keeps the name shown and reports `Picker.More`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import HorizontalGroup, VerticalGroup
from textual.dom import DOMNode
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Select, Static
from textual.widgets._select import SelectCurrent, SelectOverlay

from tui.widgets.choice import Choice


class QuietSelect(Select):
    """Textual's `Select`, restyled on a focus move only where its focus can change a style.

    Textual restyles a widget's whole subtree when it gains or loses the focus: for a Select,
    its current value's box and three labels, and the drop-down list with its five component
    styles (11 style applications, 6 of them the list's), on every Tab onto or off one. Only
    the value's box has a rule that looks at the Select's focus (`Select:focus >
    SelectCurrent`); its labels take their background from it, so they are restyled too
    (cheap). The list, hidden until the Select opens, has no such rule: it is restyled only
    while open.

    The restyled parts are drawn by the Select's own repaint in the same frame (they lie
    inside it): Textual had each of them ask the screen for a repaint of its own from its own
    message queue, which came after the screen's frame, so a Tab onto or off a Select drew a
    second frame with the same cells."""

    def _watch_expanded(self, expanded: bool) -> None:
        overlay = next((c for c in self.children if isinstance(c, SelectOverlay)), None)
        if not expanded and overlay is not None and self.screen.focused is overlay:
            # Closed with a choice or escape: the focus comes back to the Select now, so the
            # footer's keys ("Dismiss menu" again "Cancel") are drawn with the closed list.
            # Textual's `focus()` moved it after the next frame, a frame of its own.
            self.screen.set_focus(self, scroll_visible=False)
        super()._watch_expanded(expanded)
        # The value shown (a new choice: its label's new width) is laid out and drawn with
        # the list's opening or closing, not after it from the label's own queue.
        for child in self.children:
            if isinstance(child, SelectCurrent):
                for node in child.walk_children(with_self=True):
                    if isinstance(node, Widget):
                        node._check_refresh()

    def watch_has_focus(self, _has_focus: bool) -> None:
        current = [n for c in self.children if isinstance(c, SelectCurrent)
                   for n in c.walk_children(with_self=True)]  # fmt: skip
        nodes: list[DOMNode] = [self, *current]
        if self.expanded:
            nodes.extend(n for c in self.children if not isinstance(c, SelectCurrent)
                         for n in c.walk_children(with_self=True))  # fmt: skip
        self.app.stylesheet.update_nodes(nodes, animate=True)
        self.refresh()
        for node in current:  # drawn by the Select's repaint (see above)
            if isinstance(node, Widget):
                node._repaint_required = False


class Picker(VerticalGroup):
    """Label + compact Select + summary line for one registry (task, optimizer, schedule)."""

    class Changed(Message):
        """The user picked another item."""

        def __init__(self, picker: Picker, kind: str, name: str) -> None:
            super().__init__()
            self.picker = picker
            self.kind = kind
            self.name = name

        @property
        def control(self) -> Picker:
            return self.picker

    class More(Message):
        """The user chose the picker's extra entry (`more`); the name shown stays."""

        def __init__(self, picker: Picker) -> None:
            super().__init__()
            self.picker = picker

        @property
        def control(self) -> Picker:
            return self.picker

    #: The Select value of the extra entry (no registry name starts with a NUL).
    MORE = "\x00more"

    def __init__(
        self,
        kind: str,
        names: Sequence[str],
        value: str,
        summary: Callable[[str], str],
        *,
        id: str | None = None,
        select_id: str | None = None,
        more: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="picker")
        self.kind = kind
        # Several pickers of one kind on a screen (the race setup) need their own ids.
        self.select_id = select_id or f"{kind}-select"
        self._names = list(names)
        # A file may name an item the picker does not offer (a hidden lesson formula such as
        # nadam-tutorial, an optimizer file's class): it is what runs, so it is shown, last,
        # rather than refused.
        if value not in self._names:
            self._names.append(value)
        self._summary = summary
        self._value = value
        self._more = more

    def _options(self) -> list[tuple[str, str]]:
        options = [(name, name) for name in self._names]
        return options + ([(self._more, self.MORE)] if self._more else [])

    def compose(self) -> ComposeResult:
        with HorizontalGroup(classes="picker-row"):
            yield Label(self.kind, classes="picker-label")
            yield Choice(
                self._options(),
                value=self._value,
                allow_blank=False,
                compact=True,
                id=self.select_id,
            )
        yield Static(self._summary(self._value), classes="picker-summary", markup=False)

    def on_mount(self) -> None:
        # The label follows the screen's focus in the same call (`Screen.set_focus`), so it is
        # drawn in the same frame as the Select's own focus: DescendantFocus / DescendantBlur
        # handlers ran later, in this picker's queue, and the screen often drew the label a
        # frame after the rest of the key's answer.
        self.watch(self.screen, "focused", self._show_focus, init=False)
        self._show_focus()

    def _show_focus(self) -> None:
        """The label is highlighted while the focus is in this picker (app.tcss)."""
        if not self.is_attached:
            return
        focused = self.screen.focused
        inside = focused is not None and (focused is self or self in focused.ancestors)
        label = self.query_one(".picker-label")
        if label.has_class("-focused") != inside:
            label.set_class(inside, "-focused")

    @property
    def value(self) -> str:
        """The name currently shown."""
        return self._value

    def pick(self, name: str) -> None:
        """Show `name` without reporting it as the user's choice (e.g. undoing a change);
        a name the picker does not offer (a hidden formula a lesson loads) is added first."""
        self.add(name)
        self._value = name
        select = self.query_one(Select)
        with select.prevent(Select.Changed):
            select.value = name
        self.query_one(".picker-summary", Static).update(self._summary(name))

    def add(self, name: str) -> None:
        """Offer `name` too (after the registry's names; before the extra entry)."""
        if name in self._names:
            return
        self._names.append(name)
        select = self.query_one(Select)
        with select.prevent(Select.Changed):
            select.set_options(self._options())
            select.value = self._value

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        name = event.value
        if name == self.MORE:
            with event.select.prevent(Select.Changed):
                event.select.value = self._value
            self.post_message(self.More(self))
            return
        if not isinstance(name, str) or name == self._value:
            return
        self._value = name
        self.query_one(".picker-summary", Static).update(self._summary(name))
        self.post_message(self.Changed(self, self.kind, name))
