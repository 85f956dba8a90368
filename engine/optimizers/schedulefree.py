"""Schedule-free AdamW and SGD: train at y, evaluate at x, no learning-rate schedule needed.

    z ← z − η·d                     (the SGD/AdamW iterate; d = g, or g/(√v̂ + ε) for AdamW)
    x ← (1 − c)·x + c·z              (a weighted average of the z's, c = w_t / Σw; w_t = η_max²)
    y = (1 − β)·z + β·x              (where the gradient is taken; the params during training)
    evaluation at x = y + (1 − 1/β)·(z − y): what the reference's `optimizer.eval()` loads

Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky 2024, The Road Less Scheduled (NeurIPS;
the AlgoPerf 2024 self-tuning track winner). Reference package schedulefree 1.4.1
(AdamWScheduleFree, SGDScheduleFree, the single-tensor path).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _B2,
    _EXP_AVG_SQ,
    _LR,
    _STEP,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _ema_sq,
    _eps,
    _KeyState,
    _lerp,
    _lr,
    _magnitude,
    _same_alpha,
    _scalars,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class ScheduleFreeScalars(NamedTuple):
    """Per-step scalars of schedule-free AdamW and SGD."""

    lr: float  # η of this step, after the warmup factor (the reference's scheduled_lr)
    ckp1: float  # c = w_t / Σw: the weight of z in the new average x
    y_step: float  # η·(β(1 − c) − 1): the multiple of d added to y
    bias_correction2: float  # 1 − β₂ᵗ (AdamW)


_Z = Quantity("z", "z", "the base iterate: z ← z − η·d (started at θ₀)")
_WEIGHT_SUM = Quantity("weight_sum", "Σw", "sum of the averaging weights w = tʳ·η_max^p so far")
_LR_MAX = Quantity("lr_max", "η_max", "the largest rate so far (weights the average)")
_ABS_Z = _magnitude("z", "z", "the base iterate z")
_CKP1 = Quantity("ckp1", "c", "weight of z in the new average x this step")
_WARMUP = Hyper("warmup_steps", 0, kind="int", low=0, high=1_000_000,
                help="linear warmup of η over this many steps (no schedule needed)")  # fmt: skip
_R = Hyper("r", 0.0, low=0.0, high=100.0, help="polynomial weighting tʳ of the average")
_POWER = Hyper("weight_lr_power", 2.0, low=0.0, high=100.0,
               help="the average weights η_max to this power")  # fmt: skip


def _move_y_and_z(
    y: np.ndarray, z: np.ndarray, d: np.ndarray, c: ScheduleFreeScalars, tmp: np.ndarray
) -> None:
    """The step both share, given the update direction d (the reference's order):
    y ← lerp(y, z, c) + η(β(1 − c) − 1)·d, then z ← z − η·d."""
    _lerp(y, z, c.ckp1, tmp)
    np.multiply(d, c.y_step, out=tmp)
    np.add(y, tmp, out=y)
    np.multiply(d, c.lr, out=tmp)
    np.subtract(z, tmp, out=z)


class _ScheduleFree(Optimizer):
    """What schedule-free AdamW and SGD share: the averaging weights, z, and the eval point."""

    n_scratch = 2
    beta_knob = "beta1"

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        if "z" not in st.bufs:  # z starts as a copy of θ (the reference's clone)
            np.copyto(st.buf("z"), p)
        super()._step_key(p, g, st, lr)

    def _prepare(self, st: _KeyState, lr: float) -> ScheduleFreeScalars:
        k = st.t
        st.t += 1
        ex = st.extra
        warmup = self.warmup_steps
        lr = lr * ((k + 1) / warmup if k < warmup else 1.0)
        lr_max = ex["lr_max"] = max(lr, ex.get("lr_max", -1.0))
        try:
            weight = ((k + 1) ** self.r) * (lr_max**self.weight_lr_power)
        except OverflowError:  # float ** raises past 1.8e308 (lr 1e155 squared): inf, as
            weight = math.inf  # NumPy would give, and the run diverges instead of the app
        weight_sum = ex["weight_sum"] = ex.get("weight_sum", 0.0) + weight
        ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
        beta = getattr(self, self.beta_knob)
        bc2 = 1 - self.beta2 ** (k + 1) if hasattr(self, "beta2") else 1.0
        return _scalars(ScheduleFreeScalars, (lr, ckp1, lr * (beta * (1 - ckp1) - 1), bc2))

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        if st.scalars is None:
            return {}
        return {
            "lr_max": st.extra["lr_max"],
            "weight_sum": st.extra["weight_sum"],
            "ckp1": st.scalars.ckp1,
        }

    def eval_params(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """x = y + (1 − 1/β)(z − y) per key (the reference's `eval()`), fresh arrays; keys not
        stepped yet are evaluated where they are."""
        beta = getattr(self, self.beta_knob)
        out = {}
        for key, y in params.items():
            st = self._state.get(key)
            x = np.array(y, copy=True)
            if st is not None and "z" in st.bufs:
                _lerp(x, st.bufs["z"], 1 - 1 / beta, np.empty_like(x))
            out[key] = x
        return out

    def _buffers(self, st: _KeyState) -> list:
        return [st.bufs["z"]]


@register
class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-free AdamW: Adam's normalised gradient, averaged iterates instead of a schedule.

    The gradient is taken at y, an interpolation (weight β₁) between the base iterate z,
    which takes plain steps z ← z − η·ĝ with ĝ = g/(√v̂ + ε) (+ λy), and x, the running
    average of the z's weighted by η_max² (so steps taken at a higher rate count more). The
    model is evaluated at x. The average does what a decaying schedule does, without fixing the
    run's length in advance; warmup_steps adds a linear warmup. β₁ plays momentum's part (no
    first moment is kept). Defazio et al., "The Road Less Scheduled" (NeurIPS 2024). Reference
    package schedulefree 1.4.1 (AdamWScheduleFree).
    """

    name = "schedulefree-adamw"
    summary = "Schedule-free AdamW: trains at y, evaluates at the average x; no schedule"
    source = "reference package schedulefree"
    specs = (
        _lr(2.5e-3),
        Hyper("beta1", 0.9, low=0.0, high=1.0, low_open=True, high_open=True,
              help="β₁: where y sits between z (0) and the average x (1), as momentum"),
        _B2,
        _eps(1e-8),
        _weight_decay(help="decay λ: λy added to the normalised gradient"),
        _WARMUP,
        _R,
        _POWER,
    )  # fmt: skip
    equations = (
        "v ← β₂·v + (1 − β₂)·g²,   ĝ = g/(√(v/(1 − β₂ᵗ)) + ε) + λθ\n"
        "c = η_max² / Σ η_max²,   θ ← (1 − c)·θ + c·z + η·(β₁(1 − c) − 1)·ĝ\n"
        "z ← z − η·ĝ,   evaluated at x = θ + (1 − 1/β₁)·(z − θ)"
    )
    reference = (
        "Defazio et al. 2024, The Road Less Scheduled (NeurIPS). Reference package "
        "schedulefree 1.4.1"
    )
    state_doc = StateDoc(
        state=(_STEP, _Z, _EXP_AVG_SQ, _LR_MAX, _WEIGHT_SUM, _CKP1),
        derived=(_alpha("η(1 − β₁(1 − c)) / (√v̂ + ε) per coordinate"),),
        scalars=(_LR, _CKP1),
        summaries=(_ALPHA_SUMMARY, _ABS_Z),
        effective_lr="α = η(1 − β₁(1 − c))/(√v̂ + ε) per coordinate; θ ← (1 − c)θ + cz − "
        "α·g (decay: also − η(1 − β₁(1 − c))λθ). The model is evaluated at the average x.",
    )

    def _buffers(self, st: _KeyState) -> list:
        return [st.bufs["z"], st.buf("exp_avg_sq")]

    def _kernel(
        self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: ScheduleFreeScalars
    ) -> None:
        z, v = bufs
        d, tmp = s
        _ema_sq(v, g, self.beta2, tmp)
        np.divide(v, c.bias_correction2, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(tmp, self.eps, out=tmp)
        np.divide(g, tmp, out=d)
        if self.weight_decay != 0:
            np.multiply(p, self.weight_decay, out=tmp)
            np.add(d, tmp, out=d)
        _move_y_and_z(p, z, d, c, tmp)

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            sc = st.scalars
            den = np.sqrt(st.bufs["exp_avg_sq"] / sc.bias_correction2) + st.hypers["eps"]
            out["effective_lr"] = st.dtype.type(-sc.y_step) / den
        return out


@register
class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-free SGD: SGD steps on z, the model evaluated at their weighted average x.

    The gradient is taken at y = (1 − β)·z + β·x (β the momentum knob); z takes plain SGD
    steps z ← z − η·(g + λy) and x is the running average of the z's weighted by η_max². The
    average replaces the schedule (and momentum's buffer): no run length needs to be known.
    The package's default rate is 1.0 (deep nets); ours is 0.1. Defazio et al., "The Road Less
    Scheduled" (NeurIPS 2024). Reference package schedulefree 1.4.1 (SGDScheduleFree).
    """

    name = "schedulefree-sgd"
    summary = "Schedule-free SGD: SGD steps on z, evaluated at their average x; no schedule"
    source = "reference package schedulefree"
    beta_knob = "momentum"
    specs = (
        _lr(0.1),
        Hyper("momentum", 0.9, low=0.0, high=1.0, low_open=True, high_open=True,
              help="β: where y sits between z (0) and the average x (1)"),
        _weight_decay(help="L2 penalty λ: λy added to the gradient"),
        _WARMUP,
        _R,
        _POWER,
    )  # fmt: skip
    equations = (
        "d = g + λθ,   c = η_max² / Σ η_max²\n"
        "θ ← (1 − c)·θ + c·z + η·(β(1 − c) − 1)·d,   z ← z − η·d\n"
        "evaluated at x = θ + (1 − 1/β)·(z − θ)"
    )
    reference = ScheduleFreeAdamW.reference
    state_doc = StateDoc(
        state=(_STEP, _Z, _LR_MAX, _WEIGHT_SUM, _CKP1),
        derived=(_alpha("η(1 − β(1 − c)), the same for every coordinate"),),
        scalars=(_LR, _CKP1),
        summaries=(_ALPHA_SUMMARY, _ABS_Z),
        effective_lr="α = η(1 − β(1 − c)) for every coordinate; θ ← (1 − c)θ + cz − α·(g + "
        "λθ). The model is evaluated at the average x.",
    )

    def _kernel(
        self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: ScheduleFreeScalars
    ) -> None:
        (z,) = bufs
        d, tmp = s
        if self.weight_decay != 0:
            np.multiply(p, self.weight_decay, out=d)
            np.add(g, d, out=d)
        else:
            d = g
        _move_y_and_z(p, z, d, c, tmp)

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        return _same_alpha(st, want, -st.scalars.y_step)
