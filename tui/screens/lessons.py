"""The Lessons screen: the tutorials' claims, each a runnable experiment (engine/lessons).

Left, the lessons by topic (topics are headings that the cursor skips); right, the highlighted
lesson's card: its claim, what to watch and on which tab, what is measured and when the claim
holds, the experiment in one line and where the claim comes from. Enter loads the lesson into
the session (a race opens as a race, not started: space runs it); escape cancels. Both panes
wrap and scroll (tab moves the focus to the card, whose text the arrows then scroll), so the
screen reads at 80x24.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.padding import Padding
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine import lessons
from engine.lessons import Lesson
from tui.charts.tabs import label_of
from tui.dialogs import Dialog
from tui.widgets.steady import SteadyOptionList, SteadyScroll, SteadyStatic


def lesson_kind(lesson: Lesson) -> str:
    """ "a race of 2 (SGD, Momentum) on ill-conditioned, 600 steps"."""
    task = lesson.experiment.config.task
    if lesson.is_race:
        lanes = ", ".join(lesson.lanes)
        what = f"a race of {len(lesson.lanes)} ({lanes})"
    else:
        what = f"one run of {lesson.lanes[0]}"
    return f"{what} on {task}, {lesson.steps:,} steps"


def watch_heading(lesson: Lesson) -> str:
    series = f" ({lesson.watch.series_label})" if lesson.watch.series else ""
    return f"Watch: the {label_of(lesson.watch.tab)} tab{series}"


def rule_text(lesson: Lesson) -> str:
    """What is measured and when the claim holds, in one sentence."""
    m = lesson.measure
    if m.compare == "ratio":
        judged = f"{m.subject} / {m.baseline}; the claim holds when the ratio is {m.condition}"
    else:
        judged = f"{m.subject}'s; the claim holds when it is {m.condition}"
    return f"{m.metric.label}: {judged}."


def lesson_card(lesson: Lesson) -> Text:
    """The highlighted lesson, as the right pane shows it."""
    text = Text()
    text.append(lesson.title + "\n", style="bold")
    text.append(f"{lesson.name}: {lesson_kind(lesson)}\n", style="dim")
    sections = (
        ("Claim", lesson.claim),
        (watch_heading(lesson), lesson.watch.what),
        ("Measured", rule_text(lesson)),
        ("Experiment", lesson.setup()),
        ("Source", lesson.source),
    )
    for heading, body in sections:
        text.append(f"\n{heading}\n", style="bold underline")
        text.append(body + "\n")
    text.append(
        f"\nEnter loads it; space then runs it. Headless: optplay lesson {lesson.name}",
        style="italic",
    )
    return text


class LessonList(SteadyOptionList):
    """The lessons by topic. The card follows the highlight in the same frame: `show` (the
    screen's `show_card`) is called from the highlight's watcher, so the list's two repainted
    options and the new card are drawn in one update, where the `OptionHighlighted` message,
    handled a moment later, drew them in two (each a pass over every widget under them)."""

    def __init__(self, *options: Option, show: Callable[[str | None], None], id: str) -> None:
        self._show: Callable[[str | None], None] | None = None  # not while constructed
        super().__init__(*options, id=id)
        self._show = show

    def _watch_highlighted(self, old: int | None, new: int | None) -> None:
        super()._watch_highlighted(old, new)
        if new is not None and self._show is not None and self.is_mounted:
            self._show(self.options[new].id)


class LessonsScreen(Dialog[str | None]):
    """Choose a lesson; returns its name (or None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current  # the lesson loaded now: highlighted first
        self.card_of: str | None = None  # the lesson whose card is shown

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for topic, group in lessons.by_topic().items():
            options.append(Option(Text(topic, style="bold"), disabled=True))
            for lesson in group:
                # Indented under its topic, wrapped lines too.
                options.append(Option(Padding(Text(lesson.title), (0, 0, 0, 2)), id=lesson.name))
        with Vertical(id="lessons-body") as body:
            body.border_title = "lessons: the tutorials' claims, tested"
            body.border_subtitle = "enter loads - tab: to the text - esc cancels"
            with Horizontal(id="lessons-panes"):
                yield LessonList(*options, show=self.show_card, id="lesson-list")
                with SteadyScroll(id="lesson-card-scroll"):
                    yield SteadyStatic("", id="lesson-card")

    def on_mount(self) -> None:
        listing = self.query_one("#lesson-list", OptionList)
        names = lessons.names()
        first = self.current if self.current in names else names[0]
        listing.highlighted = listing.get_option_index(first)
        listing.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.show_card(event.option.id)

    def show_card(self, name: str | None) -> None:
        """Lesson `name`'s card on the right, from its top (once per lesson)."""
        if name is None or name == self.card_of:
            return
        self.card_of = name
        self.query_one("#lesson-card", Static).update(lesson_card(lessons.load(name)))
        self.query_one("#lesson-card-scroll", SteadyScroll).scroll_home(animate=False)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
