"""Gradient-based optimizers in pure NumPy, registered by name.

Every optimizer keeps separate state per parameter key (created lazily, matching the array's
dtype and shape) and updates `params: dict[str, ndarray]` in place from `grads` of the same keys:

    opt = create("adam", lr=1e-3)
    opt.step(params, grads)            # lr=... overrides the configured rate for this step
    opt.beta1                          # knob values are attributes of the same name

Arithmetic follows torch.optim's single-tensor code paths operation by operation (order of
operations, where eps is added, how bias corrections are applied), so float64 runs match torch
to ~1e-15 per step; Lion follows optax. Knob names are torch's, with `betas` split into `beta1`,
`beta2`.

Inside the optimizer (read-only; reading never changes anything):

    opt.state("w")        # {"step": 3, "exp_avg": <read-only view>, "exp_avg_sq": ...}
    opt.scalars("w")      # AdamScalars(lr=..., beta1=..., bias_correction1=..., ...)
    opt.derived("w", g, p_before)  # {"exp_avg_hat": m̂, "exp_avg_sq_hat": v̂, "effective_lr": α}
    type(opt).state_doc   # StateDoc: what each key means, how α is defined (help, list)

State keys are torch's `optimizer.state[p]` keys. Each optimizer's per-step scalars are its
own NamedTuple (`AdamScalars`, ...), computed once per step and kept per key, so the bias
corrections, β₁,t, μ_t or ρ_t of the last step can be read back. See engine.optimizer_state
for the declarations and for reading a whole run per parameter by name.

One module per family, as torch.optim does: base.py (the `Optimizer` base class, the
registry, shared knob and state declarations, the in-place building blocks and the blocked
large-array path), sgd.py (sgd, momentum, nesterov), adagrad.py, rmsprop.py, adadelta.py,
adam.py (adam, amsgrad, adamw: one kernel), nadam.py, radam.py, adamax.py, adafactor.py,
lion.py, adaptive_adam.py, rprop.py, asgd.py, muon.py, lbfgs.py, adabound.py,
schedulefree.py, prodigy.py, sam.py and lookahead.py (wrappers of an inner optimizer,
wrapped.py). The large-array tuning constants live in base.py (`BLOCK_BYTES`,
`BLOCKED_MIN_BLOCKS`; set them there, the copies here are for reading).

Adding an optimizer: write one module here with a `@register`-ed subclass of `Optimizer`
(its docstring gives the update rule and the reference; declare `name`, `summary`, `specs`,
`equations`, `reference`, `state_doc`, and `_buffers`/`_kernel` for an elementwise update,
see `Optimizer`), then name it in `FAMILIES` below (imported when first used). The table's
order is the order of `names()` (the app's picker, `optplay list`): append, don't insert.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.optimizers.base import (
    _REGISTRY,
    BLOCK_BYTES,
    BLOCKED_MIN_BLOCKS,
    Optimizer,
    StepRate,
    create,
    get,
    names,
    register,
    source_of,
    specs,
    summary,
    validate,
)

# Each family's module registers its optimizers when one of them is first used (or a class
# is read from this package): a run of Adam imports adam.py only. The order of this table is
# the order of `names()` (the app's picker, `optplay list`): append, don't insert.
FAMILIES: dict[str, str] = {
    "sgd": "engine.optimizers.sgd",
    "momentum": "engine.optimizers.sgd",
    "nesterov": "engine.optimizers.sgd",
    "adagrad": "engine.optimizers.adagrad",
    "rmsprop": "engine.optimizers.rmsprop",
    "adadelta": "engine.optimizers.adadelta",
    "adam": "engine.optimizers.adam",
    "amsgrad": "engine.optimizers.adam",
    "adamw": "engine.optimizers.adam",
    "nadam": "engine.optimizers.nadam",
    "radam": "engine.optimizers.radam",
    "adamax": "engine.optimizers.adamax",
    "adafactor": "engine.optimizers.adafactor",
    "lion": "engine.optimizers.lion",
    "adaptive-adam": "engine.optimizers.adaptive_adam",
    "rprop": "engine.optimizers.rprop",
    "asgd": "engine.optimizers.asgd",
    "muon": "engine.optimizers.muon",
    "lbfgs": "engine.optimizers.lbfgs",
    "lbfgs-wolfe": "engine.optimizers.lbfgs",
    "adabound": "engine.optimizers.adabound",
    "schedulefree-adamw": "engine.optimizers.schedulefree",
    "schedulefree-sgd": "engine.optimizers.schedulefree",
    "prodigy": "engine.optimizers.prodigy",
    "sam": "engine.optimizers.sam",
    "lookahead": "engine.optimizers.lookahead",
}
_REGISTRY.expect(FAMILIES)

__all__ = [
    "ASGD",
    "BLOCKED_MIN_BLOCKS",
    "BLOCK_BYTES",
    "LBFGS",
    "SAM",
    "SGD",
    "AMSGrad",
    "AdaBound",
    "Adadelta",
    "Adafactor",
    "AdafactorScalars",
    "Adagrad",
    "AdagradScalars",
    "Adam",
    "AdamScalars",
    "AdamW",
    "Adamax",
    "AdamaxScalars",
    "AdaptiveAdam",
    "LBFGSWolfe",
    "Lion",
    "Lookahead",
    "Momentum",
    "Muon",
    "NAdam",
    "NAdamScalars",
    "Nesterov",
    "Optimizer",
    "Prodigy",
    "RAdam",
    "RAdamScalars",
    "RMSprop",
    "Rprop",
    "SGDScalars",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
    "StepRate",
    "create",
    "get",
    "names",
    "register",
    "source_of",
    "specs",
    "summary",
    "validate",
]


def __getattr__(attribute: str) -> Any:
    """A family's class (`optimizers.Adam`, `from engine.optimizers import Lion`): its
    module imported on first use."""
    if attribute in __all__:
        for module in dict.fromkeys(FAMILIES.values()):
            found = getattr(importlib.import_module(module), attribute, None)
            if found is not None:
                globals()[attribute] = found
                return found
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
