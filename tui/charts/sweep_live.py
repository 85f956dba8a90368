"""The sweep chart as the Sweep screen shows it: redrawn as results arrive, with a cursor on the
selected point.

- `SweepCurves` (one swept knob): `tui.charts.sweep.draw_curves` on a textual-plotext plot,
  the selected point drawn with its marker inverted under a vertical line at its value.
- `SweepHeatmap` (two knobs): one grid per optimizer (rows the first knob, columns the
  second), each cell a shade (darker = lower, one scale for every optimizer) and the mean
  final loss; `*` the optimizer's best point, `x` a diverged seed; the selected cell in
  reverse video. It scrolls (both ways) to keep the selected cell in view.

Both read `engine.sweep.SweepPoint`s (`summarise(spec, rows)`) and redraw only when the
points or the cursor change. Without colour, optimizers differ by marker (the curves) or by
their own grid (the heatmap), and every mark is an ASCII character or a shade.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import ScrollableContainer, Vertical
from textual.geometry import Region
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.numbers import format_number
from tui.charts.sweep import BEST_MARK, DIVERGED_MARK, MARKERS, draw_curves, loss_shader

#: What a cell of a point that has not run yet shows.
NOT_RUN = "·"
#: Columns between heatmap cells.
GAP = 2


class SweepCurves(PlotextPlot):
    """Final loss against the one swept knob, one curve per optimizer (see the module
    docstring). `show(spec, points, cursor, window)`; cursor: (optimizer, knob value) or None;
    window: a zoom to some of the knob's values (`draw_curves`)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Any, ...] | None = None

    def show(
        self,
        spec: Any,
        points: Sequence[Any],
        cursor: tuple[str, Any] | None,
        window: tuple[int, int] | None = None,
    ) -> None:
        """`window`: the zoom (first, last index into the knob's values), None for all."""
        shown = (spec, tuple(points), cursor, window)
        if shown != self._shown:
            self._shown = shown
            self.refresh()

    def render(self) -> RenderResult:
        self.plt.clear_figure()
        if self._shown is not None:
            spec, points, cursor, window = self._shown
            draw_curves(self.plt, spec, points, self.size.width, cursor, window)
        return super().render()


def heatmap_text(
    spec: Any, points: Sequence[Any], cursor: tuple[str, tuple[Any, Any]] | None
) -> tuple[Text, Region | None]:
    """The heatmap's grids as text, and where the selected cell is (x, y, width, 1).
    `cursor`: (optimizer, (row value, column value))."""
    rows_axis, cols_axis = spec.axes
    shade = loss_shader(points)
    by_key = {(p.optimizer, p.point): p for p in points}

    def cell(p: Any) -> str:
        if p is None:
            return NOT_RUN + " "
        if p.final_loss_mean is None:
            return DIVERGED_MARK
        mark = BEST_MARK if p.best else DIVERGED_MARK if p.diverged else " "
        return f"{shade(p.final_loss_mean)} {format_number(p.final_loss_mean, 3)}{mark}"

    cells = {
        (opt, (rv, cv)): cell(by_key.get((opt, (rv, cv))))
        for opt in spec.optimizers
        for rv in rows_axis.values
        for cv in cols_axis.values
    }
    width = max(
        *(len(c) for c in cells.values()),
        *(len(cols_axis.label(v)) + 1 for v in cols_axis.values),  # +1: the marks' column
    )
    head = max(len(rows_axis.knob), *(len(rows_axis.label(v)) for v in rows_axis.values))
    text = Text(no_wrap=True)
    where: Region | None = None
    y = 0
    for i, opt in enumerate(spec.optimizers):
        if i:
            text.append("\n")
            y += 1
        text.append(f"{MARKERS[i % len(MARKERS)]} {opt}\n", style="bold")
        labels = "".join(
            " " * GAP + f"{cols_axis.label(v) + ' ':>{width}}" for v in cols_axis.values
        )
        text.append(f"{rows_axis.knob:<{head}}{labels}\n", style="dim")
        y += 2
        for rv in rows_axis.values:
            text.append(f"{rows_axis.label(rv):<{head}}", style="dim")
            x = head
            for cv in cols_axis.values:
                body = cells[(opt, (rv, cv))]
                text.append(" " * GAP)
                selected = cursor is not None and cursor == (opt, (rv, cv))
                best = body.endswith(BEST_MARK)
                style = "reverse bold" if selected else "bold" if best else ""
                text.append(f"{body:>{width}}", style=style)
                if selected:
                    where = Region(x + GAP, y, width, 1)
                x += GAP + width
            text.append("\n")
            y += 1
    text.rstrip()
    return text, where


class SweepHeatmap(Vertical):
    """Final loss over two swept knobs, a grid per optimizer (see the module docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="heatmap-title", markup=False)
        with ScrollableContainer(classes="heatmap-scroll", can_focus=False):
            yield Static("", classes="heatmap-body")

    def show(
        self, spec: Any, points: Sequence[Any], cursor: tuple[str, tuple[Any, Any]] | None
    ) -> None:
        shown = (spec, tuple(points), cursor)
        if shown == self._shown:
            return
        self._shown = shown
        rows_axis, cols_axis = spec.axes
        self.query_one(".heatmap-title", Static).update(
            f"final loss: rows {rows_axis.knob}, columns {cols_axis.knob} · darker = lower · "
            f"{BEST_MARK} best · {DIVERGED_MARK} diverged · {spec.task}, {spec.steps:,} steps"
        )
        text, where = heatmap_text(spec, points, cursor)
        self.query_one(".heatmap-body", Static).update(text)
        if where is not None:
            scroll = self.query_one(".heatmap-scroll", ScrollableContainer)
            region = where.grow((1, 2, 1, 2))  # a little context around the cell
            self.call_after_refresh(scroll.scroll_to_region, region, animate=False)
