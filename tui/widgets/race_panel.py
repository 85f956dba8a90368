"""The left column during a race: what races, in which colour, and how each racer is doing.

The race's shared settings (task, seed, length), then one entry per lane: a swatch in the
lane's chart colour, its name and newest loss (or where it diverged), and a line with its
optimizer, learning rate and schedule. The racers are edited in the race setup screen (`c`),
so this panel only shows; the app pushes a `RacePanelView` down whenever something changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from tui.widgets.status import format_number

Color = tuple[int, int, int]


@dataclass(frozen=True)
class LaneLine:
    """One lane as the panel shows it."""

    name: str
    detail: str  # optimizer, lr, schedule
    color: Color
    loss: float | None = None
    diverged_at: int | None = None
    pinned: bool = False


@dataclass(frozen=True)
class RacePanelView:
    """Everything the panel shows."""

    title: str
    settings: str
    lanes: Sequence[LaneLine] = ()
    hint: str = ""


class RacePanel(Static):
    """The race's racers and overlays, one coloured entry each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.view: RacePanelView | None = None

    def show(self, view: RacePanelView) -> None:
        if view == self.view:
            return  # progress arrives many times a second: redraw only on a change
        self.view = view
        text = Text(no_wrap=False)
        text.append(view.title + "\n", style="bold")
        text.append(view.settings + "\n\n", style="dim")
        for lane in view.lanes:
            r, g, b = lane.color
            swatch = Style(color=f"rgb({r},{g},{b})", bold=True)
            text.append("┅┅ " if lane.pinned else "━━ ", style=swatch)
            text.append(lane.name, style=swatch)
            if lane.diverged_at is not None:
                text.append(f"  diverged at {lane.diverged_at}", style="bold red")
            else:
                text.append(f"  {format_number(lane.loss)}")
            text.append(f"\n   {lane.detail}\n", style="dim")
        if view.hint:
            text.append("\n" + view.hint, style="italic dim")
        self.update(text)
