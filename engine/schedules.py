"""Learning-rate schedules that reproduce torch.optim.lr_scheduler (and optax) bit for bit.

A schedule turns a step number into the learning rate of that step: `lr(step)` for
step = 0, 1, 2, ... is the rate used by update number step + 1, and `curve(n)` is
`lr(0), ..., lr(n - 1)` as one float64 array, so the UI can draw the whole curve before a run.
A run passes the rate to the optimizer: `opt.step(params, grads, lr=schedule.lr(step))`; the
optimizer's own `lr` is the schedule's `base_lr`.

Step indexing against torch: `lr(k)` is `scheduler.get_last_lr()[0]` after the constructor and
k calls of `scheduler.step()` (no epoch argument), i.e. the rate torch's optimizer uses for its
(k + 1)-th `optimizer.step()` in the usual `optimizer.step(); scheduler.step()` loop.

Why the arithmetic looks the way it does: torch's chainable schedulers (StepLR, MultiStepLR,
ExponentialLR, LinearLR, PolynomialLR, CosineAnnealingLR) do not evaluate their closed form;
each `step()` multiplies the optimizer's current rate by a ratio, so step k's rate carries the
rounding of k earlier operations and differs from the closed form by up to a few hundred ulps
after 10,000 steps (about 1e-13 relative). We want both: torch's bits where people compare
with torch, and constant time for any step (a preview of a 10^9-step run must not replay 10^9
steps). So:

- `step`, `multistep` and `exponential` change the rate by whole factors of gamma. Their rate
  after k factors is torch's product gamma·gamma·...·base, precomputed once in a table of up to
  EXACT_STEPS products (one `np.multiply.accumulate`), so any step is a table lookup: bit for
  bit torch's recursion up to EXACT_STEPS factors (always, for multistep), torch's closed form
  `base · gamma ** k` beyond.
- `cosine`, `warmup` and `polynomial` multiply by a ratio that changes every step. For steps
  below EXACT_STEPS (65,536) we replay torch's recursion exactly, in blocks of 4096 steps with
  a checkpoint per block, so the first request for a step replays at most EXACT_STEPS steps;
  from EXACT_STEPS on we evaluate torch's own closed form (`_get_closed_form_lr`, the same
  float operations in the same order) in constant time.
- `constant`, `cosine-restarts`, `warmup-cosine` and `onecycle` are closed forms in torch
  (or optax) already: we evaluate the same expression, bit for bit, in constant time.

Every `lr(step)` is therefore bounded work: a table lookup or closed form, or (below
EXACT_STEPS, first time only) a replay of at most EXACT_STEPS steps. Recent blocks are cached,
so a run stepping forward pays one vectorised block per 4096 steps. Blockwise and one-shot
evaluation perform the same operations, so `curve(n)` and `lr(i)` agree exactly. Cosines and
powers go through libm (`math.cos`, `math.pow`), the functions torch calls: NumPy's SIMD
versions may differ by an ulp, and at the end of a cosine decay `1 + cos(x)` cancels, turning
one ulp into a 1e-9 relative error in the rate.

Where torch has no defined or no sensible continuation we hold a value (documented per class):
cosine holds `min_lr` after `total_steps` (torch's recursion would climb back up), onecycle holds
its last torch value after `total_steps` (torch raises). `plateau` is stateful: a run feeds it
the evaluation loss at each evaluation, or each epoch's mean training loss when evaluation is
off, through `observe(loss, step)`; its preview is flat until then.
"""

from __future__ import annotations

import bisect
import math
import operator
import re
import threading
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from engine.hyper import Hyper
from engine.registry import Registered, Registry

#: Steps per cached block (see the module docstring).
_BLOCK = 4096
#: Blocks kept in the cache; a run touches one at a time, a preview another.
_CACHED_BLOCKS = 4
#: Steps (or, for step/exponential, factors of gamma) for which torch's recursion is replayed
#: exactly; later steps use the closed form. A multiple of _BLOCK.
EXACT_STEPS = 16 * _BLOCK


def _quiet() -> np.errstate:
    """Silence NumPy's floating-point warnings while computing rates.

    Extreme knobs (gamma > 1 over many steps, min_lr near the float maximum, start_factor near
    5e-324) can overflow to inf or NaN: that is the schedule's value (a run stops as diverged
    on a non-finite rate), and NumPy must not print RuntimeWarnings over the UI about it.
    """
    return np.errstate(all="ignore")


_BASE_LR = Hyper("base_lr", 1e-3, low=0.0, low_open=True, log=True, help="peak learning rate")


def _cos(x: np.ndarray) -> np.ndarray:
    """Elementwise cosine through libm, exactly as torch's `math.cos` calls compute it."""
    return np.fromiter(map(math.cos, x.tolist()), dtype=np.float64, count=x.size)


def _pow1(x: float, p: float) -> float:
    """`x ** p` through libm, as Python's float power computes it; inf where it overflows
    (Python raises OverflowError there; torch's tensors would hold inf)."""
    try:
        return math.pow(x, p)
    except OverflowError:
        return math.inf


def _pow(x: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """Elementwise `x ** p` through libm (NumPy's SIMD power differs in the last bit)."""
    xs, ps = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(p, np.float64))
    return np.fromiter(
        map(_pow1, xs.ravel().tolist(), ps.ravel().tolist()), dtype=np.float64, count=xs.size
    )


def _as_step(step: Any) -> int:
    try:
        value = operator.index(step)
    except TypeError:
        raise ValueError(f"step must be an integer >= 0, got {step!r}") from None
    if value < 0:
        raise ValueError(f"step must be an integer >= 0, got {value}")
    return value


class Schedule(Registered):
    """Base class: a learning rate for every step, as a pure function of the step.

    Knobs are validated and stored by `Registered` (`self.hypers`, and `self.<knob>`).
    Subclasses implement `_closed(steps)`: the rates of an int64 array of steps (torch's or
    optax's closed form, vectorised); recursive ones (`_recursive = True`) also implement
    `_replay(start, stop, prev)`: the rates of steps `start .. stop - 1` by torch's recursion,
    given `prev = lr(start - 1)` (None when start == 0), used below EXACT_STEPS. A subclass
    whose rate stops changing sets `_horizon` in `__init__(self, base_lr, **knobs)`: the step
    after which the rate stays at `lr(_horizon)`.
    """

    #: True only for schedules that react to the loss (plateau).
    stateful: ClassVar[bool] = False
    #: The update rule in Unicode math, for the help screen.
    equations: ClassVar[str] = ""
    #: Where the formula comes from (torch / optax name, paper).
    reference: ClassVar[str] = ""
    #: Shown under the preview when `curve()` cannot know the future (plateau).
    preview_note: ClassVar[str] = ""
    _recursive: ClassVar[bool] = False

    kind = "schedule"
    knob_attributes = True

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        self.base_lr: float = _BASE_LR.validate(base_lr)
        super().__init__(**knobs)  # validated values in self.hypers and as attributes
        self._horizon: int | None = None
        self._lock = threading.Lock()
        self._cache: dict[int, list[float]] = {}
        self._ends: list[float] = []  # _ends[b] = lr at the last step of block b (replays)
        self._hot: tuple[int, list[float]] = (-1, [])  # one tuple: swapped atomically
        self._last_miss = -1  # block of the last one-value answer (see lr)

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.hypers.items())
        return f"{type(self).__name__}(base_lr={self.base_lr!r}{', ' if knobs else ''}{knobs})"

    # -- public API ----------------------------------------------------------------------

    def lr(self, step: int) -> float:
        """The rate of update number step + 1 (step counts from 0). Bounded work for any
        step (see the module docstring); a run stepping forward reads a cached block."""
        return self._lr(_as_step(step))

    def _lr(self, step: int) -> float:
        """`lr` of a step known to be an int >= 0 (a Run's own count: it calls this one,
        without the check, at every step)."""
        if self._horizon is not None and step > self._horizon:
            step = self._horizon
        block, i = divmod(step, _BLOCK)
        hot_block, values = self._hot
        if hot_block == block:
            return values[i]
        if block not in self._cache and not self._replays(step) and block != self._last_miss:
            # A lone request (a preview sampling far steps): one closed-form value, no block.
            # A second request in the same block (a run stepping on) computes the block.
            self._last_miss = block
            with _quiet():
                return float(self._closed(np.array([step], dtype=np.int64))[0])
        values = self._block(block)
        self._hot = (block, values)
        return values[i]

    def curve(self, n: int) -> np.ndarray:
        """`lr(0), ..., lr(n - 1)` as a float64 array (vectorised; for previews)."""
        n = _as_step(n)
        out = np.empty(n, dtype=np.float64)
        m = n if self._horizon is None else min(n, self._horizon + 1)
        if m:
            with _quiet():
                exact = min(m, EXACT_STEPS) if self._recursive else 0
                if exact:
                    out[:exact] = self._replay(0, exact, None)
                if m > exact:
                    out[exact:m] = self._closed(np.arange(exact, m, dtype=np.int64))
            out[m:] = out[m - 1]
            if exact:
                # Free checkpoints for later lr() calls: the ends of the full blocks.
                with self._lock:
                    for b in range(len(self._ends), exact // _BLOCK):
                        self._ends.append(float(out[(b + 1) * _BLOCK - 1]))
        return out

    def observe(self, loss: float, step: int | None = None) -> None:
        """Feed a loss measured after `step` updates (only `plateau` uses it)."""

    def reset(self) -> None:
        """Forget what `observe` was told (only `plateau` has such state)."""

    # -- blocks --------------------------------------------------------------------------

    def _replays(self, step: int) -> bool:
        """Whether `step`'s rate comes from replaying torch's recursion."""
        return self._recursive and step < EXACT_STEPS

    def _block_range(self, block: int) -> tuple[int, int]:
        start = block * _BLOCK
        stop = start + _BLOCK
        if self._horizon is not None:
            stop = min(stop, self._horizon + 1)
        return start, stop

    def _block(self, block: int) -> list[float]:
        with self._lock, _quiet():
            cached = self._cache.get(block)
            if cached is not None:
                return cached
            start, stop = self._block_range(block)
            if self._replays(start):
                # Walk forward from the last checkpoint: at most EXACT_STEPS steps, once.
                while len(self._ends) < block:
                    k = len(self._ends)
                    lo, hi = self._block_range(k)
                    last = self._ends[k - 1] if k else None
                    self._ends.append(float(self._replay(lo, hi, last)[-1]))
                prev = self._ends[block - 1] if block else None
                values = self._replay(start, stop, prev)
                if len(self._ends) == block:
                    self._ends.append(float(values[-1]))
            else:
                values = self._closed(np.arange(start, stop, dtype=np.int64))
            result = values.tolist()
            if len(self._cache) >= _CACHED_BLOCKS:
                del self._cache[next(iter(self._cache))]
            self._cache[block] = result
            return result

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        """The rates of `steps` (int64, each <= the horizon) in closed form."""
        raise NotImplementedError

    def _replay(self, start: int, stop: int, prev: float | None) -> np.ndarray:
        """The rates of steps start .. stop - 1 by torch's recursion (recursive schedules)."""
        raise NotImplementedError

    # -- helpers for torch's multiplicative recursions -----------------------------------

    def _product(
        self, start: int, stop: int, prev: float | None, first: float, ratio: Any
    ) -> np.ndarray:
        """Rates of a recursion lr_t = lr_(t-1) * ratio(t), lr_0 = first, as torch steps it.

        `np.multiply.accumulate` multiplies strictly left to right, so a block started from a
        checkpoint gives the same bits as one pass from step 0.
        """
        t = np.arange(max(start, 1), stop, dtype=np.float64)
        seed = first if start == 0 else prev
        acc = np.multiply.accumulate(np.concatenate(([seed], ratio(t))))
        return acc if start == 0 else acc[1:]


class _Decays(Schedule):
    """Schedules whose rate is base · gamma^k after k decays (step, multistep, exponential).

    torch multiplies the current rate by gamma at each decay; the rate after k decays is that
    left-to-right product, kept in a table (`_table`, grown by doubling up to EXACT_STEPS
    entries, or all of them when `_all_exact`); beyond the table, torch's closed form
    `base · gamma ** k`."""

    _all_exact: ClassVar[bool] = False

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._table = np.array([self.base_lr])

    def _decays(self, steps: np.ndarray) -> np.ndarray:
        """How many decays happened before each step's update (int64)."""
        raise NotImplementedError

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        k = self._decays(steps)
        limit = (int(k.max()) + 1 if k.size else 1) if self._all_exact else EXACT_STEPS
        table = self._table
        wanted = k[k < limit]
        top = int(wanted.max()) if wanted.size else 0
        if top >= len(table):
            size = min(limit, max(top + 1, 2 * len(table), 64))
            factors = np.full(size - 1, self.gamma)
            table = np.multiply.accumulate(np.concatenate(([self.base_lr], factors)))
            self._table = table  # one assignment: readers see the old or the new table
        inside = k < len(table)
        out = np.empty(k.size, dtype=np.float64)
        out[inside] = table[k[inside]]
        if not inside.all():
            # torch's _get_closed_form_lr: base_lr * gamma ** k
            out[~inside] = self.base_lr * _pow(self.gamma, k[~inside].astype(np.float64))
        return out


_REGISTRY: Registry[type[Schedule]] = Registry("schedule")
register = _REGISTRY.register
names = _REGISTRY.names
specs = _REGISTRY.specs
summary = _REGISTRY.summary
validate = _REGISTRY.validate


def get(name: str) -> type[Schedule]:
    """The class registered under `name` (ValueError listing the names if unknown)."""
    return _REGISTRY.get(name)


def create(name: str, base_lr: float, **hypers: Any) -> Schedule:
    """A schedule `name` peaking at (or starting from) `base_lr`, knobs validated."""
    return _REGISTRY.create(name, base_lr, **hypers)


# -- knobs in epochs ---------------------------------------------------------------------------

#: The knobs that count update steps; each may be given in epochs instead ("3 epochs", and
#: for milestones "3, 6 epochs"), converted with the task's steps per epoch (`in_steps`).
STEP_KNOBS = frozenset({"step_size", "milestones", "period", "warmup_steps", "total_steps"})

_EPOCHS = re.compile(r"^\s*(.*?)\s*epochs?\s*$")


def is_epochs(knob: str, raw: Any) -> bool:
    """Whether `raw` is a step knob's value written in epochs ("3 epochs", "0.5 epoch")."""
    return knob in STEP_KNOBS and isinstance(raw, str) and _EPOCHS.match(raw) is not None


def epochs(knob: str, raw: str) -> tuple[float, ...]:
    """The epoch counts of `raw` ("3 epochs" -> (3.0,), "2, 4 epochs" -> (2.0, 4.0));
    ValueError naming the knob when they are not numbers >= 0."""
    text = _EPOCHS.match(raw)
    items = text.group(1).split(",") if text and text.group(1) else []
    try:
        values = tuple(float(item) for item in items)
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        example = "'3 epochs'" + (" or '2, 4 epochs'" if knob == "milestones" else "")
        raise ValueError(
            f"{knob} in epochs must be a number >= 0 and 'epochs', e.g. {example}, got {raw!r}"
        )
    if len(values) > 1 and knob != "milestones":
        raise ValueError(f"{knob} in epochs takes one number, e.g. '3 epochs', got {raw!r}")
    return values


def in_steps(knob: str, raw: str, steps_per_epoch: int) -> int | tuple[int, ...]:
    """A step knob given in epochs as steps: each count times `steps_per_epoch`, rounded to
    the nearest step, halves up (a tuple for milestones)."""
    steps = tuple(math.floor(v * steps_per_epoch + 0.5) for v in epochs(knob, raw))
    return steps if knob == "milestones" else steps[0]


# -- shared knobs ----------------------------------------------------------------------------

_TOTAL_STEPS = Hyper(
    "total_steps", 1000, kind="int", low=1, help="steps until the schedule reaches its end"
)
_MIN_LR = Hyper("min_lr", 0.0, low=0.0, help="the rate at the end of the decay (floor)")


def _gamma(default: float, help: str) -> Hyper:
    return Hyper("gamma", default, low=0.0, low_open=True, help=help)


# -- schedules -------------------------------------------------------------------------------


@register
class Constant(Schedule):
    name = "constant"
    summary = "the optimizer's lr at every step"
    equations = "ηₜ = η₀"
    reference = "no schedule (torch: no scheduler attached)"

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._horizon = 0

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        return np.full(steps.size, self.base_lr)


@register
class Step(_Decays):
    name = "step"
    summary = "multiply the rate by gamma every step_size steps"
    specs = (
        Hyper("step_size", 100, kind="int", low=1, help="steps between two decays"),
        _gamma(0.5, "factor applied at each decay"),
    )
    equations = (
        "ηₜ = η₀ · γ^⌊t / step_size⌋\n"
        "(torch applies it recursively: ηₜ = ηₜ₋₁ · γ when t is a multiple of step_size)"
    )
    reference = "torch.optim.lr_scheduler.StepLR(step_size, gamma)"

    def _decays(self, steps: np.ndarray) -> np.ndarray:
        return steps // self.step_size


@register
class MultiStep(_Decays):
    name = "multistep"
    summary = "multiply the rate by gamma at each milestone step"
    specs = (
        Hyper(
            "milestones",
            (500, 750),
            kind="ints",
            low=1,
            help="steps at which the rate is multiplied by gamma, increasing",
        ),
        _gamma(0.1, "factor applied at each milestone"),
    )
    equations = (
        "ηₜ = η₀ · γ^(number of milestones ≤ t)\n(torch: ηₜ = ηₜ₋₁ · γ when t is a milestone)"
    )
    reference = "torch.optim.lr_scheduler.MultiStepLR(milestones, gamma)"
    _all_exact = True  # one product per milestone: torch's recursion at every step

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        ms = values["milestones"]
        if not ms or any(b <= a for a, b in pairwise(ms)):
            shown = ", ".join(str(m) for m in ms)
            raise ValueError(
                "milestones must be a strictly increasing comma-separated list of integers "
                f"in [1, inf), got {shown!r}"
            )

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._horizon = self.milestones[-1]

    def _decays(self, steps: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.milestones, dtype=np.int64), steps, side="right")


@register
class Exponential(_Decays):
    name = "exponential"
    summary = "multiply the rate by gamma after every step"
    specs = (
        _gamma(0.999, "per-step factor; exp(-k) decays like e^(-k t), > 1 grows (range test)"),
    )
    equations = "ηₜ = η₀ · γᵗ     (γ = e^(−k) gives η₀ · e^(−k t))\n(torch: ηₜ = ηₜ₋₁ · γ)"
    reference = "torch.optim.lr_scheduler.ExponentialLR(gamma)"

    def _decays(self, steps: np.ndarray) -> np.ndarray:
        return steps


@register
class Cosine(Schedule):
    name = "cosine"
    summary = "half a cosine from lr down to min_lr over total_steps, then min_lr"
    specs = (_TOTAL_STEPS, _MIN_LR)
    equations = (
        "ηₜ = η_min + ½(η₀ − η_min)(1 + cos(π t / T))   for t ≤ T,   ηₜ = η_min after\n"
        "(torch steps it recursively: ηₜ = η_min + (ηₜ₋₁ − η_min)·"
        "(1 + cos(π t/T)) / (1 + cos(π (t−1)/T)))"
    )
    reference = (
        "torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr) up to "
        "total_steps, held at min_lr after (torch would rise again); Loshchilov & Hutter, "
        "SGDR: Stochastic Gradient Descent with Warm Restarts, ICLR 2017"
    )
    _recursive = True

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        # lr(T) is exactly min_lr (1 + cos(pi) == 0.0), and that is what we hold.
        self._horizon = self.total_steps

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        T, m = self.total_steps, self.min_lr
        # torch: eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * last_epoch / T_max)) / 2
        c = 1.0 + _cos(math.pi * steps.astype(np.float64) / T)
        return m + (self.base_lr - m) * c / 2

    def _replay(self, start: int, stop: int, prev: float | None) -> np.ndarray:
        T, m = self.total_steps, self.min_lr
        lo = max(start, 1)
        k = np.arange(lo - 1, stop, dtype=np.float64)
        c = 1.0 + _cos(math.pi * k / T)  # torch: 1 + math.cos(math.pi * epoch / T_max)
        ratio = c[1:] / c[:-1]  # for t = lo .. stop-1
        if m == 0.0:
            # lr - 0.0 and x + 0.0 are exact, so torch's update is a pure product.
            seed = self.base_lr if start == 0 else prev
            acc = np.multiply.accumulate(np.concatenate(([seed], ratio)))
            return acc if start == 0 else acc[1:]
        out = [self.base_lr] if start == 0 else []
        x = self.base_lr if start == 0 else prev
        for r in ratio.tolist():  # affine recursion: no exact vector form
            x = r * (x - m) + m
            out.append(x)
        return np.array(out, dtype=np.float64)


@register
class CosineRestarts(Schedule):
    name = "cosine-restarts"
    summary = "cosine decays that restart at the peak; each period period_mult times longer"
    specs = (
        Hyper("period", 100, kind="int", low=1, help="length of the first cycle in steps"),
        Hyper("period_mult", 2, kind="int", low=1, help="each cycle is this many times longer"),
        _MIN_LR,
        Hyper(
            "peak_decay",
            1.0,
            low=0.0,
            high=1.0,
            low_open=True,
            help="height above min_lr is multiplied by this at every restart (1 = torch)",
        ),
    )
    equations = (
        "cycle i (i = 0, 1, ...) lasts Tᵢ = T₀·mⁱ steps and starts at Sᵢ = T₀(mⁱ − 1)/(m − 1)\n"
        "(Sᵢ = i·T₀ when m = 1);  for Sᵢ ≤ t < Sᵢ₊₁:\n"
        "ηₜ = η_min + ½(η₀ − η_min)·dⁱ·(1 + cos(π (t − Sᵢ) / Tᵢ))"
    )
    reference = (
        "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=period, T_mult=period_mult, "
        "eta_min=min_lr) when peak_decay = 1; peak_decay is SGDR's m_mul as in TensorFlow's "
        "cosine_decay_restarts; Loshchilov & Hutter, SGDR, ICLR 2017"
    )

    def cycles(self, stop: int) -> tuple[list[int], list[int]]:
        """Exact first steps S_i and lengths T_i of all cycles that start before `stop`.

        Integer arithmetic: cycle i lasts period * period_mult**i steps (the seeds' tutorial
        used period_mult**(i - 1) and log2, which is wrong for any multiplier but 2). With
        period_mult >= 2 there are at most log2(stop) cycles.
        """
        starts, lengths = [0], [self.period]
        while starts[-1] + lengths[-1] < stop:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * self.period_mult)
        return starts, lengths

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        if self.period_mult == 1:
            cycle = steps // self.period
            t_cur = steps - cycle * self.period
            t_i = np.full(steps.size, float(self.period))
        else:
            starts, lengths = self.cycles(int(steps.max()) + 1 if steps.size else 0)
            cycle = np.searchsorted(np.asarray(starts), steps, side="right") - 1
            t_cur = steps - np.asarray(starts, dtype=np.int64)[cycle]
            t_i = np.asarray(lengths, dtype=np.float64)[cycle]
        # torch: eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2
        c = 1.0 + _cos(math.pi * t_cur.astype(np.float64) / t_i)
        height = self.base_lr - self.min_lr
        if self.peak_decay != 1.0:
            height = height * _pow(self.peak_decay, cycle.astype(np.float64))
        return self.min_lr + height * c / 2


@register
class Warmup(Schedule):
    name = "warmup"
    summary = "rise linearly from start_factor·lr to lr over warmup_steps, then constant"
    specs = (
        Hyper("warmup_steps", 100, kind="int", low=1, help="steps to reach the full rate"),
        Hyper(
            "start_factor",
            0.1,
            low=0.0,
            high=1.0,
            low_open=True,
            help="first rate as a fraction of lr",
        ),
    )
    equations = (
        "ηₜ = η₀ · (f + (1 − f) · min(t, W) / W)\n"
        "(torch steps it recursively: ηₜ = ηₜ₋₁ · (1 + (1 − f) / (W·f + (t − 1)(1 − f))))"
    )
    reference = (
        "torch.optim.lr_scheduler.LinearLR(start_factor, end_factor=1, total_iters=warmup_steps); "
        "Goyal et al., Accurate, Large Minibatch SGD, 2017"
    )
    _recursive = True

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._horizon = self.warmup_steps

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        # torch: base_lr * (start_factor + (end_factor - start_factor) * min(T, t) / T)
        f, W = self.start_factor, self.warmup_steps
        return self.base_lr * (f + (1.0 - f) * steps.astype(np.float64) / W)

    def _ratio(self, t: np.ndarray) -> np.ndarray:
        s, W = self.start_factor, self.warmup_steps
        d = 1.0 - s  # torch: end_factor - start_factor
        return 1.0 + d / (W * s + (t - 1) * d)

    def _replay(self, start: int, stop: int, prev: float | None) -> np.ndarray:
        first = self.base_lr * self.start_factor
        return self._product(start, stop, prev, first, self._ratio)


@register
class WarmupCosine(Schedule):
    name = "warmup-cosine"
    summary = "linear warmup to lr, then cosine decay to min_lr at total_steps"
    specs = (
        Hyper("warmup_steps", 100, kind="int", low=0, help="steps of linear warmup"),
        _TOTAL_STEPS,
        _MIN_LR,
        Hyper("start_factor", 0.0, low=0.0, high=1.0, help="first rate as a fraction of lr"),
    )
    equations = (
        "ηₜ = η₀·(f + (1 − f)·t/W)   for t < W\n"
        "ηₜ = η₀·((1 − α)·½(1 + cos(π·min(t − W, T − W)/(T − W))) + α),  α = η_min/η₀"
    )
    reference = (
        "optax.warmup_cosine_decay_schedule(init_value=start_factor·lr, peak_value=lr, "
        "warmup_steps, decay_steps=total_steps, end_value=min_lr), in float64"
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        W, T = values["warmup_steps"], values["total_steps"]
        if W >= T:
            raise ValueError(
                f"warmup_steps must be an integer in [0, total_steps) = [0, {T}), got {W}"
            )

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._horizon = self.total_steps

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        W, T, peak = self.warmup_steps, self.total_steps, self.base_lr
        init = self.start_factor * peak
        t = steps.astype(np.float64)
        # optax.linear_schedule: (init - end) * (1 - count / W) + end, with end = peak.
        warm = (init - peak) * (1.0 - t / W) + peak if W else t
        # optax.cosine_decay_schedule on the steps after the warmup.
        count = np.minimum(t - W, float(T - W))
        cosine = 0.5 * (1.0 + _cos(math.pi * np.maximum(count, 0.0) / (T - W)))
        alpha = self.min_lr / peak
        decay = peak * ((1.0 - alpha) * cosine + alpha)
        return np.where(t < W, warm, decay)


@register
class OneCycle(Schedule):
    name = "onecycle"
    summary = "rise from lr/div_factor to lr, then anneal far below (Smith's 1cycle)"
    specs = (
        _TOTAL_STEPS,
        Hyper(
            "pct_start",
            0.3,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
            help="fraction of the cycle spent rising",
        ),
        Hyper("div_factor", 25.0, low=1.0, help="first rate = lr / div_factor"),
        Hyper("final_div_factor", 1e4, low=1.0, help="last rate = first rate / final_div_factor"),
    )
    equations = (
        "η_start = η₀/div,  η_end = η_start/final_div,  P = pct_start·T − 1\n"
        "cos-anneal(a, b, p) = b + ½(a − b)(1 + cos(π p))\n"
        "ηₜ = cos-anneal(η_start, η₀, t/P) for t ≤ P,  cos-anneal(η₀, η_end, (t − P)/(T − 1 − P)) "
        "after"
    )
    reference = (
        "torch.optim.lr_scheduler.OneCycleLR(max_lr=lr, total_steps, pct_start, div_factor, "
        "final_div_factor, anneal_strategy='cos', three_phase=False); after total_steps (where "
        "torch raises) the last rate is held; Smith & Topin, Super-Convergence, 2017; Smith, "
        "A disciplined approach to neural network hyper-parameters, 2018"
    )

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        # torch accepts total_steps + 1 values (the last one slightly past the end of the
        # cosine) and raises after; we hold that last value.
        self._horizon = self.total_steps

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        T = self.total_steps
        peak = self.base_lr
        initial = peak / self.div_factor
        final = initial / self.final_div_factor
        end1 = float(self.pct_start * T) - 1  # torch's phase boundaries
        end2 = T - 1
        t = steps.astype(np.float64)
        rising = t <= end1
        with np.errstate(divide="ignore", invalid="ignore"):
            # torch divides 0 by 0 when pct_start * total_steps == 1 (phase 1 is step 0 only);
            # we give step 0 the end of that phase, the peak.
            pct = np.where(rising, t / end1 if end1 > 0 else 1.0, (t - end1) / (end2 - end1))
        a = np.where(rising, initial, peak)
        b = np.where(rising, peak, final)
        # torch: end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return b + (a - b) / 2.0 * (_cos(math.pi * pct) + 1)


@register
class Polynomial(Schedule):
    name = "polynomial"
    summary = "decay to 0 at total_steps along (1 - t/T)^power"
    specs = (
        _TOTAL_STEPS,
        Hyper("power", 1.0, low=0.0, low_open=True, help="1 = linear decay"),
    )
    equations = (
        "ηₜ = η₀ · (1 − min(t, T)/T)^p\n"
        "(torch steps it recursively: ηₜ = ηₜ₋₁ · ((1 − t/T) / (1 − (t−1)/T))^p)"
    )
    reference = "torch.optim.lr_scheduler.PolynomialLR(total_iters=total_steps, power)"
    _recursive = True

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self._horizon = self.total_steps

    def _closed(self, steps: np.ndarray) -> np.ndarray:
        # torch: base_lr * (1.0 - min(total_iters, last_epoch) / total_iters) ** power
        T = self.total_steps
        return self.base_lr * _pow(1.0 - steps.astype(np.float64) / T, self.power)

    def _ratio(self, t: np.ndarray) -> np.ndarray:
        T = self.total_steps
        return _pow((1.0 - t / T) / (1.0 - (t - 1) / T), self.power)

    def _replay(self, start: int, stop: int, prev: float | None) -> np.ndarray:
        return self._product(start, stop, prev, self.base_lr, self._ratio)


@register
class Plateau(Schedule):
    """ReduceLROnPlateau in mode 'min' with a relative threshold.

    What it is fed: a Run calls `observe(loss, step)` at each evaluation with the evaluation
    loss (every `eval_every` steps), or, when evaluation is off (eval_every = 0), at the end of
    each epoch with the mean training loss of that epoch (`Task.steps_per_epoch` updates: one
    pass over the training data; one update for tasks without a data set). So `patience` and
    `cooldown` count evaluations (or epochs), as in torch's usual
    `scheduler.step(val_loss)` once per epoch.

    Indexing: observation number k (k = 1, 2, ...) is torch's k-th `scheduler.step(loss)`
    call; the rate it decides applies from `lr(step)` on, i.e. to the updates after the
    `step`-th. `observe(loss)` without a step means "one step after the previous
    observation" (torch's indexing when fed once per step). Steps not yet observed answer the
    current rate, so `curve(n)` is flat until the run feeds losses.
    """

    name = "plateau"
    summary = "cut the rate by factor when the eval loss stops improving for patience evals"
    specs = (
        Hyper(
            "factor",
            0.1,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
            help="new rate = rate · factor",
        ),
        Hyper(
            "patience",
            10,
            kind="int",
            low=0,
            help="evaluations (epochs when eval is off) without improvement tolerated",
        ),
        Hyper(
            "threshold",
            1e-4,
            low=0.0,
            high=1.0,
            high_open=True,
            help="improvement means loss < best · (1 − threshold)",
        ),
        Hyper(
            "cooldown",
            0,
            kind="int",
            low=0,
            help="evaluations (epochs when eval is off) to wait after a cut",
        ),
        Hyper("min_lr", 0.0, low=0.0, help="the rate is never cut below this"),
    )
    equations = (
        "fed L = the eval loss at each evaluation (eval off: each epoch's mean training loss)\n"
        "if L < best·(1 − threshold): best ← L, bad ← 0, else bad ← bad + 1;  "
        "during cooldown bad ← 0\n"
        "if bad > patience: η ← max(η·factor, min_lr) (skipped if the cut is < 1e-8), "
        "cooldown starts"
    )
    reference = (
        "torch.optim.lr_scheduler.ReduceLROnPlateau(mode='min', factor, patience, threshold, "
        "threshold_mode='rel', cooldown, min_lr, eps=1e-8), stepped with the validation loss"
    )
    preview_note = (
        "depends on the loss it is fed: the eval loss at each evaluation (each epoch's mean "
        "training loss when eval is off); shown flat until the run feeds it"
    )
    stateful = True
    #: torch's eps: a cut smaller than this is skipped.
    eps: ClassVar[float] = 1e-8

    def __init__(self, base_lr: float, **knobs: Any) -> None:
        super().__init__(base_lr, **knobs)
        self.reset()

    def reset(self) -> None:
        self.current_lr = self.base_lr
        self.best = math.inf
        self.num_bad_steps = 0
        self.cooldown_counter = 0
        self.observed = 0  # the step of the newest observation
        # (step, rate): lr(step) changes to rate at step. One list of tuples, appended
        # atomically, because the UI may draw curve() while the run thread observes.
        self._cuts: list[tuple[int, float]] = []

    def observe(self, loss: float, step: int | None = None) -> None:
        """Feed a loss measured after `step` updates (default: one step after the previous
        observation); the rate it decides applies to the updates after that."""
        step = self.observed + 1 if step is None else _as_step(step)
        if step <= self.observed:
            raise ValueError(
                f"step must increase from one observation to the next: {step} after {self.observed}"
            )
        # Same statements, same order as ReduceLROnPlateau.step(metrics).
        current = float(loss)
        if current < self.best * (1.0 - self.threshold):
            self.best = current
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_steps = 0  # bad steps during cooldown do not count
        if self.num_bad_steps > self.patience:
            old = self.current_lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self._cuts.append((step, new))
                self.current_lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_steps = 0
        self.observed = step

    def _lr(self, step: int) -> float:
        if step >= self.observed:
            return self.current_lr
        i = bisect.bisect_right(self._cuts, step, key=lambda cut: cut[0])
        return self._cuts[i - 1][1] if i else self.base_lr

    def curve(self, n: int) -> np.ndarray:
        n = _as_step(n)
        out = np.full(n, self.base_lr, dtype=np.float64)
        for step, value in list(self._cuts):
            out[step:] = value
        return out
