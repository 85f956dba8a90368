"""Names for the runs of an export: one run, a mapping or a sequence, each named once.

The history export (engine.history) and the state summary export (engine.state_history) take
their runs in the same forms and name them the same way; this is that one rule.
"""

from __future__ import annotations

from typing import Any

__all__ = ["named_runs"]


def named_runs(runs: Any) -> list[tuple[str, Any]]:
    """(name, run) pairs from a Run, a mapping name -> Run, or a sequence of Runs, of
    (name, Run) pairs or of objects with `.name` and `.run` (compare.Overlay / Lane).
    Unnamed runs are called after their optimizer, made unique with " #2", " #3"..."""
    if hasattr(runs, "history") and hasattr(runs, "config"):
        items: list[tuple[str | None, Any]] = [(None, runs)]
    elif isinstance(runs, dict):
        items = [(str(k), v) for k, v in runs.items()]
    else:
        items = []
        for item in runs:
            if hasattr(item, "history"):
                items.append((None, item))
            elif hasattr(item, "run") and hasattr(item, "name"):
                items.append((str(item.name), item.run))
            else:
                name, run = item
                items.append((str(name), run))
    if not items:
        raise ValueError("no runs to export")
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for name, run in items:
        base = name if name is not None else run.config.optimizer
        unique, k = base, 1
        while unique in seen:
            k += 1
            unique = f"{base} #{k}"
        seen.add(unique)
        out.append((unique, run))
    return out
