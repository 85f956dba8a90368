"""Next-value prediction on a noisy sine wave with an Elman RNN and full BPTT per window.

The series s_k = sin(2π k / period) + noise·N(0, 1), k = 0 .. n_points-1, is min-max scaled to
[0, 1] with the training part's range. The first 80% is the training series, the last 20% the
test series. A sample is a window of `window` consecutive values and its target is the value
right after it. The network, with h_0 = 0 and row-vector convention:

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h),   t = 1 .. window
    y   = h_window W_hy + b_y

Loss: mean squared error over the batch (no 1/2). Training is truncated backpropagation
through time: gradients flow through every step of a window and stop at its start.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizers import compiled
from engine.tasks import views
from engine.tasks.base import (
    DATA_SEED,
    REGISTRY,
    Params,
    Task,
    batch_size_hyper,
    check_batch_size,
    check_elements,
    epoch_batches,
    eval_chunks,
    one_call_step,
    packs_in_order,
)

TRAIN_FRACTION = 0.8

#: NumPy's float64 tanh table once its port (`_rnn_kernels.tanh_array`) proved bit-identical
#: with np.tanh in the compiled path's build (the MLPs' hidden layer); None: NumPy's tanh runs.
compiled_tanh_table: np.ndarray | None = None
#: NumPy's float32 tanh table once its port (`_rnn_kernels.tanh_array_f32`) proved bit-identical
#: with np.tanh in the same build (the MLPs' float32 hidden layer); None: NumPy's tanh runs.
compiled_tanh_table_f32: np.ndarray | None = None
#: Per dtype, the whole passes of `_rnn_kernels` (`_Passes`) once the build has checked them
#: against NumPy's passes bit for bit; absent: NumPy's passes run.
_passes: dict[np.dtype, _Passes] = {}
#: Why the whole passes are not used, when the build found them unusable (`passes_note`).
_passes_error: str | None = None
#: Set once `_build_recurrences` has run (in the compiled path's build, or late: `_late_build`).
_built = threading.Event()
_late_lock = threading.Lock()
_late_started = False


class _Passes(NamedTuple):
    """The compiled entry points of one dtype (`_rnn_kernels.rnn_loss_grads`, `rnn_sse`,
    `rnn_run`) and the addresses of NumPy's BLAS and tanh loop they call."""

    loss_grads: Any
    sse: Any
    run: Any
    fns: np.ndarray


def _build_recurrences(kernels: dict[str, Any]) -> None:
    """The compiled path's build step for the RNN (`compiled.extra_builds`, run in its
    thread): compile, check and warm up the tanh ports (for the MLPs) and the whole passes,
    and install what passes its checks."""
    global compiled_tanh_table, compiled_tanh_table_f32
    if _built.is_set():  # already built (the MLPs' whole pass builds it first: it needs tanh)
        return
    try:
        from engine.tasks import _rnn_kernels

        own = {name: getattr(_rnn_kernels, name) for name in _rnn_kernels.KERNELS}
        table = _rnn_kernels.check(own)
    except Exception:  # no NumPy table found, an unexpected build: NumPy's tanh runs
        table = None
    if table is not None:
        kernels.update(own)
    try:
        own_f32 = {name: getattr(_rnn_kernels, name) for name in _rnn_kernels.KERNELS_F32}
        table_f32 = _rnn_kernels.check_f32(own_f32)
    except Exception:  # as above: NumPy's float32 tanh runs
        table_f32 = None
    if table_f32 is not None:
        kernels.update(own_f32)
    compiled_tanh_table = table
    compiled_tanh_table_f32 = table_f32
    _build_passes()
    _built.set()


def _build_passes() -> None:
    """Compile the whole passes for both dtypes and install each dtype's when NumPy's BLAS
    and tanh loop were found and the passes give NumPy's numbers on every probed shape."""
    global _passes_error
    try:
        from engine.tasks import _mlp_kernels, _rnn_kernels

        found = {}
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            fns = _mlp_kernels.blas_functions(dtype)
            if fns is None:
                _passes_error = "NumPy's BLAS (scipy-openblas, 64-bit) or its tanh not found"
                continue
            if not _check_passes(_rnn_kernels, fns, dtype):
                _passes_error = f"the whole pass differs from NumPy's in {dtype}"
                continue
            entries = (_entry_point(getattr(_rnn_kernels, n), dtype) for n in _rnn_kernels.PASSES)
            found[dtype] = _Passes(*entries, fns)
    except Exception as exc:  # an unexpected NumPy or numba: NumPy's passes run
        _passes_error = f"{type(exc).__name__}: {exc}"
        return
    _passes.update(found)


def _entry_point(dispatcher: Any, dtype: np.dtype) -> Any:
    """The dispatcher's compiled entry point for arrays of dtype (a call skips its type
    matching; callers pass C-contiguous arrays of the checked shapes), else the dispatcher."""
    points = [
        result.entry_point
        for signature, result in dispatcher.overloads.items()
        if np.dtype(str(signature[0].dtype)) == dtype
    ]
    return points[0] if len(points) == 1 else dispatcher


def passes_note() -> str | None:
    """None when the RNN steps as whole compiled passes in both dtypes, else why not (for
    `compiled.describe`, once the build has run)."""
    if len(_passes) == 2 or _passes_error is None:
        return None
    return f"RNN passes on NumPy: {_passes_error}"


compiled.extra_builds.append(_build_recurrences)
compiled.build_notes.append(passes_note)


#: (hidden, window, batch rows, n_points) the build checks the whole passes on: the least
#: sizes, odd ones, the lessons' (rmsprop-sine, adam-rnn-gradients, edge-of-stability).
_CHECK_SHAPES = ((2, 1, 2, 40), (3, 4, 5, 60), (5, 7, 33, 400), (16, 20, 32, 1000),
                 (16, 40, 32, 1000), (8, 20, 0, 200))  # fmt: skip


def _check_passes(module: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether `rnn_loss_grads`, `rnn_sse` and `rnn_run` give what `SineRNN`'s NumPy passes
    give, bit for bit (compiling them for dtype): the loss and gradients of a batch, the
    evaluation's sum of squared errors, and a Run's step (the gathered batch, the gradient's
    squared norm by np.dot, the copy of the parameters, left alone past the loss limit)."""
    rng = np.random.default_rng(20260305)
    for hidden, window, rows, n_points in _CHECK_SHAPES:
        task = SineRNN(dtype, hidden=hidden, window=window, batch_size=rows, n_points=n_points)
        m = rows or len(task.X)
        flat = np.empty(hidden * hidden + 3 * hidden + 1, dtype)
        params, offset = {}, 0
        for key, shape in task.param_shapes().items():
            size = int(np.prod(shape))
            params[key] = flat[offset : offset + size].reshape(shape)
            offset += size
        for key, value in task.init_params(rng).items():
            params[key][...] = value * 3.0  # some units saturate
        params["b_y"][...] = -0.0
        idx = rng.permutation(len(task.X))[:m]
        X, y = task.X.take(idx, 0), task.y.take(idx, 0)
        want = task._numpy_loss_and_grads(params, X, y, task.new_grads())
        grads = task.new_grads()
        ws = _workspace(m, window, hidden, dtype)
        loss = module.rnn_loss_grads(
            X, y, *(params[k] for k in _KEYS), *(grads[k] for k in _KEYS), ws, fns
        )
        if not _same(want, (loss, grads)):
            return False
        n = len(task.X_test)
        e = task._forward(params, task.X_test, _Buffers(n, window, hidden, task.dtype))
        err = e - task.y_test
        ws = _workspace(n, window, hidden, dtype)
        sse = module.rnn_sse(task.X_test, task.y_test, *(params[k] for k in _KEYS), ws, fns)
        if np.float64(sse).tobytes() != np.float64(float(np.vdot(err, err))).tobytes():
            return False
        grad_want = np.concatenate([want[1][k].reshape(-1) for k in _KEYS])
        gsq_want = float(np.dot(grad_want, grad_want))
        ws = _workspace(m, window, hidden, dtype)
        for limit, copied in ((np.inf, True), (want[0] - 1.0, False)):
            grad, prev = np.full(flat.size, np.nan, dtype), np.zeros(flat.size, dtype)
            loss, gsq = module.rnn_run(task.X, task.y, idx, flat, grad, prev, ws, m, fns, limit)
            if np.float64(loss).tobytes() != np.float64(want[0]).tobytes():
                return False
            if np.float64(gsq).tobytes() != np.float64(gsq_want).tobytes():
                return False
            if grad.tobytes() != grad_want.tobytes():
                return False
            if prev.tobytes() != (flat if copied else np.zeros_like(flat)).tobytes():
                return False
    return True


def _same(a: tuple[float, Params], b: tuple[float, Params]) -> bool:
    """Whether two (loss, gradients) are the same bits."""
    if np.float64(a[0]).tobytes() != np.float64(b[0]).tobytes():
        return False
    return all(a[1][k].tobytes() == b[1][k].tobytes() for k in _KEYS)


#: The parameters in the order of `param_shapes` (and of a Run's flat buffer).
_KEYS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def _workspace(rows: int, window: int, hidden: int, dtype: np.dtype) -> np.ndarray:
    """A workspace of the whole passes for batches of at most `rows` windows, 64-byte aligned
    (its regions start on cache lines)."""
    from engine.optimizers.base import _aligned_empty
    from engine.tasks import _rnn_kernels

    return _aligned_empty(_rnn_kernels.workspace_size(rows, window, hidden), dtype)


def _late_build() -> None:
    """Build the RNN's kernels in a thread of their own when the compiled path was built
    before this module was imported (so without them); NumPy's passes run meanwhile, with the
    same numbers."""
    global _late_started
    with _late_lock:
        if _late_started or _built.is_set():
            return
        _late_started = True
    threading.Thread(
        target=_build_recurrences, args=(compiled._kernels,), name="optplay-compile-rnn",
        daemon=True,
    ).start()  # fmt: skip


def compiled_tanh(dtype: np.dtype) -> tuple | None:
    """(tanh, table): the port of NumPy's tanh for float64 or float32 (`tanh(x, out, table)`
    writes tanh(x) into out, flat C-contiguous arrays of the dtype; bit for bit `np.tanh`)
    when the compiled path is ready and that port passed its check; else None. The MLPs'
    hidden layer uses it."""
    if dtype == np.float64:
        table, name = compiled_tanh_table, "tanh_array"
    elif dtype == np.float32:
        table, name = compiled_tanh_table_f32, "tanh_array_f32"
    else:
        return None
    if not compiled.ready or table is None:
        if compiled.ready and not _built.is_set():
            _late_build()
        return None
    entries = compiled.kernels_for(np.dtype(dtype))
    kernel = entries.get(name) if entries is not None else None
    return kernel or compiled.kernel(name), table


def _compiled_passes(dtype: np.dtype) -> _Passes | None:
    """The whole compiled passes of dtype when the compiled path is ready and the build
    installed them, else None (then NumPy's passes run)."""
    if not compiled.ready:
        return None
    found = _passes.get(dtype)
    if found is None and not _built.is_set():
        _late_build()
    return found


class _Buffers:
    """Activations for one batch size m and window T."""

    __slots__ = ("D", "D_t", "H2", "Hs", "dA", "dA2", "dA_t", "dH", "e", "h_t", "ones", "x2", "xt")

    def __init__(self, m: int, T: int, hidden: int, dtype: np.dtype) -> None:
        self.xt = np.empty((T, m), dtype)  # inputs, time-major
        self.x2 = self.xt.reshape(1, T * m)
        self.Hs = np.zeros((T + 1, m, hidden), dtype)  # Hs[0] = h_0 = 0 stays zero
        self.H2 = self.Hs[:-1].reshape(T * m, hidden)  # h_0 .. h_{T-1}, flattened
        self.h_t = list(self.Hs)  # per-step views, built once
        self.D = np.empty((T, m, hidden), dtype)  # 1 - h_t^2; first the input terms
        self.D_t = list(self.D)
        self.dA = np.empty((T, m, hidden), dtype)  # dLoss/d(pre-activation) per step
        self.dA2 = self.dA.reshape(T * m, hidden)
        self.dA_t = list(self.dA)
        self.dH = np.empty((m, hidden), dtype)
        self.e = np.empty((m, 1), dtype)
        self.ones = np.ones(T * m, dtype)  # sums over rows as BLAS products


@REGISTRY.register
class SineRNN(Task):
    """Elman RNN predicting the next value of a noisy sine wave (full BPTT per window)."""

    name = "sine-rnn"
    summary = "Elman RNN predicting a noisy sine wave's next value (BPTT over a window)"
    description = (
        "h_t = tanh(x_t·W_xh + h_{t−1}·W_hh + b_h), prediction h_T·W_hy + b_y. Inputs are "
        "min-max scaled to [0, 1]; the last 20% of the series is held out."
    )
    size_knob = "hidden"
    specs = (
        Hyper("hidden", 16, kind="int", low=1, high=1024, help="recurrent units"),
        Hyper("window", 20, kind="int", low=1, high=1000, help="steps per window (BPTT length)"),
        batch_size_hyper(32),
        Hyper("noise", 0.1, low=0.0, high=10.0, help="std of the noise added to the sine"),
        Hyper("period", 50.0, low=2.0, high=10_000.0, help="samples per sine period"),
        Hyper("n_points", 1000, kind="int", low=20, high=1_000_000, help="series length"),
        DATA_SEED,
    )

    @classmethod
    def split(cls, n_points: int) -> tuple[int, int]:
        """Lengths of the training and test series."""
        n_train = int(TRAIN_FRACTION * n_points)
        return n_train, n_points - n_train

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        n_train, n_test = cls.split(values["n_points"])
        if values["window"] >= n_test:
            raise ValueError(
                f"window must be less than the test series length {n_test} "
                f"(20% of n_points), got {values['window']}"
            )
        check_batch_size(values, n_train - values["window"])
        n_windows = n_train - values["window"]
        T, h = values["window"], values["hidden"]
        check_elements("window", f"training windows × window = {n_windows} × {T}", n_windows * T)
        rows = values["batch_size"] or n_windows
        shown = "full batch" if values["batch_size"] == 0 else f"batch_size {rows}"
        check_elements(
            "hidden",
            f"(window + 1) × rows per step × hidden = {T + 1} × {rows} ({shown}) × {h}",
            (T + 1) * rows * h,
        )

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        rng = np.random.default_rng(self.data_seed)
        n_points = self.n_points
        k = np.arange(n_points)
        raw = np.sin(2 * np.pi * k / self.period) + self.noise * rng.standard_normal(n_points)
        n_train, _ = self.split(n_points)
        lo, hi = raw[:n_train].min(), raw[:n_train].max()
        self.series = ((raw - lo) / (hi - lo)).astype(self.dtype)  # min-max with train range
        self._scale = float(hi - lo)
        self.X, self.y = self._windows(self.series[:n_train])
        self.X_test, self.y_test = self._windows(self.series[n_train:])
        self._buffers: dict[int, _Buffers] = {}
        self._workspaces: dict[int, np.ndarray] = {}

    def noise_floor(self) -> float:
        """The mean squared error of predicting the clean sine exactly: the noise's variance
        in the min-max scaled units the net sees (no predictor does better on average)."""
        return float((self.noise / self._scale) ** 2)

    def _windows(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(s) - self.window
        idx = np.arange(n)[:, None] + np.arange(self.window)
        return np.ascontiguousarray(s[idx]), s[self.window :].reshape(n, 1).copy()

    # -- Task protocol ----------------------------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h = self.hidden
        return {"W_xh": (1, h), "W_hh": (h, h), "b_h": (h,), "W_hy": (h, 1), "b_y": (1,)}

    def init_params(self, rng: np.random.Generator) -> Params:
        """torch.nn.RNN / nn.Linear default: every entry uniform in ±1/sqrt(hidden)."""
        bound = 1.0 / np.sqrt(self.hidden)
        return {
            k: rng.uniform(-bound, bound, size=s).astype(self.dtype)
            for k, s in self.param_shapes().items()
        }

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, ...]]:
        return epoch_batches(rng, (self.X, self.y), self.batch_size)

    def _buffers_for(self, m: int) -> _Buffers:
        buf = self._buffers.get(m)
        if buf is None:
            buf = self._buffers[m] = _Buffers(m, self.window, self.hidden, self.dtype)
        return buf

    def _forward(self, params: Params, X: np.ndarray, buf: _Buffers) -> np.ndarray:
        """Run the RNN over the windows X (m, T) by NumPy's passes; return the predictions in
        buf.e."""
        W_hh = params["W_hh"]
        h = buf.h_t
        # Input terms x_t W_xh + b_h for all t at once, kept in D (free until backward).
        np.copyto(buf.xt, X.T)
        np.multiply(buf.xt[:, :, None], params["W_xh"], out=buf.D)
        buf.D += params["b_h"]
        A = buf.D_t
        np.tanh(A[0], out=h[1])  # h_0 = 0
        for t in range(1, self.window):
            np.matmul(h[t], W_hh, out=h[t + 1])
            h[t + 1] += A[t]
            np.tanh(h[t + 1], out=h[t + 1])
        np.matmul(h[self.window], params["W_hy"], out=buf.e)
        buf.e += params["b_y"]
        return buf.e

    def predict(self, params: Params, X: np.ndarray) -> np.ndarray:
        """Predictions (m, 1) for windows X (m, window); a fresh array."""
        return self._forward(params, X, self._buffers_for(X.shape[0])).copy()

    def _takes(self, X: np.ndarray, y: np.ndarray, *arrays: np.ndarray) -> bool:
        """Whether the compiled passes take these windows, targets and parameters (then
        gradients, in `_KEYS` order) as they are: C-contiguous arrays of the task's dtype
        (what their entry points read), the task's shapes, at least 2 windows and 2 hidden
        units (NumPy's products take other BLAS calls, or none, on a single row or unit)."""
        dtype = self.dtype
        m = X.shape[0] if X.ndim == 2 else 0
        if m < 2 or self.hidden < 2 or X.shape != (m, self.window) or y.shape != (m, 1):
            return False
        if len(arrays) > 10:
            return False
        shapes = ((m, self.window), (m, 1), *self._shapes)
        for a, shape in zip((X, y, *arrays), shapes, strict=False):  # shapes may be more
            # `is`: an equal dtype of another byte order takes NumPy's passes
            if a.shape != shape or a.dtype is not dtype or not a.flags.c_contiguous:
                return False
        return True

    @functools.cached_property
    def _shapes(self) -> tuple[tuple[int, ...], ...]:
        """The parameters' shapes in `_KEYS` order, twice (parameters, then gradients)."""
        shapes = self.param_shapes()
        return tuple(shapes[k] for k in _KEYS) * 2

    def _workspace_for(self, m: int) -> np.ndarray:
        """The compiled passes' workspace for batches of m windows (kept per m)."""
        ws = self._workspaces.get(m)
        if ws is None:
            ws = self._workspaces[m] = _workspace(m, self.window, self.hidden, self.dtype)
        return ws

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        X, y = batch
        if grads is None:
            grads = self.new_grads()
        fast = _compiled_passes(self.dtype) if compiled.ready else None
        if fast is not None:
            arrays = [params[k] for k in _KEYS]
            arrays += [grads[k] for k in _KEYS]
            if self._takes(X, y, *arrays):
                ws = self._workspace_for(X.shape[0])
                return fast.loss_grads(X, y, *arrays, ws, fast.fns), grads
        return self._numpy_loss_and_grads(params, X, y, grads)

    def _numpy_loss_and_grads(
        self, params: Params, X: np.ndarray, y: np.ndarray, grads: Params
    ) -> tuple[float, Params]:
        """`loss_and_grads` by NumPy's passes (the compiled `rnn_loss_grads` makes the same
        calls, bit for bit)."""
        m, T = X.shape
        buf = self._buffers_for(m)
        e = self._forward(params, X, buf)
        e -= y
        loss = float(np.vdot(e, e)) / m
        e *= 2.0 / m  # dLoss/dy
        Hs = buf.Hs
        np.matmul(Hs[T].T, e, out=grads["W_hy"])
        np.matmul(buf.ones[:m], e, out=grads["b_y"])
        self._backward_numpy(params, buf, T)
        # Weight gradients summed over all steps with one matmul each.
        np.matmul(buf.H2.T, buf.dA2, out=grads["W_hh"])
        np.matmul(buf.ones, buf.dA2, out=grads["b_h"])
        np.matmul(buf.x2, buf.dA2, out=grads["W_xh"])
        return loss, grads

    def _backward_numpy(self, params: Params, buf: _Buffers, T: int) -> None:
        """dH, D = 1 − h², dA of every step by NumPy's passes."""
        Hs, D, dH, dA, e = buf.Hs, buf.D_t, buf.dH, buf.dA_t, buf.e
        np.matmul(e, params["W_hy"].T, out=dH)
        # tanh' = 1 - h^2 for every step at once
        np.multiply(Hs[1:], Hs[1:], out=buf.D)
        np.subtract(1.0, buf.D, out=buf.D)
        W_hh_T = params["W_hh"].T
        for t in range(T - 1, 0, -1):
            np.multiply(dH, D[t], out=dA[t])
            np.matmul(dA[t], W_hh_T, out=dH)
        np.multiply(dH, D[0], out=dA[0])

    def evaluate(self, params: Params) -> dict[str, float]:
        # In row blocks (the activations of every step of every window add up fast).
        n = len(self.X_test)
        total = 0.0
        fast = _compiled_passes(self.dtype) if compiled.ready else None
        arrays = [params[k] for k in _KEYS]
        for rows in eval_chunks(n, (3 * self.window + 1) * self.hidden):
            X, y = self.X_test[rows], self.y_test[rows]
            if fast is not None and self._takes(X, y, *arrays):
                total += fast.sse(X, y, *arrays, self._workspace_for(len(X)), fast.fns)
                continue
            err = self._forward(params, X, self._buffers_for(len(X))) - y
            total += float(np.vdot(err, err))
        return {"loss": total / n}

    def _run_pass(
        self,
        batches: Any,
        params: Params,
        grads: Params,
        flat: np.ndarray,
        grad_flat: np.ndarray,
        prev: np.ndarray,
    ) -> Any:
        """`Task._run_pass` through `_rnn_kernels.rnn_run`."""
        dtype = self.dtype
        fast = _compiled_passes(dtype) if compiled.ready else None
        next_indices = getattr(batches, "next_indices", None)
        rows = self.batch_size
        if (
            fast is None
            or next_indices is None
            or batches.inputs is not self.X
            or batches.targets is not self.y
            or not 2 <= rows < len(self.X)
            or not self._takes(self.X[:rows], self.y[:rows], *(params[k] for k in _KEYS))
            or not all(
                a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous and a.flags.writeable
                for a in (flat, grad_flat, prev)
            )
            or not flat.size == grad_flat.size == prev.size
        ):
            return None
        if not packs_in_order(_KEYS, params, grads, flat, grad_flat):
            return None
        ws = self._workspace_for(rows)
        return one_call_step(
            fast.run, next_indices, (self.X, self.y), (flat, grad_flat, prev),
            (ws, rows, fast.fns), self.loss_and_grads, params, grads,
        )  # fmt: skip

    # -- what the model learned --------------------------------------------------------------

    @property
    def model_view_kind(self) -> views.ViewKind | None:
        return "sequence"

    def model_view(
        self,
        params: Params,
        *,
        width: int = views.DEFAULT_WIDTH,
        height: int = views.DEFAULT_HEIGHT,
    ) -> views.ModelView | None:
        """One-step-ahead predictions on the first MAX_SEQUENCE held-out windows (the forward
        pass on fresh buffers: safe beside training). `width` and `height` are not used."""
        views.check_resolution(width, height)
        params = views.copy_params(params)
        k = min(len(self.X_test), views.MAX_SEQUENCE)
        X = self.X_test[:k]
        predicted = self._forward(params, X, _Buffers(k, self.window, self.hidden, self.dtype))
        predicted = predicted[:, 0].astype(np.float64)
        target = self.y_test[:k, 0].astype(np.float64)
        first = self.split(self.n_points)[0] + self.window  # series index of the first target
        steps = np.arange(first, first + k)
        err = predicted - target
        return views.SequenceView(
            title=f"next-value predictions from the previous {self.window} true values vs the "
            f"held-out series, points {first}-{first + k - 1} of 0-{self.n_points - 1} "
            "(min-max scaled by the training part)",
            steps=views.frozen(steps, None),
            target=views.frozen(target),
            predicted=views.frozen(predicted),
            mse=float(np.mean(err * err)),
        )
