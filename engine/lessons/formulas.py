"""The seed tutorials' optimizer formulas as they wrote them, for lessons to race (hidden).

A lesson about a tutorial's mistake races the correct optimizer against the formula as the
tutorial coded it, clearly labelled. These classes are registered in the optimizer registry
with `hidden = True`: experiment files and races can name them, but the app's pickers and
`optplay list` do not offer them (they are not optimizers anyone should pick).

- `adam-no-correction`: Adam without its two bias corrections (Kingma & Ba 2015, section 3
  explains why the corrections are there: m and v start at zero).
- `nadam-tutorial`: tutorial 001's NAdam, which divides the Nesterov mix by (1 − β₁ᵗ) a second
  time; the correct NAdam (Dozat 2016, torch.optim.NAdam) is the registry's `nadam`.
- `amsgrad-tutorial`: tutorial 000's AMSGrad: the running max of the raw v, not bias-corrected
  (torch's `amsgrad` divides that max by √(1 − β₂ᵗ)); m is bias-corrected.

They rely only on the public surface of `engine.optimizers.Optimizer` (declared `specs`,
validated `hypers`, `step`, `reset`, `state`): each keeps its own per-key state and does its
arithmetic in plain NumPy, so they stay correct whatever the fast kernels of the registered
optimizers look like. They are elementwise, so a run may step them on one flat buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from engine.hyper import Hyper
from engine.optimizers import Optimizer, register

__all__ = ["AdamNoCorrection", "TutorialAMSGrad", "TutorialFormula", "TutorialNAdam"]


def _lr(default: float) -> Hyper:
    return Hyper(
        "lr", default, low=0.0, low_open=True, log=True, help="learning rate η (step size)"
    )


def _beta(name: str, default: float, help: str) -> Hyper:
    return Hyper(name, default, low=0.0, high=1.0, high_open=True, help=help)


_ADAM_SPECS = (
    _lr(1e-3),
    _beta("beta1", 0.9, "decay β₁ of the gradient average (momentum)"),
    _beta("beta2", 0.999, "decay β₂ of the squared-gradient average"),
    Hyper("eps", 1e-8, low=0.0, log=True, help="ε added to the denominator for stability"),
)


class TutorialFormula(Optimizer):
    """Base of the tutorial formulas: per-key state in a dict, arithmetic in `_update`."""

    hidden = True
    elementwise = True
    #: Names of the state arrays each key keeps (zeros at the start).
    buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self._slots: dict[str, dict[str, Any]] = {}

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
    ) -> None:
        """Update every array of `params` in place from `grads` (`lr` overrides the rate)."""
        rate = float(self.hypers["lr"]) if lr is None else _checked_lr(lr)
        for key, p in params.items():
            if key not in grads:
                raise ValueError(f"grads has no entry for parameter {key!r}")
            g = np.asarray(grads[key])
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}] has shape {g.shape}, params {p.shape}")
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = {"step": 0}
                for name in self.buffers:
                    slot[name] = np.zeros_like(p)
            slot["step"] += 1
            self._update(p, g, slot, rate)
        self.steps += 1

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, Any], lr: float) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        self._slots.clear()
        self.steps = 0

    def state(self, key: str) -> dict[str, Any]:
        """One key's step count and state arrays (live: do not write)."""
        return dict(self._slots[key])


def _checked_lr(lr: Any) -> float:
    try:
        rate = float(lr)
    except (TypeError, ValueError):
        rate = math.nan
    if not 0.0 <= rate < math.inf:
        raise ValueError(f"lr must be a number in [0, inf), got {lr!r}")
    return rate


def _moments(slot: dict[str, Any], g: np.ndarray, b1: float, b2: float) -> None:
    """Adam's running averages: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²."""
    m, v = slot["exp_avg"], slot["exp_avg_sq"]
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * g * g


@register
class AdamNoCorrection(TutorialFormula):
    """Adam without bias correction: θ ← θ − η·m/(√v + ε), m and v as in Adam.

    m and v start at zero, so early on they are too small: m by the factor 1 − β₁ᵗ and v by
    1 − β₂ᵗ. Uncorrected, the first step is η·(1 − β₁)/√(1 − β₂) ≈ 3.16η per coordinate at the
    default betas instead of η, and steps stay too large for about 1/(1 − β₂) steps. Kingma &
    Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), section 3.
    """

    name = "adam-no-correction"
    summary = "Adam without bias correction (lessons only)"
    specs = _ADAM_SPECS
    equations = (
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\nθ ← θ − η·m / (√v + ε)   (no 1 − βᵗ)"
    )
    reference = "Kingma & Ba 2015 (Adam), section 3, with the bias corrections left out"
    buffers = ("exp_avg", "exp_avg_sq")

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, Any], lr: float) -> None:
        h = self.hypers
        _moments(slot, g, h["beta1"], h["beta2"])
        p -= lr * slot["exp_avg"] / (np.sqrt(slot["exp_avg_sq"]) + h["eps"])


@register
class TutorialNAdam(TutorialFormula):
    """NAdam as tutorial 001 coded it: the Nesterov mix divided by (1 − β₁ᵗ) twice.

    m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), m̄ = (β₁·m̂ + (1 − β₁)·g)/(1 − β₁ᵗ), θ ← θ − η·m̄/(√v̂ + ε).
    m̂ is already corrected, so the second division inflates the step by 1/(1 − β₁ᵗ): 10× on
    the first step at β₁ = 0.9, still 1.5× at step 10, fading after ~50 steps. That inflation
    is what made "NAdam" look faster than Adam in the tutorial's ten-step race. The correct
    NAdam (Dozat 2016; torch.optim.NAdam) is the registry's `nadam`.
    """

    name = "nadam-tutorial"
    summary = "NAdam as tutorial 001 wrote it, double bias correction (lessons only)"
    specs = _ADAM_SPECS
    equations = (
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "m̂ = m/(1 − β₁ᵗ),   v̂ = v/(1 − β₂ᵗ)\n"
        "m̄ = (β₁·m̂ + (1 − β₁)·g) / (1 − β₁ᵗ)      ← the second correction\n"
        "θ ← θ − η·m̄ / (√v̂ + ε)"
    )
    reference = "Seed tutorial 001's NAdam (see the errata); correct: Dozat 2016, torch NAdam"
    buffers = ("exp_avg", "exp_avg_sq")

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, Any], lr: float) -> None:
        h = self.hypers
        b1, b2, t = h["beta1"], h["beta2"], slot["step"]
        _moments(slot, g, b1, b2)
        bias1 = 1.0 - b1**t
        m_hat = slot["exp_avg"] / bias1
        v_hat = slot["exp_avg_sq"] / (1.0 - b2**t)
        m_bar = (b1 * m_hat + (1.0 - b1) * g) / bias1
        p -= lr * m_bar / (np.sqrt(v_hat) + h["eps"])


@register
class TutorialAMSGrad(TutorialFormula):
    """AMSGrad as tutorial 000 coded it: θ ← θ − η·m̂/(√v̄ + ε) with v̄ the max of the raw v.

    m̂ = m/(1 − β₁ᵗ) is bias-corrected, v̄ ← max(v̄, v) is not. Without correction v̄ starts
    small (v₁ = (1 − β₂)g₁²), so the first steps are up to 1/√(1 − β₂) ≈ 32× larger than
    Adam's; after that v̄ never shrinks, so a coordinate's rate η/√v̄ never grows. torch's
    variant (the registry's `amsgrad`) divides v̄ by (1 − β₂ᵗ), which removes the early jump
    but lets the rate grow while 1 − β₂ᵗ approaches 1. Reddi, Kale & Kumar, "On the
    Convergence of Adam and Beyond" (ICLR 2018).
    """

    name = "amsgrad-tutorial"
    summary = "AMSGrad as tutorial 000 wrote it, max of the raw v (lessons only)"
    specs = _ADAM_SPECS
    equations = (
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   v̄ ← max(v̄, v)\n"
        "θ ← θ − η·(m/(1 − β₁ᵗ)) / (√v̄ + ε)   (v̄ not corrected)"
    )
    reference = "Seed tutorial 000's AMSGrad; Reddi, Kale & Kumar 2018 (ICLR)"
    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, Any], lr: float) -> None:
        h = self.hypers
        b1, t = h["beta1"], slot["step"]
        _moments(slot, g, b1, h["beta2"])
        vmax = slot["max_exp_avg_sq"]
        np.maximum(vmax, slot["exp_avg_sq"], out=vmax)
        p -= lr * (slot["exp_avg"] / (1.0 - b1**t)) / (np.sqrt(vmax) + h["eps"])
