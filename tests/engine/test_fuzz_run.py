"""The engine under hostile numbers: every optimizer on every task with learning rates from
1e-12 to 1e6 (and schedules with extreme knobs) either trains or stops as "diverged" at a
step, with finite parameters kept; nothing is raised, no warning is emitted, nothing is
printed to the terminal.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_hyper import hostile_values, valid_values
from test_fuzz_registry import valid_knob_dicts

from engine import optimizers, schedules, tasks
from engine.run import Run, RunConfig, RunConfigError

LRS = (1e-12, 1e-3, 1e2, 1e6)
#: Small sizes so that 15 optimizers x 11 tasks x 4 rates run in a few seconds.
SMALL = {
    "linear-regression": {"n_samples": 40, "n_features": 3, "batch_size": 8},
    "binary-mlp": {"hidden": 4, "n_samples": 40, "batch_size": 8},
    "blobs-mlp": {"hidden": 8, "n_samples": 60, "n_features": 5, "batch_size": 16},
    "digits-mlp": {"hidden": 8, "batch_size": 16},
    "sine-rnn": {"hidden": 4, "window": 5, "batch_size": 8, "n_points": 120},
}


def small_hypers(task: str, optimizer: str) -> dict:
    """SMALL's knobs, full-batch for the optimizers that refuse mini-batches (L-BFGS)."""
    knobs = dict(SMALL.get(task, {}))
    has_batches = any(h.name == "batch_size" for h in tasks.specs(task))
    if optimizers.get(optimizer).full_batch_only and has_batches:
        knobs["batch_size"] = 0
    return knobs


@contextlib.contextmanager
def hostile_guard():
    """Warnings are errors (a NumPy RuntimeWarning would be printed over the UI) and
    anything written to sys.stdout/sys.stderr is collected for the caller to check."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err


def check_outcome(run: Run, steps: int) -> None:
    """After `run.step(steps)`: trained all steps, or diverged at a step with the params of
    the step before (finite) and the history ending there."""
    assert all(np.isfinite(p).all() for p in run.params.values())
    m = run.metrics()
    if run.state == "diverged":
        assert run.diverged_at is not None and 1 <= run.diverged_at <= steps
        assert run.steps_done == run.diverged_at - 1 == m["step"]
        assert m["diverged_at"] == run.diverged_at
    else:
        assert run.state in ("ready", "finished") and run.diverged_at is None
        assert run.steps_done == steps
        assert math.isfinite(m["loss"]) and math.isfinite(m["lr"])
    assert len(run.history) == run.steps_done
    # The finite prefix of the run is what the history holds.
    losses = run.history.buckets("loss").lasts
    assert len(losses) <= run.steps_done and np.isfinite(losses).all()


def run_hostile(cfg: RunConfig, steps: int) -> Run:
    with hostile_guard() as (out, err):
        run = Run(cfg)
        run.step(steps)
        run.step(1)  # stepping a diverged run is a no-op, not an error
        run.metrics()
        run.history.downsample("loss", 50)
    assert out.getvalue() == "" and err.getvalue() == ""
    check_outcome(run, steps + 1)
    return run


@pytest.mark.parametrize("task", tasks.names())
@pytest.mark.parametrize("optimizer", optimizers.names())
def test_every_optimizer_on_every_task_at_any_learning_rate(task, optimizer, capfd):
    # A closure optimizer (L-BFGS) evaluates the full batch up to 20 times a step: 10 steps
    # reach every outcome the 40 of the others do, at a CI-sized cost.
    steps = 10 if optimizers.get(optimizer).needs_closure else 40
    outcomes = {}
    for lr in LRS:
        for dtype in ("float64", "float32"):
            cfg = RunConfig(
                task=task,
                optimizer=optimizer,
                task_hypers=small_hypers(task, optimizer),
                optimizer_hypers={"lr": lr},
                dtype=dtype,
                eval_every=10,
            )
            outcomes[lr, dtype] = run_hostile(cfg, steps).state
    captured = capfd.readouterr()  # also catches C-level writes to the terminal
    assert captured.out == "" and captured.err == ""
    # A tiny rate never blows up (the start is finite and updates are ~1e-12).
    assert outcomes[1e-12, "float64"] == outcomes[1e-12, "float32"] == "ready"


@pytest.mark.long
@pytest.mark.parametrize("task", tasks.names())
def test_long_runs_at_every_learning_rate_and_schedule(task, capfd):
    for optimizer in optimizers.names():
        for lr in (1e-12, 1e-6, 1e-3, 1.0, 1e2, 1e4, 1e6):
            for schedule in schedules.names():
                cfg = RunConfig(
                    task=task,
                    optimizer=optimizer,
                    schedule=schedule,
                    task_hypers=small_hypers(task, optimizer),
                    optimizer_hypers={"lr": lr},
                    eval_every=25,
                )
                run_hostile(cfg, 200)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def schedule_setups() -> st.SearchStrategy[tuple[str, dict]]:
    return st.sampled_from(schedules.names()).flatmap(
        lambda n: st.tuples(st.just(n), valid_knob_dicts("schedule", n))
    )


@given(
    sched=schedule_setups(),
    optimizer=st.sampled_from(optimizers.names()),
    task=st.sampled_from(["quadratic", "rosenbrock", "rastrigin", "linear-regression"]),
    lr=st.one_of(st.sampled_from(LRS), valid_values(optimizers.specs("sgd")[0])),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_schedules_with_extreme_knobs_train_or_diverge(sched, optimizer, task, lr, dtype):
    """Whatever rate a schedule produces (inf after gamma^t overflows, NaN from extreme
    knobs), the run uses exactly that rate or stops as diverged at the first bad one."""
    name, knobs = sched
    try:
        cfg = RunConfig(
            task=task,
            optimizer=optimizer,
            schedule=name,
            schedule_hypers=knobs,
            optimizer_hypers={"lr": float(lr)},
            task_hypers=small_hypers(task, optimizer),
            dtype=dtype,
        )
    except RunConfigError as err:
        assert err.field == "schedule_hypers"  # a cross-knob rule
        return
    steps = 30
    run = run_hostile(cfg, steps)
    if cfg.schedule == "plateau":
        return  # its rates depend on the losses fed to it
    reference = schedules.create(name, cfg.lr, **cfg.schedule_hypers)
    with np.errstate(all="ignore"):
        rates = [reference.lr(k) for k in range(steps + 1)]
    first_bad = next((k for k, r in enumerate(rates) if not math.isfinite(r)), None)
    if first_bad is not None and first_bad <= steps:
        # A non-finite rate is never used: the update that would use it diverges (if the
        # run did not diverge before it).
        assert run.state == "diverged" and run.diverged_at <= first_bad + 1
    used = run.history.buckets("lr").lasts
    assert used.tolist() == rates[: len(used)]


@given(
    knobs=st.dictionaries(
        st.sampled_from([h.name for h in optimizers.specs("adam")] + ["nope"]),
        hostile_values(),
        min_size=1,
        max_size=3,
    ),
    sched=st.dictionaries(
        st.sampled_from([h.name for h in schedules.specs("cosine")] + ["nope"]),
        hostile_values(),
        max_size=2,
    ),
)
def test_edits_while_paused_apply_or_are_refused_by_name(knobs, sched):
    run = Run(RunConfig(task="quadratic", optimizer="adam", schedule="cosine"))
    run.step(3)
    run.pause()
    before = run.config
    with hostile_guard():
        try:
            run.set_hypers(optimizer=knobs, schedule=sched)
        except RunConfigError as err:
            assert err.field in ("optimizer_hypers", "schedule_hypers")
            assert run.config == before  # nothing half-applied
        run.resume()
        run.step(5)
    check_outcome(run, 8)


def test_rastrigin_far_away_is_nan_not_a_math_error():
    """math.cos(2πx) of a huge finite x used to raise 'math domain error'."""
    task = tasks.create("rastrigin")
    for x in (3e307, -1.7e308):
        loss, grads = task.loss_and_grads({"xy": np.array([x, 0.0])}, None)
        assert math.isnan(loss) and np.isnan(grads["xy"]).all()


@pytest.mark.parametrize(
    ("task", "knobs", "field"),
    [
        ("linear-regression", {"n_samples": 1_000_000, "n_features": 1000}, "n_samples"),
        ("blobs-mlp", {"n_samples": 1_000_000, "n_features": 10_000}, "n_samples"),
        ("blobs-mlp", {"n_features": 10_000, "hidden": 4096}, "hidden"),
        ("blobs-mlp", {"n_samples": 1_000_000, "hidden": 4096, "batch_size": "full"}, "hidden"),
        ("binary-mlp", {"n_samples": 100_000, "hidden": 1024, "batch_size": 0}, "hidden"),
        ("sine-rnn", {"n_points": 1_000_000, "window": 1000}, "window"),
        (
            "sine-rnn",
            {"hidden": 1024, "window": 999, "n_points": 10_000, "batch_size": 0},
            "hidden",
        ),
    ],
)
def test_knobs_that_would_exhaust_memory_are_refused_by_name(task, knobs, field):
    """These used to raise MemoryError (or swap for minutes) when the run was built."""
    with pytest.raises(RunConfigError) as info:
        RunConfig(task=task, optimizer="adam", task_hypers=knobs)
    assert info.value.field == "task_hypers" and info.value.key == field
    assert "too large" in str(info.value) and "at most 33,554,432" in str(info.value)


def test_held_out_sets_are_scored_in_bounded_blocks(monkeypatch):
    """Evaluation in row blocks gives the single-pass numbers (to rounding)."""
    import engine.tasks.base as base

    for name, knobs in (
        ("blobs-mlp", {"n_samples": 500, "hidden": 16}),
        ("sine-rnn", {"n_points": 400, "hidden": 8}),
    ):
        task = tasks.create(name, **knobs)
        params = task.init_params(np.random.default_rng(0))
        whole = task.evaluate(params)
        monkeypatch.setattr(base, "EVAL_ELEMENTS", 1000)  # forces many small blocks
        blocks = task.evaluate(params)
        monkeypatch.undo()
        for key, value in whole.items():
            assert blocks[key] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("lr", LRS)
async def test_streaming_at_hostile_rates_is_quiet_too(lr, capfd):
    """The async path steps on a worker thread: the same guarantees hold there."""
    cfg = RunConfig(
        task="rosenbrock", optimizer="nesterov", schedule="exponential",
        optimizer_hypers={"lr": lr}, schedule_hypers={"gamma": 1e30},
    )  # fmt: skip
    run = Run(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snapshots = [p async for p in run.stream(max_steps=200)]
    # exp(30 t) overflows within a dozen steps: every rate here ends diverged, never raises.
    assert snapshots[-1].state == run.state == "diverged"
    assert snapshots[-1].diverged_at == run.diverged_at <= 12
    check_outcome(run, 200)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
