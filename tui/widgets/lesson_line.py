"""The lesson line: two rows above the status line while a lesson is loaded.

    Lesson: Momentum through a ravine - v: the lesson, L: lessons
    Watch the Path tab: SGD zig-zags across the ravine ...

Once the lesson finished, the second row is the verdict with its numbers:

    Verdict: the claim HOLDS - Momentum reached loss 0.001 at step 98; SGD ...

Each row is cut to the width with an ellipsis (the full texts are on `v`). Hidden (no room
taken) when no lesson is loaded. The rows come from the session's view (`lesson`, `verdict`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from engine.session import SessionView


def lesson_rows(view: SessionView) -> Text | None:
    """The two rows for `view`, or None when no lesson is loaded."""
    lesson, verdict = view.lesson, view.verdict
    if lesson is None:
        return None
    # The lesson screens (and the lessons) load with the first lesson, not at launch.
    from tui.screens.lessons import TAB_LABELS
    from tui.screens.verdict import OUTCOME_WORDS

    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Lesson: ", style="bold")
    text.append(lesson.title)
    text.append("  (v: the lesson, L: lessons)\n", style="dim")
    if verdict is None:
        tab = TAB_LABELS.get(lesson.watch.tab, lesson.watch.tab)
        text.append(f"Watch the {tab} tab: ", style="bold")
        text.append(lesson.watch.what)
    else:
        text.append(f"Verdict: the claim {OUTCOME_WORDS[verdict.outcome]}", style="bold")
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
