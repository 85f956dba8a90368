"""Inside the optimizer: what each one keeps, and a run's state read per parameter by name.

Declarations (class attributes of every optimizer, for help screens and `optplay list`):

    from engine import optimizers
    doc = optimizers.get("adam").state_doc          # a StateDoc
    doc.state        # (Quantity("exp_avg", "m", "first moment ..."), ...) torch's state keys
    doc.derived      # per-element quantities computed from the state: m̂, v̂, effective_lr
    doc.scalars      # per-step scalars: lr, bias corrections, β₁,t, μ_t, ρ_t ...
    doc.summaries    # what a run's state summaries record per parameter group
    doc.effective_lr # how the effective learning rate is defined (one paragraph)

The effective learning rate α is, per coordinate, the factor the optimizer multiplies the
gradient (or its momentum) by in this step: Δθ = −α ⊙ X, where X is g, m̂ or the momentum
buffer as the optimizer's `doc.effective_lr` says (SGD: α = η everywhere; Adam: α = η/(√v̂ + ε)
applied to m̂). Weight decay that the optimizer applies to θ directly (AdamW's θ(1 − ηλ)) is
not part of α.

Reading a run (`engine.run.Run` delegates to `StateProbe`):

    run.optimizer_state()   # {"W1": {"step": 12, "exp_avg": <view>, "exp_avg_sq": <view>}, ...}
    snap = run.inspect()    # StateInspection: per parameter g, Δθ, state, derived, scalars
    snap.params["x"].derived["effective_lr"]      # 2-D tasks: parameters "x" and "y"

Parameters are named as the task names them (`W1`, `b1`, ...); a 2-D landscape's single
"xy" vector is shown as two scalar parameters "x" and "y". Elementwise optimizers step the
run's whole flat buffer under one key, so the state arrays are sliced back per parameter:
every array returned is a read-only view (no copy) of the live state, or a fresh read-only
array for derived quantities. Reading never changes the run: nothing is created, written or
advanced (a buffer the optimizer has not created yet is simply absent).

Thread safety: while a stream is stepping, views change under the reader. `inspect()` never
waits for the stepping thread and says so (`live=True`: values may straddle two steps);
`inspect(wait=True)` waits for the step in progress and is consistent. `snapshot()` copies
every array, for keeping or shipping to another process (all results are plain data:
dataclasses, dicts, arrays and numbers, so they pickle).

What a State view needs, and where it is:
- a 2-D task, one row per coordinate: `inspect().params["x"]` has `grad` (g), `state`
  ("exp_avg" m, "exp_avg_sq" v, ...), `derived` ("exp_avg_hat" m̂, "exp_avg_sq_hat" v̂,
  "effective_lr" α) and `update` (the step taken); label the columns with
  `doc.quantity(key).symbol` and show `doc.effective_lr` as the help;
- a network, per parameter: the α band over time from `run.state_summaries.band(name,
  "effective_lr", n_points)` (log axis: α spans decades), today's distribution from
  `inspect([name]).params[name].derived["effective_lr"]` (a histogram);
- the bias corrections, β₁,t, μ_t, ρ_t over time from `run.state_summaries.scalar(key)`,
  the keys being `summaries.scalars` (declared in `doc.scalars`);
- a race: the same per lane (each lane is a Run).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.quantiles import order_statistics_into

__all__ = [
    "ParamState",
    "Quantity",
    "StateDoc",
    "StateInspection",
    "StateProbe",
    "Summary",
]


# -- declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """One named quantity of an optimizer: a state key, a derived array or a scalar.

    `key` is its name in every dict and file (torch's state key where torch has one),
    `symbol` how a chart or table labels it ("m", "v̂", "α"), `help` one line on what it is.
    `knob` names the knob that must be on (true or non-zero) for it to exist, e.g.
    "momentum" for a momentum buffer, "amsgrad" for max_exp_avg_sq ("" = always)."""

    key: str
    symbol: str
    help: str
    knob: str = ""

    def applies(self, knobs: Mapping[str, Any]) -> bool:
        """Whether the quantity exists under these knob values."""
        return not self.knob or bool(knobs.get(self.knob))


@dataclass(frozen=True)
class Summary(Quantity):
    """A per-group series recorded by state summaries: the quantiles of `op(source)`, where
    `source` is a state key or a derived key and `op` is "" (as is), "abs" or "sqrt".

    With `via`, the series is instead a monotone elementwise function of summary `via` (the
    optimizer's `summary_map`, e.g. α = η/(√v̂ + ε) of √v̂), so its quantiles are that function
    of `via`'s order statistics (mirrored when `decreasing`): the same numbers as quantiles
    of the function's array, without computing or sorting that array."""

    source: str = ""
    op: str = ""
    via: str = ""
    decreasing: bool = False


@dataclass(frozen=True)
class StateDoc:
    """What an optimizer keeps and shows: the `state_doc` class attribute of every optimizer."""

    state: tuple[Quantity, ...] = ()
    derived: tuple[Quantity, ...] = ()
    scalars: tuple[Quantity, ...] = ()
    summaries: tuple[Summary, ...] = ()
    effective_lr: str = ""
    #: Scalars recorded over time by state summaries (None: every scalar but lr, which the
    #: run's history has already).
    tracked: tuple[str, ...] | None = None

    def tracked_scalars(self) -> tuple[Quantity, ...]:
        """The scalars state summaries record per step."""
        if self.tracked is None:
            return tuple(q for q in self.scalars if q.key != "lr")
        return tuple(q for q in self.scalars if q.key in self.tracked)

    def quantity(self, key: str) -> Quantity | None:
        """The declaration of `key` among state, derived, scalars and summaries."""
        for q in (*self.state, *self.derived, *self.scalars, *self.summaries):
            if q.key == key:
                return q
        return None

    def lines(self) -> list[str]:
        """A plain-text description (what `optplay list` and the help screen show)."""

        def rows(title: str, items: Sequence[Quantity]) -> list[str]:
            if not items:
                return []
            out = [f"{title}:"]
            width = max(len(f"{q.key} ({q.symbol})") for q in items)
            for q in items:
                when = f" [when {q.knob}]" if q.knob else ""
                out.append(f"  {f'{q.key} ({q.symbol})':<{width}}  {q.help}{when}")
            return out

        lines = rows("state", self.state) + rows("derived", self.derived)
        lines += rows("per step", self.scalars)
        if self.effective_lr:
            lines.append(f"effective lr: {self.effective_lr}")
        return lines


# -- results ------------------------------------------------------------------------------


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of `a` (no copy)."""
    v = a.view()
    v.flags.writeable = False
    return v


@dataclass(frozen=True)
class ParamState:
    """One parameter's view of the optimizer after the run's last step.

    `grad` is the gradient the task returned at that step (before weight decay or sign
    flips), `update` the step actually taken, θ_t − θ_{t−1} (None before the first step).
    `state` maps the optimizer's keys (torch's names; "step" and scalar state such as NAdam's
    "mu_product" are numbers) to read-only views; `derived` maps `effective_lr` and the
    optimizer's m̂ / v̂ etc. to fresh read-only arrays of the parameter's shape; `scalars` are
    the per-step scalars of the last step (lr, bias corrections, β₁,t, μ_t, ρ_t ...)."""

    name: str
    shape: tuple[int, ...]
    step: int
    grad: np.ndarray
    update: np.ndarray | None
    state: dict[str, Any]
    derived: dict[str, np.ndarray]
    scalars: dict[str, Any]


@dataclass(frozen=True)
class StateInspection:
    """The optimizer state of a whole run, per parameter (see `Run.inspect`).

    `step` is the run's step; `live` is True when it was read while a stream was stepping
    (views may then straddle two steps, and keep changing: `snapshot()` freezes them).
    `doc` says what every key means."""

    optimizer: str
    step: int
    live: bool
    doc: StateDoc
    params: dict[str, ParamState] = field(default_factory=dict)

    @property
    def scalars(self) -> dict[str, Any]:
        """The per-step scalars of the first parameter (every parameter steps together, so
        they are the same for all, except Adafactor's per-parameter alpha and clip)."""
        for p in self.params.values():
            return p.scalars
        return {}

    def snapshot(self) -> StateInspection:
        """A copy whose arrays are copies (writeable, no longer tied to the run)."""

        def copied(d: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}

        params = {
            name: dataclasses.replace(
                p,
                grad=p.grad.copy(),
                update=None if p.update is None else p.update.copy(),
                state=copied(p.state),
                derived=copied(p.derived),
            )
            for name, p in self.params.items()
        }
        return dataclasses.replace(self, params=params)


# -- reading a run's state per parameter -----------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """A named parameter (or one coordinate of a 2-D landscape) inside an optimizer key."""

    name: str
    key: str  # the optimizer's key ("flat" for elementwise optimizers in a Run)
    start: int  # element range inside the key's flattened arrays
    stop: int
    offset: int  # element offset inside the run's flat buffers (grads, prev, update)
    shape: tuple[int, ...]
    whole: bool  # the group is the whole key (then non-elementwise arrays belong to it)


class StateProbe:
    """Reads a Run's optimizer state per parameter; builds the rows of state summaries.

    Built by `Run` from its optimizer and buffer layout; everything it returns is a view or
    a fresh array, so it never changes the run. `params` maps names to the run's parameter
    views (in the run's flat order); `grad_flat`, `prev_flat` and `update_flat` are the run's
    flat buffers of the last step's gradient, the parameters before it and θ_t − θ_{t−1}."""

    def __init__(
        self,
        optimizer: Any,
        params: Mapping[str, np.ndarray],
        grad_flat: np.ndarray,
        prev_flat: np.ndarray,
        update_flat: np.ndarray,
        split_xy: bool = False,
        now_flat: np.ndarray | None = None,
        start_flat: np.ndarray | None = None,
    ) -> None:
        self.optimizer = optimizer
        self._grad_flat = grad_flat
        self._prev_flat = prev_flat
        self._update_flat = update_flat
        # The run's parameters now and at step 0: a coordinate still at its start value was
        # never updated (it never got a gradient: α there is η/ε, up to 1e9), and is left out
        # of the summaries' quantiles (`never_updated`).
        self._now_flat = now_flat
        self._start_flat = start_flat
        elementwise = bool(getattr(optimizer, "elementwise", False))
        groups: list[_Group] = []
        offset = 0
        for name, p in params.items():
            size = int(p.size)
            key, start = ("flat", offset) if elementwise else (name, 0)
            whole = not elementwise
            if split_xy and size == 2 and len(params) == 1:
                # A 2-D landscape: its one vector shown as the two coordinates x and y.
                for i, coord in enumerate(("x", "y")):
                    groups.append(
                        _Group(coord, key, start + i, start + i + 1, offset + i, (), False)
                    )
            else:
                groups.append(_Group(name, key, start, start + size, offset, tuple(p.shape), whole))
            offset += size
        self.groups: tuple[_Group, ...] = tuple(groups)
        # Per optimizer key: the run's last gradient and previous params in the key's shape.
        self._key_arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if elementwise:
            self._key_arrays["flat"] = (grad_flat, prev_flat)
        else:
            offset = 0
            for name, p in params.items():
                size = int(p.size)
                self._key_arrays[name] = (
                    grad_flat[offset : offset + size].reshape(p.shape),
                    prev_flat[offset : offset + size].reshape(p.shape),
                )
                offset += size
        self.names: tuple[str, ...] = tuple(g.name for g in self.groups)

    # -- slicing ------------------------------------------------------------------------

    @staticmethod
    def _slice(a: np.ndarray, g: _Group, key_size: int) -> np.ndarray | None:
        """The part of key array `a` that belongs to group `g`, as a read-only view; None
        for an array that is not elementwise (e.g. Adafactor's row factor) of a partial group."""
        if a.size != key_size:
            return read_only(a) if g.whole else None
        return read_only(a.reshape(-1)[g.start : g.stop].reshape(g.shape))

    def _key_size(self, key: str) -> int:
        grad, _ = self._key_arrays[key]
        return int(grad.size)

    def optimizer_state(self) -> dict[str, dict[str, Any]]:
        """{parameter: {"step": t, state key: read-only view, scalar state: number}}.

        A parameter the optimizer has not stepped yet maps to an empty dict."""
        opt = self.optimizer
        out: dict[str, dict[str, Any]] = {}
        for g in self.groups:
            if not opt.has_state(g.key):
                out[g.name] = {}
                continue
            entry: dict[str, Any] = {}
            size = self._key_size(g.key)
            for k, v in opt.state(g.key).items():
                if isinstance(v, np.ndarray):
                    part = self._slice(v, g, size)
                    if part is not None:
                        entry[k] = part
                else:
                    entry[k] = v
            out[g.name] = entry
        return out

    def inspect(self, step: int, live: bool, names: Sequence[str] | None = None) -> StateInspection:
        """Everything about the last step per parameter (see `StateInspection`)."""
        opt = self.optimizer
        wanted = set(self.names if names is None else names)
        unknown = wanted - set(self.names)
        if unknown:
            raise ValueError(
                f"unknown parameter {sorted(unknown)[0]!r} (expected one of: "
                f"{', '.join(self.names)})"
            )
        states = self.optimizer_state()
        derived_by_key: dict[str, dict[str, np.ndarray]] = {}
        params: dict[str, ParamState] = {}
        for g in self.groups:
            if g.name not in wanted:
                continue
            stepped = opt.has_state(g.key)
            if stepped and g.key not in derived_by_key:
                grad, prev = self._key_arrays[g.key]
                derived_by_key[g.key] = opt.derived(g.key, grad, prev)
            size = self._key_size(g.key)
            derived: dict[str, np.ndarray] = {}
            for k, v in derived_by_key.get(g.key, {}).items():
                part = self._slice(v, g, size)
                if part is not None:
                    derived[k] = part
            sc = opt.scalars(g.key) if stepped else None
            flat = slice(g.offset, g.offset + (g.stop - g.start))
            params[g.name] = ParamState(
                name=g.name,
                shape=g.shape,
                step=states[g.name].get("step", 0),
                grad=read_only(self._grad_flat[flat].reshape(g.shape)),
                update=read_only(self._update_flat[flat].reshape(g.shape)) if stepped else None,
                state=states[g.name],
                derived=derived,
                scalars={} if sc is None else sc._asdict(),
            )
        return StateInspection(opt.name, step, live, opt.state_doc, params)

    def effective_lr_flat(self) -> np.ndarray | None:
        """The effective lr α of every parameter in the run's flat order (a float64 array,
        read-only), None before the first step or when the optimizer does not define one."""
        opt = self.optimizer
        parts = []
        for key, (grad, prev) in self._key_arrays.items():
            if not opt.has_state(key):
                return None
            alpha = opt.derived(key, grad, prev, {"effective_lr"}).get("effective_lr")
            if alpha is None or alpha.size != grad.size:
                return None
            parts.append(np.asarray(alpha, np.float64).reshape(-1))
        # One key (an elementwise optimizer's flat buffer): its array as it is, no copy.
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def never_updated(self) -> np.ndarray | None:
        """Which parameters (in the run's flat order) are still at their start value: never
        updated, so never given a gradient (a fresh bool array); None when not tracked or
        when nothing moved yet (before the first step every coordinate is at its start)."""
        if self._now_flat is None or self._start_flat is None:
            return None
        same = self._now_flat == self._start_flat
        return None if same.all() else same

    # -- summaries ----------------------------------------------------------------------

    def summary_layout(self) -> tuple[tuple[str, ...], tuple[Summary, ...], tuple[Quantity, ...]]:
        """(group names, summaries, tracked scalars) recorded under the current knobs."""
        opt = self.optimizer
        summaries = tuple(q for q in opt.state_doc.summaries if q.applies(opt.hypers))
        return self.names, summaries, opt.state_doc.tracked_scalars()

    def summary_row(
        self, summaries: Sequence[Summary], scalars: Sequence[Quantity], out: np.ndarray
    ) -> None:
        """Fill `out` with one record: per group, per summary, the 5 quantiles (see
        `engine.quantiles.QUANTILES`), then the tracked scalars (bools as 0/1, None as NaN)."""
        with np.errstate(all="ignore"):
            self._summary_row(summaries, scalars, out)

    def _summary_row(
        self, summaries: Sequence[Summary], scalars: Sequence[Quantity], out: np.ndarray
    ) -> None:
        opt = self.optimizer
        direct = [q for q in summaries if not q.via]
        mirrored = {q.via for q in summaries if q.via and q.decreasing}
        arrays: dict[str, dict[str, np.ndarray | None]] = {}
        stats = np.empty((len(direct), 10))
        col = 0
        never = self.never_updated()
        for g in self.groups:
            if g.key not in arrays:
                if opt.has_state(g.key):
                    grad, prev = self._key_arrays[g.key]
                    arrays[g.key] = opt.summary_arrays(g.key, direct, grad, prev)
                else:
                    arrays[g.key] = {}
            per_key = arrays[g.key]
            size = self._key_size(g.key)
            found: dict[str, np.ndarray | None] = {}
            moved = None
            if never is not None:
                moved = ~never[g.offset : g.offset + (g.stop - g.start)]
                moved = None if moved.all() or not moved.any() else moved
            for i, q in enumerate(direct):
                a = per_key.get(q.key)
                if a is None or a.size != size:
                    found[q.key] = None
                    continue
                values = a.reshape(-1)[g.start : g.stop]
                if moved is not None:
                    values = values[moved]
                order_statistics_into(values, stats[i], q.key in mirrored)
                found[q.key] = stats[i]
            for q in summaries:
                base = found.get(q.via or q.key)
                if base is None:
                    out[col : col + 5] = math.nan
                elif not q.via:
                    out[col : col + 5] = base[:5]
                else:
                    x = base[5:10] if q.decreasing else base[:5]
                    out[col : col + 5] = opt.summary_map(g.key, q.key, x)
                col += 5
        sc = opt.scalars(self.groups[0].key) if opt.has_state(self.groups[0].key) else None
        for q in scalars:
            value = None if sc is None else getattr(sc, q.key, None)
            out[col] = math.nan if value is None else float(value)
            col += 1
