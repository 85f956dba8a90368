"""The fields a bench spec and a sweep spec share, declared and checked once.

Both specs train optimizers on a task for some steps and seeds, score each run against a
target, and may fix knobs of the task and of each optimizer. `check_shared` validates those
nine fields (`SHARED_FIELDS`) of either spec, with one set of messages; each spec adds its
own fields (a bench's tasks and sizes, a sweep's task, schedule and grid) and turns a
`FieldError` into its own error type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine import optimizers
from engine.hyper import _show
from engine.run import DTYPES

SHARED_FIELDS = (
    "optimizers",
    "seeds",
    "steps",
    "target",
    "target_fraction",
    "check_every",
    "dtype",
    "task_hypers",
    "optimizer_hypers",
)


class FieldError(ValueError):
    """A bad value of a shared field: `field`, the knob or name inside it (`key`) when there
    is one, and `detail` (the message without the field's name)."""

    def __init__(self, field_name: str, detail: str, key: str | None = None) -> None:
        sep = " " if detail.startswith("must") else ": "
        super().__init__(f"{field_name}{sep}{detail}")
        self.field = field_name
        self.detail = detail
        self.key = key


def names(field_name: str, value: Any, registry: Any) -> tuple[str, ...]:
    """A non-empty list of names known to `registry` (tasks, optimizers), none twice."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise FieldError(field_name, f"must be a non-empty list of names, got {_show(value)}")
    for item in value:
        try:
            registry.get(item)
        except ValueError as err:
            raise FieldError(field_name, str(err)) from None
        if list(value).count(item) > 1:
            raise FieldError(field_name, f"{_show(item)} is listed twice")
    return tuple(value)


def int_at_least(field_name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise FieldError(field_name, f"must be an integer >= {low}, got {_show(value)}")
    return int(value)


def _knob_tables(
    field_name: str, value: Any, chosen: Sequence[str], kind: str, verb: str
) -> dict[str, dict[str, Any]]:
    """{name: {knob: value}} for names among `chosen` (the optimizers or tasks run)."""
    if not isinstance(value, Mapping):
        raise FieldError(field_name, f"must map {kind} names to knobs, got {_show(value)}")
    for key, knobs in value.items():
        if key not in chosen:
            raise FieldError(
                field_name,
                f"{_show(key)} is not one of the {verb} {kind}s ({', '.join(chosen)})",
                str(key),
            )
        if not isinstance(knobs, Mapping):
            raise FieldError(
                field_name, f"{_show(key)} must be a table of knobs, got {_show(knobs)}", key
            )
    return {k: dict(v) for k, v in value.items()}


def check_shared(spec: Any, verb: str, task_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The nine shared fields of `spec` (a BenchSpec or SweepSpec), validated and normalized
    (tuples, floats, plain dicts). `verb` says what the spec does with its optimizers in
    messages ("benchmarked", "swept"). `task_hypers` maps each of `task_names` to its knobs
    when the spec runs several tasks (a bench), else it is one table of knobs (a sweep).
    FieldError names the field (and the name or knob inside it)."""
    out: dict[str, Any] = {"optimizers": names("optimizers", spec.optimizers, optimizers)}
    out["seeds"] = int_at_least("seeds", spec.seeds, 1)
    out["steps"] = int_at_least("steps", spec.steps, 1)
    if spec.check_every is not None:
        out["check_every"] = int_at_least("check_every", spec.check_every, 1)
    if spec.target is not None:
        t = spec.target
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise FieldError("target", f"must be a finite number, got {_show(t)}")
        out["target"] = float(t)
    f = spec.target_fraction
    if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < f < 1:
        raise FieldError("target_fraction", f"must be a number in (0, 1), got {_show(f)}")
    out["target_fraction"] = float(f)
    if not isinstance(spec.dtype, str) or spec.dtype not in DTYPES:
        raise FieldError("dtype", f"must be one of {', '.join(DTYPES)}, got {_show(spec.dtype)}")
    if task_names is None:
        if not isinstance(spec.task_hypers, Mapping):
            raise FieldError(
                "task_hypers", f"must be a table of knobs, got {_show(spec.task_hypers)}"
            )
        out["task_hypers"] = dict(spec.task_hypers)
    else:
        out["task_hypers"] = _knob_tables("task_hypers", spec.task_hypers, task_names, "task", verb)
    out["optimizer_hypers"] = _knob_tables(
        "optimizer_hypers", spec.optimizer_hypers, out["optimizers"], "optimizer", verb
    )
    return out
