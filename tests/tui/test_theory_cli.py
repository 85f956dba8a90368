"""`optplay theory`: the figures a learner reads, the one JSON object of issue 24, and a
predicted loss that equals the run of the same config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.run import Run, RunConfig
from tui.cli import main

KEYS = {"task", "exact", "local", "eigenvalues", "condition", "gd", "heavy_ball", "nesterov"}


def rows_of(out: str) -> dict[str, str]:
    """The text's rows by their key, each value's wrapped lines joined again (the text is
    wrapped to the terminal: 80 columns here)."""
    rows: dict[str, str] = {}
    key = ""
    for line in out.splitlines():
        if line[:1].strip():
            key = line.split("  ", 1)[0]
            rows[key] = line
        elif key:
            rows[key] += " " + line.strip()
    return rows


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["theory", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_is_the_issues_object_and_its_prediction_is_the_run(capsys):
    status, out, err = run_cli(
        capsys, "--task", "ill-conditioned", "--set", "task.condition=50", "--set",
        "task.angle=20", "--optimizer", "nesterov", "--set", "lr=0.01", "--schedule", "cosine",
        "--set", "total_steps=300", "--steps", "300", "--json",
    )  # fmt: skip
    assert status == 0 and err == ""
    data = json.loads(out)
    assert set(data) == KEYS | {"predicted"}
    assert data["exact"] is True and data["local"] is False
    assert data["eigenvalues"] == pytest.approx([1.0, 50.0])
    assert data["condition"] == pytest.approx(50.0)
    assert set(data["gd"]) == {"lr_stable_max", "lr_opt", "rate_opt"}
    assert set(data["heavy_ball"]) == {"lr_opt", "momentum_opt", "rate_opt", "lr_stable_max"}
    assert data["gd"]["lr_stable_max"] == pytest.approx(2.0 / 50.0)
    assert data["heavy_ball"]["lr_stable_max"] == pytest.approx(2.0 * 1.9 / 50.0)
    assert data["predicted"]["optimizer"] == "nesterov"
    loss = np.array(data["predicted"]["loss"])
    assert loss.shape == (301,)
    cfg = RunConfig(
        task="ill-conditioned", optimizer="nesterov", schedule="cosine", eval_every=0,
        task_hypers={"condition": 50.0, "angle": 20.0}, optimizer_hypers={"lr": 0.01},
        schedule_hypers={"total_steps": 300},
    )  # fmt: skip
    run = Run(cfg, history_capacity=None)
    run.step(300)
    np.testing.assert_allclose(loss[:300], run.history.buckets("loss").lasts, rtol=1e-9)


def test_text_places_the_lr_against_its_limit(capsys):
    status, out, _ = run_cli(
        capsys, "--task", "ill-conditioned", "--set", "task.condition=100", "--optimizer",
        "sgd", "--set", "lr=0.0202",
    )  # fmt: skip
    assert status == 0
    lines = rows_of(out)
    assert "exact: the loss is quadratic" in lines["theory"]
    assert "stable for lr < 0.02 (2/λmax)" in lines["GD"]
    assert "Polyak: lr 0.0330579, momentum 0.669421, rate 0.818182" in lines["heavy ball"]
    assert "sgd lr 0.0202 = 1.01 × its stability limit: diverges" in lines["this optimizer"]
    assert "step 0: 120.5, step 1: 124.725," in lines["predicted loss"]  # ½(4² + 100·1.5²)


def test_a_landscape_gets_figures_near_its_minimum_and_no_prediction(capsys):
    status, out, _ = run_cli(capsys, "--task", "rosenbrock", "--optimizer", "momentum")
    assert status == 0
    lines = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in out.splitlines()}
    assert lines["theory"] == "near the minimum (1, 1)"
    assert lines["predicted loss"] == "none: the theory is local (near the minimum)"
    status, out, _ = run_cli(capsys, "--task", "rosenbrock", "--json")
    data = json.loads(out)
    assert set(data) == KEYS and data["local"] is True and data["exact"] is False
    assert data["eigenvalues"] == pytest.approx([0.399361, 1001.6006], rel=1e-5)


def test_a_network_says_there_is_no_theory(capsys):
    status, out, _ = run_cli(capsys, "--task", "binary-mlp", "--json")
    data = json.loads(out)
    assert status == 0 and data["eigenvalues"] == [] and data["gd"] is None
    status, out, _ = run_cli(capsys, "--task", "linear-regression", "--set", "batch_size=10")
    assert "mini-batches" in out and "batch_size=full" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "nope"], "task: unknown task 'nope'"),
        (["--task", "quadratic", "--set", "task.a=-1"], "--set task.a must be a number"),
        (["--task", "quadratic", "--steps", "2000000"], "--steps must be an integer in [1, "),
        (
            [
                "--task",
                "linear-regression",
                "--set",
                "n_features=1000",
                "--optimizer",
                "sgd",
                "--steps",
                "100000",
            ],
            "--steps 100000 is too many for 1,001 parameters",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith(f"optplay theory: error: {message}")
    assert len(err.strip().splitlines()) == 1


def test_run_sharpness_every_records_it_into_the_history_and_the_summary(capsys, tmp_path):
    status = main(["run", "--task", "ill-conditioned", "--set", "task.condition=100",
                   "--optimizer", "sgd", "--set", "lr=0.005", "--steps", "20",
                   "--sharpness-every", "10", "--out", "h.csv", "--no-progress"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert status == 0
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert rows[0].endswith(",sharpness,sharpness_error")
    assert rows[10].split(",")[-2] == "100.0" and rows[9].split(",")[-2] == ""
    line = rows_of(out)["sharpness"]
    assert "λ_max 100 ± " in line and "at step 20 (2/lr = 400)" in line


def test_run_sharpness_every_zero_is_refused(capsys):
    status = main(["run", "--task", "quadratic", "--optimizer", "sgd", "--sharpness-every", "0"])
    _, err = capsys.readouterr()
    assert status == 2 and "--sharpness-every: must be an integer >= 1, got '0'" in err


def test_full_dampening_has_no_heavy_ball_limit(capsys):
    status, out, _ = run_cli(capsys, "--task", "ill-conditioned", "--optimizer", "momentum",
                             "--set", "dampening=1", "--json")  # fmt: skip
    data = json.loads(out)
    assert status == 0 and data["heavy_ball"]["lr_stable_max"] is None  # every lr is stable
    assert data["gd"]["lr_stable_max"] == pytest.approx(0.2)


def test_a_network_gets_its_sharpness_at_the_start(capsys):
    from engine.tasks.base import seeded_rngs
    from engine.theory import SharpnessProbe

    status, out, _ = run_cli(capsys, "--task", "binary-mlp", "--set", "task.hidden=4")
    line = rows_of(out)["sharpness at start"]
    assert status == 0 and "on the first batch (finite differences of gradients)" in line
    value = float(line.split("λ_max ", 1)[1].split(" ", 1)[0])
    # the run's own start: its initial parameters and first batch, from seed 0
    run = Run(RunConfig(task="binary-mlp", optimizer="sgd", task_hypers={"hidden": 4}))
    _, batch_rng = seeded_rngs(0)
    first = next(iter(run.task.batches(batch_rng)))
    exact = SharpnessProbe(run.task, tol=1e-10, max_iter=2000).measure(run.params, first)
    assert value == pytest.approx(exact.value, rel=1e-5)
    limit = float(line.split("GD overshoots there for lr > 2/λ_max = ", 1)[1])
    assert limit == pytest.approx(2.0 / value, rel=1e-5)
