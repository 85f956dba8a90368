"""Adafactor: a factored second moment, relative step sizes and update clipping.

    1 − β₂_t = t^c,   ρ_t = min(η, 1/√t),   α_t = max(ε₂, RMS(θ))·ρ_t
    matrix: R ← lerp(R, mean_j g², 1 − β₂_t),  C ← lerp(C, mean_i g², 1 − β₂_t),
            v̂ = R·Cᵀ / max(mean(R), ε₁);   vector: v̂ = v ← lerp(v, g², 1 − β₂_t)
    u = g / √max(v̂, ε₁²),   θ ← θ(1 − ηλ) − α_t · u / max(1, RMS(u)/d)

Not elementwise (RMS(θ), RMS(u) and the factors couple elements): it steps each key itself,
a large vector in two blocked passes with float64 norms. Shazeer & Stern 2018, Adafactor:
Adaptive Learning Rates with Sublinear Memory Cost (ICML). torch.optim.Adafactor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _LR,
    _MAXIMIZE,
    _RMS_SUMMARY,
    _STEP,
    Optimizer,
    _aligned_empty,
    _alpha,
    _alpha_via,
    _Arr,
    _Arrays,
    _block_size,
    _grad,
    _KeyState,
    _lerp,
    _lr,
    _takes_blocks,
    _Want,
    _wants,
    _weight_decay,
    register,
)


class AdafactorScalars(NamedTuple):
    """Per-step scalars of Adafactor (alpha and clip are per parameter)."""

    lr: float  # η of this step
    one_minus_beta2_t: float  # 1 − β₂,t = t^beta2_decay (the factors' lerp weight)
    rho: float  # ρ_t = min(η, 1/√t), the relative step size
    alpha: float  # α_t = max(ε₂, RMS(θ))·ρ_t
    clip: float  # max(1, RMS(u)/d), the update clipping divisor
    eps1: float  # ε₁ used (the dtype's machine epsilon for "auto")


@register
class Adafactor(Optimizer):
    """Adafactor: Adam-like scaling with a factored second moment and relative step sizes.

    For a matrix (ndim ≥ 2, factored over the last two axes) it keeps row and column means of
    g², R ← lerp(R, mean_col(g²), 1 − β₂_t), C ← lerp(C, mean_row(g²), 1 − β₂_t), and
    estimates v̂ = R·Cᵀ / max(mean(R), ε₁) (memory O(rows + cols)); vectors and scalars keep a
    full v. With 1 − β₂_t = t^beta2_decay, ρ_t = min(η, 1/√t), α_t = max(ε₂, RMS(θ))·ρ_t,
    u = g/√max(v̂, ε₁²), the step is θ ← θ − α_t·u/max(1, RMS(u)/d) (update clipping at d);
    weight_decay is decoupled, θ ← θ(1 − ηλ). No first moment, as in torch. Shazeer & Stern,
    "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost" (ICML 2018).
    torch.optim.Adafactor.
    """

    name = "adafactor"
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.Adafactor",
        "optax": "optax.adafactor (Shazeer & Stern's, not torch's: another rule)",
        "keras": "keras.optimizers.Adafactor (Shazeer & Stern's, not torch's)",
    }
    summary = "Adafactor: factored second moment, relative step size, update clipping"
    specs = (
        _lr(1e-2),
        Hyper("beta2_decay", -0.8, high=0.0, help="1 − β₂_t = t^beta2_decay"),
        Hyper(
            "eps1",
            None,
            low=0.0,
            log=True,
            aliases={"auto": None},
            help="floor ε₁ of v̂ (auto: the dtype's machine epsilon)",
        ),
        Hyper("eps2", 1e-3, low=0.0, log=True, help="floor ε₂ of the relative step RMS(θ)"),
        Hyper("d", 1.0, low=1.0, help="update clipping threshold on RMS(u)"),
        _weight_decay(0.0, "decoupled decay λ: θ ← θ(1 − ηλ) each step"),
        _MAXIMIZE,
    )
    equations = (
        "1 − β₂_t = t^c (c = beta2_decay),   ρ_t = min(η, 1/√t),   α_t = max(ε₂, RMS(θ))·ρ_t\n"
        "θ ← θ·(1 − η·λ)\n"
        "matrix: R ← lerp(R, mean_j g², 1 − β₂_t),  C ← lerp(C, mean_i g², 1 − β₂_t)\n"
        "        v̂ = R·Cᵀ / max(mean(R), ε₁)\n"
        "vector: v̂ = v ← lerp(v, g², 1 − β₂_t)\n"
        "u = g / √max(v̂, ε₁²),   θ ← θ − α_t · u / max(1, RMS(u)/d)"
    )
    reference = (
        "Shazeer & Stern 2018, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost "
        "(ICML). torch.optim.Adafactor"
    )
    elementwise = False  # RMS(θ), RMS(u) and the row/column factors couple elements

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("row_var", "R", "row means of g², decayed (matrices: shape [..., rows, 1])"),
            Quantity("col_var", "C", "column means of g², decayed (matrices: [..., 1, cols])"),
            Quantity("variance", "v", "running mean of g² (vectors and scalars)"),
        ),
        derived=(
            Quantity("exp_avg_sq_hat", "v̂", "R·C / max(mean(R), ε₁) for matrices, else v"),
            Quantity("rms", "√v̂", "√max(v̂, ε₁²): the gradient RMS the step divides by"),
            _alpha("α_t / (clip·√max(v̂, ε₁²))"),
        ),
        scalars=(
            _LR,
            Quantity("one_minus_beta2_t", "1 − β₂,t", "t^beta2_decay: the factors' lerp weight"),
            Quantity("rho", "ρ_t", "min(η, 1/√t): the relative step size"),
            Quantity("alpha", "α_t", "max(ε₂, RMS(θ))·ρ_t: this parameter's step scale"),
            Quantity("clip", "max(1, RMS(u)/d)", "update clipping divisor of this parameter"),
            Quantity("eps1", "ε₁", "the floor of v̂ used"),
        ),
        summaries=(
            _alpha_via("rms"),
            _RMS_SUMMARY,
        ),
        effective_lr="α = α_t / (max(1, RMS(u)/d)·√max(v̂, ε₁²)) per coordinate; "
        "θ ← θ(1 − ηλ) − α·g. α_t and the clipping divisor are per parameter (they couple its "
        "elements), so α is exact for the step but not an elementwise rule.",
        tracked=("one_minus_beta2_t", "rho"),  # alpha and clip differ per parameter
    )

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        st.t += 1
        t = float(st.t)
        eps1 = self.eps1 if self.eps1 is not None else float(np.finfo(p.dtype).eps)
        n = p.size
        w = t**self.beta2_decay  # 1 − β₂_t
        rho_t = min(lr, 1 / (t**0.5))
        if p.ndim <= 1 and _takes_blocks(p, g):
            alpha, denom = self._vector_blocked(p, g, st, lr, w, rho_t, eps1)
            st.scalars = AdafactorScalars(lr, w, rho_t, alpha, denom, eps1)
            st.hypers = self.hypers
            return
        alpha = max(self.eps2, _norm(p) / (n**0.5)) * rho_t
        if self.weight_decay != 0:
            p *= 1 - lr * self.weight_decay

        s = st.scratch
        if s is None or len(s) != 3:
            s = st.scratch = tuple(_aligned_empty(p.shape, p.dtype) for _ in range(3))
        d = _grad(p, g, 0.0, self.maximize, s[0])
        upd = s[1]
        if p.ndim > 1:
            row_shape = (*p.shape[:-1], 1)
            col_shape = (*p.shape[:-2], 1, p.shape[-1])
            row = st.bufs.get("row_var")
            if row is None:
                row = st.bufs["row_var"] = np.zeros(row_shape, p.dtype)
                st.bufs["col_var"] = np.zeros(col_shape, p.dtype)
            col = st.bufs["col_var"]
            np.multiply(d, d, out=upd)
            # torch: norm(g, dim)².div(size): the square of a square root, kept for parity.
            row_mean = np.sqrt(upd.sum(axis=-1, keepdims=True))
            row_mean *= row_mean
            row_mean /= p.shape[-1]
            col_mean = np.sqrt(upd.sum(axis=-2, keepdims=True))
            col_mean *= col_mean
            col_mean /= p.shape[-2]
            _lerp(row, row_mean, w, np.empty_like(row))
            _lerp(col, col_mean, w, np.empty_like(col))
            np.matmul(row, col, out=upd)
            row_avg = row.mean(axis=-2, keepdims=True)
            np.maximum(row_avg, eps1, out=row_avg)
            upd /= row_avg
            np.maximum(upd, eps1 * eps1, out=upd)
        else:
            var = st.buf("variance")
            np.multiply(d, d, out=upd)
            _lerp(var, upd, w, s[2])
            np.maximum(var, eps1 * eps1, out=upd)  # torch clamps a copy of v
        np.sqrt(upd, out=upd)
        np.divide(1.0, upd, out=upd)
        upd *= d
        denom = max(1.0, _norm(upd) / ((n**0.5) * self.d))
        upd *= -alpha / denom
        p += upd
        st.scalars = AdafactorScalars(lr, w, rho_t, alpha, denom, eps1)
        st.hypers = self.hypers

    def _vector_blocked(
        self,
        p: np.ndarray,
        g: np.ndarray,
        st: _KeyState,
        lr: float,
        w: float,
        rho_t: float,
        eps1: float,
    ) -> tuple[float, float]:
        """The vector step of a large contiguous parameter in two passes over cache-sized
        blocks: (A) v and u = g/√max(v, ε₁²) into a full-size u, (B) θ ← θ(1 − ηλ) − α·u/clip,
        once RMS(u) is known. Returns (α_t, clip).

        The per-element arithmetic is the whole-array path's. float64 norms are the same
        whole-array BLAS dot products; float32 ones are float64 sums of exact float64 squares
        accumulated block by block (the whole-array float64 einsum costs ~0.8 ns per element
        per norm, most of the step's budget): a different summation order, ≲1e-14 relative on
        α_t and the clipping divisor, which changes a float32 step only when the float32
        rounding of the step scale flips."""
        n = p.size
        pf, gf = p.reshape(-1), g.reshape(-1)
        var = st.buf("variance").reshape(-1)
        s = st.scratch
        if s is None or len(s) != 1:
            s = st.scratch = (_aligned_empty(n, p.dtype),)  # u, full size: pass B needs RMS(u)
        u_all = s[0]
        block = _block_size(8, p.itemsize)  # θ, g, v, u and 4 scratch blocks
        scratch = self._block_scratch.get(p.dtype)
        if scratch is None or len(scratch[0]) != block:
            scratch = self._block_scratch[p.dtype] = (
                _aligned_empty(block, p.dtype),  # -g when maximizing
                _aligned_empty(block, p.dtype),  # lerp temporary, then the step
                _aligned_empty(block, p.dtype),  # d², then 1/√max(v, ε₁²)
                _aligned_empty(block, np.float64),  # float32 blocks cast for the norms
            )
        neg, tmp, r, wide = scratch
        exact = p.dtype == np.float64
        maximize = self.maximize
        floor = eps1 * eps1
        dot = np.dot
        p_sq = float(dot(pf, pf)) if exact else 0.0
        u_sq = 0.0
        # Pass A: v ← lerp(v, d², w); u = d / √max(v, ε₁²) into the full-size u.
        for i in range(0, n, block):
            j = min(i + block, n)
            k = j - i
            d = gf[i:j]
            if maximize:
                d = np.negative(d, out=neg[:k])
            vb, rb, u = var[i:j], r[:k], u_all[i:j]
            np.multiply(d, d, out=rb)
            _lerp(vb, rb, w, tmp[:k])
            np.maximum(vb, floor, out=rb)
            np.sqrt(rb, out=rb)
            np.divide(1.0, rb, out=rb)
            np.multiply(rb, d, out=u)
            if not exact:
                p_sq += _sum_sq_wide(pf[i:j], wide)
                u_sq += _sum_sq_wide(u, wide)
        if exact:
            u_sq = float(dot(u_all, u_all))
        alpha = max(self.eps2, math.sqrt(p_sq) / (n**0.5)) * rho_t
        denom = max(1.0, math.sqrt(u_sq) / ((n**0.5) * self.d))
        scale = -alpha / denom
        decay = 1 - lr * self.weight_decay if self.weight_decay != 0 else None
        # Pass B: θ ← θ(1 − ηλ) + scale·u (u is only read: no write-back of it).
        for i in range(0, n, block):
            j = min(i + block, n)
            pb, step = pf[i:j], tmp[: j - i]
            if decay is not None:
                pb *= decay
            np.multiply(u_all[i:j], scale, out=step)
            pb += step
        return alpha, denom

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0  # decoupled: θ(1 − ηλ)

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.alpha / st.scalars.clip, x)  # α of √max(v̂, ε₁²)

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        if not any(_wants(want, k) for k in ("exp_avg_sq_hat", "rms", "effective_lr")):
            return {}
        if "row_var" in b:
            row = b["row_var"]
            v_hat = np.matmul(row, b["col_var"])
            row_avg = row.mean(axis=-2, keepdims=True)
            np.maximum(row_avg, sc.eps1, out=row_avg)
            v_hat /= row_avg
        else:
            v_hat = b["variance"].copy()
        out = {}
        if _wants(want, "rms") or _wants(want, "effective_lr"):
            # out=: a 0-d parameter's maximum would be a NumPy scalar, which sqrt cannot fill.
            rms = np.maximum(v_hat, sc.eps1 * sc.eps1, out=np.empty_like(v_hat))
            np.sqrt(rms, out=rms)
            if _wants(want, "effective_lr"):
                out["effective_lr"] = np.divide(sc.alpha / sc.clip, rms, out=np.empty_like(rms))
            if _wants(want, "rms"):
                out["rms"] = rms
        if _wants(want, "exp_avg_sq_hat"):
            out["exp_avg_sq_hat"] = v_hat
        return out


def _norm(x: np.ndarray) -> float:
    """Euclidean norm as a Python float, accumulated in float64 as torch does on CPU.

    (float32 BLAS dot accumulates in float32: ~1e-5 relative error at 1e7 elements.)
    """
    flat = x.reshape(-1)
    if flat.dtype == np.float64:
        return math.sqrt(float(np.dot(flat, flat)))
    return math.sqrt(float(np.einsum("i,i->", flat, flat, dtype=np.float64)))


# float64 elements per BLAS dot product in `_sum_sq_wide`: OpenBLAS runs longer dot products
# on several threads, which on a shared 2-core machine mostly means waiting for the other core.
_DOT_ROW = 8192


def _sum_sq_wide(x: np.ndarray, wide: np.ndarray) -> float:
    """Σx² of a float32 block accumulated in float64: its squares are exact in float64,
    summed by single-threaded BLAS dot products of _DOT_ROW elements (`wide` is a float64
    scratch block at least as long as `x`)."""
    k = x.size
    w = wide[:k]
    np.copyto(w, x)
    whole = k - k % _DOT_ROW
    total = 0.0
    if whole:
        rows = w[:whole].reshape(-1, _DOT_ROW)
        total = float(np.vecdot(rows, rows).sum())
    if whole < k:
        rest = w[whole:]
        total += float(np.dot(rest, rest))
    return total
