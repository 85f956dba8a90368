"""Adagrad: per-coordinate steps shrinking with the accumulated squared gradient.

    s ← s + g²,   η_t = η / (1 + (t − 1)·lr_decay),   θ ← θ − η_t·g / (√s + ε)

Duchi, Hazan & Singer 2011, Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization (JMLR). torch.optim.Adagrad.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _LR,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _alpha,
    _alpha_via,
    _Arr,
    _Arrays,
    _eps,
    _flavour,
    _flavour_grad,
    _grad,
    _KeyState,
    _lr,
    _scalars,
    _summary,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class AdagradScalars(NamedTuple):
    """Per-step scalars of Adagrad."""

    lr: float  # η of this step
    decayed_lr: float  # η_t = η / (1 + (t − 1)·lr_decay)


@register
class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps shrinking with the accumulated squared gradient.

    s ← s + g², θ ← θ − η_t·g/(√s + ε) with η_t = η/(1 + (t − 1)·lr_decay) and s starting at
    `initial_accumulator_value`. Coordinates with large past gradients take small steps and
    rare ones large steps; the accumulated sum only grows, so steps shrink monotonically.
    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization" (JMLR 2011). torch.optim.Adagrad.
    """

    name = "adagrad"
    summary = "Adagrad: steps scaled by 1/√(sum of past squared gradients)"
    specs = (
        _lr(1e-2),
        Hyper("lr_decay", 0.0, low=0.0, help="η_t = η / (1 + (t − 1)·lr_decay)"),
        _weight_decay(),
        Hyper("initial_accumulator_value", 0.0, low=0.0, help="starting value of the sum s"),
        _eps(1e-10),
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "s ← s + g²                 (s₀ = initial_accumulator_value)\n"
        "η_t = η / (1 + (t − 1)·lr_decay)\n"
        "θ ← θ − η_t·g / (√s + ε)"
    )
    reference = (
        "Duchi, Hazan & Singer 2011, Adaptive Subgradient Methods for Online Learning and "
        "Stochastic Optimization (JMLR). torch.optim.Adagrad"
    )

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("sum", "s", "sum of g² since the start (from initial_accumulator_value)"),
        ),
        derived=(_alpha("η_t / (√s + ε)"),),
        scalars=(_LR, Quantity("decayed_lr", "η_t", "η / (1 + (t − 1)·lr_decay)")),
        summaries=(
            _alpha_via("sqrt_sum"),
            _summary("sqrt_sum", "√s", "root of the accumulated squared gradient", "sum", "sqrt"),
        ),
        effective_lr="α = η_t / (√s + ε) per coordinate, with η_t = η / (1 + (t − 1)·lr_decay); "
        "θ ← θ − α·g. s only grows, so α only shrinks.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> AdagradScalars:
        st.t += 1
        return _scalars(AdagradScalars, (lr, lr / (1 + (st.t - 1) * self.lr_decay)))

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "s ← g² + s                       (optax's default s₀ = 0.1)\n"
            "θ ← θ − η·g / √(s + ε)  where s > 0, else θ   (ε inside the root; no lr_decay)"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "s ← s + g²                       (Keras' default s₀ = 0.1)\n"
            "θ ← θ − η·g / √(s + ε)          (ε inside the root; no lr_decay)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adagrad",
        "optax": "optax.adagrad",
        "keras": "keras.optimizers.Adagrad",
    }

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        flavour = values.get("flavour", "torch")
        if flavour != "torch" and values["lr_decay"] != 0:
            raise ValueError(
                f"lr_decay must be 0 with flavour {flavour} (only torch has lr_decay), "
                f"got {values['lr_decay']:g}"
            )

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.adagrad (scale_by_rss) or Keras 3's Adagrad: ε inside the root."""
        d = _flavour_grad(p, g, self.weight_decay, self.maximize)
        s = st.buf("sum", self.initial_accumulator_value)
        if self.flavour == "optax":
            s[...] = d * d + s
            with np.errstate(divide="ignore"):
                inv = np.where(s > 0, 1.0 / np.sqrt(s + self.eps), 0.0)
            p += -c.lr * (inv * d)
        else:
            s += d * d
            p -= c.lr * d / np.sqrt(s + self.eps)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("sum", self.initial_accumulator_value)]

    compiled_step = compiled.adagrad_step

    def _kernel(
        self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdagradScalars
    ) -> None:
        acc = bufs[0]
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        np.multiply(d, d, out=s[1])
        acc += s[1]
        np.sqrt(acc, out=s[1])
        np.add(s[1], self.eps, out=s[1])
        np.multiply(d, -c.decayed_lr, out=s[0])  # d is dead after this read
        np.divide(s[0], s[1], out=s[0])
        p += s[0]

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.decayed_lr, x + st.hypers["eps"])  # α of √s

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            den = np.sqrt(st.bufs["sum"])
            den += st.hypers["eps"]
            out["effective_lr"] = np.divide(st.scalars.decayed_lr, den, out=den)
        return out
