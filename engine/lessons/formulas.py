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

Each also computes, at every step, the update its fix would take from the same state and
gradient (the formula with the erratum removed, nothing else changed) and keeps two per-step
scalars that a run's state summaries record and the State tab draws: `fix_distance`
‖Δθ − Δθ_fix‖ / ‖Δθ_fix‖ and `fix_ratio` ‖Δθ‖ / ‖Δθ_fix‖ (norms over every parameter the
optimizer steps under one key: the whole run for a Run's flat buffer). `differs` names the
formula that differs, in one line. The fix is the erratum removed, not another framework's
variant: torch's NAdam keeps a momentum schedule (its own state), so the distance to it would
mix the erratum with a different algorithm.

They rely only on the public surface of `engine.optimizers.Optimizer` (declared `specs`,
validated `hypers`, `step`, `reset`, `state`): each keeps its own per-key state and does its
arithmetic in plain NumPy, so they stay correct whatever the fast kernels of the registered
optimizers look like. They are elementwise, so a run may step them on one flat buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import Optimizer, register

__all__ = [
    "AdamNoCorrection",
    "FixScalars",
    "TutorialAMSGrad",
    "TutorialFormula",
    "TutorialNAdam",
    "fix_distance",
]


class FixScalars(NamedTuple):
    """Per-step scalars of a formula as written: how far its step is from its fix's."""

    lr: float  # η of this step
    fix_distance: float  # ‖Δθ − Δθ_fix‖ / ‖Δθ_fix‖ (inf when the fix does not move)
    fix_ratio: float  # ‖Δθ‖ / ‖Δθ_fix‖


def fix_distance(update: np.ndarray, fixed: np.ndarray) -> tuple[float, float]:
    """(‖update − fixed‖ / ‖fixed‖, ‖update‖ / ‖fixed‖) in float64; NaN when both are zero,
    inf when only the fix is zero."""
    a = np.asarray(update, np.float64).reshape(-1)
    f = np.asarray(fixed, np.float64).reshape(-1)
    d = a - f
    nf = math.sqrt(float(np.dot(f, f)))
    nd = math.sqrt(float(np.dot(d, d)))
    na = math.sqrt(float(np.dot(a, a)))
    if nf == 0.0:
        return (math.nan, math.nan) if na == 0.0 else (math.inf, math.inf)
    return nd / nf, na / nf


_FIX_STATE_DOC_SCALARS = (
    Quantity("lr", "η", "learning rate of this step"),
    Quantity(
        "fix_distance",
        "‖Δ−Δfix‖/‖Δfix‖",
        "distance of the step as written from the fixed formula's step (same state and g)",
    ),
    Quantity("fix_ratio", "‖Δ‖/‖Δfix‖", "norm of the step as written over the fixed step's"),
)


def _fix_state_doc(*state: Quantity) -> StateDoc:
    return StateDoc(
        state=(Quantity("step", "t", "steps taken"), *state),
        scalars=_FIX_STATE_DOC_SCALARS,
        tracked=("fix_distance", "fix_ratio"),
        effective_lr="",
    )


_M = Quantity("exp_avg", "m", "first moment: average of g")
_V = Quantity("exp_avg_sq", "v", "second moment: average of g²")


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
    #: The formula that differs from the fix, in one line (the State tab shows it).
    differs: ClassVar[str] = ""
    #: The fixed formula, in one line.
    fixed: ClassVar[str] = ""

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
            with np.errstate(all="ignore"):
                update, fixed = self._updates(g, slot, rate)
                distance, ratio = fix_distance(update, fixed)
            p += update
            slot["scalars"] = FixScalars(rate, distance, ratio)
        self.steps += 1

    def _updates(
        self, g: np.ndarray, slot: dict[str, Any], lr: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance `slot`'s state with `g`; return (Δθ as written, Δθ of the fix) from it."""
        raise NotImplementedError

    def reset(self) -> None:
        self._slots.clear()
        self.steps = 0

    def state(self, key: str) -> dict[str, Any]:
        """One key's step count and state arrays (live: do not write)."""
        return {k: v for k, v in self._slots[key].items() if k != "scalars"}

    # The reading surface the State tab and state summaries use (see engine.optimizer_state).

    def keys(self) -> list[str]:
        return list(self._slots)

    def has_state(self, key: str) -> bool:
        return key in self._slots

    def scalars(self, key: str) -> FixScalars | None:
        """`key`'s last step: η, and the distance and norm ratio to the fix's step."""
        return self._slots[key].get("scalars")

    def derived(
        self,
        key: str,
        grad: np.ndarray | None = None,
        prev: np.ndarray | None = None,
        want: set[str] | None = None,
    ) -> dict[str, np.ndarray]:
        return {}

    def summary_arrays(
        self,
        key: str,
        summaries: Any,
        grad: np.ndarray | None = None,
        prev: np.ndarray | None = None,
    ) -> dict[str, np.ndarray | None]:
        return {}

    def state_bytes(self) -> int:
        return sum(
            int(v.nbytes) for s in self._slots.values() for v in s.values()
            if isinstance(v, np.ndarray)
        )  # fmt: skip


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
    state_doc = _fix_state_doc(_M, _V)
    differs = "θ ← θ − η·m/(√v + ε): m and v not divided by 1 − β₁ᵗ, 1 − β₂ᵗ"
    fixed = "Adam: θ ← θ − η·m̂/(√v̂ + ε)"

    def _updates(
        self, g: np.ndarray, slot: dict[str, Any], lr: float
    ) -> tuple[np.ndarray, np.ndarray]:
        h = self.hypers
        b1, b2, t, eps = h["beta1"], h["beta2"], slot["step"], h["eps"]
        _moments(slot, g, b1, b2)
        m, v = slot["exp_avg"], slot["exp_avg_sq"]
        fixed = -lr * (m / (1.0 - b1**t)) / (np.sqrt(v / (1.0 - b2**t)) + eps)
        return -lr * m / (np.sqrt(v) + eps), fixed


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
    state_doc = _fix_state_doc(_M, _V)
    differs = "m̄ = (β₁·m̂ + (1 − β₁)·g) / (1 − β₁ᵗ): m̂ is corrected a second time"
    fixed = "m̄ = β₁·m̂ + (1 − β₁)·g (one correction)"

    def _updates(
        self, g: np.ndarray, slot: dict[str, Any], lr: float
    ) -> tuple[np.ndarray, np.ndarray]:
        h = self.hypers
        b1, b2, t = h["beta1"], h["beta2"], slot["step"]
        _moments(slot, g, b1, b2)
        bias1 = 1.0 - b1**t
        m_hat = slot["exp_avg"] / bias1
        denom = np.sqrt(slot["exp_avg_sq"] / (1.0 - b2**t)) + h["eps"]
        m_fix = b1 * m_hat + (1.0 - b1) * g
        return -lr * (m_fix / bias1) / denom, -lr * m_fix / denom


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
    state_doc = _fix_state_doc(_M, _V, Quantity("max_exp_avg_sq", "v̄", "running max of v"))
    differs = "θ ← θ − η·m̂/(√v̄ + ε): v̄ not divided by 1 − β₂ᵗ"
    fixed = "torch: θ ← θ − η·m̂/(√v̄/√(1 − β₂ᵗ) + ε)"

    def _updates(
        self, g: np.ndarray, slot: dict[str, Any], lr: float
    ) -> tuple[np.ndarray, np.ndarray]:
        h = self.hypers
        b1, b2, t, eps = h["beta1"], h["beta2"], slot["step"], h["eps"]
        _moments(slot, g, b1, b2)
        vmax = slot["max_exp_avg_sq"]
        np.maximum(vmax, slot["exp_avg_sq"], out=vmax)
        m_hat = slot["exp_avg"] / (1.0 - b1**t)
        fixed = -lr * m_hat / (np.sqrt(vmax) / math.sqrt(1.0 - b2**t) + eps)
        return -lr * m_hat / (np.sqrt(vmax) + eps), fixed
