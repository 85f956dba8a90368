"""The left column during a race: what races, in which colour, and how each racer is doing.

The race's shared settings (task, seed, length), then one entry per lane in rank order (the
session's `Ranking`: newest eval loss, or batch loss where there is no evaluation after step
0, as the line above the lanes says; pins and diverged lanes last): a swatch in the lane's
chart colour, its name and the value it is ranked on (or where it diverged), and a line with
its optimizer, learning rate and schedule. The racers are edited in the race setup screen (`c`),
so this panel only shows the session's lanes (`engine.session.LaneView`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from engine.compare import Ranking
from engine.numbers import format_number
from engine.session import LaneView
from engine.textsafe import for_terminal, shortened
from tui.charts.lanes import lane_swatch

HINT = "c edit race · x one run\nt table · e export"
#: The room inside the panel when it has not been laid out yet (app.tcss: width 32, padding 1,
#: a border).
DEFAULT_ROOM = 29


class RacePanel(Static):
    """The race's racers and pins, one coloured entry each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self._shown: tuple[Any, ...] | None = None

    def show(
        self,
        title: str,
        settings: str,
        lanes: Sequence[LaneView],
        colors: Sequence[Any],
        ranking: Ranking | None = None,
    ) -> None:
        key = (title, settings, tuple((lane.name, lane.detail, lane.loss, lane.eval_loss,
                                       lane.diverged_at, lane.pinned) for lane in lanes),
               tuple(colors), ranking)  # fmt: skip
        if key == self._shown:
            return  # progress arrives many times a second: redraw only on a change
        self._shown = key
        room = self.content_size.width or DEFAULT_ROOM
        text = Text(no_wrap=False)
        text.append(title + "\n", style="bold")
        text.append(settings + "\n", style="dim")
        order = range(len(lanes)) if ranking is None else ranking.order
        text.append(f"ranked by {ranking.label}\n" if ranking else "\n", style="dim")
        for i in order:
            if i >= len(colors):
                continue
            lane, color = lanes[i], colors[i]
            swatch = Style(color=color, bold=True)
            if lane.diverged_at is not None:
                figure, figure_style = f"  diverged at {lane.diverged_at}", "bold red"
            else:
                value = lane.loss if ranking is None else ranking.values[i]
                figure, figure_style = f"  {format_number(value, missing='—')}", ""
            # a long name is cut with an ellipsis so the lane's figure stays on its line
            name = shortened(for_terminal(lane.name), max(room - 3 - len(figure), 8))
            plain = getattr(self.app, "no_color", False)
            text.append(lane_swatch(i, not plain, lane.pinned) + " ", style=swatch)
            text.append(name, style=swatch)
            text.append(figure, style=figure_style)
            text.append(f"\n   {lane.detail}\n", style="dim")
        text.append("\n" + HINT, style="italic dim")
        self.update(text, layout=False)  # its size is fixed (app.tcss): no layout pass
