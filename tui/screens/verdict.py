"""The lesson's verdict: the numbers measured on this run and whether the claim holds.

Opens by itself when the lesson's experiment finishes (the session computes the verdict,
engine/session.py), and on `v` while the lesson is loaded: before the end it shows the claim,
what to watch and how far the run is. The verdict is the one `optplay lesson NAME` prints:
the outcome in capitals (readable without colour), the sentence with the measured numbers,
the table of every measurement per lane, the conditions under which it would flip, then the
claim, what to watch and why. Escape, `v` or `q` close; the text scrolls at 80x24.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.lessons import Lesson, Verdict
from tui.dialogs import Dialog
from tui.screens.lessons import watch_heading
from tui.widgets.lesson_line import OUTCOME_WORDS  # the words the lesson line uses too


def verdict_headline(verdict: Verdict) -> str:
    return f"Verdict: the claim {OUTCOME_WORDS[verdict.outcome]} on this run"


def measurements_table(verdict: Verdict, diverged: Mapping[str, int | None]) -> Table:
    """Lanes x measurements (the judged one first), as `optplay lesson` prints them."""
    headers, rows = verdict.table()
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        at = diverged.get(row[0])
        name = row[0] if at is None else f"{row[0]} (diverged at step {at:,})"
        table.add_row(name, *row[1:])
    return table


def verdict_body(
    lesson: Lesson,
    verdict: Verdict | None,
    diverged: Mapping[str, int | None],
    step: int,
) -> list[RenderableType]:
    """What the screen shows, top to bottom."""
    parts: list[RenderableType] = []
    if verdict is None:
        parts.append(Text("Verdict: not yet", style="bold"))
        parts.append(
            Text(
                f"The verdict is computed when the experiment finishes: step {step:,} of "
                f"{lesson.steps:,} now. Space runs it."
            )
        )
    else:
        parts.append(Text(verdict_headline(verdict), style="bold reverse"))
        parts.append(Text(verdict.summary))
        parts.append(Text(""))
        parts.append(measurements_table(verdict, diverged))
        for condition in verdict.conditions:
            parts.append(Text(""))
            parts.append(Text(condition, style="italic"))
    for heading, body in (
        ("Claim", lesson.claim),
        (watch_heading(lesson), lesson.watch.what),
        ("Why", lesson.why),
    ):
        parts.append(Text(f"\n{heading}", style="bold underline"))
        parts.append(Text(body))
    parts.append(Text(f"\nHeadless: optplay lesson {lesson.name}", style="dim"))
    return parts


class VerdictScreen(Dialog[None]):
    """A lesson's verdict (or, before it finished, its claim and progress)."""

    takes_space = False  # read-only: space still runs and pauses

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v,q", "close", "Close verdict"),
    ]

    def __init__(
        self,
        lesson: Lesson,
        verdict: Verdict | None,
        diverged: Mapping[str, int | None] | None = None,
        step: int = 0,
    ) -> None:
        super().__init__()
        self.lesson = lesson
        self.verdict = verdict
        self.diverged = dict(diverged or {})
        self.step = step

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="verdict-body") as body:
            body.border_title = f"lesson: {self.lesson.title}"
            body.border_subtitle = "esc closes"
            parts = verdict_body(self.lesson, self.verdict, self.diverged, self.step)
            yield Static(Group(*parts), id="verdict-text")

    def action_close(self) -> None:
        self.dismiss(None)
