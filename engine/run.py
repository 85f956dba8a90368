"""Runs: a validated `RunConfig`, and `Run`, which trains it step by step or as an async stream.

Step numbering (used by the history, the progress snapshots and `diverged_at`):
- step 0 is the initial state; the k-th update (k = 1, 2, ...) produces step k.
- update k uses lr = schedule.lr(k - 1) (schedules count from 0) and the k-th batch; its metrics
  are recorded at step k: the batch loss *before* the update, the lr, the gradient norm, the
  update norm ||params_after - params_before|| and the update-to-gradient ratio
  update_grad_ratio = update_norm / grad_norm (NaN when the gradient is exactly zero; not a
  learning rate: momentum and per-coordinate scaling are mixed in, see `inspect()`).
- eval metrics are recorded at step 0 and at every step divisible by `eval_every`.

Learning rate: the optimizer's `lr` knob is the schedule's base rate. The rate actually used by
each update is `schedule.lr(step)`, passed to `optimizer.step(..., lr=...)`; changing `lr`
while paused rebuilds the schedule with the new base rate (its position, the global step,
is kept; a plateau schedule's reductions start over).

Divergence: an update is not kept when its loss, gradient, learning rate or resulting
parameters are not finite, or when its loss has exploded: L > L0 + divergence_factor ·
max(|L0|, 1), where L0 is the loss of the first update and divergence_factor a RunConfig field
(default 1e6; inf turns the check off). The max(|L0|, 1) keeps a run that starts at or near a
loss of 0, or below 0 (saddle's minimum is -0.25), from being called diverged for growing past
a tiny number. The run stops in state "diverged" with `diverged_at` = that update's step
number and `divergence` saying why, the params stay those of the last kept step
(`diverged_at - 1`) and nothing is raised. Finiteness is checked through the squared norms
(a NaN/inf element makes the sum non-finite); a finite but enormous gradient whose squared
norm overflows (|g| > ~1e154 in float64, ~1e19 in float32) counts as divergence too.

Plateau: a stateful schedule (plateau) is fed, after the update that completes it, the
evaluation loss at each evaluation (every `eval_every` steps), or, when evaluation is off
(eval_every = 0), the mean training loss of each epoch (`task.steps_per_epoch` updates: one
pass over the training data; one update for tasks without a data set).

Determinism: init and batches use independent generators spawned from the seed, eval uses no
randomness, and every step runs the same code path, so a config and seed give bit-identical
histories however the run is chunked (step(1) repeatedly, step(n), stream, pause/resume).

Speed: parameters and gradients live in one flat contiguous buffer each (the per-key arrays are
views), so an elementwise optimizer updates everything with one call on the flat buffer and the
norms are two dot products.

Inside the optimizer (engine.optimizer_state, engine.state_history): `optimizer_state()` and
`inspect()` read the optimizer's state per parameter by name (read-only views, sliced back from
the flat buffer); with `RunConfig.state_every = k > 0` the run records state summaries
(quantiles of the effective lr, |m|, √v̂ ... per parameter) every k steps in
`state_summaries`. Reading never changes the run.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import optimizers, schedules, tasks
from engine.history import History
from engine.hyper import _show
from engine.kinds import KINDS, registry
from engine.knobs import KnobError as KnobError  # re-exported: callers catch it from here
from engine.knobs import apply_overrides, owners_of, route
from engine.optimizer_state import StateInspection, StateProbe
from engine.optimizers import compiled
from engine.state_history import DEFAULT_CAPACITY, StateSummaries
from engine.stepping import Stepper, _is_int
from engine.tasks.base import seeded_rngs
from engine.theory import SharpnessProbe

DTYPES = ("float64", "float32")
STATES = ("ready", "running", "paused", "finished", "diverged")
_SEED_MAX = 2**63 - 1  # experiment files store the seed as a TOML (signed 64-bit) integer
#: A run diverges when its loss exceeds L0 + DIVERGENCE_FACTOR * max(|L0|, 1) (module doc).
DIVERGENCE_FACTOR = 1e6
#: Hessian-vector products per sharpness measurement once the first one has converged.
SHARPNESS_WARM_ITER = 2


class RunConfigError(ValueError):
    """A RunConfig field is invalid. `field` names it ("optimizer_hypers"), `key` the knob inside
    it when there is one ("beta1"), `detail` the message without the field prefix."""

    def __init__(self, field_name: str, detail: str, key: str | None = None) -> None:
        super().__init__(f"{field_name}: {detail}")
        self.field = field_name
        self.key = key
        self.detail = detail


def suggested_lr(task: Any, optimizer: Any) -> float | None:
    """The learning rate `task` suggests for `optimizer` (Task.suggested_lr), or None: a run
    that does not set lr uses it, wherever it comes from (the app, the CLI, a file)."""
    try:
        suggestions = registry("task").get(task).suggested_lr
    except ValueError:
        return None  # an unknown task: its own error comes next
    try:
        return suggestions.get(optimizer)
    except TypeError:  # an unhashable optimizer name: its own error comes next
        return None


def _check_full_batch(optimizer: str, task: str, task_hypers: Mapping[str, Any]) -> None:
    """Closure optimizers that compare losses across evaluations (L-BFGS) need the same
    objective at every evaluation: a full batch and no gradient noise."""
    if not optimizers.get(optimizer).full_batch_only:
        return
    if task_hypers.get("batch_size", 0):
        raise RunConfigError(
            "optimizer",
            f"{optimizer} needs full-batch gradients; task {task} has batch_size "
            f"{task_hypers['batch_size']}: set batch_size=full",
        )
    if task_hypers.get("grad_noise", 0.0):
        raise RunConfigError(
            "optimizer",
            f"{optimizer} needs full-batch gradients; task {task} has grad_noise "
            f"{task_hypers['grad_noise']:g}: set grad_noise=0",
        )


def _hyper_error(field_name: str, err: ValueError, names: list[str]) -> RunConfigError:
    """Wrap a registry validation error, finding which knob it names (its first word)."""
    detail = str(err)
    word = detail.split(" ", 1)[0]
    return RunConfigError(field_name, detail, word if word in names else None)


def _validate_kind(
    field_name: str, registry: Any, name: Any, hypers_field: str, given: Any
) -> tuple[str, dict[str, Any]]:
    if not isinstance(name, str):
        raise RunConfigError(field_name, f"must be a name (a string), got {_show(name)}")
    try:
        cls_hypers = registry.specs(name)
    except ValueError as err:
        raise RunConfigError(field_name, str(err)) from None
    if not isinstance(given, Mapping):
        raise RunConfigError(
            hypers_field, f"must be a mapping of knob names to values, got {_show(given)}"
        )
    names = [h.name for h in cls_hypers] + [str(k) for k in given]
    try:
        values = registry.validate(name, dict(given))
    except ValueError as err:
        raise _hyper_error(hypers_field, err, names) from None
    return name, values


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Validated on creation: a bad value raises
    `RunConfigError` (a ValueError) whose message starts with the field's name, e.g.
    "optimizer_hypers: beta1 must be a number in [0, 1), got 1.5". Hypers are stored validated,
    with defaults filled in (an lr not given is the task's suggestion for the optimizer, if it
    has one: `suggested_lr`, else the optimizer's default). `eval_every` = 0 turns evaluation
    off (except at step 0).
    `state_every` = k > 0 records optimizer-state summaries every k steps (0: off, no cost);
    it changes no number of the run. Experiment files do not store it (a viewing choice).
    `sharpness_every` = k > 0 measures the sharpness (engine/theory.py) every k steps, the
    same way: recorded in the history, no number of the run changed, not stored in files.
    `divergence_factor` says when a finite loss counts as divergence (see the module doc)."""

    task: str
    optimizer: str
    schedule: str = "constant"
    seed: int = 0
    task_hypers: dict[str, Any] = field(default_factory=dict)
    optimizer_hypers: dict[str, Any] = field(default_factory=dict)
    schedule_hypers: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float64"
    eval_every: int = 100
    state_every: int = 0
    divergence_factor: float = DIVERGENCE_FACTOR
    sharpness_every: int = 0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        # isinstance first: np.dtype("float64") == "float64", but only names are saveable.
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise RunConfigError(
                "dtype", f"must be one of {', '.join(DTYPES)}, got {_show(self.dtype)}"
            )
        put("dtype", str(self.dtype))
        if not _is_int(self.seed) or not 0 <= self.seed <= _SEED_MAX:
            raise RunConfigError("seed", f"must be an integer in [0, 2^63), got {_show(self.seed)}")
        put("seed", int(self.seed))
        if not _is_int(self.eval_every) or not 0 <= self.eval_every <= _SEED_MAX:
            raise RunConfigError(
                "eval_every",
                f"must be an integer >= 0 (0 = only at step 0) and < 2^63, "
                f"got {_show(self.eval_every)}",
            )
        put("eval_every", int(self.eval_every))
        if not _is_int(self.state_every) or not 0 <= self.state_every <= _SEED_MAX:
            raise RunConfigError(
                "state_every",
                f"must be an integer >= 0 (0 = off) and < 2^63, got {_show(self.state_every)}",
            )
        put("state_every", int(self.state_every))
        if not _is_int(self.sharpness_every) or not 0 <= self.sharpness_every <= _SEED_MAX:
            raise RunConfigError(
                "sharpness_every",
                f"must be an integer >= 0 (0 = off) and < 2^63, got {_show(self.sharpness_every)}",
            )
        put("sharpness_every", int(self.sharpness_every))
        factor = self.divergence_factor
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float | np.integer | np.floating)
            or not float(factor) > 0.0  # also NaN
        ):
            raise RunConfigError(
                "divergence_factor",
                f"must be a number in (0, inf] (inf = only non-finite values), got {_show(factor)}",
            )
        put("divergence_factor", float(factor))
        for kind in KINDS:  # the task first: it may suggest the optimizer's lr
            hypers_field = f"{kind}_hypers"
            given = getattr(self, hypers_field)
            if kind == "schedule" and isinstance(given, Mapping):
                given = self._epochs_in_steps(given)
            if kind == "optimizer" and isinstance(given, Mapping) and "lr" not in given:
                suggested = suggested_lr(self.task, self.optimizer)
                if suggested is not None:
                    given = {**given, "lr": suggested}
            name, values = _validate_kind(kind, registry(kind), getattr(self, kind), hypers_field,
                                          given)  # fmt: skip
            put(kind, name)
            put(hypers_field, values)
        _check_full_batch(self.optimizer, self.task, self.task_hypers)

    def _epochs_in_steps(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        """The schedule's knobs with those given in epochs ("3 epochs") in steps: the task's
        steps per epoch (one pass over its training set at its batch size) times the count.
        RunConfigError naming the knob when the task has no data set (no epochs)."""
        wanted = {k: v for k, v in given.items() if schedules.is_epochs(str(k), v)}
        if not wanted:
            return given
        task = tasks.create(self.task, dtype=self.dtype, **self.task_hypers)
        knob = next(iter(wanted))
        if getattr(task, "X", None) is None:
            raise RunConfigError(
                "schedule_hypers",
                f"{knob} = {wanted[knob]!r}: task {self.task} has no data set, so no epochs; "
                "give the steps (an integer)",
                knob,
            )
        converted = dict(given)
        for name, raw in wanted.items():
            try:
                converted[name] = schedules.in_steps(name, raw, task.steps_per_epoch)
            except ValueError as err:
                raise RunConfigError("schedule_hypers", str(err), name) from None
        return converted

    def replace(self, **changes: Any) -> RunConfig:
        """A validated copy with `changes`. When the task, optimizer or schedule kind changes
        and its hypers are not given, the new kind starts from its own defaults (nothing is
        carried over: what a switch keeps is the playground session's rule)."""
        fields = [f.name for f in dataclasses.fields(self)]
        for name in changes:
            if name not in fields:
                raise RunConfigError(
                    name, f"is not a RunConfig field (expected one of: {', '.join(fields)})"
                )
        for kind in KINDS:
            hypers_field = f"{kind}_hypers"
            new = changes.get(kind, getattr(self, kind))
            if new != getattr(self, kind) and hypers_field not in changes:
                changes[hypers_field] = {}
        return dataclasses.replace(self, **changes)

    @property
    def lr(self) -> float | None:
        """The optimizer's configured rate (the schedule's base rate)."""
        return self.optimizer_hypers.get("lr")

    def kind_name(self, kind: str) -> str:
        """The task, optimizer or schedule name of this config."""
        return getattr(self, kind)

    def knobs(self, kind: str) -> dict[str, Any]:
        """The validated knob values of the task, optimizer or schedule."""
        return getattr(self, f"{kind}_hypers")

    def knob_owner(self, name: str) -> tuple[str, str]:
        """(kind, knob) set by `name` in the override grammar (engine/knobs.py): "lr" ->
        ("optimizer", "lr"), "task.hidden" -> ("task", "hidden"). KnobError when the knob is
        unknown or ambiguous."""
        (owner, knob), *_ = route(name, owners_of(self))
        return owner.kind, knob

    def with_knobs(self, overrides: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> RunConfig:
        """A validated copy with knobs set by name (the override grammar, engine/knobs.py;
        values may be text, as typed, or typed values). KnobError names the override and what
        is allowed; RunConfigError a rule between knobs."""
        return apply_overrides(self, overrides)


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run, as `stream()` yields it. Metrics are those of the newest step
    (None before the first step); eval metrics those of the newest evaluation."""

    step: int
    state: str
    loss: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    update_norm: float | None = None
    update_grad_ratio: float | None = None
    eval_loss: float | None = None
    eval_accuracy: float | None = None
    steps_per_second: float = 0.0
    diverged_at: int | None = None
    max_steps: int | None = None
    diverged_reason: str | None = None  # why the run diverged (`Run.divergence`)


class Run(Stepper[Progress]):
    """One training run of `config`: synchronous `step(n)` and asynchronous `stream()`.

    States: "ready" (idle), "running" (a stream is stepping), "paused" (pause() was called;
    a stream waits for resume()), "finished" (a stream reached max_steps; stepping on is
    allowed) and "diverged" (terminal until reset()).

    `history_capacity` is the History's bucket count (None: full resolution, every step kept).
    `train_seconds` / `seconds_per_step` measure the wall time of the updates themselves
    (perf_counter around each batch of steps, evaluation time subtracted).
    """

    def __init__(self, config: RunConfig, history_capacity: int | None = 4096) -> None:
        if not isinstance(config, RunConfig):
            raise TypeError(f"Run needs a RunConfig, got {type(config).__name__}")
        super().__init__()  # stream controls; state "ready"
        self.config = config
        self._lock = threading.Lock()  # one stepper at a time (stream worker or step())
        # Bounded by default (the app); None keeps every step (headless runs writing --out).
        self.history = History(history_capacity)
        self._build()

    # -- construction ----------------------------------------------------------------------

    def _build(self) -> None:
        """(Re)create task, optimizer, schedule, params, rngs and history from the config."""
        cfg = self.config
        self.task = tasks.create(cfg.task, dtype=cfg.dtype, **cfg.task_hypers)
        self.optimizer = optimizers.create(cfg.optimizer, **cfg.optimizer_hypers)
        self.schedule = self._make_schedule(cfg)
        init_rng, batch_rng = seeded_rngs(cfg.seed)
        init = self.task.init_params(init_rng)
        self._batches = iter(self.task.batches(batch_rng))

        dtype = np.dtype(cfg.dtype)
        total = sum(int(np.size(a)) for a in init.values())
        self._flat = np.empty(total, dtype)
        self._grad_flat = np.zeros(total, dtype)
        self._prev = np.empty(total, dtype)  # params before the current update
        self._scratch = np.empty(total, dtype)  # params_after - params_before
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        offset = 0
        for key, value in init.items():
            arr = np.asarray(value)
            size = arr.size
            view = self._flat[offset : offset + size].reshape(arr.shape)
            np.copyto(view, arr, casting="same_kind")
            self._params[key] = view
            self._grads[key] = self._grad_flat[offset : offset + size].reshape(arr.shape)
            offset += size
        if getattr(self.optimizer, "elementwise", False):
            # Fast path: one flat buffer under one key (bit-identical for elementwise rules).
            self._opt_params: dict[str, np.ndarray] = {"flat": self._flat}
            self._opt_grads: dict[str, np.ndarray] = {"flat": self._grad_flat}
        else:
            self._opt_params, self._opt_grads = self._params, self._grads

        # Closure optimizers (L-BFGS, SAM) re-evaluate the objective inside a step, into
        # their own gradient buffers: the step's gradient stays what the step received.
        self._closure_grads: dict[str, np.ndarray] | None = None
        if getattr(self.optimizer, "needs_closure", False):
            self._closure_grads = {k: np.zeros_like(v) for k, v in self._params.items()}
        self._closure_evals = 0  # evaluations made inside steps (function_evals counts them)
        self._eval_flat: np.ndarray | None = None  # the optimizer's evaluation point, if any
        self._traced = bool(getattr(self.task, "records_trajectory", False)) and total <= 2
        landscape = bool(getattr(self.task, "is_landscape", False)) and total == 2
        self._probe = StateProbe(
            self.optimizer,
            self._params,
            self._grad_flat,
            self._prev,
            self._scratch,
            split_xy=landscape,
            now_flat=self._flat,
            start_flat=self._flat.copy(),
        )
        self._summaries: StateSummaries | None = None
        if cfg.state_every:
            self._summaries = self._new_summaries()
        self._sharpness: SharpnessProbe | None = None
        self._sharpness_seconds = 0.0
        if cfg.sharpness_every:
            self._sharpness = self._new_sharpness_probe()
        self._step = 0
        self._diverged_at: int | None = None
        self._divergence: str | None = None
        self._loss_limit = math.inf  # set by the first update (see the module doc)
        self._epoch_loss = 0.0  # training losses of the current epoch (plateau, eval off)
        self._last: tuple[float, float, float, float, float] | None = None
        self._eval: dict[str, float] = {}
        self._train_seconds = 0.0
        self.history.clear()
        with np.errstate(all="ignore"):
            self._evaluate()
        if self._traced:  # (x, y); (x, x) for one parameter
            self.history.record_point(0, float(self._flat[0]), float(self._flat[-1]))

    @staticmethod
    def _make_schedule(cfg: RunConfig) -> Any:
        base_lr = cfg.lr
        if base_lr is None:
            return None  # the optimizer sets its own step size (e.g. relative-step Adafactor)
        return schedules.create(cfg.schedule, base_lr, **cfg.schedule_hypers)

    def _evaluate(self) -> None:
        result = self.task.evaluate(self._eval_params())
        self._eval = {k: float(v) for k, v in result.items()}
        self.history.record_eval(self._step, self._eval["loss"], self._eval.get("accuracy"))

    def _eval_params(self) -> dict[str, np.ndarray]:
        """Where the model is evaluated: the parameters, or the optimizer's own evaluation
        point where it has one (schedule-free's average x, `Optimizer.eval_params`), copied
        into per-key views of one buffer so the task sees the usual layout."""
        shifted = self.optimizer.eval_params(self._opt_params)
        if shifted is None:
            return self._params
        if self._eval_flat is None:
            self._eval_flat = np.empty_like(self._flat)
        target = self._eval_flat
        if self._opt_params is self._params:  # per-key optimizer: one view per key
            offset = 0
            for arr in shifted.values():
                target[offset : offset + arr.size] = arr.ravel()
                offset += arr.size
        else:
            np.copyto(target, shifted["flat"])
        out, offset = {}, 0
        for key, p in self._params.items():
            out[key] = target[offset : offset + p.size].reshape(p.shape)
            offset += p.size
        return out

    def evaluate(self) -> None:
        """Evaluate the parameters now and record it at the current step (the
        evaluate-at-the-end rule of `engine.outcome.evaluate_at_end`)."""
        with self._lock:
            self._evaluate()

    # -- the step loop ---------------------------------------------------------------------

    def _advance(self, n: int, interruptible: bool) -> int:
        """Do up to `n` updates (caller holds the lock); returns how many were done.

        With `interruptible`, stop early (between steps, never inside one) when pause or
        cancel is requested, or a hold."""
        # Locals: this loop is the hot path.
        task_step = self.task.loss_and_grads
        batches = self._batches
        params, grads = self._params, self._grads
        # The run's own buffers need none of the optimizer's checks of its arrays (the
        # rate is still checked): the unchecked step unless the optimizer has its own `step`
        # (closures, wrappers), ~0.5 us less a step.
        optimizer = self.optimizer
        opt_params, opt_grads = self._opt_params, self._opt_grads
        closure_grads = self._closure_grads
        flat, gflat, prev, scratch = self._flat, self._grad_flat, self._prev, self._scratch
        unchecked = type(optimizer).step is optimizers.Optimizer.step
        opt_step = optimizer._step_checked if unchecked else optimizer.step
        schedule = self.schedule
        lr_of = schedule._lr if schedule is not None else None  # `lr` without the step's check
        observe = schedule.observe if schedule is not None and schedule.stateful else None
        record = self.history.record
        record_point = self.history.record_point if self._traced else None
        eval_every = self.config.eval_every
        state_every = self.config.state_every if self._summaries is not None else 0
        summarize = self._summarize
        sharpness_every = self.config.sharpness_every if self._sharpness is not None else 0
        epoch = self.task.steps_per_epoch if observe is not None and not eval_every else 0
        dot, copyto, subtract = np.dot, np.copyto, np.subtract
        # The compiled copy and difference when ready (the same numbers, less call overhead;
        # flat, prev and scratch are this run's own 1-D contiguous buffers of one dtype).
        fast = compiled.kernels_for(flat.dtype)
        copy_into = fast["copy_into"] if fast is not None else copyto
        difference = fast["difference"] if fast is not None else subtract
        # The squared norms by NumPy's own BLAS dot in one compiled call each (the same
        # numbers: `_mlp_kernels.sum_sq`), when the build found that BLAS.
        blas = compiled.blas_tables.get(flat.dtype) if fast is not None else None
        sum_sq = difference_sum_sq = None
        if blas is not None and "sum_sq" in fast and 2 <= flat.size < 1 << 30:
            sum_sq, difference_sum_sq = fast["sum_sq"], fast["difference_sum_sq"]
        # On the compiled path, one flat buffer's step (an elementwise rule) as a function of
        # the rate alone; its kernel may also give the update and its squared norm by that
        # BLAS dot (the same numbers as `difference_sum_sq` after it: `adam_norm`, `sgd_norm`,
        # `rmsprop_norm`).
        flat_step = None
        if unchecked and opt_params is not self._params:
            norm = (prev, scratch, blas) if difference_sum_sq is not None else None
            flat_step = optimizer._compiled_flat_step("flat", flat, gflat, norm)
        # The task's compiled step up to the update, in one call where it has one (the batch
        # drawn, loss, gradients, their norm, prev ← flat: `Task._run_pass`), when no
        # closure and no sharpness needs the batch itself.
        run_pass = None
        if sum_sq is not None and closure_grads is None and not sharpness_every:
            run_pass = self.task._run_pass(batches, params, grads, flat, gflat, prev)
        isfinite, sqrt, nan = math.isfinite, math.sqrt, math.nan
        step = self._step
        done = 0
        last = self._last
        limit = self._loss_limit
        perf = time.perf_counter
        eval_seconds = 0.0
        started = perf()
        with np.errstate(all="ignore"):
            while done < n:
                if interruptible and (self._halted or self._held):
                    break
                lr = lr_of(step) if lr_of is not None else None
                if lr is not None and not isfinite(lr):  # e.g. exponential with gamma > 1
                    self._diverge(step + 1, f"the learning rate is not finite ({lr})")
                    break
                if run_pass is not None:
                    loss, gsq = run_pass(limit)  # prev ← flat already when the step is kept
                else:
                    batch = next(batches)
                    loss, g = task_step(params, batch, grads)
                    if g is not grads:
                        for key, arr in g.items():  # a task that ignored `grads`: copy in
                            copyto(grads[key], arr)
                    loss = float(loss)
                    gsq = float(dot(gflat, gflat)) if sum_sq is None else sum_sq(gflat, blas)
                if not (isfinite(loss) and isfinite(gsq)) or loss > limit:
                    self._diverge(step + 1, self._why(loss, gsq, limit))
                    break
                if step == 0:
                    factor = self.config.divergence_factor
                    limit = self._loss_limit = loss + factor * max(abs(loss), 1.0)
                if run_pass is None:
                    copy_into(prev, flat)
                usq = None  # the flat step's kernel may give the update's squared norm
                if flat_step is not None:
                    usq = flat_step(lr)
                elif closure_grads is None:
                    opt_step(opt_params, opt_grads, lr)
                else:
                    opt_step(opt_params, opt_grads, lr=lr, closure=self._closure(batch), loss=loss)
                if usq is None:  # else the flat step left scratch ← flat − prev as here
                    if difference_sum_sq is None:
                        difference(flat, prev, scratch)
                        usq = float(dot(scratch, scratch))
                    else:
                        usq = difference_sum_sq(flat, prev, scratch, blas)
                if not isfinite(usq):
                    copyto(flat, prev)  # keep the params of the last finite step
                    self._diverge(step + 1, "the update is not finite")
                    break
                step += 1
                done += 1
                self._step = step
                gn = sqrt(gsq)
                un = sqrt(usq)
                lr_value = float(lr) if lr is not None else float(optimizer.lr or nan)
                last = (loss, lr_value, gn, un, un / gn if gn > 0.0 else nan)
                record(step, *last)
                if record_point is not None:
                    record_point(step, float(flat[0]), float(flat[-1]))
                if state_every and step % state_every == 0:
                    summarize(step)
                if sharpness_every and step % sharpness_every == 0:
                    t_sharp = perf()
                    self._measure_sharpness(step, batch, lr_value)
                    spent = perf() - t_sharp
                    self._sharpness_seconds += spent
                    eval_seconds += spent  # not training time: time/step stays comparable
                if eval_every and step % eval_every == 0:
                    t_eval = perf()
                    self._evaluate()
                    eval_seconds += perf() - t_eval
                    if observe is not None:
                        observe(self._eval["loss"], step)
                elif epoch:
                    self._epoch_loss += loss
                    if step % epoch == 0:
                        observe(self._epoch_loss / epoch, step)
                        self._epoch_loss = 0.0
        self._train_seconds += perf() - started - eval_seconds
        self._last = last
        return done

    def _closure(self, batch: Any) -> Any:
        """The closure of one step: the loss and gradients at the current parameters on the
        step's batch (the same objective at every call), counted in `function_evals`."""
        task_step, params, grads = self.task.loss_and_grads, self._params, self._closure_grads

        def closure() -> tuple[float, dict[str, np.ndarray]]:
            self._closure_evals += 1
            loss, g = task_step(params, batch, grads)
            return float(loss), g

        return closure

    @property
    def function_evals(self) -> int:
        """Evaluations of the objective so far: one per step, plus those a closure optimizer
        (L-BFGS, SAM) made inside its steps."""
        return self._step + self._closure_evals

    def _new_summaries(self) -> StateSummaries:
        groups, summaries, scalars = self._probe.summary_layout()
        capacity = None if self.history.capacity is None else DEFAULT_CAPACITY
        return StateSummaries(
            self.config.optimizer, groups, summaries, scalars, self.config.state_every, capacity
        )

    def _summarize(self, step: int) -> None:
        store = self._summaries
        row = np.empty(len(store.columns))
        self._probe.summary_row(store.summaries, store.scalars, row)
        store.record(step, row)

    def _new_sharpness_probe(self) -> SharpnessProbe:
        if self.task.quadratic_loss() is not None:  # exact products: converge every time
            return SharpnessProbe(self.task, tol=1e-12, max_iter=1000)
        # Finite differences: converge once, then track the eigenvector a few products a time.
        return SharpnessProbe(self.task, tol=1e-4, max_iter=100, warm_iter=SHARPNESS_WARM_ITER)

    def _measure_sharpness(self, step: int, batch: Any, lr: float) -> None:
        """Record the sharpness of step `step`: at the parameters before its update, on its
        batch, like its loss (and the preconditioned one, P⁻¹ from the optimizer's effective
        lr after the update, for optimizers that are not SGD)."""
        probe = self._sharpness
        alpha = None
        if not isinstance(self.optimizer, optimizers.get("sgd")) and lr > 0.0:
            alpha = self._probe.effective_lr_flat()
        # At the parameters the step's gradient was taken at (the point of the step's loss),
        # so that gradient serves as the base of the finite differences. P⁻¹ = α/η.
        scale = 1.0 / lr if alpha is not None else 1.0
        measured = probe.measure(self._prev, batch, alpha, self._grad_flat, scale)
        self.history.record_sharpness(step, measured.value, measured.error, measured.preconditioned)

    @property
    def sharpness_seconds(self) -> float:
        """Wall time spent measuring sharpness (not in `train_seconds`)."""
        return self._sharpness_seconds

    def _why(self, loss: float, gsq: float, limit: float) -> str:
        """What made an update diverge (for `divergence`)."""
        if not math.isfinite(loss):
            return f"the loss is not finite ({loss})"
        if not math.isfinite(gsq):
            return "the gradient is not finite (or its squared norm overflows)"
        start = self.history.buckets("loss").lasts[0]
        return (
            f"the loss rose to {loss:.3g}, past {limit:.3g} = the starting loss {start:.3g} "
            f"+ divergence_factor {self.config.divergence_factor:g} × max(|{start:.3g}|, 1)"
        )

    def _diverge(self, step: int, reason: str) -> None:
        self._diverged_at = step
        self._divergence = reason
        self._state = "diverged"

    # -- synchronous API -------------------------------------------------------------------

    def step(self, n: int = 1) -> dict[str, Any]:
        """Do `n` updates now (blocking) and return the newest metrics (see `metrics()`).

        A diverged run does nothing. Safe to call while a stream is paused (single-step) or
        even running (the steps are serialised by a lock)."""
        if not _is_int(n) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self._step_now(int(n))
        self._notify()
        return self.metrics()

    def advance(self, n: int) -> int:
        """`step(n)` without building the metrics it returns (a job's chunk of steps: the
        metrics are read once at its end); returns the steps done so far."""
        if not _is_int(n) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self._step_now(int(n))
        self._notify()
        return self._step

    def _step_now(self, n: int) -> None:
        """`step` without its checks and metrics (a Race steps its racers in slices)."""
        with self._lock:
            if self._state != "diverged":
                self._advance(n, interruptible=False)
                if self._state == "finished":
                    self._state = "ready"

    def metrics(self) -> dict[str, Any]:
        """The newest metrics: step, state, loss, lr, grad_norm, update_norm,
        update_grad_ratio (None before the first step), eval_loss, eval_accuracy (None when
        not a classifier) and diverged_at."""
        p = self.progress()
        return {
            "step": p.step,
            "state": p.state,
            "loss": p.loss,
            "lr": p.lr,
            "grad_norm": p.grad_norm,
            "update_norm": p.update_norm,
            "update_grad_ratio": p.update_grad_ratio,
            "eval_loss": p.eval_loss,
            "eval_accuracy": p.eval_accuracy,
            "diverged_at": p.diverged_at,
        }

    def progress(self, max_steps: int | None = None) -> Progress:
        """A snapshot of the run now."""
        last = self._last
        ev = self._eval
        loss = lr = gn = un = es = None
        if last is not None:
            loss, lr, gn, un, es = last
        return Progress(
            step=self._step,
            state=self._state,
            loss=loss,
            lr=lr,
            grad_norm=gn,
            update_norm=un,
            update_grad_ratio=es,
            eval_loss=ev.get("loss"),
            eval_accuracy=ev.get("accuracy"),
            steps_per_second=self._measured_rate(),
            diverged_at=self._diverged_at,
            max_steps=max_steps,
            diverged_reason=self._divergence,
        )

    @property
    def steps_done(self) -> int:
        """Number of updates applied so far (the current step number)."""
        return self._step

    @property
    def train_seconds(self) -> float:
        """Wall time spent in updates since the start or the last reset (evaluation excluded;
        an update that diverged is included)."""
        return self._train_seconds

    @property
    def seconds_per_step(self) -> float | None:
        """Mean wall time of one update (`train_seconds / steps_done`), None before any."""
        return self._train_seconds / self._step if self._step else None

    @property
    def diverged_at(self) -> int | None:
        """The step whose update diverged (was not kept), or None."""
        return self._diverged_at

    @property
    def divergence(self) -> str | None:
        """Why the run diverged, in words ("the loss is not finite (nan)", "the loss rose to
        ..."), or None."""
        return self._divergence

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The live parameter arrays (views into the run's flat buffer): read, don't write.
        They change while a stream is running; copy them if you keep them."""
        return self._params

    # -- inside the optimizer -----------------------------------------------------------------

    def optimizer_state(self) -> dict[str, dict[str, Any]]:
        """The optimizer's state per parameter name (`W1`, `b1`, ...; `x`, `y` on a 2-D
        task): {"step": t, torch's state keys: read-only views of the live arrays, scalar
        state such as "mu_product": numbers}. Empty dicts before the first step. Views
        change with the next step (copy to keep); reading changes nothing."""
        return self._probe.optimizer_state()

    @property
    def state_bytes(self) -> int:
        """Bytes of optimizer state this run keeps (its state arrays; 0 before a step):
        Adam's m and v are two parameter-sized arrays, Adafactor's factored v a row and a
        column per matrix."""
        return self.optimizer.state_bytes()

    def inspect(self, names: Iterable[str] | None = None, wait: bool = False) -> StateInspection:
        """Everything the optimizer did at the last step, per parameter (all, or `names`):
        gradient, actual step θ_t − θ_{t−1}, state (read-only views), derived quantities
        (effective_lr, m̂, v̂, ... fresh arrays) and per-step scalars (bias corrections, β₁,t,
        μ_t, ρ_t ...), with `doc` saying what each means. Does not wait for a running stream
        unless `wait`: read while one is stepping, the result says `live=True` (views may
        straddle a step); `.snapshot()` copies it."""
        names = None if names is None else list(names)
        if self._lock.acquire(blocking=wait):
            try:
                return self._probe.inspect(self._step, False, names)
            finally:
                self._lock.release()
        return self._probe.inspect(self._step, True, names)

    def never_updated(self) -> np.ndarray | None:
        """Which parameters (flat order) are still at their start value, never given a
        gradient (a fresh bool array); None before anything moved. State summaries leave
        these out of their quantiles (α there is η/ε, not a rate anything was trained at)."""
        return self._probe.never_updated()

    @property
    def state_summaries(self) -> StateSummaries | None:
        """The recorded state summaries (see engine.state_history), None when
        `config.state_every` is 0 and none were recorded since the last reset."""
        return self._summaries

    def set_state_every(self, every: int) -> None:
        """Record state summaries every `every` steps from now on (0 stops recording and keeps
        what was recorded). Changes no number of the run; RunConfigError for a bad value."""
        with self._lock:
            self.config = self.config.replace(state_every=every)
            if self.config.state_every and self._summaries is None:
                self._summaries = self._new_summaries()
            elif self._summaries is not None:
                self._summaries.every = self.config.state_every

    def set_sharpness_every(self, every: int) -> None:
        """Measure the sharpness every `every` steps from now on (0 stops and keeps what was
        recorded). Changes no number of the run; RunConfigError for a bad value."""
        with self._lock:
            self.config = self.config.replace(sharpness_every=every)
            if self.config.sharpness_every and self._sharpness is None:
                self._sharpness = self._new_sharpness_probe()

    def reset(self) -> None:
        """Start over from the (possibly edited) config: fresh task, optimizer, schedule,
        params, data order and history; state "ready". Ends an active stream."""
        self._stop_for_reset()
        with self._lock:
            self._build()
            self._state = "ready"
            self._rate_window.clear()
        self._notify()

    def set_hypers(
        self,
        optimizer: Mapping[str, Any] | None = None,
        schedule: Mapping[str, Any] | None = None,
    ) -> None:
        """Change optimizer and/or schedule knobs; they apply from the next step on.

        Values are validated (RunConfigError naming the field and knob) before anything
        changes. The optimizer keeps its state (moments etc.). Because the optimizer's `lr`
        is the schedule's base rate, changing `lr` or any schedule knob rebuilds the schedule
        (same kind, same global step position; plateau reductions start over).
        Changing the task, the optimizer or schedule kind, the seed or the dtype needs a new
        Run (or `config.replace` + reset)."""
        with self._lock:
            cfg = self.config
            opt_changes = dict(optimizer or {})
            sch_changes = dict(schedule or {})
            new_cfg = cfg.replace(
                optimizer_hypers={**cfg.optimizer_hypers, **opt_changes},
                schedule_hypers={**cfg.schedule_hypers, **sch_changes},
            )
            changed = {
                k: v
                for k, v in new_cfg.optimizer_hypers.items()
                if k in opt_changes and cfg.optimizer_hypers.get(k) != v
            }
            if changed:
                self.optimizer.set_hypers(**changed)
            if new_cfg.lr != cfg.lr or new_cfg.schedule_hypers != cfg.schedule_hypers:
                self.schedule = self._make_schedule(new_cfg)
            self.config = new_cfg

    # -- asynchronous API (the controls and the loop are in engine.stepping.Stepper) --------

    _noun = "run"
    _first_chunk = 8

    def _run_chunk(self, n: int) -> int:
        with self._lock:
            if self._state == "diverged":
                return 0
            return self._advance(n, interruptible=True)

    def stream(
        self, max_steps: int | None = None, steps_per_second: float | None = None
    ) -> AsyncIterator[Progress]:
        """Train in chunks on a worker thread, yielding a `Progress` after each chunk.

        Chunks are sized to take about 1/30 s. `max_steps` is the total step count at which
        the run is "finished" (None = until cancelled). `steps_per_second` limits the rate
        (changeable while streaming via `set_speed`); at rates up to ~30 steps/s every
        snapshot is one step. pause() makes the stream yield one "paused" snapshot and wait
        (single steps via step(1) while paused are reported too); resume() continues;
        cancel() ends the iterator after the step in progress. A diverged or finished run
        yields a final snapshot and ends."""
        return self._stream(max_steps, steps_per_second)

    def _end_state(self, max_steps: int | None) -> str | None:
        if self._state == "diverged":
            return "diverged"
        if max_steps is not None and self._step >= max_steps:
            return "finished"
        return None
