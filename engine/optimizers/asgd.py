"""ASGD: SGD with a decaying step η_t and a running (Polyak) average of the iterates.

    θ ← θ·(1 − λ·η_t) − η_t·g,   ax ← ax + μ_t·(θ − ax)   (ax ← θ while μ_t = 1)
    η_{t+1} = η / (1 + λ·η·t)^α,   μ_{t+1} = 1 / max(1, t − t₀)

Polyak & Juditsky 1992, Acceleration of Stochastic Approximation by Averaging (SIAM J.
Control Optim.). torch.optim.ASGD.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _grad,
    _KeyState,
    _lr,
    _magnitude,
    _same_alpha,
    _scalars,
    _Want,
    _weight_decay,
    register,
)


class ASGDScalars(NamedTuple):
    """Per-step scalars of ASGD: the η_t and μ_t this step used (set by the previous step)."""

    lr: float  # η of this step (enters η_{t+1})
    eta: float  # η_t, the step size used
    mu: float  # μ_t, the averaging weight used


@register
class ASGD(Optimizer):
    """ASGD: averaged SGD. Steps with a slowly decaying rate and keeps the average of the iterates.

    θ ← θ(1 − λη_t) − η_t·g with η_t = η/(1 + λη(t − 1))^α (η_1 = η), and the average
    ax ← ax + μ_t(θ − ax) with μ_t = 1/max(1, t − 1 − t₀): before step t₀ the "average" is θ
    itself, after it the running mean of the iterates since t₀. The average is what converges
    fast on noisy convex problems (Polyak–Ruppert averaging); the run trains and evaluates θ,
    the State tab shows ax. torch's t₀ default (1e6) means no averaging in a short run: lower it
    to see ax move. Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging"
    (SIAM J. Control Optim. 1992). torch.optim.ASGD.
    """

    name = "asgd"
    summary = "ASGD: SGD with a decaying rate and a Polyak average of the iterates"
    source = "torch twin"
    specs = (
        _lr(1e-2),
        Hyper("lambd", 1e-4, low=0.0, help="decay term λ (shrinks θ and slows η_t)"),
        Hyper("alpha", 0.75, low=0.0, help="power α of the rate decay η/(1 + ληt)^α"),
        Hyper("t0", 1e6, low=0.0, help="step t₀ after which averaging starts"),
        _weight_decay(),
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λ_wd·θ\n"
        "θ ← θ·(1 − λ·η_t) − η_t·g\n"
        "ax ← ax + μ_t·(θ − ax)        (ax ← θ while μ_t = 1)\n"
        "η_{t+1} = η / (1 + λ·η·t)^α,   μ_{t+1} = 1 / max(1, t − t₀)"
    )
    reference = (
        "Polyak & Juditsky 1992, Acceleration of Stochastic Approximation by Averaging "
        "(SIAM J. Control Optim.). torch.optim.ASGD"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("ax", "θ̄", "the averaged iterate (θ itself until t₀)"),
            Quantity("eta", "η_t", "the step size of the next step"),
            Quantity("mu", "μ_t", "the averaging weight of the next step"),
        ),
        derived=(_alpha("η_t, the same for every coordinate"),),
        scalars=(
            _LR,
            Quantity("eta", "η_t", "the step size this step used"),
            Quantity("mu", "μ_t", "the averaging weight this step used"),
        ),
        summaries=(_ALPHA_SUMMARY, _magnitude("ax", "θ̄", "the averaged iterate")),
        effective_lr="α = η_t for every coordinate; θ ← θ(1 − λ·α) − α·g. g includes λ_wd·θ "
        "(weight decay) and is negated with maximize.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> ASGDScalars:
        st.t += 1
        ex = st.extra
        eta = ex.get("eta", lr)  # torch: the state starts with η_1 = the group's lr
        mu = ex.get("mu", 1.0)
        step = float(st.t)
        ex["eta"] = lr / ((1 + self.lambd * lr * step) ** self.alpha)
        ex["mu"] = 1 / max(1, step - self.t0)
        return _scalars(ASGDScalars, (lr, eta, mu))

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("ax")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: ASGDScalars) -> None:
        (ax,) = bufs
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        eta = c.eta
        np.multiply(p, 1 - self.lambd * eta, out=p)
        np.multiply(d, -eta, out=s[1])
        np.add(p, s[1], out=p)
        if c.mu != 1:
            np.subtract(p, ax, out=s[1])
            np.multiply(s[1], c.mu, out=s[1])
            np.add(ax, s[1], out=ax)
        else:
            np.copyto(ax, p)

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        ex = st.extra
        return {"eta": ex["eta"], "mu": ex["mu"]} if "eta" in ex else {}

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        return _same_alpha(st, want, st.scalars.eta)
