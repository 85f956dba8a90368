"""One job pipeline: bench, sweeps, lesson seeds and a race's lanes run headless are all lists of
jobs, run by `run_jobs` on any executor of `engine.executors` (serial, a process pool, a Dask
cluster) with the same numbers on each.

    from engine.jobs import TrainJob, executor_for, run_jobs

    jobs = [TrainJob(config, steps=300) for config in configs]      # small, picklable specs
    with executor_for(dask=None, workers=None, runs=len(jobs)) as executor:
        for index, result in run_jobs(jobs, executor, progress, cancel):
            result.outcome.final_eval_loss, result.outcome.steps_to(0.1)   # engine.outcome

A front end (bench, sweep, lessons) only makes its jobs and groups and reports the results:

- `TrainJob(config, steps, series, measure)`: train a fresh `Run(config)` for `steps` updates
  (fewer if it diverges) at full resolution, evaluate at the end (`outcome.evaluate_at_end`)
  and return a `TrainResult`: the run's `Outcome`, its eval series as recorded, the named
  `series` (steps and values, e.g. ("loss", "update_norm")), and `measure(run)` when given (a
  picklable callable, e.g. a lesson's metrics, for what needs the finished run itself).
- `run_jobs(jobs, executor, progress, cancel)` yields `(index into jobs, result)` in
  completion order, each index once (a job a lost Dask worker had is run again by Dask, and
  only its first result counts). `progress(JobProgress)` is called as each job finishes, and
  also between chunks of steps when no executor is given (jobs then run in this thread).
  `cancel` (a threading.Event, set from any thread) stops it: jobs in flight stop between
  chunks of steps, the results that came back stay yielded, then the iterator ends.
- A job depends only on its `RunConfig` and `steps`, so a result is bit-identical whichever
  executor ran it (timing fields aside: `run_seconds`, `cpu_seconds`, `worker`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.executors import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    Stopped,
    machine_workers,
    stop_requested,
)
from engine.outcome import TARGET_SERIES, Outcome, evaluate_at_end, outcome_of
from engine.run import Run, RunConfig

#: Updates between checks for a stop request when a run does not evaluate (eval_every 0).
STOP_CHECK_STEPS = 256
#: Seconds between refreshes of a shared executor's description (its worker count).
DESCRIBE_SECONDS = 1.0


@dataclass(frozen=True)
class TrainJob:
    """Train `config` for `steps` updates and report its outcome (see the module docstring)."""

    config: RunConfig
    steps: int
    series: tuple[str, ...] = ()  # history series to send back, at full resolution
    measure: Callable[[Run], Any] | None = None  # called on the finished run, in the worker
    evaluate_at_end: bool = True  # the rule of `engine.outcome.evaluate_at_end`


@dataclass(frozen=True)
class TrainResult:
    """What a worker sends back for a TrainJob: plain numbers, small and picklable."""

    outcome: Outcome
    eval_steps: tuple[int, ...]  # the eval series as recorded (the evaluation at the end too)
    eval_losses: tuple[float, ...]
    series: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...]  # (name, steps, values)
    measured: Any  # `measure(run)`, None without one
    run_seconds: float  # wall time of the whole job in the worker (build, steps, evaluation)
    cpu_seconds: float  # CPU time of its thread (< run_seconds when it waited for a core)
    worker: str  # host:pid of the process that ran it

    def values(self, name: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(steps, values) of a series the job asked for."""
        for key, steps, values in self.series:
            if key == name:
                return steps, values
        raise KeyError(f"series {name!r} was not asked for (asked: {self.series_names})")

    @property
    def series_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.series)


def train(job: TrainJob, report: Callable[[int], None] | None = None) -> TrainResult:
    """Run one TrainJob (the function executors send to workers). Checks `stop_requested()`
    between chunks of steps and raises Stopped when asked; `report(step)` (in-thread runs
    only) is called before the first and after every chunk."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    # Full resolution: the series sent back are exact, whatever their length.
    run = Run(job.config, history_capacity=None)
    every = job.config.eval_every or min(job.steps, STOP_CHECK_STEPS)
    if report is not None:
        report(0)
    while run.steps_done < job.steps and run.diverged_at is None:
        if stop_requested():
            raise Stopped
        run.advance(min(every, job.steps - run.steps_done))
        if report is not None:
            report(run.steps_done)
    if job.evaluate_at_end:
        evaluate_at_end(run)
    history = run.history
    ev = history.buckets(TARGET_SERIES)
    series = []
    for name in job.series:
        b = history.buckets(name)
        series.append((name, tuple(int(s) for s in b.steps), tuple(float(x) for x in b.lasts)))
    return TrainResult(
        outcome=outcome_of(run),
        eval_steps=tuple(int(s) for s in ev.steps),
        eval_losses=tuple(float(x) for x in ev.lasts),
        series=tuple(series),
        measured=job.measure(run) if job.measure is not None else None,
        run_seconds=time.perf_counter() - started,
        cpu_seconds=time.thread_time() - cpu_started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


@dataclass(frozen=True)
class JobProgress:
    """Reported while jobs run: job `index` (into the jobs) is at `step` of `steps`;
    `finished` when this report is that job's end; `done` of `total` jobs have finished."""

    index: int
    done: int
    total: int
    step: int
    steps: int
    finished: bool


def _steps_of(job: Any) -> int:
    return int(getattr(job, "steps", 0) or 0)


def run_jobs(
    jobs: Sequence[Any],
    executor: Executor | None = None,
    progress: Callable[[JobProgress], None] | None = None,
    cancel: threading.Event | None = None,
    fn: Callable[[Any], Any] = train,
) -> Iterator[tuple[int, Any]]:
    """Run `fn` (default `train`) on every job through `executor` (None: in this thread, with
    progress between chunks of steps) and yield (index, result) as each finishes, each index
    once. See the module docstring for progress and cancelling; a failing job raises
    `engine.executors.JobError` after the results before it."""
    cancel = cancel if cancel is not None else threading.Event()
    total = len(jobs)
    seen: set[int] = set()
    if executor is None and fn is train and progress is not None:
        # In this thread: say how far the running job is, between its chunks of steps.
        current = {"index": 0}

        def stepwise(job: TrainJob) -> TrainResult:
            index = current["index"]

            def report(step: int) -> None:
                progress(JobProgress(index, len(seen), total, step, job.steps, False))

            try:
                return train(job, report)
            finally:
                current["index"] += 1

        fn = stepwise
    runner = executor if executor is not None else SerialExecutor()
    for index, result in runner.map_unordered(fn, jobs, cancel):
        if index in seen:  # a retried job's second result
            continue
        seen.add(index)
        if progress is not None:
            steps = _steps_of(jobs[index])
            progress(JobProgress(index, len(seen), total, steps, steps, True))
        yield index, result


def executor_for(
    dask: str | None = None, workers: int | None = None, runs: int | None = None
) -> Executor:
    """The executor for a list of jobs: a Dask cluster when `dask` is given (an address, or
    "local" for a LocalCluster of `workers` processes), else a process pool of `workers`
    (default one per core, never more than `runs`), or this process when that is one.
    Raises ExecutorError (one line naming --dask or --workers) when it cannot be set up."""
    from engine.executors import ExecutorError

    if dask is not None:
        if workers is not None and dask != "local":
            raise ExecutorError(
                "--workers: the cluster at --dask ADDRESS has its own workers "
                "(--workers sizes --dask local only)"
            )
        return DaskExecutor(dask, workers=workers)
    n = workers or machine_workers()
    if runs is not None:
        n = min(n, max(1, runs))
    return SerialExecutor() if n == 1 else ProcessExecutor(n)


def lane_jobs(configs: Sequence[RunConfig], steps: int, **kwargs: Any) -> list[TrainJob]:
    """A race's lanes run headless: one TrainJob each (`kwargs`: TrainJob's other fields)."""
    return [TrainJob(cfg, steps, **kwargs) for cfg in configs]


def seed_jobs(
    configs: Sequence[RunConfig], steps: int, seeds: Sequence[int], **kwargs: Any
) -> list[TrainJob]:
    """Lanes over paired seeds (a lesson's seeds): every config at each seed, seed-major, so
    job `i` is lane `i % len(configs)` at seed `seeds[i // len(configs)]`; every lane of a
    seed shares that seed's data, initial parameters and batches."""
    return [TrainJob(cfg.replace(seed=seed), steps, **kwargs) for seed in seeds for cfg in configs]


class SharedExecutor:
    """One executor that many job lists share (the app's Dask cluster: every sweep and lesson
    seed of a session runs on it). Made by `make()` on first use, in the thread that runs the
    jobs (starting a LocalCluster takes seconds; a UI thread must not wait for it); `close()`
    does nothing, so each user may `with` it as it does a fresh executor; `shutdown()` closes
    the one it made. Thread-safe."""

    def __init__(self, make: Callable[[], Executor], label: str) -> None:
        self._make = make
        self.label = label  # what it is before it starts, e.g. "dask local"
        self._inner: Executor | None = None
        self._lock = threading.Lock()
        self._description: str | None = None  # refreshed by the thread running jobs
        self._described_at = 0.0

    @property
    def kind(self) -> str:
        return self._inner.kind if self._inner is not None else "dask"

    @property
    def started(self) -> bool:
        return self._inner is not None

    def executor(self) -> Executor:
        """The shared executor, made now if it is not yet (ExecutorError if it cannot be)."""
        with self._lock:
            if self._inner is None:
                self._inner = self._make()
            return self._inner

    @property
    def workers(self) -> int:
        return self.executor().workers

    def describe(self) -> str:
        """Where jobs run and how many workers ("dask (local cluster), 2 worker threads"),
        or "dask local (starting…)" before its first jobs. Never waits for the cluster (a
        screen redraws with it): the thread running jobs refreshes it about once a second."""
        if self._description is None:
            return f"{self.label} (starting…)"
        return self._description

    def _refresh(self, inner: Executor, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._described_at >= DESCRIBE_SECONDS:
            self._described_at = now
            self._description = inner.describe()  # asks the scheduler how many workers

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        jobs: Sequence[Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, Any]]:
        inner = self.executor()
        self._refresh(inner, force=True)
        for item in inner.map_unordered(fn, jobs, cancel):
            self._refresh(inner)
            yield item

    def __enter__(self) -> SharedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kept for the next jobs (see `shutdown`)."""

    def shutdown(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
            self._description = None
        if inner is not None:
            inner.close()
