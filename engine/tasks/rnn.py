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

import threading
from collections.abc import Iterator
from typing import Any

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
)

TRAIN_FRACTION = 0.8

#: NumPy's float64 tanh table once the compiled recurrences (engine/tasks/_rnn_kernels.py)
#: proved bit-identical with np.tanh and np.matmul in the compiled path's build; None: the
#: recurrences step on NumPy.
compiled_tanh_table: np.ndarray | None = None
#: NumPy's float32 tanh table once its port (`_rnn_kernels.tanh_array_f32`) proved bit-identical
#: with np.tanh in the same build (the MLPs' float32 hidden layer); None: NumPy's tanh runs.
compiled_tanh_table_f32: np.ndarray | None = None
#: (rows, hidden) -> whether the compiled recurrences reproduce NumPy's on that shape
#: (`_rnn_kernels.shape_ok`), probed once per process.
_SHAPES_OK: dict[tuple[int, int], bool] = {}
#: Set once `_build_recurrences` has run (in the compiled path's build, or late: `_late_build`).
_built = threading.Event()
_late_lock = threading.Lock()
_late_started = False


def _build_recurrences(kernels: dict[str, Any]) -> None:
    """The compiled path's build step for the recurrences (`compiled.extra_builds`, run in its
    thread): compile, check and warm them up, and add them to `kernels` when they pass."""
    global compiled_tanh_table, compiled_tanh_table_f32
    if _built.is_set():  # already built (the MLPs' whole pass builds it first: it needs tanh)
        return
    try:
        from engine.tasks import _rnn_kernels

        own = {name: getattr(_rnn_kernels, name) for name in _rnn_kernels.KERNELS}
        table = _rnn_kernels.check(own)
    except Exception:  # no NumPy table found, an unexpected build: NumPy's passes run
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
    _built.set()


compiled.extra_builds.append(_build_recurrences)


def _late_build() -> None:
    """Build the recurrences in a thread of their own when the compiled path was built before
    this module was imported (so without them); NumPy's passes run meanwhile, with the same
    numbers."""
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
    writes tanh(x) into out, flat C-contiguous arrays of the dtype; bit for bit `np.tanh`,
    about twice as fast on a few thousand values) when the compiled path is ready and that
    port passed its check; else None. The MLPs use it too."""
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


def _takes(X: np.ndarray, params: Params) -> bool:
    """Whether the compiled recurrences take these arrays as they are (C-contiguous: what they
    were compiled for; other layouts go through NumPy's passes rather than a new compile)."""
    return X.flags.c_contiguous and all(
        params[k].flags.c_contiguous for k in ("W_xh", "b_h", "W_hh", "W_hy")
    )


def _compiled_recurrences(dtype: np.dtype, rows: int, hidden: int) -> tuple | None:
    """(forward, backward, tanh table) of the compiled path when it runs the recurrences of
    `rows` windows bit for bit as NumPy does (float64, a probed shape), else None."""
    table = compiled_tanh_table
    if not compiled.ready or table is None or dtype != np.float64:
        if compiled.ready and not _built.is_set():
            _late_build()
        return None
    ok = _SHAPES_OK.get((rows, hidden))
    if ok is None:
        from engine.tasks import _rnn_kernels

        matmul = compiled.kernel("matmul_small")
        ok = _SHAPES_OK[(rows, hidden)] = _rnn_kernels.shape_ok(matmul, rows, hidden)
    if not ok:
        return None
    return compiled.kernel("rnn_forward"), compiled.kernel("rnn_backward"), table


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

    def _forward(
        self, params: Params, X: np.ndarray, buf: _Buffers, fast: tuple | None = None
    ) -> np.ndarray:
        """Run the RNN over the windows X (m, T); return the predictions in buf.e. `fast`:
        the compiled recurrences (`_compiled_recurrences`), or None for NumPy's passes."""
        W_hh = params["W_hh"]
        h = buf.h_t
        if fast is not None:
            forward, _, table = fast
            forward(X, params["W_xh"], params["b_h"], W_hh, buf.xt, buf.Hs, buf.D, table)
            np.matmul(h[self.window], params["W_hy"], out=buf.e)
            buf.e += params["b_y"]
            return buf.e
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

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        X, y = batch
        m, T = X.shape
        buf = self._buffers_for(m)
        if grads is None:
            grads = self.new_grads()
        fast = _compiled_recurrences(self.dtype, m, self.hidden) if _takes(X, params) else None
        e = self._forward(params, X, buf, fast)
        e -= y
        loss = float(np.vdot(e, e)) / m
        e *= 2.0 / m  # dLoss/dy
        Hs = buf.Hs
        np.matmul(Hs[T].T, e, out=grads["W_hy"])
        np.matmul(buf.ones[:m], e, out=grads["b_y"])
        if fast is not None:
            fast[1](e, params["W_hy"], params["W_hh"], Hs, buf.D, buf.dA, buf.dH)
        else:
            self._backward_numpy(params, buf, T)
        # Weight gradients summed over all steps with one matmul each.
        np.matmul(buf.H2.T, buf.dA2, out=grads["W_hh"])
        np.matmul(buf.ones, buf.dA2, out=grads["b_h"])
        np.matmul(buf.x2, buf.dA2, out=grads["W_xh"])
        return loss, grads

    def _backward_numpy(self, params: Params, buf: _Buffers, T: int) -> None:
        """dH, D = 1 − h², dA of every step by NumPy's passes (the compiled path's
        `rnn_backward` does the same, bit for bit)."""
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
        for rows in eval_chunks(n, (3 * self.window + 1) * self.hidden):
            X = self.X_test[rows]
            fast = None
            if _takes(X, params):
                fast = _compiled_recurrences(self.dtype, len(X), self.hidden)
            e = self._forward(params, X, self._buffers_for(len(X)), fast)
            err = e - self.y_test[rows]
            total += float(np.vdot(err, err))
        return {"loss": total / n}

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
