"""Lessons: the seed tutorials' claims, each a runnable experiment with a computed verdict.

A lesson is a claim as the tutorials state it (momentum speeds SGD through a ravine, AdaGrad
suits sparse features, ...), an experiment that tests it, what to watch while it runs, a
declared measurement with a threshold for "holds", and the conditions under which the verdict
comes out the other way. The verdict is computed from the finished run: the text shows the
numbers measured on that run, never numbers written in advance.

Using them (the app's Lessons screen and `optplay lesson NAME` are built on this)::

    from engine import lessons
    lessons.names()                     # ["momentum-ravine", ...] in teaching order
    lessons.topics()                    # ["momentum", "adaptive rates", ...]
    lessons.by_topic()                  # {"momentum": [Lesson, ...], ...}
    lesson = lessons.load("momentum-ravine")
    lesson.title, lesson.topic, lesson.claim, lesson.source, lesson.why
    lesson.watch.tab, lesson.watch.what # "path", "SGD zig-zags across the ravine ..."
    lesson.experiment                   # engine.config.Experiment (a race, or one run), steps set
    lesson.setup()                      # the experiment in one line (task, lanes, knobs)
    lesson.lanes                        # ("SGD", "Momentum"): the race's entry names
    lesson.measure                      # Measure: metric, subject, baseline, rule
    lesson.measure.metric.label         # "steps to loss 0.001"
    trained = lesson.start()            # a fresh Race (or Run); step or stream it as usual
    trained.step(lesson.steps)
    verdict = lesson.verdict(trained)   # also accepts a Run or a {lane: Run} mapping
    verdict.outcome                     # "holds" | "fails" | "undecided"
    verdict.values                      # {"SGD": 449, "Momentum": 98}
    verdict.summary                     # "Momentum reached loss 0.001 at step 98; SGD ...:
                                        #  the claim holds here."
    verdict.details, verdict.conditions # per-lane numbers, extra measurements; when it flips
    verdict.table()                     # (headers, rows): lanes × measurements, as text
    trained, verdict = lesson.run()     # both at once, blocking (the CLI and the tests)
    lesson.flips[0].when                # "on a round bowl (condition 2) at a large rate ..."
    lesson.flipped(0)                   # the lesson under that change (to try it)

Files: each lesson is two files in engine/lessons/library/, shipped as package data:

- `NAME.toml`: the experiment, an ordinary experiment file (engine.config): the app and
  `optplay run --config` load it as they load any other. Race entries must be named: the
  names are the lanes the measurement refers to. `steps` is required.
- `NAME.lesson.toml`: the lesson itself::

    title = "Momentum through a ravine"
    topic = "momentum"              # lessons are grouped by topic ...
    order = 10                      # ... and listed by order (topics by their first lesson)
    claim = "..."                   # the claim, as the tutorials state it (our words)
    source = "tutorial 001 ..."     # where the claim comes from
    why = "..."                     # the mechanism, without numbers (they are measured)
    expect = "holds"                # the verdict with the shipped seeds (checked by tests)

    [watch]
    tab = "path"                    # loss | lr | norms | path | state | sharpness (the app's
                                    #   "tab-" + this)
    what = "..."                    # what to read there
    series = "update"               # optional, the Norms tab's: grad | update | ratio (the
                                    #   app opens the tab drawing that series per lane)

    [measure]
    kind = "steps_to"               # steps_to | final | best | max | mean | rise |
                                    #   param_norm | state_bytes
    series = "loss"                 # loss | eval_loss | eval_accuracy | lr | grad_norm |
    target = 1e-3                   #   update_norm | update_grad_ratio | effective_lr (from
                                    #   the state summaries) | sharpness | sharpness_lr
                                    #   (λ_max × lr/2, measured every 10 steps); parameters:
                                    #   target, start, stop, floor, key (engine.lessons.measure)
    subject = "Momentum"            # the lane the claim is about
    compare = "ratio"               # "ratio" (subject / baseline) or "value" (subject's)
    baseline = "SGD"                # (ratio only)
    at_most = 0.5                   # exactly one of at_most, at_least, below, above

    [[also]]                        # optional: more numbers for the verdict (not judged)
    kind = "final"
    series = "loss"

    [tuned]                         # optional: the lr grid each listed lane's lr is the
    SGD = [0.003, 0.01, 0.03]       # best of (for this measurement; checked by tests)

    [[flips]]                       # conditions under which the verdict comes out the
    when = "with a round bowl ..."  # other way: knobs for every lane (`set`), for one lane
    set = { "task.condition" = 2.0, lr = 0.5 }   # (`lanes.NAME`), a step count (`steps`),
    expect = "fails"                # and the verdict it gives (checked by tests)

Errors in either file are a `LessonError` (a ValueError) naming the file and the key.

Verdict rule: `metric` is measured on every lane; the number judged is subject/baseline
("ratio") or the subject's value ("value"); the claim holds when that number passes the
threshold. A `steps_to` target never reached counts as infinitely many steps; when neither
lane has a value the verdict is "undecided". Metrics read the runs' histories: exact at full
resolution, which `Lesson.start()` uses.

The seed tutorials' formulas that lessons race against the correct ones (e.g. NAdam with the
double bias correction) are hidden optimizers in `engine.lessons.formulas`.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from engine.hyper import _show
from engine.lessons.lesson import (
    OUTCOMES,
    TABS,
    VERDICTS,
    Flip,
    Lesson,
    LessonError,
    Measure,
    Verdict,
    Watch,
    parse_lesson,
)
from engine.lessons.measure import Metric

__all__ = [
    "OUTCOMES",
    "TABS",
    "VERDICTS",
    "Flip",
    "Lesson",
    "LessonError",
    "Measure",
    "Metric",
    "Verdict",
    "Watch",
    "by_topic",
    "load",
    "load_file",
    "loads",
    "names",
    "topics",
    "verdict",
]

_LESSON_SUFFIX = ".lesson.toml"
_EXPERIMENT_SUFFIX = ".toml"


def _library() -> Any:
    return resources.files(__name__).joinpath("library")


def _stems() -> list[str]:
    return sorted(
        entry.name[: -len(_LESSON_SUFFIX)]
        for entry in _library().iterdir()
        if entry.name.endswith(_LESSON_SUFFIX) and not entry.name.startswith(".")
    )


def loads(name: str, experiment_text: str, lesson_text: str) -> Lesson:
    """A lesson from the texts of its two files (`name` labels it and its error messages)."""
    from engine import config

    try:
        experiment = config.loads(experiment_text, f"lessons/{name}{_EXPERIMENT_SUFFIX}")
    except config.ConfigError as err:
        raise LessonError(err.path, str(err).removeprefix(f"{err.path}: "), err.key) from None
    return parse_lesson(name, experiment, lesson_text, f"lessons/{name}{_LESSON_SUFFIX}")


def load_file(path: str | Any) -> Lesson:
    """A lesson a user wrote: `PATH.lesson.toml` next to its experiment `PATH.toml`.
    LessonError (naming the file and the key) for a missing or bad file."""
    from pathlib import Path

    from engine import config

    lesson_path = Path(path)
    if not lesson_path.name.endswith(_LESSON_SUFFIX):
        raise LessonError(str(lesson_path), f"a lesson file's name must end in {_LESSON_SUFFIX}")
    name = lesson_path.name[: -len(_LESSON_SUFFIX)]
    experiment_path = lesson_path.with_name(name + _EXPERIMENT_SUFFIX)
    texts = []
    for p in (lesson_path, experiment_path):
        try:
            texts.append(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            what = "cannot read its experiment file" if p is experiment_path else "cannot read"
            reason = getattr(err, "strerror", None) or str(err)
            raise LessonError(str(lesson_path), f"{what} {p}: {reason}") from None
    try:
        experiment = config.loads(texts[1], str(experiment_path))
    except config.ConfigError as err:
        raise LessonError(err.path, str(err).removeprefix(f"{err.path}: "), err.key) from None
    return parse_lesson(name, experiment, texts[0], str(lesson_path))


def load(name: str) -> Lesson:
    """The shipped lesson `name` (parsed once); LessonError listing the lessons when there is
    none."""
    if not isinstance(name, str) or name not in _stems():
        known = ", ".join(names())
        raise LessonError("", f"unknown lesson {_show(name)} (expected one of: {known})")
    return _load(name)


@functools.cache
def _load(name: str) -> Lesson:
    folder = _library()
    experiment_file = folder.joinpath(name + _EXPERIMENT_SUFFIX)
    if not experiment_file.is_file():
        raise LessonError(
            f"lessons/{name}{_LESSON_SUFFIX}", f"its experiment file {name}.toml is missing"
        )
    return loads(
        name,
        experiment_file.read_text(encoding="utf-8"),
        folder.joinpath(name + _LESSON_SUFFIX).read_text(encoding="utf-8"),
    )


def names() -> list[str]:
    """Every shipped lesson, topic by topic, each topic in its lessons' `order`."""
    lessons = [_load(stem) for stem in _stems()]
    first = {}
    for lesson in sorted(lessons, key=lambda x: x.order):
        first.setdefault(lesson.topic, lesson.order)
    lessons.sort(key=lambda x: (first[x.topic], x.order, x.name))
    return [lesson.name for lesson in lessons]


def topics() -> list[str]:
    """The topics, in the order of their first lesson."""
    return list(by_topic())


def by_topic() -> dict[str, list[Lesson]]:
    """{topic: [Lesson, ...]} in teaching order (what a Lessons screen lists)."""
    out: dict[str, list[Lesson]] = {}
    for name in names():
        lesson = load(name)
        out.setdefault(lesson.topic, []).append(lesson)
    return out


def verdict(lesson: Lesson | str, trained: Any) -> Verdict:
    """The verdict of `lesson` (a Lesson or a name) on a finished Run, Race or {lane: Run}."""
    if isinstance(lesson, str):
        lesson = load(lesson)
    return lesson.verdict(trained)
