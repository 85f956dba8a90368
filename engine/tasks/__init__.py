"""Training tasks: what an optimizer trains, by name.

    from engine import tasks
    tasks.names()                                   # ["linear-regression", "quadratic", ...]
    task = tasks.create("digits-mlp", hidden=128, batch_size=32)   # dtype="float64" default
    params = task.init_params(rng)
    batches = task.batches(rng)
    loss, grads = task.loss_and_grads(params, next(batches))
    task.evaluate(params)                           # {"loss": ..., "accuracy": ...}
    task.model_view_kind                            # "confusion" (None: no model view)
    task.model_view(params, width=120, height=80)   # what the model learned (views.py)

Families: regression.py (linear-regression, quadratic), landscapes.py (2-D functions for
trajectories), mlp.py (binary-mlp, blobs-mlp, digits-mlp), rnn.py (sine-rnn), sparse.py
(sparse-logistic). Data is generated from seeds or shipped in engine/data; nothing is
downloaded.
"""

from __future__ import annotations

from typing import Any

from engine.tasks.base import DTYPES, REGISTRY, Task, resolve_dtype

# Each family's module registers its tasks when one of them is first used: the app's first
# run (Rosenbrock) imports landscapes.py only. The order of this table is the order of
# `names()`: append, don't insert.
FAMILIES: dict[str, str] = {
    "linear-regression": "engine.tasks.regression",
    "quadratic": "engine.tasks.regression",
    "rosenbrock": "engine.tasks.landscapes",
    "beale": "engine.tasks.landscapes",
    "rastrigin": "engine.tasks.landscapes",
    "saddle": "engine.tasks.landscapes",
    "ill-conditioned": "engine.tasks.landscapes",
    "binary-mlp": "engine.tasks.mlp",
    "blobs-mlp": "engine.tasks.mlp",
    "digits-mlp": "engine.tasks.mlp",
    "sine-rnn": "engine.tasks.rnn",
    "sparse-logistic": "engine.tasks.sparse",
}
REGISTRY.expect(FAMILIES)

__all__ = [
    "DTYPES",
    "REGISTRY",
    "Task",
    "create",
    "get",
    "names",
    "specs",
    "summary",
    "validate",
]

get = REGISTRY.get
names = REGISTRY.names
specs = REGISTRY.specs
summary = REGISTRY.summary
validate = REGISTRY.validate


def create(name: str, /, *, dtype: Any = "float64", **hyper_values: Any) -> Task:
    """A task by name with validated knobs (defaults filled); ValueError names a bad knob.

    `dtype` ("float64" or "float32") is the dtype of the task's data, params and grads.
    """
    resolved = resolve_dtype(dtype)
    return REGISTRY.create(name, resolved.name, **hyper_values)
