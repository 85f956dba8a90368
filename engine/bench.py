"""Benchmark optimizers across tasks, problem sizes and seeds (the tutorials' OptimizerBenchmark,
done right).

What "right" means here:
- Every (task, size, optimizer, seed) is a fresh `Run`: new parameters, new optimizer state,
  nothing shared between runs (the tutorial reused one optimizer object across sizes).
- Several seeds (0 .. seeds-1): each seed fixes the initial parameters and the batch order, and
  all optimizers of a seed start from the same point on the same data. Results are the mean
  and spread (sample standard deviation, min, max) over seeds.
- Final loss is the task's evaluation loss after the last step (held-out data where the task
  has it, the full-data loss otherwise), not a noisy mini-batch loss.
- Steps to target replaces "epochs within 10% of the minimum": the first step at which the
  evaluation loss is <= the target (the series races use too: `compare.TARGET_SERIES`). The
  loss is evaluated every `check_every` steps (default steps // 100), so the answer is a
  multiple of check_every. The target is `target` when
  given, else `target_fraction` (default 0.1) times the initial evaluation loss (mean over
  seeds) of that task and size: "steps to cut the loss by 10x".
- Time per step is the wall time of the updates only (perf_counter around the stepping,
  evaluation subtracted; see `Run.train_seconds`), averaged over seeds.
- A diverged run is counted (diverged k/n) and left out of the loss statistics.

Sizes: each task names its size knob (`Task.size_knob`: hidden units for the MLPs and the RNN,
n_features for linear regression and blobs); `sizes` sets it. Tasks without one (the 2-D
landscapes, the quadratic) run once at their own size, with a note.

Spec files: a `[bench]` table (see `loads_spec`); the shipped "benchmark" preset is one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import specfields, specfile, tasks
from engine.compare import format_number, format_seconds, format_table
from engine.files import write_text_atomic
from engine.history import export_format
from engine.hyper import _show
from engine.jobs import JobProgress, TrainJob, TrainResult, run_jobs
from engine.outcome import Outcome, over_seeds
from engine.run import RunConfig, RunConfigError
from engine.specfile import SpecFile
from engine.textsafe import for_spreadsheet

DEFAULT_TASKS = ("digits-mlp",)
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "nadam")
DEFAULT_SEEDS = 3
#: Default steps per run: 5 optimizers x 3 seeds on digits-mlp took 4-13 s on the 2-core box.
DEFAULT_STEPS = 2000
DEFAULT_TARGET_FRACTION = 0.1
_CHECKS = 100  # evaluations per run when check_every is not given

#: Keys of the [bench] table: its own, then those every spec of runs has.
BENCH_KEYS = ("tasks", "sizes", *specfields.SHARED_FIELDS)


class BenchError(ValueError):
    """A bad bench spec; the message names the field (and knob)."""


@dataclass(frozen=True)
class BenchSpec:
    """What to benchmark. `task_hypers` / `optimizer_hypers` map a task / optimizer name to
    knob values used for it (e.g. {"sgd": {"lr": 0.05}}); other knobs take their defaults."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    sizes: tuple[int, ...] = ()
    seeds: int = DEFAULT_SEEDS
    steps: int = DEFAULT_STEPS
    target: float | None = None
    target_fraction: float = DEFAULT_TARGET_FRACTION
    check_every: int | None = None
    dtype: str = "float64"
    task_hypers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    optimizer_hypers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    name: str | None = None
    #: Learning rates tuned per task ({task: {optimizer: lr}}, `tune_lrs`), over `lr_grid`;
    #: they override optimizer_hypers' lr for that task.
    tuned_lr: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    lr_grid: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        try:
            put("tasks", specfields.names("tasks", self.tasks, tasks))
            for name, value in specfields.check_shared(self, "benchmarked", self.tasks).items():
                put(name, value)
        except specfields.FieldError as err:
            raise BenchError(str(err)) from None
        if isinstance(self.sizes, str) or not isinstance(self.sizes, Sequence):
            raise BenchError(f"sizes must be a list of integers, got {_show(self.sizes)}")
        for s in self.sizes:
            if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
                raise BenchError(f"sizes must be integers >= 1, got {_show(s)}")
        put("sizes", tuple(int(s) for s in self.sizes))
        # Validate every combination now, so a bad knob fails before any training.
        for _, _, _, cfg in self.configs(seed=0):
            del cfg

    @property
    def steps_between_checks(self) -> int:
        """How often the evaluation loss is measured (steps)."""
        return self.check_every or max(1, self.steps // _CHECKS)

    def size_knob(self, task: str) -> str | None:
        return tasks.get(task).size_knob

    def configs(self, seed: int) -> list[tuple[str, int | None, str, RunConfig]]:
        """(task, size, optimizer, config) for every combination at `seed`, in bench order."""
        out = []
        for task in self.tasks:
            knob = self.size_knob(task)
            sizes: Sequence[int | None] = self.sizes if (knob and self.sizes) else [None]
            for size in sizes:
                task_knobs = dict(self.task_hypers.get(task, {}))
                if size is not None and knob is not None:
                    task_knobs[knob] = size
                for opt in self.optimizers:
                    try:
                        cfg = RunConfig(
                            task=task,
                            optimizer=opt,
                            seed=seed,
                            task_hypers=task_knobs,
                            optimizer_hypers=self._optimizer_knobs(task, opt),
                            dtype=self.dtype,
                            eval_every=self.steps_between_checks,
                        )
                    except RunConfigError as err:
                        where = task if err.field.startswith("task") else opt
                        raise BenchError(f"{where}: {err.detail}") from None
                    if size is None and knob is not None:
                        size = cfg.task_hypers[knob]
                    out.append((task, size, opt, cfg))
        return out

    def _optimizer_knobs(self, task: str, opt: str) -> dict[str, Any]:
        knobs = dict(self.optimizer_hypers.get(opt, {}))
        tuned = self.tuned_lr.get(task, {}).get(opt)
        if tuned is not None:
            knobs["lr"] = tuned
        return knobs

    def lr_of(self, task: str, opt: str) -> float | None:
        """The learning rate `opt` runs at on `task` (None: an optimizer with its own step
        size, such as Adadelta's)."""
        return self.configs_of(task, opt).lr

    def configs_of(self, task: str, opt: str) -> RunConfig:
        """The config of `opt` on `task` at seed 0 (its first size)."""
        return next(c for t, _, o, c in self.configs(0) if (t, o) == (task, opt))

    def notes(self) -> list[str]:
        """Remarks to print with the results (e.g. tasks that ignore --sizes)."""
        out = []
        if self.tuned_lr:
            grid = ", ".join(format_number(x, 3) for x in self.lr_grid)
            out.append(
                f"learning rates tuned per task and optimizer on the grid {grid}: the rate with "
                f"the lowest held-out loss after {self.steps} steps at seed 0 (column lr)"
            )
        if self.sizes:
            for task in self.tasks:
                if self.size_knob(task) is None:
                    out.append(f"{task} has no size knob: sizes ignored (ran at its own size)")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tasks": list(self.tasks),
            "optimizers": list(self.optimizers),
            "sizes": list(self.sizes),
            "seeds": self.seeds,
            "steps": self.steps,
            "target": self.target,
            "target_fraction": self.target_fraction,
            "check_every": self.steps_between_checks,
            "dtype": self.dtype,
            "task_hypers": {k: dict(v) for k, v in self.task_hypers.items()},
            "optimizer_hypers": {k: dict(v) for k, v in self.optimizer_hypers.items()},
            **(self._tuned_dict() if self.tuned_lr else {}),
        }

    def _tuned_dict(self) -> dict[str, Any]:
        tuned = {k: dict(v) for k, v in self.tuned_lr.items()}
        return {"tuned_lr": tuned, "lr_grid": list(self.lr_grid)}


# -- running ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRun:
    """One run of the benchmark."""

    task: str
    size_knob: str | None
    size: int | None
    optimizer: str
    seed: int
    steps: int  # updates done (fewer when it diverged)
    initial_loss: float  # evaluation loss at step 0
    final_loss: float | None  # evaluation loss after the last step (None if diverged)
    final_accuracy: float | None
    train_loss: float | None  # last mini-batch loss
    seconds_per_step: float | None
    diverged_at: int | None
    eval_steps: tuple[int, ...]  # where the evaluation loss was measured
    eval_losses: tuple[float, ...]
    outcome: Outcome | None = field(default=None, compare=False, repr=False)

    def steps_to(self, target: float) -> int | None:
        """First evaluation step whose eval loss is <= target (None if never): the
        definition races use (`engine.outcome`)."""
        if self.outcome is None:
            raise ValueError("this BenchRun has no outcome (read from a file?)")
        return self.outcome.steps_to(target)

    def as_dict(self) -> dict[str, Any]:
        """The run as written to JSON (its outcome's numbers are the fields)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "outcome"}
        out["eval_steps"], out["eval_losses"] = list(self.eval_steps), list(self.eval_losses)
        return out


@dataclass(frozen=True)
class BenchGroup:
    """The seeds of one (task, size, optimizer), summarised."""

    task: str
    size_knob: str | None
    size: int | None
    optimizer: str
    runs: int
    diverged: int
    final_loss_mean: float | None
    final_loss_std: float | None
    final_loss_min: float | None
    final_loss_max: float | None
    accuracy_mean: float | None
    target: float
    reached: int  # runs that reached the target
    steps_to_target_mean: float | None  # over the runs that reached it
    steps_to_target_min: int | None
    steps_to_target_max: int | None
    seconds_per_step_mean: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class BenchReport:
    spec: BenchSpec
    runs: tuple[BenchRun, ...]
    groups: tuple[BenchGroup, ...]
    notes: tuple[str, ...]
    seconds: float  # wall time of the whole benchmark


@dataclass(frozen=True)
class BenchProgress:
    """Reported while benchmarking: run `index` (1-based) of `total`, at `step` of `steps`."""

    index: int
    total: int
    task: str
    size: int | None
    optimizer: str
    seed: int
    step: int
    steps: int


def _bench_run(spec: BenchSpec, task: str, size: int | None, opt: str, result: TrainResult,
               seed: int) -> BenchRun:  # fmt: skip
    o = result.outcome
    return BenchRun(
        task=task,
        size_knob=spec.size_knob(task),
        size=size,
        optimizer=opt,
        seed=seed,
        steps=o.steps,
        initial_loss=o.initial_eval_loss,
        final_loss=o.final_eval_loss,
        final_accuracy=o.final_eval_accuracy,
        train_loss=o.batch_loss,
        seconds_per_step=o.seconds_per_step,
        diverged_at=o.diverged_at,
        eval_steps=result.eval_steps,
        eval_losses=result.eval_losses,
        outcome=o,
    )


def summarise(spec: BenchSpec, runs: Sequence[BenchRun]) -> list[BenchGroup]:
    """Group runs by (task, size, optimizer) and compute the statistics over seeds."""
    groups: list[BenchGroup] = []
    keys: list[tuple[str, int | None, str]] = []
    for r in runs:
        key = (r.task, r.size, r.optimizer)
        if key not in keys:
            keys.append(key)
    for task, size, opt in keys:
        mine = [r for r in runs if (r.task, r.size, r.optimizer) == (task, size, opt)]
        if spec.target is not None:
            target = spec.target
        else:
            # The initial loss depends on the task, its size and the seed, not the optimizer.
            same = [r for r in runs if (r.task, r.size) == (task, size)]
            target = spec.target_fraction * float(np.mean([r.initial_loss for r in same]))
        seeds = over_seeds([r.outcome for r in mine], target)
        groups.append(
            BenchGroup(
                task=task,
                size_knob=mine[0].size_knob,
                size=size,
                optimizer=opt,
                runs=seeds.runs,
                diverged=seeds.diverged,
                final_loss_mean=seeds.final_mean,
                final_loss_std=seeds.final_std,
                final_loss_min=seeds.final_min,
                final_loss_max=seeds.final_max,
                accuracy_mean=seeds.accuracy_mean,
                target=target,
                reached=seeds.reached,
                steps_to_target_mean=seeds.steps_mean,
                steps_to_target_min=seeds.steps_min,
                steps_to_target_max=seeds.steps_max,
                seconds_per_step_mean=seeds.seconds_per_step_mean,
            )
        )
    return groups


def run_bench(
    spec: BenchSpec,
    progress: Callable[[BenchProgress], None] | None = None,
    executor: Any = None,
    cancel: Any = None,
) -> BenchReport:
    """Run every (task, size, optimizer, seed) of `spec`, one fresh Run each: a sweep whose
    axes are task and size, on the job pipeline (`engine.jobs.run_jobs`).

    Without `executor`, in turn in this thread, `progress` (optional) called after every
    chunk of steps. With one (engine.executors), runs go to its workers and `progress` is
    called as each run finishes (index = runs finished so far, step = steps). `cancel` (a
    threading.Event) stops early: the report holds the runs that finished, and says so."""
    t0 = time.perf_counter()
    plan = [(seed, item) for seed in range(spec.seeds) for item in spec.configs(seed)]
    # Seed-major order interleaves optimizers, so machine noise spreads over all of them;
    # the report lists them grouped.
    total = len(plan)
    jobs = [TrainJob(cfg, spec.steps) for _, (_, _, _, cfg) in plan]

    def relay(p: JobProgress) -> None:
        if executor is not None and not p.finished:
            return
        seed, (task, size, opt, _) = plan[p.index]
        index = p.done if p.finished else p.done + 1
        progress(BenchProgress(index, total, task, size, opt, seed, p.step, p.steps))

    runs: list[BenchRun] = []
    for index, result in run_jobs(jobs, executor, relay if progress else None, cancel):
        seed, (task, size, opt, _) = plan[index]
        runs.append(_bench_run(spec, task, size, opt, result, seed))
    order = {(t, s, o): i for i, (t, s, o, _) in enumerate(spec.configs(0))}
    runs.sort(key=lambda r: (order[(r.task, r.size, r.optimizer)], r.seed))
    notes = spec.notes()
    if len(runs) < total:
        notes.append(f"interrupted: {len(runs)} of {total} runs finished")
    return BenchReport(
        spec=spec,
        runs=tuple(runs),
        groups=tuple(summarise(spec, runs)),
        notes=tuple(notes),
        seconds=time.perf_counter() - t0,
    )


def tune_lrs(
    spec: BenchSpec,
    grid: Sequence[float],
    executor: Any = None,
    cancel: Any = None,
) -> BenchSpec:
    """`spec` with each optimizer's learning rate tuned per task on `grid`: every (task,
    optimizer, rate) trains once at seed 0 (the first size) for spec.steps, and the rate with
    the lowest held-out loss at the end wins (a diverged run never does). Optimizers without
    an lr (their own step size) keep theirs. The spec's notes then say it was done."""
    grid = tuple(sorted({float(x) for x in grid}))
    if not grid or any(not (math.isfinite(x) and x > 0) for x in grid):
        raise BenchError(f"tune-lr grid must be positive numbers, got {_show(list(grid))}")
    plan = []
    for task in spec.tasks:
        for opt in spec.optimizers:
            cfg = spec.configs_of(task, opt)
            if cfg.lr is None:
                continue
            for lr in grid:
                try:
                    plan.append((task, opt, lr, cfg.with_knobs({"lr": lr})))
                except RunConfigError as err:
                    raise BenchError(f"tune-lr: {opt}: {err.detail}") from None
    jobs = [TrainJob(cfg, spec.steps) for _, _, _, cfg in plan]
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for index, result in run_jobs(jobs, executor, None, cancel):
        task, opt, lr, _ = plan[index]
        loss = result.outcome.final_eval_loss
        bad = loss is None or not math.isfinite(loss) or result.outcome.diverged_at is not None
        scores.setdefault((task, opt), []).append((math.inf if bad else loss, lr))
    tuned: dict[str, dict[str, float]] = {}
    for (task, opt), found in scores.items():
        tuned.setdefault(task, {})[opt] = min(found)[1]
    return dataclasses.replace(spec, tuned_lr=tuned, lr_grid=grid)


# -- output -------------------------------------------------------------------------------


def mean_and_spread(mean: float | None, sd: float | None) -> str:
    """ "0.2415 ± 0.013"; a spread that is zero to rounding (the same result for every seed,
    up to the last bits) shows as "± 0", not "± 3.4e-17"."""
    if mean is None:
        return "-"
    if sd is None or not math.isfinite(sd) or sd <= 1e-9 * max(abs(mean), 1e-300):
        return f"{format_number(mean, 4)} ± 0"
    return f"{format_number(mean, 4)} ± {format_number(sd, 2)}"


#: The table's columns and their priority when the terminal is narrow (0: always kept;
#: higher ranks are left out first, and the note says which).
_BENCH_COLUMNS = (
    ("task", 0),
    ("size", 2),
    ("optimizer", 0),
    ("lr", 0),  # what a comparison of optimizers at different rates needs to say
    ("eval loss (mean ± sd)", 0),
    ("accuracy", 3),
    ("target", 4),
    ("steps to target", 1),
    ("time/step", 5),
    ("diverged", 1),
)


def format_report(report: BenchReport, width: int | None = None) -> str:
    """The results table (one row per task, size and optimizer) with notes. With `width`
    (a terminal's), columns are left out by priority until the table fits, and a note says
    which; without it (a pipe, a file) the table is whole and parseable."""
    spec = report.spec
    has_size = any(g.size is not None for g in report.groups)
    has_acc = any(g.accuracy_mean is not None for g in report.groups)
    columns: dict[str, list[str]] = {name: [] for name, _ in _BENCH_COLUMNS}
    for g in report.groups:
        columns["task"].append(g.task)
        columns["size"].append("-" if g.size is None else f"{g.size_knob}={g.size}")
        columns["optimizer"].append(g.optimizer)
        lr = spec.lr_of(g.task, g.optimizer) if g.optimizer in spec.optimizers else None
        columns["lr"].append("own" if lr is None else format_number(lr, 3))
        columns["eval loss (mean ± sd)"].append(mean_and_spread(g.final_loss_mean,
                                                                g.final_loss_std))  # fmt: skip
        columns["accuracy"].append(
            "-" if g.accuracy_mean is None else f"{100 * g.accuracy_mean:.1f}%"
        )
        columns["target"].append(format_number(g.target, 4))
        columns["steps to target"].append(
            f"{g.steps_to_target_mean:.0f} ({g.reached}/{g.runs})"
            if g.reached
            else f"never (0/{g.runs})"
        )
        columns["time/step"].append(format_seconds(g.seconds_per_step_mean))
        columns["diverged"].append(f"{g.diverged}/{g.runs}" if g.diverged else "-")
    shown = [
        (name, rank)
        for name, rank in _BENCH_COLUMNS
        if (name != "size" or has_size) and (name != "accuracy" or has_acc)
    ]

    def table_width(cols: list[tuple[str, int]]) -> int:
        return sum(max(len(n), *(len(c) for c in columns[n])) for n, _ in cols) + 2 * (
            len(cols) - 1
        )

    left_out = []
    while width is not None and columns["task"] and table_width(shown) > width:
        worst = max(shown, key=lambda c: (c[1], -shown.index(c)))
        if worst[1] == 0:
            break
        shown.remove(worst)
        left_out.append(worst[0])
    headers = [name for name, _ in shown]
    rows = [[columns[name][i] for name in headers] for i in range(len(report.groups))]
    left = 3 if "size" in headers else 2
    lines = [format_table(headers, rows, left=left)]
    check = spec.steps_between_checks
    target = (
        f"target: loss {spec.target:g}"
        if spec.target is not None
        else f"target: {spec.target_fraction:g} x the initial loss"
    )
    seeds = "seed 0" if spec.seeds == 1 else f"seeds 0-{spec.seeds - 1}"
    every = "step" if check == 1 else f"{check} steps"
    notes = [
        f"{spec.steps} steps, {seeds}. Loss: evaluation loss (held-out data where the task "
        f"has it), checked every {every}; {target}; steps to target: the first evaluation at "
        f"or below it. Time/step excludes evaluation. Took {report.seconds:.1f} s."
    ]
    if left_out:
        notes.append(f"(left out to fit the terminal: {', '.join(left_out)})")
    notes += [f"note: {n}" for n in report.notes]
    lines.append("")
    for note in notes:
        lines.append(textwrap.fill(note, width or 88))
    return "\n".join(lines)


_GROUP_COLUMNS = tuple(BenchGroup.__dataclass_fields__)


def write_report(report: BenchReport, path: str | os.PathLike[str]) -> None:
    """Write the results: .csv (one row per group, the summary statistics) or .json (the
    spec, the groups and every run, including its evaluation curve)."""
    fmt = export_format(path)
    if fmt == "json":
        doc = {
            "format": "optplay-bench",
            "version": 1,
            "spec": report.spec.as_dict(),
            "seconds": report.seconds,
            "notes": list(report.notes),
            "groups": [g.as_dict() for g in report.groups],
            "runs": [r.as_dict() for r in report.runs],
        }
        write_text_atomic(Path(path), json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_GROUP_COLUMNS)
    for g in report.groups:
        writer.writerow(
            [
                ""
                if v is None
                else repr(v)
                if isinstance(v, float)
                else for_spreadsheet(v)
                if isinstance(v, str)
                else v
                for v in (getattr(g, k) for k in _GROUP_COLUMNS)
            ]
        )
    write_text_atomic(Path(path), buf.getvalue())


# -- spec files ---------------------------------------------------------------------------


def loads_spec(text: str | SpecFile, source: str = "<string>") -> BenchSpec:
    """Parse a bench spec file::

        name = "optimizer benchmark"      # optional
        [bench]
        tasks = ["blobs-mlp"]
        optimizers = ["sgd", "momentum", "adam"]
        sizes = [10, 50, 100]             # optional: values of each task's size knob
        seeds = 3                         # seeds 0 .. seeds-1
        steps = 1000
        target_fraction = 0.1             # or: target = 0.25 (an absolute loss)
        check_every = 10                  # optional; default steps // 100
        dtype = "float64"

        [bench.optimizer_hypers.sgd]      # optional, per optimizer
        lr = 0.01
        [bench.task_hypers.blobs-mlp]     # optional, per task
        hidden = 64

    `text` may be a file `engine.specfile` parsed already (it names itself). Errors are
    ConfigError naming the file, the table, the key and the line."""
    spec = text if isinstance(text, SpecFile) else specfile.parse(text, source)
    data = spec.data
    unknown = [k for k in data if k not in ("name", "bench")]
    if unknown:
        raise spec.error(
            f"unknown key {_show(unknown[0])} in a bench file (expected: name, [bench])",
            spec.line(None, unknown[0]),
            unknown[0],
        )
    if not spec.has_table("bench"):
        raise spec.error("missing the [bench] table", None, "bench")
    bench = data["bench"]
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise spec.error(
            f"name must be a string, got {_show(name)}", spec.line(None, "name"), "name"
        )
    unknown = [k for k in bench if k not in BENCH_KEYS]
    if unknown:
        raise spec.error(
            f"[bench] unknown key {_show(unknown[0])} (expected one of: {', '.join(BENCH_KEYS)})",
            spec.line("bench", unknown[0]),
            unknown[0],
        )
    kwargs = dict(bench)
    for key in ("tasks", "optimizers", "sizes"):
        if key in kwargs and isinstance(kwargs[key], list):
            kwargs[key] = tuple(kwargs[key])
    try:
        return BenchSpec(name=name, **kwargs)
    except BenchError as err:
        key = str(err).split(" ", 1)[0].rstrip(":")
        line = spec.line("bench", key) if key in BENCH_KEYS else None
        raise spec.error(f"[bench] {err}", line, key) from None


def load_spec(path: str | os.PathLike[str]) -> BenchSpec:
    """Read a bench spec file (within bounds, as experiment files: `engine.specfile.read`)."""
    return loads_spec(specfile.read(path, "bench"))


def is_bench_text(text: str) -> bool:
    """Whether TOML text is a bench spec (has a [bench] table) rather than an experiment."""
    try:
        return specfile.parse(text).has_table("bench")
    except specfile.ConfigError:  # left to the experiment parser's message
        return False
