"""The lesson line: two rows above the status line while a lesson is loaded.

    Lesson: Momentum through a ravine - v: the lesson, L: lessons
    Watch the Path tab: SGD zig-zags across the ravine ...

Once the lesson finished, the second row is the verdict with its numbers:

    Verdict: the claim HOLDS - Momentum reached loss 0.001 at step 98; SGD ...

A lesson the learner edited (same lanes, other knobs) is labelled "your variant", a flip
"flip 1", on both rows: "Verdict on your variant: the claim HOLDS - ...".

Each row is cut to the width with an ellipsis (the full texts are on `v`). Hidden (no room
taken) when no lesson is loaded. The rows come from the session's view (`lesson`, `verdict`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from engine.session import SessionView
from tui.charts.tabs import label_of

#: A verdict's outcome as the lesson line and the verdict screen say it ("the claim HOLDS").
OUTCOME_WORDS = {"holds": "HOLDS", "fails": "DOES NOT HOLD", "undecided": "IS UNDECIDED"}


def lesson_rows(view: SessionView) -> Text | None:
    """The two rows for `view`, or None when no lesson is loaded."""
    lesson, verdict = view.lesson, view.verdict
    if lesson is None:
        return None
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Lesson: ", style="bold")
    text.append(lesson.title)
    if lesson.label:
        text.append(f" - {lesson.label}", style="bold")
    text.append("  (v: the lesson, L: lessons)\n", style="dim")
    if verdict is None:
        series = f" ({lesson.watch.series_label})" if lesson.watch.series else ""
        text.append(f"Watch the {label_of(lesson.watch.tab)} tab{series}: ", style="bold")
        text.append(lesson.watch.what)
    else:
        on = f" on {lesson.label}" if lesson.label else ""
        text.append(f"Verdict{on}: the claim {OUTCOME_WORDS[verdict.outcome]}", style="bold")
        text.append(" - " + verdict.summary)
    return text


class LessonLine(Static):
    """Which lesson is loaded and what to watch, or its verdict."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self._shown: tuple[Any, ...] | None = None

    def show(self, view: SessionView) -> None:
        key = (view.lesson, view.verdict)
        if key == self._shown:
            return  # progress arrives many times a second: redraw only on a change
        self._shown = key
        rows = lesson_rows(view)
        self.set_class(rows is not None, "-shown")
        self.update(rows or "")
