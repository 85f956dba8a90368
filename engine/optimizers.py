"""Gradient-based optimizers in pure NumPy, registered by name.

Every optimizer keeps separate state per parameter key (created lazily, matching the array's
dtype and shape) and updates `params: dict[str, ndarray]` in place from `grads` of the same keys:

    opt = create("adam", lr=1e-3)
    opt.step(params, grads)            # lr=... overrides the configured rate for this step
    opt.beta1                          # knob values are attributes of the same name

Arithmetic follows torch.optim's single-tensor code paths operation by operation (order of
operations, where eps is added, how bias corrections are applied), so float64 runs match torch
to ~1e-15 per step; Lion follows optax. Knob names are torch's, with `betas` split into `beta1`,
`beta2`.

Inside the optimizer (read-only; reading never changes anything):

    opt.state("w")        # {"step": 3, "exp_avg": <read-only view>, "exp_avg_sq": ...}
    opt.scalars("w")      # AdamScalars(lr=..., beta1=..., bias_correction1=..., ...)
    opt.derived("w", g, p_before)  # {"exp_avg_hat": m̂, "exp_avg_sq_hat": v̂, "effective_lr": α}
    type(opt).state_doc   # StateDoc: what each key means, how α is defined (help, list)

State keys are torch's `optimizer.state[p]` keys. Each optimizer's per-step scalars are its
own NamedTuple (`AdamScalars`, ...), computed once per step and kept per key, so the bias
corrections, β₁,t, μ_t or ρ_t of the last step can be read back. See engine.optimizer_state
for the declarations and for reading a whole run per parameter by name.

Speed: elementwise optimizers run one small "kernel" of in-place ufunc calls (`out=` into
preallocated scratch, so nothing is allocated per step). Small arrays go through it whole (a
handful of ufunc calls: Python overhead is what matters there); large contiguous arrays go
through it in cache-sized blocks, so the temporaries stay in cache and p/g/state stream from
memory about once per step. Both paths do the same per-element arithmetic, so the results are
bit-identical however an array is split (which is what lets a run step one flat buffer instead
of per-tensor views: see `Optimizer.elementwise`). Each rounded operation of torch's formula is
one pass, so a large-array step costs its DRAM traffic plus about one L2-speed pass per
operation (Adam: 13). State and scratch arrays start on a cache line; a division by a bias
correction that has become exactly 1 in the array's dtype is skipped (same numbers). Adafactor
steps a large vector in two blocked passes (v and u, then θ) with float64 norms.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper, validate_all
from engine.optimizer_state import Quantity, StateDoc, Summary, read_only
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

# Bytes per array per block on the large-array path for a kernel that touches up to 5 arrays
# (θ, g, a state array, two scratch): 256 KiB (64K float32 / 32K float64 elements). Kernels
# touching more arrays take proportionally smaller blocks (`_block_size`: 213 KiB for Adam's 6),
# so the live blocks (1.25 MiB together) stay in a 2 MiB L2 cache, while each ufunc call does
# enough work that its ~0.3 us call overhead is small.
BLOCK_BYTES = 256 * 1024
# Arrays of at least this many blocks take the blocked path; smaller ones are processed whole
# (fewer Python-level calls, and they fit in cache anyway).
BLOCKED_MIN_BLOCKS = 8

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# State and scratch arrays start on a cache-line boundary (numpy's own large arrays start 16
# bytes into a page): vector loads and stores then never straddle two lines.
_ALIGN = 64


def _aligned_empty(shape: tuple[int, ...] | int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes].view(dtype).reshape(shape)


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


# -- shared state declarations (see engine.optimizer_state) ------------------------------------

_STEP = Quantity("step", "t", "updates applied to this parameter so far")
_LR = Quantity("lr", "η", "the rate of this step (the schedule's value)")


def _alpha(formula: str) -> Quantity:
    return Quantity("effective_lr", "α", f"effective learning rate {formula}")


def _summary(
    key: str, symbol: str, help: str, source: str, op: str = "", knob: str = ""
) -> Summary:
    return Summary(key, symbol, help, knob, source, op)


_ALPHA_SUMMARY = _summary(
    "effective_lr", "α", "effective learning rate (see effective_lr)", "effective_lr"
)
_RMS_SUMMARY = _summary("rms", "√v̂", "the gradient RMS the step divides by (see rms)", "rms")


def _alpha_via(via: str) -> Summary:
    """The effective lr summarised as a non-increasing function of summary `via` (the
    optimizer's `_summary_map`): its quantiles come from `via`'s, at no extra cost."""
    return Summary(
        "effective_lr",
        "α",
        "effective learning rate (see effective_lr)",
        via=via,
        decreasing=True,
    )


# Signature parts of `Optimizer._derive`.
_Want = set[str] | None
_Arr = np.ndarray | None
_Arrays = dict[str, np.ndarray]


def _wants(want: _Want, key: str) -> bool:
    return want is None or key in want


#: Builds a per-step NamedTuple from a tuple of its fields in order: NamedTuple's own
#: `__new__` is a Python function, ~0.3 us a step more on small arrays.
_scalars = tuple.__new__


class StepRate(NamedTuple):
    """Per-step scalars of the optimizers whose kernel needs only the rate."""

    lr: float  # η of this step


# -- in-place building blocks (torch's formulas) -----------------------------------------------


# The hot kernels call ufuncs with a positional `out` rather than through in-place operators
# (`a *= b`): the same loop, ~50-80 ns less call overhead, which adds up on small arrays.
_add, _subtract, _multiply = np.add, np.subtract, np.multiply


def _lerp(m: np.ndarray, x: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """m ← lerp(m, x, w) in place, with torch's two-sided formula for accuracy.

    torch computes m + w(x − m) for w < 0.5 and x − (x − m)(1 − w) otherwise.
    """
    _subtract(x, m, tmp)
    if w < 0.5:
        _multiply(tmp, w, tmp)
        _add(m, tmp, m)
    else:
        _multiply(tmp, 1.0 - w, tmp)
        _subtract(x, tmp, m)


def _ema_sq(v: np.ndarray, d: np.ndarray, b: float, tmp: np.ndarray) -> None:
    """v ← b·v + (1 − b)·d² in place (torch: v.mul_(b).addcmul_(d, d, value=1 − b))."""
    _multiply(v, b, v)
    _multiply(d, 1.0 - b, tmp)
    _multiply(tmp, d, tmp)
    _add(v, tmp, v)


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


def _block_size(arrays: int, itemsize: int) -> int:
    """Elements per block for a kernel touching `arrays` arrays of `itemsize`-byte elements."""
    return max(1, BLOCK_BYTES * 5 // max(5, arrays) // itemsize)


def _is_one(x: float, a: np.ndarray) -> bool:
    """Whether `x` is exactly 1 as `a`'s dtype rounds it, so `a / x` is `a` itself. Bias
    corrections 1 − βᵗ get there after a few thousand steps (float32 sooner): their pass over
    the array is then skipped, with the same numbers."""
    return x == 1.0 or (x > 0.999 and a.dtype.type(x) == 1.0)


def _describe(a: object) -> str:
    """'float64[3, 2]' for an array, the type name otherwise (for error messages)."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype}{list(a.shape)}"
    return type(a).__name__


# -- per-key state -----------------------------------------------------------------------------


class _KeyState:
    """State of one parameter key: step count, state arrays, scratch, scalar bookkeeping,
    and what its last step used (the per-step scalars and the knob values)."""

    __slots__ = ("bufs", "dtype", "extra", "hypers", "scalars", "scratch", "shape", "t")

    def __init__(self, p: np.ndarray) -> None:
        self.t = 0
        self.shape = p.shape
        self.dtype = p.dtype
        self.bufs: dict[str, np.ndarray] = {}
        self.scratch: tuple[np.ndarray, ...] | None = None
        self.extra: dict[str, Any] = {}
        self.scalars: Any = None  # the optimizer's NamedTuple of the last step
        self.hypers: Mapping[str, Any] = {}  # the knob values of the last step

    def buf(self, name: str, fill: float = 0.0) -> np.ndarray:
        """The state array `name`, created (filled with `fill`) the first time it is needed."""
        arr = self.bufs.get(name)
        if arr is None:
            arr = self.bufs[name] = _aligned_empty(self.shape, self.dtype)
            arr.fill(fill)
        return arr


# -- base class --------------------------------------------------------------------------------


class Optimizer(Registered):
    """Base class: per-key lazy state, validated knobs, whole-array or blocked kernels.

    Subclasses declare `name`, `summary`, `specs`, `equations`, `reference` and `state_doc`
    (what the state means: see engine.optimizer_state.StateDoc). Knob values are attributes
    of the knob's name (`self.beta1`, `self.weight_decay`; `self.lr` is the configured rate,
    what `step` uses when no `lr` is given). Elementwise optimizers implement `_buffers(st)`
    (the key's state arrays), `_kernel(p, g, bufs, s, c)` (the in-place elementwise update on
    arrays or blocks of them, using scratch arrays `s`) and, when the kernel needs more than
    the rate, `_prepare(st, lr)` (advance the key's step count and return the step's scalars
    `c` as the optimizer's own NamedTuple). Non-elementwise optimizers override `_step_key`
    instead. For inspection they implement `_derive` (m̂, v̂, effective_lr from the state).
    """

    elementwise: ClassVar[bool] = True
    equations: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    state_doc: ClassVar[StateDoc] = StateDoc()
    n_scratch: ClassVar[int] = 2

    kind = "optimizer"
    knob_attributes = True

    lr: float  # every optimizer has the knob; set as an attribute like the others

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)  # validated values in self.hypers and as attributes
        self.steps = 0
        self._state: dict[str, _KeyState] = {}
        self._block_scratch: dict[np.dtype, tuple[np.ndarray, ...]] = {}

    def set_hypers(self, **changes: Any) -> None:
        """Validate and apply new knob values, keeping the state (e.g. edits while paused)."""
        given = validate_all(f"optimizer {self.name}", self.specs, changes, partial=True)
        merged = {**self.hypers, **given}
        type(self).check(merged)
        self.hypers = merged
        for knob, value in merged.items():
            setattr(self, knob, value)

    def reset(self) -> None:
        """Drop all state: the next step is step 1 again for every key."""
        self._state.clear()
        self.steps = 0

    # -- reading the state (never creates, writes or advances anything) ----------------------

    def keys(self) -> list[str]:
        """The parameter keys that have state (stepped at least once)."""
        return list(self._state)

    def has_state(self, key: str) -> bool:
        """Whether `key` has been stepped (has state) yet."""
        return key in self._state

    def state(self, key: str) -> dict[str, Any]:
        """One key's state: "step" (updates applied to it), its state arrays under torch's
        key names as read-only views of the live arrays (they change with the next step),
        and named scalar state such as NAdam's "mu_product". KeyError for an unknown key."""
        st = self._state[key]
        out: dict[str, Any] = {"step": st.t}
        for name, arr in st.bufs.items():
            out[name] = read_only(arr)
        out.update(self._state_scalars(st))
        return out

    def scalars(self, key: str) -> Any:
        """The per-step scalars of `key`'s last step (the optimizer's NamedTuple: lr, bias
        corrections, β₁,t, μ_t, ρ_t ...), or None before its first step."""
        return self._state[key].scalars

    def knobs_used(self, key: str) -> Mapping[str, Any]:
        """The knob values `key`'s last step used (edits since apply from the next step)."""
        return self._state[key].hypers

    def derived(
        self, key: str, grad: np.ndarray | None = None, prev: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-element quantities of `key`'s last step, fresh read-only arrays of its shape:
        "effective_lr" and the optimizer's own (m̂, v̂, ... see `state_doc.derived`).

        `grad` is the gradient that step received and `prev` the parameters before it; they
        are needed only where a quantity involves the gradient the update used (Adadelta's
        effective_lr, NAdam's m̄, with L2 weight decay g + λθ); without them those quantities
        are left out. Empty before the key's first step."""
        st = self._state[key]
        if st.scalars is None:
            return {}
        with np.errstate(all="ignore"):
            # asarray: arithmetic on a 0-d parameter's arrays gives NumPy scalars.
            out = {k: np.asarray(v) for k, v in self._derive(st, None, grad, prev).items()}
        for arr in out.values():
            arr.flags.writeable = False
        return out

    def summary_arrays(
        self,
        key: str,
        summaries: Sequence[Summary],
        grad: np.ndarray | None = None,
        prev: np.ndarray | None = None,
    ) -> dict[str, np.ndarray | None]:
        """For each summary, a fresh array of `op(source)` over the whole key (the caller
        may reorder it in place), or None where its source is not kept under the knobs of
        the last step (e.g. a momentum buffer with momentum 0)."""
        st = self._state[key]
        if st.scalars is None:
            return {}
        h = st.hypers
        with np.errstate(all="ignore"):
            derived = self._derive(st, {q.source for q in summaries}, grad, prev)
            out: dict[str, np.ndarray | None] = {}
            handed: set[int] = set()
            for q in summaries:
                src = derived.get(q.source)
                own = src is not None  # a derived array: fresh, ours to hand out once
                if src is None:
                    src = st.bufs.get(q.source)
                if src is None or not q.applies(h):
                    out[q.key] = None
                    continue
                if q.op == "abs":
                    arr = np.abs(src)
                elif q.op == "sqrt":
                    arr = np.sqrt(src)
                elif own and id(src) not in handed:
                    arr = src
                else:
                    arr = src.copy()
                handed.add(id(arr))
                out[q.key] = arr
        return out

    def summary_map(self, key: str, summary: str, x: np.ndarray) -> np.ndarray:
        """Summary `summary` (declared with `via`) of values `x` (an array) of its `via`
        summary, as the elementwise arithmetic of `key`'s last step computes it (in the
        state's dtype), as float64. Like that arithmetic it may divide by zero (inf): call it
        under np.errstate to silence the warning."""
        st = self._state[key]
        return self._summary_map(summary, st, x.astype(st.dtype)).astype(np.float64)

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name} declares no summary map for {summary!r}")

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        """Named scalar state beyond the step count (torch's, e.g. NAdam's mu_product)."""
        return {}

    def _derive(
        self,
        st: _KeyState,
        want: set[str] | None,
        grad: np.ndarray | None,
        prev: np.ndarray | None,
    ) -> dict[str, np.ndarray]:
        """Fresh derived arrays of the key's last step (all, or those in `want`)."""
        return {}

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        """The weight decay added to the gradient (0 where it is decoupled)."""
        return float(knobs.get("weight_decay", 0.0))

    def _used_grad(
        self, st: _KeyState, grad: np.ndarray | None, prev: np.ndarray | None
    ) -> np.ndarray | None:
        """The gradient the last update used: ±g (+ λθ_{t−1} for L2 decay), computed as the
        kernel computes it; None when `grad` (or, with L2 decay, `prev`) is missing."""
        if grad is None:
            return None
        maximize = bool(st.hypers.get("maximize", False))
        wd = self._l2_decay(st.hypers)
        if wd != 0.0:
            if prev is None:
                return None
            d = np.multiply(prev, wd)
            if maximize:
                np.subtract(d, grad, out=d)
            else:
                d += grad
            return d
        return np.negative(grad) if maximize else grad

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
            lr = self.lr
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
        st.scalars = c
        st.hypers = self.hypers
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
            s = st.scratch = tuple(_aligned_empty(p.shape, p.dtype) for _ in range(self.n_scratch))
        self._kernel(p, g, bufs, s, c)

    def _blocked(self, p: np.ndarray, g: np.ndarray, bufs: list, c: Any) -> None:
        """Run the kernel over cache-sized blocks of flat views (no copies, no allocation)."""
        n = p.size
        arrays = 2 + sum(b is not None for b in bufs) + self.n_scratch
        block = _block_size(arrays, p.itemsize)
        full = self._block_scratch.get(p.dtype)
        if full is None or len(full[0]) != block:
            full = self._block_scratch[p.dtype] = tuple(
                _aligned_empty(block, p.dtype) for _ in range(self.n_scratch)
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

    def _prepare(self, st: _KeyState, lr: float) -> Any:
        """Advance the key's step count; return the scalars its kernel needs this step
        (by default just the rate)."""
        st.t += 1
        return _scalars(StepRate, (lr,))

    def _buffers(self, st: _KeyState) -> list:
        """The key's state arrays the kernel uses under the current knobs (lazily created)."""
        raise NotImplementedError

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: Any) -> None:
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
            _summary(
                "abs_b",
                "|b|",
                "magnitude of the momentum buffer",
                "momentum_buffer",
                "abs",
                "momentum",
            ),
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
        out = {}
        if _wants(want, "effective_lr"):
            out["effective_lr"] = np.full(st.shape, st.scalars.lr, st.dtype)
        return out


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


# -- Adagrad, RMSprop, Adadelta -------------------------------------------------------------------


class AdagradScalars(NamedTuple):
    """Per-step scalars of Adagrad."""

    lr: float  # η of this step
    decayed_lr: float  # η_t = η / (1 + (t − 1)·lr_decay)


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

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("sum", "s", "sum of g² since the start (from initial_accumulator_value)"),
        ),
        derived=(_alpha("η_t / (√s + ε)"),),
        scalars=(_LR, Quantity("decayed_lr", "η_t", "η / (1 + (t − 1)·lr_decay)")),
        summaries=(
            _alpha_via("sqrt_sum"),
            _summary("sqrt_sum", "√s", "root of the accumulated squared gradient", "sum", "sqrt"),
        ),
        effective_lr="α = η_t / (√s + ε) per coordinate, with η_t = η / (1 + (t − 1)·lr_decay); "
        "θ ← θ − α·g. s only grows, so α only shrinks.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> AdagradScalars:
        st.t += 1
        return _scalars(AdagradScalars, (lr, lr / (1 + (st.t - 1) * self.lr_decay)))

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("sum", self.initial_accumulator_value)]

    def _kernel(
        self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdagradScalars
    ) -> None:
        acc = bufs[0]
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        np.multiply(d, d, out=s[1])
        acc += s[1]
        np.sqrt(acc, out=s[1])
        np.add(s[1], self.eps, out=s[1])
        np.multiply(d, -c.decayed_lr, out=s[0])  # d is dead after this read
        np.divide(s[0], s[1], out=s[0])
        p += s[0]

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.decayed_lr, x + st.hypers["eps"])  # α of √s

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            den = np.sqrt(st.bufs["sum"])
            den += st.hypers["eps"]
            out["effective_lr"] = np.divide(st.scalars.decayed_lr, den, out=den)
        return out


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
            _summary(
                "abs_b",
                "|b|",
                "magnitude of the momentum buffer",
                "momentum_buffer",
                "abs",
                "momentum",
            ),
        ),
        effective_lr="α = η / (√v̂ + ε) per coordinate (v̂ = v, or v − ḡ² when centered); "
        "θ ← θ − α·g. With momentum μ the scaled gradient enters the buffer, "
        "b ← μ·b + g/(√v̂ + ε), and θ ← θ − η·b = θ − η·μ·b_{t−1} − α·g.",
    )

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("square_avg"),
            st.buf("grad_avg") if self.centered else None,
            st.buf("momentum_buffer") if self.momentum > 0 else None,
        ]

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
            den = rms + st.hypers["eps"]
            out["effective_lr"] = np.divide(st.scalars.lr, den, out=den)
        return out


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

    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("square_avg", "v", "running mean of g² (decay ρ)"),
            Quantity("acc_delta", "u", "running mean of the squared updates Δ² (decay ρ)"),
        ),
        derived=(_alpha("η·√(u_{t−1} + ε) / √(v + ε)"),),
        scalars=(_LR,),
        summaries=(
            _ALPHA_SUMMARY,
            _summary("sqrt_v", "√v", "RMS of recent gradients", "square_avg", "sqrt"),
            _summary("sqrt_u", "√u", "RMS of recent updates", "acc_delta", "sqrt"),
        ),
        effective_lr="α = η·√(u_{t−1} + ε) / √(v_t + ε) per coordinate (u before this "
        "step's update); θ ← θ − α·g. Read back after the step by solving "
        "u_t = ρ·u_{t−1} + (1 − ρ)·Δ² for u_{t−1} (NaN where ρ = 0 and g = 0).",
    )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("square_avg"), st.buf("acc_delta")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: StepRate) -> None:
        sq, acc = bufs
        rho, eps = self.rho, self.eps
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        _ema_sq(sq, d, rho, s[1])
        np.add(sq, eps, out=s[1])
        np.sqrt(s[1], out=s[1])  # std
        np.add(acc, eps, out=s[2])
        np.sqrt(s[2], out=s[2])
        np.divide(s[2], s[1], out=s[2])
        np.multiply(s[2], d, out=s[2])  # delta
        _ema_sq(acc, s[2], rho, s[1])
        np.multiply(s[2], -c.lr, out=s[1])
        p += s[1]

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        d = self._used_grad(st, grad, prev) if _wants(want, "effective_lr") else None
        if d is not None:
            # u_t + ρε = w·(ρ + (1 − ρ)·r) with w = u_{t−1} + ε and r = d²/(v + ε): every
            # term is >= 0, so solving for w loses only a few ulp.
            rho, eps = st.hypers["rho"], st.hypers["eps"]
            v_eps = st.bufs["square_avg"] + eps
            r = np.multiply(d, d)
            r /= v_eps
            r *= 1.0 - rho
            r += rho
            w = st.bufs["acc_delta"] + rho * eps
            w /= r
            np.sqrt(w, out=w)
            np.sqrt(v_eps, out=v_eps)
            w /= v_eps
            w *= st.scalars.lr
            out["effective_lr"] = w
        return out


# -- Adam family ----------------------------------------------------------------------------------


_B1 = _beta("beta1", 0.9, "decay β₁ of the gradient average (momentum)")
_B2 = _beta("beta2", 0.999, "decay β₂ of the squared-gradient average")
_AMSGRAD = Hyper("amsgrad", False, kind="bool", help="divide by the running max of v (AMSGrad)")

_EXP_AVG = Quantity("exp_avg", "m", "first moment: running mean of g (decay β₁)")
_EXP_AVG_SQ = Quantity("exp_avg_sq", "v", "second moment: running mean of g² (decay β₂)")
_M_HAT = Quantity("exp_avg_hat", "m̂", "m / (1 − β₁ᵗ): the bias-corrected first moment")
_V_HAT = Quantity("exp_avg_sq_hat", "v̂", "v / (1 − β₂ᵗ): the bias-corrected second moment")
_BC1 = Quantity("bias_correction1", "1 − β₁ᵗ", "bias correction of m at this step")
_BC2 = Quantity("bias_correction2", "1 − β₂ᵗ", "bias correction of v at this step")
_ADAM_RMS = Quantity("rms", "√v̂", "√v / √(1 − β₂ᵗ): the gradient RMS the step divides by")
_ADAM_SUMMARIES = (
    _alpha_via("rms"),
    _summary("abs_m", "|m|", "magnitude of the first moment", "exp_avg", "abs"),
    _RMS_SUMMARY,
)


class AdamScalars(NamedTuple):
    """Per-step scalars of Adam, AMSGrad, AdamW and adaptive-adam."""

    lr: float  # η of this step
    beta1: float  # β₁ used by this step (scheduled in adaptive-adam)
    bias_correction1: float  # 1 − β₁ᵗ (adaptive-adam: 1 − Π β₁,i)
    bias_correction2: float  # 1 − β₂ᵗ
    step_size: float  # η / bias_correction1
    bias_correction2_sqrt: float  # √(1 − β₂ᵗ)
    decay: float | None  # decoupled weight decay factor 1 − ηλ (AdamW), else None


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
    state_doc = StateDoc(
        state=(
            _STEP,
            _EXP_AVG,
            _EXP_AVG_SQ,
            Quantity("max_exp_avg_sq", "v̄", "running max of v (AMSGrad)", "amsgrad"),
        ),
        derived=(
            _M_HAT,
            Quantity("exp_avg_sq_hat", "v̂", "v / (1 − β₂ᵗ) (v̄ with amsgrad): bias-corrected v"),
            _ADAM_RMS,
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(_LR, _BC1, _BC2),
        summaries=_ADAM_SUMMARIES,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ − α·m̂ (torch computes √v̂ as "
        "√v / √(1 − β₂ᵗ)). With weight_decay, g includes λθ.",
    )
    decoupled: ClassVar[bool] = False
    # Knobs AdaptiveAdam does not declare: off.
    amsgrad = False
    maximize = False

    def _beta1(self, st: _KeyState) -> tuple[float, float]:
        """(β₁ used this step, 1 − product of the β₁ used so far); st.t already advanced."""
        return self.beta1, 1 - self.beta1**st.t

    def _prepare(self, st: _KeyState, lr: float) -> AdamScalars:
        st.t += 1
        t = st.t
        b1, bias_correction1 = self._beta1(st)
        bias_correction2 = 1 - self.beta2**t
        wd = self.weight_decay
        decay = 1 - lr * wd if self.decoupled and wd != 0 else None
        return _scalars(
            AdamScalars,
            (
                lr,
                b1,
                bias_correction1,
                bias_correction2,
                lr / bias_correction1,
                bias_correction2**0.5,
                decay,
            ),
        )

    def _buffers(self, st: _KeyState) -> list:
        return [
            st.buf("exp_avg"),
            st.buf("exp_avg_sq"),
            st.buf("max_exp_avg_sq") if self.amsgrad else None,
        ]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdamScalars) -> None:
        m, v, vmax = bufs
        upd, denom = s
        if c.decay is None and not self.maximize and (self.decoupled or not self.weight_decay):
            d = g  # the common case, without the helpers' calls
        else:
            d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, upd)
        _lerp(m, d, 1 - c.beta1, denom)
        _ema_sq(v, d, self.beta2, denom)
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        np.sqrt(v, denom)
        if not _is_one(c.bias_correction2_sqrt, denom):
            np.divide(denom, c.bias_correction2_sqrt, denom)
        _add(denom, self.eps, denom)
        _multiply(m, -c.step_size, upd)  # d is dead after the v update
        np.divide(upd, denom, upd)
        _add(p, upd, p)

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0 if self.decoupled else float(knobs.get("weight_decay", 0.0))

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x + st.hypers["eps"])  # α of √v̂, as _derive does

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        v = b["exp_avg_sq"]
        if st.hypers.get("amsgrad") and "max_exp_avg_sq" in b:
            v = b["max_exp_avg_sq"]
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "exp_avg_sq_hat"):
            out["exp_avg_sq_hat"] = v / sc.bias_correction2
        if _wants(want, "rms") or _wants(want, "effective_lr"):
            rms = np.sqrt(v)  # √v̂ as torch computes it
            rms /= sc.bias_correction2_sqrt
            if _wants(want, "effective_lr"):
                den = rms + st.hypers["eps"]
                out["effective_lr"] = np.divide(sc.lr, den, out=den)
            if _wants(want, "rms"):
                out["rms"] = rms
        return out


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
    state_doc = dataclasses.replace(
        Adam.state_doc,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ(1 − ηλ) − α·m̂: the decoupled "
        "decay shrinks θ first and is not part of α (torch computes √v̂ as √v / √(1 − β₂ᵗ)).",
    )


class NAdamScalars(NamedTuple):
    """Per-step scalars of NAdam."""

    lr: float  # η of this step
    mu: float  # μ_t = β₁(1 − ½·0.96^(tψ))
    mu_next: float  # μ_{t+1}
    mu_product: float  # Π_t = μ₁⋯μ_t
    bias_correction2: float  # 1 − β₂ᵗ
    grad_coef: float  # η(1 − μ_t)/(1 − Π_t): the step's factor on g/(√v̂ + ε)
    momentum_coef: float  # η·μ_{t+1}/(1 − Π_t·μ_{t+1}): its factor on m/(√v̂ + ε)
    decay: float | None  # decoupled weight decay factor 1 − ηλ (NAdamW), else None


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

    state_doc = StateDoc(
        state=(_STEP, Quantity("mu_product", "Π_t", "μ₁·μ₂⋯μ_t"), _EXP_AVG, _EXP_AVG_SQ),
        derived=(
            Quantity(
                "exp_avg_hat",
                "m̄",
                "(1 − μ_t)/(1 − Π_t)·g + μ_{t+1}/(1 − Π_t·μ_{t+1})·m: the look-ahead momentum",
            ),
            _V_HAT,
            Quantity("rms", "√v̂", "√(v / (1 − β₂ᵗ)): the gradient RMS the step divides by"),
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(
            _LR,
            Quantity("mu", "μ_t", "momentum coefficient of this step"),
            Quantity("mu_next", "μ_{t+1}", "momentum coefficient of the next step"),
            Quantity("mu_product", "Π_t", "μ₁·μ₂⋯μ_t"),
            _BC2,
        ),
        summaries=_ADAM_SUMMARIES,
        effective_lr="α = η / (√v̂ + ε) per coordinate; θ ← θ − α·m̄ with m̄ the look-ahead "
        "momentum (derived exp_avg_hat). With decoupled_weight_decay, θ ← θ(1 − ηλ) first "
        "(not part of α); otherwise g includes λθ.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> NAdamScalars:
        st.t += 1
        t = st.t
        b1 = self.beta1
        bias_correction2 = 1 - self.beta2**t
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * self.momentum_decay)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * self.momentum_decay)))
        mu_product = st.extra.get("mu_product", 1.0) * mu
        st.extra["mu_product"] = mu_product
        mu_product_next = mu_product * mu_next
        wd = self.weight_decay
        decay = 1 - lr * wd if self.decoupled_weight_decay and wd != 0 else None
        return _scalars(
            NAdamScalars,
            (
                lr,
                mu,
                mu_next,
                mu_product,
                bias_correction2,
                lr * (1.0 - mu) / (1.0 - mu_product),
                (lr * mu_next) / (1.0 - mu_product_next),
                decay,
            ),
        )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: NAdamScalars) -> None:
        m, v = bufs
        d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        _ema_sq(v, d, self.beta2, s[1])
        denom = s[1]
        if _is_one(c.bias_correction2, denom):
            np.sqrt(v, out=denom)
        else:
            np.divide(v, c.bias_correction2, out=denom)
            np.sqrt(denom, out=denom)
        denom += self.eps
        # torch's factors are −η(1 − μ)/(1 − Π) and −ημ'/(1 − Πμ'); negating ours is exact.
        np.multiply(d, -c.grad_coef, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]
        np.multiply(m, -c.momentum_coef, out=s[2])
        np.divide(s[2], denom, out=s[2])
        p += s[2]

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        return {"mu_product": st.extra["mu_product"]} if "mu_product" in st.extra else {}

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        if knobs.get("decoupled_weight_decay"):
            return 0.0
        return float(knobs.get("weight_decay", 0.0))

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x + st.hypers["eps"])  # α of √v̂, as _derive does

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            d = self._used_grad(st, grad, prev)
            if d is not None:
                m_bar = np.multiply(d, (1.0 - sc.mu) / (1.0 - sc.mu_product))
                m_bar += b["exp_avg"] * (sc.mu_next / (1.0 - sc.mu_product * sc.mu_next))
                out["exp_avg_hat"] = m_bar
        if any(_wants(want, k) for k in ("exp_avg_sq_hat", "rms", "effective_lr")):
            v_hat = b["exp_avg_sq"] / sc.bias_correction2
            if _wants(want, "rms") or _wants(want, "effective_lr"):
                rms = np.sqrt(v_hat)
                if _wants(want, "effective_lr"):
                    den = rms + st.hypers["eps"]
                    out["effective_lr"] = np.divide(sc.lr, den, out=den)
                if _wants(want, "rms"):
                    out["rms"] = rms
            if _wants(want, "exp_avg_sq_hat"):
                out["exp_avg_sq_hat"] = v_hat
        return out


class RAdamScalars(NamedTuple):
    """Per-step scalars of RAdam."""

    lr: float  # η of this step
    bias_correction1: float  # 1 − β₁ᵗ
    bias_correction2: float  # 1 − β₂ᵗ
    bias_correction2_sqrt: float  # √(1 − β₂ᵗ)
    rho_t: float  # ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
    rectified: bool  # ρ_t > 5: the adaptive step is on
    rect: float | None  # r_t while rectified, else None
    decay: float | None  # decoupled weight decay factor 1 − ηλ (RAdamW), else None


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

    state_doc = StateDoc(
        state=(_STEP, _EXP_AVG, _EXP_AVG_SQ),
        derived=(
            _M_HAT,
            _V_HAT,
            _ADAM_RMS,
            _alpha("η·r_t·√(1 − β₂ᵗ) / (√v + ε), or η before rectifying"),
        ),
        scalars=(
            _LR,
            _BC1,
            _BC2,
            Quantity("rho_t", "ρ_t", "length of the approximated simple moving average"),
            Quantity("rectified", "ρ_t > 5", "whether the adaptive (rectified) step is on"),
            Quantity("rect", "r_t", "variance rectification factor (None while off)"),
        ),
        summaries=(_ALPHA_SUMMARY, *_ADAM_SUMMARIES[1:]),  # α is not a function of √v̂ alone
        effective_lr="While ρ_t ≤ 5, α = η for every coordinate (SGD with momentum on m̂); "
        "after that α = η·r_t·√(1 − β₂ᵗ) / (√v + ε) per coordinate. θ ← θ − α·m̂. With "
        "decoupled_weight_decay, θ ← θ(1 − ηλ) first (not part of α); otherwise g includes λθ.",
    )

    def _prepare(self, st: _KeyState, lr: float) -> RAdamScalars:
        st.t += 1
        t = st.t
        b2 = self.beta2
        bias_correction1 = 1 - self.beta1**t
        bias_correction2 = 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        wd = self.weight_decay
        decay = 1 - lr * wd if self.decoupled_weight_decay and wd != 0 else None
        return _scalars(
            RAdamScalars,
            (
                lr,
                bias_correction1,
                bias_correction2,
                bias_correction2**0.5,
                rho_t,
                rect is not None,
                rect,
                decay,
            ),
        )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_avg_sq")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: RAdamScalars) -> None:
        m, v = bufs
        d = _decayed_grad(p, g, c.decay, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        _ema_sq(v, d, self.beta2, s[1])
        upd = s[2]
        if _is_one(c.bias_correction1, upd):
            np.multiply(m, c.lr, out=upd)
        else:
            np.divide(m, c.bias_correction1, out=upd)
            upd *= c.lr
        if c.rectified:
            np.sqrt(v, out=s[1])
            np.add(s[1], self.eps, out=s[1])
            np.divide(c.bias_correction2_sqrt, s[1], out=s[1])
            upd *= s[1]
            upd *= c.rect
        p -= upd

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        if knobs.get("decoupled_weight_decay"):
            return 0.0
        return float(knobs.get("weight_decay", 0.0))

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "exp_avg_sq_hat"):
            out["exp_avg_sq_hat"] = b["exp_avg_sq"] / sc.bias_correction2
        if _wants(want, "rms"):
            rms = np.sqrt(b["exp_avg_sq"])
            rms /= sc.bias_correction2_sqrt
            out["rms"] = rms
        if _wants(want, "effective_lr"):
            if sc.rectified:
                alpha = np.sqrt(b["exp_avg_sq"])
                alpha += st.hypers["eps"]
                np.divide(sc.bias_correction2_sqrt, alpha, out=alpha)
                alpha *= sc.lr
                alpha *= sc.rect
            else:
                alpha = np.full(st.shape, sc.lr, st.dtype)
            out["effective_lr"] = alpha
        return out


class AdamaxScalars(NamedTuple):
    """Per-step scalars of Adamax."""

    lr: float  # η of this step
    bias_correction1: float  # 1 − β₁ᵗ
    step_size: float  # η / (1 − β₁ᵗ)


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

    state_doc = StateDoc(
        state=(_STEP, _EXP_AVG, Quantity("exp_inf", "u", "decaying max of |g| + ε")),
        derived=(_M_HAT, _alpha("η / u")),
        scalars=(_LR, _BC1),
        summaries=(
            _alpha_via("exp_inf"),
            _summary("abs_m", "|m|", "magnitude of the first moment", "exp_avg", "abs"),
            _summary("exp_inf", "u", "the decaying max of |g| (the denominator)", "exp_inf"),
        ),
        effective_lr="α = η / u per coordinate; θ ← θ − α·m̂ with m̂ = m / (1 − β₁ᵗ). "
        "g includes λθ (weight decay).",
    )

    def _prepare(self, st: _KeyState, lr: float) -> AdamaxScalars:
        st.t += 1
        bias_correction = 1 - self.beta1**st.t
        return _scalars(AdamaxScalars, (lr, bias_correction, lr / bias_correction))

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg"), st.buf("exp_inf")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: AdamaxScalars) -> None:
        m, u = bufs
        d = _grad(p, g, self.weight_decay, self.maximize, s[0])
        _lerp(m, d, 1 - self.beta1, s[1])
        u *= self.beta2
        np.abs(d, out=s[1])
        np.add(s[1], self.eps, out=s[1])
        np.maximum(u, s[1], out=u)
        np.multiply(m, -c.step_size, out=s[1])
        np.divide(s[1], u, out=s[1])
        p += s[1]

    def _summary_map(self, summary: str, st: _KeyState, x: np.ndarray) -> np.ndarray:
        return np.divide(st.scalars.lr, x)  # α of u

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        sc, b = st.scalars, st.bufs
        out = {}
        if _wants(want, "exp_avg_hat"):
            out["exp_avg_hat"] = b["exp_avg"] / sc.bias_correction1
        if _wants(want, "effective_lr"):
            out["effective_lr"] = np.divide(sc.lr, b["exp_inf"])
        return out


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
        if (
            p.ndim <= 1
            and p.nbytes >= BLOCKED_MIN_BLOCKS * BLOCK_BYTES
            and p.flags.c_contiguous
            and g.flags.c_contiguous
        ):
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

    state_doc = StateDoc(
        state=(_STEP, Quantity("exp_avg", "m", "momentum: running mean of g (decay β₂)")),
        derived=(_alpha("η, the same for every coordinate"),),
        scalars=(_LR,),
        summaries=(
            _ALPHA_SUMMARY,
            _summary("abs_m", "|m|", "magnitude of the momentum", "exp_avg", "abs"),
        ),
        effective_lr="α = η for every coordinate; θ ← θ − α·(sign(β₁·m + (1 − β₁)·g) + λθ): "
        "each coordinate moves by ±α, plus the decoupled decay.",
    )

    def _buffers(self, st: _KeyState) -> list:
        return [st.buf("exp_avg")]

    def _kernel(self, p: np.ndarray, g: np.ndarray, bufs: list, s: tuple, c: StepRate) -> None:
        lr = c.lr
        (m,) = bufs
        b1, b2 = self.beta1, self.beta2
        upd, tmp = s
        np.multiply(g, 1.0 - b1, out=upd)
        np.multiply(m, b1, out=tmp)
        tmp += upd
        # Out of place: numpy's in-place sign is ~10x slower on mixed-sign data.
        np.sign(tmp, out=upd)
        if self.weight_decay != 0.0:
            np.multiply(p, self.weight_decay, out=tmp)
            upd += tmp
        upd *= lr
        p -= upd  # optax: θ + (−η·u)
        m *= b2
        np.multiply(g, 1.0 - b2, out=tmp)
        m += tmp

    def _l2_decay(self, knobs: Mapping[str, Any]) -> float:
        return 0.0  # decoupled: θ − ηλθ

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        out = {}
        if _wants(want, "effective_lr"):
            out["effective_lr"] = np.full(st.shape, st.scalars.lr, st.dtype)
        return out


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

    state_doc = dataclasses.replace(
        Adam.state_doc,
        state=(_STEP, _EXP_AVG, _EXP_AVG_SQ, Quantity("beta1_product", "Π β₁", "Π_{i≤t} β₁,i")),
        derived=(
            Quantity("exp_avg_hat", "m̂", "m / (1 − Π_{i≤t} β₁,i): the bias-corrected m"),
            _V_HAT,
            _ADAM_RMS,
            _alpha("η / (√v̂ + ε)"),
        ),
        scalars=(
            _LR,
            Quantity("beta1", "β₁,t", "β₁ used by this step (from the schedule)"),
            Quantity("bias_correction1", "1 − Π β₁", "bias correction of m: 1 − Π_{i≤t} β₁,i"),
            _BC2,
        ),
    )

    def beta1_at(self, t: int) -> float:
        """β₁ used by the t-th update (t counts from 1)."""
        b1, lo = self.beta1, self.beta1_min
        if self.beta1_schedule == "decay":
            return lo + (b1 - lo) / (1 + self.beta1_decay * (t - 1))
        if self.beta1_schedule == "cyclic":
            return lo + (b1 - lo) * (1 + math.cos(2 * math.pi * (t - 1) / self.period)) / 2
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
        return b, 1 - self._beta1_product(st)

    @staticmethod
    def _beta1_product(st: _KeyState) -> float:
        ex = st.extra
        return ex["beta1_head"] * ex["beta1_last"] ** ex["beta1_run"]

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        return {"beta1_product": self._beta1_product(st)} if "beta1_last" in st.extra else {}
