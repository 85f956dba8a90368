"""The results table: one row per lane, in its lane's colour, fitted to the screen.

Columns, each named by the series it comes from (README, "Loss series"): the run, steps
done, the last and the best training (batch) loss, the newest and the best evaluation loss,
the steps to reach the target on the eval series, wall time per update, divergence, and for
classifiers the held-out accuracy. When the table is wider than the screen, the least
important columns are left out first (`COLUMNS`, by priority) and the note under the table
says which: nothing is ever cut mid-word, and the run's name and what decides a race (eval
loss, steps to target, divergence) stay. The numbers are `engine.compare.Result`s written
with the one shared formatter (`engine.numbers`), as the race panel and the status line
write them; the best value of each loss / steps / speed column is bold. Rows are in rank order
(`engine.compare.rank_results`: eval loss, batch loss only when there is no evaluation after
step 0; pins and diverged runs last), each in its own lane's colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.compare import Result, rank_results
from engine.numbers import format_number, format_seconds
from engine.textsafe import for_terminal
from tui.charts.lanes import lane_swatch

#: Gap between columns, and the lane's colour swatch before the name.
GAP = 1
SWATCH = "━━"


def target_header(target: float | None) -> str:
    """The steps-to-target column's title (measured on the eval series)."""
    return "steps to target" if target is None else f"steps to {format_number(target)}"


def _to_target(row: Result, target: float | None) -> str:
    if row.steps_to_target is not None:
        return str(row.steps_to_target)
    return "never" if target is not None and row.steps else "-"


@dataclass(frozen=True)
class Column:
    """One column: its header, how a row shows in it, what is best in it (None: nothing is
    bold), and its priority (0 = always kept; higher goes first when the table is too wide)."""

    key: str
    header: str
    cell: Callable[[Result, float | None], str]
    best: Callable[[Result], float | int | None] | None
    priority: int
    right: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("run", "run", lambda r, t: for_terminal(r.name) + (" (pinned)" * r.pinned), None, 0,
           right=False),
    Column("steps", "steps", lambda r, t: f"{r.steps:,}", None, 6),
    Column("final", "last batch loss", lambda r, t: format_number(r.final_loss),
           lambda r: r.final_loss, 3),
    Column("best", "best batch loss", lambda r, t: format_number(r.best_loss),
           lambda r: r.best_loss, 5),
    Column("eval", "eval loss", lambda r, t: format_number(r.eval_loss),
           lambda r: r.eval_loss, 1),
    Column("best_eval", "best eval", lambda r, t: format_number(r.best_eval_loss),
           lambda r: r.best_eval_loss, 4),
    Column("target", "steps to target", _to_target, lambda r: r.steps_to_target, 1),
    Column("time", "time/step", lambda r, t: format_seconds(r.seconds_per_step),
           lambda r: r.seconds_per_step, 7),
    Column("diverged", "diverged", lambda r, t: f"at {r.diverged_at}" if r.diverged else "no",
           None, 2, right=False),
    Column("acc", "eval acc", lambda r, t: "-" if r.eval_accuracy is None
           else f"{100 * r.eval_accuracy:.1f}%", None, 3),
)  # fmt: skip


def fitted_columns(rows: Sequence[Result], target: float | None, width: int | None) -> list[Column]:
    """The columns shown within `width` cells (None: all), in their declared order."""
    columns = [
        c for c in COLUMNS if c.key != "acc" or any(r.eval_accuracy is not None for r in rows)
    ]

    def header(c: Column) -> str:
        return target_header(target) if c.key == "target" else c.header

    def wide(c: Column) -> int:
        cells = [len(c.cell(r, target)) for r in rows]
        extra = len(SWATCH) + GAP if c.key == "run" else 0
        return max([len(header(c)), *cells]) + extra

    while width is not None and len(columns) > 1:
        total = sum(wide(c) for c in columns) + GAP * (len(columns) - 1)
        if total <= width:
            break
        columns.remove(max(columns, key=lambda c: (c.priority, COLUMNS.index(c))))
    return columns


def _best(values: Sequence[float | int | None]) -> int | None:
    """Index of the smallest value (None when no row has one)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    return min(known)[1] if known else None


class RaceTable(Static):
    """The comparison table; the app calls `show` with the rows, target, lane colours and the
    width available."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Result] = []
        self.target: float | None = None
        self.columns: list[Column] = []
        self.left_out: list[str] = []

    def show(
        self,
        rows: Sequence[Result],
        target: float | None,
        colors: Sequence[Any],
        width: int | None = None,
    ) -> None:
        self.rows, self.target = list(rows), target
        self.columns = fitted_columns(rows, target, width)
        shown = {c.key for c in self.columns}
        self.left_out = [c.header for c in COLUMNS if c.key not in shown and (
            c.key != "acc" or any(r.eval_accuracy is not None for r in rows))]  # fmt: skip
        table = Table(
            box=None, pad_edge=False, expand=False, header_style="bold", collapse_padding=True,
            padding=(0, GAP, 0, 0),
        )  # fmt: skip
        for c in self.columns:
            header = target_header(target) if c.key == "target" else c.header
            table.add_column(header, justify="right" if c.right else "left", no_wrap=True)
        alive = [r if not r.diverged else None for r in rows]
        bold_at = {
            c.key: _best([c.best(r) if r else None for r in alive])
            for c in self.columns
            if c.best is not None
        }
        for i in rank_results(rows).order:
            row = rows[i]
            style = Style(color=colors[i % len(colors)] if colors else None)
            cells: list[Text] = []
            for c in self.columns:
                text = c.cell(row, target)
                bold = bold_at.get(c.key) == i and len(rows) > 1
                if c.key == "run":
                    swatch = lane_swatch(i, colors=not getattr(self.app, "no_color", False))
                    cells.append(Text.assemble((swatch, style), " ", (text, style)))
                elif c.key == "diverged" and row.diverged:
                    cells.append(Text(text, style="bold red"))
                else:
                    cells.append(Text(text, style="bold" if bold else ""))
            table.add_row(*cells)
        self.update(table)
