"""SGD, momentum and Nesterov: gradient descent with an optional momentum buffer.

    g ← ∇f(θ) + λθ
    b ← μ·b + (1 − τ)·g        (b₁ = g)
    θ ← θ − η·b                (Nesterov: θ ← θ − η·(g + μ·b); plain: μ = 0, θ ← θ − η·g)

One kernel, three registered defaults (sgd: μ = 0; momentum: μ = 0.9; nesterov: μ = 0.9 with
the look-ahead). Robbins & Monro 1951; Polyak 1964; Nesterov 1983; momentum in the form of
Sutskever et al. 2013 (ICML) that torch.optim.SGD implements.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers import compiled
from engine.optimizers.base import (
    _ABS_B,
    _ALPHA_SUMMARY,
    _LR,
    _MAXIMIZE,
    _STEP,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _flavour,
    _flavour_grad,
    _grad,
    _KeyState,
    _lr,
    _same_alpha,
    _scalars,
    _Want,
    _weight_decay,
    register,
)


class SGDScalars(NamedTuple):
    """Per-step scalars of SGD (with or without momentum)."""

    lr: float  # η of this step
    fresh_buffer: bool  # the momentum buffer starts this step (as a copy of g)


def _sgd_specs(momentum: float, nesterov: bool, momentum_help: str) -> tuple[Hyper, ...]:
    """torch.optim.SGD's knobs; the three SGD entries differ only in two defaults."""
    return (
        _lr(1e-3),
        Hyper("momentum", momentum, low=0.0, high=1.0, high_open=True, help=momentum_help),
        Hyper("dampening", 0.0, low=0.0, high=1.0, help="fraction of the gradient held back"),
        _weight_decay(),
        Hyper("nesterov", nesterov, kind="bool", help="Nesterov momentum (look-ahead gradient)"),
        _MAXIMIZE,
        _flavour("optax", "keras"),
    )


@register
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (torch.optim.SGD).

    With gradient g (plus λθ for weight decay), momentum μ and dampening τ: b ← μb + (1 − τ)g
    (b = g on the first step), then θ ← θ − η·b, or with Nesterov θ ← θ − η(g + μb). Plain
    gradient descent is μ = 0; whether it is stochastic depends on the task's batch size.
    Robbins & Monro, "A Stochastic Approximation Method" (1951); momentum in the form of
    Sutskever et al., "On the importance of initialization and momentum in deep learning"
    (ICML 2013), as torch implements it.
    """

    name = "sgd"
    summary = "Gradient descent: θ ← θ − η·g (momentum, Nesterov and weight decay optional)"
    specs = _sgd_specs(0.0, False, "momentum μ (0 = plain gradient descent)")
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "b ← μ·b + (1 − τ)·g        (b₁ = g)\n"
        "θ ← θ − η·b                (Nesterov: θ ← θ − η·(g + μ·b))"
    )
    reference = (
        "Robbins & Monro 1951, A Stochastic Approximation Method; momentum as in Sutskever et "
        "al. 2013. torch.optim.SGD"
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        if values["nesterov"] and (values["momentum"] <= 0 or values["dampening"] != 0):
            raise ValueError(
                "nesterov requires momentum > 0 and dampening = 0 "
                f"(got momentum={values['momentum']:g}, dampening={values['dampening']:g})"
            )
        flavour = values.get("flavour", "torch")
        if flavour != "torch" and values["dampening"] != 0:
            raise ValueError(
                f"dampening must be 0 with flavour {flavour} (only torch has dampening), "
                f"got {values['dampening']:g}"
            )

    flavour_equations: ClassVar[dict[str, str]] = {
        "optax": (
            "g ← ∇f(θ) + λθ\n"
            "b ← g + μ·b                (b₀ = 0)\n"
            "θ ← θ − η·b                (Nesterov: θ ← θ − η·(g + μ·b))"
        ),
        "keras": (
            "g ← ∇f(θ) + λθ\n"
            "v ← μ·v − η·g              (η inside the velocity)\n"
            "θ ← θ + v                  (Nesterov: θ ← θ + μ·v − η·g)"
        ),
    }
    frameworks: ClassVar[dict[str, str | None]] = {
        "torch": "torch.optim.SGD",
        "optax": "optax.sgd",
        "keras": "keras.optimizers.SGD",
    }

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """optax.sgd (optax.trace, then −η) or Keras 3's SGD (v ← μv − ηg)."""
        d = _flavour_grad(p, g, self.weight_decay, self.maximize)
        mu, lr = self.momentum, c.lr
        if mu == 0.0:
            if self.flavour == "optax":
                p += -lr * d
            else:
                p -= lr * d
            return
        buf = st.buf("momentum_buffer")  # optax: the trace b; keras: the velocity v
        if self.flavour == "optax":
            buf[...] = d + mu * buf
            p += -lr * (d + mu * buf if self.nesterov else buf)
        else:
            buf[...] = mu * buf - lr * d
            if self.nesterov:
                p += mu * buf - lr * d
            else:
                p += buf

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity(
                "momentum_buffer",
                "b",
                "momentum buffer: b ← μb + (1 − τ)g, started as a copy of the first g",
                "momentum",
            ),
        ),
        derived=(_alpha("η, the same for every coordinate"),),
        scalars=(_LR,),
        summaries=(
            _ALPHA_SUMMARY,
            _ABS_B,
        ),
        effective_lr="α = η for every coordinate. Plain: θ ← θ − α·g; with momentum "
        "θ ← θ − α·b (b the momentum buffer); with Nesterov θ ← θ − α·(g + μ·b). g includes "
        "λθ (weight decay) and is negated with maximize.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> SGDScalars:
        st.t += 1
        # torch starts the momentum buffer as a copy of the first gradient it sees.
        fresh = self.momentum != 0.0 and "momentum_buffer" not in st.bufs
        return _scalars(SGDScalars, (lr, fresh))

    def _buffers(self, st: _KeyState) -> list:
        if self.momentum != 0.0:
            return [st.buf("momentum_buffer")]
        return [None]

    compiled_step = compiled.sgd_step

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: SGDScalars) -> None:
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        mu = self.momentum
        if mu != 0.0:
            buf = bufs[0]
            if c.fresh_buffer:
                np.copyto(buf, d)
            else:
                buf *= mu
                if self.dampening != 0.0:
                    np.multiply(d, 1.0 - self.dampening, out=s[1])
                    buf += s[1]
                else:
                    buf += d
            if self.nesterov:
                np.multiply(buf, mu, out=s[1])
                np.add(d, s[1], out=s[1])
                d = s[1]
            else:
                d = buf
        np.multiply(d, -c.lr, out=s[1])
        p += s[1]

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        return _same_alpha(st, want, st.scalars.lr)


@register
class Momentum(SGD):
    """SGD with heavy-ball momentum μ = 0.9 by default (torch.optim.SGD(momentum=0.9)).

    b ← μb + (1 − τ)g (b = g on the first step), θ ← θ − η·b: the velocity accumulates past
    gradients, speeding progress along consistent directions and damping oscillation across
    ravines. Polyak, "Some methods of speeding up the convergence of iteration methods" (1964),
    in the form of Sutskever et al. (ICML 2013) that torch uses: η multiplies the buffer at each
    step, which differs from the "v ← μv − ηg" form once η changes over time.
    """

    name = "momentum"
    summary = "SGD with heavy-ball momentum: b ← μb + g, θ ← θ − η·b"
    specs = _sgd_specs(0.9, False, "momentum μ")
    equations = "g ← ∇f(θ) + λθ\nb ← μ·b + (1 − τ)·g        (b₁ = g)\nθ ← θ − η·b"
    reference = (
        "Polyak 1964, Some methods of speeding up the convergence of iteration methods; "
        "Sutskever et al. 2013. torch.optim.SGD(momentum=0.9)"
    )


@register
class Nesterov(SGD):
    """SGD with Nesterov momentum (torch.optim.SGD(momentum=0.9, nesterov=True)).

    b ← μb + g (b = g on the first step), θ ← θ − η(g + μb): the step uses the gradient plus
    the momentum it is about to apply, a look-ahead that corrects overshooting earlier than
    heavy-ball momentum does. Nesterov, "A method for solving the convex programming problem
    with convergence rate O(1/k²)" (1983), in the form of Sutskever et al. (ICML 2013).
    """

    name = "nesterov"
    summary = "SGD with Nesterov momentum: θ ← θ − η·(g + μ·b)"
    specs = _sgd_specs(0.9, True, "momentum μ (must be > 0)")
    equations = "g ← ∇f(θ) + λθ\nb ← μ·b + g                (b₁ = g)\nθ ← θ − η·(g + μ·b)"
    reference = (
        "Nesterov 1983; Sutskever et al. 2013, On the importance of initialization and "
        "momentum in deep learning. torch.optim.SGD(momentum=0.9, nesterov=True)"
    )
