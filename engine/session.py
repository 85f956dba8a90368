"""The playground session: everything the app edits, trains and shows, with no UI in it.

A session owns
- the experiment being edited: the single run's settings (`config`, always valid), the planned
  length (`planned_steps`) and the experiment's name;
- what is trained (`race`): always an `engine.compare.Race`. A single run is a race of one lane;
  during a race (2-6 lanes) the single run waits aside, unchanged, until `leave_race`;
- the pinned overlays (`pins`), kept only while they belong to the task that is trained;
- what a reset would apply (`pending`) and what was last loaded or saved (`saved`);
- the speed limit.

Verbs change it and return a `Change`: notices for the user, and whether the app must start a
training stream (`Session.stream`, consumed by the app's worker). `view()` returns frozen data
for the pickers, the form, the status line, the race panel and the charts. The app renders
that and holds no playground state of its own, so every rule below is tested without Textual
(tests/engine/test_session.py):

- Switching the task resets every task knob to the new task's defaults.
- Switching the optimizer carries over only `lr` and `weight_decay` (where both have them),
  and only values the user set (not the old optimizer's default or the task's suggested lr),
  clamped to the new optimizer's range; the change says what was carried. Switching the
  schedule starts it from its defaults, with a horizon (`total_steps`) at the planned length.
- A change only a fresh run can take (task, its knobs, optimizer, schedule, seed, dtype)
  applies at once while the single run is at step 0, and otherwise waits for `reset` (listed
  in `pending`). Optimizer and schedule knobs apply from the next step, keeping the state.
- Pins belong to one task and its knobs: when the trained task changes (a reset with another
  task, a race or an experiment of another task), pins of the old task are dropped, with a
  notice.
- Values reach the session complete and validated (the form commits a field on Enter or when
  focus leaves it); a value the engine rejects changes nothing and comes back as an error
  notice.
- A lesson (engine/lessons) loads like an experiment (a race opens as a race), trained at
  full history resolution so its verdict reads exact histories. It stays the `lesson` while
  what is trained is its experiment; edited (a race of the same lanes on the same task, or
  the single run's knobs, applied from step 0) it is the learner's variant ("your variant",
  `Lesson.variant`), judged the same way. Another experiment, lanes or task ends it.
  When it reaches its step count (or every lane diverged) the session computes its
  `verdict` from the trained runs: the verdict `optplay lesson NAME` prints. A reset clears
  the verdict; the next finish computes it again.

Threads: verbs run on the UI's thread; training runs in the Race's worker thread (see
engine/stepping.py). `stream()` is the only async part.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import optimizers
from engine.compare import (
    Lane,
    Overlay,
    Race,
    RaceProgress,
    Ranking,
    Result,
    Standing,
    default_target,
    pin,
    rank,
    rank_results,
    results,
    standing_of_run,
)
from engine.config import MAX_RACE, Experiment, RaceEntry
from engine.config import save as save_experiment
from engine.history import export_history
from engine.hyper import Hyper
from engine.kinds import KINDS, registry
from engine.numbers import format_number
from engine.run import Run, RunConfig, RunConfigError, suggested_lr
from engine.state_history import export_state
from engine.theory import PREDICTED_OPTIMIZERS, ConfigTheory, for_config

if TYPE_CHECKING:  # lessons load when one is opened (the app's first screen needs none)
    from engine.lessons import Lesson, Verdict

#: Speed limits offered by faster / slower (steps per second); None = as fast as possible.
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, None)
#: The pace a session starts at: the default 1000-step run takes 5 s to watch; `+` up to max.
DEFAULT_SPEED = 200.0


def speed_index(speed: float | None) -> int:
    """The offered speed closest to `speed` (None: max)."""
    if speed is None:
        return len(SPEEDS) - 1
    limits = [(abs(math.log(s / speed)), i) for i, s in enumerate(SPEEDS) if s is not None]
    return min(limits)[1]


DEFAULT_TASK = "rosenbrock"
DEFAULT_OPTIMIZER = "adam"  # at Rosenbrock's suggested lr 0.02 (engine.tasks.Task.suggested_lr)
DEFAULT_PLANNED_STEPS = 1000
DEFAULT_SAVE_PATH = "optplay-experiment.toml"
DEFAULT_EXPORT_STEM = "optplay-history"
#: Once the State tab has been shown, every run of the session records optimizer-state
#: summaries every this many steps (0 before: no cost). A record costs about 0.6-1.6 steps
#: (tests/perf/bench_run.py), so 16 adds about 4-10% once watched; see `watch_state`.
STATE_EVERY = 16
#: Runs with fewer parameters than this (every 2-D task, the small networks) record their
#: optimizer-state summaries from step 0, watched or not: the State tab opened after the run
#: (the natural order) shows its history. Bigger ones record once the tab is shown.
SMALL_STATE_PARAMS = 100_000
#: Once the sharpness is watched, every run of the session measures it every this many steps
#: (about 25% of a step's time on digits-mlp, SGD and Adam: tests/perf/bench_run.py --sharpness);
#: see `watch_sharpness`.
SHARPNESS_EVERY = 10

#: Knobs of the run itself (not of the task, optimizer or schedule): the form's "run" section.
RUN_SPECS: tuple[Hyper, ...] = (
    Hyper("steps", DEFAULT_PLANNED_STEPS, kind="int", low=1, high=10**9,
          help="planned run length: the run stops (finished) there"),
    Hyper("seed", 0, kind="int", low=0, high=2**63 - 1,
          help="seed of the initial parameters and the batch order"),
    Hyper("dtype", "float64", kind="choice", choices=("float64", "float32"),
          help="floating type of params, data and gradients"),
)  # fmt: skip

#: Knobs an optimizer switch keeps, where both optimizers have them and the user set them.
#: Not lr: a rate means something for one optimizer only (Adam's 1000 diverges SGD at
#: step 2), so the new optimizer starts at its own rate for the task (`lr_reset_notice`).
CARRIED_KNOBS = ("weight_decay",)

#: Optimizers offered, in order, for a new racer (the first not racing yet).
NEXT_OPTIMIZERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad", "nadam", "adamw")


def default_experiment() -> Experiment:
    """What the playground shows when started without an experiment."""
    return Experiment(RunConfig(task=DEFAULT_TASK, optimizer=DEFAULT_OPTIMIZER))


def planned_steps_for(config: RunConfig) -> int:
    """A default run length: the schedule's own horizon when it has one, else 1000."""
    total = config.schedule_hypers.get("total_steps")
    return int(total) if isinstance(total, int) and total > 0 else DEFAULT_PLANNED_STEPS


def next_optimizer(racing: Sequence[str]) -> str:
    """The first of NEXT_OPTIMIZERS not racing yet (else the first registered)."""
    for name in (*NEXT_OPTIMIZERS, *optimizers.names()):
        if name not in racing:
            return name
    return NEXT_OPTIMIZERS[0]


def parameter_count(run: Run) -> int:
    """How many numbers the optimizer of `run` updates."""
    return sum(math.prod(shape) for shape in run.task.param_shapes().values())


def clamp_to_spec(spec: Hyper, value: Any) -> Any:
    """`value` moved into `spec`'s range (an open bound is approached by one ulp)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    x = float(value)
    if spec.low is not None:
        low = float(spec.low)
        if x < low or (spec.low_open and x <= low):
            x = math.nextafter(low, math.inf) if spec.low_open else low
    if spec.high is not None:
        high = float(spec.high)
        if x > high or (spec.high_open and x >= high):
            x = math.nextafter(high, -math.inf) if spec.high_open else high
    return int(x) if spec.kind == "int" else x


def unasked_lr(task: str, optimizer: str) -> Any:
    """The rate `optimizer` runs `task` at unless the user types one: the task's suggestion
    for it, else the optimizer's default (None: it has no lr)."""
    suggested = suggested_lr(task, optimizer)
    if suggested is not None:
        return suggested
    return next((h.default for h in optimizers.specs(optimizer) if h.name == "lr"), None)


def lr_reset_notice(old: RunConfig, optimizer: str) -> str | None:
    """What to tell when switching `old`'s optimizer to `optimizer` drops the lr the user set
    (one that differs from what the old optimizer would use unasked): the new optimizer's own
    rate for the task. None: the lr was the old optimizer's own, or nothing changes."""
    typed = old.optimizer_hypers.get("lr")
    new = unasked_lr(old.task, optimizer)
    if typed is None or new is None or typed == unasked_lr(old.task, old.optimizer):
        return None
    if typed == new:
        return None
    return f"lr reset to {format_number(new)} for {optimizer} on {old.task}"


def carried_knobs(old: RunConfig, optimizer: str) -> dict[str, Any]:
    """The knobs switching `old`'s optimizer to `optimizer` keeps: CARRIED_KNOBS (where both
    optimizers have them) that the user set, i.e. that differ from what the old optimizer
    would use unasked (its default); clamped to the new optimizer's ranges. Knobs the user
    never set, and lr always, take the new optimizer's own values."""
    specs = {h.name: h for h in optimizers.specs(optimizer)}
    unasked = {h.name: h.default for h in optimizers.specs(old.optimizer)}
    carried = {}
    for knob in CARRIED_KNOBS:
        value = old.optimizer_hypers.get(knob)
        if value is None or knob not in specs or value == unasked.get(knob):
            continue
        carried[knob] = clamp_to_spec(specs[knob], value)
    return carried


# -- what verbs return and what the app renders ---------------------------------------------


@dataclass(frozen=True)
class Notice:
    """Something to tell the user. `topic` names what it is about ("pending", "pins",
    "diverged"...), so a view can tell when its reason is gone."""

    text: str
    severity: str = "information"  # "information", "warning" or "error"
    topic: str = ""
    title: str = ""  # a heading ("not saved"), or none


@dataclass(frozen=True)
class Change:
    """What a verb did, as far as the app must act on it."""

    notices: tuple[Notice, ...] = ()
    start: bool = False  # start a training stream now (the app's worker runs `stream()`)
    ok: bool = True  # False: the verb was refused (e.g. a save that failed)
    open_table: bool = False  # show the results table (a race just finished)
    open_verdict: bool = False  # show the lesson's verdict (its experiment just finished)

    def __add__(self, other: Change) -> Change:
        return Change(
            self.notices + other.notices,
            self.start or other.start,
            self.ok and other.ok,
            self.open_table or other.open_table,
            self.open_verdict or other.open_verdict,
        )


def _notice(
    text: str, severity: str = "information", topic: str = "", ok: bool = True, title: str = ""
) -> Change:
    return Change((Notice(text, severity, topic, title),), ok=ok)


@dataclass(frozen=True)
class SectionView:
    """One section of the form: the knobs of the task, optimizer or schedule, or the run's."""

    key: str  # "task", "optimizer", "schedule" or "run"
    title: str
    specs: tuple[Hyper, ...]
    values: Mapping[str, Any]
    owner: str = ""  # the task/optimizer/schedule name ("" for the run section)
    note: str = ""

    def check(self, values: dict[str, Any]) -> Any:
        """Cross-knob rules of the owner (raises ValueError naming the knob)."""
        if self.key == "run":
            return values
        return registry(self.key).validate(self.owner, values)


@dataclass(frozen=True)
class Status:
    """What the status line shows."""

    state: str = "ready"  # ready, running, paused, finished, diverged
    step: int = 0
    loss: float | None = None  # the last batch loss (a race: the leader's value on rank_by)
    eval_loss: float | None = None  # the newest evaluation after step 0
    lr: float | None = None  # the rate the next update will use (single run)
    steps_per_second: float | None = None  # measured while running
    speed: float | None = None  # the speed limit (None: max)
    diverged_at: int | None = None
    diverged_reason: str | None = None  # why (a loss past the divergence factor, a NaN...)
    racers: int = 0  # > 0: a race of this many lanes
    leader: str | None = None  # the racer ranked first (engine.compare.rank)
    rank_by: str | None = None  # a race: the series it is ranked on ("eval loss"/"batch loss")
    #: The single run's fit against the exact solution once it stopped (paused, finished):
    #: `task.fit_summary`, e.g. linear regression's w and b next to least squares.
    fit: str | None = None
    #: What `loss` is: "batch loss" on data, "loss" on a 2-D function (no batch: the exact
    #: value at the point, gradient noise or not).
    loss_label: str = "batch loss"


@dataclass(frozen=True)
class LaneView:
    """One curve on the charts (a racer, the live run or a pin) and its line in the panel."""

    name: str
    run: Run
    pinned: bool = False
    detail: str = ""  # optimizer · lr · schedule
    loss: float | None = None  # the last batch loss
    diverged_at: int | None = None
    eval_loss: float | None = None  # the newest evaluation after step 0

    @property
    def standing(self) -> Standing:
        """What this lane is ranked on (engine.compare.rank)."""
        ranked = not self.pinned and self.diverged_at is None
        return Standing(self.eval_loss, self.loss, ranked)


@dataclass(frozen=True)
class SessionView:
    """Everything the app shows, computed once per render."""

    racing: bool
    picks: Mapping[str, str]  # the task, optimizer and schedule of the single run's settings
    sections: tuple[SectionView, ...]  # the form: optimizer, schedule, task, run
    pending: tuple[str, ...]  # what changed that only a reset applies
    status: Status
    run: Run  # lane 0: what sets the path chart's task and the single-run charts
    planned_steps: int
    version: int  # bumps when settings change (charts rebuild their caches)
    lanes: tuple[LaneView, ...]  # racers, or the live run, then the pins shown with them
    overlaid: bool  # more than one lane is drawn (a race, or a run with pins)
    panel_title: str
    panel_settings: str
    available: frozenset[str]  # actions that apply now (e.g. "pin", "leave_race", "table")
    lesson: Lesson | None = None  # the lesson whose experiment is trained
    verdict: Verdict | None = None  # its verdict, once it finished
    #: The lane the Model tab shows (an index into `lanes`: the leader unless the user chose
    #: one with `next_model_lane`) and the racer ranked first (None: no race).
    model_lane: int = 0
    leader_lane: int | None = None
    ranking: Ranking | None = None  # a race: its lanes in rank order (engine.compare.rank)


# -- the session --------------------------------------------------------------------------------


class Session:
    """The playground: see the module docstring."""

    def __init__(
        self,
        experiment: Experiment | None = None,
        *,
        save_path: str | None = None,
        history_capacity: int | None = 4096,
        speed: float | None = DEFAULT_SPEED,
    ) -> None:
        experiment = experiment or default_experiment()
        self._capacity = history_capacity
        self.save_path = save_path or DEFAULT_SAVE_PATH
        self.name = experiment.name
        self.config = experiment.config  # the single run's settings (always valid)
        self.pins: list[Overlay] = []
        self.pending: list[str] = []
        self.speed_index = speed_index(speed)
        self.target: float | None = None  # a race's target loss (None: automatic)
        self.version = 0
        self.state_every = 0  # optimizer-state summaries: STATE_EVERY once watched
        self.sharpness_every = 0  # sharpness: SHARPNESS_EVERY once watched
        self._theory: tuple[tuple[RunConfig, int], ConfigTheory] | None = None  # (key, theory)
        self._restart: str | None = None  # restart the stream in this state (new length)
        self._lesson: Lesson | None = None  # the lesson loaded last (see `lesson`)
        self._lesson_race: Race | None = None  # what was built to train it
        self._variant: tuple[Any, Lesson] | None = None  # the learner's variant, cached
        self._verdict: Verdict | None = None
        self._model_lane: tuple[Race, int] | None = None  # (race, lane) chosen for the Model tab
        self._fit: tuple[int, int, int, str | None] | None = None  # (run, task, step, fit)
        #: Gets what the run store keeps of each run that finished (engine.store.RunRow
        #: list); the app writes them off the UI thread. None: nothing is recorded.
        self.recorder: Callable[[list[Any]], None] | None = None
        self._started: tuple[Race, float] | None = None  # what is trained, since when
        steps = experiment.steps or planned_steps_for(experiment.config)
        self._solo = self._new_race([RaceEntry(self.config)])
        self._solo_steps = steps
        self.race = self._solo
        self.planned_steps = steps
        if experiment.race:
            self.race = self._new_race(experiment.race)
        self.saved = self.experiment()

    @classmethod
    def default(cls) -> Session:
        return cls()

    # -- state, read-only -------------------------------------------------------------------

    @property
    def racing(self) -> bool:
        """True while a race (not the single run) is trained and shown."""
        return self.race is not self._solo

    @property
    def run(self) -> Run:
        """The single run (lane 0 of the one-lane race), trained or waiting aside."""
        return self._solo.runs[0]

    @property
    def speed(self) -> float | None:
        return SPEEDS[self.speed_index]

    @property
    def streaming(self) -> bool:
        return self.race.streaming

    def experiment(self) -> Experiment:
        """What `save` would write now."""
        if self.racing:
            experiment = self.race.experiment(steps=self.planned_steps, name=self.name)
            # Recording state summaries or sharpness is how the race is watched, not part of it.
            entries = [
                (e.config.replace(state_every=0, sharpness_every=0), e.name)
                for e in experiment.race
            ]
            return Experiment.of_race(entries, experiment.steps, experiment.name)
        return Experiment(self.config, steps=self.planned_steps, name=self.name)

    def unsaved_changes(self) -> list[str]:
        """What differs from the experiment last loaded or saved (empty: nothing to lose)."""
        now, saved = self.experiment(), self.saved
        if now == saved:
            return []
        changed = [
            name.replace("_hypers", " knobs")
            for name in RunConfig.__dataclass_fields__
            if getattr(now.config, name) != getattr(saved.config, name)
        ]
        changed += [
            name for name in ("steps", "name", "race") if getattr(now, name) != getattr(saved, name)
        ]
        return changed or ["settings"]

    @property
    def dirty(self) -> bool:
        return self.experiment() != self.saved

    # -- building what is trained -----------------------------------------------------------

    def _new_race(self, entries: Sequence[RaceEntry | RunConfig]) -> Race:
        race = Race(list(entries), history_capacity=self._capacity)
        race.set_speed(self.speed)
        self._record_state(race)
        return race

    def _record_state(self, race: Race) -> None:
        """Switch on optimizer-state summaries in `race`'s runs (small problems always, see
        SMALL_STATE_PARAMS; the others once they are watched) and sharpness once watched."""
        for run in race.runs:
            small = parameter_count(run) < SMALL_STATE_PARAMS
            if not run.config.state_every and (self.state_every or small):
                run.set_state_every(self.state_every or STATE_EVERY)
            if self.sharpness_every and not run.config.sharpness_every:
                run.set_sharpness_every(self.sharpness_every)

    def _stop(self) -> None:
        """End the stream of what is trained (after the step or chunk in progress)."""
        self._restart = None
        self.race.cancel()

    def _rebuild_solo(self) -> Change:
        """A fresh single run from `config` (the pending changes applied)."""
        trained = self.racing
        if not trained:
            self._stop()
        lesson_solo = self._lesson_race is not None and self._lesson_race is self._solo
        self._solo = self._new_race([RaceEntry(self.config)])
        if lesson_solo and self._keeps_lesson([self.config.optimizer], [self.config]):
            # A single-run lesson's knobs edited: its variant, trained from step 0.
            self._lesson_race, self._verdict = self._solo, None
            self._record_lesson_state()
        if not trained:
            self.race = self._solo
        self.pending = []
        self.version += 1
        return self._keep_pins_of(self.race)

    def _keep_pins_of(self, race: Race) -> Change:
        """Drop the pins that belong to another task (or task knobs) than `race`'s."""
        cfg = race.runs[0].config
        same = (cfg.task, cfg.task_hypers)
        kept = [p for p in self.pins if (p.run.config.task, p.run.config.task_hypers) == same]
        dropped = [p.name for p in self.pins if p not in kept]
        if not dropped:
            return Change()
        self.pins = kept
        self.version += 1
        names = ", ".join(repr(n) for n in dropped)
        return _notice(
            f"unpinned {names}: pins belong to the task they ran on ({cfg.task} now)",
            "warning",
            "pins",
        )

    def _needs_reset(self, what: str) -> Change:
        """A change only a fresh run can take: at step 0 it applies now, else on `reset`."""
        if self.run.steps_done == 0 and not self._solo.streaming:
            return self._rebuild_solo()
        if what in self.pending:
            return Change()
        self.pending.append(what)
        return _notice(f"{what} changed: r resets the run to apply it", topic="pending")

    # -- run control ------------------------------------------------------------------------

    def toggle(self) -> Change:
        """Start, continue or pause training."""
        race = self.race
        if race.state == "running":
            race.pause()
            return Change()
        refused = self._cannot_train()
        if refused is not None:
            return refused
        if race.steps_done >= self.planned_steps:
            if self.racing:
                return _notice(
                    f"the race is over ({self.planned_steps:,} steps): t shows the table, "
                    "r restarts"
                )
            return _notice(
                f"finished {self.planned_steps:,} steps: raise run · steps to go on, r resets"
            )
        if race.streaming:
            race.resume()
            return Change()
        return Change(start=True)

    def pause(self) -> Change:
        """Pause a running stream (nothing otherwise)."""
        if self.race.state == "running":
            self.race.pause()
        return Change()

    def hold_training(self) -> None:
        """The training thread stands aside until `release_training()` (or HOLD_SECONDS):
        the UI answers a key at full speed. Changes nothing trained (Stepper.hold)."""
        self.race.hold()

    def release_training(self) -> None:
        self.race.release()

    def step(self) -> Change:
        """One update now (pauses a running stream first)."""
        refused = self._cannot_train()
        if refused is not None:
            return refused
        race = self.race
        if race.state == "running":
            race.pause()
        race.step(1)
        return self._judge_lesson()

    def _cannot_train(self) -> Change | None:
        """Why training cannot go on (diverged), or None; applies a pending change at 0."""
        race = self.race
        if self.racing and race.all_diverged:
            return _notice("every racer diverged: r restarts the race", "warning", "diverged")
        if not self.racing:
            if self.pending and self.run.steps_done == 0:
                self._rebuild_solo()
                race = self.race
            at = self.run.diverged_at
            if at is not None:
                return _notice(f"diverged at step {at}: r resets", "warning", "diverged")
        return None

    def reset(self) -> Change:
        """Start over from step 0: the single run with the settings shown (pending changes
        applied), or every racer from the same start."""
        self._stop()
        self._verdict = None  # it judged the steps this reset discards
        if self.racing:
            self.race.reset()
            self.version += 1
            return Change()
        watched = self.run.config.replace(
            state_every=self.config.state_every, sharpness_every=self.config.sharpness_every
        )
        if self.pending or watched != self.config:
            return self._rebuild_solo()
        self.race.reset()
        self.version += 1
        return Change()

    def faster(self) -> Change:
        return self._set_speed(self.speed_index + 1)

    def slower(self) -> Change:
        return self._set_speed(self.speed_index - 1)

    def _set_speed(self, index: int) -> Change:
        self.speed_index = max(0, min(len(SPEEDS) - 1, index))
        self.race.set_speed(self.speed)
        if self.racing:
            self._solo.set_speed(self.speed)
        return Change()

    def watch_state(self) -> Change:
        """Record optimizer-state summaries (every STATE_EVERY steps) in every run trained
        from now on, and in every run made later: the State tab calls this when it is shown.
        Recording reads the state and writes nothing, so no number of any run changes; it
        costs time only once someone looked (see STATE_EVERY)."""
        if not self.state_every:
            self.state_every = STATE_EVERY
            for race in {id(r): r for r in (self._solo, self.race)}.values():
                self._record_state(race)
        return Change()

    def watch_sharpness(self) -> Change:
        """Measure the sharpness (every SHARPNESS_EVERY steps) in every run trained from now
        on and made later: the Sharpness chart calls this when it is shown. No number of any
        run changes; it costs time only once someone looked."""
        if not self.sharpness_every:
            self.sharpness_every = SHARPNESS_EVERY
            for race in {id(r): r for r in (self._solo, self.race)}.values():
                self._record_state(race)
        return Change()

    # -- theory -----------------------------------------------------------------------------

    def theory(self) -> ConfigTheory:
        """The theory of the single run's settings (engine.theory.ConfigTheory): the task's
        figures, the optimizer's lr against its limit, its optimum and, where the theory is
        exact, the predicted loss over the planned steps. Recomputed only when they change
        (the task's analysis only when the task or its knobs do)."""
        key = (self.config, self.planned_steps)
        old = self._theory
        if old is not None and old[0] == key:
            return old[1]
        reuse = None
        if old is not None:
            was = old[0][0]
            if (was.task, was.task_hypers) == (self.config.task, self.config.task_hypers):
                reuse = old[1].theory
        found = for_config(self.config, self.planned_steps, reuse)
        self._theory = (key, found)
        return found

    def _has_optimum(self) -> bool:
        """Whether `use_optimum` can apply (cheap: no analysis): sgd, momentum or nesterov on
        a task with exact or local theory."""
        hypers = self.config.optimizer_hypers
        if self.config.optimizer not in PREDICTED_OPTIMIZERS or (
            hypers.get("flavour", "torch") != "torch"
        ):
            return False
        task = self._solo.runs[0].task
        return bool(getattr(task, "is_landscape", False)) or task.quadratic_loss() is not None

    def use_optimum(self) -> Change:
        """Set the optimizer's lr (and momentum) to the task's optimal constant values, from
        the next step, and say what was set; a notice says why when the theory has none."""
        ct = self.theory()
        best = ct.optimum()
        if best is None:
            if not ct.theory.known:
                why = ct.theory.where
            elif ct.kind is None and ct.optimizer in PREDICTED_OPTIMIZERS:
                flavour = self.config.optimizer_hypers.get("flavour")
                why = f"the theory knows torch's form of {ct.optimizer}, not flavour {flavour}"
            elif ct.kind is None:
                why = (
                    "the theory knows the optimum of sgd, momentum and nesterov, "
                    f"not {ct.optimizer}"
                )
            else:
                why = "no optimum: a flat direction (κ = inf) or dampening 1"
            return _notice(why, "warning", "theory", ok=False)
        change = self.edit("optimizer", {**self.config.optimizer_hypers, **best})
        if not change.ok:
            return change
        names = {"gd": "GD's optimal rate 2/(λmin+λmax)", "heavy_ball": "Polyak's optimum",
                 "nesterov": "Nesterov's optimal tuning"}  # fmt: skip
        shown = " and ".join(f"{k} {format_number(v, 6)}" for k, v in best.items())
        rate = ct.figures[ct.kind]["rate_opt"]
        where = " (near the minimum)" if ct.theory.local else ""
        text = (
            f"set {shown}: {names[ct.kind]} for κ = {format_number(ct.theory.condition, 6)}"
            f"{where}, error × {format_number(rate, 6)} per step"
        )
        return change + _notice(text, topic="theory")

    async def stream(self) -> AsyncIterator[RaceProgress]:
        """Train what is trained until its planned length, divergence or `_stop`, yielding
        progress after each chunk. A change of the planned length restarts the stream in the
        same state (a stream's length is fixed when it starts)."""
        race = self.race
        if race.steps_done == 0 or self._started is None or self._started[0] is not race:
            self._started = (race, time.time())
        while True:
            self._restart = None
            async for progress in race.stream(self.planned_steps, self.speed):
                yield progress
            restart = self._restart
            if restart is None or race is not self.race:
                return
            if restart == "paused":
                race.pause()

    def _record(self, race: Race) -> None:
        """Hand the runs of `race`, which just finished, to the recorder (the run store)."""
        if self.recorder is None:
            return
        from engine.store import snapshot

        started = self._started[1] if self._started and self._started[0] is race else time.time()
        rows = [
            snapshot(
                lane.run,
                started=started,
                planned_steps=self.planned_steps,
                name=lane.name if self.racing else self.name,
                source="app",
            )
            for lane in race.lanes
        ]
        self.recorder(rows)

    def stream_ended(self, race: Race) -> Change:
        """What to tell when the stream of `race` ended (the app's worker calls this)."""
        if race is not self.race:
            return Change()  # replaced since (a reset with new settings, a race...)
        if race.steps_done >= self.planned_steps or race.all_diverged:
            self._record(race)
        judged = self._judge_lesson()
        if self.racing:
            over = race.steps_done >= self.planned_steps or race.all_diverged
            # A lesson's verdict replaces the table (its own table of the measurements).
            return Change(open_table=over and not judged.open_verdict) + judged
        at = self.run.diverged_at
        if at is not None:
            why = f" ({self.run.divergence})" if self.run.divergence else ""
            return (
                _notice(f"diverged at step {at}{why}: lower lr and press r", "warning", "diverged")
                + judged
            )
        return judged

    # -- edits ------------------------------------------------------------------------------

    def pick(self, kind: str, name: str) -> Change:
        """Choose the single run's task, optimizer or schedule (see the rules above)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (expected one of: {', '.join(KINDS)})")
        old = self.config
        if name == old.kind_name(kind):
            return Change()
        carried: dict[str, Any] = {}
        reset: str | None = None
        try:
            if kind == "optimizer":
                carried = carried_knobs(old, name)
            self.config = old.replace(**{kind: name, f"{kind}_hypers": carried})
            if kind == "optimizer":
                reset = lr_reset_notice(old, name)
        except ValueError as err:  # an unknown name (RunConfigError is a ValueError too)
            return _notice(str(err), "error", ok=False)
        change = Change()
        if carried:
            shown = ", ".join(f"{k} {format_number(v)}" for k, v in carried.items())
            change = _notice(f"kept {shown} from {old.optimizer}", topic="carried")
        if reset:
            change += _notice(reset, topic="lr-reset")
        if kind == "schedule" and "total_steps" in self.config.schedule_hypers:
            # A schedule with a horizon plans the run to it by default, and back.
            self.config = self.config.replace(
                schedule_hypers={**self.config.schedule_hypers, "total_steps": self.planned_steps}
            )
        return change + self._needs_reset(kind)

    def edit(self, section: str, values: Mapping[str, Any]) -> Change:
        """New values for one section of the form ("task", "optimizer", "schedule", "run"),
        complete and typed. Optimizer and schedule knobs apply from the next step; the others
        need a reset once the run has started."""
        values = dict(values)
        if section == "run":
            return self._edit_run(values)
        if section not in KINDS:
            raise ValueError(f"unknown section {section!r}")
        try:
            config = self.config.replace(**{f"{section}_hypers": values})
        except RunConfigError as err:
            return _notice(err.detail, "error", ok=False)
        if config == self.config:
            return Change()
        self.config = config
        if section == "task":
            return self._needs_reset("task knobs")
        live = self.run.config
        if config.optimizer != live.optimizer or config.schedule != live.schedule:
            return Change()  # a reset is pending anyway; it will use these values
        if self.lesson is not None and not self.racing:
            # A lesson's variant is judged on a run trained with its knobs from step 0.
            return self._needs_reset(f"{section} knobs")
        self.run.set_hypers(**{section: config.knobs(section)})
        self.version += 1
        return Change()

    def _edit_run(self, values: dict[str, Any]) -> Change:
        change = Change()
        steps = values.get("steps", self.planned_steps)
        if steps != self.planned_steps:
            self.planned_steps = int(steps)
            self.version += 1
            race = self.race
            if race.streaming and race.state in ("running", "paused"):
                # A stream's length is fixed when it starts: start a new one in the same
                # state (stream() sees _restart when this one ends).
                self._restart = race.state
                race.cancel()
        changes = {
            k: values[k]
            for k in ("seed", "dtype")
            if k in values and values[k] != getattr(self.config, k)
        }
        if changes:
            try:
                self.config = self.config.replace(**changes)
            except RunConfigError as err:
                return change + _notice(err.detail, "error", ok=False)
            change += self._needs_reset(" and ".join(changes))
        return change

    # -- pins -------------------------------------------------------------------------------

    def pin_name(self, base: str | None = None) -> str:
        """A name for pinning the single run now ("adam lr=0.02"), or `base`, made unique."""
        cfg = self.run.config
        if base is None:
            base = cfg.optimizer if cfg.lr is None else f"{cfg.optimizer} lr={cfg.lr:g}"
        taken = {p.name for p in self.pins}
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base} #{k}"
        return name

    def pin_problem(self, name: str) -> str | None:
        """Why `name` cannot name a new pin (None: it can)."""
        if not name.strip():
            return "type a name"
        if name.strip() in {p.name for p in self.pins}:
            return f"{name.strip()!r} is already pinned"
        return None

    def can_pin(self) -> Change | None:
        """Why the single run cannot be pinned now (a notice), or None."""
        if self.racing:
            return _notice("pins are for the single run: x leaves the race", "warning")
        if self.run.steps_done == 0:
            return _notice("nothing to pin yet: train the run first", "warning")
        if len(self.pins) >= MAX_RACE - 1:
            return _notice(
                f"at most {MAX_RACE - 1} pins: unpin one first (ctrl+p, Unpin)", "warning"
            )
        return None

    def pin(self, name: str) -> Change:
        """Keep the single run on the charts as an overlay named `name`; the live run starts
        over from step 0 with the settings shown."""
        refused = self.can_pin()
        if refused is not None:
            return refused
        problem = self.pin_problem(name)
        if problem is not None:
            return _notice(problem, "error", ok=False)
        self._stop()
        run = self.run
        if run.state == "running":
            run.pause()
        self.pins.append(pin(run, name.strip()))
        self._rebuild_solo()
        return _notice(f"pinned {name.strip()!r}; the live run starts over", topic="pins")

    def unpin(self, name: str | None = None) -> Change:
        """Remove the pin `name` (every pin when None)."""
        before = len(self.pins)
        self.pins = [p for p in self.pins if name is not None and p.name != name]
        if len(self.pins) != before:
            self.version += 1
        return Change()

    # -- runs from elsewhere (a sweep's points) ---------------------------------------------

    def open_run(
        self, config: RunConfig, steps: int, name: str | None = None, *, go: bool = False
    ) -> Change:
        """Show `config` as the single run, planned for `steps` steps (e.g. a sweep's point,
        to watch it again: the same config gives the same numbers); `go`: train at once."""
        return self.load(Experiment(config, steps=steps, name=name)) + Change(start=go)

    def can_pin_config(self, config: RunConfig) -> Change | None:
        """Why a run of `config` cannot be pinned next to the single run (a notice), or None.
        Pins belong to the single run's task and task knobs."""
        if self.racing:
            return _notice("pins are for the single run: x leaves the race", "warning")
        own = self.run.config
        if (config.task, config.task_hypers) != (own.task, own.task_hypers):
            what = "task" if config.task != own.task else "task knobs"
            return _notice(
                f"pins belong to the single run's task ({own.task}) and this run has other "
                f"{what}: open it instead",
                "warning",
                "pins",
            )
        if len(self.pins) >= MAX_RACE - 1:
            return _notice(
                f"at most {MAX_RACE - 1} pins: unpin one first (ctrl+p, Unpin)", "warning"
            )
        return None

    def trained_copy(self, config: RunConfig, steps: int) -> Run:
        """A fresh run of `config` trained `steps` steps (or to its divergence), to pin. Pure
        computation: the app calls it off the UI thread, then `pin_run`."""
        run = Run(config, history_capacity=self._capacity)
        run.step(steps)  # stops early at a divergence
        return run

    def trained_race(self, config: RunConfig, steps: int) -> Race:
        """A single run of `config` trained `steps` steps (or to its divergence), to open as
        the run (`open_trained`). Pure computation: the app calls it off the UI thread."""
        race = self._new_race([RaceEntry(config)])
        race.step(steps)  # stops early at a divergence
        return race

    def open_trained(self, race: Race, steps: int, name: str | None = None) -> Change:
        """Show `race` (a single run trained by `trained_race`, e.g. a stored run replayed)
        as the single run, planned for `steps` steps, at the step it reached."""
        unwatched = race.runs[0].config.replace(state_every=0, sharpness_every=0)
        change = self.load(Experiment(unwatched, steps=steps, name=name))
        self._solo = self.race = race
        race.set_speed(self.speed)
        self.version += 1
        return change

    def pin_run(self, run: Run, name: str) -> Change:
        """Keep `run` (trained elsewhere, e.g. a sweep's point) on the charts as an overlay
        named `name` (made unique); the single run goes on as it was."""
        refused = self.can_pin_config(run.config)
        if refused is not None:
            return refused
        name = self.pin_name(name.strip() or run.config.optimizer)
        self.pins.append(pin(run, name))
        self.version += 1
        return _notice(f"pinned {name!r} ({run.steps_done:,} steps)", topic="pins")

    # -- races ------------------------------------------------------------------------------

    def race_draft(self) -> tuple[list[RaceEntry], int, float | None]:
        """What the race setup starts from: the race's entries, steps and target, or the
        single run against the next optimizer."""
        if self.racing:
            return list(self.race.experiment().race), self.planned_steps, self.target
        # About 100 evaluations per race: steps to target is measured on the eval series.
        cfg = self.config.replace(
            eval_every=max(1, min(self.config.eval_every, self.planned_steps // 100))
        )
        rival = cfg.replace(optimizer=next_optimizer([cfg.optimizer]))
        return [RaceEntry(cfg), RaceEntry(rival)], self.planned_steps, None

    def start_race(
        self,
        entries: Sequence[RaceEntry | RunConfig],
        steps: int,
        target: float | None = None,
        *,
        go: bool = True,
    ) -> Change:
        """Race `entries` (2-6 racers on one task, seed and data order) in lockstep for
        `steps` steps; `go`: start training at once."""
        try:
            race = self._new_race(entries)
        except (ValueError, TypeError) as err:
            return _notice(str(err), "error", ok=False, title="race not started")
        if len(race.runs) < 2:
            return _notice("a race needs 2 to 6 racers", "error", ok=False)
        self._stop()
        keep = self._keeps_lesson(race.names, [run.config for run in race.runs])
        if not keep:
            self._drop_lesson()
        if not self.racing:
            self._solo_steps = self.planned_steps
            self.name = None  # a new experiment, not the single run's file
        self.race = race
        if keep:  # the lesson's lanes edited: the learner's variant, judged when it finishes
            self._lesson_race, self._verdict = race, None
            self._record_lesson_state()
        self.planned_steps = int(steps)
        self.target = target
        self.version += 1
        return self._keep_pins_of(race) + Change(start=go)

    def leave_race(self) -> Change:
        """Back to a single run: the leading lane's run as it is (its settings, history and
        step, to go on with it), and say so; with no leader yet (nothing trained, or every
        lane diverged), the single run from before the race, where it was."""
        if not self.racing:
            return Change()
        self._stop()
        race = self.race
        leader = self._leader_lane(self.lane_views())
        self._drop_lesson()
        change = Change()
        if leader is not None:
            lane = race.lanes[leader]
            # The lane's run itself, at the race's step: a one-lane race of it.
            self._solo = Race.continuing(
                lane.run, step=race.steps_done, history_capacity=self._capacity
            )
            self.config = lane.run.config.replace(state_every=0, sharpness_every=0)
            self._solo_steps = self.planned_steps
            self.name = None
            self.pending = []
            change = _notice(
                f"the single run is now {lane.name}, the race's leader at step "
                f"{race.steps_done:,}: its settings, history and step",
                topic="left-race",
            )
        self.race = self._solo
        self._solo.set_speed(self.speed)
        self.planned_steps = self._solo_steps
        self.target = None
        self.version += 1
        return change + self._keep_pins_of(self._solo)

    # -- experiments -------------------------------------------------------------------------

    def load(self, experiment: Experiment) -> Change:
        """Show an experiment (an opened file or a preset): a race opens as a race; a single
        run replaces the single run's settings."""
        self._stop()
        self._drop_lesson()
        if experiment.race:
            steps = experiment.steps or self.planned_steps
            change = self.start_race(experiment.race, steps, go=False)
        else:
            if self.racing:
                self._stop()
                self.race = self._solo
            self.config = experiment.config
            self.planned_steps = experiment.steps or planned_steps_for(experiment.config)
            change = self._rebuild_solo()
        self.name = experiment.name
        self.target = None
        self.saved = self.experiment()  # loaded: nothing to lose yet
        return change

    def save_target(self, text: str) -> tuple[str, str | None]:
        """The file a save to `text` writes (".toml" added when missing) and why it can't
        (None: it can)."""
        text = text.strip()
        problem = file_name_problem(text, allowed=self.save_path)
        return with_suffix(text, ".toml"), problem

    def export_targets(self, text: str) -> tuple[list[str], str | None]:
        """The two files an export to `text` writes and why it can't (None: it can)."""
        stem = export_stem(text.strip())
        problem = file_name_problem(stem) if stem.strip() else "type a file name"
        return [f"{stem}.csv", f"{stem}.json"], problem

    def save(self, path: str) -> Change:
        """Write the experiment (a race saves as a race file) atomically to `path`."""
        experiment = self.experiment()
        try:
            save_experiment(path, experiment)
        except (OSError, ValueError) as err:
            return _notice(str(err), "error", ok=False, title="not saved")
        self.save_path = path
        self.saved = experiment
        return _notice(f"saved to {path}")

    def shown_lanes(self) -> list[Lane]:
        """What the charts draw and export writes: the racers or the single run, then the
        pins (as many as fit next to the racers)."""
        lanes = list(self.race.lanes)
        if not self.racing and self.pins:
            taken = {p.name for p in self.pins}
            name = lanes[0].name
            if name in taken:
                lanes[0] = Lane(f"{name} (live)", lanes[0].run)
        taken = {lane.name for lane in lanes}
        for p in self.pins[: MAX_RACE - len(lanes)]:
            name = p.name if p.name not in taken else f"{p.name} (pinned)"
            lanes.append(Lane(name, p.run, pinned=True))
        return lanes

    def export(self, text: str) -> Change:
        """Write the history of every run shown to `<stem>.csv` and `<stem>.json`, and the
        optimizer-state summaries of those that recorded some (see `watch_state`) to
        `<stem>-state.csv` and `<stem>-state.json` (engine.state_history.export_state)."""
        stem = export_stem(text)
        lanes = self.shown_lanes()
        paths = [f"{stem}.csv", f"{stem}.json"]
        recorded = [lane for lane in lanes if lane.run.state_summaries]  # a record or more
        state_paths = [f"{stem}-state.csv", f"{stem}-state.json"] if recorded else []
        try:
            for path in paths:
                export_history(lanes, path)
            for path in state_paths:
                export_state(recorded, path)
        except (OSError, ValueError) as err:
            return _notice(str(err), "error", ok=False, title="not exported")
        runs = "1 run" if len(lanes) == 1 else f"{len(lanes)} runs"
        text = f"exported {runs} to {paths[0]} and {paths[1]}"
        if state_paths:
            text += f"; optimizer state summaries to {state_paths[0]} and {state_paths[1]}"
        else:
            text += " (no optimizer state recorded: the State tab records it while shown)"
        return _notice(text)

    def results(self) -> tuple[list[Result], float | None, str, str]:
        """The results table: rows (racers or the run, then pins), the target loss, a title
        and a note on how steps to target is measured."""
        lanes = self.shown_lanes()
        target = self.target if self.racing else None
        if target is None:
            target = default_target(results(lanes))
        rows = results(lanes, target)
        task = self.race.runs[0].config.task
        if self.racing:
            title = f"race results · {task} · step {self.race.steps_done:,}"
        else:
            title = f"results · {task}"
        ranking = rank_results(rows)  # the table shows the rows in this order
        note = (
            f"ranked by {ranking.label}"
            + (" (no evaluation after step 0)" if ranking.series == "loss" else "")
            + "; steps to target: the first evaluation whose eval loss is at or below it "
            f"(evaluated every {self.race.runs[0].config.eval_every} steps)"
        )
        if target is not None and (not self.racing or self.target is None):
            note += (
                "; target: the highest best eval loss among the runs that did not diverge, "
                "so every one of them reached it and can be compared on it"
            )
        return rows, target, title, note

    # -- lessons ----------------------------------------------------------------------------

    @property
    def lesson(self) -> Lesson | None:
        """The lesson being trained: the one loaded last while what is trained is its
        experiment; when the learner edited its knobs or length (same lanes, same task), the
        lesson on those settings, labelled "your variant" and judged the same way; else None."""
        lesson = self._lesson
        if lesson is None or self.race is not self._lesson_race:
            return None

        # Recording state summaries is how runs are watched, not part of the experiment.
        def unwatched(config: RunConfig) -> RunConfig:
            return config.replace(state_every=0, sharpness_every=0)

        configs = tuple(unwatched(run.config) for run in self.race.runs)
        if configs == tuple(unwatched(e.config) for e in lesson.entries) and (
            self.planned_steps == lesson.steps
        ):
            return lesson
        key = (configs, self.planned_steps)
        if self._variant is None or self._variant[0] != key:
            self._variant = (key, lesson.variant(configs, self.planned_steps))
        return self._variant[1]

    def _keeps_lesson(self, names: Sequence[str], configs: Sequence[RunConfig]) -> bool:
        """Whether lanes `names` with `configs` are the loaded lesson's lanes (by name, in
        order, on its task): its experiment edited, judged as the learner's variant."""
        lesson = self._lesson
        if lesson is None:
            return False
        task = lesson.experiment.config.task
        return list(names) == list(lesson.lanes) and all(c.task == task for c in configs)

    @property
    def verdict(self) -> Verdict | None:
        """The lesson's verdict, computed when its experiment finished (None before)."""
        return self._verdict if self.lesson is not None else None

    def open_lesson(self, lesson: Lesson | str) -> Change:
        """Load a lesson (a Lesson, or a shipped lesson's name): its experiment as `load`
        shows it (a race opens as a race), not started. Its histories keep every step, so
        the verdict measured when it finishes is the one `optplay lesson NAME` prints."""
        if isinstance(lesson, str):
            from engine.lessons import LessonError
            from engine.lessons import load as load_lesson

            try:
                lesson = load_lesson(lesson)
            except LessonError as err:
                return _notice(str(err), "error", ok=False)
        capacity = self._capacity
        self._capacity = None  # full resolution for this experiment only
        try:
            change = self.load(lesson.experiment)
        finally:
            self._capacity = capacity
        self._lesson, self._lesson_race = lesson, self.race
        self._record_lesson_state()
        label = f" ({lesson.label})" if lesson.label else ""
        return change + _notice(
            f"lesson: {lesson.title}{label}. Watch the {lesson.watch.tab} tab; space runs it.",
            topic="lesson",
        )

    def _record_lesson_state(self) -> None:
        """A lesson that measures the optimizer's state or the sharpness records it as often
        as `Lesson.start` does, so its verdict here is the headless one."""
        from engine.lessons.lesson import SHARPNESS_EVERY as lesson_sharpness_every
        from engine.lessons.lesson import STATE_EVERY as lesson_state_every

        lesson, race = self._lesson, self._lesson_race
        if lesson is None or race is None:
            return
        for run in race.runs:
            if lesson.records_state:
                run.set_state_every(lesson_state_every)
            if lesson.records_sharpness:
                run.set_sharpness_every(lesson_sharpness_every)

    def _drop_lesson(self) -> None:
        self._lesson = self._lesson_race = self._verdict = self._variant = None

    def _judge_lesson(self) -> Change:
        """The lesson's verdict once its experiment finished (its step count, or every lane
        diverged); asks the app to show it. Nothing when there is no lesson or it is judged."""
        lesson = self.lesson
        race = self.race
        if lesson is None or self._verdict is not None:
            return Change()
        if race.steps_done < lesson.steps and not race.all_diverged:
            return Change()
        self._verdict = lesson.verdict(race if lesson.is_race else race.runs[0])
        return Change(open_verdict=True)

    # -- the view ---------------------------------------------------------------------------

    def sections(self) -> tuple[SectionView, ...]:
        """The form: the single run's optimizer, schedule and task knobs, then the run's."""
        cfg = self.config
        out = []
        for kind in ("optimizer", "schedule", "task"):
            owner = cfg.kind_name(kind)
            note = ""
            if kind == "schedule" and cfg.lr is None:
                note = "the optimizer sets its own step size: no schedule applies"
            out.append(
                SectionView(
                    kind,
                    f"{kind} · {owner}",
                    tuple(registry(kind).specs(owner)),
                    dict(cfg.knobs(kind)),
                    owner,
                    note,
                )
            )
        run_values = {"steps": self.planned_steps, "seed": cfg.seed, "dtype": cfg.dtype}
        out.append(SectionView("run", "run", RUN_SPECS, run_values))
        return tuple(out)

    def status(self) -> Status:
        race = self.race
        state = race.state
        if state == "ready" and race.steps_done > 0:
            state = "paused"  # stepped by hand: to a user this is a paused run
        rate = race.rate if state == "running" else None
        if self.racing:
            ranking = rank([standing_of_run(run) for run in race.runs])
            first = ranking.leader
            return Status(
                state=state,
                step=race.steps_done,
                loss=None if first is None else ranking.values[first],
                steps_per_second=rate,
                speed=self.speed,
                racers=len(race.runs),
                leader=None if first is None else race.names[first],
                rank_by=ranking.label,
            )
        run = self.run
        step = run.steps_done
        if run.diverged_at is not None:
            state = "diverged"
        history = run.history
        # The rate the next update will use: an lr edited while paused shows at once.
        if run.schedule is not None:
            lr = float(run.schedule.lr(step))
        else:
            lr = history.last("lr") if step else None
        eval_step = history.last_step("eval_loss")
        return Status(
            state=state,
            step=step,
            loss=history.last("loss") if step else None,
            eval_loss=history.last("eval_loss") if eval_step else None,
            lr=lr,
            steps_per_second=rate,
            speed=self.speed,
            diverged_at=run.diverged_at,
            diverged_reason=run.divergence,
            fit=self._fit_of(run) if state in ("paused", "finished") and step else None,
            loss_label="loss" if getattr(run.task, "is_landscape", False) else "batch loss",
        )

    def _fit_of(self, run: Run) -> str | None:
        """`run.task.fit_summary(run.params)`, computed once per step (views render often)."""
        key = (id(run), id(run.task), run.steps_done)
        if self._fit is None or self._fit[:3] != key:
            self._fit = (*key, run.task.fit_summary(run.params))
        return self._fit[3]

    def panel_text(self) -> tuple[str, str]:
        """The race panel's title and settings line."""
        cfg = self.race.runs[0].config
        if self.racing:
            return (
                f"race · {cfg.task}",
                f"seed {cfg.seed} · {self.planned_steps:,} steps · {cfg.dtype}",
            )
        return cfg.task, ""

    def lane_views(self) -> tuple[LaneView, ...]:
        """The lanes shown (racers or the run, then pins) as the panel and charts show them."""
        return tuple(self._lane_view(lane) for lane in self.shown_lanes())

    def view(self) -> SessionView:
        """Frozen data for everything the app shows."""
        lanes = self.lane_views()
        race = self.race
        title, settings = self.panel_text()
        available = {"toggle_run", "step", "reset", "faster", "slower", "race", "export"}
        available.add("leave_race" if self.racing else "pin")
        if self.racing or self.pins:
            available.add("table")
        if self.pins:
            available.add("unpin")
        lesson, verdict = self.lesson, self.verdict
        if lesson is not None:
            available.add("lesson")
        if verdict is not None:
            available.add("verdict")
        kind = race.runs[0].task.model_view_kind
        if kind is not None and len(lanes) > 1:
            available.add("model_lane")
        if kind == "regions":
            available.add("model_points")
        if not self.racing and self._has_optimum():
            available.add("optimum")
        ranking = self.ranking(lanes)
        leader = None if ranking is None else ranking.leader
        return SessionView(
            racing=self.racing,
            picks={kind: self.config.kind_name(kind) for kind in KINDS},
            sections=self.sections(),
            pending=tuple(self.pending),
            status=self.status(),
            run=race.runs[0],
            planned_steps=self.planned_steps,
            version=self.version,
            lanes=lanes,
            overlaid=len(lanes) > 1,
            panel_title=title,
            panel_settings=settings,
            available=frozenset(available),
            lesson=lesson,
            verdict=verdict,
            model_lane=self._shown_model_lane(lanes, leader),
            leader_lane=leader,
            ranking=ranking,
        )

    # -- the Model tab's lane ---------------------------------------------------------------

    def ranking(self, lanes: Sequence[LaneView]) -> Ranking | None:
        """A race's lanes in rank order (engine.compare.rank: eval loss, pins and diverged
        racers last); None for a single run."""
        return rank([lane.standing for lane in lanes]) if self.racing else None

    def _leader_lane(self, lanes: Sequence[LaneView]) -> int | None:
        """The racer ranked first (None: no race, or no finite loss yet)."""
        ranking = self.ranking(lanes)
        return None if ranking is None else ranking.leader

    def _shown_model_lane(self, lanes: Sequence[LaneView], leader: int | None) -> int:
        """The lane chosen for what is trained now, else the leader, else lane 0."""
        chosen = self._model_lane
        if chosen is not None and chosen[0] is self.race and chosen[1] < len(lanes):
            return chosen[1]
        return leader if leader is not None else 0

    def next_model_lane(self) -> Change:
        """Show the next lane on the Model tab (racers, then pins; wraps around). The choice
        holds until what is trained changes (a new race, back to the single run)."""
        lanes = self.lane_views()
        if len(lanes) < 2:
            return Change()
        shown = self._shown_model_lane(lanes, self._leader_lane(lanes))
        self._model_lane = (self.race, (shown + 1) % len(lanes))
        return Change()

    @staticmethod
    def _lane_view(lane: Lane) -> LaneView:
        run = lane.run
        c = run.config
        lr = "own step size" if c.lr is None else f"lr {format_number(c.lr, 3)}"
        schedule = "" if c.schedule == "constant" else f" · {c.schedule}"
        return LaneView(
            name=lane.name,
            run=run,
            pinned=lane.pinned,
            detail=f"{c.optimizer} · {lr}{schedule}",
            loss=run.history.last("loss"),
            diverged_at=run.diverged_at,
            eval_loss=standing_of_run(run).eval_loss,
        )


def export_stem(text: str) -> str:
    """The path typed in the export dialog without a .csv / .json suffix."""
    path = Path(text)
    return str(path.with_suffix("")) if path.suffix.lower() in (".csv", ".json") else text


def file_name_problem(text: str, allowed: str | None = None) -> str | None:
    """Why `text` cannot name a file the app writes (None: it can). Names are checked as typed
    in a dialog: no control characters, and inside the current folder unless it is `allowed`
    (the path given on the command line, e.g. with --config)."""
    if not text.strip():
        return "type a file name"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "a file name cannot hold control characters"
    if allowed is not None and Path(text) == Path(allowed):
        return None
    here = Path.cwd().resolve()
    target = (here / text).resolve()
    if target != here and here not in target.parents:
        return (
            f"{text} is outside the current folder ({here}); to write there, start optplay "
            "with that path on the command line (--config PATH)"
        )
    if target == here or target.name in ("", ".", ".."):
        return "that is a folder, not a file name"
    return None


def with_suffix(text: str, suffix: str) -> str:
    """`text` ending in `suffix` (".toml"): added when missing, never doubled."""
    return text if text.lower().endswith(suffix) else text + suffix


__all__ = [
    "DEFAULT_EXPORT_STEM",
    "DEFAULT_SAVE_PATH",
    "DEFAULT_SPEED",
    "RUN_SPECS",
    "SHARPNESS_EVERY",
    "SPEEDS",
    "STATE_EVERY",
    "Change",
    "LaneView",
    "Notice",
    "SectionView",
    "Session",
    "SessionView",
    "Status",
    "carried_knobs",
    "clamp_to_spec",
    "default_experiment",
    "file_name_problem",
    "next_optimizer",
    "planned_steps_for",
]
