"""Rprop: a per-coordinate step size that grows while the gradient keeps its sign.

    s = sign(g·g_prev):  Δ ← clip(Δ·η₊, Δmin, Δmax) if s > 0,  clip(Δ·η₋, ...) if s < 0
    where s < 0: g ← 0 (no move, and no sign flip remembered);  θ ← θ − Δ·sign(g);  g_prev ← g

Riedmiller & Braun 1993, A Direct Adaptive Method for Faster Backpropagation Learning: The
RPROP Algorithm (IEEE ICNN). torch.optim.Rprop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
    _scalars,
    _Want,
    _wants,
    register,
)


class RpropScalars(NamedTuple):
    """Per-step scalars of Rprop."""

    lr: float  # η of this step (Rprop uses only the first one, as the initial Δ)
    fresh: bool  # the step sizes start this step (filled with η)


@register
class Rprop(Optimizer):
    """Rprop: resilient backpropagation, steps of a per-coordinate size Δ along −sign(g).

    Each coordinate keeps its own step size Δ (started at η): it grows by η₊ while the gradient
    keeps its sign and shrinks by η₋ when the sign flips (then that coordinate does not move this
    step and forgets the gradient, so the next step counts as a fresh start), clipped to
    [Δmin, Δmax]. The gradient's magnitude is ignored, so Rprop is for full-batch gradients: on
    noisy mini-batches the signs flip at random. η enters only as the initial Δ (later rate
    changes, e.g. a schedule, do nothing). Riedmiller & Braun, "A Direct Adaptive Method for
    Faster Backpropagation Learning: The RPROP Algorithm" (IEEE ICNN 1993). torch.optim.Rprop.
    """

    name = "rprop"
    summary = "Rprop: per-coordinate step sizes grown or shrunk by the gradient's sign"
    source = "torch twin"
    specs = (
        _lr(1e-2),
        Hyper("etaminus", 0.5, low=0.0, high=1.0, low_open=True, high_open=True,
              help="η₋: factor shrinking Δ when the gradient's sign flips"),
        Hyper("etaplus", 1.2, low=1.0, low_open=True,
              help="η₊: factor growing Δ while the sign holds"),
        Hyper("step_size_min", 1e-6, low=0.0, help="smallest step size Δmin"),
        Hyper("step_size_max", 50.0, low=0.0, low_open=True, help="largest step size Δmax"),
        _MAXIMIZE,
    )  # fmt: skip
    equations = (
        "s = sign(g·g_prev)\n"
        "Δ ← clip(Δ·η₊ (s > 0) | Δ·η₋ (s < 0) | Δ (s = 0), Δmin, Δmax)\n"
        "g ← 0 where s < 0\n"
        "θ ← θ − Δ·sign(g),   g_prev ← g"
    )
    reference = (
        "Riedmiller & Braun 1993, A Direct Adaptive Method for Faster Backpropagation "
        "Learning: The RPROP Algorithm (IEEE ICNN). torch.optim.Rprop"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("prev", "g_prev", "the gradient of the last step (0 where its sign flipped)"),
            Quantity("step_size", "Δ", "per-coordinate step size (started at η)"),
        ),
        derived=(_alpha("Δ, the step size of each coordinate"),),
        scalars=(_LR,),
        summaries=(_ALPHA_SUMMARY, _magnitude("prev", "g_prev", "the remembered gradient")),
        effective_lr="α = Δ per coordinate; θ ← θ − α·sign(g) (the gradient's size is not "
        "used). Δ grows by η₊ while g keeps its sign and shrinks by η₋ when it flips.",
    )
    n_scratch = 3

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        if values["step_size_min"] > values["step_size_max"]:
            raise ValueError(
                f"step_size_min must be at most step_size_max ({values['step_size_max']:g}), "
                f"got {values['step_size_min']:g}"
            )

    def _prepare(self, st: _KeyState, lr: float) -> RpropScalars:
        st.t += 1
        return _scalars(RpropScalars, (lr, "step_size" not in st.bufs))

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("prev"), st.buf("step_size")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: RpropScalars) -> None:
        prev, size = bufs
        d, sgn, factor = s
        if c.fresh:
            size.fill(c.lr)  # torch: full_like(grad, lr) when the state is created
        gd = _grad(p, g, 0.0, self.maximize, d)
        np.multiply(gd, prev, out=sgn)
        np.sign(sgn, out=sgn)
        factor.fill(1.0)
        np.copyto(factor, self.etaplus, where=sgn > 0)
        np.copyto(factor, self.etaminus, where=sgn < 0)
        np.multiply(size, factor, out=size)
        np.clip(size, self.step_size_min, self.step_size_max, out=size)
        if gd is not d:
            np.copyto(d, gd)
        np.copyto(d, 0.0, where=factor == factor.dtype.type(self.etaminus))
        np.sign(d, out=sgn)
        np.multiply(sgn, size, out=sgn)
        np.subtract(p, sgn, out=p)
        np.copyto(prev, d)

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            out["effective_lr"] = st.bufs["step_size"].copy()
        return out
