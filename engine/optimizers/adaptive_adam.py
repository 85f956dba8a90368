"""adaptive-adam: Adam whose β₁ follows a schedule, with an exact bias correction.

    β₁,t = β₁ (constant), β_min + (β₁ − β_min)/(1 + k(t − 1)) (decay) or
           β_min + (β₁ − β_min)·(1 + cos(2π(t − 1)/P))/2 (cyclic)
    m̂ = m / (1 − Π_{i≤t} β₁,i),   otherwise Adam's step (Adam's kernel, subclassed)

Kingma & Ba 2015 (Adam); cyclic momentum: Smith 2018, A disciplined approach to neural
network hyper-parameters: Part 1 (arXiv:1803.09820); product bias correction: Dozat 2016.
No torch/optax twin.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from engine.hyper import Hyper
from engine.optimizer_state import Quantity
from engine.optimizers.adam import Adam
from engine.optimizers.base import (
    _ADAM_RMS,
    _B2,
    _BC2,
    _EXP_AVG,
    _EXP_AVG_SQ,
    _LR,
    _STEP,
    _V_HAT,
    _alpha,
    _beta,
    _eps,
    _KeyState,
    _lr,
    _weight_decay,
    register,
)


@register
class AdaptiveAdam(Adam):
    """Adam whose β₁ follows a schedule, with a bias correction that stays right when it moves.

    β₁,t is constant, decays as β_min + (β₁ − β_min)/(1 + k(t − 1)), or cycles as
    β_min + (β₁ − β_min)(1 + cos(2π(t − 1)/P))/2. With varying β₁ the first moment's weights sum
    to 1 − Π β₁,i, not 1 − β₁ᵗ, so m̂ = m/(1 − Π_{i≤t} β₁,i) (the same device as NAdam's μ
    product); with a constant schedule this is exactly Adam. β₁ stays in [β_min, β₁] ⊂ [0, 1),
    so it reaches 0 only if beta1_min = 0 is asked for. Adam: Kingma & Ba (ICLR 2015); cyclic
    momentum: Smith, "A disciplined approach to neural network hyper-parameters: Part 1"
    (arXiv:1803.09820, 2018); product bias correction: Dozat (2016).
    """

    name = "adaptive-adam"
    frameworks: ClassVar[dict[str, str | None]] = {"torch": None, "optax": None, "keras": None}
    summary = "Adam with a scheduled β₁ (constant / decay / cyclic) and exact bias correction"
    specs = (
        _lr(1e-3),
        _beta("beta1", 0.9, "starting (and largest) β₁"),
        _B2,
        _eps(1e-8),
        _weight_decay(),
        Hyper(
            "beta1_schedule",
            "constant",
            kind="choice",
            choices=("constant", "decay", "cyclic"),
            help="how β₁ moves over steps",
        ),
        _beta("beta1_min", 0.5, "lowest β₁ the decay/cyclic schedules reach"),
        Hyper("beta1_decay", 1e-3, low=0.0, log=True, help="k in the decay schedule"),
        Hyper("period", 1000, kind="int", low=2, help="steps per cycle of the cyclic schedule"),
    )
    equations = (
        "constant: β₁,t = β₁\n"
        "decay:    β₁,t = β_min + (β₁ − β_min) / (1 + k·(t − 1))\n"
        "cyclic:   β₁,t = β_min + (β₁ − β_min)·(1 + cos(2π(t − 1)/P)) / 2\n"
        "m ← β₁,t·m + (1 − β₁,t)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "m̂ = m / (1 − Π_{i≤t} β₁,i),   v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Kingma & Ba 2015 (Adam) with a β₁ schedule (Smith 2018, cyclic momentum) and the "
        "product bias correction of Dozat 2016. No torch/optax twin"
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        if values["beta1_schedule"] != "constant" and values["beta1_min"] > values["beta1"]:
            raise ValueError(
                f"beta1_min must be at most beta1 ({values['beta1']:g}) for the "
                f"{values['beta1_schedule']} schedule, got {values['beta1_min']:g}"
            )

    state_doc = dataclasses.replace(
        Adam.state_doc,
        state=(_STEP, _EXP_AVG, _EXP_AVG_SQ, Quantity("beta1_product", "Π β₁", "Π_{i≤t} β₁,i")),
        derived=(
            Quantity("exp_avg_hat", "m̂", "m / (1 − Π_{i≤t} β₁,i): the bias-corrected m"),
            _V_HAT,
            _ADAM_RMS,
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(
            _LR,
            Quantity("beta1", "β₁,t", "β₁ used by this step (from the schedule)"),
            Quantity("bias_correction1", "1 − Π β₁", "bias correction of m: 1 − Π_{i≤t} β₁,i"),
            _BC2,
        ),
    )

    def beta1_at(self, t: int) -> float:
        """β₁ used by the t-th update (t counts from 1)."""
        b1, lo = self.beta1, self.beta1_min
        if self.beta1_schedule == "decay":
            return lo + (b1 - lo) / (1 + self.beta1_decay * (t - 1))
        if self.beta1_schedule == "cyclic":
            return lo + (b1 - lo) * (1 + math.cos(2 * math.pi * (t - 1) / self.period)) / 2
        return b1

    def _beta1(self, st: _KeyState) -> tuple[float, float]:
        # Π β₁,i kept as head·last^run: a run of equal betas is one power, so the constant
        # schedule gives 1 − β₁ᵗ bit for bit (Adam's correction), and a changing β₁ is still
        # multiplied in exactly once per step.
        b = self.beta1_at(st.t)
        ex = st.extra
        if ex.get("beta1_last") == b:
            ex["beta1_run"] += 1
        else:
            ex["beta1_head"] = ex.get("beta1_head", 1.0) * ex.get("beta1_last", 1.0) ** ex.get(
                "beta1_run", 0
            )
            ex["beta1_last"] = b
            ex["beta1_run"] = 1
        return b, 1 - self._beta1_product(st)

    @staticmethod
    def _beta1_product(st: _KeyState) -> float:
        ex = st.extra
        return ex["beta1_head"] * ex["beta1_last"] ** ex["beta1_run"]

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        return {"beta1_product": self._beta1_product(st)} if "beta1_last" in st.extra else {}
