"""Adam, AMSGrad and AdamW: one kernel, momentum scaled by a bias-corrected running RMS.

    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²      (AMSGrad: v̄ ← max(v̄, v) for v)
    m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ),   θ ← θ − η·m̂ / (√v̂ + ε)
    AdamW: θ ← θ·(1 − η·λ) first, instead of λθ in g

Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR); Reddi, Kale & Kumar
2018, On the Convergence of Adam and Beyond (ICLR); Loshchilov & Hutter 2019, Decoupled
Weight Decay Regularization (ICLR). torch.optim.Adam, torch.optim.AdamW. The scheduled-β₁
variant is in adaptive_adam.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ADAM_RMS,
    _ADAM_SUMMARIES,
    _AMSGRAD,
    _B1,
    _B2,
    _BC1,
    _BC2,
    _EXP_AVG,
    _EXP_AVG_SQ,
    _LR,
    _M_HAT,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _add,
    _alpha,
    _alpha_of_rms,
    _Arr,
    _Arrays,
    _decayed_grad,
    _ema_sq,
    _eps,
    _flavour,
    _flavour_grad,
    _is_one,
    _KeyState,
    _lerp,
    _lr,
    _multiply,
    _scalars,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class AdamScalars(NamedTuple):
    """Per-step scalars of Adam, AMSGrad, AdamW and adaptive-adam."""

    lr: float  # η of this step
    beta1: float  # β₁ used by this step (scheduled in adaptive-adam)
    bias_correction1: float  # 1 − β₁ᵗ (adaptive-adam: 1 − Π β₁,i)
    bias_correction2: float  # 1 − β₂ᵗ
    step_size: float  # η / bias_correction1
    bias_correction2_sqrt: float  # √(1 − β₂ᵗ)
    decay: float | None  # decoupled weight decay factor 1 − ηλ (AdamW), else None


_AMSGRAD_ON = dataclasses.replace(_AMSGRAD, default=True)


def _adam_specs(weight_decay: Hyper, amsgrad: Hyper, *flavours: str) -> tuple[Hyper, ...]:
    """torch.optim.Adam's knobs; Adam, AMSGrad and AdamW differ in the weight decay's and
    amsgrad's defaults and in the flavours they offer."""
    return (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        weight_decay,
        amsgrad,
        _MAXIMIZE,
        _flavour(*flavours),
    )


@register
class Adam(Optimizer):
    """Adam: momentum on the gradient, scaled per coordinate by a running RMS, bias-corrected.

    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − η/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε);
    the corrections undo the averages' bias toward their zero start. weight_decay adds λθ to
    g (L2, as torch.optim.Adam does); AdamW decouples it. With amsgrad, v is replaced by its
    running maximum (torch's variant: the max of the raw v, divided by √(1 − β₂ᵗ)). Kingma &
    Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015). torch.optim.Adam.
    """

    name = "adam"
    summary = "Adam: momentum + per-coordinate RMS scaling, bias-corrected"
    specs = _adam_specs(_weight_decay(), _AMSGRAD, "optax", "keras")
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "m ← β₁·m + (1 − β₁)·g\n"
        "v ← β₂·v + (1 − β₂)·g²        (amsgrad: v̄ ← max(v̄, v), used for v)\n"
        "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR). torch.optim.Adam"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            _EXP_AVG,
            _EXP_AVG_SQ,
            Quantity("max_exp_avg_sq", "v̄", "running max of v (AMSGrad)", "amsgrad"),
        ),
        derived=(
            _M_HAT,
            Quantity("exp_avg_sq_hat", "v̂", "v / (1 − β₂ᵗ) (v̄ with amsgrad): bias-corrected v"),
            _ADAM_RMS,
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(_LR, _BC1, _BC2),
        summaries=_ADAM_SUMMARIES,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ − α·m̂ (torch computes √v̂ as "
        "√v / √(1 − β₂ᵗ)). With weight_decay, g includes λθ.",
    )
    decoupled: ClassVar[bool] = False
    # Knobs AdaptiveAdam does not declare: off.
    amsgrad = False
    maximize = False

    #: Whether the class schedules β₁ (its own `_beta1`: adaptive-adam); set for each class.
    _scheduled_beta1: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._scheduled_beta1 = cls._beta1 is not Adam._beta1

    def _beta1(self, st: _KeyState) -> tuple[float, float]:
        """(β₁ used this step, 1 − product of the β₁ used so far); st.t already advanced."""
        return self.beta1, 1 - self.beta1**st.t

    def _prepare(self, st: _KeyState, lr: float) -> AdamScalars:
        # `_beta1` and `_decoupled_decay` inlined where β₁ is not scheduled (the same
        # formulas; ~0.15 us a step less, a Run's hot path)
        t = st.t = st.t + 1
        if self._scheduled_beta1:
            b1, bias_correction1 = self._beta1(st)
        else:
            b1 = self.beta1
            bias_correction1 = 1 - b1**t
        bias_correction2 = 1 - self.beta2**t
        wd = self.weight_decay
        decay = 1 - lr * wd if self.decoupled and wd != 0 else None
        return _scalars(
            AdamScalars,
            (
                lr,
                b1,
                bias_correction1,
                bias_correction2,
                lr / bias_correction1,
                bias_correction2**0.5,
                decay,
            ),
        )

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("exp_avg"),
            st.buf("exp_avg_sq"),
            st.buf("max_exp_avg_sq") if self.amsgrad else None,
        ]

    compiled_step = compiled.adam_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdamScalars) -> None:
        m, v, vmax = bufs
        upd, denom = s
        if c.decay is None and not self.maximize and (self.decoupled or not self.weight_decay):
            d = g  # the common case, without the helpers' calls
        else:
            d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, upd)
        _lerp(m, d, 1 - c.beta1, denom)
        _ema_sq(v, d, self.beta2, denom)
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        np.sqrt(v, denom)
        if not _is_one(c.bias_correction2_sqrt, denom):
            np.divide(denom, c.bias_correction2_sqrt, denom)
        _add(denom, self.eps, denom)
        _multiply(m, -c.step_size, upd)  # d is dead after the v update
        np.divide(upd, denom, upd)
        _add(p, upd, p)

    # Each flavour's rule, for `optplay list optimizers --flavours` (torch's is `equations`).
    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "m ← (1 − β₁)·g + β₁·m\n"
            "v ← (1 − β₂)·g² + β₂·v\n"
            "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)   (amsgrad: v̂ ← max(v̂_max, v̂))\n"
            "θ ← θ − η·m̂ / (√v̂ + ε)"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "m ← m + (g − m)·(1 − β₁)\n"
            "v ← v + (g² − v)·(1 − β₂)   (amsgrad: v̄ ← max(v̄, v), used for v)\n"
            "α = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)\n"
            "θ ← θ − α·m / (√v + ε)     (ε here is ε̂ = ε√(1 − β₂ᵗ) in torch's terms)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adam",
        "optax": "optax.adam",
        "keras": "keras.optimizers.Adam",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax's scale_by_adam / scale_by_amsgrad, Keras 3's Adam/AdamW, or the AMSGrad
        paper (Reddi et al. 2018, Algorithm 2: no bias corrections), operation by operation."""
        b1, b2, eps, wd, lr, t = c.beta1, self.beta2, self.eps, self.weight_decay, c.lr, st.t
        d = _flavour_grad(p, g, 0.0 if self.decoupled else wd, self.maximize)
        m, v = st.buf("exp_avg"), st.buf("exp_avg_sq")
        if self.flavour == "keras":
            if wd and self.decoupled:
                p -= p * wd * lr  # Keras decays θ before the update, at this step's rate
            # Keras computes βᵗ and α in the variable's dtype (float32 runs round like it)
            dt = p.dtype.type
            alpha = dt(lr) * np.sqrt(1 - dt(b2) ** dt(t)) / (1 - dt(b1) ** dt(t))
            m += (d - m) * (1 - b1)
            v += (d * d - v) * (1 - b2)
            if self.amsgrad:
                v = np.maximum(st.buf("max_exp_avg_sq"), v, out=st.buf("max_exp_avg_sq"))
            p -= (m * alpha) / (np.sqrt(v) + eps)
        elif self.flavour == "optax":
            # inject_hyperparams holds β₁, β₂ and ε in the parameters' dtype: 1 − β and the
            # bias corrections 1 − βᵗ are computed there (float32 runs round like optax)
            b1, b2, eps = p.dtype.type(b1), p.dtype.type(b2), p.dtype.type(eps)
            m[...] = (1 - b1) * d + b1 * m
            v[...] = (1 - b2) * (d * d) + b2 * v
            m_hat = m / (1 - b1 ** p.dtype.type(t))
            v_hat = v / (1 - b2 ** p.dtype.type(t))
            if self.amsgrad:  # optax keeps the max of the bias-corrected v̂
                v_hat = np.maximum(v_hat, st.buf("max_exp_avg_sq"), out=st.buf("max_exp_avg_sq"))
            update = m_hat / (np.sqrt(v_hat) + eps)
            if wd and self.decoupled:
                update = update + p.dtype.type(wd) * p  # add_decayed_weights, then −η·update
            p += -lr * update
        else:  # paper: AMSGrad as Reddi et al. wrote it, ε kept for a zero v̂
            m[...] = b1 * m + (1 - b1) * d
            v[...] = b2 * v + (1 - b2) * (d * d)
            vmax = np.maximum(st.buf("max_exp_avg_sq"), v, out=st.buf("max_exp_avg_sq"))
            if wd and self.decoupled:
                p *= 1 - lr * wd
            p -= lr * m / (np.sqrt(vmax) + eps)

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0 if self.decoupled else float(knobs.get("weight_decay", 0.0))

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x + st.hypers["eps"])  # α of √v̂, as _derive does

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        v = b["exp_avg_sq"]
        if st.hypers.get("amsgrad") and "max_exp_avg_sq" in b:
            v = b["max_exp_avg_sq"]
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "exp_avg_sq_hat"):
            out["exp_avg_sq_hat"] = v / sc.bias_correction2
        if _wants(want, "rms") or _wants(want, "effective_lr"):
            rms = np.sqrt(v)  # √v̂ as torch computes it
            rms /= sc.bias_correction2_sqrt
            if _wants(want, "effective_lr"):
                out["effective_lr"] = _alpha_of_rms(st, rms)
            if _wants(want, "rms"):
                out["rms"] = rms
        return out


@register
class AMSGrad(Adam):
    """AMSGrad: Adam that divides by the running maximum of v, so steps never grow back.

    Same as Adam with v̄ ← max(v̄, v) in place of v. This is torch's variant (the max of the
    raw second moment, divided by √(1 − β₂ᵗ)), not the paper's bias-uncorrected form. Reddi,
    Kale & Kumar, "On the Convergence of Adam and Beyond" (ICLR 2018).
    torch.optim.Adam(amsgrad=True).
    """

    name = "amsgrad"
    summary = "AMSGrad: Adam normalised by the running max of v"
    specs = _adam_specs(_weight_decay(), _AMSGRAD_ON, "optax", "keras", "paper")
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "m ← β₁·m + (1 − β₁)·g\n"
        "v ← β₂·v + (1 − β₂)·g²,   v̄ ← max(v̄, v)\n"
        "θ ← θ − η/(1 − β₁ᵗ) · m / (√v̄/√(1 − β₂ᵗ) + ε)"
    )
    reference = (
        "Reddi, Kale & Kumar 2018, On the Convergence of Adam and Beyond (ICLR); torch's "
        "bias-corrected variant. torch.optim.Adam(amsgrad=True)"
    )
    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "m ← (1 − β₁)·g + β₁·m,   v ← (1 − β₂)·g² + β₂·v\n"
            "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
            "v̂_max ← max(v̂_max, v̂)           (the max of the corrected v̂)\n"
            "θ ← θ − η·m̂ / (√v̂_max + ε)"
        ),
        "keras": (
            "m ← m + (g − m)·(1 − β₁),   v ← v + (g² − v)·(1 − β₂)\n"
            "v̄ ← max(v̄, v)\n"
            "α = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)\n"
            "θ ← θ − α·m / (√v̄ + ε)"
        ),
        "paper": (
            "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\n"
            "v̂ ← max(v̂, v)                   (no bias correction anywhere)\n"
            "θ ← θ − η·m / (√v̂ + ε)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adam(amsgrad=True)",
        "optax": "optax.amsgrad",
        "keras": "keras.optimizers.Adam(amsgrad=True)",
    }


@register
class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay θ ← θ(1 − ηλ), default λ = 0.01.

    The decay shrinks θ directly instead of entering g, so it is not rescaled by Adam's
    per-coordinate normaliser (with L2 in g, heavily-updated weights are barely regularised).
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019).
    torch.optim.AdamW.
    """

    name = "adamw"
    summary = "AdamW: Adam with decoupled weight decay θ ← θ(1 − ηλ)"
    specs = _adam_specs(
        _weight_decay(1e-2, "decoupled decay λ: θ ← θ(1 − ηλ) each step"),
        _AMSGRAD,
        "optax",
        "keras",
    )
    equations = (
        "θ ← θ·(1 − η·λ)\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization (ICLR). torch.optim.AdamW"
    )
    decoupled = True
    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "m ← (1 − β₁)·g + β₁·m,   v ← (1 − β₂)·g² + β₂·v\n"
            "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
            "θ ← θ − η·(m̂ / (√v̂ + ε) + λθ)   (decay added to the update)"
        ),
        "keras": (
            "θ ← θ − θ·λ·η\n"
            "m ← m + (g − m)·(1 − β₁),   v ← v + (g² − v)·(1 − β₂)\n"
            "α = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)\n"
            "θ ← θ − α·m / (√v + ε)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.AdamW",
        "optax": "optax.adamw",
        "keras": "keras.optimizers.AdamW",
    }
    state_doc = dataclasses.replace(
        Adam.state_doc,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ(1 − ηλ) − α·m̂: the decoupled "
        "decay shrinks θ first and is not part of α (torch computes √v̂ as √v / √(1 − β₂ᵗ)).",
    )
