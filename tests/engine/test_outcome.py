"""One definition of a run's outcome: races, bench, sweeps and lessons read the same numbers
from the same run, however far its history has been downsampled."""

from __future__ import annotations

import pytest

from engine.bench import BenchSpec, run_bench
from engine.compare import Lane, result_of
from engine.lessons.measure import Metric
from engine.outcome import evaluate_at_end, first_step_at_most, outcome_of
from engine.run import Run, RunConfig
from engine.sweep import Sweep, SweepSpec

STEPS = 240
#: digits with 16 hidden units, evaluated every step: its eval series folds in a small history.
TASK = {"hidden": 16}
LR = 0.05


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def config() -> RunConfig:
    return RunConfig(
        task="digits-mlp", optimizer="sgd", seed=0, task_hypers=TASK,
        optimizer_hypers={"lr": LR}, eval_every=1,
    )  # fmt: skip


def test_race_bench_sweep_and_lesson_agree_on_a_downsampled_history():
    full = Run(config(), history_capacity=None)
    full.step(STEPS)
    ev = full.history.buckets("eval_loss")
    # A target first reached at step 101: not the end of any bucket once the series folds.
    target = float(ev.lasts[101])
    assert all(x > target for x in ev.lasts[:101])
    small = Run(config(), history_capacity=8)  # the app's history, shrunk: it folds
    small.step(STEPS)
    assert small.history.width("eval_loss") > 1

    race = result_of(Lane("sgd", small), target)
    lesson = Metric("steps_to", series="eval_loss", target=target).value(small)
    bench_spec = BenchSpec(
        tasks=("digits-mlp",), optimizers=("sgd",), seeds=1, steps=STEPS, check_every=1,
        target=target, task_hypers={"digits-mlp": TASK}, optimizer_hypers={"sgd": {"lr": LR}},
    )  # fmt: skip
    sweep_spec = SweepSpec(
        task="digits-mlp", optimizers=("sgd",), grid={"lr": [LR]}, steps=STEPS, check_every=1,
        target=target, task_hypers=TASK,
    )  # fmt: skip
    bench, sweep = run_bench(bench_spec), Sweep(sweep_spec).run()
    (group,), (row,) = bench.groups, sweep.rows
    assert race.steps_to_target == lesson == group.steps_to_target_min == 101
    assert row.score.steps_to_target == 101
    # Final and best eval loss: the same numbers from the full and the folded history.
    best = float(ev.lasts[1:].min())
    assert race.eval_loss == group.final_loss_mean == row.score.final_loss == float(ev.lasts[-1])
    assert race.best_eval_loss == row.score.best_loss == best
    assert Metric("best", series="eval_loss").value(small) == best
    assert outcome_of(small).best_eval_step == outcome_of(full).best_eval_step


def test_a_run_that_stops_between_evaluations_is_evaluated_at_its_last_step():
    run = Run(config().replace(eval_every=50), history_capacity=None)
    run.step(120)
    assert outcome_of(run).eval_step == 100
    evaluate_at_end(run)
    o = outcome_of(run)
    assert o.eval_step == 120 and o.final_eval_loss == run.task.evaluate(run.params)["loss"]
    evaluate_at_end(run)  # already evaluated there: nothing more
    assert run.history.count("eval_loss") == 4  # steps 0, 50, 100, 120


def test_a_diverged_run_has_no_final_loss_and_is_not_evaluated_again():
    cfg = RunConfig(task="rosenbrock", optimizer="sgd", optimizer_hypers={"lr": 1e6})
    run = Run(cfg)
    run.step(20)
    evaluate_at_end(run)
    o = outcome_of(run)
    assert o.diverged_at == 2 and o.final_eval_loss is None and o.steps == 1
    assert o.steps_to(1e9) == 0  # the starting point already met it
    assert o.steps_to(None) is None and o.steps_to(-1.0) is None


def test_batch_loss_counterparts_are_read_from_the_loss_series():
    run = Run(config(), history_capacity=None)
    run.step(60)
    o = outcome_of(run)
    b = run.history.buckets("loss")
    assert o.batch_loss == float(b.lasts[-1]) and o.best_batch_loss == float(b.mins.min())
    target = float(b.lasts[30])
    first = next(int(s) for s, x in zip(b.steps, b.lasts, strict=True) if x <= target)
    assert first_step_at_most(run.history, "loss", target) == first
    assert first_step_at_most(run.history, "loss", target, start=first + 1) > first
    # On the eval series a window starting after the first hit looks inside the window.
    ev = run.history.buckets("eval_loss")
    hit = first_step_at_most(run.history, "eval_loss", float(ev.lasts[10]))
    assert hit <= 10
    assert first_step_at_most(run.history, "eval_loss", float(ev.lasts[10]), stop=hit - 1) is None
    later = first_step_at_most(run.history, "eval_loss", float(ev.lasts[10]), start=hit + 1)
    assert later is None or later > hit
