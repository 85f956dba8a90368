"""`C` in the app: the run in view as a standalone script, written into the working folder
with its data, and a toast saying where (tui/code_export.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import screen_text, wait_for

from engine.run import Run, RunConfig
from tui.app import create_app
from tui.screens.confirm import ConfirmOverwriteScreen
from tui.screens.prompt import PromptScreen

SIZE = (100, 30)
LINREG = RunConfig(
    task="linear-regression", optimizer="momentum", schedule="step", seed=3, eval_every=10,
    task_hypers={"batch_size": 16}, optimizer_hypers={"lr": 0.05},
    schedule_hypers={"step_size": "2 epochs"},
)  # fmt: skip


async def answer(pilot, text: str | None = None) -> None:
    """Open the dialog with C and confirm it (with `text` typed over the suggestion)."""
    pilot.app.set_focus(None)
    await pilot.press("C")
    await wait_for(lambda: isinstance(pilot.app.screen, PromptScreen))
    if text is not None:
        await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.press("enter")


async def test_c_writes_the_run_as_a_numpy_script_that_reproduces_it(tmp_path: Path) -> None:
    app = create_app(LINREG, steps=60)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await answer(pilot)  # the suggestion: experiment.py numpy
        script, data = tmp_path / "experiment.py", tmp_path / "experiment.npz"
        await wait_for(lambda: "wrote experiment.py and experiment.npz" in screen_text(app))
        assert script.is_file() and data.is_file()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True, timeout=300)  # fmt: skip
    printed = [float(x) for x in re.findall(r"^step \d+ eval_loss (\S+)$", done.stdout, re.M)]
    run = Run(LINREG)
    run.step(60)
    evals = run.history.downsample("eval_loss", 100)  # steps 0, 10, ..., 60: one each
    assert list(evals.steps) == list(range(0, 61, 10))
    assert printed == pytest.approx(list(evals.mins), rel=1e-9, abs=0.0)


async def test_a_framework_after_the_name_and_an_overwrite_asked_first(tmp_path: Path) -> None:
    app = create_app(LINREG, steps=60)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await answer(pilot, "lin torch")
        await wait_for(lambda: (tmp_path / "lin.py").is_file())
        assert "torch.optim.SGD(" in (tmp_path / "lin.py").read_text()
        before = (tmp_path / "lin.py").read_text()
        await answer(pilot, "lin.py optax")
        await wait_for(lambda: isinstance(app.screen, ConfirmOverwriteScreen))
        await pilot.press("n")  # keep the torch script
        await pilot.pause()
        assert (tmp_path / "lin.py").read_text() == before


async def test_what_cannot_be_written_is_said_in_the_dialog() -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="lion"), steps=50)
    async with app.run_test(size=SIZE) as pilot:
        await answer(pilot)
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)  # still open: nothing written
        assert "optimizer: lion is not covered by `optplay code` yet" in screen_text(app)
        await pilot.press("ctrl+a", "ctrl+k", *"x.py fortran", "enter")
        await pilot.pause()
        assert "framework must be one of numpy, torch, optax, keras" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)
        assert not list(Path.cwd().glob("*.py"))
