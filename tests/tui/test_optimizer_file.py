"""`optplay run --optimizer-file` (your own optimizer) and the closure optimizers on the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    return re.search(r"<!-- optimizer-file example -->\n```python\n(.*?)```", text, re.S)[1]


def test_the_readme_example_gives_the_history_of_the_built_in_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("heavy_ball.py").write_text(readme_example(), encoding="utf-8")
    common = ("--task", "digits-mlp", "--steps", "40", "--no-progress")
    status, out, _ = run_cli(
        capsys, "run", "--optimizer-file", "heavy_ball.py", *common, "--out", "mine.csv"
    )
    assert status == 0 and "heavy-ball (lr=0.01, momentum=0.9)" in out
    status, _, _ = run_cli(
        capsys, "run", "--optimizer", "momentum", "--set", "lr=0.01", *common, "--out", "ref.csv"
    )
    assert status == 0
    mine, ref = Path("mine.csv").read_text(), Path("ref.csv").read_text()
    assert len(mine.splitlines()) == 41 and mine == ref


BROKEN = {
    "syntax": ("class A:\n    def step(self\n", r"syntax error at line 2"),
    "no step": (
        "class A:\n    hypers = {'lr': 0.1}\n    def init_state(self, p):\n        return {}\n",
        r"class A has no step\(params, grads, state, lr\) method",
    ),
    "shape": (
        "class A:\n    hypers = {'lr': 0.1}\n    def init_state(self, p):\n        return {}\n"
        "    def step(self, p, g, state, lr):\n        return p.sum()\n",
        r"step must return an array of the parameter.s shape \[3, 2\], got shape \[\]",
    ),
    "no lr": (
        "class A:\n    hypers = {}\n    def init_state(self, p):\n        return {}\n"
        "    def step(self, p, g, state, lr):\n        return p\n",
        r"must declare hypers",
    ),
    "raises": ("raise RuntimeError('boom')\n", r"running it raised RuntimeError: boom"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_file_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source, message = BROKEN[case]
    Path("mine.py").write_text(source, encoding="utf-8")
    status, out, err = run_cli(
        capsys, "run", "--optimizer-file", "mine.py", "--task", "quadratic", "--steps", "3"
    )
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--optimizer-file mine.py: " in lines[0], err
    assert re.search(message, lines[0]), lines[0]


def test_lbfgs_counts_function_evaluations_and_refuses_mini_batches(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_cli(
        capsys, "run", "--task", "rosenbrock", "--optimizer", "lbfgs-wolfe", "--steps", "12"
    )
    assert status == 0
    evals = int(re.search(r"function evals +(\d+)", out)[1])
    loss = float(re.search(r"last batch loss +(\S+)", out)[1])
    assert evals > 12 and loss < 1e-6  # Rosenbrock's minimum in a dozen steps
    status, out, err = run_cli(
        capsys, "run", "--task", "digits-mlp", "--optimizer", "lbfgs", "--steps", "2"
    )
    assert status == 2 and "lbfgs needs full-batch gradients" in err
    assert "set batch_size=full" in err
