"""The three kinds of configurable things (task, optimizer, schedule) and their registries.

One mapping, so code that treats the kinds alike (forms, knob routing, validation, file
tables) never builds its own dict of modules:

    from engine.kinds import KINDS, registry
    for kind in KINDS:
        registry(kind).specs(name)        # names, get, specs, summary, validate, create
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

Kind = Literal["task", "optimizer", "schedule"]

#: The kinds, in the order the app's pickers and the CLI's knob listings show them.
KINDS: tuple[Kind, ...] = ("task", "optimizer", "schedule")

_MODULES = {
    "task": "engine.tasks",
    "optimizer": "engine.optimizers",
    "schedule": "engine.schedules",
}


def registry(kind: str) -> ModuleType:
    """The registry module of `kind` (imported on first use: `import engine` stays cheap).

    Each offers `names()`, `get(name)`, `specs(name)`, `summary(name)`, `validate(name,
    values)` and `create(name, ...)`."""
    try:
        module = _MODULES[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {kind!r} (expected one of: {', '.join(KINDS)})") from None
    return importlib.import_module(module)
