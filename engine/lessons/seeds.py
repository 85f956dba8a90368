"""A lesson over many paired seeds: one job per seed, and the verdict read from all of them.

    from engine.lessons import seeds
    verdict = seeds.run_seeds(lesson, range(8))                 # serially, in this process
    verdict = seeds.run_seeds(lesson, range(100, 108), executor=ProcessExecutor(2))
    verdict.outcome, verdict.held, verdict.median, verdict.interval, verdict.lanes
    verdict.as_json()                                            # `optplay lesson --json`

Seed k trains every lane of the lesson with run seed k, and with data seed k for tasks that
generate their data (`data_seed`): the lanes of one seed share data, initialization and batch
order, so their ratio is a paired comparison. A seed's work is `measure_seed(lesson, seed)`,
a pure function of its arguments: the same numbers on any executor (serial, process pool,
Dask), in any order. The statistics are `engine.lessons.stats`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.lessons import stats
from engine.lessons.lesson import Lesson
from engine.lessons.measure import number

#: The seeds a lesson runs by default: 8, from seed 0.
DEFAULT_SEEDS = 8
#: How the JSON and the text name the outcomes.
WORDS = {"holds": "holds", "fails": "does not hold", "undecided": "undecided"}


@dataclass(frozen=True)
class SeedResult:
    """What one seed measured: `values[i][lane]` for the lesson's judged metric (i = 0) and
    its `also` metrics (i >= 1); `diverged[lane]` the step a lane diverged at (or None);
    `floor` the task's noise floor with this seed's data (None: the task has none)."""

    seed: int
    values: tuple[Mapping[str, float | None], ...]
    diverged: Mapping[str, int | None]
    steps_done: int
    floor: float | None = None


def measure_seed(lesson: Lesson, seed: int) -> SeedResult:
    """Train every lane of `lesson` with `seed` and measure it (a job: pure, picklable)."""
    seeded = lesson.with_seed(seed)
    trained, _ = seeded.run()
    runs = seeded.lane_runs(trained)
    metrics = (seeded.measure.metric, *seeded.also)
    values = tuple({lane: m.value(runs[lane]) for lane in seeded.lanes} for m in metrics)
    return SeedResult(
        seed,
        values,
        {lane: runs[lane].diverged_at for lane in seeded.lanes},
        max(run.steps_done for run in runs.values()),
        noise_floor(seeded),
    )


def seed_job(job: tuple[Lesson, int]) -> SeedResult:
    """`measure_seed` for the executors, which pass one job: (lesson, seed)."""
    lesson, seed = job
    return measure_seed(lesson, seed)


def noise_floor(lesson: Lesson) -> float | None:
    """The lowest loss the lesson's task can reach with its data (the sine RNN's noise
    variance, sparse-logistic's Bayes loss), when the task has one and the lesson measures a
    loss; None otherwise."""
    if lesson.measure.metric.series not in ("loss", "eval_loss"):
        return None
    from engine import tasks

    cfg = lesson.experiment.config
    task = tasks.create(cfg.task, **cfg.task_hypers)
    floor = getattr(task, "noise_floor", None)
    return float(floor()) if callable(floor) else None


@dataclass(frozen=True)
class SeedsVerdict:
    """A lesson's verdict over many seeds (see engine.lessons.stats for the rule).

    `scores[k]` is seed k's judged number (None: nothing to compare); `lanes[lane]` the
    lane's measured values per seed; `also[i]` the same for the lesson's i-th extra metric;
    `judgement` holds the outcome, counts, median, interval and tie band."""

    lesson: Lesson
    seeds: tuple[int, ...]
    results: tuple[SeedResult, ...]
    scores: tuple[float | None, ...]
    judgement: stats.Judgement
    floor: float | None = None
    conditions: tuple[str, ...] = field(default=())

    @property
    def outcome(self) -> str:
        return self.judgement.outcome

    @property
    def word(self) -> str:
        """ "holds", "does not hold" or "undecided"."""
        return WORDS[self.outcome]

    @property
    def held(self) -> int:
        return self.judgement.held

    @property
    def median(self) -> float | None:
        return self.judgement.median

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.judgement.interval

    @property
    def tie_band(self) -> tuple[float, float]:
        return self.judgement.tie_band

    @property
    def figure(self) -> str:
        """What the judged number is: "Momentum / SGD, steps to loss 0.001"."""
        m = self.lesson.measure
        who = f"{m.subject} / {m.baseline}" if m.compare == "ratio" else m.subject
        return f"{who}, {m.metric.label}"

    def lane_values(self, metric: int = 0) -> dict[str, list[float | None]]:
        """{lane: [value per seed]} of the judged metric (0) or the i-th `also` metric."""
        return {lane: [r.values[metric][lane] for r in self.results] for lane in self.lesson.lanes}

    @property
    def lanes(self) -> dict[str, list[float | None]]:
        return self.lane_values(0)

    def lane_median(self, lane: str, metric: int = 0) -> float | None:
        """The median of a lane's values over the seeds (a target never reached: infinite)."""
        m = (self.lesson.measure.metric, *self.lesson.also)[metric]
        values = [_counted(v, m.kind) for v in self.lane_values(metric)[lane]]
        known = [v for v in values if v is not None]
        return stats.median_interval(known, resamples=1)[0] if known else None

    def as_json(self) -> dict[str, Any]:
        """The object `optplay lesson --json` prints. Non-finite numbers (a target never
        reached, an infinite ratio) are null."""
        return {
            "lesson": self.lesson.name,
            "verdict": self.word,
            "seeds": len(self.seeds),
            "held": self.held,
            "figure": self.figure,
            "median": _finite(self.median),
            "interval": None if self.interval is None else [_finite(x) for x in self.interval],
            "tie_band": list(self.tie_band),
            "floor": self.floor,
            "lanes": {lane: [_finite(v) for v in values] for lane, values in self.lanes.items()},
        }

    def summary(self) -> str:
        """The verdict in one paragraph, with its numbers."""
        m = self.lesson.measure
        j = self.judgement
        n = len(self.seeds)
        first = f"seeds {self.seeds[0]}–{self.seeds[-1]}" if n > 1 else f"seed {self.seeds[0]}"
        held = f"The claim holds on {j.held} of {n} seeds ({first})"
        if j.median is None or j.interval is None:
            return f"{held}; no seed gave a number to judge: undecided."
        what = "ratio" if m.compare == "ratio" else "value"
        figure = (
            f"the {what} {self.figure} has median {_show(j.median)}, 90% interval "
            f"[{_show(j.interval[0])}, {_show(j.interval[1])}]"
        )
        rule = (
            f"it holds when the {what} is {m.condition} and the interval clears the tie band "
            f"[{number(j.tie_band[0])}, {number(j.tie_band[1])}]"
        )
        tail = {
            "holds": "the claim holds",
            "fails": "the claim does not hold",
            "undecided": f"undecided ({j.reason})",
        }[j.outcome]
        return f"{held}; {figure}; {rule}: {tail}."

    def dots(self) -> str:
        """One mark per seed: ● holds, ○ does not hold, · tie, ? no score."""
        marks = {"holds": "●", "fails": "○", "tie": "·", "none": "?"}
        return "".join(marks[o] for o in self.judgement.per_seed)


def judge_results(lesson: Lesson, results: Sequence[SeedResult]) -> SeedsVerdict:
    """The verdict of `lesson` from its seeds' results (in seed order)."""
    results = tuple(sorted(results, key=lambda r: r.seed))
    m = lesson.measure
    scores = tuple(m.judge(r.values[0])[1] for r in results)
    band = m.tie_band or stats.default_tie_band(m.compare, m.threshold)
    judgement = stats.judge(scores, m.op, m.threshold, band)
    floors = [r.floor for r in results if r.floor is not None]
    floor = stats.median_interval(floors, resamples=1)[0] if floors else None
    conditions = []
    for flip in lesson.flips:
        if flip.expect != judgement.outcome:
            verb = {"holds": "hold", "fails": "not hold", "undecided": "be undecided"}
            conditions.append(f"It would {verb[flip.expect]} {flip.when}.")
    return SeedsVerdict(
        lesson,
        tuple(r.seed for r in results),
        results,
        scores,
        judgement,
        floor,
        tuple(conditions),
    )


def seed_range(first: int = 0, count: int = DEFAULT_SEEDS) -> tuple[int, ...]:
    """`count` consecutive seeds from `first` (ValueError naming the flag when out of range)."""
    if count < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {count}")
    if not 0 <= first or first + count > 2**32:
        raise ValueError(f"--first-seed must be an integer in [0, 2^32 - {count}], got {first}")
    return tuple(range(first, first + count))


def run_seeds(
    lesson: Lesson,
    seeds: Iterable[int] = range(DEFAULT_SEEDS),
    executor: Any = None,
    progress: Callable[[SeedResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> SeedsVerdict:
    """Run `lesson` on every seed (as jobs on `executor`; default: serially here) and judge.

    `progress(result)` is called as each seed finishes (in completion order). When `cancel`
    is set the verdict is judged on the seeds that finished."""
    from engine.jobs import run_jobs

    seeds = tuple(seeds)
    jobs = [(lesson, seed) for seed in seeds]
    results: list[SeedResult] = []
    for _, result in run_jobs(jobs, executor, cancel=cancel, fn=seed_job):  # each seed once
        results.append(result)
        if progress is not None:
            progress(result)
    if not results:
        raise ValueError(f"lesson {lesson.name}: no seed finished")
    return judge_results(lesson, results)


def _counted(value: float | None, kind: str) -> float | None:
    if value is None:
        return math.inf if kind == "steps_to" else None
    return None if math.isnan(value) else value


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _show(x: float) -> str:
    return "infinite" if math.isinf(x) else number(x)
