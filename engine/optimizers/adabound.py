"""AdaBound: Adam whose per-coordinate rate is clipped into bounds that close in on SGD's.

    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²      (AMSBound: v̄ ← max(v̄, v) for v)
    α = clip(η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√(v + 1e-15) + ε), η*·(1 − 1/(γt + 1)), η*·(1 + 1/(γt)))
    θ ← θ − α·m,   η* = final_lr·η/η₀ (the schedule scales it as it scales η)

Luo, Xiong, Liu & Sun 2019, Adaptive Gradient Methods with Dynamic Bound of Learning Rate
(ICLR). Reference package: pytorch-optimizer 4.1.0, pytorch_optimizer.AdaBound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ABS_M,
    _ALPHA_SUMMARY,
    _B1,
    _B2,
    _EXP_AVG,
    _EXP_AVG_SQ,
    _LR,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _ema_sq,
    _eps,
    _grad,
    _KeyState,
    _lerp,
    _lr,
    _scalars,
    _Want,
    _wants,
    _weight_decay,
    register,
)

_V_EPS = 1e-15  # pytorch-optimizer's exp_avg_sq_eps, added to v under the square root


class AdaBoundScalars(NamedTuple):
    """Per-step scalars of AdaBound."""

    lr: float  # η of this step
    step_size: float  # η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)
    lower_bound: float  # η*·(1 − 1/(γt + 1))
    upper_bound: float  # η*·(1 + 1/(γt))
    decay: float | None  # decoupled decay factor, else None


@register
class AdaBound(Optimizer):
    """AdaBound: Adam early, SGD late, by clipping each coordinate's rate into closing bounds.

    Adam's per-coordinate rate η̂ = η√(1 − β₂ᵗ)/(1 − β₁ᵗ)/(√v + ε) is clipped into
    [η*(1 − 1/(γt + 1)), η*(1 + 1/(γt))]: wide at first (Adam), both bounds tending to the final
    rate η* = final_lr (SGD with momentum) at a speed set by γ. The final rate follows the
    schedule (η* = final_lr·η_t/η₀). Weight decay is decoupled by default (θ ← θ(1 − λη)), as
    the reference package does; AMSBound uses the running max of v. Luo et al., "Adaptive
    Gradient Methods with Dynamic Bound of Learning Rate" (ICLR 2019). Reference package
    pytorch-optimizer 4.1.0 (pytorch_optimizer.AdaBound); the Adam tutorial cites it.
    """

    name = "adabound"
    summary = "AdaBound: Adam with per-coordinate rates clipped into bounds closing on SGD"
    source = "reference package pytorch-optimizer"
    specs = (
        _lr(1e-3),
        Hyper("final_lr", 0.1, low=0.0, help="the SGD rate η* both bounds converge to"),
        _B1,
        _B2,
        Hyper("gamma", 1e-3, low=0.0, low_open=True, log=True,
              help="speed γ at which the bounds close"),
        _weight_decay(),
        Hyper("weight_decouple", True, kind="bool",
              help="decay θ directly (θ ← θ(1 − λη)) instead of adding λθ to g"),
        Hyper("fixed_decay", False, kind="bool", help="decoupled decay θ ← θ(1 − λ), without η"),
        Hyper("ams_bound", False, kind="bool", help="use the running max of v (AMSBound)"),
        _eps(1e-8),
        _MAXIMIZE,
    )  # fmt: skip
    equations = (
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "η̂ = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√(v + 1e-15) + ε)\n"
        "α = clip(η̂, η*·(1 − 1/(γt + 1)), η*·(1 + 1/(γt)))\n"
        "θ ← θ − α·m"
    )
    reference = (
        "Luo et al. 2019, Adaptive Gradient Methods with Dynamic Bound of Learning Rate (ICLR). "
        "Reference package pytorch-optimizer 4.1.0"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            _EXP_AVG,
            _EXP_AVG_SQ,
            Quantity("max_exp_avg_sq", "v̄", "running max of v (AMSBound)", "ams_bound"),
        ),
        derived=(_alpha("clip(η̂, lower, upper) per coordinate"),),
        scalars=(
            _LR,
            Quantity("lower_bound", "lo", "the lower bound of α this step"),
            Quantity("upper_bound", "hi", "the upper bound of α this step"),
        ),
        summaries=(_ALPHA_SUMMARY, _ABS_M),
        effective_lr="α = clip(η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)/(√v + ε), lower, upper) per coordinate; "
        "θ ← θ − α·m. The bounds close on final_lr, turning Adam into SGD with momentum.",
    )
    n_scratch = 2

    def _prepare(self, st: _KeyState, lr: float) -> AdaBoundScalars:
        st.t += 1
        t = st.t
        bc1 = 1.0 - self.beta1**t
        bc2_sqrt = (1.0 - self.beta2**t) ** 0.5
        base = self.lr
        final = self.final_lr * lr / base if base > 0.0 else 0.0
        lower = final * (1 - 1 / (self.gamma * t + 1))
        upper = final * (1 + 1 / (self.gamma * t))
        decay = None
        if self.weight_decay != 0.0 and self.weight_decouple:
            decay = 1.0 - self.weight_decay * (1.0 if self.fixed_decay else lr)
        return _scalars(AdaBoundScalars, (lr, lr * bc2_sqrt / bc1, lower, upper, decay))

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("exp_avg"),
            st.buf("exp_avg_sq"),
            st.buf("max_exp_avg_sq") if self.ams_bound else None,
        ]

    def _kernel(
        self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdaBoundScalars
    ) -> None:
        m, v, vmax = bufs
        upd, tmp = s
        if c.decay is not None:
            np.multiply(p, c.decay, out=p)
        d = _grad(p, g, self._l2_decay(self.hypers), self.maximize, upd)
        _lerp(m, d, 1 - self.beta1, tmp)
        _ema_sq(v, d, self.beta2, tmp)
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        np.add(v, _V_EPS, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(tmp, self.eps, out=tmp)
        np.divide(p.dtype.type(c.step_size), tmp, out=upd)
        np.clip(upd, c.lower_bound, c.upper_bound, out=upd)
        np.multiply(upd, m, out=upd)
        np.subtract(p, upd, out=p)

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0 if knobs.get("weight_decouple", True) else float(knobs.get("weight_decay", 0))

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            sc, h = st.scalars, st.hypers
            v = st.bufs["exp_avg_sq"]
            if h.get("ams_bound") and "max_exp_avg_sq" in st.bufs:
                v = st.bufs["max_exp_avg_sq"]
            den = np.sqrt(v + _V_EPS) + h["eps"]
            out["effective_lr"] = np.clip(st.dtype.type(sc.step_size) / den, sc.lower_bound,
                                          sc.upper_bound)  # fmt: skip
        return out
