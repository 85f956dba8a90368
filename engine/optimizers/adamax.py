"""Adamax: Adam with the infinity norm, dividing by a decaying max of |g|.

    m ← β₁·m + (1 − β₁)·g,   u ← max(β₂·u, |g| + ε),   θ ← θ − η/(1 − β₁ᵗ) · m / u

Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR), section 7.1.
torch.optim.Adamax.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ABS_M,
    _B1,
    _BC1,
    _EXP_AVG,
    _LR,
    _M_HAT,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _alpha,
    _alpha_via,
    _Arr,
    _Arrays,
    _beta,
    _eps,
    _flavour,
    _flavour_grad,
    _grad,
    _KeyState,
    _lerp,
    _lr,
    _scalars,
    _summary,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class AdamaxScalars(NamedTuple):
    """Per-step scalars of Adamax."""

    lr: float  # η of this step
    bias_correction1: float  # 1 − β₁ᵗ
    step_size: float  # η / (1 − β₁ᵗ)


@register
class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm: divide by a decaying max of |g| instead of an RMS.

    m ← β₁m + (1 − β₁)g, u ← max(β₂u, |g| + ε), θ ← θ − η/(1 − β₁ᵗ) · m/u. The max needs no
    bias correction and is less sensitive to rare huge gradients than v. torch adds ε to |g|
    inside the max (not to the denominator). Kingma & Ba, "Adam: A Method for Stochastic
    Optimization" (ICLR 2015), section 7.1. torch.optim.Adamax.
    """

    name = "adamax"
    summary = "Adamax: Adam with a decaying max of |g| (infinity norm)"
    specs = (
        _lr(2e-3),
        _B1,
        _beta("beta2", 0.999, "decay β₂ of the running max of |g|"),
        _eps(1e-8, "ε added to |g| inside the max"),
        _weight_decay(),
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )
    equations = (
        "g ← ∇f(θ) + λθ\nm ← β₁·m + (1 − β₁)·g\nu ← max(β₂·u, |g| + ε)\nθ ← θ − η/(1 − β₁ᵗ) · m / u"
    )
    reference = (
        "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR), section 7.1. "
        "torch.optim.Adamax"
    )

    state_doc = StateDoc(
        state=(_STEP, _EXP_AVG, Quantity("exp_inf", "u", "decaying max of |g| + ε")),
        derived=(_M_HAT, _alpha("η / u")),
        scalars=(_LR, _BC1),
        summaries=(
            _alpha_via("exp_inf"),
            _ABS_M,
            _summary("exp_inf", "u", "the decaying max of |g| (the denominator)", "exp_inf"),
        ),
        effective_lr="α = η / u per coordinate; θ ← θ − α·m̂ with m̂ = m / (1 − β₁ᵗ). "
        "g includes λθ (weight decay).",
    )

    def _prepare(self, st: _KeyState, lr: float) -> AdamaxScalars:
        st.t += 1
        bias_correction = 1 - self.beta1**st.t
        return _scalars(AdamaxScalars, (lr, bias_correction, lr / bias_correction))

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "m ← (1 − β₁)·g + β₁·m\n"
            "u ← max(β₂·u, |g| + ε)\n"
            "θ ← θ − η·(m / (1 − β₁ᵗ)) / u"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "m ← m + (g − m)·(1 − β₁)\n"
            "u ← max(β₂·u, |g|)               (ε outside the max)\n"
            "θ ← θ − η·m / ((1 − β₁ᵗ)·(u + ε))"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adamax",
        "optax": "optax.adamax",
        "keras": "keras.optimizers.Adamax",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.adamax (scale_by_adamax) or Keras 3's Adamax (ε outside the max)."""
        d = _flavour_grad(p, g, self.weight_decay, self.maximize)
        b1, b2, eps, lr, t = self.beta1, self.beta2, self.eps, c.lr, st.t
        m, u = st.buf("exp_avg"), st.buf("exp_inf")
        if self.flavour == "optax":
            m[...] = (1 - b1) * d + b1 * m
            np.maximum(b2 * u, np.abs(d) + eps, out=u)
            p += -lr * ((m / (1 - b1**t)) / u)
        else:
            m += (d - m) * (1 - b1)
            np.maximum(b2 * u, np.abs(d), out=u)
            p -= (lr * m) / ((1 - b1**t) * (u + eps))

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_inf")]

    compiled_step = compiled.adamax_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdamaxScalars) -> None:
        m, u = bufs
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        u *= self.beta2
        np.abs(d, out=s[1])
        np.add(s[1], self.eps, out=s[1])
        np.maximum(u, s[1], out=u)
        np.multiply(m, -c.step_size, out=s[1])
        np.divide(s[1], u, out=s[1])
        p += s[1]

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x)  # α of u

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "effective_lr"):
            out["effective_lr"] = np.divide(sc.lr, b["exp_inf"])
        return out
