"""The lesson's verdict: the numbers measured on this run and whether the claim holds.

Opens by itself when the lesson's experiment finishes (the session computes the verdict,
engine/session.py), and on `v` while the lesson is loaded: before the end it shows the claim,
what to watch and how far the run is. The verdict is the one `optplay lesson NAME` prints:
the outcome in capitals (readable without colour), the sentence with the measured numbers,
the table of every measurement per lane, the conditions under which it would flip, then the
claim, what to watch and why. Escape, `v` or `q` close; the text scrolls at 80x24.

`s` judges the lesson over 8 paired seeds (0-7) in a background thread
(engine/lessons/seeds.py): the verdict it then shows, with its seed count, median, interval
and one dot per seed, is the one `optplay lesson NAME` prints. `+`/`-` double or halve the
number of seeds, `>`/`<` move to the next or previous block of seeds (`--seeds N
--first-seed S`). Closing the screen cancels a judgement under way.

`f` loads the lesson under its next flip condition (where the verdict should come out the
other way), then back to the lesson as shipped. A lesson whose knobs the learner edited is
"your variant" (engine/session.py): judged the same way and labelled so here.

Before the verdict, `h`, `d` or `u` record the learner's prediction (holds, does not hold,
not sure); the verdict then shows it next to the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from engine.lessons import Lesson, Verdict
from engine.lessons.lesson import Flip
from tui.dialogs import Dialog
from tui.screens.lessons import watch_heading
from tui.widgets.lesson_line import OUTCOME_WORDS  # the words the lesson line uses too
from tui.widgets.steady import SteadyScroll

#: The seeds `s` judges the lesson over (what `optplay lesson NAME` runs by default).
SEEDS = range(8)
#: How many seeds `+`/`-` allow.
MIN_SEEDS, MAX_SEEDS = 2, 64


def lesson_label(lesson: Lesson) -> str:
    """ " - your variant", " - flip 1", or "" for the lesson as shipped."""
    return f" - {lesson.label}" if lesson.label else ""


def verdict_headline(verdict: Verdict, lesson: Lesson | None = None) -> str:
    on = f" on {lesson.label}" if lesson is not None and lesson.label else ""
    return f"Verdict{on}: the claim {OUTCOME_WORDS[verdict.outcome]} on this run"


#: A learner's prediction before the run (the keys h, d, u), as the screen says it.
PREDICTIONS = {"holds": "it holds", "fails": "it does not hold", "unsure": "not sure"}
PREDICT_KEYS = "h: it holds, d: it does not, u: not sure"


def prediction_line(prediction: str, outcome: str) -> str:
    """ "You predicted: it holds - as the verdict says." next to the verdict."""
    said = f"You predicted: {PREDICTIONS[prediction]}"
    if prediction == "unsure" or outcome == "undecided":
        return f"{said}; the verdict: {OUTCOME_WORDS[outcome].lower()}."
    if prediction == outcome:
        return f"{said} - as the verdict says."
    return f"{said} - the verdict says otherwise."


def prediction_key(lesson: Lesson) -> tuple[str, str | None, str]:
    """What a prediction is about: this lesson, flip or variant (its setup)."""
    return (lesson.name, lesson.label, lesson.setup())


def seeds_text(seeds: range) -> str:
    """ "8 seeds (0–7)"."""
    return f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]})"


def flip_hint(lesson: Lesson, flips: Sequence[Flip]) -> str:
    """What `f` does next: try the next flip, or go back to the lesson as shipped."""
    index = flip_index(lesson)
    if index + 1 < len(flips):
        flip = flips[index + 1]
        verb = "hold" if flip.expect == "holds" else "not hold"
        return f"f tries flip {index + 2}, where it should {verb}: {flip.when}."
    if lesson.label:
        return "f goes back to the lesson as shipped."
    return ""


def flip_index(lesson: Lesson) -> int:
    """0-based index of the flip `lesson` is (from its label), -1 for any other lesson."""
    label = lesson.label or ""
    if label.startswith("flip "):
        return int(label.removeprefix("flip ")) - 1
    return -1


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


def seeds_body(verdict: Any) -> list[RenderableType]:
    """A lesson's verdict over seeds (engine.lessons.seeds.SeedsVerdict), as the CLI says it."""
    n = len(verdict.seeds)
    which = f" ({verdict.seeds[0]}–{verdict.seeds[-1]})" if verdict.seeds[0] != 0 else ""
    head = f"Over {n} seeds{which}: the claim {OUTCOME_WORDS[verdict.outcome]}"
    return [
        Text(head, style="bold reverse"),
        Text(verdict.summary()),
        Text(f"Per seed: {verdict.dots()}  (● holds, ○ does not, · tie)"),
    ]


def verdict_body(
    lesson: Lesson,
    verdict: Verdict | None,
    diverged: Mapping[str, int | None],
    step: int,
    seeds: range = SEEDS,
    flips: Sequence[Flip] = (),
    prediction: str | None = None,
) -> list[RenderableType]:
    """What the screen shows, top to bottom."""
    parts: list[RenderableType] = []
    if lesson.label == "your variant":
        parts.append(Text(f"Your variant: {lesson.setup()}", style="italic"))
        parts.append(Text(""))
    if verdict is None:
        parts.append(Text("Verdict: not yet", style="bold"))
        parts.append(
            Text(
                f"The verdict is computed when the experiment finishes: step {step:,} of "
                f"{lesson.steps:,} now. Space runs it."
            )
        )
        if prediction is None:
            parts.append(Text(f"Your prediction? {PREDICT_KEYS}.", style="bold"))
        else:
            said = PREDICTIONS[prediction]
            parts.append(Text(f"Your prediction: {said} ({PREDICT_KEYS} to change).", style="bold"))
    else:
        parts.append(Text(verdict_headline(verdict, lesson), style="bold reverse"))
        if prediction is not None:
            parts.append(Text(prediction_line(prediction, verdict.outcome), style="bold"))
        parts.append(Text(verdict.summary))
        parts.append(Text(""))
        parts.append(measurements_table(verdict, diverged))
        for condition in verdict.conditions:
            parts.append(Text(""))
            parts.append(Text(condition, style="italic"))
        parts.append(Text(""))
        parts.append(
            Text(
                f"One seed decides nothing: s judges the claim over {seeds_text(seeds)}; "
                "+/- more or fewer seeds, >/< other seeds.",
                style="dim",
            )
        )
    hint = flip_hint(lesson, flips)
    if hint:
        parts.append(Text(hint, style="dim"))
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
        Binding("s", "seeds", "Judge over the seeds"),
        Binding("plus,equals_sign", "seed_count(2)", "More seeds"),
        Binding("minus", "seed_count(0.5)", "Fewer seeds"),
        Binding("greater_than_sign", "seed_block(1)", "Next seeds"),
        Binding("less_than_sign", "seed_block(-1)", "Previous seeds"),
        Binding("f", "flip", "Try the next flip"),
        Binding("h", "predict('holds')", "Predict: holds"),
        Binding("d", "predict('fails')", "Predict: does not hold"),
        Binding("u", "predict('unsure')", "Predict: not sure"),
    ]

    def __init__(
        self,
        lesson: Lesson,
        verdict: Verdict | None,
        diverged: Mapping[str, int | None] | None = None,
        step: int = 0,
        flips: Sequence[Flip] = (),
    ) -> None:
        super().__init__()
        self.lesson = lesson
        self.verdict = verdict
        self.diverged = dict(diverged or {})
        self.step = step
        #: The flips of the lesson as shipped (`f` loads the next one).
        self.flips = tuple(flips) or lesson.flips
        #: The seeds `s` judges over (`+`, `-`, `>`, `<` change them).
        self.seeds = SEEDS
        #: The verdict over `seeds` once `s` ran them (engine.lessons.seeds.SeedsVerdict).
        self.seeds_verdict: Any = None
        self._cancel = threading.Event()
        self._judging = False

    def compose(self) -> ComposeResult:
        with SteadyScroll(id="verdict-body") as body:
            body.border_title = f"lesson: {self.lesson.title}{lesson_label(self.lesson)}"
            body.border_subtitle = "esc closes"
            yield Static("", id="verdict-seeds")
            yield Static(Group(*self._body()), id="verdict-text")

    @property
    def prediction(self) -> str | None:
        """The learner's prediction for this lesson (kept by the app while it runs)."""
        return getattr(self.app, "lesson_predictions", {}).get(prediction_key(self.lesson))

    def _body(self) -> list[RenderableType]:
        return verdict_body(
            self.lesson,
            self.verdict,
            self.diverged,
            self.step,
            self.seeds,
            self.flips,
            self.prediction,
        )

    def action_predict(self, outcome: str) -> None:
        """Record the learner's prediction; only before the verdict is known."""
        if self.verdict is not None:
            self.notify("predictions are made before the run ends", severity="warning")
            return
        self.app.lesson_predictions[prediction_key(self.lesson)] = outcome
        self.query_one("#verdict-text", Static).update(Group(*self._body()))

    def on_mount(self) -> None:
        self.query_one("#verdict-seeds", Static).display = False

    def action_seed_count(self, factor: float) -> None:
        """Double or halve the number of seeds (from the same first seed)."""
        count = min(MAX_SEEDS, max(MIN_SEEDS, round(len(self.seeds) * factor)))
        self._set_seeds(range(self.seeds[0], self.seeds[0] + count))

    def action_seed_block(self, direction: int) -> None:
        """The next (or previous) block of as many seeds."""
        first = max(0, self.seeds[0] + direction * len(self.seeds))
        self._set_seeds(range(first, first + len(self.seeds)))

    def _set_seeds(self, seeds: range) -> None:
        if seeds == self.seeds or self._judging:
            return
        self.seeds = seeds
        self.seeds_verdict = None
        box = self.query_one("#verdict-seeds", Static)
        box.display = True
        box.update(Text(f"s judges the claim over {seeds_text(seeds)}.", style="bold"))
        self.query_one("#verdict-text", Static).update(Group(*self._body()))

    def action_flip(self) -> None:
        """Load the lesson under its next flip (the app trains it like the lesson)."""
        index = flip_index(self.lesson) + 1
        if not self.flips or (index >= len(self.flips) and not self.lesson.label):
            self.notify("this lesson states no flip", severity="warning")
            return
        self._cancel.set()
        self.dismiss(None)
        self.app.call_later(self.app.try_flip, index)

    def action_seeds(self) -> None:
        """Judge the lesson over `seeds` in a thread (once; the result stays shown)."""
        if self._judging or self.seeds_verdict is not None:
            return
        self._judging = True
        box = self.query_one("#verdict-seeds", Static)
        box.display = True
        box.update(Text(f"Judging over {len(self.seeds)} seeds: 0 done…", style="bold"))
        self.run_worker(self._judge, thread=True, exclusive=True, group="seeds")

    def _judge(self) -> None:
        from engine.executors import SerialExecutor
        from engine.lessons import seeds

        done = 0

        def progress(_: Any) -> None:
            nonlocal done
            done += 1
            self.app.call_from_thread(self._show_progress, done)

        # On the session's Dask cluster when there is one (`optplay --dask`, the `dask`
        # setting); else in this worker thread, one seed after another: the app's own process
        # keeps one core for the screen. The numbers are the same on any executor.
        executor = getattr(self.app, "shared_jobs", None) or SerialExecutor()
        try:
            verdict = seeds.run_seeds(self.lesson, self.seeds, executor, progress, self._cancel)
        except ValueError:  # cancelled before a seed finished
            return
        if not self._cancel.is_set():
            self.app.call_from_thread(self._show_seeds, verdict)

    def _show_progress(self, done: int) -> None:
        if self.seeds_verdict is None:
            text = f"Judging over {len(self.seeds)} seeds: {done} done…"
            self.query_one("#verdict-seeds", Static).update(Text(text, style="bold"))

    def _show_seeds(self, verdict: Any) -> None:
        self.seeds_verdict = verdict
        self._judging = False
        parts = [*seeds_body(verdict), Text("")]
        self.query_one("#verdict-seeds", Static).update(Group(*parts))

    def on_unmount(self) -> None:
        self._cancel.set()

    def action_close(self) -> None:
        self._cancel.set()
        self.dismiss(None)
