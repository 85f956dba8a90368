"""Adadelta: RMSprop whose step size is a running RMS of past updates (units match θ).

    v ← ρ·v + (1 − ρ)·g²,   Δ = √(u + ε) / √(v + ε) · g,   u ← ρ·u + (1 − ρ)·Δ²,   θ ← θ − η·Δ

Zeiler 2012, ADADELTA: An Adaptive Learning Rate Method (arXiv:1212.5701).
torch.optim.Adadelta.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    StepRate,
    _alpha,
    _Arr,
    _Arrays,
    _beta,
    _ema_sq,
    _eps,
    _flavour,
    _flavour_grad,
    _grad,
    _KeyState,
    _lr,
    _summary,
    _Want,
    _wants,
    _weight_decay,
    register,
)


@register
class Adadelta(Optimizer):
    """Adadelta: RMSprop whose step size is a running RMS of past updates (units match θ).

    v ← ρv + (1 − ρ)g², Δ = √(u + ε)/√(v + ε)·g, u ← ρu + (1 − ρ)Δ², θ ← θ − η·Δ. The
    numerator gives steps the units of θ, so η = 1 works without tuning. Zeiler, "ADADELTA:
    An Adaptive Learning Rate Method" (arXiv:1212.5701, 2012). torch.optim.Adadelta.
    """

    name = "adadelta"
    summary = "Adadelta: RMS of past updates over RMS of gradients (η = 1 by default)"
    specs = (
        _lr(1.0),
        _beta("rho", 0.9, "decay ρ of both running averages"),
        _eps(1e-6),
        _weight_decay(),
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "v ← ρ·v + (1 − ρ)·g²\n"
        "Δ = √(u + ε) / √(v + ε) · g\n"
        "u ← ρ·u + (1 − ρ)·Δ²\n"
        "θ ← θ − η·Δ"
    )
    reference = (
        "Zeiler 2012, ADADELTA: An Adaptive Learning Rate Method (arXiv:1212.5701). "
        "torch.optim.Adadelta"
    )
    n_scratch = 3

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("square_avg", "v", "running mean of g² (decay ρ)"),
            Quantity("acc_delta", "u", "running mean of the squared updates Δ² (decay ρ)"),
        ),
        derived=(_alpha("η·√(u_{t−1} + ε) / √(v + ε)"),),
        scalars=(_LR,),
        summaries=(
            _ALPHA_SUMMARY,
            _summary("sqrt_v", "√v", "RMS of recent gradients", "square_avg", "sqrt"),
            _summary("sqrt_u", "√u", "RMS of recent updates", "acc_delta", "sqrt"),
        ),
        effective_lr="α = η·√(u_{t−1} + ε) / √(v_t + ε) per coordinate (u before this "
        "step's update); θ ← θ − α·g. Read back after the step by solving "
        "u_t = ρ·u_{t−1} + (1 − ρ)·Δ² for u_{t−1} (NaN where ρ = 0 and g = 0).",
    )

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "v ← (1 − ρ)·g² + ρ·v\n"
            "Δ = √(u + ε) / √(v + ε) · g\n"
            "u ← (1 − ρ)·Δ² + ρ·u,   θ ← θ − η·Δ"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "v ← ρ·v + (1 − ρ)·g²\n"
            "Δ = −√(u + ε)·g / √(v + ε)\n"
            "u ← ρ·u + (1 − ρ)·Δ²,   θ ← θ + η·Δ     (Keras' defaults ρ = 0.95, ε = 1e-7)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adadelta",
        "optax": "optax.adadelta",
        "keras": "keras.optimizers.Adadelta",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.adadelta (scale_by_adadelta, then −η) or Keras 3's Adadelta."""
        d = _flavour_grad(p, g, self.weight_decay, self.maximize)
        rho, eps, lr = self.rho, self.eps, c.lr
        v, u = st.buf("square_avg"), st.buf("acc_delta")
        if self.flavour == "optax":
            # inject_hyperparams holds ρ and ε in the parameters' dtype: 1 − ρ is computed there
            rho, eps = p.dtype.type(rho), p.dtype.type(eps)
            v[...] = (1 - rho) * (d * d) + rho * v
            delta = np.sqrt(u + eps) / np.sqrt(v + eps) * d
            u[...] = (1 - rho) * (delta * delta) + rho * u
            p += -lr * delta
        else:
            v[...] = rho * v + (1 - rho) * (d * d)
            delta = -(np.sqrt(u + eps) * d) / np.sqrt(v + eps)
            u[...] = rho * u + (1 - rho) * (delta * delta)
            p += lr * delta

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("square_avg"), st.buf("acc_delta")]

    compiled_step = compiled.adadelta_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: StepRate) -> None:
        sq, acc = bufs
        rho, eps = self.rho, self.eps
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        _ema_sq(sq, d, rho, s[1])
        np.add(sq, eps, out=s[1])
        np.sqrt(s[1], out=s[1])  # std
        np.add(acc, eps, out=s[2])
        np.sqrt(s[2], out=s[2])
        np.divide(s[2], s[1], out=s[2])
        np.multiply(s[2], d, out=s[2])  # delta
        _ema_sq(acc, s[2], rho, s[1])
        np.multiply(s[2], -c.lr, out=s[1])
        p += s[1]

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        d = self._used_grad(st, grad, prev) if _wants(want, "effective_lr") else None
        if d is not None:
            # u_t + ρε = w·(ρ + (1 − ρ)·r) with w = u_{t−1} + ε and r = d²/(v + ε): every
            # term is >= 0, so solving for w loses only a few ulp.
            rho, eps = st.hypers["rho"], st.hypers["eps"]
            v_eps = st.bufs["square_avg"] + eps
            r = np.multiply(d, d)
            r /= v_eps
            r *= 1.0 - rho
            r += rho
            w = st.bufs["acc_delta"] + rho * eps
            w /= r
            np.sqrt(w, out=w)
            np.sqrt(v_eps, out=v_eps)
            w /= v_eps
            w *= st.scalars.lr
            out["effective_lr"] = w
        return out
