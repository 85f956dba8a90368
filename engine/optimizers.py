"""Gradient-based optimizers in pure NumPy, registered by name.

Every optimizer keeps separate state per parameter key (created lazily, matching the array's
dtype and shape) and updates `params: dict[str, ndarray]` in place from `grads` of the same keys:

    opt = create("adam", lr=1e-3)
    opt.step(params, grads)            # lr=... overrides the configured rate for this step

Arithmetic follows torch.optim's single-tensor code paths operation by operation (order of
operations, where eps is added, how bias corrections are applied), so float64 runs match torch
to ~1e-15 per step; Lion follows optax. Knob names are torch's, with `betas` split into `beta1`,
`beta2`.

Speed: elementwise optimizers run one small "kernel" of in-place ufunc calls (`out=` into
preallocated scratch, so nothing is allocated per step). Small arrays go through it whole (a
handful of ufunc calls: Python overhead is what matters there); large contiguous arrays go
through it in cache-sized blocks, so the temporaries stay in cache and p/g/state stream from
memory about once per step. Both paths do the same per-element arithmetic, so the results are
bit-identical however an array is split (which is what lets a run step one flat buffer instead
of per-tensor views: see `Optimizer.elementwise`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from engine.hyper import Hyper, validate_all
from engine.registry import Registered, Registry

__all__ = [
    "Optimizer",
    "create",
    "get",
    "names",
    "register",
    "specs",
    "summary",
    "validate",
]

# Bytes per array per block on the large-array path: 256 KiB (64K float32 / 32K float64
# elements), so a kernel's live blocks (θ, g, 2-3 state arrays, 2-3 scratch) stay in the L2/L3
# caches, while each ufunc call does enough work that its ~1 us call overhead is small.
BLOCK_BYTES = 256 * 1024
# Arrays of at least this many blocks take the blocked path; smaller ones are processed whole
# (fewer Python-level calls, and they fit in cache anyway).
BLOCKED_MIN_BLOCKS = 8

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# -- shared knob specs ---------------------------------------------------------------------


def _lr(default: float) -> Hyper:
    return Hyper(
        "lr", default, low=0.0, low_open=True, log=True, help="learning rate η (step size)"
    )


def _beta(name: str, default: float, help: str) -> Hyper:
    return Hyper(name, default, low=0.0, high=1.0, high_open=True, help=help)


def _eps(default: float, help: str = "ε added to the denominator for stability") -> Hyper:
    return Hyper("eps", default, low=0.0, log=True, help=help)


def _weight_decay(default: float = 0.0, help: str = "L2 penalty λ added to the gradient") -> Hyper:
    return Hyper("weight_decay", default, low=0.0, help=help)


_MAXIMIZE = Hyper("maximize", False, kind="bool", help="ascend the objective instead of descending")
_DECOUPLED = Hyper(
    "decoupled_weight_decay",
    False,
    kind="bool",
    help="decay θ directly (AdamW-style) instead of adding λθ to the gradient",
)
_DECOUPLED_WD = "decoupled: θ ← θ(1 − ηλ) before the update"


#: Attributes `Optimizer._configure` caches knobs under, where not "_" + the knob's name (short
#: names keep the kernels' formulas readable).
_KNOB_ATTRS = {
    "beta1": "_b1",
    "beta2": "_b2",
    "weight_decay": "_wd",
    "initial_accumulator_value": "_init",
    "momentum_decay": "_psi",
    "decoupled_weight_decay": "_decoupled",
    "beta2_decay": "_c",
    "beta1_schedule": "_schedule",
    "beta1_min": "_b1_min",
    "beta1_decay": "_k",
}


# -- in-place building blocks (torch's formulas) -----------------------------------------------


def _lerp(m: np.ndarray, x: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """m ← lerp(m, x, w) in place, with torch's two-sided formula for accuracy.

    torch computes m + w(x − m) for w < 0.5 and x − (x − m)(1 − w) otherwise.
    """
    np.subtract(x, m, out=tmp)
    if w < 0.5:
        tmp *= w
        m += tmp
    else:
        tmp *= 1.0 - w
        np.subtract(x, tmp, out=m)


def _ema_sq(v: np.ndarray, d: np.ndarray, b: float, tmp: np.ndarray) -> None:
    """v ← b·v + (1 − b)·d² in place (torch: v.mul_(b).addcmul_(d, d, value=1 − b))."""
    v *= b
    np.multiply(d, 1.0 - b, out=tmp)
    tmp *= d
    v += tmp


def _grad(p: np.ndarray, g: np.ndarray, wd: float, maximize: bool, out: np.ndarray) -> np.ndarray:
    """The gradient the update uses: ±g (+ wd·p for L2 weight decay); g itself is never written."""
    if wd != 0.0:
        np.multiply(p, wd, out=out)
        if maximize:
            np.subtract(out, g, out=out)  # −g + wd·p
        else:
            out += g
        return out
    if maximize:
        np.negative(g, out=out)
        return out
    return g


def _decayed_grad(
    p: np.ndarray, g: np.ndarray, decay: float | None, wd: float, maximize: bool, out: np.ndarray
) -> np.ndarray:
    """The gradient an AdamW-style update uses: with `decay` (decoupled weight decay) first
    θ ← decay·θ and then ±g; without it, `_grad` with L2 decay wd."""
    if decay is not None:
        p *= decay
        return _grad(p, g, 0.0, maximize, out)
    return _grad(p, g, wd, maximize, out)


def _describe(a: object) -> str:
    """'float64[3, 2]' for an array, the type name otherwise (for error messages)."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype}{list(a.shape)}"
    return type(a).__name__


# -- per-key state -----------------------------------------------------------------------------


class _KeyState:
    """State of one parameter key: step count, state arrays, scratch, scalar bookkeeping."""

    __slots__ = ("bufs", "dtype", "extra", "scratch", "shape", "t")

    def __init__(self, p: np.ndarray) -> None:
        self.t = 0
        self.shape = p.shape
        self.dtype = p.dtype
        self.bufs: dict[str, np.ndarray] = {}
        self.scratch: tuple[np.ndarray, ...] | None = None
        self.extra: dict[str, Any] = {}

    def buf(self, name: str, fill: float = 0.0) -> np.ndarray:
        """The state array `name`, created (filled with `fill`) the first time it is needed."""
        arr = self.bufs.get(name)
        if arr is None:
            arr = self.bufs[name] = np.full(self.shape, fill, dtype=self.dtype)
        return arr


# -- base class --------------------------------------------------------------------------------


class Optimizer(Registered):
    """Base class: per-key lazy state, validated knobs, whole-array or blocked kernels.

    Subclasses declare `name`, `summary`, `hypers`, `equations`, `reference` (`_configure`
    caches the knobs as attributes, e.g. `self._b1` for beta1) and implement `_buffers(st)`
    (the key's state arrays), `_kernel(p, g, bufs, s, c)` (the in-place elementwise update on
    arrays or blocks of them, using scratch arrays `s`) and, when the kernel needs more than
    the rate, `_prepare(st, lr)` (advance the key's step count and return the per-step
    scalars `c`). Non-elementwise optimizers override `_step_key` instead.
    """

    elementwise: ClassVar[bool] = True
    equations: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    n_scratch: ClassVar[int] = 2

    kind = "optimizer"

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)  # validated values in self.hypers
        self.steps = 0
        self._state: dict[str, _KeyState] = {}
        self._block_scratch: dict[np.dtype, tuple[np.ndarray, ...]] = {}
        self._configure()

    @property
    def lr(self) -> float:
        """The configured learning rate (what `step` uses when no `lr` is given)."""
        return self.hypers["lr"]

    def set_hypers(self, **changes: Any) -> None:
        """Validate and apply new knob values, keeping the state (e.g. edits while paused)."""
        given = validate_all(f"optimizer {self.name}", self.specs, changes, partial=True)
        merged = {**self.hypers, **given}
        type(self).check(merged)
        self.hypers = merged
        self._configure()

    def reset(self) -> None:
        """Drop all state: the next step is step 1 again for every key."""
        self._state.clear()
        self.steps = 0

    def state(self, key: str) -> dict[str, Any]:
        """One key's state: step count, state arrays (live: do not write) and scalars."""
        st = self._state[key]
        return {"step": st.t, **st.bufs, **st.extra}

    # -- stepping -------------------------------------------------------------------------

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
    ) -> None:
        """Update every array in `params` in place from `grads` of the same keys.

        `lr` overrides the configured learning rate for this step only (schedules use it).
        """
        if lr is None:
            lr = self._lr
        else:
            given = lr
            try:
                lr = float(lr)
            except (TypeError, ValueError):
                lr = math.nan
            if not 0.0 <= lr < math.inf:  # also rejects NaN
                raise ValueError(f"lr must be a number in [0, inf), got {given!r}")
        states = self._state
        for key, p in params.items():
            try:
                g = grads[key]
            except KeyError:
                raise ValueError(f"grads has no entry for parameter {key!r}") from None
            st = states.get(key)
            if st is None:
                self._check_new(key, p)
            if getattr(g, "shape", None) != p.shape or g.dtype != p.dtype:
                raise ValueError(
                    f"grads[{key!r}] is {_describe(g)} but params[{key!r}] is {_describe(p)}"
                )
            if st is None:
                st = states[key] = _KeyState(p)
            elif st.shape != p.shape or st.dtype != p.dtype:
                raise ValueError(
                    f"params[{key!r}] is {_describe(p)} but its optimizer state is "
                    f"{st.dtype}{list(st.shape)}; reset() the optimizer first"
                )
            self._step_key(p, g, st, lr)
        self.steps += 1

    def _check_new(self, key: str, p: np.ndarray) -> None:
        if not isinstance(p, np.ndarray) or p.dtype not in _FLOAT_DTYPES:
            raise ValueError(f"params[{key!r}] must be a float32 or float64 numpy array")
        if not p.flags.writeable:
            raise ValueError(f"params[{key!r}] is read-only; the update is in place")

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        c = self._prepare(st, lr)
        bufs = self._buffers(st)
        if (
            p.nbytes >= BLOCKED_MIN_BLOCKS * BLOCK_BYTES
            and p.flags.c_contiguous
            and g.flags.c_contiguous
        ):
            self._blocked(p, g, bufs, c)
            return
        s = st.scratch
        if s is None:
            s = st.scratch = tuple(np.empty(p.shape, p.dtype) for _ in range(self.n_scratch))
        self._kernel(p, g, bufs, s, c)

    def _blocked(self, p: np.ndarray, g: np.ndarray, bufs: list, c: tuple) -> None:
        """Run the kernel over cache-sized blocks of flat views (no copies, no allocation)."""
        n = p.size
        block = BLOCK_BYTES // p.itemsize
        full = self._block_scratch.get(p.dtype)
        if full is None or len(full[0]) != block:
            full = self._block_scratch[p.dtype] = tuple(
                np.empty(block, p.dtype) for _ in range(self.n_scratch)
            )
        pf = p.reshape(-1)
        gf = g.reshape(-1)
        bf = [None if b is None else b.reshape(-1) for b in bufs]
        kernel = self._kernel
        for i in range(0, n, block):
            j = i + block
            if j >= n:
                j = n
                s = tuple(x[: n - i] for x in full)
            else:
                s = full
            kernel(pf[i:j], gf[i:j], [None if b is None else b[i:j] for b in bf], s, c)

    # -- what subclasses provide ------------------------------------------------------------

    def _configure(self) -> None:
        """Cache every knob as an attribute for the kernels (`_KNOB_ATTRS` names it, else
        "_" + the knob's name); called on creation and after set_hypers."""
        for knob, value in self.hypers.items():
            setattr(self, _KNOB_ATTRS.get(knob, "_" + knob), value)
        self._lr = float(self.hypers["lr"])

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        """Advance the key's step count; return the scalars its kernel needs this step
        (by default just the rate)."""
        st.t += 1
        return (lr,)

    def _buffers(self, st: _KeyState) -> list:
        """The key's state arrays the kernel uses under the current knobs (lazily created)."""
        raise NotImplementedError

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.hypers.items())
        return f"<optimizer {self.name}: {knobs}>"


_REGISTRY: Registry[type[Optimizer]] = Registry("optimizer")
register = _REGISTRY.register
names = _REGISTRY.names
specs = _REGISTRY.specs
summary = _REGISTRY.summary
validate = _REGISTRY.validate


def create(name: str, /, **hypers: Any) -> Optimizer:
    """A new optimizer `name` with validated knobs (defaults filled in)."""
    return _REGISTRY.create(name, **hypers)


def get(name: str) -> type[Optimizer]:
    """The optimizer class registered as `name` (ValueError listing the names otherwise)."""
    return _REGISTRY.get(name)


# -- SGD family -----------------------------------------------------------------------------------


def _sgd_hypers(momentum: float, nesterov: bool, momentum_help: str) -> tuple[Hyper, ...]:
    """torch.optim.SGD's knobs; the three SGD entries differ only in two defaults."""
    return (
        _lr(1e-3),
        Hyper("momentum", momentum, low=0.0, high=1.0, high_open=True, help=momentum_help),
        Hyper("dampening", 0.0, low=0.0, high=1.0, help="fraction of the gradient held back"),
        _weight_decay(),
        Hyper("nesterov", nesterov, kind="bool", help="Nesterov momentum (look-ahead gradient)"),
        _MAXIMIZE,
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
    specs = _sgd_hypers(0.0, False, "momentum μ (0 = plain gradient descent)")
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

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        # torch starts the momentum buffer as a copy of the first gradient it sees.
        fresh = self._momentum != 0.0 and "momentum_buffer" not in st.bufs
        return (lr, fresh)

    def _buffers(self, st: _KeyState) -> list:
        if self._momentum != 0.0:
            return [st.buf("momentum_buffer")]
        return [None]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        lr, fresh = c
        d = _grad(p, g, self._wd, self._maximize, s[0])
        mu = self._momentum
        if mu != 0.0:
            buf = bufs[0]
            if fresh:
                np.copyto(buf, d)
            else:
                buf *= mu
                if self._dampening != 0.0:
                    np.multiply(d, 1.0 - self._dampening, out=s[1])
                    buf += s[1]
                else:
                    buf += d
            if self._nesterov:
                np.multiply(buf, mu, out=s[1])
                np.add(d, s[1], out=s[1])
                d = s[1]
            else:
                d = buf
        np.multiply(d, -lr, out=s[1])
        p += s[1]


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
    specs = _sgd_hypers(0.9, False, "momentum μ")
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
    specs = _sgd_hypers(0.9, True, "momentum μ (must be > 0)")
    equations = "g ← ∇f(θ) + λθ\nb ← μ·b + g                (b₁ = g)\nθ ← θ − η·(g + μ·b)"
    reference = (
        "Nesterov 1983; Sutskever et al. 2013, On the importance of initialization and "
        "momentum in deep learning. torch.optim.SGD(momentum=0.9, nesterov=True)"
    )


# -- Adagrad, RMSprop, Adadelta -------------------------------------------------------------------


@register
class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps shrinking with the accumulated squared gradient.

    s ← s + g², θ ← θ − η_t·g/(√s + ε) with η_t = η/(1 + (t − 1)·lr_decay) and s starting at
    `initial_accumulator_value`. Coordinates with large past gradients take small steps and
    rare ones large steps; the accumulated sum only grows, so steps shrink monotonically.
    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization" (JMLR 2011). torch.optim.Adagrad.
    """

    name = "adagrad"
    summary = "Adagrad: steps scaled by 1/√(sum of past squared gradients)"
    specs = (
        _lr(1e-2),
        Hyper("lr_decay", 0.0, low=0.0, help="η_t = η / (1 + (t − 1)·lr_decay)"),
        _weight_decay(),
        Hyper("initial_accumulator_value", 0.0, low=0.0, help="starting value of the sum s"),
        _eps(1e-10),
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "s ← s + g²                 (s₀ = initial_accumulator_value)\n"
        "η_t = η / (1 + (t − 1)·lr_decay)\n"
        "θ ← θ − η_t·g / (√s + ε)"
    )
    reference = (
        "Duchi, Hazan & Singer 2011, Adaptive Subgradient Methods for Online Learning and "
        "Stochastic Optimization (JMLR). torch.optim.Adagrad"
    )

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        return (-(lr / (1 + (st.t - 1) * self._lr_decay)),)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("sum", self._init)]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        (neg_clr,) = c
        acc = bufs[0]
        d = _grad(p, g, self._wd, self._maximize, s[0])
        np.multiply(d, d, out=s[1])
        acc += s[1]
        np.sqrt(acc, out=s[1])
        np.add(s[1], self._eps, out=s[1])
        np.multiply(d, neg_clr, out=s[0])  # d is dead after this read
        np.divide(s[0], s[1], out=s[0])
        p += s[0]


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

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("square_avg"),
            st.buf("grad_avg") if self._centered else None,
            st.buf("momentum_buffer") if self._momentum > 0 else None,
        ]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        (lr,) = c
        sq, gavg, buf = bufs
        alpha = self._alpha
        d = _grad(p, g, self._wd, self._maximize, s[0])
        _ema_sq(sq, d, alpha, s[1])
        avg = s[1]
        if self._centered:
            _lerp(gavg, d, 1.0 - alpha, s[2])
            np.multiply(gavg, gavg, out=avg)
            np.subtract(sq, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(sq, out=avg)
        avg += self._eps
        if self._momentum > 0:
            buf *= self._momentum
            np.divide(d, avg, out=s[2])
            buf += s[2]
            np.multiply(buf, -lr, out=s[2])
            p += s[2]
        else:
            np.multiply(d, -lr, out=s[2])
            np.divide(s[2], avg, out=s[2])
            p += s[2]


@register
class Adadelta(Optimizer):
    """Adadelta: RMSprop whose step size is a running RMS of past updates (units match θ).

    v ← ρv + (1 − ρ)g², Δ = √(u + ε)/√(v + ε)·g, u ← ρu + (1 − ρ)Δ², θ ← θ − η·Δ. The
    numerator gives steps the units of θ, so η = 1 works without tuning. Zeiler, "ADADELTA:
    An Adaptive Learning Rate Method" (arXiv:1212.5701, 2012). torch.optim.Adadelta.
    """

    name = "adadelta"
    summary = "Adadelta: RMS of past updates over RMS of gradients (η = 1 by default)"
    specs = (
        _lr(1.0),
        _beta("rho", 0.9, "decay ρ of both running averages"),
        _eps(1e-6),
        _weight_decay(),
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "v ← ρ·v + (1 − ρ)·g²\n"
        "Δ = √(u + ε) / √(v + ε) · g\n"
        "u ← ρ·u + (1 − ρ)·Δ²\n"
        "θ ← θ − η·Δ"
    )
    reference = (
        "Zeiler 2012, ADADELTA: An Adaptive Learning Rate Method (arXiv:1212.5701). "
        "torch.optim.Adadelta"
    )
    n_scratch = 3

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("square_avg"), st.buf("acc_delta")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        (lr,) = c
        sq, acc = bufs
        rho, eps = self._rho, self._eps
        d = _grad(p, g, self._wd, self._maximize, s[0])
        _ema_sq(sq, d, rho, s[1])
        np.add(sq, eps, out=s[1])
        np.sqrt(s[1], out=s[1])  # std
        np.add(acc, eps, out=s[2])
        np.sqrt(s[2], out=s[2])
        np.divide(s[2], s[1], out=s[2])
        np.multiply(s[2], d, out=s[2])  # delta
        _ema_sq(acc, s[2], rho, s[1])
        np.multiply(s[2], -lr, out=s[1])
        p += s[1]


# -- Adam family ----------------------------------------------------------------------------------


_B1 = _beta("beta1", 0.9, "decay β₁ of the gradient average (momentum)")
_B2 = _beta("beta2", 0.999, "decay β₂ of the squared-gradient average")
_AMSGRAD = Hyper("amsgrad", False, kind="bool", help="divide by the running max of v (AMSGrad)")


@register
class Adam(Optimizer):
    """Adam: momentum on the gradient, scaled per coordinate by a running RMS, bias-corrected.

    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − η/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε);
    the corrections undo the averages' bias toward their zero start. weight_decay adds λθ to
    g (L2, as torch.optim.Adam does); AdamW decouples it. With amsgrad, v is replaced by its
    running maximum (torch's variant: the max of the raw v, divided by √(1 − β₂ᵗ)). Kingma &
    Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015). torch.optim.Adam.
    """

    name = "adam"
    summary = "Adam: momentum + per-coordinate RMS scaling, bias-corrected"
    specs = (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        _AMSGRAD,
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "m ← β₁·m + (1 − β₁)·g\n"
        "v ← β₂·v + (1 − β₂)·g²        (amsgrad: v̄ ← max(v̄, v), used for v)\n"
        "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR). torch.optim.Adam"
    )
    decoupled: ClassVar[bool] = False
    # Knobs AdaptiveAdam does not declare: off.
    _amsgrad = False
    _maximize = False

    def _beta1(self, st: _KeyState) -> tuple[float, float]:
        """(β₁ used this step, 1 − product of the β₁ used so far); st.t already advanced."""
        return self._b1, 1 - self._b1**st.t

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        t = st.t
        b1, bias_correction1 = self._beta1(st)
        bias_correction2 = 1 - self._b2**t
        step_size = lr / bias_correction1
        decay = 1 - lr * self._wd if self.decoupled and self._wd != 0 else None
        return (1 - b1, -step_size, bias_correction2**0.5, decay)

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("exp_avg"),
            st.buf("exp_avg_sq"),
            st.buf("max_exp_avg_sq") if self._amsgrad else None,
        ]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        w1, neg_step, bc2_sqrt, decay = c
        m, v, vmax = bufs
        d = _decayed_grad(p, g, decay, self._wd, self._maximize, s[0])
        _lerp(m, d, w1, s[1])
        _ema_sq(v, d, self._b2, s[1])
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = s[1]
        np.sqrt(v, out=denom)
        denom /= bc2_sqrt
        denom += self._eps
        np.multiply(m, neg_step, out=s[0])  # d is dead after the v update
        np.divide(s[0], denom, out=s[0])
        p += s[0]


@register
class AMSGrad(Adam):
    """AMSGrad: Adam that divides by the running maximum of v, so steps never grow back.

    Same as Adam with v̄ ← max(v̄, v) in place of v. This is torch's variant (the max of the
    raw second moment, divided by √(1 − β₂ᵗ)), not the paper's bias-uncorrected form. Reddi,
    Kale & Kumar, "On the Convergence of Adam and Beyond" (ICLR 2018).
    torch.optim.Adam(amsgrad=True).
    """

    name = "amsgrad"
    summary = "AMSGrad: Adam normalised by the running max of v"
    specs = (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        Hyper("amsgrad", True, kind="bool", help="divide by the running max of v (AMSGrad)"),
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ\n"
        "m ← β₁·m + (1 − β₁)·g\n"
        "v ← β₂·v + (1 − β₂)·g²,   v̄ ← max(v̄, v)\n"
        "θ ← θ − η/(1 − β₁ᵗ) · m / (√v̄/√(1 − β₂ᵗ) + ε)"
    )
    reference = (
        "Reddi, Kale & Kumar 2018, On the Convergence of Adam and Beyond (ICLR); torch's "
        "bias-corrected variant. torch.optim.Adam(amsgrad=True)"
    )


@register
class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay θ ← θ(1 − ηλ), default λ = 0.01.

    The decay shrinks θ directly instead of entering g, so it is not rescaled by Adam's
    per-coordinate normaliser (with L2 in g, heavily-updated weights are barely regularised).
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019).
    torch.optim.AdamW.
    """

    name = "adamw"
    summary = "AdamW: Adam with decoupled weight decay θ ← θ(1 − ηλ)"
    specs = (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(1e-2, "decoupled decay λ: θ ← θ(1 − ηλ) each step"),
        _AMSGRAD,
        _MAXIMIZE,
    )
    equations = (
        "θ ← θ·(1 − η·λ)\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization (ICLR). torch.optim.AdamW"
    )
    decoupled = True


@register
class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum schedule.

    μ_t = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay, Π_t = μ₁⋯μ_t; m and v as in Adam;
    θ ← θ − η(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε) − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε)
    with v̂ = v/(1 − β₂ᵗ): the step mixes the current gradient and the momentum one step ahead.
    decoupled_weight_decay applies θ ← θ(1 − ηλ) (NAdamW) instead of adding λθ to g. Dozat,
    "Incorporating Nesterov Momentum into Adam" (ICLR 2016 workshop). torch.optim.NAdam.
    """

    name = "nadam"
    summary = "NAdam: Adam with Nesterov look-ahead momentum"
    specs = (
        _lr(2e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        Hyper("momentum_decay", 4e-3, low=0.0, help="ψ in μ_t = β₁(1 − ½·0.96^(tψ))"),
        _DECOUPLED,
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ            (" + _DECOUPLED_WD + ")\n"
        "μ_t = β₁·(1 − ½·0.96^(t·ψ)),   Π_t = μ₁·μ₂⋯μ_t\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·(1 − μ_t)/(1 − Π_t) · g/(√v̂ + ε)\n"
        "      − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/(√v̂ + ε)"
    )
    reference = (
        "Dozat 2016, Incorporating Nesterov Momentum into Adam (ICLR workshop). torch.optim.NAdam"
    )
    n_scratch = 3

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        t = st.t
        b1 = self._b1
        bias_correction2 = 1 - self._b2**t
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * self._psi)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * self._psi)))
        mu_product = st.extra.get("mu_product", 1.0) * mu
        st.extra["mu_product"] = mu_product
        mu_product_next = mu_product * mu_next
        c_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
        c_avg = (-lr * mu_next) / (1.0 - mu_product_next)
        decay = 1 - lr * self._wd if self._decoupled and self._wd != 0 else None
        return (bias_correction2, c_grad, c_avg, decay)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        bias_correction2, c_grad, c_avg, decay = c
        m, v = bufs
        d = _decayed_grad(p, g, decay, self._wd, self._maximize, s[0])
        _lerp(m, d, 1 - self._b1, s[1])
        _ema_sq(v, d, self._b2, s[1])
        denom = s[1]
        np.divide(v, bias_correction2, out=denom)
        np.sqrt(denom, out=denom)
        denom += self._eps
        np.multiply(d, c_grad, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]
        np.multiply(m, c_avg, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]


@register
class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is switched on and scaled by a variance rectifier.

    m, v as in Adam; ρ_∞ = 2/(1 − β₂) − 1, ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ). While ρ_t ≤ 5 the
    variance of the adaptive rate is intractable and the step is SGD with momentum,
    θ ← θ − η·m̂; after that θ ← θ − η·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε) with
    r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)). This replaces a hand-tuned
    warmup. Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond" (ICLR 2020).
    torch.optim.RAdam (decoupled_weight_decay gives RAdamW).
    """

    name = "radam"
    summary = "RAdam: Adam with a variance-rectified (warmup-free) adaptive step"
    specs = (
        _lr(1e-3),
        _B1,
        _B2,
        _eps(1e-8),
        _weight_decay(),
        _DECOUPLED,
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ            (" + _DECOUPLED_WD + ")\n"
        "m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   m̂ = m / (1 − β₁ᵗ)\n"
        "ρ_∞ = 2/(1 − β₂) − 1,   ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)\n"
        "ρ_t > 5:  r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))\n"
        "          θ ← θ − η·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε)\n"
        "else:     θ ← θ − η·m̂"
    )
    reference = (
        "Liu et al. 2020, On the Variance of the Adaptive Learning Rate and Beyond (ICLR). "
        "torch.optim.RAdam"
    )
    n_scratch = 3

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        t = st.t
        b2 = self._b2
        bias_correction1 = 1 - self._b1**t
        bias_correction2 = 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        decay = 1 - lr * self._wd if self._decoupled and self._wd != 0 else None
        return (lr, bias_correction1, bias_correction2**0.5, rect, decay)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        lr, bias_correction1, bc2_sqrt, rect, decay = c
        m, v = bufs
        d = _decayed_grad(p, g, decay, self._wd, self._maximize, s[0])
        _lerp(m, d, 1 - self._b1, s[1])
        _ema_sq(v, d, self._b2, s[1])
        upd = s[2]
        np.divide(m, bias_correction1, out=upd)
        upd *= lr
        if rect is not None:
            np.sqrt(v, out=s[1])
            np.add(s[1], self._eps, out=s[1])
            np.divide(bc2_sqrt, s[1], out=s[1])
            upd *= s[1]
            upd *= rect
        p -= upd


@register
class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm: divide by a decaying max of |g| instead of an RMS.

    m ← β₁m + (1 − β₁)g, u ← max(β₂u, |g| + ε), θ ← θ − η/(1 − β₁ᵗ) · m/u. The max needs no
    bias correction and is less sensitive to rare huge gradients than v. torch adds ε to |g|
    inside the max (not to the denominator). Kingma & Ba, "Adam: A Method for Stochastic
    Optimization" (ICLR 2015), section 7.1. torch.optim.Adamax.
    """

    name = "adamax"
    summary = "Adamax: Adam with a decaying max of |g| (infinity norm)"
    specs = (
        _lr(2e-3),
        _B1,
        _beta("beta2", 0.999, "decay β₂ of the running max of |g|"),
        _eps(1e-8, "ε added to |g| inside the max"),
        _weight_decay(),
        _MAXIMIZE,
    )
    equations = (
        "g ← ∇f(θ) + λθ\nm ← β₁·m + (1 − β₁)·g\nu ← max(β₂·u, |g| + ε)\nθ ← θ − η/(1 − β₁ᵗ) · m / u"
    )
    reference = (
        "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (ICLR), section 7.1. "
        "torch.optim.Adamax"
    )

    def _prepare(self, st: _KeyState, lr: float) -> tuple:
        st.t += 1
        bias_correction = 1 - self._b1**st.t
        return (-(lr / bias_correction),)

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_inf")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        (neg_clr,) = c
        m, u = bufs
        d = _grad(p, g, self._wd, self._maximize, s[0])
        _lerp(m, d, 1 - self._b1, s[1])
        u *= self._b2
        np.abs(d, out=s[1])
        np.add(s[1], self._eps, out=s[1])
        np.maximum(u, s[1], out=u)
        np.multiply(m, neg_clr, out=s[1])
        np.divide(s[1], u, out=s[1])
        p += s[1]


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

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        st.t += 1
        t = float(st.t)
        eps1 = self._eps1 if self._eps1 is not None else float(np.finfo(p.dtype).eps)
        n = p.size
        w = t**self._c  # 1 − β₂_t
        rho_t = min(lr, 1 / (t**0.5))
        alpha = max(self._eps2, _norm(p) / (n**0.5)) * rho_t
        if self._wd != 0:
            p *= 1 - lr * self._wd

        s = st.scratch
        if s is None:
            s = st.scratch = tuple(np.empty(p.shape, p.dtype) for _ in range(3))
        d = _grad(p, g, 0.0, self._maximize, s[0])
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
        else:
            var = st.buf("variance")
            np.multiply(d, d, out=upd)
            _lerp(var, upd, w, s[2])
            np.copyto(upd, var)
        np.maximum(upd, eps1 * eps1, out=upd)
        np.sqrt(upd, out=upd)
        np.divide(1.0, upd, out=upd)
        upd *= d
        denom = max(1.0, _norm(upd) / ((n**0.5) * self._d))
        upd *= -alpha / denom
        p += upd

    def _prepare(self, st: _KeyState, lr: float) -> tuple:  # pragma: no cover - not used
        raise NotImplementedError

    def _buffers(self, st: _KeyState) -> list:  # pragma: no cover - not used
        raise NotImplementedError


def _norm(x: np.ndarray) -> float:
    """Euclidean norm as a Python float, accumulated in float64 as torch does on CPU.

    (float32 BLAS dot accumulates in float32: ~1e-5 relative error at 1e7 elements.)
    """
    flat = x.reshape(-1)
    if flat.dtype == np.float64:
        return math.sqrt(float(np.dot(flat, flat)))
    return math.sqrt(float(np.einsum("i,i->", flat, flat, dtype=np.float64)))


# -- Lion, adaptive Adam --------------------------------------------------------------------


@register
class Lion(Optimizer):
    """Lion: the sign of an interpolated momentum, with decoupled weight decay (optax.lion).

    c = sign(β₁m + (1 − β₁)g), θ ← θ − η(c + λθ), then m ← β₂m + (1 − β₂)g. Every coordinate
    moves by ±η, so the update norm is large: the paper recommends a learning rate 3-10× smaller
    than AdamW's, hence our default η = 1e-4 (optax has no default; 1e-4 is AdamW's usual 1e-3
    divided by 10), and β₁ = 0.9, β₂ = 0.99, λ = 1e-3 are optax's defaults. Chen et al.,
    "Symbolic Discovery of Optimization Algorithms" (NeurIPS 2023).
    """

    name = "lion"
    summary = "Lion: θ ← θ − η·sign(β₁m + (1 − β₁)g), a sign-momentum method"
    specs = (
        _lr(1e-4),
        _beta("beta1", 0.9, "interpolation β₁ between momentum and gradient in the sign"),
        _beta("beta2", 0.99, "decay β₂ of the stored momentum"),
        _weight_decay(1e-3, "decoupled decay λ: θ ← θ − η·λθ each step"),
    )
    equations = "c = sign(β₁·m + (1 − β₁)·g)\nθ ← θ − η·(c + λ·θ)\nm ← β₂·m + (1 − β₂)·g"
    reference = (
        "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (NeurIPS). optax.lion"
    )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: tuple) -> None:
        (lr,) = c
        (m,) = bufs
        b1, b2 = self._b1, self._b2
        upd, tmp = s
        np.multiply(g, 1.0 - b1, out=upd)
        np.multiply(m, b1, out=tmp)
        tmp += upd
        # Out of place: numpy's in-place sign is ~10x slower on mixed-sign data.
        np.sign(tmp, out=upd)
        if self._wd != 0.0:
            np.multiply(p, self._wd, out=tmp)
            upd += tmp
        upd *= lr
        p -= upd  # optax: θ + (−η·u)
        m *= b2
        np.multiply(g, 1.0 - b2, out=tmp)
        m += tmp


@register
class AdaptiveAdam(Adam):
    """Adam whose β₁ follows a schedule, with a bias correction that stays right when it moves.

    β₁,t is constant, decays as β_min + (β₁ − β_min)/(1 + k(t − 1)), or cycles as
    β_min + (β₁ − β_min)(1 + cos(2π(t − 1)/P))/2. With varying β₁ the first moment's weights sum
    to 1 − Π β₁,i, not 1 − β₁ᵗ, so m̂ = m/(1 − Π_{i≤t} β₁,i) (the same device as NAdam's μ
    product); with a constant schedule this is exactly Adam. β₁ stays in [β_min, β₁] ⊂ [0, 1),
    so it reaches 0 only if beta1_min = 0 is asked for. Adam: Kingma & Ba (ICLR 2015); cyclic
    momentum: Smith, "A disciplined approach to neural network hyper-parameters: Part 1"
    (arXiv:1803.09820, 2018); product bias correction: Dozat (2016).
    """

    name = "adaptive-adam"
    summary = "Adam with a scheduled β₁ (constant / decay / cyclic) and exact bias correction"
    specs = (
        _lr(1e-3),
        _beta("beta1", 0.9, "starting (and largest) β₁"),
        _B2,
        _eps(1e-8),
        _weight_decay(),
        Hyper(
            "beta1_schedule",
            "constant",
            kind="choice",
            choices=("constant", "decay", "cyclic"),
            help="how β₁ moves over steps",
        ),
        _beta("beta1_min", 0.5, "lowest β₁ the decay/cyclic schedules reach"),
        Hyper("beta1_decay", 1e-3, low=0.0, log=True, help="k in the decay schedule"),
        Hyper("period", 1000, kind="int", low=2, help="steps per cycle of the cyclic schedule"),
    )
    equations = (
        "constant: β₁,t = β₁\n"
        "decay:    β₁,t = β_min + (β₁ − β_min) / (1 + k·(t − 1))\n"
        "cyclic:   β₁,t = β_min + (β₁ − β_min)·(1 + cos(2π(t − 1)/P)) / 2\n"
        "m ← β₁,t·m + (1 − β₁,t)·g,   v ← β₂·v + (1 − β₂)·g²\n"
        "m̂ = m / (1 − Π_{i≤t} β₁,i),   v̂ = v / (1 − β₂ᵗ)\n"
        "θ ← θ − η·m̂ / (√v̂ + ε)"
    )
    reference = (
        "Kingma & Ba 2015 (Adam) with a β₁ schedule (Smith 2018, cyclic momentum) and the "
        "product bias correction of Dozat 2016. No torch/optax twin"
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        if values["beta1_schedule"] != "constant" and values["beta1_min"] > values["beta1"]:
            raise ValueError(
                f"beta1_min must be at most beta1 ({values['beta1']:g}) for the "
                f"{values['beta1_schedule']} schedule, got {values['beta1_min']:g}"
            )

    def beta1_at(self, t: int) -> float:
        """β₁ used by the t-th update (t counts from 1)."""
        b1, lo = self._b1, self._b1_min
        if self._schedule == "decay":
            return lo + (b1 - lo) / (1 + self._k * (t - 1))
        if self._schedule == "cyclic":
            return lo + (b1 - lo) * (1 + math.cos(2 * math.pi * (t - 1) / self._period)) / 2
        return b1

    def _beta1(self, st: _KeyState) -> tuple[float, float]:
        # Π β₁,i kept as head·last^run: a run of equal betas is one power, so the constant
        # schedule gives 1 − β₁ᵗ bit for bit (Adam's correction), and a changing β₁ is still
        # multiplied in exactly once per step.
        b = self.beta1_at(st.t)
        ex = st.extra
        if ex.get("beta1_last") == b:
            ex["beta1_run"] += 1
        else:
            ex["beta1_head"] = ex.get("beta1_head", 1.0) * ex.get("beta1_last", 1.0) ** ex.get(
                "beta1_run", 0
            )
            ex["beta1_last"] = b
            ex["beta1_run"] = 1
        product = ex["beta1_head"] * b ** ex["beta1_run"]
        return b, 1 - product
