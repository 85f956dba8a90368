"""An experiment as code: a standalone script reproducing a run in NumPy, torch, optax or Keras.

    script = generate(config, steps=1000, framework="torch", data_name="exp.npz")
    script.text      # the script: imports numpy and the framework, never optplay
    script.data      # {name: array} to save beside it as `data_name` (None: nothing to save)

The script reproduces the run step for step: the same data (saved in the .npz: training and
held-out sets and the initial parameters the engine drew), the same batches (the engine's
epoch permutations, drawn from the same NumPy seed sequence), the same optimizer (the
framework's own class with the run's knobs; NumPy: torch's formula written out) and the same
schedule (its closed form, the rate of update k being `lr_at(k - 1)`), and prints the
evaluation loss at step 0 and every `eval_every` steps as `step K eval_loss X` (X in full
precision). In float64 the printed losses equal `optplay run`'s to about 1e-12 relative (the
frameworks round a few operations differently; tests/engine/test_codegen.py checks 1e-9).

What is covered (anything else is refused with `CodegenError` naming the field): the tasks
of `TASKS`, the optimizers of `OPTIMIZERS` (per framework: optax has no dampening, and its
RMSprop/Adagrad put ε elsewhere), the schedules of `SCHEDULES`. The numpy, torch and optax
scripts follow torch's rules (flavour torch); the Keras scripts use keras.optimizers' classes,
which compute the keras flavour, so they are written for `flavour = "keras"` only.
The parts are in engine/codegen/parts.py, one function per task, optimizer and schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.codegen import parts
from engine.codegen.parts import CodegenError

FRAMEWORKS = ("numpy", "torch", "optax", "keras")
TASKS = tuple(parts.TASKS)
OPTIMIZERS = tuple(parts.OPTIMIZERS)
SCHEDULES = tuple(parts.SCHEDULES)

__all__ = [
    "FRAMEWORKS",
    "OPTIMIZERS",
    "SCHEDULES",
    "TASKS",
    "CodegenError",
    "Script",
    "generate",
]


@dataclass(frozen=True)
class Script:
    """A generated script and the arrays to save beside it (None: the task has no data)."""

    text: str
    data: dict[str, np.ndarray] | None


def generate(config: Any, steps: int, framework: str, data_name: str = "experiment.npz") -> Script:
    """The script reproducing `steps` updates of `config` (an engine.run.RunConfig) in
    `framework`; `data_name` is the .npz file name the script loads (beside itself).
    CodegenError (a ValueError) naming the field when something is not covered."""
    if framework not in FRAMEWORKS:
        raise CodegenError(f"framework must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    if config.task not in parts.TASKS:
        raise CodegenError(
            f"task: {config.task} is not covered by `optplay code` yet "
            f"(covered: {', '.join(TASKS)})"
        )
    if config.optimizer not in parts.OPTIMIZERS:
        raise CodegenError(
            f"optimizer: {config.optimizer} is not covered by `optplay code` yet "
            f"(covered: {', '.join(OPTIMIZERS)})"
        )
    if config.schedule not in parts.SCHEDULES:
        raise CodegenError(
            f"schedule: {config.schedule} is not covered by `optplay code` yet "
            f"(covered: {', '.join(SCHEDULES)})"
        )
    if config.optimizer_hypers.get("maximize"):
        raise CodegenError("optimizer_hypers: maximize = true is not covered by `optplay code`")
    task = parts.TASKS[config.task](config)
    optimizer = parts.optimizer_code(config, framework)
    schedule = parts.SCHEDULES[config.schedule](config)
    text = parts.assemble(config, steps, framework, data_name, task, optimizer, schedule)
    return Script(text, task.data)
