"""The Task base class, the task registry and helpers shared by the task families.

A task is what an optimizer trains: it makes parameters, an endless stream of batches and, for a
batch, the loss and its gradient with respect to every parameter. Everything is NumPy in one
floating dtype (float64 by default, float32 on request): data, parameters and gradients.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.registry import Registered, Registry
from engine.tasks.view_size import DEFAULT_HEIGHT, DEFAULT_WIDTH

if TYPE_CHECKING:  # the views load with the first task that draws one (not with Rosenbrock)
    from engine.tasks.views import ModelView, ViewKind

DTYPES = ("float64", "float32")


Params = dict[str, np.ndarray]


class QuadraticLoss(NamedTuple):
    """A loss that is exactly f(θ) = min_loss + ½ (θ − θ*)ᵀ H (θ − θ*), θ the parameters
    flattened in `param_shapes` order (engine/theory.py reads it). float64 throughout."""

    hessian: np.ndarray  # H, (n, n), symmetric
    minimizer: np.ndarray  # θ*, (n,) (one of them when H is singular)
    min_loss: float  # f(θ*)


def seeded_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The two independent generators of a run's seed: (init, batches), the children of
    `SeedSequence(seed).spawn(2)`, each made when first drawn from (`SpawnedGenerator`). A run
    and the theory's prediction of it start from the same parameters through this one
    definition."""
    return SpawnedGenerator(seed, 0), SpawnedGenerator(seed, 1)  # type: ignore[return-value]


class SpawnedGenerator:
    """The `np.random.Generator` of child `child` of `SeedSequence(seed)` (the one `spawn`
    gives), made when first used: every attribute is the generator's. A task that draws
    nothing (a 2-D landscape without gradient noise: the app's default run) never loads
    numpy.random, ~12 ms of the app's launch."""

    def __init__(self, seed: int, child: int) -> None:
        self._seed = seed
        self._child = child

    def __getattr__(self, name: str) -> Any:  # only for names not set above: the generator's
        if name.startswith("__"):
            raise AttributeError(name)
        made = self.__dict__.get("_generator")
        if made is None:
            sequence = np.random.SeedSequence(self._seed, spawn_key=(self._child,))
            made = self.__dict__["_generator"] = np.random.default_rng(sequence)
        return getattr(made, name)


def resolve_dtype(dtype: Any) -> np.dtype:
    """The task dtype from a name or NumPy type; ValueError naming `dtype` otherwise."""
    resolved = None
    if dtype is not None and not isinstance(dtype, bool):  # np.dtype(None) is float64
        try:
            resolved = np.dtype(dtype)
        except TypeError:
            pass
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return resolved


class Task(Registered):
    """Base class of every task; subclasses register themselves in `REGISTRY`.

    Subclasses set `name`, `summary`, `specs` and implement `param_shapes`, `init_params`,
    `batches`, `loss_and_grads` and `evaluate`. The base class validates the knobs and stores
    each one as an attribute (`self.hidden`); a subclass overrides
    `__init__(self, dtype="float64", **knobs)` only to build its data or derived state from
    those attributes after `super().__init__(dtype, **knobs)`.
    """

    description: ClassVar[str] = ""
    is_classifier: ClassVar[bool] = False
    is_landscape: ClassVar[bool] = False
    #: A run of this task records its one or two parameters every step as the history's
    #: trajectory: (x, y) on the 2-D landscapes; (x, x) for a one-parameter task (quadratic),
    #: whose x over time is then `history.trajectory().xs`.
    records_trajectory: ClassVar[bool] = False
    #: The knob that sets the problem's size (what `optplay bench --sizes` varies), or None.
    size_knob: ClassVar[str | None] = None
    #: A learning rate per optimizer where the optimizer's own default teaches badly on this
    #: task (Adam's 1e-3 barely moves on Rosenbrock in 1000 steps). Every run that does not
    #: set `lr` uses it: the app, `optplay run`, experiment files (RunConfig fills it in).
    suggested_lr: ClassVar[Mapping[str, float]] = MappingProxyType({})

    kind = "task"
    knob_attributes = True

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        self.dtype = resolve_dtype(dtype)
        super().__init__(**knobs)  # validated values in self.hypers and as attributes

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.hypers.items())
        return f"<task {self.name} ({knobs}) {self.dtype.name}>"

    # -- what every task provides -----------------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every parameter, in a fixed order (the order of `init_params`)."""
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator) -> Params:
        """Fresh parameter arrays of `dtype`, drawn from `rng`."""
        raise NotImplementedError

    def batches(self, rng: np.random.Generator) -> Iterator[Any]:
        """An endless iterator of batches, deterministic given `rng`."""
        raise NotImplementedError

    def loss_and_grads(
        self, params: Params, batch: Any, grads: Params | None = None
    ) -> tuple[float, Params]:
        """Loss on `batch` and its gradient; written into `grads` in place when given."""
        raise NotImplementedError

    def evaluate(self, params: Params) -> dict[str, float]:
        """{"loss": ...} on held-out data (plus "accuracy" for classifiers)."""
        raise NotImplementedError

    @property
    def steps_per_epoch(self) -> int:
        """Updates per epoch, one pass over the training data: ceil(examples / batch_size)
        for tasks with a training set (held as `self.X`, one row per example, and a
        `batch_size` knob), 1 for full-batch training and for tasks without a data set (the
        landscapes, the quadratic: every step sees the whole objective)."""
        data = getattr(self, "X", None)
        batch = self.hypers.get("batch_size", 0)
        if data is None or not batch or batch >= len(data):
            return 1
        return -(-len(data) // batch)

    # -- what the model learned (the pictures are defined in engine/tasks/views.py) ----------

    @property
    def model_view_kind(self) -> ViewKind | None:
        """The `kind` of the view `model_view` returns ("regions", "line", ...; see
        engine.tasks.views), or None when it returns None. Cheap: nothing is computed."""
        return None

    @property
    def has_model_view(self) -> bool:
        return self.model_view_kind is not None

    def model_view(
        self, params: Params, *, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT
    ) -> ModelView | None:
        """A frozen picture of what `params` compute (an engine.tasks.views dataclass), over a
        `width` x `height` pixel grid where the view has one; None when the task has nothing
        to show beyond the charts every run has. Never modifies `params`."""
        return None

    def quadratic_loss(self) -> QuadraticLoss | None:
        """The loss as an exact quadratic when every step's gradient is that quadratic's
        gradient (full batch, no gradient noise): then engine/theory.py predicts a run exactly.
        None (the default) declares the task is not one."""
        return None

    def why_not_quadratic(self) -> str:
        """Why `quadratic_loss` is None, in a few words (for the theory's figures)."""
        return "the loss is not quadratic"

    def fit_summary(self, params: Params) -> str | None:
        """One line comparing `params` with the task's exact solution, for run summaries and
        the app's status (e.g. linear regression's w and b next to least squares), or None."""
        return None

    # -- conveniences -----------------------------------------------------------------------

    def _run_pass(
        self,
        batches: Any,
        params: Params,
        grads: Params,
        flat: np.ndarray,
        grad_flat: np.ndarray,
        prev: np.ndarray,
    ) -> Any:
        """A Run's step up to its update as one function of the loss limit, or None where
        it cannot be one compiled call (engine/run.py `_advance` asks for each chunk of
        steps): draw the next batch's rows from `batches` (`EpochBatches.next_indices`),
        loss and gradients into `grads` (views of `grad_flat`, as `params` are of `flat`, in
        the order of `param_shapes`), the gradient's squared norm, and prev ← flat when the
        step is kept (the loss and norm finite, the loss at most the limit). Returns (loss,
        squared norm): the numbers of `next(batches)`, `loss_and_grads`,
        `float(np.dot(grad_flat, grad_flat))` and `np.copyto(prev, flat)`, in one call
        (`one_call_step`). None here: a task without such a call."""
        return None

    def new_grads(self) -> Params:
        """Zeroed gradient arrays of the right shapes and dtype (e.g. to preallocate once)."""
        return {k: np.zeros(s, dtype=self.dtype) for k, s in self.param_shapes().items()}

    def loss(self, params: Params, batch: Any) -> float:
        """The loss alone (used by finite-difference checks)."""
        return self.loss_and_grads(params, batch)[0]


REGISTRY: Registry[type[Task]] = Registry("task")


# -- knobs shared by several tasks ----------------------------------------------------------


def batch_size_hyper(default: int, high: int | None = None) -> Hyper:
    """`batch_size`: samples per step; 0 (typed as "full") means full-batch gradient descent."""
    return Hyper(
        "batch_size",
        default,
        kind="int",
        low=0,
        high=high,
        aliases={"full": 0},
        help="samples per step; full (0) = full-batch gradient descent",
    )


DATA_SEED = Hyper(
    "data_seed",
    0,
    kind="int",
    low=0,
    high=2**32 - 1,
    help="seed of the generated data set (the run seed drives init and batch order)",
)


#: The most values any one array of a task may hold (2^25: 256 MiB in float64). Knob
#: combinations past it (a million 10,000-feature samples, a full batch of a million windows)
#: are refused by the task's `check` with a message naming the knobs, instead of a MemoryError
#: (or minutes of swapping) when the run is built.
MAX_ELEMENTS = 2**25
#: Values per evaluation chunk: held-out sets are scored in row blocks of about this many
#: activations, so evaluation memory does not grow with the test set.
EVAL_ELEMENTS = 2**22


def check_elements(field: str, what: str, n: int) -> None:
    """ValueError naming `field` when an array of `n` values (`what`, e.g. "n_samples ×
    n_features = 10 × 20") would exceed MAX_ELEMENTS."""
    if n > MAX_ELEMENTS:
        raise ValueError(
            f"{field} too large: {what} makes arrays of {n:,} values (at most {MAX_ELEMENTS:,})"
        )


def eval_chunks(n_rows: int, per_row: int) -> list[slice]:
    """Row blocks of a held-out set with about EVAL_ELEMENTS activations each (one block when
    the set is small, which keeps the single-pass arithmetic exactly)."""
    rows = max(1, EVAL_ELEMENTS // max(1, per_row))
    return [slice(lo, min(lo + rows, n_rows)) for lo in range(0, n_rows, rows)]


def check_batch_size(values: dict[str, Any], n_train: int) -> None:
    """A batch larger than the training set is a mistake worth naming."""
    if values["batch_size"] > n_train:
        raise ValueError(
            f"batch_size must be at most the training set size {n_train} "
            f"(or full), got {values['batch_size']}"
        )


def epoch_batches(
    rng: np.random.Generator, arrays: tuple[np.ndarray, np.ndarray], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Epoch-shuffled mini-batches of the rows of `arrays`, (inputs, targets) (the last batch
    may be short).

    Each epoch draws one permutation from `rng`; a batch gathers its rows into new arrays,
    so a batch stays valid after the iterator moves on. batch_size 0 (or >= the set size)
    yields the whole training set every time, without copying and without using `rng`.
    """
    inputs, targets = arrays
    n = len(inputs)
    if batch_size == 0 or batch_size >= n:
        return _whole(arrays)
    return EpochBatches(rng, inputs, targets, batch_size)


def _whole(arrays: tuple[np.ndarray, np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    while True:
        yield arrays


class EpochBatches:
    """`epoch_batches`' mini-batches: an iterator of (inputs, targets) gathered rows, whose
    `next_indices` gives the next batch's row indices instead (the same stream: a caller that
    gathers the rows itself, a Run's compiled step, draws the same batches)."""

    __slots__ = ("_n", "_perm", "_rng", "_size", "_start", "inputs", "targets")

    def __init__(
        self, rng: np.random.Generator, inputs: np.ndarray, targets: np.ndarray, batch_size: int
    ) -> None:
        self._rng = rng
        self.inputs, self.targets = inputs, targets
        self._n = len(inputs)
        self._size = batch_size
        self._perm: np.ndarray | None = None
        self._start = self._n  # the first batch draws the first permutation

    def __iter__(self) -> EpochBatches:
        return self

    def next_indices(self) -> np.ndarray:
        """The next batch's rows of `inputs` and `targets` (a view of the epoch's
        permutation, int64)."""
        start = self._start
        if start >= self._n:
            self._perm = self._rng.permutation(self._n)
            start = 0
        stop = self._start = start + self._size
        return self._perm[start:stop]

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self.next_indices()
        # The array method, not np.take: a few microseconds less per batch (a hot path).
        return self.inputs.take(idx, 0), self.targets.take(idx, 0)


def packs_in_order(
    keys: tuple[str, ...], params: Params, grads: Params, flat: np.ndarray, grad_flat: np.ndarray
) -> bool:
    """Whether params[key] and grads[key], key by key in this order, are the C-contiguous
    views that fill `flat` and `grad_flat` end to end (a Run's packed buffers): what a
    compiled step taking the flat buffers alone needs."""
    offset = 0
    for key in keys:
        at = offset * flat.itemsize
        if (
            params[key].ctypes.data != flat.ctypes.data + at
            or grads[key].ctypes.data != grad_flat.ctypes.data + at
            or not grads[key].flags.c_contiguous
        ):
            return False
        offset += params[key].size
    return offset == flat.size


def one_call_step(
    kernel: Any,
    next_indices: Any,
    data: tuple[np.ndarray, np.ndarray],
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
    workspace: tuple[np.ndarray, int, np.ndarray],
    loss_and_grads: Any,
    params: Params,
    grads: Params,
) -> Any:
    """A Run's step up to its update as one function of the loss limit (a task's `_run_pass`):
    `kernel(X, Y, rows drawn, flat, grad_flat, prev, ws, batch rows, fns, limit)` draws
    nothing itself; a last batch of one row goes through `loss_and_grads` (NumPy's products
    take other calls there: gemv, not gemm), with the same (loss, squared gradient norm)
    and prev ← flat when the step is kept."""
    X, Y = data
    flat, grad_flat, prev = buffers
    ws, rows, fns = workspace
    isfinite, dot = np.isfinite, np.dot

    def step(limit: float) -> tuple[float, float]:
        idx = next_indices()
        if len(idx) >= 2:
            return kernel(X, Y, idx, flat, grad_flat, prev, ws, rows, fns, limit)
        loss = float(loss_and_grads(params, (X.take(idx, 0), Y.take(idx, 0)), grads)[0])
        gsq = float(dot(grad_flat, grad_flat))
        if isfinite(loss) and isfinite(gsq) and not loss > limit:
            np.copyto(prev, flat)
        return loss, gsq

    return step


def glorot_uniform(
    rng: np.random.Generator, fan_in: int, fan_out: int, dtype: np.dtype
) -> np.ndarray:
    """Glorot/Xavier uniform weights (fan_in, fan_out): the usual start for tanh layers."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)
