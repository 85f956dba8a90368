"""NAdam: Adam with Nesterov momentum and Dozat's momentum schedule.

    μ_t = β₁·(1 − ½·0.96^(t·ψ)),   Π_t = μ₁·μ₂⋯μ_t,   m, v as in Adam,   v̂ = v / (1 − β₂ᵗ)
    θ ← θ − η·(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε) − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε)

Dozat 2016, Incorporating Nesterov Momentum into Adam (ICLR workshop). torch.optim.NAdam
(decoupled_weight_decay gives NAdamW).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ADAM_SUMMARIES,
    _B1,
    _B2,
    _BC2,
    _DECOUPLED,
    _DECOUPLED_WD,
    _EXP_AVG,
    _EXP_AVG_SQ,
    _LR,
    _MAXIMIZE,
    _STEP,
    _V_HAT,
    Optimizer,
    _alpha,
    _alpha_of_rms,
    _Arr,
    _Arrays,
    _decayed_grad,
    _decoupled_decay,
    _ema_sq,
    _eps,
    _flavour,
    _flavour_grad,
    _is_one,
    _KeyState,
    _lerp,
    _lr,
    _scalars,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class NAdamScalars(NamedTuple):
    """Per-step scalars of NAdam."""

    lr: float  # η of this step
    mu: float  # μ_t = β₁(1 − ½·0.96^(tψ))
    mu_next: float  # μ_{t+1}
    mu_product: float  # Π_t = μ₁⋯μ_t
    bias_correction2: float  # 1 − β₂ᵗ
    grad_coef: float  # η(1 − μ_t)/(1 − Π_t): the step's factor on g/(√v̂ + ε)
    momentum_coef: float  # η·μ_{t+1}/(1 − Π_t·μ_{t+1}): its factor on m/(√v̂ + ε)
    decay: float | None  # decoupled weight decay factor 1 − ηλ (NAdamW), else None


@register
class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum schedule.

    μ_t = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay, Π_t = μ₁⋯μ_t; m and v as in Adam;
    θ ← θ − η(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε) − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε)
    with v̂ = v/(1 − β₂ᵗ): the step mixes the current gradient and the momentum one step ahead.
    decoupled_weight_decay applies θ ← θ(1 − ηλ) (NAdamW) instead of adding λθ to g. Dozat,
    "Incorporating Nesterov Momentum into Adam" (ICLR 2016 workshop). torch.optim.NAdam.
    """

    name = "nadam"
    summary = "NAdam: Adam with Nesterov look-ahead momentum"
    specs = (
        _lr(2e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        Hyper("momentum_decay", 4e-3, low=0.0, help="ψ in μ_t = β₁(1 − ½·0.96^(tψ))"),
        _DECOUPLED,
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )
    equations = (
        "g ← ∇f(θ) + λθ            (" + _DECOUPLED_WD + ")\n"
        "μ_t = β₁·(1 − ½·0.96^(t·ψ)),   Π_t = μ₁·μ₂⋯μ_t\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε)\n"
        "      − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε)"
    )
    reference = (
        "Dozat 2016, Incorporating Nesterov Momentum into Adam (ICLR workshop). torch.optim.NAdam"
    )
    n_scratch = 3

    state_doc = StateDoc(
        state=(_STEP, Quantity("mu_product", "Π_t", "μ₁·μ₂⋯μ_t"), _EXP_AVG, _EXP_AVG_SQ),
        derived=(
            Quantity(
                "exp_avg_hat",
                "m̄",
                "(1 − μ_t)/(1 − Π_t)·g + μ_{t+1}/(1 − Π_t·μ_{t+1})·m: the look-ahead momentum",
            ),
            _V_HAT,
            Quantity("rms", "√v̂", "√(v / (1 − β₂ᵗ)): the gradient RMS the step divides by"),
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(
            _LR,
            Quantity("mu", "μ_t", "momentum coefficient of this step"),
            Quantity("mu_next", "μ_{t+1}", "momentum coefficient of the next step"),
            Quantity("mu_product", "Π_t", "μ₁·μ₂⋯μ_t"),
            _BC2,
        ),
        summaries=_ADAM_SUMMARIES,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ − α·m̄ with m̄ the look-ahead "
        "momentum (derived exp_avg_hat). With decoupled_weight_decay, θ ← θ(1 − ηλ) first "
        "(not part of α); otherwise g includes λθ.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> NAdamScalars:
        st.t += 1
        t = st.t
        b1 = self.beta1
        bias_correction2 = 1 - self.beta2**t
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * self.momentum_decay)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * self.momentum_decay)))
        mu_product = st.extra.get("mu_product", 1.0) * mu
        st.extra["mu_product"] = mu_product
        mu_product_next = mu_product * mu_next
        decay = _decoupled_decay(lr, self.weight_decay, self.decoupled_weight_decay)
        return _scalars(
            NAdamScalars,
            (
                lr,
                mu,
                mu_next,
                mu_product,
                bias_correction2,
                lr * (1.0 - mu) / (1.0 - mu_product),
                (lr * mu_next) / (1.0 - mu_product_next),
                decay,
            ),
        )

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "m ← (1 − β₁)·g + β₁·m,   v ← (1 − β₂)·g² + β₂·v\n"
            "m̄ = β₁·m / (1 − β₁ᵗ⁺¹) + (1 − β₁)·g / (1 − β₁ᵗ)   (no momentum schedule)\n"
            "θ ← θ − η·m̄ / (√(v / (1 − β₂ᵗ)) + ε)"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "μ_t = β₁·(1 − ½·0.96ᵗ),   Π_t = μ₁⋯μ_t          (ψ = 1: no momentum_decay)\n"
            "m ← m + (g − m)·(1 − β₁),   v ← v + (g² − v)·(1 − β₂)\n"
            "m̄ = μ_{t+1}·m / (1 − Π_t·μ_{t+1}) + (1 − μ_t)·g / (1 − Π_t)\n"
            "θ ← θ − η·m̄ / (√(v / (1 − β₂ᵗ)) + ε)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.NAdam",
        "optax": "optax.nadam",
        "keras": "keras.optimizers.Nadam",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.nadam (scale_by_adam(nesterov=True)) or Keras 3's Nadam (μ_t with 0.96ᵗ)."""
        wd, lr, t = self.weight_decay, c.lr, st.t
        if wd and self.decoupled_weight_decay:
            p *= 1 - lr * wd
        d = _flavour_grad(p, g, 0.0 if self.decoupled_weight_decay else wd, self.maximize)
        b1, b2, eps = self.beta1, self.beta2, self.eps
        m, v = st.buf("exp_avg"), st.buf("exp_avg_sq")
        if self.flavour == "optax":
            m[...] = (1 - b1) * d + b1 * m
            v[...] = (1 - b2) * (d * d) + b2 * v
            m_bar = b1 * (m / (1 - b1 ** (t + 1))) + (1 - b1) * (d / (1 - b1**t))
            p += -lr * (m_bar / (np.sqrt(v / (1 - b2**t)) + eps))
            return
        u_t = b1 * (1.0 - 0.5 * 0.96**t)
        u_next = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_product = st.extra.get("keras_u_product", 1.0) * u_t
        st.extra["keras_u_product"] = u_product
        m += (d - m) * (1 - b1)
        v += (d * d - v) * (1 - b2)
        m_bar = (u_next * m) / (1 - u_product * u_next) + ((1 - u_t) * d) / (1 - u_product)
        p -= (m_bar * lr) / (np.sqrt(v / (1 - b2**t)) + eps)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    compiled_step = compiled.nadam_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: NAdamScalars) -> None:
        m, v = bufs
        d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        _ema_sq(v, d, self.beta2, s[1])
        denom = s[1]
        if _is_one(c.bias_correction2, denom):
            np.sqrt(v, out=denom)
        else:
            np.divide(v, c.bias_correction2, out=denom)
            np.sqrt(denom, out=denom)
        denom += self.eps
        # torch's factors are −η(1 − μ)/(1 − Π) and −ημ'/(1 − Πμ'); negating ours is exact.
        np.multiply(d, -c.grad_coef, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]
        np.multiply(m, -c.momentum_coef, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        return {"mu_product": st.extra["mu_product"]} if "mu_product" in st.extra else {}

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x + st.hypers["eps"])  # α of √v̂, as _derive does

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            d = self._used_grad(st, grad, prev)
            if d is not None:
                m_bar = np.multiply(d, (1.0 - sc.mu) / (1.0 - sc.mu_product))
                m_bar += b["exp_avg"] * (sc.mu_next / (1.0 - sc.mu_product * sc.mu_next))
                out["exp_avg_hat"] = m_bar
        if any(_wants(want, k) for k in ("exp_avg_sq_hat", "rms", "effective_lr")):
            v_hat = b["exp_avg_sq"] / sc.bias_correction2
            if _wants(want, "rms") or _wants(want, "effective_lr"):
                rms = np.sqrt(v_hat)
                if _wants(want, "effective_lr"):
                    out["effective_lr"] = _alpha_of_rms(st, rms)
                if _wants(want, "rms"):
                    out["rms"] = rms
            if _wants(want, "exp_avg_sq_hat"):
                out["exp_avg_sq_hat"] = v_hat
        return out
