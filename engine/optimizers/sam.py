"""SAM: step with the gradient taken at the worst nearby point, for a flatter minimum.

    ε = ρ·g/‖g‖  (adaptive: ε = ρ·θ²⊙g/‖|θ|⊙g‖),   ‖·‖ over the whole model
    g_SAM = ∇f(θ + ε)   (one more evaluation per step, through the closure)
    θ ← inner optimizer's step from θ with g_SAM

Foret, Kleiner, Mobahi & Neyshabur 2021, Sharpness-Aware Minimization for Efficiently Improving
Generalization (ICLR); Kwon et al. 2021, ASAM (ICML). Reference package pytorch-optimizer
4.1.0 (pytorch_optimizer.SAM, single-tensor path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _STEP,
    Closure,
    _alpha,
    _KeyState,
    _lr,
    _magnitude,
    register,
)
from engine.optimizers.wrapped import Wrapper, inner_knob


class SAMScalars(NamedTuple):
    """Per-step scalars of SAM."""

    lr: float  # η of this step (the inner optimizer's rate)
    scale: float  # ρ/(‖g‖ + eps), in float32 as the reference computes it
    perturbed_loss: float  # f(θ + ε)


@register
class SAM(Wrapper):
    """SAM: sharpness-aware minimisation around any inner optimizer.

    Each step first moves to θ + ε, ε = ρ·g/‖g‖ (the steepest ascent of length ρ; adaptive
    ASAM scales it by θ² so it is invariant to rescaling the weights), takes the gradient
    there (one more function evaluation, counted by the run), goes back to θ and lets the
    inner optimizer step with that gradient. Minimising the loss at the worst nearby point
    seeks minima whose neighbourhood is low too (flat minima). The norm is over the whole model,
    in float32 as the reference computes it. Foret et al., "Sharpness-Aware Minimization for
    Efficiently Improving Generalization" (ICLR 2021). Reference package pytorch-optimizer
    4.1.0 (pytorch_optimizer.SAM).
    """

    name = "sam"
    summary = "SAM: the inner optimizer stepped with the gradient at the worst point nearby"
    source = "reference package pytorch-optimizer"
    needs_closure = True
    specs = (
        _lr(1e-2),
        inner_knob(
            "momentum", "the optimizer that takes the step (its own defaults, rate η)", "sam"
        ),
        Hyper("rho", 0.05, low=0.0, help="radius ρ of the neighbourhood searched"),
        Hyper("adaptive", False, kind="bool", help="ASAM: scale ε by θ² (scale-invariant)"),
        Hyper("perturb_eps", 1e-12, low=0.0, log=True, help="added to ‖g‖ for stability"),
    )
    equations = (
        "ε = ρ·g/‖g‖   (adaptive: ρ·θ²⊙g/‖|θ|⊙g‖)\n"
        "g_SAM = ∇f(θ + ε)   (one more evaluation)\n"
        "θ ← the inner optimizer's step from θ with g_SAM, rate η"
    )
    reference = (
        "Foret et al. 2021, Sharpness-Aware Minimization for Efficiently Improving "
        "Generalization (ICLR). Reference package pytorch-optimizer 4.1.0"
    )
    state_doc = StateDoc(
        state=(_STEP, Quantity("e_w", "ε", "the last perturbation: where g_SAM was taken")),
        derived=(_alpha("of the inner optimizer (applied to g_SAM)"),),
        scalars=(
            _LR,
            Quantity("scale", "ρ/‖g‖", "the factor from g to ε this step"),
            Quantity("perturbed_loss", "f(θ+ε)", "the loss at the perturbed point"),
        ),
        summaries=(_ALPHA_SUMMARY, _magnitude("e_w", "ε", "the perturbation")),
        effective_lr="α is the inner optimizer's, applied to g_SAM = ∇f(θ + ε) instead of "
        "g: θ ← θ − α·(its direction from g_SAM).",
    )

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
        closure: Closure | None = None,
        loss: float | None = None,
    ) -> None:
        """One SAM step: `grads` is the gradient at `params`; `closure` evaluates at the
        current params (it is called once, at θ + ε)."""
        if closure is None:
            self._refuse_without_closure(lr, "it evaluates at θ + ε")
        self._lr_now = self.lr if lr is None else lr
        super().step(params, grads, lr)  # validates; `_step_key` counts each key's step
        keys = list(params)
        adaptive = self.adaptive
        sq = np.float32(0.0)
        for k in keys:  # per-key norms in their dtype, squared and summed in float32
            g = grads[k]
            n = np.linalg.norm((g * np.abs(params[k])) if adaptive else g)
            n32 = np.float32(n)
            sq = np.float32(sq + n32 * n32)
        norm = np.float32(np.sqrt(sq) + np.float32(self.perturb_eps))
        with np.errstate(divide="ignore"):
            scale = np.float32(np.float32(1.0) / norm) * np.float32(self.rho)
        old = {}
        for k in keys:
            p, g = params[k], grads[k]
            e = np.asarray((p * p * g if adaptive else g * 1.0) * p.dtype.type(scale))
            old[k] = p.copy()
            st = self._state[k]
            st.bufs["e_w"] = e
            st.extra["key"] = k
            p += e
        perturbed_loss, perturbed = closure()
        for k in keys:
            np.copyto(params[k], old[k])
        self._step_inner(params, {k: perturbed[k] for k in keys}, self._lr_now)
        sc = SAMScalars(float(self._lr_now), float(scale), float(perturbed_loss))
        for k in keys:
            self._state[k].scalars = sc

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        st.t += 1
        st.hypers = self.hypers

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        return {}
