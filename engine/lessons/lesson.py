"""A lesson: an experiment, the claim it tests, what to watch, and the rule for its verdict.

See the package docstring (engine/lessons/__init__.py) for the file format and the API; this
module holds the data classes, the validation of lesson files and the verdict computation.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from engine import specfile
from engine.config import Experiment, RaceEntry
from engine.lessons.measure import (
    EVAL_SERIES,
    KINDS,
    SERIES,
    SHARPNESS_SERIES,
    STATE_SERIES,
    Metric,
    number,
)
from engine.run import Run, RunConfig, RunConfigError
from engine.specfile import ConfigError, SpecFile, at, kind_of

#: How often a lesson that reads the optimizer's state records it: every 10th step costs a
#: tenth of recording every step, and the measured windows start and end on multiples of 10.
STATE_EVERY = 10
#: How often a lesson that reads the sharpness measures it (the app's Sharpness chart too).
SHARPNESS_EVERY = 10

#: What a lesson can expect of its verdict (`expect`, a flip's `expect`): "undecided" where
#: the honest answer is "it depends" (the text says on what).
OUTCOMES = ("holds", "fails", "undecided")
#: What a verdict can be: a claim holds, fails, or the run cannot decide (e.g. no lane
#: reached the target).
VERDICTS = ("holds", "fails", "undecided")
#: The app's chart tabs a lesson may point at (`[watch] tab`; the tab ids are "tab-" + this).
TABS = ("loss", "lr", "norms", "path", "state", "sharpness")
#: How the subject's value is turned into the number compared with the threshold.
COMPARES = ("ratio", "value")
#: Threshold keys of `[measure]`: exactly one is given.
THRESHOLDS = {"at_most": "at most", "at_least": "at least", "below": "below", "above": "above"}

TOP_KEYS = (
    "title",
    "topic",
    "order",
    "claim",
    "source",
    "why",
    "expect",
    "watch",
    "measure",
    "also",
    "tuned",
    "flips",
)
WATCH_KEYS = ("tab", "what", "series")
#: The series a tab can show one at a time (`[watch] series`): the Norms tab's three.
WATCH_SERIES = {"norms": ("grad", "update", "ratio")}
#: How texts name them.
SERIES_LABELS = {"grad": "gradient norm", "update": "update norm", "ratio": "update/grad ratio"}
MEASURE_KEYS = ("kind", "series", "target", "start", "stop", "floor", "key")
COMPARE_KEYS = ("subject", "baseline", "compare", "tie", *THRESHOLDS)
FLIP_KEYS = ("when", "set", "lanes", "steps", "expect")


class LessonError(ValueError):
    """A bad lesson file (or an unknown lesson). The message names the file and the key."""

    def __init__(self, source: str, message: str, key: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
        self.key = key


# -- the declarations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """Where to look while the lesson runs: a chart tab and what to read there."""

    tab: str
    what: str
    series: str | None = None  # one of WATCH_SERIES[tab] (None: the tab's default view)

    @property
    def view(self) -> str:
        """ "norms:update": the tab and the series in it ("loss": the tab alone)."""
        return self.tab if self.series is None else f"{self.tab}:{self.series}"

    @property
    def series_label(self) -> str | None:
        """How texts name the series ("update norm"), or None."""
        return None if self.series is None else SERIES_LABELS[self.series]


@dataclass(frozen=True)
class Measure:
    """The declared measurement and the rule for "holds".

    `metric` is measured on every lane. With `compare` "ratio" the number judged is the
    subject's value divided by the baseline's; with "value", the subject's value itself. The
    claim holds when that number is `op` (at_most, at_least, below, above) `threshold`.
    For `steps_to`, a lane that never reached the target counts as infinitely many steps."""

    metric: Metric
    subject: str
    baseline: str | None
    compare: str
    op: str
    threshold: float
    #: [lo, hi]: judged numbers inside it are a tie ("no difference"); None: the default,
    #: ±5% around 1 for a ratio, around the threshold for a value (engine.lessons.stats).
    tie_band: tuple[float, float] | None = None

    @property
    def condition(self) -> str:
        """The rule in words: "at most 0.5"."""
        return f"{THRESHOLDS[self.op]} {number(self.threshold)}"

    def _passes(self, score: float) -> bool:
        t = self.threshold
        return {
            "at_most": score <= t,
            "at_least": score >= t,
            "below": score < t,
            "above": score > t,
        }[self.op]

    def judge(self, values: Mapping[str, float | None]) -> tuple[str, float | None]:
        """(outcome, score) for the lanes' measured values."""

        def counted(v: float | None) -> float | None:
            if v is None and self.metric.kind == "steps_to":
                return math.inf  # never reached: slower than any finite count
            if v is not None and math.isnan(v):
                return None
            return v

        s = counted(values.get(self.subject))
        if self.compare == "value":
            if s is None:
                return "undecided", None
            return ("holds" if self._passes(s) else "fails"), s
        b = counted(values.get(self.baseline or ""))
        if s is None or b is None or (math.isinf(s) and math.isinf(b)):
            return "undecided", None
        if b == 0:
            score = 1.0 if s == 0 else math.copysign(math.inf, s)
        elif math.isinf(b):
            score = 0.0
        else:
            score = s / b
        return ("holds" if self._passes(score) else "fails"), score


@dataclass(frozen=True)
class Flip:
    """A change under which the verdict comes out the other way (checked by the tests).

    `when` says it in words ("with a round bowl (condition 2) at lr 0.5"); `knobs` are set on
    every lane and `lane_knobs[lane]` on one (names as in `RunConfig.with_knobs`: "lr",
    "task.condition"); `steps` replaces the step count; `expect` is the verdict it gives."""

    when: str
    knobs: Mapping[str, Any] = field(default_factory=dict)
    lane_knobs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    steps: int | None = None
    expect: str = "fails"


@dataclass(frozen=True)
class Verdict:
    """A lesson's verdict on one finished run or race, with the numbers measured on it.

    `outcome` is "holds", "fails" or "undecided"; `values[lane]` the measured value per lane
    (None: not reached / nothing to measure); `score` the number compared with the threshold.
    `summary` is the one-paragraph verdict ("Momentum reached loss 0.001 at step 98; SGD ...:
    the claim holds here."); `details` one line per lane and per extra measurement;
    `conditions` when the verdict would come out the other way. `text` joins them.
    `theory` says what the exact theory predicted, where it predicts every lane (a steps-to
    measure of the training loss on a quadratic task, engine/theory.py).
    `measured` holds every measurement (the judged one first, then the lesson's `also`) with
    its value per lane; `table()` lays them out as cells."""

    lesson: str
    outcome: str
    values: Mapping[str, float | None]
    score: float | None
    summary: str
    details: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    measured: tuple[tuple[Metric, Mapping[str, float | None]], ...] = ()
    theory: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        return self.outcome == "holds"

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(headers, rows): one row per lane, one column per measurement, cells as text."""
        headers = ["lane", *(metric.label for metric, _ in self.measured)]
        lanes = list(self.values)
        rows = [[lane, *(m.text(v[lane]) for m, v in self.measured)] for lane in lanes]
        return headers, rows

    @property
    def text(self) -> str:
        return "\n".join([self.summary, *self.theory, *self.details, *self.conditions])


@dataclass(frozen=True)
class Lesson:
    """One lesson: its text, its experiment and its measurement (see the package docstring).

    `experiment` is an `engine.config.Experiment` with `steps` set; a race's lanes are its
    [[race]] entries (each named), a single run's one lane is named after its optimizer.
    `tuned[lane]` lists the learning rates that lane's rate was chosen from (the best of them
    for this measurement, which the tests check)."""

    name: str
    title: str
    topic: str
    order: int
    claim: str
    source: str
    why: str
    watch: Watch
    experiment: Experiment
    measure: Measure
    expect: str
    also: tuple[Metric, ...] = ()
    flips: tuple[Flip, ...] = ()
    tuned: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    #: What this is when not the lesson as shipped: "flip 1" (`flipped`), "your variant"
    #: (`variant`: the knobs a learner edited). None for the lesson as shipped.
    label: str | None = None

    # -- the experiment ------------------------------------------------------------------------

    @property
    def steps(self) -> int:
        assert self.experiment.steps is not None  # checked on load
        return self.experiment.steps

    @property
    def is_race(self) -> bool:
        return bool(self.experiment.race)

    @property
    def entries(self) -> tuple[RaceEntry, ...]:
        """One (config, lane name) per lane, in order."""
        if self.experiment.race:
            return self.experiment.race
        cfg = self.experiment.config
        return (RaceEntry(cfg, cfg.optimizer),)

    @property
    def lanes(self) -> tuple[str, ...]:
        """The lanes' names, in order (what `Verdict.values` is keyed by)."""
        return tuple(e.name or e.config.optimizer for e in self.entries)

    def about(self) -> frozenset[str]:
        """The optimizer and task knobs this lesson is about, shown in its setup even at their
        defaults: the rate, the knobs whose value differs between lanes (momentum 0.9 against
        SGD's 0) and the knobs a flip changes."""
        names = {"lr"}
        seen: dict[str, set[Any]] = {}
        for entry in self.entries:
            for key, value in entry.config.optimizer_hypers.items():
                seen.setdefault(key, set()).add(repr(value))
        names |= {key for key, values in seen.items() if len(values) > 1}
        for flip in self.flips:
            keys = [*flip.knobs, *(k for knobs in flip.lane_knobs.values() for k in knobs)]
            names |= {key.split(".")[-1] for key in keys}
        return frozenset(names)

    def setup(self) -> str:
        """The experiment in one line: task, steps, seed and each lane's optimizer knobs (those
        set off their defaults, and every knob the lesson is about: `about`)."""
        from engine.kinds import registry

        about = self.about()
        cfg = self.experiment.config
        task = cfg.task + _changed(registry("task").specs(cfg.task), cfg.task_hypers, about)
        lanes = []
        for entry, lane in zip(self.entries, self.lanes, strict=True):
            c = entry.config
            opt = c.optimizer + _changed(
                registry("optimizer").specs(c.optimizer), c.optimizer_hypers, about
            )
            if c.schedule != "constant":
                opt += (
                    ", schedule "
                    + c.schedule
                    + _changed(registry("schedule").specs(c.schedule), c.schedule_hypers, about)
                )
            lanes.append(f"{lane}: {opt}")
        text = f"{task}, {self.steps:,} steps, seed {cfg.seed}. " + "; ".join(lanes)
        if self.tuned:
            grids = "; ".join(
                f"{lane}: {', '.join(number(x) for x in grid)}" for lane, grid in self.tuned.items()
            )
            text += f". Learning rates are each lane's best for this measurement among: {grids}"
        return text + "."

    def start(self, history_capacity: int | None = None) -> Any:
        """A fresh `Run` (single-run lesson) or `Race` of the experiment, not yet stepped.

        Full-resolution history by default, so every measurement is exact."""
        from engine.compare import Race

        if self.experiment.race:
            entries = [RaceEntry(self._recording(e.config), e.name) for e in self.experiment.race]
            return Race(entries, history_capacity=history_capacity)
        return Run(self._recording(self.experiment.config), history_capacity=history_capacity)

    def _recording(self, config: RunConfig) -> RunConfig:
        """`config` recording what the measurements read: the optimizer's state every
        STATE_EVERY steps, the sharpness every SHARPNESS_EVERY (else as the experiment says)."""
        state = STATE_EVERY if self.records_state else 0
        sharpness = SHARPNESS_EVERY if self.records_sharpness else 0
        return config.replace(
            state_every=state or config.state_every,
            sharpness_every=sharpness or config.sharpness_every,
        )

    @property
    def records_state(self) -> bool:
        """Whether the measurements read the optimizer's state summaries (the effective rate):
        then every lane records them every STATE_EVERY steps (`start`; the app does too)."""
        return any(m.series in STATE_SERIES for m in (self.measure.metric, *self.also))

    @property
    def records_sharpness(self) -> bool:
        """Whether the measurements read the sharpness: then every lane measures it every
        SHARPNESS_EVERY steps (`start`; the app does too)."""
        return any(m.series in SHARPNESS_SERIES for m in (self.measure.metric, *self.also))

    def run(self, history_capacity: int | None = None) -> tuple[Any, Verdict]:
        """Train the experiment for `steps` (blocking) and return it with its verdict."""
        trained = self.start(history_capacity)
        trained.step(self.steps)
        return trained, self.verdict(trained)

    # -- the verdict ---------------------------------------------------------------------------

    def lane_runs(self, trained: Any) -> dict[str, Run]:
        """{lane: Run} of a Run (this lesson's single lane), a Race, or a mapping of lane
        names to Runs (e.g. the app's own lanes); every lane of the lesson must be there."""
        if isinstance(trained, Run):
            runs = {self.lanes[0]: trained}
        elif isinstance(trained, Mapping):
            runs = dict(trained)
        elif hasattr(trained, "runs") and hasattr(trained, "names"):  # a Race
            runs = dict(zip(trained.names, trained.runs, strict=True))
        else:
            raise TypeError(f"expected a Run, a Race or a mapping of lanes, got {trained!r}")
        missing = [lane for lane in self.lanes if lane not in runs]
        if missing:
            raise ValueError(
                f"lesson {self.name}: no lane named {missing[0]!r} "
                f"(its lanes: {', '.join(self.lanes)}; given: {', '.join(runs)})"
            )
        return runs

    def verdict(self, trained: Any) -> Verdict:
        """The verdict on a finished (or partly trained) run or race, computed from what it
        measured: the numbers in the text are this run's."""
        runs = self.lane_runs(trained)
        m = self.measure
        metric = m.metric
        values = {lane: metric.value(runs[lane]) for lane in self.lanes}
        outcome, score = m.judge(values)

        subject = runs[m.subject]
        parts = [f"{m.subject} {metric.phrase(values[m.subject], subject)}"]
        if m.baseline is not None:
            base = runs[m.baseline]
            parts.append(f"{m.baseline} {metric.phrase(values[m.baseline], base)}")
        said = "; ".join(parts)
        if outcome == "undecided":
            rule = (
                f"so {m.subject} and {m.baseline} cannot be compared"
                if m.baseline is not None
                else f"so its {metric.label} cannot be judged"
            )
            summary = f"{_capital(said)}, {rule}: undecided on this run."
        else:
            verb = "holds" if outcome == "holds" else "does not hold"
            if m.compare == "ratio":
                ratio = f"the ratio {m.subject} / {m.baseline} is {_score(score)}"
                pair = f"{m.subject} / {m.baseline}"
                if score == 0.0 and values[m.baseline] is None:
                    ratio = f"{m.baseline} never got there, so the ratio {pair} counts as 0"
                elif score is not None and math.isinf(score) and values[m.subject] is None:
                    ratio = f"{m.subject} never got there, so the ratio {pair} counts as infinite"
                judged = f"{_capital(ratio)} (the claim holds when the ratio is {m.condition})"
                summary = f"{_capital(said)}. {judged}: the claim {verb} here."
            else:
                judged = f"(the claim holds when this is {m.condition})"
                summary = f"{_capital(said)} {judged}: the claim {verb} here."

        details = [f"{metric.label}:"]
        for lane in self.lanes:
            run = runs[lane]
            line = f"  {lane}: {metric.text(values[lane])}"
            if run.diverged_at is not None:
                line += f" (diverged at step {run.diverged_at:,})"
            details.append(line)
        measured = [(metric, values)]
        for extra in self.also:
            extra_values = {lane: extra.value(runs[lane]) for lane in self.lanes}
            measured.append((extra, extra_values))
            cells = ", ".join(f"{lane} {extra.text(v)}" for lane, v in extra_values.items())
            details.append(f"{extra.label}: {cells}")

        conditions = []
        for flip in self.flips:
            if flip.expect != outcome:
                verb = {"holds": "hold", "fails": "not hold", "undecided": "be undecided"}
                conditions.append(f"It would {verb[flip.expect]} {flip.when}.")
        return Verdict(
            self.name,
            outcome,
            values,
            score,
            summary,
            tuple(details),
            tuple(conditions),
            tuple(measured),
            _theory_lines(metric, runs, self.lanes, values),
        )

    # -- variants ------------------------------------------------------------------------------

    def flipped(self, index: int) -> Lesson:
        """This lesson under flip `index`: its knobs and steps applied, `expect` the flip's
        (and no flips of its own). What the tests run, and what an app can offer to try."""
        flip = self.flips[index]
        experiment = _with_knobs(self, flip.knobs, flip.lane_knobs, flip.steps)
        return dataclasses.replace(
            self, experiment=experiment, expect=flip.expect, flips=(), label=f"flip {index + 1}"
        )

    def variant(self, configs: Sequence[Any], steps: int) -> Lesson:
        """This lesson on other settings for its lanes (`configs`, one RunConfig per lane, in
        order) and `steps`: a learner's "what if", judged by the same measurement. Labelled
        "your variant"; its flips are dropped (they were stated for the settings shipped)."""
        if len(configs) != len(self.lanes):
            raise ValueError(f"lesson {self.name}: {len(self.lanes)} lanes, got {len(configs)}")
        entries = [RaceEntry(cfg, e.name) for cfg, e in zip(configs, self.entries, strict=True)]
        exp = self.experiment
        if exp.race:
            experiment = Experiment.of_race(entries, steps=steps, name=exp.name)
        else:
            experiment = Experiment(entries[0].config, steps=steps, name=exp.name)
        return dataclasses.replace(self, experiment=experiment, flips=(), label="your variant")

    def with_seed(self, seed: int) -> Lesson:
        """This lesson with another seed for every lane: initialization and batch order, and
        the data set too where the task generates one (`data_seed`). Does the verdict survive
        it?"""
        from engine.kinds import registry

        exp = self.experiment
        entries = []
        for e in self.entries:
            cfg = e.config.replace(seed=seed)
            if any(h.name == "data_seed" for h in registry("task").specs(cfg.task)):
                cfg = cfg.with_knobs({"task.data_seed": seed})
            entries.append(RaceEntry(cfg, e.name))
        if exp.race:
            experiment = Experiment.of_race(entries, steps=exp.steps, name=exp.name)
        else:
            experiment = Experiment(entries[0].config, steps=exp.steps, name=exp.name)
        return dataclasses.replace(self, experiment=experiment)

    def with_knobs(
        self,
        knobs: Mapping[str, Any],
        lane_knobs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Lesson:
        """This lesson with knobs set on every lane and on named lanes ("what if"); its flips
        are dropped (they were stated for the lesson as shipped). RunConfigError (or a
        ValueError for an unknown lane) names the problem."""
        lane_knobs = dict(lane_knobs or {})
        for lane in lane_knobs:
            if lane not in self.lanes:
                raise ValueError(
                    f"lesson {self.name}: no lane {lane!r} (its lanes: {', '.join(self.lanes)})"
                )
        experiment = _with_knobs(self, knobs, lane_knobs, None)
        return dataclasses.replace(self, experiment=experiment, flips=())

    def with_lane_lr(self, lane: str, lr: float) -> Lesson:
        """This lesson with one lane's learning rate changed (the tests' tuning check)."""
        if lane not in self.lanes:
            raise ValueError(f"lesson {self.name}: no lane {lane!r}")
        experiment = _with_knobs(self, {}, {lane: {"lr": lr}}, None)
        return dataclasses.replace(self, experiment=experiment, flips=())


def _theory_lines(
    metric: Metric, runs: Mapping[str, Run], lanes: Sequence[str], values: Mapping[str, Any]
) -> tuple[str, ...]:
    """ "Theory (exact: ...): SGD 449 steps, Momentum 98 (as measured)." when the exact theory
    predicts every lane's steps to the target training loss; nothing otherwise."""
    if metric.kind != "steps_to" or metric.series != "loss" or metric.target is None:
        return ()
    from engine.theory import for_config

    predicted = {}
    for lane in lanes:
        run = runs[lane]
        if run.task.quadratic_loss() is None:
            return ()
        steps = max(len(run.history), 1)
        found = for_config(run.config, steps)
        if found.prediction is None:
            return ()
        predicted[lane] = found.prediction.steps_to(metric.target)
    cells = ", ".join(
        f"{lane} {'never' if k is None else f'{k:,} steps'}" for lane, k in predicted.items()
    )
    same = all(predicted[lane] == values[lane] for lane in lanes)
    agree = "as measured" if same else "the measurement differs"
    return (f"Theory ({found.theory.where}) predicts {cells}: {agree}.",)


def _knob(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        shown = number(value)
        if float(shown.replace(",", "")) in (0.0, 1.0) and value not in (0.0, 1.0):
            return f"{value:.6g}"  # β₂ = 0.99999 is not 1: its distance from 1 is the point
        return shown
    return str(value)


def _changed(specs: Sequence[Any], values: Mapping[str, Any], always: Set[str]) -> str:
    """ " (lr 0.01, momentum 0.5)": the knobs that differ from their defaults, and those named
    in `always` at any value."""
    shown = [
        f"{h.name} {_knob(values[h.name])}"
        for h in specs
        if h.name in values and (h.name in always or values[h.name] != h.default)
    ]
    return f" ({', '.join(shown)})" if shown else ""


def _score(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "infinite"
    return number(x)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _with_knobs(
    lesson: Lesson,
    knobs: Mapping[str, Any],
    lane_knobs: Mapping[str, Mapping[str, Any]],
    steps: int | None,
) -> Experiment:
    """The lesson's experiment with knobs set on every lane / on named lanes."""
    exp = lesson.experiment
    entries = []
    for entry, lane in zip(lesson.entries, lesson.lanes, strict=True):
        changes = {**knobs, **lane_knobs.get(lane, {})}
        cfg = entry.config.with_knobs(changes) if changes else entry.config
        entries.append(RaceEntry(cfg, entry.name))
    steps = exp.steps if steps is None else steps
    if exp.race:
        return Experiment.of_race(entries, steps=steps, name=exp.name)
    return Experiment(entries[0].config, steps=steps, name=exp.name)


# -- reading lesson files ---------------------------------------------------------------------


_ENTRY = re.compile(r"\[\[(\w+)\]\] #(\d+)(?: (.+))?")
_TABLE = re.compile(r"\[(\w+)\]")


class _Reader:
    """Checks a lesson file's tables, keys and values (read by `engine.specfile`), raising
    LessonError with the file's name, the table, the key and its line."""

    def __init__(self, spec: SpecFile) -> None:
        self.spec = spec

    def fail(self, where: str, message: str, key: str | None = None) -> LessonError:
        prefix = f"{where} " if where else ""
        line = self.line(where, key)
        return LessonError(self.spec.source, f"{prefix}{message}{at(line)}", key)

    def line(self, where: str, key: str | None) -> int | None:
        """The line of `key` in the table `where` names ("", "[measure]", "[[flips]] #2",
        "[[flips]] #2 lanes.SGD"), or of that table when `key` is None or not found."""
        entry = _ENTRY.fullmatch(where)
        if entry is not None:
            table = entry[1] + (f".{entry[3]}" if entry[3] else "")
            index = int(entry[2]) - 1
            return self.spec.line(table, key, index) if key else self.spec.line(table, None, index)
        m = _TABLE.fullmatch(where)
        table = m[1] if m is not None else None
        if key is None:
            return self.spec.line(table) if table else None
        return self.spec.line(table, key) or (self.spec.line(table) if table else None)

    def table(self, data: Any, where: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"must be a table, got {kind_of(data)}")
        unknown = [k for k in data if k not in allowed]
        if unknown:
            raise self.fail(
                where,
                f"unknown key {unknown[0]!r} (expected one of: {', '.join(allowed)})",
                unknown[0],
            )
        return data

    def text(self, data: dict[str, Any], key: str, where: str, required: bool = True) -> str:
        if key not in data:
            if required:
                raise self.fail(where, f"missing key {key!r}", key)
            return ""
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key} must be a non-empty string, got {kind_of(value)}", key)
        return " ".join(value.split())  # TOML multi-line strings: one paragraph

    def choice(self, data: dict[str, Any], key: str, where: str, choices: Sequence[str]) -> str:
        value = data.get(key)
        if value not in choices:
            if key not in data:
                raise self.fail(where, f"missing key {key!r} (one of: {', '.join(choices)})", key)
            raise self.fail(
                where, f"{key} must be one of {', '.join(choices)}, got {kind_of(value)}", key
            )
        return value

    def integer(self, data: dict[str, Any], key: str, where: str, low: int) -> int | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(where, f"{key} must be an integer >= {low}, got {kind_of(value)}", key)
        return value

    def real(self, data: dict[str, Any], key: str, where: str) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(where, f"{key} must be a finite number, got {kind_of(value)}", key)
        return float(value)


def _metric(r: _Reader, data: Any, where: str, allowed: Sequence[str]) -> Metric:
    data = r.table(data, where, allowed)
    kind = r.choice(data, "kind", where, tuple(KINDS))
    params = KINDS[kind]
    extra = [k for k in MEASURE_KEYS if k in data and k != "kind" and k not in params]
    if extra:
        raise r.fail(
            where,
            f"{extra[0]} does not apply to kind {kind} (it takes: {', '.join(params)})",
            extra[0],
        )
    series = r.choice(data, "series", where, tuple(SERIES)) if "series" in data else "loss"
    target = r.real(data, "target", where)
    if kind == "steps_to" and target is None:
        raise r.fail(where, "missing key 'target' (kind steps_to needs it)", "target")
    start = r.integer(data, "start", where, 0)
    stop = r.integer(data, "stop", where, 1)
    if start is not None and stop is not None and start > stop:
        raise r.fail(where, f"start ({start}) must be at most stop ({stop})", "start")
    floor = r.real(data, "floor", where)
    if floor is not None and floor <= 0:
        raise r.fail(where, f"floor must be a number > 0, got {floor!r}", "floor")
    key = r.text(data, "key", where, required=False) or None
    return Metric(
        kind,
        series=series,
        target=target,
        start=start,
        stop=stop,
        floor=1e-12 if floor is None else floor,
        key=key,
    )


def _knob_table(r: _Reader, data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise r.fail(where, f"must be a table of knob = value, got {kind_of(data)}")
    return dict(data)


def parse_lesson(name: str, experiment: Experiment, text: str, source: str) -> Lesson:
    """Validate lesson `text` (TOML) against its experiment; LessonError names the problem."""
    try:
        spec = specfile.parse(text, source)
    except ConfigError as err:
        raise LessonError(source, str(err).removeprefix(f"{source}: ")) from None
    r = _Reader(spec)
    data = spec.data
    r.table(data, "", TOP_KEYS)
    if experiment.steps is None:
        raise r.fail("", "its experiment must set `steps` (how long the lesson trains)", "steps")

    title = r.text(data, "title", "")
    topic = r.text(data, "topic", "")
    order = r.integer(data, "order", "", 0)
    if order is None:
        raise r.fail("", "missing key 'order' (an integer: the lesson's place in the list)")
    claim = r.text(data, "claim", "")
    source_text = r.text(data, "source", "")
    why = r.text(data, "why", "")
    expect = r.choice(data, "expect", "", OUTCOMES)

    watch_data = r.table(data.get("watch", {}), "[watch]", WATCH_KEYS)
    tab = r.choice(watch_data, "tab", "[watch]", TABS)
    series = None
    if "series" in watch_data:
        if tab not in WATCH_SERIES:
            with_series = ", ".join(WATCH_SERIES)
            raise r.fail("[watch]", f"series: the {tab} tab has one view (series: {with_series})",
                         "series")  # fmt: skip
        series = r.choice(watch_data, "series", "[watch]", WATCH_SERIES[tab])
    watch = Watch(tab, r.text(watch_data, "what", "[watch]"), series)

    lanes = (
        tuple(e.name or e.config.optimizer for e in experiment.race)
        if experiment.race
        else (experiment.config.optimizer,)
    )
    if experiment.race and any(e.name is None for e in experiment.race):
        raise r.fail("", "every [[race]] entry of a lesson's experiment needs a name (its lane)")

    if "measure" not in data:
        raise r.fail("", "missing table [measure] (what is measured and when the claim holds)")
    measure_data = r.table(data["measure"], "[measure]", (*MEASURE_KEYS, *COMPARE_KEYS))
    metric = _metric(
        r,
        {k: v for k, v in measure_data.items() if k in MEASURE_KEYS},
        "[measure]",
        MEASURE_KEYS,
    )
    subject = r.choice(measure_data, "subject", "[measure]", lanes)
    compare = r.choice(measure_data, "compare", "[measure]", COMPARES)
    baseline = None
    if compare == "ratio":
        others = tuple(lane for lane in lanes if lane != subject)
        if not others:
            raise r.fail("[measure]", "compare = 'ratio' needs a second lane (a race)", "compare")
        baseline = r.choice(measure_data, "baseline", "[measure]", others)
    elif "baseline" in measure_data:
        raise r.fail("[measure]", "baseline applies only to compare = 'ratio'", "baseline")
    ops = [k for k in THRESHOLDS if k in measure_data]
    if len(ops) != 1:
        raise r.fail(
            "[measure]",
            f"needs exactly one threshold of {', '.join(THRESHOLDS)} (got {len(ops)})",
            ops[1] if ops else None,
        )
    threshold = r.real(measure_data, ops[0], "[measure]")
    assert threshold is not None
    tie_band = _tie_band(r, measure_data)
    measure = Measure(metric, subject, baseline, compare, ops[0], threshold, tie_band)

    also_data = data.get("also", [])
    if not isinstance(also_data, list):
        raise r.fail("", "also must be an array of tables ([[also]]), got a single value", "also")
    also = tuple(
        _metric(r, item, f"[[also]] #{i + 1}", MEASURE_KEYS) for i, item in enumerate(also_data)
    )

    for i, m in enumerate((metric, *also)):
        where = "[measure]" if i == 0 else f"[[also]] #{i}"
        cfg = experiment.config
        if m.series in EVAL_SERIES and not 0 < cfg.eval_every <= experiment.steps:
            raise r.fail(
                where,
                f"reads {m.series}, so the experiment must evaluate: eval_every in "
                f"[1, steps = {experiment.steps}], got {cfg.eval_every}",
                "series",
            )
        if m.series == "eval_accuracy" and not _is_classifier(cfg.task):
            raise r.fail(where, f"task {cfg.task} has no accuracy (not a classifier)", "series")
        if m.key is not None:
            from engine import tasks

            shapes = tasks.create(cfg.task, **cfg.task_hypers).param_shapes()
            if m.key not in shapes:
                raise r.fail(
                    where, f"key {m.key!r} is not a parameter of {cfg.task} ({', '.join(shapes)})"
                )

    tuned: dict[str, tuple[float, ...]] = {}
    tuned_data = r.table(data.get("tuned", {}), "[tuned]", lanes)
    for lane, grid in tuned_data.items():
        if (
            not isinstance(grid, list)
            or len(grid) < 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in grid)
            or not all(x > 0 for x in grid)
        ):
            raise r.fail("[tuned]", f"{lane} must be an array of 2 or more rates > 0", lane)
        entry = (experiment.race or (RaceEntry(experiment.config, lane),))[lanes.index(lane)]
        lr = entry.config.lr
        if lr is None or not any(math.isclose(lr, x, rel_tol=1e-12) for x in grid):
            raise r.fail("[tuned]", f"{lane}'s lr {number(lr)} is not in its grid", lane)
        tuned[lane] = tuple(float(x) for x in grid)

    lesson = Lesson(
        name=name,
        title=title,
        topic=topic,
        order=order,
        claim=claim,
        source=source_text,
        why=why,
        watch=watch,
        experiment=experiment,
        measure=measure,
        expect=expect,
        also=also,
        tuned=tuned,
    )

    flips_data = data.get("flips", [])
    if not isinstance(flips_data, list):
        raise r.fail("", "flips must be an array of tables ([[flips]])", "flips")
    flips = []
    for i, item in enumerate(flips_data):
        where = f"[[flips]] #{i + 1}"
        item = r.table(item, where, FLIP_KEYS)
        lane_knobs = {}
        for lane, knobs in r.table(item.get("lanes", {}), f"{where} lanes", lanes).items():
            lane_knobs[lane] = _knob_table(r, knobs, f"{where} lanes.{lane}")
        flip = Flip(
            when=r.text(item, "when", where),
            knobs=_knob_table(r, item.get("set", {}), f"{where} set"),
            lane_knobs=lane_knobs,
            steps=r.integer(item, "steps", where, 1),
            expect=r.choice(item, "expect", where, OUTCOMES),
        )
        if flip.expect == expect:
            raise r.fail(where, f"expect must differ from the lesson's ({expect}): it is a flip")
        try:
            _with_knobs(lesson, flip.knobs, flip.lane_knobs, flip.steps)
        except (RunConfigError, ValueError) as err:
            raise r.fail(where, str(err)) from None
        flips.append(flip)
    return dataclasses.replace(lesson, flips=tuple(flips))


def _tie_band(r: _Reader, data: dict[str, Any]) -> tuple[float, float] | None:
    """`tie = [lo, hi]` of [measure]: two finite numbers, lo <= hi."""
    if "tie" not in data:
        return None
    band = data["tie"]
    if (
        not isinstance(band, list)
        or len(band) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in band)
        or not all(math.isfinite(x) for x in band)
        or band[0] > band[1]
    ):
        raise r.fail(
            "[measure]",
            f"tie must be [lo, hi], two finite numbers lo <= hi, got "
            f"{repr(band)[:40] if isinstance(band, list) else kind_of(band)}",
            "tie",
        )
    return (float(band[0]), float(band[1]))


def _is_classifier(task: str) -> bool:
    from engine import tasks

    return bool(tasks.get(task).is_classifier)
