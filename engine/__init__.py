"""optplay's engine: optimizers, schedules, tasks and runs in pure NumPy (no UI imports)."""

from __future__ import annotations

from typing import Any

__all__ = ["Run", "RunConfig", "optimizers", "schedules", "tasks"]


def __getattr__(name: str) -> Any:
    # Submodules load on first use so `import engine` stays cheap for the CLI.
    import importlib

    if name in ("optimizers", "schedules", "tasks", "history", "config"):
        return importlib.import_module(f"engine.{name}")
    if name in ("Run", "RunConfig"):
        return getattr(importlib.import_module("engine.run"), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
