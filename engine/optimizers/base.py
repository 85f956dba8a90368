"""The optimizer base class, the registry, and what the optimizer modules share.

`Optimizer` keeps lazy per-key state (`_KeyState`), validates knobs and runs an elementwise
optimizer's kernel whole or in blocks; the registry functions (`register`, `names`, `create`,
...) are re-exported by the package. Also here, what several optimizers share: the knob
declarations (`_lr`, `_beta`, ...), state declarations and summaries (`_STEP`, `_EXP_AVG`,
`_magnitude`, ...), inspection helpers (`_same_alpha`, `_alpha_of_rms`), per-step scalars
(`_decoupled_decay`), the in-place building blocks of torch's formulas (`_lerp`, `_ema_sq`,
`_grad`, ...), the plain gradient of the other flavours (`_flavour_grad`) and the closure
type of the optimizers that re-evaluate the objective (`Closure`).

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

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, NoReturn

import numpy as np

from engine.hyper import Hyper, validate_all
from engine.optimizer_state import Quantity, StateDoc, Summary, read_only
from engine.optimizers import compiled
from engine.registry import Registered, Registry

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


def _flavour(*others: str) -> Hyper:
    """`flavour`: whose arithmetic the update follows: "torch" (the default, torch.optim's)
    or one of `others` ("optax", "keras", "paper"): see the family module's `FLAVOURS`."""
    return Hyper(
        "flavour",
        "torch",
        kind="choice",
        choices=("torch", *others),
        help="whose formula: torch (default), " + ", ".join(others),
    )


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


def _magnitude(name: str, symbol: str, what: str, source: str = "", knob: str = "") -> Summary:
    """Summary "abs_<name>": |symbol|, the magnitude of `what`, the state array `source`
    (default: `name`); with `knob`, kept only while that knob is on (see Summary)."""
    return _summary(
        f"abs_{name}", f"|{symbol}|", f"magnitude of {what}", source or name, "abs", knob
    )


_ABS_B = _magnitude("b", "b", "the momentum buffer", "momentum_buffer", knob="momentum")
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


# -- shared by the Adam family -------------------------------------------------------------

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
_ABS_M = _magnitude("m", "m", "the first moment", "exp_avg")
_ADAM_SUMMARIES = (_alpha_via("rms"), _ABS_M, _RMS_SUMMARY)


def _decoupled_decay(lr: float, wd: float, decoupled: bool) -> float | None:
    """The factor 1 − ηλ by which decoupled (AdamW-style) weight decay shrinks θ this step;
    None when the decay is off or enters the gradient instead."""
    return 1 - lr * wd if decoupled and wd != 0 else None


# Signature parts of `Optimizer._derive`.
_Want = set[str] | None
_Arr = np.ndarray | None
_Arrays = dict[str, np.ndarray]


def _as_vector(arr: np.ndarray | None, st: _KeyState) -> np.ndarray | None:
    """`arr` with the shape of `st` (a (1,) view of a 0-d array, see `_KeyState.as_vector`)."""
    return arr if arr is None or arr.shape == st.shape else np.reshape(arr, st.shape)


def _wants(want: _Want, key: str) -> bool:
    return want is None or key in want


def _same_alpha(st: _KeyState, want: _Want, alpha: float) -> _Arrays:
    """`_derive` of an optimizer whose effective lr is one number `alpha` for every
    coordinate: that number in an array of the key's shape and dtype (if wanted)."""
    if not _wants(want, "effective_lr"):
        return {}
    return {"effective_lr": np.full(st.shape, alpha, st.dtype)}


def _alpha_of_rms(st: _KeyState, rms: np.ndarray) -> np.ndarray:
    """α = η / (rms + ε) of the key's last step (a new array): the effective lr of the
    optimizers whose step divides by the gradient RMS plus ε (Adam, NAdam, RMSprop)."""
    den = rms + st.hypers["eps"]
    return np.divide(st.scalars.lr, den, out=den)


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


def _flavour_grad(p: np.ndarray, g: np.ndarray, wd: float, maximize: bool) -> np.ndarray:
    """The gradient of a non-torch flavour's update (plain NumPy, a new array where it
    differs from `g`): ±g, + wd·θ for L2 weight decay (wd 0: none)."""
    d = -g if maximize else g
    if wd:
        d = d + wd * p
    return d


_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitter for float64


def fused_multiply_add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a·b + c rounded once (elementwise): float32 through exact float64 arithmetic, float64
    through the error-free product and sum (Dekker, Knuth), exact but for double-rounding
    ties; where the error terms overflow, the plain result."""
    if c.dtype == np.float32:
        return (a.astype(np.float64) * b.astype(np.float64) + c).astype(np.float32)
    with np.errstate(all="ignore"):
        p = a * b
        t = _SPLIT * a
        ah = t - (t - a)
        al = a - ah
        t = _SPLIT * b
        bh = t - (t - b)
        bl = b - bh
        pe = ((ah * bh - p) + ah * bl + al * bh) + al * bl
        s = p + c
        bb = s - p
        se = (p - (s - bb)) + (c - bb)
        out = s + (pe + se)
    return np.where(np.isfinite(out), out, s)


def _block_size(arrays: int, itemsize: int) -> int:
    """Elements per block for a kernel touching `arrays` arrays of `itemsize`-byte elements."""
    return max(1, BLOCK_BYTES * 5 // max(5, arrays) // itemsize)


#: Whether `x` is exactly 1 as array `a`'s dtype rounds it, so `a / x` is `a` itself (see
#: `compiled._is_one`: one test for both paths, which skip the same divisions).
_is_one = compiled._is_one


def _describe(a: object) -> str:
    """'float64[3, 2]' for an array, the type name otherwise (for error messages)."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype}{list(a.shape)}"
    return type(a).__name__


def _takes_blocks(p: np.ndarray, g: np.ndarray) -> bool:
    """Whether a step of `p` goes through cache-sized blocks: at least BLOCKED_MIN_BLOCKS
    blocks' worth of bytes, and `p` and `g` contiguous (their flat views are then free)."""
    return (
        p.nbytes >= BLOCKED_MIN_BLOCKS * BLOCK_BYTES
        and p.flags.c_contiguous
        and g.flags.c_contiguous
    )


#: A closure optimizer's way to evaluate the objective at the current parameters: (loss,
#: gradients by parameter key).
Closure = Callable[[], tuple[float, Mapping[str, np.ndarray]]]


# -- per-key state -----------------------------------------------------------------------------


class _KeyState:
    """State of one parameter key: step count, state arrays, scratch, scalar bookkeeping,
    and what its last step used (the per-step scalars and the knob values)."""

    __slots__ = (
        "bufs",
        "dtype",
        "extra",
        "hypers",
        "kernel_bufs",
        "scalars",
        "scratch",
        "shape",
        "t",
    )

    def __init__(self, p: np.ndarray) -> None:
        self.t = 0
        self.shape = p.shape
        self.dtype = p.dtype
        self.bufs: dict[str, np.ndarray] = {}
        # (knob values, `Optimizer._buffers` under them): the list a step hands its kernel,
        # kept while the knobs stay (`Optimizer._step_key`).
        self.kernel_bufs: tuple[Mapping[str, Any], list] | None = None
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

    def as_vector(self) -> _KeyState:
        """This state seen as one of shape (1,) when it is 0-d (itself otherwise): NumPy
        gives scalars, not arrays, for arithmetic on 0-d arrays, and the `_derive` methods
        write into their intermediates (`out=`). The arrays are views: nothing is copied."""
        if self.shape != ():
            return self
        view = _KeyState.__new__(_KeyState)
        for slot in _KeyState.__slots__:
            setattr(view, slot, getattr(self, slot))
        view.shape = (1,)
        view.bufs = {k: v.reshape(1) for k, v in self.bufs.items()}
        return view


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
    # Where the update rule comes from, for `optplay list`: "torch twin", "reference package
    # <name>", "paper" (empty: read from `reference`, see `source_of`).
    source: ClassVar[str] = ""
    # Closure optimizers (L-BFGS, SAM) re-evaluate the objective inside a step: their `step`
    # takes `closure` (evaluates at the current params, returns (loss, grads)) and `loss` (the
    # loss at the start, which `grads` is the gradient of). A Run passes both.
    needs_closure: ClassVar[bool] = False
    # Optimizers that only make sense on full-batch gradients (a Run refuses other tasks).
    full_batch_only: ClassVar[bool] = False
    equations: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    state_doc: ClassVar[StateDoc] = StateDoc()
    n_scratch: ClassVar[int] = 2
    #: The family's compiled step (`compiled.adam_step`, ...), called as a method with flat
    #: views when the compiled path is ready; None: NumPy only.
    compiled_step: ClassVar[Any] = None

    kind = "optimizer"
    knob_attributes = True

    lr: float  # every optimizer has the knob; set as an attribute like the others
    #: Whose arithmetic the update follows (the `flavour` knob where declared): any other
    #: than "torch" steps through `_flavour_kernel`, plain NumPy (never a fast kernel).
    flavour = "torch"

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

    def state_bytes(self) -> int:
        """Bytes held by the optimizer's state arrays over every key (what its memory costs
        beyond the parameters and gradients; scratch buffers excluded). 0 before a step."""
        return sum(int(a.nbytes) for st in self._state.values() for a in st.bufs.values())

    def scalars(self, key: str) -> Any:
        """The per-step scalars of `key`'s last step (the optimizer's NamedTuple: lr, bias
        corrections, β₁,t, μ_t, ρ_t ...), or None before its first step."""
        return self._state[key].scalars

    def knobs_used(self, key: str) -> Mapping[str, Any]:
        """The knob values `key`'s last step used (edits since apply from the next step)."""
        return self._state[key].hypers

    def derived(
        self,
        key: str,
        grad: np.ndarray | None = None,
        prev: np.ndarray | None = None,
        want: set[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Per-element quantities of `key`'s last step, fresh read-only arrays of its shape:
        "effective_lr" and the optimizer's own (m̂, v̂, ... see `state_doc.derived`).

        `grad` is the gradient that step received and `prev` the parameters before it; they
        are needed only where a quantity involves the gradient the update used (Adadelta's
        effective_lr, NAdam's m̄, with L2 weight decay g + λθ); without them those quantities
        are left out. Empty before the key's first step. `want` (names) computes only those.
        """
        st = self._state[key]
        if st.scalars is None:
            return {}
        vec = st.as_vector()
        with np.errstate(all="ignore"):
            derived = self._derive(vec, want, _as_vector(grad, vec), _as_vector(prev, vec))
            out = {k: np.asarray(v).reshape(st.shape) for k, v in derived.items()}
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
        shape, st = st.shape, st.as_vector()  # a 0-d key's arrays as (1,) views
        grad, prev = _as_vector(grad, st), _as_vector(prev, st)
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
        if shape == ():
            return {k: None if a is None else a.reshape(()) for k, a in out.items()}
        return out

    def summary_map(self, key: str, summary: str, x: np.ndarray) -> np.ndarray:
        """Summary `summary` (declared with `via`) of values `x` (an array) of its `via`
        summary, as the elementwise arithmetic of `key`'s last step computes it (in the
        state's dtype), as float64. Like that arithmetic it may divide by zero (inf): call it
        under np.errstate to silence the warning."""
        st = self._state[key]
        return self._summary_map(summary, st, x.astype(st.dtype)).astype(np.float64)

    def eval_params(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Where the model is to be evaluated, when that is not `params` (the point the
        gradients are taken at): fresh arrays of the same keys and shapes, as the reference's
        `optimizer.eval()` would load them (schedule-free: the average x). None (the default):
        evaluate at `params` themselves. A Run evaluates its eval loss there."""
        return None

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
        """The weight decay added to the gradient (0 where the `decoupled_weight_decay` knob
        decouples it; optimizers that decouple otherwise override this)."""
        if knobs.get("decoupled_weight_decay"):
            return 0.0
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
        lr = self._rate(lr)
        states = self._state
        for key, p in params.items():  # every array checked before any is updated
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
            if st is not None and (st.shape != p.shape or st.dtype != p.dtype):
                raise ValueError(
                    f"params[{key!r}] is {_describe(p)} but its optimizer state is "
                    f"{st.dtype}{list(st.shape)}; reset() the optimizer first"
                )
        self._step_checked(params, grads, lr)  # `_rate` returns a checked rate unchanged

    def _step_checked(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
    ) -> None:
        """`step` without its checks of the arrays, for a caller that guarantees them: float32
        or float64 writable NumPy arrays, `grads` holding each key of `params` with the same
        shape and dtype, and the shape and dtype of the key's state if it has one (a Run's own
        buffers). The rate is still checked (a schedule's need not be valid). A Run steps
        through it when `step` is not overridden: the checks cost ~0.5 us a step, a few
        per cent of the Python around a small network's step."""
        lr = self._rate(lr)
        states = self._state
        for key, p in params.items():
            st = states.get(key)
            if st is None:
                st = states[key] = _KeyState(p)
            self._step_key(p, grads[key], st, lr)
        self.steps += 1

    def _compiled_flat_step(
        self, key: str, p: np.ndarray, g: np.ndarray
    ) -> Callable[[float | None], None] | None:
        """`_step_checked({key: p}, {key: g}, lr)` as a function of lr alone, for a caller
        stepping one flat buffer on the compiled path (a Run's chunk of steps: it asks again
        for each chunk, so a knob edit or the path switched off between chunks is seen), or
        None where that step would not run the family's compiled kernel whole: no kernel,
        another flavour, a buffer split over threads, or the path not ready. The same calls
        as `_step_key` in the same order (the same numbers and state), without the per-key
        dictionary walks and layout tests, which cost ~0.5 us a step on a small network."""
        if (
            self.compiled_step is None
            or not compiled.ready
            or self.flavour != "torch"
            or type(self)._step_key is not Optimizer._step_key
            or p.ndim != 1
            or not (p.flags.c_contiguous and g.flags.c_contiguous)
            or p.size >= compiled.parallel_min
        ):
            return None
        states, rate, prepare = self._state, self._rate, self._prepare
        kernel = self.compiled_step

        def step(lr: float | None) -> None:
            lr = rate(lr)
            st = states.get(key)
            if st is None:
                st = states[key] = _KeyState(p)
            c = st.scalars = prepare(st, lr)
            hypers = st.hypers = self.hypers
            known = st.kernel_bufs
            if known is not None and known[0] is hypers:
                bufs = known[1]
            else:
                bufs = self._buffers(st)
                st.kernel_bufs = (hypers, bufs)
            kernel(p, g, bufs, c)
            self.steps += 1

        return step

    def _rate(self, lr: float | None) -> float | None:
        """The rate of a step: the configured `lr` when None, else `lr` as a float (ValueError
        unless a number in [0, inf))."""
        if lr is None:
            return self.lr
        given = lr
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            lr = math.nan
        if not 0.0 <= lr < math.inf:  # also rejects NaN
            raise ValueError(f"lr must be a number in [0, inf), got {given!r}")
        return lr

    def _refuse_without_closure(self, lr: float | None, why: str) -> NoReturn:
        """Raise for a closure optimizer's `step` called without its closure: ValueError
        saying `why` it needs one, or the usual message when `lr` is a bad rate."""
        if lr is not None and not 0.0 <= float(lr) < math.inf:
            Optimizer.step(self, {}, {}, lr)  # the usual message for a bad rate
        raise ValueError(f"{self.name} needs a closure ({why})")

    def _check_new(self, key: str, p: np.ndarray) -> None:
        if not isinstance(p, np.ndarray) or p.dtype not in _FLOAT_DTYPES:
            raise ValueError(f"params[{key!r}] must be a float32 or float64 numpy array")
        if not p.flags.writeable:
            raise ValueError(f"params[{key!r}] is read-only; the update is in place")

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        c = self._prepare(st, lr)
        st.scalars = c
        hypers = st.hypers = self.hypers
        if self.flavour != "torch":
            self._flavour_kernel(p, g, st, c)
            return
        # Which state arrays the kernel takes depends only on the knobs (amsgrad, momentum
        # ...), and `set_hypers` installs a new dict: looked up again only after an edit.
        known = st.kernel_bufs
        if known is not None and known[0] is hypers:
            bufs = known[1]
        else:
            bufs = self._buffers(st)
            st.kernel_bufs = (hypers, bufs)
        if self.compiled_step is not None:
            if compiled.ready:
                if p.flags.c_contiguous and g.flags.c_contiguous:
                    if p.ndim != 1:
                        p, g = p.reshape(-1), g.reshape(-1)
                        bufs = [None if b is None else b.reshape(-1) for b in bufs]
                    if p.size < compiled.parallel_min:
                        self.compiled_step(p, g, bufs, c)
                    else:  # chunks on several threads: the same numbers, elementwise
                        compiled.split_step(self.compiled_step, p, g, bufs, c)
                    return
            elif not compiled.requested:
                compiled.request()  # NumPy runs until the kernels are ready: the same numbers
        if (  # _takes_blocks(p, g), inlined: this runs for every key at every step
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

    def _flavour_kernel(self, p: np.ndarray, g: np.ndarray, st: _KeyState, c: Any) -> None:
        """One update of `p` in the arithmetic of `self.flavour` (not "torch"), in place."""
        raise NotImplementedError(f"{self.name} has no flavour {self.flavour!r}")

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


def source_of(name: str) -> str:
    """Where optimizer `name`'s rule comes from, for `optplay list`: "torch twin", "optax
    twin", "reference package ..." (fixtures from that package) or "paper" (checked against
    textbook code), followed by its reference."""
    cls = get(name)
    kind = cls.source
    if not kind:
        ref = cls.reference
        kind = (
            "torch twin" if "torch.optim." in ref else "optax twin" if "optax." in ref else "paper"
        )
    return f"{kind}: {cls.reference}"


def create(name: str, /, **hypers: Any) -> Optimizer:
    """A new optimizer `name` with validated knobs (defaults filled in)."""
    return _REGISTRY.create(name, **hypers)


def get(name: str) -> type[Optimizer]:
    """The optimizer class registered as `name` (ValueError listing the names otherwise)."""
    return _REGISTRY.get(name)


def _warm_compiled(kernels: dict[str, Any]) -> None:
    """Compile (or load) each kernel for float32 and float64 by stepping tiny buffers (run in
    the compiled path's build thread)."""
    for dtype in (np.float32, np.float64):
        for name in sorted(compiled._STEPPERS):
            opt = create(name)
            p = np.ones(3, dtype)
            g = np.full(3, 0.5, dtype)
            st = _KeyState(p)
            c = opt._prepare(st, opt.lr if opt.lr is not None else 1e-3)
            compiled._STEPPERS[name](opt, p, g, opt._buffers(st), c, kernels)
        h = np.full((2, 3), 0.5, dtype)
        kernels["tanh_backward"](h, h.copy())
        column = np.ones((2, 1), dtype)
        kernels["softmax_grad"](h.copy(), column, h, 0.5)
        kernels["bias_add"](h.copy(), h[0].copy())
        kernels["softmax_shift"](h.copy(), h[0].copy(), column.copy())
        kernels["row_sums"](h, column.copy())
        kernels["softmax_finish"](h.copy(), column, column.copy(), h, 0.5)
        kernels["copy_into"](p.copy(), p)
        kernels["difference"](p, p.copy(), p.copy())


compiled.warm_up = _warm_compiled
