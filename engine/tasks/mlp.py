"""One-hidden-layer tanh classifiers: 2-D point sets, Gaussian blobs and the 8x8 digits.

All three share one network, inputs -> `hidden` tanh units -> outputs, with weights stored
(fan_in, fan_out) so a batch is `X @ W1 + b1`. Binary tasks have one output unit with a
sigmoid and binary cross-entropy; multi-class tasks a softmax with cross-entropy. Both losses
are means over the batch and are computed from the logits (stable for any logit size).

The forward and backward passes write into activation buffers preallocated per batch size,
and into the caller's gradient arrays when given, so a training step allocates almost
nothing; that step is the hot path of the speed benchmarks. On the compiled path a softmax
MLP's whole pass is one kernel making NumPy's own BLAS and exp/log/tanh calls (`_build_fused`,
engine/tasks/_mlp_kernels.py), with the same numbers; so is its evaluation of a block of
held-out rows (`SoftmaxMLP._compiled_block`). Evaluation computes the loss alone (`_loss`),
without the output gradient the training pass needs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from importlib import resources
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
    glorot_uniform,
    one_call_step,
    packs_in_order,
)

#: engine/tasks/rnn.py, whose `compiled_tanh` the hidden layer uses, once imported (by
#: `_import_rnn`: importing it with this module would reorder the task list).
_rnn: Any = None


def _import_rnn() -> Any:
    global _rnn
    from engine.tasks import rnn

    _rnn = rnn
    return rnn


#: Per dtype, (kernel, BLAS and ufunc-loop addresses) of the whole softmax-MLP pass
#: (`_mlp_kernels.softmax_mlp`) once the build has checked it; absent: the passes one by one.
_fused: dict[np.dtype, tuple[Any, np.ndarray]] = {}
#: Why the whole pass is not used, when the build found it unusable (for `fused_status`).
_fused_error: str | None = None
#: Per dtype, the entry point of a Run's step up to its update in one call
#: (`_mlp_kernels.softmax_mlp_run`: `SoftmaxMLP._run_pass`), once the build has checked it.
_run_kernels: dict[np.dtype, Any] = {}
#: Per dtype, the entry point of a held-out block's evaluation in one call
#: (`_mlp_kernels.softmax_mlp_eval`: `SoftmaxMLP._compiled_block`), once the build has
#: checked it.
_eval_kernels: dict[np.dtype, Any] = {}


def _build_fused(kernels: dict[str, Any]) -> None:
    """The compiled path's build step for the whole softmax-MLP pass (`compiled.extra_builds`,
    run in its thread): compile it, check it against the NumPy passes bit for bit on both
    dtypes, and install it when NumPy's BLAS and loops were found and it passes."""
    global _fused_error
    try:
        from engine.tasks import _mlp_kernels

        found = {}
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            fns = _mlp_kernels.blas_functions(dtype)
            if fns is None:
                _fused_error = "NumPy's BLAS (scipy-openblas, 64-bit) or its exp/log/tanh not found"
                continue
            if not _check_fused(_mlp_kernels.softmax_mlp, fns, dtype):
                _fused_error = f"the whole pass differs from NumPy's in {dtype}"
                continue
            found[dtype] = fns
        norms = all(_check_norms(_mlp_kernels, fns, dtype) for dtype, fns in found.items())
        adam = kernels.get("adam")  # the optimizers' build put it there
        adam_norm = (
            norms
            and adam is not None
            and all(
                _check_adam_norm(_mlp_kernels, adam, fns, dtype) for dtype, fns in found.items()
            )
        )
        flat_norms = {  # the other families' steps with their update's norm, as adam_norm
            name: norms
            and kernels.get(family) is not None
            and all(
                _check_flat_norm(_mlp_kernels, name, kernels[family], fns, dtype)
                for dtype, fns in found.items()
            )
            for name, family in (("sgd_norm", "sgd"), ("rmsprop_norm", "rmsprop"))
        }
        run_pass = norms and all(
            _check_run_pass(_mlp_kernels, fns, dtype) for dtype, fns in found.items()
        )
        evaluation = all(_check_eval(_mlp_kernels, fns, dtype) for dtype, fns in found.items())
    except Exception as exc:  # an unexpected NumPy or numba: the passes one by one run
        _fused_error = f"{type(exc).__name__}: {exc}"
        return
    if found:
        kernels["softmax_mlp"] = _mlp_kernels.softmax_mlp
        if norms:
            kernels["sum_sq"] = _mlp_kernels.sum_sq
            kernels["difference_sum_sq"] = _mlp_kernels.difference_sum_sq
            if adam_norm:
                kernels["adam_norm"] = _mlp_kernels.adam_norm
            for name, usable in flat_norms.items():
                if usable:
                    kernels[name] = getattr(_mlp_kernels, name)
            compiled.blas_tables.update(found)
    for dtype, fns in found.items():
        _fused[dtype] = (_entry_point(_mlp_kernels.softmax_mlp, dtype), fns)
        if run_pass:
            _run_kernels[dtype] = _entry_point(_mlp_kernels.softmax_mlp_run, dtype)
        if evaluation:
            _eval_kernels[dtype] = _entry_point(_mlp_kernels.softmax_mlp_eval, dtype)


def _entry_point(dispatcher: Any, dtype: np.dtype) -> Any:
    """The dispatcher's compiled entry point for arrays of dtype when it has one (a call skips
    the dispatcher's type matching: see `compiled._entries`), else the dispatcher."""
    points = [
        result.entry_point
        for signature, result in dispatcher.overloads.items()
        if np.dtype(str(signature[0].dtype)) == dtype
    ]
    return points[0] if len(points) == 1 else dispatcher


def fused_note() -> str | None:
    """None when a softmax MLP's step runs as one compiled pass in both dtypes, else why not
    (for `compiled.describe`, once the build has run)."""
    if len(_fused) == 2 or _fused_error is None:
        return None
    return f"MLP passes one by one: {_fused_error}"


compiled.add_build(_build_fused)
compiled.build_notes.append(fused_note)


def _check_norms(module: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether a step's norm kernels (`sum_sq`, `difference_sum_sq`) give NumPy's numbers
    bit for bit (compiling them for dtype on the way)."""
    rng = np.random.default_rng(20260302)
    for n in (2, 3, 100, 9738):
        a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        out, expected = np.empty_like(a), np.empty_like(a)
        np.subtract(a, b, out=expected)
        if module.sum_sq(a, fns) != float(np.dot(a, a)):
            return False
        if module.difference_sum_sq(a, b, out, fns) != float(np.dot(expected, expected)):
            return False
        if out.tobytes() != expected.tobytes():
            return False
    return True


def _check_adam_norm(module: Any, adam: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether the Adam step with its update's squared norm (`adam_norm`) gives what the
    Adam kernel `adam` and `difference_sum_sq` after it give, bit for bit, with and without
    AMSGrad's max, decoupled decay, L2 decay and maximize (compiling it for dtype with the
    argument types `compiled.adam_flat` passes)."""
    rng = np.random.default_rng(20260304)
    for n in (2, 3, 9738):
        for has_vmax, has_decay, wd, grad_mode in (
            (False, False, 0.0, 0), (True, False, 0.0, 1), (False, True, 0.0, 0),
            (True, False, 0.01, 2), (False, False, 0.01, 3),
        ):  # fmt: skip
            state = [rng.standard_normal(n).astype(dtype) for _ in range(2)]
            state.append(np.abs(rng.standard_normal(n)).astype(dtype))
            state.append(np.abs(rng.standard_normal(n)).astype(dtype))
            g = rng.standard_normal(n).astype(dtype)
            runs = []
            for fused in (False, True):
                p, m, v, vmax = (a.copy() for a in state)
                prev, out = p.copy(), np.empty_like(p)
                args = (
                    p, g, m, v, vmax if has_vmax else v, has_vmax, 0.999 if has_decay else 1.0,
                    has_decay, wd, grad_mode, 0.1, True, 0.999, 1.0 - 0.999, 0.3, True, 1e-8,
                    -1e-3,
                )  # fmt: skip
                if fused:
                    usq = module.adam_norm(*args, prev, out, fns)
                else:
                    adam(*args)
                    usq = module.difference_sum_sq(p, prev, out, fns)
                runs.append((usq, b"".join(a.tobytes() for a in (p, m, v, vmax, out))))
            if runs[0] != runs[1]:
                return False
    return True


def _flat_norm_cases(name: str) -> list[tuple]:
    """Knob arguments the build checks a family's step with its update's norm on (after the
    arrays of `_check_flat_norm`), in the argument types its flat step passes
    (`compiled.sgd_flat`, `compiled.rmsprop_flat`): every branch of the kernel."""
    if name == "sgd_norm":  # momentum, fresh, dampen, nesterov, wd, grad_mode, mu, 1 − τ, −η
        return [
            (False, False, False, False, 0.0, 0, 0.0, 1.0, -0.1),
            (True, True, False, False, 0.0, 1, 0.9, 1.0, -0.1),
            (True, False, False, False, 0.0, 0, 0.9, 1.0, -0.1),
            (True, False, True, False, 0.01, 2, 0.9, 0.9, -0.1),
            (True, False, False, True, 0.01, 3, 0.9, 1.0, -0.1),
        ]
    # centered, momentum, wd, grad_mode, α, 1 − α, w, low, ε, μ, −η
    return [
        (centered, momentum, wd, mode, 0.99, 1.0 - 0.99, 1.0 - 0.99, True, 1e-8, mu, -0.01)
        for centered in (False, True)
        for momentum, mu in ((False, 0.0), (True, 0.9))
        for wd, mode in ((0.0, 0), (0.01, 3))
    ]


def _check_flat_norm(module: Any, name: str, family: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether the step with its update's squared norm `name` (`sgd_norm`, `rmsprop_norm`)
    gives what the family's kernel and `difference_sum_sq` after it give, bit for bit, in
    every branch (`_flat_norm_cases`; compiling it for dtype)."""
    fused = getattr(module, name)
    states = 1 if name == "sgd_norm" else 3
    rng = np.random.default_rng(20260306)
    for n in (2, 3, 9738):
        for knobs in _flat_norm_cases(name):
            p0, g = (rng.standard_normal(n).astype(dtype) for _ in range(2))
            bufs0 = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(states)]
            runs = []
            for with_norm in (False, True):
                p, bufs = p0.copy(), [b.copy() for b in bufs0]
                prev, out = p.copy(), np.empty_like(p)
                if with_norm:
                    usq = fused(p, g, *bufs, *knobs, prev, out, fns)
                else:
                    family(p, g, *bufs, *knobs)
                    usq = module.difference_sum_sq(p, prev, out, fns)
                runs.append(
                    np.float64(usq).tobytes() + b"".join(a.tobytes() for a in (p, out, *bufs))
                )
            if runs[0] != runs[1]:
                return False
    return True


def _check_run_pass(module: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether a Run's step pass (`softmax_mlp_run`) gives what the steps it fuses give, bit
    for bit: the gathered batch's loss and gradients (`softmax_mlp`, itself checked against
    NumPy's passes), NumPy's squared norm of the gradient and the copy of the parameters,
    which it leaves alone when the loss passes the limit (compiling it for dtype)."""
    rng = np.random.default_rng(20260303)
    for rows, m, n_in, hidden, n_out in ((2, 2, 2, 2, 2), (32, 30, 64, 128, 10), (9, 9, 5, 7, 3)):
        X_all = rng.standard_normal((3 * rows, n_in)).astype(dtype)
        Y_all = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, 3 * rows)]
        idx = rng.permutation(3 * rows)[:m]
        size = n_in * hidden + hidden + hidden * n_out + n_out
        flat = rng.standard_normal(size).astype(dtype)
        a, b, c = n_in * hidden, n_in * hidden + hidden, n_in * hidden + hidden + hidden * n_out
        params = {
            "W1": flat[:a].reshape(n_in, hidden),
            "b1": flat[a:b],
            "W2": flat[b:c].reshape(hidden, n_out),
            "b2": flat[c:],
        }
        expected = {k: np.empty(v.shape, dtype) for k, v in params.items()}
        buf = _Buffers(m, hidden, n_out, dtype)
        X, Y = X_all.take(idx, 0), Y_all.take(idx, 0)
        want = module.softmax_mlp(
            X, Y, params["W1"], params["b1"], params["W2"], params["b2"], buf.H, buf.Z,
            buf.dH, buf.mx, buf.s, buf.logs, buf.ones, expected["W1"], expected["b1"],
            expected["W2"], expected["b2"], fns,
        )  # fmt: skip
        grad_want = np.concatenate([v.reshape(-1) for v in expected.values()])
        ws = _workspace(module, rows, n_in, hidden, n_out, dtype)
        for limit, copied in ((np.inf, True), (want - 1.0, False)):
            grad, prev = np.full(size, np.nan, dtype), np.zeros(size, dtype)
            loss, gsq = module.softmax_mlp_run(X_all, Y_all, idx, flat, grad, prev, ws, rows,
                                               fns, limit)  # fmt: skip
            if np.float64(loss).tobytes() != np.float64(want).tobytes():
                return False
            if gsq != float(np.dot(grad_want, grad_want)) or grad.tobytes() != grad_want.tobytes():
                return False
            if prev.tobytes() != (flat if copied else np.zeros(size, dtype)).tobytes():
                return False
    return True


#: (held-out rows, inputs, hidden, classes) the build checks the compiled evaluation on: rows
#: past 128 sum the losses in NumPy's pairwise blocks (two, three and more).
_EVAL_SHAPES = ((2, 2, 2, 2), (9, 5, 7, 3), (129, 8, 16, 10), (359, 64, 128, 10), (1000, 3, 4, 5))


def _check_eval(module: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether the compiled evaluation of a held-out block (`softmax_mlp_eval`) gives the
    NumPy passes' loss and count of right answers bit for bit on random blocks of a few
    shapes, one with a NaN logit and one with tied logits (compiling it for dtype)."""
    rng = np.random.default_rng(20260305)
    for rows, n_in, hidden, n_out in _EVAL_SHAPES:
        for case in ("plain", "nan", "ties"):
            X = rng.standard_normal((rows, n_in)).astype(dtype)
            labels = rng.integers(0, n_out, rows).astype(np.intp)
            Y = np.eye(n_out, dtype=dtype)[labels]
            params = {
                "W1": rng.standard_normal((n_in, hidden)).astype(dtype),
                "b1": rng.standard_normal(hidden).astype(dtype),
                "W2": rng.standard_normal((hidden, n_out)).astype(dtype),
                "b2": rng.standard_normal(n_out).astype(dtype),
            }
            if case == "nan":
                X[rows // 2, 0] = np.nan
            elif case == "ties":
                params["W2"][:, 1] = params["W2"][:, 0]
                params["b2"][1] = params["b2"][0]
            with np.errstate(all="ignore"):
                want = _numpy_block(params, X, Y, labels, n_out, dtype)
            small = np.empty((3, rows, 1), dtype)
            got = module.softmax_mlp_eval(
                X, Y, labels, params["W1"], params["b1"], params["W2"], params["b2"],
                np.empty((rows, hidden), dtype), np.empty((rows, n_out), dtype), small[0],
                small[1], small[2], fns,
            )  # fmt: skip
            if np.float64(got[0]).tobytes() != np.float64(want[0]).tobytes() or got[1] != want[1]:
                return False
    return True


def _numpy_block(
    params: Params, X: np.ndarray, Y: np.ndarray, labels: np.ndarray, n_out: int, dtype: Any
) -> tuple[float, int]:
    """(loss, correct) of the NumPy passes of `MLPClassifier.evaluate` on one block."""
    task = SoftmaxMLP.__new__(SoftmaxMLP)
    task.n_out = n_out
    Z = task.logits(params, X)
    correct = int(np.count_nonzero(task._classes_of(Z) == labels))
    return task._loss(Z, Y, len(X), _Buffers(len(X), 1, n_out, np.dtype(dtype))), correct


def _workspace(
    module: Any, rows: int, n_in: int, hidden: int, n_out: int, dtype: np.dtype
) -> np.ndarray:
    """A workspace for `softmax_mlp_run`, 64-byte aligned (its regions start on cache lines)."""
    from engine.optimizers.base import _aligned_empty

    return _aligned_empty(module.workspace_size(rows, n_in, hidden, n_out), dtype)


#: (rows, inputs, hidden, classes) the build checks the whole pass on.
_CHECK_SHAPES = ((2, 2, 2, 2), (5, 7, 9, 3), (17, 64, 128, 10), (32, 64, 128, 10))


def _check_fused(kernel: Any, fns: np.ndarray, dtype: np.dtype) -> bool:
    """Whether `kernel` gives the NumPy passes' loss and gradients bit for bit on random
    batches of a few shapes (compiling it for dtype on the way)."""
    rng = np.random.default_rng(20260301)
    for m, n_in, hidden, n_out in _CHECK_SHAPES:
        X = rng.standard_normal((m, n_in)).astype(dtype)
        Y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, m)]
        params = {
            "W1": rng.standard_normal((n_in, hidden)).astype(dtype),
            "b1": rng.standard_normal(hidden).astype(dtype),
            "W2": rng.standard_normal((hidden, n_out)).astype(dtype),
            "b2": rng.standard_normal(n_out).astype(dtype),
        }
        shapes = {k: v.shape for k, v in params.items()}
        expected = {k: np.empty(v, dtype) for k, v in shapes.items()}
        buf = _Buffers(m, hidden, n_out, dtype)
        loss = MLPClassifier._forward_backward(
            SoftmaxMLP.__new__(SoftmaxMLP), params, X, Y, m, buf, expected, np.dot, None
        )[0]
        got = {k: np.empty(v, dtype) for k, v in shapes.items()}
        buf = _Buffers(m, hidden, n_out, dtype)
        got_loss = kernel(
            X, Y, params["W1"], params["b1"], params["W2"], params["b2"], buf.H, buf.Z,
            buf.dH, buf.mx, buf.s, buf.logs, buf.ones, got["W1"], got["b1"], got["W2"],
            got["b2"], fns,
        )  # fmt: skip
        if np.float64(got_loss).tobytes() != np.float64(loss).tobytes():
            return False
        if any(got[k].tobytes() != expected[k].tobytes() for k in shapes):
            return False
    return True


class _Buffers:
    """Activations for one batch size (m rows)."""

    __slots__ = ("H", "T", "Z", "dH", "logs", "mx", "ones", "s")

    def __init__(self, m: int, hidden: int, n_out: int, dtype: np.dtype) -> None:
        self.H = np.empty((m, hidden), dtype)  # tanh activations
        self.T = np.empty((m, hidden), dtype)  # 1 - H^2
        self.dH = np.empty((m, hidden), dtype)  # loss gradient at the hidden layer
        self.Z = np.empty((m, n_out), dtype)  # logits, then the loss gradient at the logits
        self.mx = np.empty((m, 1), dtype)  # row max of the logits (softmax)
        self.s = np.empty((m, 1), dtype)  # row sums of exp (softmax)
        self.logs = np.empty((m, 1), dtype)  # their logs
        self.ones = np.ones(m, dtype)  # column sums as a BLAS product: cheaper than a reduce


class MLPClassifier(Task):
    """Shared network code; subclasses load data into X, Y, X_test, labels_test.

    Targets `Y` are float arrays: one-hot rows (m, C) for softmax, 0/1 columns (m, 1) for the
    binary task. Batches are (X rows, Y rows).
    """

    is_classifier = True
    n_out: int = 1

    def _setup(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        X_test: np.ndarray,
        labels_test: np.ndarray,
    ) -> None:
        self.n_in = X.shape[1]
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        self.X_test = np.ascontiguousarray(X_test, dtype=self.dtype)
        self.labels = labels.astype(np.intp)
        self.labels_test = labels_test.astype(np.intp)
        self.Y = self._targets(self.labels)
        self.Y_test = self._targets(self.labels_test)
        self._buffers: dict[int, _Buffers] = {}

    def _targets(self, labels: np.ndarray) -> np.ndarray:
        if self.n_out == 1:
            return labels.astype(self.dtype).reshape(-1, 1)
        return np.eye(self.n_out, dtype=self.dtype)[labels]

    # -- Task protocol ----------------------------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h, o = self.hidden, self.n_out
        return {"W1": (self.n_in, h), "b1": (h,), "W2": (h, o), "b2": (o,)}

    def init_params(self, rng: np.random.Generator) -> Params:
        """Glorot-uniform weights (suits tanh), zero biases."""
        h, o = self.hidden, self.n_out
        return {
            "W1": glorot_uniform(rng, self.n_in, h, self.dtype),
            "b1": np.zeros(h, self.dtype),
            "W2": glorot_uniform(rng, h, o, self.dtype),
            "b2": np.zeros(o, self.dtype),
        }

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, ...]]:
        return epoch_batches(rng, (self.X, self.Y), self.batch_size)

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        X, Y = batch
        m = X.shape[0]
        buf = self._buffers.get(m)
        if buf is None:
            buf = self._buffers[m] = _Buffers(m, self.hidden, self.n_out, self.dtype)
        target = grads
        if grads is None or not all(
            g.flags.c_contiguous and g.dtype == self.dtype for g in grads.values()
        ):
            # Strided (or other-dtype) outputs are written from contiguous ones: a product
            # into a strided array takes NumPy's own loop, not BLAS, and sums in another order.
            grads = self.new_grads()
        kernels = compiled.kernels_for(self.dtype)
        try:
            # np.dot: the same BLAS calls as np.matmul (gemm; gemv for the bias sums) with
            # less call overhead, which is much of the cost at these sizes.
            loss, grads = self._forward_backward(params, X, Y, m, buf, grads, np.dot, kernels)
        except ValueError:
            # np.dot writes only into arrays of its result's dtype (not float32 buffers from
            # float64 params): np.matmul casts.
            loss, grads = self._forward_backward(params, X, Y, m, buf, grads, np.matmul, kernels)
        if target is None or target is grads:
            return loss, grads
        for key, value in grads.items():
            np.copyto(target[key], value)
        return loss, target

    def _forward_backward(
        self,
        params: Params,
        X: np.ndarray,
        Y: np.ndarray,
        m: int,
        buf: _Buffers,
        grads: Params,
        dot: Any,
        kernels: dict[str, Any] | None,
    ) -> tuple[float, Params]:
        """The NumPy passes, with the compiled path's `kernels` (None: NumPy's alone)."""
        W2, b1, b2 = params["W2"], params["b1"], params["b2"]
        H, Z = buf.H, buf.Z
        # Ufuncs with a positional `out`, not in-place operators: less call overhead.
        add, multiply = np.add, np.multiply
        # The compiled passes (bit for bit the same) when the biases are contiguous arrays of
        # the activations' dtype: what the kernels' entry points take (`compiled._entries`).
        if kernels is not None and not (
            b1.dtype is H.dtype
            and b2.dtype is H.dtype
            and b1.flags.c_contiguous
            and b2.flags.c_contiguous
            and b1.ndim == b2.ndim == 1
        ):
            kernels = None
        # forward: H = tanh(X W1 + b1), Z = H W2 + b2
        dot(X, params["W1"], H)
        if kernels is not None:
            kernels["bias_add"](H, b1)
        else:
            add(H, b1, H)
        fast_tanh = None
        if kernels is not None:
            fast_tanh = (_rnn or _import_rnn()).compiled_tanh(H.dtype)
        if fast_tanh is not None:  # NumPy's own tanh (float64 or float32), ported: the same numbers
            flat = H.reshape(-1)
            fast_tanh[0](flat, flat, fast_tanh[1])
        else:
            np.tanh(H, H)
        dot(H, W2, Z)
        loss = None
        if kernels is not None:
            loss = self._compiled_output(Z, b2, Y, m, buf, kernels)
        if loss is None:
            add(Z, b2, Z)
            loss = self._output(Z, Y, m, buf)  # Z now holds dLoss/dZ
        # backward
        dot(H.T, Z, grads["W2"])
        dot(buf.ones, Z, grads["b2"])
        dH, T = buf.dH, buf.T
        dot(Z, W2.T, dH)
        if kernels is not None:
            kernels["tanh_backward"](H, dH)  # the same three passes in one loop, bit for bit
        else:
            multiply(H, H, T)
            np.subtract(1.0, T, T)
            multiply(dH, T, dH)
        dot(X.T, dH, grads["W1"])
        dot(buf.ones, dH, grads["b1"])
        return loss, grads

    def _output(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        """Loss from logits Z; overwrite Z with the gradient of the loss with respect to Z."""
        raise NotImplementedError

    def _loss(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        """`_output`'s loss alone (Z may be overwritten): what evaluation needs. `_output`
        computes it first, so both give the same number."""
        raise NotImplementedError

    def _compiled_output(
        self,
        Z: np.ndarray,
        b: np.ndarray,
        Y: np.ndarray,
        m: int,
        buf: _Buffers,
        kernels: dict[str, Any],
    ) -> float | None:
        """Add the output bias b to Z, then `_output`, with compiled passes; None when this
        task has none for these arrays (the caller then runs the NumPy passes)."""
        return None

    def logits(self, params: Params, X: np.ndarray) -> np.ndarray:
        """Network outputs before the sigmoid/softmax (allocates; for evaluation)."""
        H = np.tanh(X @ params["W1"] + params["b1"])
        return H @ params["W2"] + params["b2"]

    def evaluate(self, params: Params) -> dict[str, float]:
        """Loss and accuracy on the held-out set (in row blocks: memory stays bounded)."""
        n = len(self.X_test)
        chunks = eval_chunks(n, self.hidden + self.n_out)
        correct = 0
        loss_sum = 0.0
        block = self._compiled_block(params)
        for rows in chunks:
            if block is not None and rows.stop - rows.start >= 2:
                loss, right = block(rows)
                correct += right
                loss_sum += loss * (rows.stop - rows.start)
                continue
            Z = self.logits(params, self.X_test[rows])
            m = len(Z)
            buf = _Buffers(m, 1, self.n_out, self.dtype)
            predicted = self._classes_of(Z)
            correct += int(np.count_nonzero(predicted == self.labels_test[rows]))
            loss = self._loss(Z, self.Y_test[rows], m, buf)
            loss_sum += loss * m
        if len(chunks) > 1:
            loss = loss_sum / n  # a mean of the blocks' means, weighted by their rows
        return {"loss": loss, "accuracy": correct / n}

    def _compiled_block(self, params: Params) -> Any:
        """`evaluate`'s work on one block of held-out rows (a slice) as one compiled call
        giving (loss, correct), or None where there is none (then the NumPy passes run)."""
        return None

    def _classes_of(self, Z: np.ndarray) -> np.ndarray:
        """The predicted class of each row of logits Z (what `evaluate` scores)."""
        if self.n_out == 1:
            return (Z[:, 0] > 0).astype(np.intp)
        return Z.argmax(axis=1)

    def predicted_classes(self, params: Params, X: np.ndarray) -> np.ndarray:
        """The class the network picks for each row of X, by `evaluate`'s rule."""
        return self._classes_of(self.logits(params, X))

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in range(max(2, self.n_out)))

    # -- what the model learned: decision regions (digits-mlp overrides) ---------------------

    @property
    def model_view_kind(self) -> views.ViewKind | None:
        return "regions"

    def plane_projection(self) -> views.Projection:
        """How inputs map to the plane the decision regions are drawn on (cached)."""
        return self._plane.projection

    def _make_projection(self) -> views.Projection:
        return views.feature_projection(self.n_in)

    def _plane_title(self) -> str:
        """What the plane is, for the view's title."""
        return "over the data's range"

    @functools.cached_property
    def _plane(self) -> _Plane:
        """The plane, its ranges and the drawn subsets: fixed for a task, built once."""
        projection = self._make_projection()
        lo = np.full(2, np.inf)
        hi = np.full(2, -np.inf)
        for X in (self.X, self.X_test):  # in row blocks: a float64 copy of X may be large
            for rows in eval_chunks(len(X), X.shape[1]):
                uv = projection.to_plane(X[rows])
                lo = np.minimum(lo, uv.min(axis=0))
                hi = np.maximum(hi, uv.max(axis=0))
        x_range = views.padded_range(np.array([lo[0], hi[0]]))
        y_range = views.padded_range(np.array([lo[1], hi[1]]))
        per_point = self.n_in * self.hidden + self.hidden * self.n_out  # multiply-adds
        limit = views.points_within_budget(per_point)
        train = views.spread_subset(len(self.X), limit)
        test = views.spread_subset(len(self.X_test), limit)
        return _Plane(
            projection,
            x_range,
            y_range,
            train,
            test,
            views.frozen(projection.to_plane(self.X[train])),
            views.frozen(projection.to_plane(self.X_test[test])),
        )

    def region_probabilities(self, params: Params, points: np.ndarray) -> np.ndarray:
        """P(class) (n, n_classes), float64, of the network at plane `points` (n, 2): the
        function the decision-region grid samples, usable at any point of the plane."""
        return self._plane_probabilities(params, points).T

    def _plane_probabilities(self, params: Params, points: np.ndarray) -> np.ndarray:
        """`region_probabilities` laid out (n_classes, n): reductions over classes then run
        along contiguous rows (several times faster than over a short last axis)."""
        projection = self.plane_projection()
        W1 = params["W1"].astype(np.float64)
        # The network at mean + uv @ components, with the plane folded into the first layer.
        W1_plane = projection.components @ W1
        b1_plane = projection.mean @ W1 + params["b1"]
        H = np.asarray(points, np.float64) @ W1_plane
        H += b1_plane
        np.tanh(H, out=H)
        Z = params["W2"].T.astype(np.float64) @ H.T  # logits (n_out, n)
        Z += params["b2"][:, None]
        return _probabilities(Z)

    def model_view(
        self,
        params: Params,
        *,
        width: int = views.DEFAULT_WIDTH,
        height: int = views.DEFAULT_HEIGHT,
    ) -> views.ModelView | None:
        """Decision regions: P(class) on a width x height grid over the data's plane, with
        the (subsets of the) training and test points and the network's predictions."""
        views.check_resolution(width, height)
        params = views.copy_params(params)
        plane = self._plane
        (x0, x1), (y0, y1) = plane.x_range, plane.y_range
        xs = views.pixel_centres(x0, x1, width)
        ys = views.pixel_centres(y0, y1, height)[::-1]  # row 0 is the top
        grid = np.empty((height, width, 2))
        grid[:, :, 0] = xs
        grid[:, :, 1] = ys[:, None]
        by_class = self._plane_probabilities(params, grid.reshape(-1, 2))  # (C, pixels)
        region = by_class.argmax(axis=0).reshape(height, width)
        confidence = by_class.max(axis=0).reshape(height, width)
        probs = by_class.T.reshape(height, width, -1)  # a view: (row, col, class)
        train = self._point_set(params, self.X, self.labels, plane.train, plane.train_uv)
        test = self._point_set(params, self.X_test, self.labels_test, plane.test, plane.test_uv)
        on_plane = self._plane_probabilities(params, plane.train_uv).argmax(axis=0)
        agreement = float(np.mean(on_plane == train.predicted)) if len(on_plane) else 1.0
        shown = f"{_points_text(train, 'training')} and {_points_text(test, 'test')}"
        return views.DecisionRegions(
            title=f"{self._view_name()}: class probabilities of the network "
            f"{self._plane_title()}, {shown}",
            x_range=plane.x_range,
            y_range=plane.y_range,
            xs=views.frozen(xs),
            ys=views.frozen(ys),
            probabilities=views.frozen(probs),
            region=views.frozen(region, None),
            confidence=views.frozen(confidence),
            class_names=self.class_names,
            train=train,
            test=test,
            projection=plane.projection,
            plane_agreement=agreement,
        )

    def _view_name(self) -> str:
        return self.name

    def _point_set(
        self,
        params: Params,
        X: np.ndarray,
        labels: np.ndarray,
        subset: np.ndarray,
        uv: np.ndarray,
    ) -> views.PointSet:
        return views.PointSet(
            points=uv,
            labels=views.frozen(labels[subset], None),
            predicted=views.frozen(self.predicted_classes(params, X[subset]), None),
            total=len(X),
        )


class _Plane(NamedTuple):
    projection: views.Projection
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    train: np.ndarray  # indices of the drawn training points
    test: np.ndarray
    train_uv: np.ndarray  # their plane coordinates
    test_uv: np.ndarray


def _probabilities(Z: np.ndarray) -> np.ndarray:
    """Class probabilities (C, n) from logits (1, n) (sigmoid: rows 1 - p, p) or (C, n)
    (softmax); overwrites Z."""
    if Z.shape[0] == 1:
        out = np.empty((2, Z.shape[1]))
        p = out[1]
        np.multiply(Z[0], 0.5, out=p)
        np.tanh(p, out=p)  # sigmoid(z) = (1 + tanh(z / 2)) / 2, stable for any z
        p += 1.0
        p *= 0.5
        np.subtract(1.0, p, out=out[0])
        return out
    Z -= Z.max(axis=0)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=0)
    return Z


def _points_text(points: views.PointSet, what: str) -> str:
    n = len(points.labels)
    if n == points.total:
        return f"{n:,} {what} points"
    return f"{n:,} of {points.total:,} {what} points (evenly spaced)"


#: The network's parameters in the order of its flat buffers.
_PARAM_KEYS = ("W1", "b1", "W2", "b2")


class SoftmaxMLP(MLPClassifier):
    """Multi-class: softmax over C logits, mean cross-entropy against one-hot targets."""

    #: (params, grads, their arrays) the whole compiled pass was last found to take.
    _fused_for: tuple | None = None
    #: (the arguments, `_run_pass`'s step for them): the step it last built, and what for.
    _run_memo: tuple | None = None

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        # The whole pass in one compiled call (`_mlp_kernels.softmax_mlp`: NumPy's own BLAS
        # calls and loops, so the same numbers) when it was built and takes these arrays.
        dtype = self.dtype
        fused = _fused.get(dtype) if compiled.ready and grads is not None else None
        if fused is not None:
            X, Y = batch
            m = len(X)
            if (
                2 <= m <= 128
                and X.dtype is dtype
                and Y.dtype is dtype
                and X.shape == (m, self.n_in)
                and Y.shape == (m, self.n_out)
                and X.flags.c_contiguous
                and Y.flags.c_contiguous
                and self._fused_takes(params, grads)
            ):
                buf = self._buffers.get(m)
                if buf is None:
                    buf = self._buffers[m] = _Buffers(m, self.hidden, self.n_out, dtype)
                W1, b1, W2, b2, gW1, gb1, gW2, gb2 = self._fused_for[2]
                kernel, fns = fused
                loss = kernel(
                    X, Y, W1, b1, W2, b2, buf.H, buf.Z, buf.dH, buf.mx, buf.s, buf.logs,
                    buf.ones, gW1, gb1, gW2, gb2, fns,
                )  # fmt: skip
                return loss, grads
        return super().loss_and_grads(params, batch, grads)

    def _run_pass(
        self,
        batches: Any,
        params: Params,
        grads: Params,
        flat: np.ndarray,
        grad_flat: np.ndarray,
        prev: np.ndarray,
    ) -> Any:
        """`Task._run_pass` through `_mlp_kernels.softmax_mlp_run` (W1, b1, W2, b2 packed
        in that order), ~4 us less of calls and argument unpacking a step (digits-mlp at
        batch 32); the step built once per run (asked again each chunk: memoized)."""
        dtype = self.dtype
        kernel = _run_kernels.get(dtype) if compiled.ready else None
        # The same run asks again for each chunk of steps: its step, unless anything changed.
        arrays = (
            kernel, batches, flat, grad_flat, prev,
            *(params.get(key) for key in _PARAM_KEYS), *(grads.get(key) for key in _PARAM_KEYS),
        )  # fmt: skip
        memo = self._run_memo
        if memo is not None and len(params) == len(grads) == 4:
            known, step = memo
            if all(a is b for a, b in zip(arrays, known, strict=True)):
                return step
        step = self._new_run_pass(kernel, batches, params, grads, flat, grad_flat, prev)
        self._run_memo = None if step is None else (arrays, step)
        return step

    def _new_run_pass(
        self,
        kernel: Any,
        batches: Any,
        params: Params,
        grads: Params,
        flat: np.ndarray,
        grad_flat: np.ndarray,
        prev: np.ndarray,
    ) -> Any:
        """`_run_pass`, built anew (with the whole compiled step `kernel`, or None)."""
        dtype = self.dtype
        next_indices = getattr(batches, "next_indices", None)
        rows = self.batch_size
        fused = _fused.get(dtype)
        if (
            kernel is None
            or fused is None
            or next_indices is None
            or batches.inputs is not self.X
            or batches.targets is not self.Y
            or not 2 <= rows <= 128
            or not self._fused_takes(params, grads)
            or not all(
                a.dtype is dtype and a.ndim == 1 and a.flags.c_contiguous and a.flags.writeable
                for a in (flat, grad_flat, prev)
            )
            or not flat.size == grad_flat.size == prev.size
        ):
            return None
        if not packs_in_order(_PARAM_KEYS, params, grads, flat, grad_flat):
            return None
        from engine.tasks import _mlp_kernels

        ws = self.__dict__.get("_run_workspace")
        if ws is None:
            ws = self._run_workspace = _workspace(
                _mlp_kernels, rows, self.n_in, self.hidden, self.n_out, dtype
            )
        return one_call_step(
            kernel, next_indices, (self.X, self.Y), (flat, grad_flat, prev),
            (ws, rows, fused[1]), self.loss_and_grads, params, grads,
        )  # fmt: skip

    def _compiled_block(self, params: Params) -> Any:
        # One call (`_mlp_kernels.softmax_mlp_eval`: NumPy's own gemm, tanh, exp and log, its
        # reductions' order) per block when it was built and takes these parameters.
        dtype = self.dtype
        kernel = _eval_kernels.get(dtype) if compiled.ready else None
        fused = _fused.get(dtype)
        if (
            kernel is None
            or fused is None
            or self.n_out > 128
            or min(self.n_in, self.hidden, self.n_out) < 2
        ):
            return None
        shapes = self.param_shapes()
        arrays = []
        for key in ("W1", "b1", "W2", "b2"):
            a = params.get(key)
            if not (
                isinstance(a, np.ndarray)
                and a.dtype is dtype
                and a.flags.c_contiguous
                and a.shape == shapes[key]
            ):
                return None
            arrays.append(a)
        W1, b1, W2, b2 = arrays
        X_all, Y_all, labels_all = self.X_test, self.Y_test, self.labels_test
        fns = fused[1]
        hidden, n_out = self.hidden, self.n_out

        def block(rows: slice) -> tuple[float, int]:
            X, Y, labels = X_all[rows], Y_all[rows], labels_all[rows]
            m = len(X)
            H = np.empty((m, hidden), dtype)
            Z = np.empty((m, n_out), dtype)
            small = np.empty((3, m, 1), dtype)  # row maxima, sums of exp, their logs
            return kernel(X, Y, labels, W1, b1, W2, b2, H, Z, small[0], small[1], small[2], fns)

        return block

    def _fused_takes(self, params: Params, grads: Params) -> bool:
        """Whether the whole compiled pass takes these parameters and gradients: C-contiguous
        arrays of the task's dtype and shapes, each dimension at least 2 and at most 128
        classes. Checked once for a pair of dicts holding the same arrays (a run's)."""
        known = self._fused_for
        if known is not None and known[0] is params and known[1] is grads:
            arrays = known[2]
            if (
                params["W1"] is arrays[0]
                and params["b1"] is arrays[1]
                and params["W2"] is arrays[2]
                and params["b2"] is arrays[3]
                and grads["W1"] is arrays[4]
                and grads["b1"] is arrays[5]
                and grads["W2"] is arrays[6]
                and grads["b2"] is arrays[7]
            ):
                return True
        shapes = self.param_shapes()
        if min(self.n_in, self.hidden, self.n_out) < 2 or self.n_out > 128:
            return False
        arrays = []
        for source in (params, grads):
            for key in ("W1", "b1", "W2", "b2"):
                a = source.get(key)
                if not (
                    isinstance(a, np.ndarray)
                    and a.dtype is self.dtype
                    and a.flags.c_contiguous
                    and a.shape == shapes[key]
                ):
                    return False
                arrays.append(a)
        if len(params) != 4 or len(grads) != 4:
            return False
        self._fused_for = (params, grads, tuple(arrays))
        return True

    def _output(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        loss = self._loss(Z, Y, m, buf)  # Z now holds the shifted logits' exponentials
        # dLoss/dZ = (softmax - onehot) / m
        s = buf.s
        fused = compiled.kernel("softmax_grad")
        if fused is not None and Z.flags.c_contiguous and Y.flags.c_contiguous:
            fused(Z, s, Y, 1.0 / m)  # the same three passes in one loop, bit for bit
        else:
            np.divide(Z, s, Z)
            np.subtract(Z, Y, Z)
            np.multiply(Z, 1.0 / m, Z)
        return loss

    def _loss(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        # Shift by the row max so exp never overflows; softmax and the loss are unchanged.
        mx, s, logs = buf.mx, buf.s, buf.logs
        np.maximum.reduce(Z, 1, None, mx, True)  # (array, axis, dtype, out, keepdims)
        np.subtract(Z, mx, Z)
        zy = float(np.vdot(Z, Y))  # sum of the true classes' shifted logits
        np.exp(Z, Z)
        np.add.reduce(Z, 1, None, s, True)
        np.log(s, logs)
        return (float(np.add.reduce(logs, None)) - zy) / m

    def _compiled_output(
        self,
        Z: np.ndarray,
        b: np.ndarray,
        Y: np.ndarray,
        m: int,
        buf: _Buffers,
        kernels: dict[str, Any],
    ) -> float | None:
        # NumPy's passes in the same order, its reductions summed in its pairwise order (one
        # block: at most 128 rows and classes); exp, log and the dot product stay NumPy's.
        if m > 128 or Z.shape[1] > 128 or Y.dtype is not Z.dtype or not Y.flags.c_contiguous:
            return None
        s = buf.s
        kernels["softmax_shift"](Z, b, buf.mx)
        zy = float(np.vdot(Z, Y))  # sum of the true classes' shifted logits
        np.exp(Z, Z)
        kernels["row_sums"](Z, s)
        np.log(s, buf.logs)
        total = kernels["softmax_finish"](Z, s, buf.logs, Y, 1.0 / m)
        return (float(total) - zy) / m


class BinaryMLP(MLPClassifier):
    """Binary: one logit z, p = sigmoid(z), mean binary cross-entropy against 0/1 targets."""

    def _output(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        loss = self._loss(Z, Y, m, buf)
        # dLoss/dz = (sigmoid(z) - y) / m; sigmoid(z) = (1 + tanh(z/2)) / 2 never overflows.
        Z *= 0.5
        np.tanh(Z, out=Z)
        Z += 1.0
        Z *= 0.5
        Z -= Y
        Z *= 1.0 / m
        return loss

    def _loss(self, Z: np.ndarray, Y: np.ndarray, m: int, buf: _Buffers) -> float:
        # BCE(z, y) = softplus(z) - y z, with softplus(z) = log(1 + e^z) computed stably.
        return (float(np.logaddexp(0.0, Z).sum()) - float(np.vdot(Z, Y))) / m


def _check_activations(values: dict[str, Any], n_train: int) -> None:
    """A training batch's hidden activations (rows × hidden) must fit the memory budget."""
    rows = values["batch_size"] or n_train
    shown = "full batch" if values["batch_size"] == 0 else f"batch_size {rows}"
    h = values["hidden"]
    check_elements("hidden", f"hidden × rows per step = {h} × {rows} ({shown})", h * rows)


# -- 2-D point sets (TensorFlow Playground's four classification data sets) -------------------

DATASETS = ("circle", "xor", "spiral", "gauss")


def playground_points(
    dataset: str, n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n points (n, 2) and 0/1 labels, following TensorFlow Playground's generators.

    circle: positives with radius < 2.5, negatives with radius in [3.5, 5], labelled by the
    noisy position; xor: the sign of x*y, away from the axes by 0.3; spiral: two interleaved
    arms; gauss: two Gaussians at (2, 2) and (-2, -2) whose variance grows with noise.
    `noise` is Playground's noise percentage / 100 (0 to 0.5).
    """
    half = n // 2
    if dataset == "circle":
        radius = 5.0
        r = np.concatenate(
            [rng.uniform(0, 0.5 * radius, half), rng.uniform(0.7 * radius, radius, n - half)]
        )
        angle = rng.uniform(0, 2 * np.pi, n)
        pts = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
        jitter = rng.uniform(-radius, radius, (n, 2)) * noise
        labels = np.hypot(*(pts + jitter).T) < 0.5 * radius
    elif dataset == "xor":
        pts = rng.uniform(-5, 5, (n, 2))
        pts += np.where(pts > 0, 0.3, -0.3)
        jitter = rng.uniform(-5, 5, (n, 2)) * noise
        noisy = pts + jitter
        labels = noisy[:, 0] * noisy[:, 1] >= 0
    elif dataset == "spiral":
        # Points along each arm at uniformly drawn positions (Playground spaces them evenly).
        u = rng.uniform(0, 1, n)
        labels = np.arange(n) < half
        t = 1.75 * u * 2 * np.pi + np.where(labels, 0.0, np.pi)
        r = 5.0 * u
        pts = np.column_stack([r * np.sin(t), r * np.cos(t)])
        pts += rng.uniform(-1, 1, (n, 2)) * noise
    elif dataset == "gauss":
        variance = 0.5 + 3.5 * (noise / 0.5)
        labels = np.arange(n) < half
        centers = np.where(labels[:, None], 2.0, -2.0)
        pts = centers + np.sqrt(variance) * rng.standard_normal((n, 2))
    else:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    return pts, labels.astype(np.intp)


@REGISTRY.register
class BinaryPointsMLP(BinaryMLP):
    """TensorFlow-Playground-style binary classification of 2-D points."""

    name = "binary-mlp"
    summary = "tanh MLP separating 2-D points: circle, xor, spiral or gauss (Playground)"
    description = (
        "Two inputs (the point's x, y, as in Playground), one tanh hidden layer, a sigmoid output "
        "and binary cross-entropy. Data sets as in TensorFlow Playground; a test set of the "
        "same size is held out."
    )
    size_knob = "hidden"
    specs = (
        Hyper("dataset", "circle", kind="choice", choices=DATASETS, help="point set"),
        Hyper("noise", 0.0, low=0.0, high=0.5, help="Playground's noise (0 to 0.5)"),
        Hyper("hidden", 8, kind="int", low=1, high=1024, help="tanh units"),
        batch_size_hyper(10),
        Hyper("n_samples", 250, kind="int", low=4, high=100_000, help="training points"),
        DATA_SEED,
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        check_batch_size(values, values["n_samples"])
        _check_activations(values, values["n_samples"])

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        rng = np.random.default_rng(self.data_seed)
        # Like Playground: generate all points, shuffle, split half/half into train and test.
        n = self.n_samples
        pts, labels = playground_points(self.dataset, 2 * n, self.noise, rng)
        order = rng.permutation(len(pts))
        train, test = order[:n], order[n:]
        self._setup(pts[train], labels[train], pts[test], labels[test])

    def _view_name(self) -> str:
        return f"{self.dataset} (binary-mlp)"


@REGISTRY.register
class BlobsMLP(SoftmaxMLP):
    """Softmax MLP on Gaussian blobs: separable classes with a noise (cluster std) knob."""

    name = "blobs-mlp"
    summary = "softmax MLP on Gaussian blobs (20 features, 3 classes)"
    description = (
        "Class centres drawn uniformly in [-2, 2]^n_features; each sample is its centre plus "
        "Gaussian noise of std `noise`. Separable at the default noise, hard near 3. "
        "(The tutorials' random labels could not be learnt.)"
    )
    size_knob = "n_features"
    specs = (
        Hyper("n_features", 20, kind="int", low=1, high=10_000, help="input dimensions"),
        Hyper("n_classes", 3, kind="int", low=2, high=100, help="classes (blobs)"),
        Hyper("n_samples", 1000, kind="int", low=2, high=1_000_000, help="training points"),
        Hyper("noise", 1.0, low=0.0, high=100.0, help="std of each blob"),
        Hyper("hidden", 32, kind="int", low=1, high=4096, help="tanh units"),
        batch_size_hyper(32),
        DATA_SEED,
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        check_batch_size(values, values["n_samples"])
        n, f, h = values["n_samples"], values["n_features"], values["hidden"]
        check_elements("n_samples", f"n_samples × n_features = {n} × {f}", n * f)
        check_elements("hidden", f"n_features × hidden = {f} × {h}", f * h)
        _check_activations(values, n)

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        self.n_out = self.n_classes
        rng = np.random.default_rng(self.data_seed)
        self.centers = rng.uniform(-2.0, 2.0, (self.n_classes, self.n_features))

        def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
            labels = rng.permutation(np.arange(n) % self.n_classes)  # balanced classes
            X = self.centers[labels] + self.noise * rng.standard_normal((n, self.n_features))
            return X, labels

        X, labels = draw(self.n_samples)
        X_test, labels_test = draw(self.n_samples)
        self._setup(X, labels, X_test, labels_test)

    def _make_projection(self) -> views.Projection:
        # More than two features: the plane of the training data's first two principal
        # components through its mean. With 3 classes the blob centres span a plane close to
        # it, so it separates the blobs as well as any fixed 2-D picture can.
        if self.n_features <= 2:
            return views.feature_projection(self.n_features)
        return views.pca_projection(self.X)

    def _plane_title(self) -> str:
        projection = self.plane_projection()
        if projection.method == "features":
            if self.n_features == 1:
                return "along the one feature x1 (y unused)"
            return "over the data's range"
        e1, e2 = projection.explained or (0.0, 0.0)
        return (
            f"on the plane of the training data's first two principal components through its "
            f"mean (PC1 {e1:.0%}, PC2 {e2:.0%} of the variance; points projected onto it)"
        )

    def _view_name(self) -> str:
        return f"{self.n_classes} blobs in {self.n_features}-D (blobs-mlp)"


# -- the UCI 8x8 digits ---------------------------------------------------------------------

DIGITS_CONTENT_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"
DIGITS_TRAIN = 1438  # of 1,797; the stratified 20% test split holds 359 (see PROVENANCE.md)


@functools.cache
def load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (1797, 64) in 0..16, labels uint8 (1797,), is_test bool (1797,)).

    Read once from the package's data/digits.npz; the content is checked against its
    recorded checksum so a damaged file fails loudly rather than training on garbage.
    """
    ref = resources.files("engine") / "data" / "digits.npz"
    with ref.open("rb") as fh, np.load(fh) as npz:
        images, labels, is_test = npz["images"], npz["labels"], npz["is_test"]
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    if digest != DIGITS_CONTENT_SHA256:
        raise RuntimeError("engine/data/digits.npz is damaged (checksum mismatch)")
    for a in (images, labels, is_test):
        a.flags.writeable = False
    return images, labels, is_test


@REGISTRY.register
class DigitsMLP(SoftmaxMLP):
    """64 pixels -> hidden tanh -> 10-way softmax on the UCI 8x8 handwritten digits."""

    name = "digits-mlp"
    summary = "MLP on the 8x8 handwritten digits (1,797 images, 10 classes)"
    description = (
        "UCI optical digits (Alpaydin & Kaynak 1998), pixels 0..16 scaled to [0, 1]; "
        "64 → hidden tanh → 10 softmax, cross-entropy. Fixed stratified 80/20 split: "
        "1,438 training and 359 test images."
    )
    size_knob = "hidden"
    specs = (
        Hyper("hidden", 128, kind="int", low=1, high=4096, help="tanh units"),
        batch_size_hyper(32, high=DIGITS_TRAIN),
    )
    n_out = 10

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        images, labels, is_test = load_digits()
        X = images.astype(self.dtype) / 16.0
        self._setup(X[~is_test], labels[~is_test], X[is_test], labels[is_test])

    # -- what the model learned: the confusion matrix and the misclassified digits -----------

    @property
    def model_view_kind(self) -> views.ViewKind | None:
        return "confusion"

    def model_view(
        self,
        params: Params,
        *,
        width: int = views.DEFAULT_WIDTH,
        height: int = views.DEFAULT_HEIGHT,
    ) -> views.ModelView | None:
        """The test-set confusion matrix and the first MAX_DIGITS misclassified test images
        (in test-set order); `width` and `height` are not used (no grid)."""
        views.check_resolution(width, height)
        params = views.copy_params(params)
        n = len(self.X_test)
        predicted = np.concatenate(
            [
                self.predicted_classes(params, self.X_test[rows])
                for rows in eval_chunks(n, self.hidden + self.n_out)
            ]
        )
        true = self.labels_test
        c = self.n_out
        matrix = np.bincount(true * c + predicted, minlength=c * c).reshape(c, c)
        wrong = np.flatnonzero(predicted != true)
        shown = wrong[: views.MAX_DIGITS]
        correct = int(np.trace(matrix))
        listed = (
            f"{len(wrong)} misclassified"
            if len(shown) == len(wrong)
            else f"the first {len(shown)} of {len(wrong)} misclassified"
        )
        return views.ConfusionView(
            title=f"confusion matrix of the {n} test digits (rows: true digit, columns: "
            f"predicted), accuracy {correct / n:.1%}; {listed} shown as 8x8 images",
            class_names=self.class_names,
            matrix=views.frozen(matrix, np.int64),
            n_test=n,
            accuracy=correct / n,
            n_misclassified=len(wrong),
            images=views.frozen(self.X_test[shown].reshape(len(shown), 8, 8)),
            true_labels=views.frozen(true[shown], None),
            predicted_labels=views.frozen(predicted[shown], None),
            test_index=views.frozen(shown, None),
        )
