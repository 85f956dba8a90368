"""Lookahead: k fast steps of an inner optimizer, then the slow weights move a fraction α.

    θ ← the inner optimizer's step (every step)
    every k steps:  θ ← φ + α·(θ − φ),   φ ← θ    (φ: the slow weights, started at θ₀)

Zhang, Lucas, Hinton & Ba 2019, Lookahead Optimizer: k steps forward, 1 step back (NeurIPS).
Reference package pytorch-optimizer 4.1.0 (pytorch_optimizer.Lookahead, pullback_momentum
"none").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _STEP,
    _alpha,
    _KeyState,
    _lerp,
    _lr,
    _magnitude,
    register,
)
from engine.optimizers.wrapped import Wrapper, inner_knob


class LookaheadScalars(NamedTuple):
    """Per-step scalars of Lookahead."""

    lr: float  # η of this step (the inner optimizer's rate)
    synced: bool  # this step pulled θ back towards the slow weights


@register
class Lookahead(Wrapper):
    """Lookahead: an inner optimizer explores k steps ahead, then θ moves back part of the way.

    The slow weights φ start at θ₀. The inner optimizer steps θ as usual; every k steps θ is
    pulled back to φ + α·(θ − φ), which becomes the new φ. The fast steps explore, the slow
    weights average out their oscillation (lower variance, less sensitive to the inner
    optimizer's rate). Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back"
    (NeurIPS 2019). Reference package pytorch-optimizer 4.1.0 (pytorch_optimizer.Lookahead).
    """

    name = "lookahead"
    summary = "Lookahead: k steps of an inner optimizer, then back a fraction 1 − α"
    source = "reference package pytorch-optimizer"
    specs = (
        _lr(1e-3),
        inner_knob(
            "adam", "the optimizer taking the fast steps (its own defaults, rate η)", "lookahead"
        ),
        Hyper("k", 5, kind="int", low=1, high=100_000, help="fast steps between slow updates"),
        Hyper("alpha", 0.5, low=0.0, high=1.0, help="fraction α of the way the slow weights move"),
    )
    equations = (
        "θ ← the inner optimizer's step from θ, rate η\n"
        "every k steps:  θ ← φ + α·(θ − φ)\n"
        "φ ← θ   (φ: the slow weights, started at θ₀)"
    )
    reference = (
        "Zhang et al. 2019, Lookahead Optimizer: k steps forward, 1 step back (NeurIPS). "
        "Reference package pytorch-optimizer 4.1.0"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("slow_params", "φ", "the slow weights (θ after the last pull-back)"),
        ),
        derived=(_alpha("of the inner optimizer (between pull-backs)"),),
        scalars=(_LR, Quantity("synced", "sync", "this step pulled θ back to the slow weights")),
        summaries=(_ALPHA_SUMMARY, _magnitude("slow", "φ", "the slow weights", "slow_params")),
        effective_lr="α is the inner optimizer's (θ ← θ − α·its direction) on the k − 1 steps "
        "between pull-backs; every k-th step also moves θ to φ + α_la·(θ − φ).",
    )

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self._counter = 0

    def reset(self) -> None:
        super().reset()
        self._counter = 0

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
    ) -> None:
        """One inner step; every k-th step also the pull-back (the reference's counter)."""
        super().step(params, grads, lr)  # validates; `_step_key` keeps φ
        self._step_inner(params, grads, self._lr_now)
        self._counter += 1
        synced = self._counter >= self.k
        if synced:
            self._counter = 0
        sc = LookaheadScalars(float(self._lr_now), synced)
        for key, p in params.items():
            st = self._state[key]
            st.extra["key"] = key
            st.scalars = sc
            if synced:
                slow = st.bufs["slow_params"]
                _lerp(p, slow, 1.0 - self.alpha, np.empty_like(p))
                np.copyto(slow, p)

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        if "slow_params" not in st.bufs:
            np.copyto(st.buf("slow_params"), p)
        st.t += 1
        st.hypers = self.hypers
        self._lr_now = lr
