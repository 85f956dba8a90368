"""Muon: momentum orthogonalised by a Newton–Schulz iteration, for 2-D parameters.

    B ← lerp(B, g, 1 − μ),   U = lerp(g, B, μ) (nesterov) or B
    O = NS₅(U) ≈ U·(UᵀU)^(−1/2) in bfloat16,   θ ← θ·(1 − ηλ) − η·√max(1, A/B)·O
    other parameters (vectors, scalars, 3-D): AdamW with its own rate and decay

Jordan et al. 2024, Muon: An optimizer for hidden layers in neural networks (blog post,
kellerjordan.github.io/posts/muon); Liu et al. 2025, Muon is Scalable for LLM Training
(arXiv:2502.16982). torch.optim.Muon (torch 2.13), AdamW fallback as its docs advise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.adam import AdamW
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _STEP,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _beta,
    _eps,
    _KeyState,
    _lerp,
    _lr,
    _magnitude,
    _scalars,
    _Want,
    _wants,
    _weight_decay,
    register,
)

# torch 2.13's constants (Keller Jordan's quintic): a, b, c and the norm's floor.
NS_A, NS_B, NS_C = 3.4445, -4.7750, 2.0315
NS_EPS = 1e-7


class MuonScalars(NamedTuple):
    """Per-step scalars of a Muon-stepped (2-D) key."""

    lr: float  # η of this step
    adjusted_lr: float  # η·√max(1, A/B) (original) or 0.2·η·√max(A, B) (match_rms_adamw)


def bfloat16(x: np.ndarray) -> np.ndarray:
    """`x` rounded to bfloat16 (8-bit significand, round half to even), as float32: what
    torch's `.bfloat16()` gives (a float64 is rounded to float32 first, as torch does) and how
    torch rounds each float32 result of bfloat16 arithmetic."""
    x = np.asarray(x, np.float32).astype(np.float64)
    m, e = np.frexp(x)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ldexp(np.rint(m * 256.0), e - 8).astype(np.float32)


def _matmul32(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p @ q of bfloat16 values as float32: the products are exact, the sum is taken in
    float64 and rounded once (torch's float32 accumulation rounds the same on small sizes)."""
    return (p.astype(np.float64) @ q.astype(np.float64)).astype(np.float32)


def _addmm32(m: np.ndarray, p: np.ndarray, q: np.ndarray, beta: float, alpha: float) -> np.ndarray:
    """torch.addmm(m, p, q, beta=beta, alpha=alpha) on bfloat16 values, before the final
    rounding: s = float32(alpha·(p @ q)), then beta·m + s fused (one rounding to float32)."""
    s = (np.float32(alpha) * _matmul32(p, q)).astype(np.float64)
    return (float(np.float32(beta)) * m.astype(np.float64) + s).astype(np.float32)


def newton_schulz(
    u: np.ndarray, a: float, b: float, c: float, steps: int, eps: float
) -> np.ndarray:
    """torch's `_zeropower_via_newtonschulz`: X = U/‖U‖_F in bfloat16, then `steps` times
    A = XXᵀ, X ← aX + (bA + cA²)X (on the wide orientation), as float32 values of bfloat16.

    Each torch bfloat16 op is emulated as float32 arithmetic rounded to bfloat16: equal to
    torch's CPU result bit for bit on small matrices (up to ~8×8, the fixtures'); on larger ones
    torch's blocked float32 sums round some elements to the neighbouring bfloat16 value."""
    f32 = np.float32
    x = bfloat16(u)
    wide = u.shape[0] > u.shape[1]
    if wide:
        x = x.T
    x64 = x.astype(np.float64)
    norm = math.sqrt(float(np.sum(x64 * x64)))
    x = bfloat16(x / bfloat16(f32(max(norm, eps))))
    for _ in range(steps):
        gram = bfloat16(_matmul32(x, x.T))
        upd = bfloat16(_addmm32(gram, gram, gram, b, c))
        x = bfloat16(_addmm32(x, upd, x, a, 1.0))
    return x.T if wide else x


@register
class Muon(Optimizer):
    """Muon: momentum whose update matrix is orthogonalised (all singular values ≈ 1).

    For a 2-D parameter of shape A×B: B_m ← lerp(B_m, g, 1 − μ), U = lerp(g, B_m, μ) with
    Nesterov (else U = B_m), O = NS(U) five Newton–Schulz steps in bfloat16 with torch's
    coefficients (3.4445, −4.7750, 2.0315), θ ← θ(1 − ηλ) − η·√max(1, A/B)·O. Every direction
    of the matrix moves by about the same amount, whatever the gradient's scale. torch.optim.Muon
    accepts only 2-D parameters and its docs advise AdamW for the rest, which is what this does:
    every other parameter (biases, scalars, the 2-D landscapes' single (x, y) vector, 3-D
    kernels) takes AdamW with `adamw_lr` (scaled by the schedule as η is) and `adamw_*` knobs.
    Per task: the MLPs' W1/W2 (and the RNN's Wx, Wh, Wy) are Muon, their biases AdamW; linear
    regression's w, sparse-logistic's w and every landscape and quadratic are all AdamW. Jordan
    et al., "Muon: An optimizer for hidden layers in neural networks" (2024); Liu et al.,
    "Muon is Scalable for LLM Training" (2025). torch.optim.Muon (torch 2.13).
    """

    name = "muon"
    summary = "Muon: Newton–Schulz orthogonalised momentum on matrices, AdamW on the rest"
    source = "torch twin"
    elementwise = False  # the orthogonalisation couples a matrix's elements
    specs = (
        _lr(1e-3),
        _weight_decay(0.1, "decoupled decay λ of the matrices: θ ← θ(1 − ηλ)"),
        Hyper("momentum", 0.95, low=0.0, high=1.0, high_open=True, help="momentum μ"),
        Hyper("nesterov", True, kind="bool", help="orthogonalise lerp(g, B, μ) instead of B"),
        Hyper("ns_a", NS_A, help="Newton–Schulz coefficient a"),
        Hyper("ns_b", NS_B, help="Newton–Schulz coefficient b"),
        Hyper("ns_c", NS_C, help="Newton–Schulz coefficient c"),
        _eps(NS_EPS, "floor of the Frobenius norm U is divided by"),
        Hyper("ns_steps", 5, kind="int", low=0, high=99, help="Newton–Schulz iterations"),
        Hyper(
            "adjust_lr_fn",
            "original",
            kind="choice",
            choices=("original", "match_rms_adamw"),
            help="rate per shape: η√max(1, A/B) (original) or 0.2η√max(A, B)",
        ),
        Hyper("adamw_lr", 3e-4, low=0.0, low_open=True, log=True,
              help="AdamW rate of the non-matrix parameters (scaled by the schedule)"),
        _beta("adamw_beta1", 0.9, "AdamW β₁ of the non-matrix parameters"),
        _beta("adamw_beta2", 0.999, "AdamW β₂ of the non-matrix parameters"),
        Hyper("adamw_eps", 1e-8, low=0.0, log=True, help="AdamW ε of the non-matrix parameters"),
        Hyper("adamw_weight_decay", 1e-2, low=0.0,
              help="AdamW decoupled decay of the non-matrix parameters"),
    )  # fmt: skip
    equations = (
        "B ← lerp(B, g, 1 − μ),   U = lerp(g, B, μ) (nesterov) or B\n"
        "O = NS₅(U/‖U‖): X ← aX + (b·XXᵀ + c·(XXᵀ)²)X, in bfloat16\n"
        "θ ← θ·(1 − η·λ) − η·√max(1, A/B)·O      (2-D parameters)\n"
        "other parameters: AdamW with adamw_lr, adamw_beta1/2, adamw_eps, adamw_weight_decay"
    )
    reference = (
        "Jordan et al. 2024, Muon: An optimizer for hidden layers in neural networks; Liu et al. "
        "2025, Muon is Scalable for LLM Training. torch.optim.Muon (+ torch.optim.AdamW)"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("momentum_buffer", "B", "momentum of a matrix: lerp(B, g, 1 − μ)"),
            Quantity("exp_avg", "m", "AdamW first moment (non-matrix parameters)"),
            Quantity("exp_avg_sq", "v", "AdamW second moment (non-matrix parameters)"),
        ),
        derived=(_alpha("η·√max(1, A/B) for a matrix, AdamW's η/(√v̂ + ε) otherwise"),),
        scalars=(_LR,),
        summaries=(_ALPHA_SUMMARY, _magnitude("b", "B", "the momentum buffer", "momentum_buffer")),
        effective_lr="α = η·√max(1, A/B) for an A×B matrix (the same for every element); "
        "θ ← θ(1 − ηλ) − α·O with O the orthogonalised momentum. Other parameters: AdamW's "
        "α = η_AdamW/(√v̂ + ε), θ ← θ − α·m̂.",
    )

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self._fallback = AdamW(**self._fallback_knobs())

    def _fallback_knobs(self) -> dict[str, Any]:
        return {
            "lr": self.adamw_lr,
            "beta1": self.adamw_beta1,
            "beta2": self.adamw_beta2,
            "eps": self.adamw_eps,
            "weight_decay": self.adamw_weight_decay,
        }

    def set_hypers(self, **changes: Any) -> None:
        super().set_hypers(**changes)
        self._fallback.set_hypers(**self._fallback_knobs())

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        if p.ndim != 2:
            # The schedule scales the AdamW rate as it scales η.
            self._fallback._step_key(p, g, st, self.adamw_lr * (lr / self.lr))
            st.hypers = self.hypers
            return
        st.t += 1
        rows, cols = p.shape
        if self.adjust_lr_fn == "match_rms_adamw":
            adjusted = lr * (0.2 * math.sqrt(max(rows, cols)))
        else:
            adjusted = lr * math.sqrt(max(1, rows / cols))
        st.scalars = _scalars(MuonScalars, (lr, adjusted))
        st.hypers = self.hypers
        buf = st.buf("momentum_buffer")
        tmp = np.empty_like(p)
        _lerp(buf, g, 1 - self.momentum, tmp)
        if self.nesterov:
            u = g.copy()
            _lerp(u, buf, self.momentum, tmp)
        else:
            u = buf
        o = newton_schulz(u, self.ns_a, self.ns_b, self.ns_c, self.ns_steps, self.eps)
        np.multiply(p, 1 - lr * self.weight_decay, out=p)
        np.multiply(o.astype(p.dtype), -adjusted, out=tmp)
        np.add(p, tmp, out=p)

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0  # decoupled on both paths

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        if not _wants(want, "effective_lr"):
            return {}
        if isinstance(st.scalars, MuonScalars):
            return {"effective_lr": np.full(st.shape, st.scalars.adjusted_lr, st.dtype)}
        sc = st.scalars  # the fallback's AdamScalars: α = η/(√v̂ + ε) as AdamW computes it
        den = np.sqrt(st.bufs["exp_avg_sq"]) / sc.bias_correction2_sqrt + st.hypers["adamw_eps"]
        return {"effective_lr": np.divide(sc.lr, den)}
