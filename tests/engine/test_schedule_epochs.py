"""A schedule's step knobs given in epochs: "3 epochs" is 3 × the task's steps per epoch.

The same run whether a knob is given in epochs or in the steps they make; a task without a
data set (the landscapes) has no epochs, and says so naming the knob.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import load
from engine.run import KnobError, Run, RunConfig, RunConfigError
from tui.cli import main


def lrs(config: RunConfig, steps: int) -> np.ndarray:
    """The rate of each of the run's first `steps` updates, as the history records them."""
    run = Run(config)
    run.step(steps)
    used = run.history.downsample("lr", steps)
    assert np.array_equal(used.steps, np.arange(1, steps + 1))
    return np.asarray(used.mins)


def test_step_size_in_epochs_runs_the_same_rates_as_in_steps() -> None:
    # linear regression: 100 training points in batches of 16, 7 updates per epoch
    task = {"batch_size": 16}
    in_epochs = RunConfig(
        task="linear-regression", optimizer="momentum", schedule="step",
        task_hypers=task, schedule_hypers={"step_size": "3 epochs", "gamma": 0.5},
    )  # fmt: skip
    in_steps = RunConfig(
        task="linear-regression", optimizer="momentum", schedule="step",
        task_hypers=task, schedule_hypers={"step_size": 21, "gamma": 0.5},
    )  # fmt: skip
    assert in_epochs.schedule_hypers["step_size"] == 21
    got, expected = lrs(in_epochs, 80), lrs(in_steps, 80)
    assert np.array_equal(got, expected)
    assert len(set(got.tolist())) == 4  # the rate halves at updates 22, 43 and 64


def test_milestones_and_warmup_in_epochs_follow_the_batch_size() -> None:
    # digits: 1438 training images; batch 64 -> 23 updates per epoch
    config = RunConfig(
        task="digits-mlp", optimizer="adam", schedule="multistep",
        task_hypers={"batch_size": 64}, schedule_hypers={"milestones": "2, 4.5 epochs"},
    )  # fmt: skip
    assert config.schedule_hypers["milestones"] == (46, 104)  # 4.5 × 23 = 103.5, rounded
    warm = RunConfig(
        task="digits-mlp", optimizer="adam", schedule="warmup-cosine",
        task_hypers={"batch_size": 64},
        schedule_hypers={"warmup_steps": "1 epoch", "total_steps": "10 epochs"},
    )  # fmt: skip
    assert (warm.schedule_hypers["warmup_steps"], warm.schedule_hypers["total_steps"]) == (23, 230)


def test_the_override_grammar_takes_epochs_for_step_knobs() -> None:
    base = RunConfig(task="linear-regression", optimizer="sgd", schedule="step")
    changed = base.with_knobs({"schedule.step_size": "3 epochs", "task.batch_size": "10"})
    assert changed.schedule_hypers["step_size"] == 30  # the new batch size: 10 per epoch
    with pytest.raises(KnobError, match=r"^step_size in epochs must be a number >= 0"):
        base.with_knobs({"step_size": "many epochs"})
    with pytest.raises(KnobError, match=r"gamma must be a number"):
        base.with_knobs({"gamma": "3 epochs"})  # not a step knob: no epochs


def test_a_task_without_data_has_no_epochs_and_names_the_knob() -> None:
    with pytest.raises(RunConfigError) as caught:
        RunConfig(
            task="rosenbrock", optimizer="adam", schedule="cosine",
            schedule_hypers={"total_steps": "3 epochs"},
        )  # fmt: skip
    assert str(caught.value) == (
        "schedule_hypers: total_steps = '3 epochs': task rosenbrock has no data set, so no "
        "epochs; give the steps (an integer)"
    )
    assert caught.value.key == "total_steps"


def test_epochs_in_a_toml_file_and_on_the_command_line(capsys, tmp_path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(
        'task = "linear-regression"\noptimizer = "sgd"\nschedule = "step"\nsteps = 30\n'
        '[task_hypers]\nbatch_size = 20\n[schedule_hypers]\nstep_size = "2 epochs"\n'
    )
    assert load(path).config.schedule_hypers["step_size"] == 10
    argv = ["run", "--no-record", "--no-progress"]
    assert main([*argv, "--config", str(path)]) == 0
    assert "step (step_size=10, gamma=0.5)" in capsys.readouterr().out
    status = main(
        [*argv, "--task", "quadratic", "--optimizer", "sgd", "--schedule", "step",
         "--set", "schedule.step_size=3 epochs"]
    )  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert "step_size = '3 epochs': task quadratic has no data set, so no epochs" in err
    assert err.count("\n") == 1
