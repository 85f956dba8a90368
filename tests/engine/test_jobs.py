"""One job pipeline: bench, sweep and lesson-seed rows are bit-identical serially, on a process
pool and on a real 2-worker Dask LocalCluster; results stream in completion order, each once;
cancelling keeps finished rows; a Dask worker killed mid-sweep loses no row."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from engine import lessons
from engine.bench import BenchSpec, run_bench
from engine.executors import ExecutorError, ProcessExecutor, SerialExecutor
from engine.jobs import (
    JobProgress,
    SharedExecutor,
    TrainJob,
    executor_for,
    lane_jobs,
    run_jobs,
    seed_jobs,
)
from engine.run import Run, RunConfig
from engine.sweep import Sweep, SweepSpec

SWEEP = dict(
    task="digits-mlp", optimizers=("sgd", "adam"), grid={"lr": "1e-3:1:3"}, steps=30,
    seeds=2, check_every=10, task_hypers={"hidden": 16},
)  # fmt: skip
BENCH = BenchSpec(
    tasks=("quadratic", "blobs-mlp"), optimizers=("sgd", "adam"), sizes=(4, 8), seeds=2,
    steps=40, check_every=10,
)  # fmt: skip
TIMING = ("seconds_per_update", "run_seconds", "cpu_seconds", "worker", "seconds_per_step")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[dask]'")
    from engine.executors import DaskExecutor

    executor = DaskExecutor("local", workers=2)
    yield executor
    executor.close()


def sweep_rows(report):
    return [
        (r.index, r.optimizer, r.seed, r.knobs, r.target,
         {k: v for k, v in vars(r.score).items() if k not in TIMING})
        for r in report.rows
    ]  # fmt: skip


def bench_rows(report):
    runs = [{k: v for k, v in r.as_dict().items() if k not in TIMING} for r in report.runs]
    groups = [{k: v for k, v in g.as_dict().items() if "seconds" not in k} for g in report.groups]
    return runs, groups


def lesson_jobs():
    """momentum-ravine's two lanes over 3 paired seeds, measured as the lesson measures."""
    lesson = lessons.load("momentum-ravine")
    configs = [e.config for e in lesson.entries]
    metric = lesson.measure.metric
    return seed_jobs(configs, 120, range(3), series=("loss",), measure=metric.value)


def lesson_rows(jobs, executor):
    rows = {}
    for index, result in run_jobs(jobs, executor):
        o = {k: v for k, v in vars(result.outcome).items() if k not in TIMING}
        rows[index] = (o, result.series, result.measured, result.eval_losses)
    return [rows[i] for i in sorted(rows)]


def test_bench_sweep_and_lesson_seeds_are_bit_identical_on_every_executor(cluster):
    sweep_spec = SweepSpec(**SWEEP)
    jobs = lesson_jobs()
    serial = (
        sweep_rows(Sweep(sweep_spec).run()),
        bench_rows(run_bench(BENCH)),
        lesson_rows(jobs, None),
    )
    with ProcessExecutor(workers=2) as pool:
        on_pool = (
            sweep_rows(Sweep(sweep_spec, pool).run()),
            bench_rows(run_bench(BENCH, executor=pool)),
            lesson_rows(jobs, pool),
        )
    on_dask = (
        sweep_rows(Sweep(sweep_spec, cluster).run()),
        bench_rows(run_bench(BENCH, executor=cluster)),
        lesson_rows(jobs, cluster),
    )
    assert on_pool == serial
    assert on_dask == serial
    # A lesson seed's row is the run done by hand: the same series and the same measurement.
    (outcome, series, measured, _) = serial[2][1]  # lane 1 (momentum) at seed 0
    run = Run(jobs[1].config, history_capacity=None)
    run.step(120)
    assert series[0][2] == tuple(run.history.buckets("loss").lasts.tolist())
    assert measured == lessons.load("momentum-ravine").measure.metric.value(run)
    assert outcome["best_batch_loss"] == float(run.history.buckets("loss").mins.min())


def test_results_stream_in_completion_order_with_progress_each_once():
    cfg = RunConfig(task="quadratic", optimizer="sgd", eval_every=5)
    jobs = [*lane_jobs([cfg, cfg.replace(optimizer="adam")], 20), TrainJob(cfg, 10)]
    seen: list[JobProgress] = []
    out = list(run_jobs(jobs, None, seen.append))
    assert [i for i, _ in out] == [0, 1, 2]
    finished = [p for p in seen if p.finished]
    assert [(p.index, p.done, p.step) for p in finished] == [(0, 1, 20), (1, 2, 20), (2, 3, 10)]
    # In this thread progress also comes between chunks of steps: 0, 5, 10, ... of job 0.
    assert [p.step for p in seen if p.index == 0 and not p.finished] == [0, 5, 10, 15, 20]
    assert out[2][1].outcome.steps == 10 and out[2][1].outcome.eval_step == 10


def test_a_cancelled_pipeline_keeps_the_rows_that_finished():
    cfg = RunConfig(task="quadratic", optimizer="sgd", eval_every=5)
    jobs = [TrainJob(cfg, 10), TrainJob(cfg, 10), TrainJob(cfg, 200_000), TrainJob(cfg, 10)]
    cancel = threading.Event()
    rows = []
    for index, _ in run_jobs(jobs, SerialExecutor(), cancel=cancel):
        rows.append(index)
        if index == 1:
            threading.Timer(0.2, cancel.set).start()  # while the long job runs
    assert rows == [0, 1]


def test_executor_for_chooses_serial_pool_or_dask_and_names_bad_flags():
    assert executor_for(workers=1).kind == "serial"
    assert executor_for(runs=1).kind == "serial"
    with executor_for(workers=2, runs=5) as pool:
        assert pool.kind == "process pool" and pool.workers == 2
    with pytest.raises(ExecutorError, match=r"^--workers: the cluster at --dask ADDRESS"):
        executor_for(dask="tcp://127.0.0.1:1", workers=2)


def test_a_worker_killed_mid_sweep_loses_no_row(cluster):
    spec = SweepSpec(**{**SWEEP, "steps": 400, "seeds": 2})
    serial = sweep_rows(Sweep(spec).run())
    pids = set(cluster.client.run(os.getpid).values())
    sweep = Sweep(spec, cluster)
    killed = []
    for row in sweep.results():
        if not killed:  # the first row is in: kill its worker, which has more runs in flight
            victim = int(row.score.worker.rsplit(":", 1)[1])
            assert victim in pids
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
    report = sweep.report()
    assert killed and len(report.rows) == spec.total_runs
    assert sorted(r.index for r in report.rows) == list(range(spec.total_runs))
    assert sweep_rows(report) == serial
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next test


def test_a_shared_executor_is_made_on_first_use_kept_and_shut_down():
    made: list[str] = []

    def make():
        made.append("made")
        if len(made) == 1:
            raise ExecutorError("--dask tcp://nowhere:1: no Dask scheduler answered")
        return SerialExecutor()

    shared = SharedExecutor(make, "dask tcp://nowhere:1")
    assert shared.describe() == "dask tcp://nowhere:1 (starting…)" and made == []
    jobs = [TrainJob(RunConfig(task="quadratic", optimizer="sgd"), 5)]
    with pytest.raises(ExecutorError, match="no Dask scheduler answered"), shared:
        list(run_jobs(jobs, shared))
    for _ in range(2):  # the next jobs try again, then the executor is kept: made once more
        with shared:
            assert [i for i, _ in run_jobs(jobs, shared)] == [0]
    assert made == ["made", "made"] and shared.describe() == "serial (this process)"
    shared.shutdown()
    assert not shared.started and shared.describe() == "dask tcp://nowhere:1 (starting…)"
