"""RAdam: Adam whose adaptive step is switched on and scaled by a variance rectifier.

    ρ_∞ = 2/(1 − β₂) − 1,   ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
    ρ_t > 5:  θ ← θ − η·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε),  r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ /
              ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t));   else θ ← θ − η·m̂

Liu et al. 2020, On the Variance of the Adaptive Learning Rate and Beyond (ICLR).
torch.optim.RAdam (decoupled_weight_decay gives RAdamW).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np

from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ADAM_RMS,
    _ADAM_SUMMARIES,
    _ALPHA_SUMMARY,
    _B1,
    _B2,
    _BC1,
    _BC2,
    _DECOUPLED,
    _DECOUPLED_WD,
    _EXP_AVG,
    _EXP_AVG_SQ,
    _LR,
    _M_HAT,
    _MAXIMIZE,
    _STEP,
    _V_HAT,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _decayed_grad,
    _decoupled_decay,
    _ema_sq,
    _eps,
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


class RAdamScalars(NamedTuple):
    """Per-step scalars of RAdam."""

    lr: float  # η of this step
    bias_correction1: float  # 1 − β₁ᵗ
    bias_correction2: float  # 1 − β₂ᵗ
    bias_correction2_sqrt: float  # √(1 − β₂ᵗ)
    rho_t: float  # ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
    rectified: bool  # ρ_t > 5: the adaptive step is on
    rect: float | None  # r_t while rectified, else None
    decay: float | None  # decoupled weight decay factor 1 − ηλ (RAdamW), else None


@register
class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is switched on and scaled by a variance rectifier.

    m, v as in Adam; ρ_∞ = 2/(1 − β₂) − 1, ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ). While ρ_t ≤ 5 the
    variance of the adaptive rate is intractable and the step is SGD with momentum,
    θ ← θ − η·m̂; after that θ ← θ − η·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε) with
    r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)). This replaces a hand-tuned
    warmup. Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond" (ICLR 2020).
    torch.optim.RAdam (decoupled_weight_decay gives RAdamW).
    """

    name = "radam"
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.RAdam",
        "optax": "optax.radam",
        "keras": None,
    }
    summary = "RAdam: Adam with a variance-rectified (warmup-free) adaptive step"
    specs = (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        _DECOUPLED,
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ            (" + _DECOUPLED_WD + ")\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   m̂ = m / (1 − β₁ᵗ)\n"
        "ρ_∞ = 2/(1 − β₂) − 1,   ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)\n"
        "ρ_t > 5:  r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))\n"
        "          θ ← θ − η·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε)\n"
        "else:     θ ← θ − η·m̂"
    )
    reference = (
        "Liu et al. 2020, On the Variance of the Adaptive Learning Rate and Beyond (ICLR). "
        "torch.optim.RAdam"
    )
    n_scratch = 3

    state_doc = StateDoc(
        state=(_STEP, _EXP_AVG, _EXP_AVG_SQ),
        derived=(
            _M_HAT,
            _V_HAT,
            _ADAM_RMS,
            _alpha("η·r_t·√(1 − β₂ᵗ) / (√v + ε), or η before rectifying"),
        ),
        scalars=(
            _LR,
            _BC1,
            _BC2,
            Quantity("rho_t", "ρ_t", "length of the approximated simple moving average"),
            Quantity("rectified", "ρ_t > 5", "whether the adaptive (rectified) step is on"),
            Quantity("rect", "r_t", "variance rectification factor (None while off)"),
        ),
        summaries=(_ALPHA_SUMMARY, *_ADAM_SUMMARIES[1:]),  # α is not a function of √v̂ alone
        effective_lr="While ρ_t ≤ 5, α = η for every coordinate (SGD with momentum on m̂); "
        "after that α = η·r_t·√(1 − β₂ᵗ) / (√v + ε) per coordinate. θ ← θ − α·m̂. With "
        "decoupled_weight_decay, θ ← θ(1 − ηλ) first (not part of α); otherwise g includes λθ.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> RAdamScalars:
        st.t += 1
        t = st.t
        b2 = self.beta2
        bias_correction1 = 1 - self.beta1**t
        bias_correction2 = 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        decay = _decoupled_decay(lr, self.weight_decay, self.decoupled_weight_decay)
        return _scalars(
            RAdamScalars,
            (
                lr,
                bias_correction1,
                bias_correction2,
                bias_correction2**0.5,
                rho_t,
                rect is not None,
                rect,
                decay,
            ),
        )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    compiled_step = compiled.radam_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: RAdamScalars) -> None:
        m, v = bufs
        d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        _ema_sq(v, d, self.beta2, s[1])
        upd = s[2]
        if _is_one(c.bias_correction1, upd):
            np.multiply(m, c.lr, out=upd)
        else:
            np.divide(m, c.bias_correction1, out=upd)
            upd *= c.lr
        if c.rectified:
            np.sqrt(v, out=s[1])
            np.add(s[1], self.eps, out=s[1])
            np.divide(c.bias_correction2_sqrt, s[1], out=s[1])
            upd *= s[1]
            upd *= c.rect
        p -= upd

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "exp_avg_sq_hat"):
            out["exp_avg_sq_hat"] = b["exp_avg_sq"] / sc.bias_correction2
        if _wants(want, "rms"):
            rms = np.sqrt(b["exp_avg_sq"])
            rms /= sc.bias_correction2_sqrt
            out["rms"] = rms
        if _wants(want, "effective_lr"):
            if sc.rectified:
                alpha = np.sqrt(b["exp_avg_sq"])
                alpha += st.hypers["eps"]
                np.divide(sc.bias_correction2_sqrt, alpha, out=alpha)
                alpha *= sc.lr
                alpha *= sc.rect
            else:
                alpha = np.full(st.shape, sc.lr, st.dtype)
            out["effective_lr"] = alpha
        return out
