"""Lion: the sign of an interpolated momentum, with decoupled weight decay.

    c = sign(β₁·m + (1 − β₁)·g),   θ ← θ − η·(c + λ·θ),   m ← β₂·m + (1 − β₂)·g

Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (NeurIPS). optax.lion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _STEP,
    Optimizer,
    StepRate,
    _alpha,
    _Arr,
    _Arrays,
    _beta,
    _KeyState,
    _lr,
    _magnitude,
    _same_alpha,
    _Want,
    _weight_decay,
    register,
)


@register
class Lion(Optimizer):
    """Lion: the sign of an interpolated momentum, with decoupled weight decay (optax.lion).

    c = sign(β₁m + (1 − β₁)g), θ ← θ − η(c + λθ), then m ← β₂m + (1 − β₂)g. Every coordinate
    moves by ±η, so the update norm is large: the paper recommends a learning rate 3-10× smaller
    than AdamW's, hence our default η = 1e-4 (optax has no default; 1e-4 is AdamW's usual 1e-3
    divided by 10), and β₁ = 0.9, β₂ = 0.99, λ = 1e-3 are optax's defaults. Chen et al.,
    "Symbolic Discovery of Optimization Algorithms" (NeurIPS 2023).
    """

    name = "lion"
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": None,
        "optax": "optax.lion (the arithmetic here)",
        "keras": "keras.optimizers.Lion",
    }
    summary = "Lion: θ ← θ − η·sign(β₁m + (1 − β₁)g), a sign-momentum method"
    specs = (
        _lr(1e-4),
        _beta("beta1", 0.9, "interpolation β₁ between momentum and gradient in the sign"),
        _beta("beta2", 0.99, "decay β₂ of the stored momentum"),
        _weight_decay(1e-3, "decoupled decay λ: θ ← θ − η·λθ each step"),
    )
    equations = "c = sign(β₁·m + (1 − β₁)·g)\nθ ← θ − η·(c + λ·θ)\nm ← β₂·m + (1 − β₂)·g"
    reference = (
        "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (NeurIPS). optax.lion"
    )

    state_doc = StateDoc(
        state=(_STEP, Quantity("exp_avg", "m", "momentum: running mean of g (decay β₂)")),
        derived=(_alpha("η, the same for every coordinate"),),
        scalars=(_LR,),
        summaries=(_ALPHA_SUMMARY, _magnitude("m", "m", "the momentum", "exp_avg")),
        effective_lr="α = η for every coordinate; θ ← θ − α·(sign(β₁·m + (1 − β₁)·g) + λθ): "
        "each coordinate moves by ±α, plus the decoupled decay.",
    )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg")]

    compiled_step = compiled.lion_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: StepRate) -> None:
        lr = c.lr
        (m,) = bufs
        b1, b2 = self.beta1, self.beta2
        upd, tmp = s
        np.multiply(g, 1.0 - b1, out=upd)
        np.multiply(m, b1, out=tmp)
        tmp += upd
        # Out of place: numpy's in-place sign is ~10x slower on mixed-sign data.
        np.sign(tmp, out=upd)
        if self.weight_decay != 0.0:
            np.multiply(p, self.weight_decay, out=tmp)
            upd += tmp
        upd *= lr
        p -= upd  # optax: θ + (−η·u)
        m *= b2
        np.multiply(g, 1.0 - b2, out=tmp)
        m += tmp

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0  # decoupled: θ − ηλθ

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        return _same_alpha(st, want, st.scalars.lr)
