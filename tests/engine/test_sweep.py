"""Sweeps: grids, validation, scoring, and the same numbers serially, on a process pool and on
a real Dask LocalCluster; cancelling keeps finished rows; files in and out."""

from __future__ import annotations

import csv
import json
import math
import sys
import threading

import pytest

from engine import optimizers, presets, schedules, tasks
from engine.config import ConfigError
from engine.executors import JobError, ProcessExecutor, SerialExecutor, _Chunker, _ChunkResult
from engine.run import Run
from engine.sweep import (
    MAX_RUNS,
    Sweep,
    SweepError,
    SweepSpec,
    best_points,
    parse_grid,
    run_job,
    summarise,
)
from engine.sweep_io import format_report, is_sweep_text, load_spec, loads_spec, write_results

#: Small and fast, but a real network on real data: digits with 16 hidden units.
SMALL = dict(
    task="digits-mlp",
    optimizers=("sgd", "adam"),
    grid={"lr": "1e-3:1:4"},
    steps=30,
    seeds=2,
    check_every=10,
    task_hypers={"hidden": 16},
)
TIMING = ("seconds_per_update", "run_seconds", "cpu_seconds", "worker")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def lr_spec():
    return next(h for h in optimizers.specs("adam") if h.name == "lr")


def spec_of(name: str, opt: str = "adam"):
    return next(h for h in optimizers.specs(opt) if h.name == name)


def scores(rows):
    """Every number of every row that does not depend on where or how fast it ran."""
    out = []
    for row in sorted(rows, key=lambda r: r.index):
        fields = {k: v for k, v in row.score.__dict__.items() if k not in TIMING}
        out.append((row.index, row.optimizer, row.seed, row.knobs, row.target, fields))
    return out


def by_hand(row, steps):
    """The same run done one by one with Run: its evaluation curve and last batch loss."""
    run = Run(row.config, history_capacity=None)
    run.step(steps)
    ev = run.history.buckets("eval_loss")
    return ev.steps.tolist(), ev.lasts.tolist(), run.history.last("loss"), run.diverged_at


# -- grids --------------------------------------------------------------------------------------


def test_a_log_grid_of_lr_has_exact_ends_and_even_ratios():
    axis = parse_grid("lr", "1e-4:1e1:13", lr_spec())
    assert axis.scale == "log" and len(axis.values) == 13
    assert axis.values[0] == 1e-4 and axis.values[-1] == 10.0
    ratios = [b / a for a, b in zip(axis.values, axis.values[1:], strict=False)]
    assert all(math.isclose(r, 10 ** (5 / 12), rel_tol=1e-5) for r in ratios)
    # Rounded to 6 significant digits, so a printed value types back to the same float.
    assert all(float(f"{v:.6g}") == v for v in axis.values)


def test_linear_grids_lists_and_integer_knobs():
    axis = parse_grid("momentum", "0:0.99:8", spec_of("momentum", "sgd"))
    assert axis.scale == "linear" and axis.values[0] == 0.0 and axis.values[-1] == 0.99
    assert len(axis.values) == 8 and math.isclose(axis.values[1], 0.99 / 7, rel_tol=1e-5)
    assert parse_grid("beta1", "0.8, 0.9,0.99", spec_of("beta1")).values == (0.8, 0.9, 0.99)
    assert parse_grid("beta1", [0.9, 0.5], spec_of("beta1")).values == (0.9, 0.5)
    # A log-scale knob can be spaced linearly, and a linear one logarithmically.
    assert parse_grid("lr", "0.1:0.3:3:linear", lr_spec()).values == (0.1, 0.2, 0.3)
    assert parse_grid("beta1", "0.01:0.1:2:log", spec_of("beta1")).scale == "log"
    hidden = next(h for h in tasks.specs("digits-mlp") if h.name == "hidden")
    assert parse_grid("task.hidden", "8:16:3", hidden).values == (8, 12, 16)
    assert parse_grid("task.hidden", "8:9:4", hidden).values == (8, 9)  # rounded, deduplicated
    amsgrad = spec_of("amsgrad")
    axis = parse_grid("amsgrad", "false,true", amsgrad)
    assert axis.values == (False, True) and axis.scale == "category"


@pytest.mark.parametrize(
    ("knob", "text", "message"),
    [
        ("lr", "", "lr: the grid is empty"),
        ("lr", ",", "lr: the grid is empty"),
        ("lr", "1e-4:1:0", "lr: the grid is empty (N = 0)"),
        ("lr", "0:1:5", "lr: a log grid needs A and B > 0"),
        ("lr", "1e-4:1", "lr: expected A:B:N"),
        ("lr", "a:1:3", "lr: A and B of A:B:N must be numbers"),
        ("lr", "0.1:1:3:cubic", "must be log or linear"),
        ("lr", "0.1,,0.2", "lr: an empty value in the list"),
        ("lr", "-1,0.1", "lr must be a number in (0, inf), got '-1'"),
        ("beta1", "0.5,1.5", "beta1 must be a number in [0, 1), got '1.5'"),
        ("beta1", "0.5:1:3", "beta1 must be a number in [0, 1), got 1.0"),
    ],
)
def test_bad_grids_name_the_knob(knob, text, message):
    with pytest.raises(SweepError) as err:
        parse_grid(knob, text, spec_of(knob) if knob != "lr" else lr_spec())
    assert message in str(err.value)
    assert err.value.field == "grid" and err.value.key == knob


# -- the spec ------------------------------------------------------------------------------------


def test_the_plan_is_every_seed_point_and_optimizer_in_that_order():
    spec = SweepSpec(
        **{
            **SMALL,
            "optimizers": ("adam", "adamw"),
            "grid": {"lr": "1e-3:1e-1:3", "beta1": "0.8,0.9"},
        }
    )
    plan = spec.plan()
    assert spec.total_runs == len(plan) == 2 * 3 * 2 * 2
    assert [p.index for p in plan] == list(range(len(plan)))
    assert [(p.seed, p.point, p.optimizer) for p in plan[:4]] == [
        (0, (0.001, 0.8), "adam"),
        (0, (0.001, 0.8), "adamw"),
        (0, (0.001, 0.9), "adam"),
        (0, (0.001, 0.9), "adamw"),
    ]
    for p in plan:
        assert (p.config.seed, p.config.lr, p.config.optimizer_hypers["beta1"]) == (
            p.seed,
            *p.point,
        )
        assert p.config.eval_every == 10 and p.config.task_hypers["hidden"] == 16
    # adamw keeps its own default weight decay: knobs are per optimizer, never carried over.
    assert {p.config.optimizer_hypers["weight_decay"] for p in plan if p.optimizer == "adamw"} == {
        0.01
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"grid": {"momentum": "0:0.9:3"}},
            "grid: momentum: unknown knob 'momentum' (task digits-mlp: hidden, batch_size; "
            "optimizer adam: lr, beta1,",
        ),
        ({"grid": {}}, "grid: nothing to sweep"),
        ({"grid": {"lr": "0.1", "beta1": "0.9", "eps": "1e-8"}}, "at most 2 knobs"),
        ({"grid": {"lr": "0.1", "optimizer.lr": "0.2"}}, "optimizer knob 'lr' is swept twice"),
        ({"grid": {"nope": "1,2"}}, "grid: nope: unknown knob 'nope'"),
        ({"optimizers": ("sgd", "nope")}, "optimizers: unknown optimizer 'nope'"),
        ({"optimizers": ()}, "optimizers must be a non-empty list"),
        ({"steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"seeds": 1.5}, "seeds must be an integer >= 1"),
        ({"target_fraction": 1.0}, "target_fraction must be a number in (0, 1)"),
        ({"task": "nope"}, "task: unknown task 'nope'"),
        ({"optimizer_hypers": {"adam": {"beta2": 2}}}, "optimizer_hypers: adam: beta2 must be"),
        ({"optimizer_hypers": {"nadam": {}}}, "'nadam' is not one of the swept optimizers"),
        ({"task_hypers": {"hidden": 0}}, "hidden must be an integer in [1,"),
    ],
)
def test_bad_specs_name_the_field(changes, message):
    with pytest.raises(SweepError) as err:
        SweepSpec(**{**SMALL, "optimizers": ("adam",), **changes})
    assert message in str(err.value)


def test_a_knob_only_some_optimizers_have_is_refused_with_a_hint():
    with pytest.raises(SweepError, match=r"optimizer sgd has no knob 'beta1'.*with adam only"):
        SweepSpec(**{**SMALL, "grid": {"beta1": "0.8,0.9"}})


def test_a_schedule_runs_over_the_sweep_unless_told_otherwise():
    spec = SweepSpec(**{**SMALL, "schedule": "cosine"})
    assert {p.config.schedule_hypers["total_steps"] for p in spec.plan()} == {30}
    spec = SweepSpec(**{**SMALL, "schedule": "cosine", "schedule_hypers": {"total_steps": 99}})
    assert {p.config.schedule_hypers["total_steps"] for p in spec.plan()} == {99}
    assert "total_steps" not in {h.name for h in schedules.specs("constant")}


def test_fixed_and_swept_knobs_land_in_the_right_tables():
    spec = SweepSpec(
        **{
            **SMALL,
            "grid": {"lr": "0.01,0.1", "task.batch_size": "8,16"},
            "optimizer_hypers": {"adam": {"beta2": 0.99}},
        }
    )
    adam = [p.config for p in spec.plan() if p.optimizer == "adam"]
    assert {c.optimizer_hypers["beta2"] for c in adam} == {0.99}
    assert {(c.lr, c.task_hypers["batch_size"]) for c in adam} == {
        (0.01, 8),
        (0.01, 16),
        (0.1, 8),
        (0.1, 16),
    }
    assert {c.task_hypers["hidden"] for c in adam} == {16}


# -- running: the same numbers wherever a run runs ----------------------------------------------


def test_rows_equal_the_same_runs_done_one_by_one_with_run():
    spec = SweepSpec(**SMALL)
    report = Sweep(spec).run()
    assert len(report.rows) == spec.total_runs == 2 * 4 * 2
    for row in report.rows:
        steps, losses, train_loss, diverged_at = by_hand(row, spec.steps)
        assert list(row.score.eval_steps[: len(steps)]) == steps
        assert list(row.score.eval_losses[: len(losses)]) == losses  # bit-identical
        assert row.score.train_loss == train_loss
        assert row.score.diverged_at == diverged_at
        if diverged_at is None:
            assert row.score.final_loss == losses[-1]
            assert row.score.best_loss == min(losses[1:])
    assert report.executor == "serial (this process)" and not report.cancelled


def test_serial_and_process_pool_give_bit_identical_rows():
    spec = SweepSpec(**SMALL)
    serial = Sweep(spec, SerialExecutor()).run()
    with ProcessExecutor(workers=2) as pool:
        pooled = Sweep(spec, pool).run()
        again = Sweep(spec, pool).run()  # a pool is reused by later sweeps
    assert scores(pooled.rows) == scores(serial.rows) == scores(again.rows)
    workers = {r.score.worker for r in pooled.rows}
    assert len(workers) >= 1 and all(w.split(":")[-1].isdigit() for w in workers)
    assert all(r.score.seconds_per_update > 0 for r in pooled.rows)


def loaded_ui_modules(_job):
    """A job that reports which UI libraries its worker has imported."""
    return sorted(m for m in ("textual", "rich", "plotext", "tui") if m in sys.modules)


def failing_job(job):
    if job == 2:
        raise ValueError("bad job")
    return job


def test_pool_workers_import_only_the_engine():
    with ProcessExecutor(workers=2) as pool:
        results = dict(pool.map_unordered(loaded_ui_modules, [0, 1, 2, 3]))
    assert results == {0: [], 1: [], 2: [], 3: []}


def test_a_failing_job_is_reported_with_its_index():
    with pytest.raises(JobError, match="job 2 failed: ValueError: bad job"):
        list(SerialExecutor().map_unordered(failing_job, [0, 1, 2, 3]))
    with ProcessExecutor(workers=2) as pool, pytest.raises(JobError) as err:
        list(pool.map_unordered(failing_job, [0, 1, 2, 3]))
    assert err.value.index == 2 and "raise ValueError" in err.value.remote_traceback


def test_chunks_grow_from_one_job_to_the_measured_time_and_stay_shared():
    chunker = _Chunker(workers=2, chunk_seconds=0.2)
    assert chunker.size(100) == 1  # nothing measured yet
    chunker.observe(_ChunkResult([(0, None)], seconds=0.01))
    assert chunker.size(100) == 20  # 0.2 s of 10 ms jobs
    assert chunker.size(12) == 3  # never more than an even share of what is left
    chunker.observe(_ChunkResult([(1, None)], seconds=1.0))
    assert chunker.size(100) == 1  # slow jobs go one at a time


def test_cancelling_mid_sweep_keeps_the_finished_rows():
    spec = SweepSpec(**{**SMALL, "grid": {"lr": "1e-3:1:8"}, "steps": 60})
    for executor in (SerialExecutor(), ProcessExecutor(workers=2)):
        with executor:
            sweep = Sweep(spec, executor)
            seen = []
            for row in sweep.results():
                seen.append(row)
                if len(seen) == 3:
                    sweep.cancel()
            report = sweep.report()
        assert 3 <= len(report.rows) < spec.total_runs, executor.kind
        assert report.cancelled and "cancelled" in format_report(report)
        for row in report.rows:  # every kept row is a whole, correct run
            _, losses, train_loss, _ = by_hand(row, spec.steps)
            assert list(row.score.eval_losses[: len(losses)]) == losses
            assert row.score.train_loss == train_loss and row.score.steps == spec.steps


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(workers=2)])
def test_cancel_from_another_thread_stops_runs_in_flight(make):
    # 4 runs of 200,000 steps (tens of seconds each), cancelled after half a second.
    spec = SweepSpec(**{**SMALL, "grid": {"lr": "1e-3:1e-2:2"}, "steps": 200_000, "seeds": 1})
    with make() as executor:
        sweep = Sweep(spec, executor)
        timer = threading.Timer(0.5, sweep.cancel)
        timer.start()
        rows = list(sweep.results())
        timer.join()
    assert rows == [] and sweep.cancelled and sweep.seconds < 5


# -- Dask (a real LocalCluster: two worker processes on loopback) -------------------------------


def test_dask_local_cluster_gives_bit_identical_rows():
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed: pip install -e '.[dask]'"
    )
    from engine.executors import DaskExecutor

    spec = SweepSpec(**SMALL)
    serial = Sweep(spec).run()
    executor = DaskExecutor("local", workers=2)
    try:
        assert executor.workers == 2
        report = Sweep(spec, executor).run()
        modules = dict(executor.map_unordered(loaded_ui_modules, [0, 1]))
    finally:
        executor.close()
    assert scores(report.rows) == scores(serial.rows)
    assert report.executor.startswith("dask (local cluster)")
    assert modules == {0: [], 1: []}


# -- scoring -------------------------------------------------------------------------------------


def test_points_count_divergence_and_mark_the_best_rate():
    # Plain SGD on Rosenbrock diverges from lr 0.01 up.
    spec = SweepSpec(
        task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-4:1e-1:4"}, steps=200
    )
    report = Sweep(spec).run()
    points = {(p.optimizer, p.point[0]): p for p in report.points}
    assert points[("sgd", 0.01)].diverged == 1 and points[("sgd", 0.01)].final_loss_mean is None
    assert points[("sgd", 0.1)].diverged == 1
    assert points[("adam", 0.1)].diverged == 0
    best = best_points(report.points)
    for opt in ("sgd", "adam"):
        mine = [p for p in report.points if p.optimizer == opt and not p.diverged]
        assert best[opt].final_loss_mean == min(p.final_loss_mean for p in mine)
    assert report.diverged == 2
    rows = {(r.optimizer, r.point[0]): r for r in report.rows}
    assert rows[("sgd", 0.01)].score.diverged_at is not None
    assert rows[("sgd", 0.01)].score.final_loss is None


def test_the_target_is_a_fraction_of_the_mean_initial_loss_over_seeds():
    spec = SweepSpec(**{**SMALL, "target_fraction": 0.5})
    sweep = Sweep(spec)
    initial = {
        (p.seed, p.optimizer, p.point): Run(p.config).metrics()["eval_loss"] for p in spec.plan()
    }
    # The initial loss depends on the seed only (not on the optimizer or its rate).
    per_seed = {seed: {v for (s, _, _), v in initial.items() if s == seed} for seed in (0, 1)}
    assert all(len(v) == 1 for v in per_seed.values())
    expected = 0.5 * (per_seed[0].pop() + per_seed[1].pop()) / 2
    assert set(sweep.targets().values()) == {expected}
    report = sweep.run()
    assert sum(r.score.steps_to_target is not None for r in report.rows) > 0
    for row in report.rows:
        hit = next((s for s, x in zip(row.score.eval_steps, row.score.eval_losses, strict=True)
                    if x <= expected), None)  # fmt: skip
        assert row.score.steps_to_target == hit and row.target == expected
    absolute = SweepSpec(**{**SMALL, "target": 1.0})
    assert set(Sweep(absolute).targets().values()) == {1.0}


def test_summarise_works_on_partial_results():
    spec = SweepSpec(**SMALL)
    rows = list(Sweep(spec).results())
    some = summarise(spec, rows[:3])
    assert sum(p.runs for p in some) == 3
    assert [p.optimizer for p in summarise(spec, rows)] == ["sgd"] * 4 + ["adam"] * 4


def test_what_travels_to_a_worker_is_a_small_spec():
    import pickle

    from engine.sweep import SweepJob

    spec = SweepSpec(**SMALL)
    job = SweepJob(spec.plan()[0].config, 5, None)
    assert len(pickle.dumps(job)) < 2000
    score = run_job(job)
    assert len(pickle.dumps(score)) < 2000
    assert score.steps == 5 and score.steps_to_target is None and score.eval_steps == (0, 5)


# -- files ---------------------------------------------------------------------------------------

SWEEP_FILE = """\
name = "tiny sweep"
[sweep]
task = "digits-mlp"
optimizers = ["sgd", "adam"]
steps = 30
seeds = 2
check_every = 10

[sweep.grid]
lr = "1e-3:1:4"

[sweep.task_hypers]
hidden = 16

[sweep.optimizer_hypers.adam]
beta2 = 0.99
"""


def test_a_sweep_file_loads_and_bad_values_name_the_line():
    spec = loads_spec(SWEEP_FILE, "s.toml")
    assert spec.name == "tiny sweep" and spec.axes[0].values == (0.001, 0.01, 0.1, 1.0)
    assert spec.optimizer_hypers == {"adam": {"beta2": 0.99}}
    assert is_sweep_text(SWEEP_FILE) and not is_sweep_text('task = "x"')
    cases = [
        ("steps = 30", "steps = 0",
         r"s\.toml: \[sweep\] steps must be an integer >= 1, got 0 \(line 5\)"),
        ('lr = "1e-3:1:4"', 'lr = "1e-3:1:0"',
         r"\[sweep\.grid\] lr: the grid is empty .*\(line 10\)"),
        ('lr = "1e-3:1:4"', 'beta1 = "0.5,1.5"',
         r"\[sweep\.grid\] beta1: optimizer sgd has no knob"),
        ("beta2 = 0.99", "beta2 = 1.5",
         r"\[sweep\.optimizer_hypers\.adam\] beta2 must be .*\(line 16\)"),
        ("hidden = 16", "hidden = 0", r"\[sweep\.task_hypers\] hidden must be .*\(line 13\)"),
        ("seeds = 2", "seedz = 2", r"\[sweep\] unknown key 'seedz' .*\(line 6\)"),
        ("check_every = 10", "check_every = ]", r"s\.toml: line 7: "),
    ]  # fmt: skip
    for old, new, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            loads_spec(SWEEP_FILE.replace(old, new), "s.toml")
    with pytest.raises(ConfigError, match=r"\[sweep\] missing key 'grid'"):
        loads_spec(SWEEP_FILE.split("[sweep.grid]")[0], "s.toml")
    with open("s.toml", "w") as fh:
        fh.write(SWEEP_FILE)
    assert load_spec("s.toml") == spec


def test_the_lr_sensitivity_preset_is_a_sweep():
    spec = presets.load("lr-sensitivity")
    assert isinstance(spec, SweepSpec) and presets.kind("lr-sensitivity") == "sweep"
    assert spec.knobs == ("lr",) and spec.axes[0].scale == "log"
    assert len(spec.axes[0].values) == 13 and spec.total_runs <= MAX_RUNS


def test_results_are_written_one_row_per_run_and_read_back_exactly():
    spec = SweepSpec(**SMALL)
    report = Sweep(spec).run()
    write_results(report, "s.csv")
    write_results(report, "s.json")
    with open("s.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == spec.total_runs
    assert list(rows[0])[:5] == ["index", "optimizer", "seed", "lr", "target"]
    for written, row in zip(rows, report.rows, strict=True):
        assert float(written["lr"]) == row.config.lr
        assert float(written["final_loss"]) == row.score.final_loss
        assert written["diverged"] == "false"
    doc = json.loads(open("s.json").read())
    assert doc["format"] == "optplay-sweep" and doc["total_runs"] == spec.total_runs
    assert doc["spec"]["grid"] == {"lr": [0.001, 0.01, 0.1, 1.0]}
    first = doc["rows"][0]
    assert first["eval_losses"] == list(report.rows[0].score.eval_losses)
    assert first["config"]["optimizer_hypers"]["lr"] == report.rows[0].config.lr
    assert len(doc["points"]) == 8


# -- the plan's size, checked before anything is built -------------------------------------------


@pytest.mark.parametrize(
    ("grid", "seeds", "runs"),
    [
        ({"lr": "1e-4:1:1000000000"}, 1, "2,000,000,000"),
        ({"lr": "1e-4:1:10000", "momentum": "0:0.9:10000"}, 1, "200,000,000"),
        ({"lr": "1e-4:1:10"}, 10_000_000, "200,000,000"),
        ({"lr": [0.1] * 60_000}, 1, "120,000"),
    ],
)
def test_a_huge_plan_is_refused_before_anything_is_built(monkeypatch, grid, seeds, runs):
    import engine.sweep as sweep_module

    def no_grid(*args, **kwargs):
        raise AssertionError("a grid was built before the plan's size was checked")

    monkeypatch.setattr(sweep_module, "parse_grid", no_grid)
    with pytest.raises(SweepError) as caught:
        SweepSpec(task="quadratic", optimizers=("sgd", "momentum"), grid=grid, seeds=seeds)
    assert caught.value.field == "runs"
    assert f"this sweep is {runs} runs, more than 100,000" in str(caught.value)


def test_the_plan_limit_is_the_specs_own():
    grid = {"lr": "1e-4:1:600"}
    with pytest.raises(SweepError, match="this sweep is 1,200 runs, more than 1,000"):
        SweepSpec(task="quadratic", optimizers=("sgd", "adam"), grid=grid, max_runs=1000)
    spec = SweepSpec(task="quadratic", optimizers=("sgd", "adam"), grid=grid)
    assert spec.total_runs == 1200
