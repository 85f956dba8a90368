"""The key bar: the keys that apply now, as many as fit, never cut mid-word.

Textual's footer shows every binding and cuts the row at the terminal's edge (`x One ru▏` at
80 columns). This bar shows the actions that apply now (tui/actions.py, `SessionView.available`)
whole, in their declared order; when they don't all fit, the least important (`Action.rank`)
are left out: every action is also in the help (`?`) and the command palette (`ctrl+p`),
which the bar always names at its right end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

from tui.actions import Action

#: Always shown, at the right: where the left-out keys are.
TAIL = (("?", "help"), ("^p", "palette"))
GAP = "  "


def entry(action: Action) -> str:
    return f"{action.shown_key} {action.label}"


def fit(actions: Sequence[Action], width: int) -> list[Action]:
    """The actions shown in `width` cells: in declared order, dropping the highest ranks
    first until the row (with the tail) fits."""
    tail = GAP.join(f"{k} {v}" for k, v in TAIL)
    kept = list(actions)

    def length(items: Sequence[Action]) -> int:
        return len(GAP.join([*(entry(a) for a in items), tail])) + 1

    while kept and length(kept) > width:
        worst = max(kept, key=lambda a: (a.rank, kept.index(a)))
        kept.remove(worst)
    return kept


class KeyBar(Static):
    """One row of keys at the bottom of the screen."""

    def __init__(self, actions: Sequence[Action], *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.actions = [a for a in actions if a.footer]
        self.applies: Callable[[Action], bool] = lambda action: True
        self.shown: list[Action] = []
        self._key: tuple[object, ...] | None = None
        self.editing: str | None = None  # the knob whose field has the keys, if any

    def show_editing(self, knob: str | None) -> None:
        """While a form field has the keys, say what Enter and Escape do instead of the
        app's keys (which the field would take as typing)."""
        if knob != self.editing:
            self.editing = knob
            self._draw()

    def show(self, applies: Callable[[Action], bool]) -> None:
        """Show the keys of the actions for which `applies(action)` holds."""
        self.applies = applies
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.size.width or 80
        available = [a for a in self.actions if self.applies(a)]
        shown = [] if self.editing else fit(available, width)
        key = (width, self.editing, tuple(a.name for a in shown))
        if key == self._key:
            return
        self._key, self.shown = key, shown
        text = Text(no_wrap=True, overflow="crop")
        text.append(" ")
        if self.editing:
            text.append(f"editing {self.editing}", style="bold")
            text.append(f" — Enter to apply, Esc to cancel{GAP}")
        for action in shown:
            text.append(action.shown_key, style="bold")
            text.append(f" {action.label}{GAP}")
        for k, label in TAIL:
            text.append(k, style="bold")
            text.append(f" {label}{GAP}")
        text.rstrip()
        self.update(text, layout=False)  # one row, always: new text, the same cells
