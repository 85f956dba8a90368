"""The race results table: one row per lane, each in its lane's colour.

Columns: the run, steps done, final loss (the last training batch loss), best loss, steps to
reach the target loss (the first step whose training loss is at or below it), wall time per
update, and divergence; for classifiers also the held-out loss and accuracy of the newest
evaluation (for the other tasks the eval loss is the full-data loss, close to the final
loss: left out so the core columns fit in 80 cells). The
numbers are `engine.compare.Result`s written with the one shared formatter
(`engine.numbers`), as the race panel and the status line write them. The best value of each
loss / speed column is bold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.compare import Result
from engine.numbers import format_number, format_seconds


def target_header(target: float | None) -> str:
    """The steps-to-target column's title."""
    return "steps to target" if target is None else f"steps to {target:.4g}"


def result_cells(row: Result, target: float | None) -> list[str]:
    """One row's cells as shown (name, steps, final, best, to target, time/step, diverged:
    "no" or "at N", the step whose update was not finite)."""
    if row.steps_to_target is not None:
        to_target = str(row.steps_to_target)
    else:
        to_target = "never" if target is not None and row.steps else "-"
    return [
        row.name + (" (pinned)" if row.pinned else ""),
        str(row.steps),
        format_number(row.final_loss),
        format_number(row.best_loss),
        to_target,
        format_seconds(row.seconds_per_step),
        f"at {row.diverged_at}" if row.diverged else "no",
    ]


def _best(values: Sequence[float | int | None]) -> int | None:
    """Index of the smallest value (None when no row has one)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    return min(known)[1] if known else None


class RaceTable(Static):
    """The comparison table; the app calls `show` with the rows, target and lane colours."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Result] = []
        self.target: float | None = None

    def show(self, rows: Sequence[Result], target: float | None, colors: Sequence[Any]) -> None:
        self.rows, self.target = list(rows), target
        has_acc = any(r.eval_accuracy is not None for r in rows)
        has_eval = has_acc  # see the module docstring
        # One space between columns: the core columns fit in 80 cells.
        table = Table(
            box=None, pad_edge=False, expand=False, header_style="bold", collapse_padding=True
        )
        table.add_column("", no_wrap=True)  # the lane's colour swatch
        table.add_column("run", no_wrap=True)
        for header in ("steps", "final loss", "best loss", target_header(target), "time/step"):
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column("diverged", no_wrap=True)
        if has_eval:
            table.add_column("eval loss", justify="right", no_wrap=True)
        if has_acc:
            table.add_column("eval acc", justify="right", no_wrap=True)
        alive = [r if not r.diverged else None for r in rows]
        bold_at = {
            2: _best([r.final_loss if r else None for r in alive]),
            3: _best([r.best_loss if r else None for r in alive]),
            4: _best([r.steps_to_target if r else None for r in alive]),
            5: _best([r.seconds_per_step if r else None for r in alive]),
        }
        for i, row in enumerate(rows):
            style = Style(color=colors[i % len(colors)] if colors else None)
            cells: list[Text | str] = [Text("┅┅" if row.pinned else "━━", style=style)]
            for k, cell in enumerate(result_cells(row, target)):
                bold = bold_at.get(k) == i and len(rows) > 1
                cells.append(Text(cell, style="bold" if bold else ""))
            if row.diverged:
                cells[-1] = Text(cells[-1].plain, style="bold red")
            if has_eval:
                cells.append(format_number(row.eval_loss))
            if has_acc:
                acc = row.eval_accuracy
                cells.append("-" if acc is None else f"{100 * acc:.1f}%")
            table.add_row(*cells)
        self.update(table)
