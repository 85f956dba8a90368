"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    v ← α·v + (1 − α)·g²       (centered: ḡ ← α·ḡ + (1 − α)·g, v̂ = v − ḡ²; else v̂ = v)
    θ ← θ − η·g / (√v̂ + ε)     (momentum: b ← μ·b + g/(√v̂ + ε), θ ← θ − η·b)

Tieleman & Hinton 2012, Coursera lecture 6.5; centered: Graves 2013, Generating Sequences
With Recurrent Neural Networks. torch.optim.RMSprop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ABS_B,
    _LR,
    _MAXIMIZE,
    _RMS_SUMMARY,
    _STEP,
    Optimizer,
    StepRate,
    _alpha,
    _alpha_of_rms,
    _alpha_via,
    _Arr,
    _Arrays,
    _beta,
    _ema_sq,
    _eps,
    _flavour,
    _flavour_grad,
    _grad,
    _KeyState,
    _lerp,
    _lr,
    _Want,
    _wants,
    _weight_decay,
    register,
)


@register
class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    v ← αv + (1 − α)g²; centered also tracks ḡ ← αḡ + (1 − α)g and uses v − ḡ² (a variance);
    then θ ← θ − ηg/(√v + ε), or with momentum μ: b ← μb + g/(√v + ε), θ ← θ − ηb. Unlike
    Adagrad the average forgets, so steps do not shrink forever. Tieleman & Hinton, Coursera
    "Neural Networks for Machine Learning" lecture 6.5 (2012); centered form from Graves,
    "Generating Sequences With Recurrent Neural Networks" (2013). torch.optim.RMSprop.
    """

    name = "rmsprop"
    summary = "RMSprop: steps scaled by 1/√(running mean of g²)"
    specs = (
        _lr(1e-2),
        _beta("alpha", 0.99, "smoothing constant α of the squared-gradient average"),
        _eps(1e-8),
        _weight_decay(),
        Hyper("momentum", 0.0, low=0.0, high=1.0, high_open=True, help="momentum μ"),
        Hyper("centered", False, kind="bool", help="normalise by the variance, not the 2nd moment"),
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "v ← α·v + (1 − α)·g²\n"
        "centered: ḡ ← α·ḡ + (1 − α)·g,  v̂ = v − ḡ²  (else v̂ = v)\n"
        "θ ← θ − η·g / (√v̂ + ε)\n"
        "momentum: b ← μ·b + g/(√v̂ + ε),  θ ← θ − η·b"
    )
    reference = (
        "Tieleman & Hinton 2012, Coursera lecture 6.5; centered: Graves 2013, Generating "
        "Sequences With Recurrent Neural Networks. torch.optim.RMSprop"
    )
    n_scratch = 3

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("square_avg", "v", "running mean of g² (decay α)"),
            Quantity("grad_avg", "ḡ", "running mean of g (decay α)", "centered"),
            Quantity("momentum_buffer", "b", "momentum buffer of scaled gradients", "momentum"),
        ),
        derived=(
            Quantity("rms", "√v̂", "√v, or √(v − ḡ²) when centered: the divisor before ε"),
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(_LR,),
        summaries=(
            _alpha_via("rms"),
            _RMS_SUMMARY,
            _ABS_B,
        ),
        effective_lr="α = η / (√v̂ + ε) per coordinate (v̂ = v, or v − ḡ² when centered); "
        "θ ← θ − α·g. With momentum μ the scaled gradient enters the buffer, "
        "b ← μ·b + g/(√v̂ + ε), and θ ← θ − η·b = θ − η·μ·b_{t−1} − α·g.",
    )

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "v ← (1 − α)·g² + α·v            (centered: ḡ ← (1 − α)·g + α·ḡ, v̂ = v − ḡ²)\n"
            "u = η·g / √(v̂ + ε)               (ε inside the root)\n"
            "b ← μ·b + u,  θ ← θ − b           (η inside the momentum buffer)"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "v ← α·v + (1 − α)·g²            (centered: ḡ ← α·ḡ + (1 − α)·g, v̂ = v − ḡ²)\n"
            "u = η·g / √(v̂ + ε)               (ε inside the root; Keras' default ρ = 0.9)\n"
            "b ← μ·b + u,  θ ← θ − b           (η inside the momentum buffer)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.RMSprop",
        "optax": "optax.rmsprop",
        "keras": "keras.optimizers.RMSprop",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.rmsprop (scale_by_rms / scale_by_stddev, then −η, then optax.trace) or
        Keras 3's RMSprop: ε inside the root, η inside the momentum buffer."""
        d = _flavour_grad(p, g, self.weight_decay, self.maximize)
        a, eps, mu, lr = self.alpha, self.eps, self.momentum, c.lr
        sq = st.buf("square_avg")
        if self.flavour == "optax":
            # inject_hyperparams holds the decay, ε and μ in the parameters' dtype
            a, eps, mu = p.dtype.type(a), p.dtype.type(eps), p.dtype.type(mu)
            sq[...] = (1 - a) * (d * d) + a * sq
            den = sq
            if self.centered:
                ga = st.buf("grad_avg")
                ga[...] = (1 - a) * d + a * ga
                den = sq - ga * ga
            step = -lr * (1 / np.sqrt(den + eps) * d)  # optax: rsqrt(v + ε)·g, then −η·u
            if mu > 0:
                buf = st.buf("momentum_buffer")
                buf[...] = step + mu * buf
                step = buf
            p += step
            return
        sq[...] = a * sq + (1 - a) * (d * d)
        den = sq + eps
        if self.centered:
            ga = st.buf("grad_avg")
            ga[...] = a * ga + (1 - a) * d
            den = sq - ga * ga + eps
        increment = (lr * d) / np.sqrt(den)
        if mu > 0:
            buf = st.buf("momentum_buffer")
            buf[...] = mu * buf + increment
            increment = buf
        p -= increment

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("square_avg"),
            st.buf("grad_avg") if self.centered else None,
            st.buf("momentum_buffer") if self.momentum > 0 else None,
        ]

    compiled_step = compiled.rmsprop_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: StepRate) -> None:
        lr = c.lr
        sq, gavg, buf = bufs
        alpha = self.alpha
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        _ema_sq(sq, d, alpha, s[1])
        avg = s[1]
        if self.centered:
            _lerp(gavg, d, 1.0 - alpha, s[2])
            np.multiply(gavg, gavg, out=avg)
            np.subtract(sq, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(sq, out=avg)
        avg += self.eps
        if self.momentum > 0:
            buf *= self.momentum
            np.divide(d, avg, out=s[2])
            buf += s[2]
            np.multiply(buf, -lr, out=s[2])
            p += s[2]
        else:
            np.multiply(d, -lr, out=s[2])
            np.divide(s[2], avg, out=s[2])
            p += s[2]

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x + st.hypers["eps"])  # α of √v̂, as _derive does

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if not (_wants(want, "rms") or _wants(want, "effective_lr")):
            return out
        sq = st.bufs["square_avg"]
        gavg = st.bufs.get("grad_avg")
        if st.hypers["centered"] and gavg is not None:
            rms = np.multiply(gavg, gavg)
            np.subtract(sq, rms, out=rms)
            np.sqrt(rms, out=rms)
        else:
            rms = np.sqrt(sq)
        if _wants(want, "rms"):
            out["rms"] = rms
        if _wants(want, "effective_lr"):
            out["effective_lr"] = _alpha_of_rms(st, rms)
        return out
