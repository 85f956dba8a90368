"""The app's `C` action: the run in view as a standalone script (engine/codegen).

The dialog takes a script name and, after a space, the framework: `experiment.py` (NumPy,
or Keras for a run in the keras flavour), `experiment.py torch`. `code_target` turns that
text into what will be written, or the one-line reason it cannot (shown in the dialog, so it
stays open until the answer is usable); `write_code` writes the script and, when the task has
data, the .npz beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.codegen import FRAMEWORKS, CodegenError, Script, generate
from engine.session import file_name_problem

DEFAULT_STEM = "experiment"


@dataclass(frozen=True)
class CodeTarget:
    """Where the script goes, in which framework, and what it holds."""

    script_path: str
    framework: str
    script: Script

    @property
    def paths(self) -> list[str]:
        """The files written: the script, and its data when the task has some."""
        data = [] if self.script.data is None else [self.data_path]
        return [self.script_path, *data]

    @property
    def data_path(self) -> str:
        return str(Path(self.script_path).with_suffix(".npz"))


def default_framework(config: Any) -> str:
    """NumPy, or Keras for a run in the keras flavour (keras.optimizers compute it)."""
    return "keras" if config.optimizer_hypers.get("flavour") == "keras" else "numpy"


def suggestion(config: Any) -> str:
    """The dialog's prefilled answer."""
    return f"{DEFAULT_STEM}.py {default_framework(config)}"


def code_target(text: str, config: Any, steps: int) -> tuple[CodeTarget | None, str | None]:
    """(target, None), or (None, why not) for the text typed in the dialog."""
    words = text.split()
    if not words:
        return None, "type a file name"
    if len(words) > 2:
        return None, "type a file name and, after a space, the framework (e.g. exp.py torch)"
    name = words[0] if words[0].endswith(".py") else words[0] + ".py"
    framework = words[1] if len(words) == 2 else default_framework(config)
    if framework not in FRAMEWORKS:
        return None, f"framework must be one of {', '.join(FRAMEWORKS)}, got {framework!r}"
    problem = file_name_problem(name)
    if problem is not None:
        return None, problem
    try:
        script = generate(config, steps, framework, Path(name).with_suffix(".npz").name)
    except CodegenError as err:
        return None, str(err)
    return CodeTarget(name, framework, script), None


def write_code(target: CodeTarget) -> str:
    """Write the files; the toast's text ("wrote a.py and a.npz: run it with ...").
    OSError when a file cannot be written."""
    Path(target.script_path).write_text(target.script.text, encoding="utf-8")
    if target.script.data is not None:
        np.savez(target.data_path, **target.script.data)
    written = " and ".join(target.paths)
    return f"wrote {written} ({target.framework}): run it with `python {target.script_path}`"
