"""Sweeps: how a run's outcome depends on one or two knobs, per optimizer. Every point of the
grid is a fresh run (fresh parameters, optimizer state and schedule; the data order of its
seed), scored as `optplay bench` scores a run, and runs go to any executor of
`engine.executors` (serial, a process pool, a Dask cluster) with the same numbers on each.

    from engine.sweep import Sweep, SweepSpec, summarise
    from engine.executors import ProcessExecutor

    spec = SweepSpec(
        task="digits-mlp",
        optimizers=("sgd", "momentum", "adam"),
        grid={"lr": "1e-4:1e1:13"},        # 1 or 2 knobs; see `parse_grid` for the syntax
        steps=300,
        seeds=2,                           # seeds 0 and 1: 3 x 13 x 2 = 78 runs
        optimizer_hypers={"momentum": {"momentum": 0.95}},
    )                                      # SweepError (naming the field) if anything is bad
    with ProcessExecutor() as executor:
        sweep = Sweep(spec, executor)      # planned: sweep.plan, sweep.total; nothing runs yet
        for row in sweep.results():        # a SweepRow as each run finishes
            points = summarise(spec, sweep.rows)   # e.g. redraw a chart from these
        report = sweep.report()            # rows in plan order, points, seconds, cancelled

For a screen that fills a chart live: iterate `sweep.results()` on a worker thread (it blocks
while runs are in flight) and read `sweep.rows` / `summarise(spec, sweep.rows)` from the UI
thread whenever it redraws (`rows` returns a copy taken under a lock). `sweep.cancel()` is
safe from any thread: runs in flight stop between steps, finished rows stay, `results()` ends.
A row's `config` is the full `RunConfig` of that run, so a picked point can be opened (or
pinned) as a single `Run(row.config)` and trained `spec.steps` steps to watch it again: same
seed, same numbers.

The grid (`parse_grid`): "A:B:N" is N values from A to B, spaced on the knob's declared scale
(log for `lr`, `eps` and other log-scale knobs, linear otherwise; append ":log" or ":linear"
to choose), rounded to 6 significant digits so a value can be typed back; "v1,v2,..." or a
list is those values. Every value is checked against the knob's range for every optimizer,
and every optimizer must have the knob: the whole plan is validated when the spec is made.

Scoring (as `engine.bench`): the loss is the task's evaluation loss (held-out data where the
task has it), measured every `check_every` steps (default steps // 100) and after the last
step. A row holds the final loss (None if the run diverged), the best loss (the lowest
evaluation after step 0), steps to target (the first evaluation step whose loss is <= the
target; the target is `target` when given, else `target_fraction` times the mean initial
evaluation loss over the seeds, per task setting), the step it diverged at, and the time per
update measured inside the worker (`Run.seconds_per_step`: updates only, evaluation
excluded). A point of the grid (`SweepPoint`) summarises its seeds: a diverged run is counted
(diverged k/n), never averaged into the losses. The best point of an optimizer is the one
with the lowest mean final loss among its points where no seed diverged.

Fixed knobs: `task_hypers` and `schedule_hypers` apply to every run, `optimizer_hypers` maps
an optimizer to its own. A schedule with a `total_steps` knob that is not given runs over the
sweep's `steps` (a cosine decays to its end exactly when the run ends).

Determinism: a run depends only on its `RunConfig` and `steps`, so a row's losses are
bit-identical whether it ran serially, on the pool or on Dask, and equal to
`Run(row.config)` stepped `steps` times by hand.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import optimizers, schedules, specfields, tasks
from engine.executors import Executor, SerialExecutor
from engine.hyper import Hyper, _show
from engine.jobs import TrainJob, TrainResult, run_jobs, train
from engine.kinds import registry
from engine.outcome import Outcome, over_seeds
from engine.run import KnobError, Run, RunConfig, RunConfigError

DEFAULT_STEPS = 500
DEFAULT_SEEDS = 1
DEFAULT_TARGET_FRACTION = 0.1
#: A sweep with more runs than this needs explicit consent (`--yes` on the command line).
MAX_RUNS = 1000
#: No sweep may have more runs than this, consent or not: its plan alone (one config per run)
#: would take ~5 s and ~0.5 GB to build, and the runs days.
MAX_RUNS_WITH_CONSENT = 100_000
MAX_AXES = 2
#: Significant digits of generated grid values (so each value can be typed back exactly).
GRID_DIGITS = 6
_CHECKS = 100  # evaluations per run when check_every is not given


class SweepError(ValueError):
    """A bad sweep spec. `field` names the spec field ("grid", "steps", "optimizer_hypers"),
    `key` the knob or name inside it when there is one ("lr", "sgd"), `detail` the message
    without the field prefix."""

    def __init__(self, field_name: str, detail: str, key: str | None = None) -> None:
        super().__init__(f"{field_name}{'' if detail.startswith('must') else ':'} "
                         f"{self.knob_text(detail, key)}")  # fmt: skip
        self.field = field_name
        self.key = key
        self.detail = detail

    @staticmethod
    def knob_text(detail: str, key: str | None) -> str:
        """`detail` led by the knob's name: "beta1 must be ..." stays, "the grid is empty"
        becomes "beta1: the grid is empty"."""
        if key is None or detail.startswith(f"{key} "):
            return detail
        return f"{key}: {detail}"


class PlanTooLarge(SweepError):
    """A plan of more runs than the spec's `max_runs` (field "runs"): `runs` it would have,
    `limit` the most allowed."""

    def __init__(self, runs: int, limit: int) -> None:
        super().__init__(
            "runs",
            f"this sweep is {runs:,} runs, more than {limit:,}: sweep fewer points, optimizers "
            "or seeds",
        )
        self.runs = runs
        self.limit = limit


# -- grids ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One swept knob: its name as written ("lr", "task.batch_size"), its values in order, and
    how a chart draws it ("log", "linear" or "category")."""

    knob: str
    values: tuple[Any, ...]
    scale: str

    def label(self, value: Any) -> str:
        """A value as a table or chart shows it."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)


def _round(x: float) -> float:
    return float(f"{x:.{GRID_DIGITS}g}") + 0.0


def _spaced(knob: str, text: str, spec: Hyper, force_log: bool) -> tuple[list[Any], str]:
    """Values of an "A:B:N[:log|:linear]" grid, and the scale it was spaced on."""
    parts = [p.strip() for p in text.split(":")]
    scale = None
    if len(parts) == 4:
        scale = parts.pop().lower()
        if scale not in ("log", "linear"):
            raise SweepError("grid", f"the 4th part of A:B:N:SCALE must be log or linear, "
                             f"got {_show(scale)}", knob)  # fmt: skip
    if len(parts) != 3:
        raise SweepError("grid", f"expected A:B:N (or a list v1,v2,...), got {_show(text)}", knob)
    if spec.kind not in ("float", "int"):
        raise SweepError("grid", f"{knob} is a {spec.kind} knob: list its values (v1,v2,...)", knob)
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise SweepError(
            "grid", f"A and B of A:B:N must be numbers, got {_show(text)}", knob
        ) from None
    try:
        n = int(parts[2])
    except ValueError:
        raise SweepError(
            "grid", f"N of A:B:N must be an integer, got {_show(parts[2])}", knob
        ) from None
    if n < 1:
        raise SweepError("grid", f"the grid is empty (N = {n}); N must be >= 1", knob)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SweepError("grid", f"A and B of A:B:N must be finite, got {_show(text)}", knob)
    log = force_log or (scale == "log") or (scale is None and spec.log)
    if scale == "linear":
        log = False
    if log and (low <= 0 or high <= 0):
        raise SweepError(
            "grid", f"a log grid needs A and B > 0, got {_show(text)} (or add :linear)", knob
        )
    if n == 1:
        raw = [low]
    elif log:
        exps = np.linspace(math.log10(low), math.log10(high), n)
        raw = [low, *(10.0**e for e in exps[1:-1]), high]
    else:
        raw = [low, *np.linspace(low, high, n)[1:-1].tolist(), high]
    if spec.kind == "int":
        values: list[Any] = [round(float(x)) for x in raw]
    else:
        values = [_round(float(x)) for x in raw]
    return values, "log" if log else "linear"


def parse_grid(knob: str, raw: str | Sequence[Any], spec: Hyper, force_log: bool = False) -> Axis:
    """The Axis of knob `knob` (declared by `spec`) from a grid as typed or stored:

    - "A:B:N": N values from A to B (log-spaced for a log-scale knob or with `force_log`,
      else linear; "A:B:N:log" / "A:B:N:linear" choose); integer knobs are rounded;
    - "v1,v2,...", or a list: those values (any kind of knob but list-valued ones).

    Values are validated by `spec` and repeated ones dropped; SweepError for an empty grid,
    bad syntax or a value out of the knob's range."""
    if spec.kind == "ints":
        raise SweepError("grid", f"{knob} holds a list of integers and cannot be swept", knob)
    if isinstance(raw, str):
        text = raw.strip()
        if not text or not text.strip(","):
            raise SweepError("grid", "the grid is empty: give A:B:N or v1,v2,...", knob)
        if ":" in text:
            values, scale = _spaced(knob, text, spec, force_log)
        else:
            items = [item.strip() for item in text.split(",")]
            if any(not item for item in items):
                raise SweepError("grid", f"an empty value in the list {_show(text)}", knob)
            values, scale = items, ""
    elif isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
        if not raw:
            raise SweepError("grid", "the grid is empty: give A:B:N or v1,v2,...", knob)
        values, scale = list(raw), ""
    else:
        raise SweepError("grid", f"expected A:B:N, v1,v2,... or a list, got {_show(raw)}", knob)
    checked: list[Any] = []
    for value in values:
        try:
            value = spec.validate(value)
        except ValueError as err:
            raise SweepError("grid", str(err), knob) from None
        if value not in checked:
            checked.append(value)
    if not scale:
        numeric = spec.kind in ("float", "int") and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in checked
        )
        if not numeric:
            scale = "category"
        elif (spec.log or force_log) and all(v > 0 for v in checked):
            scale = "log"
        else:
            scale = "linear"
    return Axis(knob, tuple(checked), scale)


def _written_size(raw: Any) -> int:
    """How many values a grid as written asks for, without making them: N of "A:B:N[:SCALE]",
    the items of a list. 1 when it cannot tell (`parse_grid` then names the problem)."""
    if isinstance(raw, str):
        parts = raw.split(":")
        if len(parts) in (3, 4):
            try:
                return max(1, int(parts[2].strip()))
            except ValueError:
                return 1
        return raw.count(",") + 1
    if isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
        return max(1, len(raw))
    return 1


# -- the spec -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep's plan: its position, optimizer, seed, the swept values (in axis
    order) and the full config."""

    index: int
    optimizer: str
    seed: int
    point: tuple[Any, ...]
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep. Validated on creation (every run of the plan is checked; nothing runs):
    a bad value raises SweepError naming the field and, for knobs, the knob.

    `grid` maps 1 or 2 knob names (as `RunConfig.with_knobs` routes them: "lr", "beta1",
    "task.batch_size", "schedule.gamma") to a grid (see `parse_grid`); `axes` holds them
    parsed. `lr_log`: an "A:B:N" grid of lr is log-spaced (what `--lr` means)."""

    task: str
    optimizers: tuple[str, ...]
    grid: Mapping[str, Any]
    schedule: str = "constant"
    steps: int = DEFAULT_STEPS
    seeds: int = DEFAULT_SEEDS
    task_hypers: Mapping[str, Any] = field(default_factory=dict)
    optimizer_hypers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    schedule_hypers: Mapping[str, Any] = field(default_factory=dict)
    dtype: str = "float64"
    target: float | None = None
    target_fraction: float = DEFAULT_TARGET_FRACTION
    check_every: int | None = None
    name: str | None = None
    #: The most runs this spec may plan: checked, from the grid as written, before anything is
    #: built (MAX_RUNS without the user's consent; never more than MAX_RUNS_WITH_CONSENT).
    max_runs: int = field(default=MAX_RUNS_WITH_CONSENT, repr=False, compare=False)
    axes: tuple[Axis, ...] = field(init=False, default=())
    _plan: tuple[PlannedRun, ...] = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if not isinstance(self.task, str):
            raise SweepError("task", f"must be a task name, got {_show(self.task)}")
        try:
            tasks.get(self.task)
        except ValueError as err:
            raise SweepError("task", str(err)) from None
        try:
            shared = specfields.check_shared(self, "swept")
        except specfields.FieldError as err:
            raise SweepError(err.field, err.detail, err.key) from None
        for name, value in shared.items():
            put(name, value)
        if not isinstance(self.schedule, str):
            raise SweepError("schedule", f"must be a schedule name, got {_show(self.schedule)}")
        try:
            schedules.get(self.schedule)
        except ValueError as err:
            raise SweepError("schedule", str(err)) from None
        if not isinstance(self.schedule_hypers, Mapping):
            raise SweepError(
                "schedule_hypers", f"must be a table of knobs, got {_show(self.schedule_hypers)}"
            )
        put("schedule_hypers", dict(self.schedule_hypers))
        opt_hypers = self.optimizer_hypers
        if not isinstance(self.grid, Mapping):
            raise SweepError("grid", f"must map knob names to grids, got {_show(self.grid)}")
        if not self.grid:
            raise SweepError("grid", "nothing to sweep: give one or two knobs with their values")
        if len(self.grid) > MAX_AXES:
            names = ", ".join(map(str, self.grid))
            raise SweepError("grid", f"at most {MAX_AXES} knobs can be swept, got {names}")
        put("grid", dict(self.grid))
        self._check_size()
        bases = {opt: self._base(opt) for opt in self.optimizers}
        # Keep the given knobs as validated values ("16" typed on a command line -> 16).
        first = bases[self.optimizers[0]]
        put("task_hypers", {k: first.task_hypers[k] for k in self.task_hypers})
        put("schedule_hypers", {k: first.schedule_hypers[k] for k in self.schedule_hypers})
        put(
            "optimizer_hypers",
            {o: {k: bases[o].optimizer_hypers[k] for k in v} for o, v in opt_hypers.items()},
        )
        put("axes", self._axes(bases))
        put("_plan", self._make_plan(bases))

    # -- building ----------------------------------------------------------------------------

    def _check_size(self) -> None:
        """Refuse a plan of more than `max_runs` runs, counted from the grid as written (the
        N of "A:B:N", the length of a list), the optimizers and the seeds: constant time,
        nothing built. (The count is before repeated values are dropped: a grid that asks for
        a million points is refused even if most of them would round to the same value.)"""
        limit = min(self.max_runs, MAX_RUNS_WITH_CONSENT)
        points = 1
        for raw in self.grid.values():
            points *= _written_size(raw)
        runs = points * len(self.optimizers) * self.seeds
        if runs <= limit:
            return
        raise PlanTooLarge(runs, limit)

    def _base(self, opt: str) -> RunConfig:
        """The config of `opt` at seed 0 with the fixed knobs (the swept ones at default)."""
        schedule_knobs = dict(self.schedule_hypers)
        if "total_steps" in {h.name for h in schedules.specs(self.schedule)}:
            schedule_knobs.setdefault("total_steps", self.steps)
        try:
            return RunConfig(
                task=self.task,
                optimizer=opt,
                schedule=self.schedule,
                seed=0,
                task_hypers=self.task_hypers,
                optimizer_hypers=self.optimizer_hypers.get(opt, {}),
                schedule_hypers=schedule_knobs,
                dtype=self.dtype,
                eval_every=self.steps_between_checks,
            )
        except RunConfigError as err:
            if err.field == "optimizer_hypers":
                raise SweepError("optimizer_hypers", err.detail, opt) from None
            raise SweepError(err.field, err.detail, err.key) from None

    def _axes(self, bases: Mapping[str, RunConfig]) -> tuple[Axis, ...]:
        axes: list[Axis] = []
        owners: list[tuple[str, str]] = []
        for knob, raw in self.grid.items():
            if not isinstance(knob, str) or not knob:
                raise SweepError("grid", f"a knob name must be a string, got {_show(knob)}")
            spec: Hyper | None = None
            owner: tuple[str, str] | None = None
            for opt, cfg in bases.items():
                try:
                    kind, name = cfg.knob_owner(knob)
                except KnobError as err:
                    detail = self._missing_knob(knob, opt, bases, err)
                    raise SweepError("grid", detail, knob) from None
                if owner is None:
                    owner = (kind, name)
                    owned_by = cfg.kind_name(kind)
                    spec = next(h for h in registry(kind).specs(owned_by) if h.name == name)
            assert owner is not None and spec is not None
            if owner in owners:
                raise SweepError("grid", f"{owner[0]} knob {owner[1]!r} is swept twice", knob)
            owners.append(owner)
            axes.append(parse_grid(knob, raw, spec, force_log=owner == ("optimizer", "lr")))
        return tuple(axes)

    @staticmethod
    def _missing_knob(knob: str, opt: str, bases: Mapping[str, RunConfig], err: KnobError) -> str:
        """Why `knob` cannot be swept for optimizer `opt` (one line)."""
        have = [
            o for o, c in bases.items() if knob in {h.name for h in optimizers.specs(c.optimizer)}
        ]
        if have and "." not in knob:
            knobs = ", ".join(h.name for h in optimizers.specs(opt))
            return (
                f"optimizer {opt} has no knob {knob!r} (its knobs: {knobs}); "
                f"sweep it with {', '.join(have)} only"
            )
        return err.detail

    def _make_plan(self, bases: Mapping[str, RunConfig]) -> tuple[PlannedRun, ...]:
        plan: list[PlannedRun] = []
        for seed in range(self.seeds):
            for point in self.points():
                for opt in self.optimizers:
                    base = bases[opt] if seed == 0 else bases[opt].replace(seed=seed)
                    knobs = [(a.knob, v) for a, v in zip(self.axes, point, strict=True)]
                    try:
                        cfg = base.with_knobs(knobs)
                    except KnobError as err:  # its message names the knob and the optimizer
                        raise SweepError("grid", str(err), err.key) from None
                    except RunConfigError as err:  # a rule between knobs, e.g. warmup < total
                        shown = ", ".join(f"{k}={v!r}" for k, v in knobs)
                        raise SweepError(
                            "grid", f"{err.detail} (at {shown}, optimizer {opt})", err.key
                        ) from None
                    plan.append(PlannedRun(len(plan), opt, seed, point, cfg))
        return tuple(plan)

    # -- reading -----------------------------------------------------------------------------

    @property
    def steps_between_checks(self) -> int:
        """How often the evaluation loss is measured (steps)."""
        return self.check_every or max(1, self.steps // _CHECKS)

    @property
    def knobs(self) -> tuple[str, ...]:
        """The swept knobs' names, in axis order."""
        return tuple(a.knob for a in self.axes)

    def points(self) -> list[tuple[Any, ...]]:
        """Every grid point (the product of the axes' values), first axis slowest."""
        return list(itertools.product(*(a.values for a in self.axes)))

    @property
    def total_runs(self) -> int:
        return len(self._plan)

    def plan(self) -> tuple[PlannedRun, ...]:
        """Every run, seed-major, then grid point, then optimizer: the first results already
        cover every optimizer across the grid."""
        return self._plan

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain data (JSON output), the grid as resolved values."""
        return {
            "name": self.name,
            "task": self.task,
            "optimizers": list(self.optimizers),
            "schedule": self.schedule,
            "steps": self.steps,
            "seeds": self.seeds,
            "dtype": self.dtype,
            "target": self.target,
            "target_fraction": self.target_fraction,
            "check_every": self.steps_between_checks,
            "grid": {a.knob: list(a.values) for a in self.axes},
            "scales": {a.knob: a.scale for a in self.axes},
            "task_hypers": dict(self.task_hypers),
            "optimizer_hypers": {k: dict(v) for k, v in self.optimizer_hypers.items()},
            "schedule_hypers": dict(self.schedule_hypers),
        }


# -- one run (the worker side) --------------------------------------------------------------------


@dataclass(frozen=True)
class SweepJob:
    """What a worker receives: a config, how long to train and the target loss."""

    config: RunConfig
    steps: int
    target: float | None


@dataclass(frozen=True)
class RunScore:
    """What a worker sends back: one run's outcome (see the module docstring)."""

    steps: int  # updates done (fewer when it diverged)
    initial_loss: float  # evaluation loss at step 0
    final_loss: float | None  # evaluation loss after the last step; None if diverged
    best_loss: float | None  # lowest evaluation loss after step 0
    best_step: int | None
    final_accuracy: float | None
    train_loss: float | None  # mini-batch loss of the last update
    steps_to_target: int | None
    diverged_at: int | None
    seconds_per_update: float | None  # measured in the worker, evaluation excluded
    run_seconds: float  # wall time of the whole run in the worker (build, steps, evaluation)
    cpu_seconds: float  # CPU time of the run (its thread): < run_seconds when it waited for a core
    worker: str  # host:pid of the process that ran it
    eval_steps: tuple[int, ...]
    eval_losses: tuple[float, ...]


def score_of(result: TrainResult, target: float | None) -> RunScore:
    """A sweep's row score from a job's result (`engine.outcome` defines every number)."""
    o = result.outcome
    return RunScore(
        steps=o.steps,
        initial_loss=o.initial_eval_loss,
        final_loss=o.final_eval_loss,
        best_loss=o.best_eval_loss,
        best_step=o.best_eval_step,
        final_accuracy=o.final_eval_accuracy,
        train_loss=o.batch_loss,
        steps_to_target=o.steps_to(target),
        diverged_at=o.diverged_at,
        seconds_per_update=o.seconds_per_step,
        run_seconds=result.run_seconds,
        cpu_seconds=result.cpu_seconds,
        worker=result.worker,
        eval_steps=result.eval_steps,
        eval_losses=result.eval_losses,
    )


def run_job(job: SweepJob) -> RunScore:
    """Train one run and score it. Checks `stop_requested()` between evaluation intervals and
    raises Stopped when asked."""
    return score_of(train(TrainJob(job.config, job.steps)), job.target)


# -- rows and points -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One finished run: where it is in the sweep (index, optimizer, seed, the swept values as
    (knob, value) pairs), its target, its score and its full config."""

    index: int
    optimizer: str
    seed: int
    knobs: tuple[tuple[str, Any], ...]
    target: float | None
    score: RunScore
    config: RunConfig
    outcome: Outcome | None = field(default=None, compare=False, repr=False)

    @property
    def point(self) -> tuple[Any, ...]:
        return tuple(v for _, v in self.knobs)

    @property
    def diverged(self) -> bool:
        return self.score.diverged_at is not None

    def as_dict(self, curves: bool = False) -> dict[str, Any]:
        """A flat record: index, optimizer, seed, one entry per swept knob, target, then the
        score (the evaluation curve only with `curves`)."""
        out: dict[str, Any] = {"index": self.index, "optimizer": self.optimizer, "seed": self.seed}
        out.update(dict(self.knobs))
        out["target"] = self.target
        for key in RunScore.__dataclass_fields__:
            if key in ("eval_steps", "eval_losses") and not curves:
                continue
            value = getattr(self.score, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        out["diverged"] = self.diverged
        return out


@dataclass(frozen=True)
class SweepPoint:
    """The seeds of one (optimizer, grid point), summarised; `best` marks the optimizer's
    best point (lowest mean final loss where no seed diverged)."""

    optimizer: str
    knobs: tuple[tuple[str, Any], ...]
    runs: int
    diverged: int
    final_loss_mean: float | None  # over the runs that did not diverge
    final_loss_std: float | None  # sample standard deviation (0 for one run)
    best_loss_mean: float | None
    accuracy_mean: float | None
    reached: int  # runs that reached the target
    steps_to_target_mean: float | None  # over the runs that reached it
    seconds_per_update_mean: float | None
    best: bool = False

    @property
    def point(self) -> tuple[Any, ...]:
        return tuple(v for _, v in self.knobs)

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "knobs"}
        out["knobs"] = dict(self.knobs)
        return out


def summarise(spec: SweepSpec, rows: Sequence[SweepRow]) -> list[SweepPoint]:
    """One SweepPoint per (optimizer, grid point) that has finished runs, in the spec's order
    (optimizer, then grid order), with each optimizer's best point marked."""
    groups: dict[tuple[str, tuple[Any, ...]], list[SweepRow]] = {}
    for row in rows:
        groups.setdefault((row.optimizer, row.point), []).append(row)
    points: list[SweepPoint] = []
    for opt in spec.optimizers:
        mine: list[SweepPoint] = []
        for point in spec.points():
            group = groups.get((opt, point))
            if not group:
                continue
            seeds = over_seeds([r.outcome for r in group], group[0].target)
            mine.append(
                SweepPoint(
                    optimizer=opt,
                    knobs=group[0].knobs,
                    runs=seeds.runs,
                    diverged=seeds.diverged,
                    final_loss_mean=seeds.final_mean,
                    final_loss_std=seeds.final_std,
                    best_loss_mean=seeds.best_mean,
                    accuracy_mean=seeds.accuracy_mean,
                    reached=seeds.reached,
                    steps_to_target_mean=seeds.steps_mean,
                    seconds_per_update_mean=seeds.seconds_per_step_mean,
                )
            )
        candidates = [
            (p.final_loss_mean, i)
            for i, p in enumerate(mine)
            if p.diverged == 0 and p.final_loss_mean is not None
            and math.isfinite(p.final_loss_mean)
        ]  # fmt: skip
        if candidates:
            _, i = min(candidates)
            mine[i] = dataclasses.replace(mine[i], best=True)
        points += mine
    return points


def best_points(points: Sequence[SweepPoint]) -> dict[str, SweepPoint]:
    """Each optimizer's best point (optimizers with none left out)."""
    return {p.optimizer: p for p in points if p.best}


# -- running -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    """A finished (or cancelled) sweep: rows in plan order, the points, how long it took."""

    spec: SweepSpec
    rows: tuple[SweepRow, ...]
    points: tuple[SweepPoint, ...]
    total: int  # runs planned
    seconds: float  # wall time of the sweep (planning and targets included)
    executor: str  # what ran it, e.g. "process pool, 2 workers"
    cancelled: bool

    @property
    def diverged(self) -> int:
        return sum(r.diverged for r in self.rows)


class Sweep:
    """A planned sweep, run once through `executor` (default: serially in this thread).

    `results()` runs it and yields each SweepRow as it finishes; `run()` runs it to the end
    and returns the SweepReport; `cancel()` (any thread) stops it, keeping finished rows."""

    def __init__(self, spec: SweepSpec, executor: Executor | None = None) -> None:
        self.spec = spec
        self.executor: Executor = executor if executor is not None else SerialExecutor()
        self.plan = spec.plan()
        self._rows: list[SweepRow] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._started = False
        self._finished = False
        self._t0: float | None = None
        self._seconds = 0.0

    @property
    def total(self) -> int:
        return len(self.plan)

    @property
    def rows(self) -> list[SweepRow]:
        """The finished rows so far, in arrival order (a copy; safe from any thread)."""
        with self._lock:
            return list(self._rows)

    @property
    def done(self) -> int:
        with self._lock:
            return len(self._rows)

    @property
    def finished(self) -> bool:
        """Whether `results()` has ended (completed, cancelled or failed)."""
        return self._finished

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set() and self.done < self.total

    @property
    def seconds(self) -> float:
        """Wall time so far (or of the whole sweep once it has ended)."""
        if self._t0 is not None and not self._finished:
            return time.perf_counter() - self._t0
        return self._seconds

    def cancel(self) -> None:
        """Stop the sweep from any thread: runs in flight stop between steps and are dropped,
        finished rows stay, and `results()` ends shortly after."""
        self._cancel.set()

    def targets(self) -> dict[int, float | None]:
        """The target loss of each planned run (by index): `spec.target`, else the target
        fraction times the mean initial evaluation loss over the seeds of its task setting
        (evaluated here, once per task setting and seed)."""
        spec = self.spec
        if spec.target is not None:
            return {p.index: spec.target for p in self.plan}
        setting = {}  # task setting -> seed -> initial loss
        keys = {}
        for p in self.plan:
            cfg = p.config
            key = (cfg.task, tuple(sorted(cfg.task_hypers.items())), cfg.dtype)
            keys[p.index] = key
            seeds = setting.setdefault(key, {})
            if p.seed not in seeds:
                seeds[p.seed] = Run(cfg, history_capacity=None).metrics()["eval_loss"]
        means = {k: float(np.mean(list(v.values()))) for k, v in setting.items()}
        return {i: spec.target_fraction * means[k] for i, k in keys.items()}

    def results(self) -> Iterator[SweepRow]:
        """Run the sweep, yielding each row as it finishes (arrival order). Once only."""
        if self._started:
            raise RuntimeError("a Sweep runs once: make a new Sweep to run it again")
        self._started = True
        self._t0 = time.perf_counter()
        try:
            if self._cancel.is_set():
                return
            targets = self.targets()
            jobs = [TrainJob(p.config, self.spec.steps) for p in self.plan]
            for index, result in run_jobs(jobs, self.executor, cancel=self._cancel):
                planned = self.plan[index]
                score = score_of(result, targets[index])
                row = SweepRow(
                    index=index,
                    optimizer=planned.optimizer,
                    seed=planned.seed,
                    knobs=tuple(zip(self.spec.knobs, planned.point, strict=True)),
                    target=targets[index],
                    score=score,
                    config=planned.config,
                    outcome=result.outcome,
                )
                with self._lock:
                    self._rows.append(row)
                yield row
        finally:
            self._seconds = time.perf_counter() - self._t0
            self._finished = True

    def run(self, on_row: Callable[[SweepRow], None] | None = None) -> SweepReport:
        """Run to the end (or until cancelled) and return the report; `on_row` is called with
        each row as it arrives."""
        for row in self.results():
            if on_row is not None:
                on_row(row)
        return self.report()

    def report(self) -> SweepReport:
        """The rows so far in plan order, with their points."""
        rows = sorted(self.rows, key=lambda r: r.index)
        return SweepReport(
            spec=self.spec,
            rows=tuple(rows),
            points=tuple(summarise(self.spec, rows)),
            total=self.total,
            seconds=self.seconds,
            executor=self.executor.describe(),
            cancelled=self.cancelled,
        )
