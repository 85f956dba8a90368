"""Prodigy: Adam whose rate is scaled by an estimate d of the distance to the solution.

    r ← β₃·r + (d/d₀)·η_d·⟨g, θ₀ − θ⟩,   s ← β₃·s + (d/d₀)·η_d·g,   η_d = d·η (/ bias corr.)
    m ← β₁·m + d(1 − β₁)·g,   v ← β₂·v + d²(1 − β₂)·g²
    d ← max(d, min(d_max, d_coef·r/‖s‖₁)) (growth-limited),   θ ← θ − η_d·m/(√v + d·ε)

Mishchenko & Defazio 2024, Prodigy: An Expeditiously Adaptive Parameter-Free Learner (ICML).
Reference package pytorch-optimizer 4.1.0 (pytorch_optimizer.Prodigy, single-tensor path).
"""

from __future__ import annotations

import math
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
    _eps,
    _KeyState,
    _lr,
    _Want,
    _wants,
    _weight_decay,
    fused_multiply_add,
    register,
)


class ProdigyScalars(NamedTuple):
    """Per-step scalars of Prodigy (shared by every key: d is one number for the model)."""

    lr: float  # η of this step
    d: float  # the distance estimate after this step
    d_hat: float  # this step's estimate d_coef·r/‖s‖₁
    d_lr: float  # η_d = d·η / bias correction, with the d from before the step


_D = Quantity("d", "d", "the distance estimate that scales the rate (starts at d₀)")


@register
class Prodigy(Optimizer):
    """Prodigy: a learning-rate-free Adam that estimates its own step size d as it goes.

    The estimate d of the distance to the solution grows from d₀ (tiny) while the gradients
    keep pointing away from θ₀: d̂ = d_coef·r/‖s‖₁, r a running sum of ⟨g, θ₀ − θ⟩ and s of
    the gradients, both weighted by the step sizes so far, and d never decreases. Adam's step
    is then taken at rate d·η, so η stays at 1 (growth_rate limits d's growth per step). d
    is one number for the whole model. Weight decay is decoupled (θ ← θ(1 − λη_d)). Mishchenko
    & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner" (ICML 2024).
    Reference package pytorch-optimizer 4.1.0 (pytorch_optimizer.Prodigy).
    """

    name = "prodigy"
    summary = "Prodigy: Adam at rate d·η, d estimated from the distance travelled; η = 1"
    source = "reference package pytorch-optimizer"
    elementwise = False
    specs = (
        _lr(1.0),
        _B1,
        _B2,
        Hyper("beta3", None, low=0.0, high=1.0, high_open=True, aliases={"auto": None},
              help="decay β₃ of the distance sums r and s (auto: √β₂)"),
        Hyper("d0", 1e-6, low=0.0, low_open=True, log=True, help="initial distance estimate d₀"),
        Hyper("d_coef", 1.0, low=0.0, low_open=True, help="factor on the estimate d̂"),
        Hyper("growth_rate", None, low=1.0, aliases={"unlimited": None},
              help="largest growth factor of d per step (unlimited: none)"),
        _weight_decay(help="decoupled decay λ: θ ← θ(1 − λ·η_d)"),
        Hyper("fixed_decay", False, kind="bool", help="decay θ ← θ(1 − λ), without η_d"),
        Hyper("bias_correction", False, kind="bool",
              help="divide η_d by (1 − β₁ᵗ)/√(1 − β₂ᵗ) (Adam's bias correction)"),
        Hyper("safeguard_warmup", False, kind="bool",
              help="weigh s by d instead of d·η (safer with a warmup schedule)"),
        _eps(1e-8, "ε: d·ε is added to the denominator"),
        _MAXIMIZE,
    )  # fmt: skip
    equations = (
        "r ← β₃·r + (d/d₀)·η_d·⟨g, θ₀ − θ⟩,   s ← β₃·s + (d/d₀)·η_d·g,   η_d = d·η\n"
        "m ← β₁·m + d(1 − β₁)·g,   v ← β₂·v + d²(1 − β₂)·g²\n"
        "d ← max(d, min(d_max, d_coef·r/‖s‖₁)),   θ ← θ − η_d·m/(√v + d·ε)"
    )
    reference = (
        "Mishchenko & Defazio 2024, Prodigy: An Expeditiously Adaptive Parameter-Free Learner "
        "(ICML). Reference package pytorch-optimizer 4.1.0"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("p0", "θ₀", "the parameters at the start (the distance is from here)"),
            Quantity("s", "s", "weighted running sum of the gradients (decay β₃)"),
            _EXP_AVG,
            _EXP_AVG_SQ,
            _D,
            Quantity("d_max", "d_max", "the largest estimate d̂ so far"),
            Quantity("d_numerator", "r", "weighted running sum of ⟨g, θ₀ − θ⟩ (decay β₃)"),
        ),
        derived=(_alpha("η_d/(√v + d·ε) per coordinate"),),
        scalars=(
            _LR,
            _D,
            Quantity("d_hat", "d̂", "this step's estimate d_coef·r/‖s‖₁"),
            Quantity("d_lr", "η_d", "d·η: the rate this step's update used"),
        ),
        summaries=(_ALPHA_SUMMARY, _ABS_M),
        effective_lr="α = η_d/(√v + d·ε) per coordinate, η_d = d·η; θ ← θ − α·m (m carries a "
        "factor d). d grows from d₀ as the run finds how far it has to go.",
    )

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self._group = self._fresh_group()
        self._now: dict[str, Any] | None = None
        self._stepped: list[tuple[np.ndarray, _KeyState]] = []

    def _fresh_group(self) -> dict[str, float]:
        return {"d": self.d0, "d_max": self.d0, "d_numerator": 0.0}

    def reset(self) -> None:
        super().reset()
        self._group = self._fresh_group()

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
    ) -> None:
        """One step of every key: the moments and distance sums per key (`_step_key`), then d
        for the model, then every key's update (as the reference's two loops)."""
        self._now = None
        self._stepped = []
        super().step(params, grads, lr)
        now, group = self._now, self._group
        if now is None:  # no keys
            return
        d, d_lr = now["d"], now["d_lr"]
        d_hat = None
        if now["d_de_nom"] != 0:
            d_hat = self.d_coef * group["d_numerator"] / now["d_de_nom"]
            if d == self.d0:
                d = max(d, d_hat)
            d_max = group["d_max"] = max(group["d_max"], d_hat)
            growth = self.growth_rate if self.growth_rate is not None else math.inf
            d = group["d"] = min(d_max, d * growth)
        scalars = ProdigyScalars(now["lr"], group["d"], math.nan if d_hat is None else d_hat, d_lr)
        for p, st in self._stepped:
            st.scalars = scalars
            if d_hat is None:  # the reference returns before any update
                continue
            if self.weight_decay != 0.0:
                p *= 1.0 - self.weight_decay * (1.0 if self.fixed_decay else d_lr)
            den = np.sqrt(st.bufs["exp_avg_sq"])
            den += d * self.eps
            upd = st.bufs["exp_avg"] / den
            upd *= -d_lr
            p += upd
        self._stepped = []

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        now = self._now
        if now is None:
            now = self._now = self._begin(lr)
        st.t += 1
        st.hypers = self.hypers
        if "p0" not in st.bufs:
            np.copyto(st.buf("p0"), p)
        d, d_lr, d0 = now["d"], now["d_lr"], self.d0
        grad = -g if self.maximize else g
        group = self._group
        group["d_numerator"] += float(np.dot(grad.ravel(), (st.bufs["p0"] - p).ravel())) * (
            (d / d0) * d_lr
        )
        m, v, s = st.buf("exp_avg"), st.buf("exp_avg_sq"), st.buf("s")
        m *= self.beta1
        m += grad * (d * (1.0 - self.beta1))
        v *= self.beta2
        # torch's addcmul_ rounds v + (c·g)·g once on CPU (a fused multiply-add); d's estimate
        # is sensitive enough to see the difference
        np.copyto(v, fused_multiply_add(grad * (d * d * (1.0 - self.beta2)), grad, v))
        s *= now["beta3"]
        s += grad * ((d / d0) * (d if self.safeguard_warmup else d_lr))
        now["d_de_nom"] += float(np.sum(np.abs(s)))
        self._stepped.append((p, st))

    def _begin(self, lr: float) -> dict[str, Any]:
        """The step's shared scalars, before any key (the reference's preamble)."""
        t = self.steps + 1
        beta3 = self.beta3 if self.beta3 is not None else math.sqrt(self.beta2)
        bc = 1.0
        if self.bias_correction:
            bc = (1.0 - math.pow(self.beta1, t)) / math.sqrt(1.0 - math.pow(self.beta2, t))
        d = self._group["d"]
        self._group["d_numerator"] *= beta3
        return {"lr": lr, "d": d, "d_lr": d * lr / bc, "beta3": beta3, "d_de_nom": 0.0}

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        if st.scalars is None:
            return {}
        g = self._group
        return {"d": g["d"], "d_max": g["d_max"], "d_numerator": g["d_numerator"]}

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            sc = st.scalars
            den = np.sqrt(st.bufs["exp_avg_sq"]) + sc.d * st.hypers["eps"]
            out["effective_lr"] = st.dtype.type(sc.d_lr) / den
        return out
