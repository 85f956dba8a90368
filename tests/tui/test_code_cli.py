"""`optplay code`: the generated scripts reproduce `optplay run`'s eval losses.

The NumPy scripts always run (a subprocess of this interpreter). The torch, optax and Keras
scripts run under the interpreter named by OPTPLAY_REFERENCE_PYTHON (a venv with torch, jax,
optax and keras; none is a dependency of optplay), else this one; they are skipped, saying so,
when that interpreter cannot import the framework. The Keras scripts reproduce the run with
`flavour = "keras"` (keras.optimizers' arithmetic), the others torch's default flavour.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

# The three experiments of the acceptance: (name, task/optimizer/schedule flags).
EXPERIMENTS = {
    "rosenbrock-adam-cosine": [
        "--task", "rosenbrock", "--optimizer", "adam", "--schedule", "cosine",
        "--steps", "600", "--eval-every", "50", "--set", "total_steps=500",
    ],
    "linreg-momentum-step": [
        "--task", "linear-regression", "--optimizer", "momentum", "--schedule", "step",
        "--steps", "300", "--eval-every", "25", "--set", "step_size=40",
        "--set", "task.batch_size=16", "--set", "lr=0.05", "--seed", "3",
    ],
    "digits-adamw-warmup-cosine": [
        "--task", "digits-mlp", "--optimizer", "adamw", "--schedule", "warmup-cosine",
        "--steps", "150", "--eval-every", "30", "--set", "warmup_steps=20",
        "--set", "total_steps=120", "--set", "task.hidden=32",
    ],
}  # fmt: skip

# What the reference interpreter must import (Keras 3 on jax: the scripts set KERAS_BACKEND).
_IMPORTS = {
    "numpy": "import numpy",
    "torch": "import torch",
    "optax": "import optax",
    "keras": "import os; os.environ['KERAS_BACKEND'] = 'jax'; import keras",
}
# Keras scripts write keras.optimizers' classes, which compute the keras flavour.
_FLAVOUR = {"keras": ["--set", "flavour=keras"]}


def run_losses(argv: list[str], tmp: Path) -> list[float]:
    """The eval losses `optplay run` records for the experiment (step 0 and every eval)."""
    out = tmp / "history.json"
    status = main(["run", *argv, "--out", str(out), "--no-record", "--no-progress"])
    assert status == 0
    return json.loads(out.read_text())["runs"][0]["eval"]["loss"]


def script_losses(python: str, script: Path) -> list[float]:
    done = subprocess.run(
        [python, str(script)], capture_output=True, text=True, check=True, timeout=600
    )
    rows = re.findall(r"^step (\d+) eval_loss (\S+)$", done.stdout, re.M)
    return [float(loss) for _, loss in rows]


@functools.cache
def reference_python(framework: str) -> str | None:
    """An interpreter that can import the framework, or None."""
    python = os.environ.get("OPTPLAY_REFERENCE_PYTHON") or sys.executable
    if framework == "numpy":
        return sys.executable
    found = subprocess.run([python, "-c", _IMPORTS[framework]], capture_output=True)
    return python if found.returncode == 0 else None


@pytest.mark.parametrize("framework", ["numpy", "torch", "optax", "keras"])
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_script_prints_the_runs_eval_losses(capsys, tmp_path, framework, name):
    python = reference_python(framework)
    if python is None:
        pytest.skip(
            f"{framework} is not installed here (set OPTPLAY_REFERENCE_PYTHON to a python "
            f"that has it to run this check)"
        )
    argv = EXPERIMENTS[name] + _FLAVOUR.get(framework, [])
    script = tmp_path / f"{name}.py"
    assert main(["code", *argv, "--framework", framework, "--out", str(script)]) == 0
    assert f"wrote {script}" in capsys.readouterr().out
    text = script.read_text()
    assert not re.search(r"^\s*(import|from)\s+(engine|tui|optplay)\b", text, re.M)
    expected = run_losses(argv, tmp_path)
    got = script_losses(python, script)
    assert len(got) == len(expected) > 5
    assert got == pytest.approx(expected, rel=1e-9, abs=0.0)


def test_a_task_with_data_saves_it_beside_the_script(capsys, tmp_path):
    argv = [*EXPERIMENTS["linreg-momentum-step"], "--framework", "numpy"]
    assert main(["code", *argv, "--out", "sub.py"]) == 0
    assert (tmp_path / "sub.npz").is_file()
    assert "sub.npz" in (tmp_path / "sub.py").read_text()
    # without --out there is nowhere to put the data
    assert main(["code", *argv]) == 2
    assert "give --out FILE.py" in capsys.readouterr().err


def test_a_landscape_script_goes_to_stdout(capsys):
    status = main(["code", "--task", "rosenbrock", "--optimizer", "sgd", "--framework", "numpy"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith('"""rosenbrock + sgd + constant')
    assert "def update(p, g, state, lr):" in out


def test_a_lesson_lane_becomes_a_script(capsys, tmp_path):
    status = main(
        ["code", "--lesson", "amsgrad-step", "--entry", "2", "--framework", "torch",
         "--out", "lane.py"]
    )  # fmt: skip
    assert status == 0
    text = (tmp_path / "lane.py").read_text()
    assert "torch.optim.Adam(" in text and "amsgrad=True" in text
    assert "STEPS = 3000" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "rosenbrock", "--optimizer", "lion"], "optimizer: lion is not covered"),
        (["--task", "quadratic", "--optimizer", "adam"], "task: quadratic is not covered"),
        (
            ["--task", "rosenbrock", "--optimizer", "adam", "--schedule", "onecycle"],
            "schedule: onecycle is not covered",
        ),
        (["--task", "rosenbrock", "--optimizer", "adagrad", "--framework", "optax"], "ε inside"),
        (["--task", "rosenbrock", "--optimizer", "adam", "--out", "x.txt"], "must name a .py"),
        (["--lesson", "no-such-lesson"], "--lesson"),
        (
            ["--task", "rosenbrock", "--optimizer", "adam", "--set", "flavour=keras"],
            "flavour keras is not written as code for numpy (use --framework keras)",
        ),
        (
            ["--task", "rosenbrock", "--optimizer", "adam", "--framework", "keras"],
            "flavour torch: keras.optimizers compute the keras flavour; add --set flavour=keras",
        ),
    ],
)
def test_what_is_not_covered_is_refused_in_one_line(capsys, argv, message):
    if "--framework" not in argv:
        argv = [*argv, "--framework", "numpy"]
    assert main(["code", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_list_optimizers_says_where_each_lives_and_shows_the_flavours(capsys):
    assert main(["list", "optimizers"]) == 0
    flat = " ".join(capsys.readouterr().out.split())  # wrapped to the terminal's width
    assert "torch: none (no such optimizer); optax: optax.lion" in flat
    assert "optax: optax.radam; keras: none (no such optimizer)" in flat
    assert main(["list", "optimizers", "--flavours"]) == 0
    out = capsys.readouterr().out
    momentum = out.split("\n  momentum\n")[1].split("\n  nesterov\n")[0]
    assert "* v ← μ·v − η·g" in momentum.split("    keras")[1]
    assert "* v" not in momentum.split("    optax")[0]  # torch's own rule: nothing marked
    amsgrad = out.split("\n  amsgrad\n")[1].split("\n  adamw\n")[0]
    assert "* v̂ ← max(v̂, v)" in amsgrad.split("    paper")[1]
    assert main(["list", "tasks", "--flavours"]) == 2


# Every optimizer a Keras script covers, with the knobs where Keras differs (centered RMSprop
# with momentum, Adagrad's accumulator, Nesterov, AMSGrad, L2 decay added to the gradient).
KERAS_OPTIMIZERS = {
    "rmsprop": ["--set", "centered=true", "--set", "momentum=0.5", "--set", "lr=0.003",
                "--set", "weight_decay=0.01"],
    "adagrad": ["--set", "lr=0.1", "--set", "initial_accumulator_value=0.1"],
    "nesterov": ["--set", "lr=0.01", "--set", "weight_decay=0.001"],
    "amsgrad": ["--set", "lr=0.01"],
    "adam": ["--set", "lr=0.01", "--set", "weight_decay=0.05"],
    "sgd": ["--set", "lr=0.01"],
}  # fmt: skip


@pytest.mark.parametrize("optimizer", list(KERAS_OPTIMIZERS))
def test_keras_scripts_cover_every_optimizer_in_its_keras_flavour(capsys, tmp_path, optimizer):
    python = reference_python("keras")
    if python is None:
        pytest.skip("keras is not installed here (set OPTPLAY_REFERENCE_PYTHON to run this check)")
    argv = [
        "--task", "linear-regression", "--optimizer", optimizer, *KERAS_OPTIMIZERS[optimizer],
        "--schedule", "exponential", "--set", "gamma=0.99", "--set", "task.batch_size=16",
        "--steps", "100", "--eval-every", "20", "--set", "flavour=keras",
    ]  # fmt: skip
    script = tmp_path / "keras_script.py"
    assert main(["code", *argv, "--framework", "keras", "--out", str(script)]) == 0
    expected = run_losses(argv, tmp_path)
    got = script_losses(python, script)
    assert len(got) == len(expected) == 6
    assert got == pytest.approx(expected, rel=1e-9, abs=0.0)
