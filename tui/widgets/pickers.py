"""Pickers: choose a task, an optimizer or a schedule by name, with its one-line summary.

A picker is a compact drop-down (a `Choice`: one line, keyboard friendly: enter/up/down open
it, typing searches) with a label in front and the chosen item's summary below. It reports a
choice with `Picker.Changed`; the app decides whether the choice applies now or needs a
reset. A picker may end with one more entry that is an action, not a name (the optimizer
picker's "optimizer from file…"): choosing it keeps the name shown and reports `Picker.More`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import HorizontalGroup, VerticalGroup
from textual.message import Message
from textual.widgets import Label, Select, Static

from tui.widgets.choice import Choice


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
