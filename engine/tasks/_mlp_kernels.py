"""One numba kernel for a whole softmax-MLP forward and backward pass (engine/tasks/mlp.py),
bit-identical with its NumPy passes because it makes the very calls NumPy makes. Imported
by the compiled path's build thread (`_build_fused` in engine/tasks/mlp.py), never at
start-up: importing numba takes a while.

What NumPy's `np.dot` does for the network's products is one call into the BLAS it was
built with (numpy/_core/src/common/cblasfuncs.c): gemm for matrix products (a transposed
view passed as a transpose flag), gemv for the bias gradients (a vector of ones times a
matrix), and its vdot one BLAS dot. Its exp, log and tanh are its own SIMD loops (the tanh
loop 3-5x faster than the port in engine/tasks/_rnn_kernels.py on the hidden layer's 4,096
values, float32 and float64). The kernel calls
the same functions with the same arguments, through their addresses (`blas_functions`):
the BLAS symbols are looked up in NumPy's extension module (the dynamic linker searches the
BLAS library it loaded), the ufunc loops read out of the ufunc objects (the C layout of
`PyUFuncObject`, public in NumPy's headers). The addresses are arguments, not constants, so
numba can cache the kernel on disk. Everything between (bias adds, softmax, tanh's
derivative) is the compiled path's existing ports of NumPy's passes.

Only NumPy's scipy-openblas builds (64-bit integers, `scipy_cblas_*64_`) are supported;
elsewhere `blas_functions` returns None and the NumPy passes run. `check` compares the kernel
with the NumPy passes bit for bit before the build installs it.
"""

import ctypes
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from engine.optimizers._kernels import (
    _adam,
    _rmsprop,
    _sgd,
    bias_add,
    pairwise_sum,
    row_sums,
    softmax_finish,
    softmax_shift,
    tanh_backward,
)

jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS's enum values


def _data(context: Any, builder: Any, array_type: Any, value: Any, pointer_type: Any) -> Any:
    """An array argument's data pointer, as `pointer_type`."""
    data = context.make_array(array_type)(context, builder, value).data
    return builder.bitcast(data, pointer_type)


@intrinsic
def _gemm(typingctx, fn, ta, tb, m, n, k, A, lda, B, ldb, C, ldc):
    """cblas_?gemm(RowMajor, ta, tb, m, n, k, 1, A, lda, B, ldb, 0, C, ldc) at address fn."""
    if not isinstance(C, types.Array) or C.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        fn, ta, tb, m, n, k, A, lda, B, ldb, C, ldc = args
        f = context.get_value_type(signature.args[10].dtype)
        p = f.as_pointer()
        params = [_I32, _I32, _I32, _I64, _I64, _I64, f, p, _I64, p, _I64, f, p, _I64]
        target = builder.inttoptr(fn, ir.FunctionType(ir.VoidType(), params).as_pointer())
        a = _data(context, builder, signature.args[6], A, p)
        b = _data(context, builder, signature.args[8], B, p)
        c = _data(context, builder, signature.args[10], C, p)
        ta, tb = builder.trunc(ta, _I32), builder.trunc(tb, _I32)
        one, zero = ir.Constant(f, 1.0), ir.Constant(f, 0.0)
        row_major = ir.Constant(_I32, _ROW_MAJOR)
        builder.call(target, [row_major, ta, tb, m, n, k, one, a, lda, b, ldb, zero, c, ldc])
        return context.get_dummy_value()

    return types.none(fn, ta, tb, m, n, k, A, lda, B, ldb, C, ldc), codegen


@intrinsic
def _gemv_t(typingctx, fn, m, n, A, lda, x, y):
    """cblas_?gemv(RowMajor, Trans, m, n, 1, A, lda, x, 1, 0, y, 1) at address fn: y ← x·A,
    what np.dot(vector, matrix) calls."""
    if not isinstance(y, types.Array) or y.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        fn, m, n, A, lda, x, y = args
        f = context.get_value_type(signature.args[6].dtype)
        p = f.as_pointer()
        params = [_I32, _I32, _I64, _I64, f, p, _I64, p, _I64, f, p, _I64]
        target = builder.inttoptr(fn, ir.FunctionType(ir.VoidType(), params).as_pointer())
        a = _data(context, builder, signature.args[3], A, p)
        xs = _data(context, builder, signature.args[5], x, p)
        ys = _data(context, builder, signature.args[6], y, p)
        one, zero, inc = ir.Constant(f, 1.0), ir.Constant(f, 0.0), ir.Constant(_I64, 1)
        order, trans = ir.Constant(_I32, _ROW_MAJOR), ir.Constant(_I32, _TRANS)
        builder.call(target, [order, trans, m, n, one, a, lda, xs, inc, zero, ys, inc])
        return context.get_dummy_value()

    return types.none(fn, m, n, A, lda, x, y), codegen


@intrinsic
def _dot(typingctx, fn, n, x, y):
    """cblas_?dot(n, x, 1, y, 1) at address fn, as float64 (NumPy's vdot sums the BLAS dot's
    result into a double, then rounds it to the dtype: the same number)."""
    if not isinstance(x, types.Array) or x.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        fn, n, x, y = args
        f = context.get_value_type(signature.args[2].dtype)
        p = f.as_pointer()
        target = builder.inttoptr(fn, ir.FunctionType(f, [_I64, p, _I64, p, _I64]).as_pointer())
        xs = _data(context, builder, signature.args[2], x, p)
        ys = _data(context, builder, signature.args[3], y, p)
        inc = ir.Constant(_I64, 1)
        r = builder.call(target, [n, xs, inc, ys, inc])
        if f != ir.DoubleType():
            r = builder.fpext(r, ir.DoubleType())
        return r

    return types.float64(fn, n, x, y), codegen


@intrinsic
def _unary_loop(typingctx, fn, data, x, out):
    """NumPy's ufunc inner loop at address fn (with its `data`) over the n = x.size
    contiguous elements of x into out: loop(args={x, out}, dimensions={n}, steps={itemsize,
    itemsize}, data), what the ufunc's call on contiguous arrays does."""
    if not isinstance(x, types.Array) or not isinstance(out, types.Array):
        return None

    def codegen(context, builder, signature, args):
        fn, data, x, out = args
        char_p = ir.IntType(8).as_pointer()
        params = [char_p.as_pointer(), _I64.as_pointer(), _I64.as_pointer(), char_p]
        target = builder.inttoptr(fn, ir.FunctionType(ir.VoidType(), params).as_pointer())
        xa = context.make_array(signature.args[2])(context, builder, x)
        oa = context.make_array(signature.args[3])(context, builder, out)
        pointers = cgutils.alloca_once(builder, char_p, size=2)
        builder.store(builder.bitcast(xa.data, char_p), pointers)
        builder.store(builder.bitcast(oa.data, char_p), builder.gep(pointers, [_I64(1)]))
        dims = cgutils.alloca_once(builder, _I64)
        builder.store(xa.nitems, dims)
        steps = cgutils.alloca_once(builder, _I64, size=2)
        size = ir.Constant(_I64, context.get_abi_sizeof(xa.data.type.pointee))
        builder.store(size, steps)
        builder.store(size, builder.gep(steps, [_I64(1)]))
        builder.call(target, [pointers, dims, steps, builder.inttoptr(data, char_p)])
        return context.get_dummy_value()

    return types.none(fn, data, x, out), codegen


# Positions in the function table (`blas_functions`).
GEMM, GEMV, DOT, EXP, EXP_DATA, LOG, LOG_DATA, TANH, TANH_DATA = range(9)


@jit
def softmax_mlp(X, Y, W1, b1, W2, b2, H, Z, dH, mx, s, logs, ones, gW1, gb1, gW2, gb2, fns):
    """The loss of SoftmaxMLP on the batch (X, Y), and its gradients into gW1, gb1, gW2, gb2:
    `MLPClassifier._forward_backward` with `SoftmaxMLP._compiled_output`, call for call.
    Every array C-contiguous, each dimension at least 2, at most 128 rows and classes."""
    m, n_in = X.shape
    h = W1.shape[1]
    o = W2.shape[1]
    gemm, gemv = fns[GEMM], fns[GEMV]
    # forward: H = tanh(X W1 + b1), Z = H W2 + b2
    _gemm(gemm, _NO_TRANS, _NO_TRANS, m, h, n_in, X, n_in, W1, h, H, h)
    bias_add(H, b1)
    _unary_loop(fns[TANH], fns[TANH_DATA], H, H)  # np.tanh(H, H)
    _gemm(gemm, _NO_TRANS, _NO_TRANS, m, o, h, H, h, W2, o, Z, o)
    softmax_shift(Z, b2, mx)
    zy = _dot(fns[DOT], m * o, Z, Y)  # sum of the true classes' shifted logits
    _unary_loop(fns[EXP], fns[EXP_DATA], Z, Z)
    row_sums(Z, s)
    _unary_loop(fns[LOG], fns[LOG_DATA], s, logs)
    total = softmax_finish(Z, s, logs, Y, 1.0 / m)
    # backward (Z holds dLoss/dZ)
    _gemm(gemm, _TRANS, _NO_TRANS, h, o, m, H, h, Z, o, gW2, o)  # H.T @ Z
    _gemv_t(gemv, m, o, Z, o, ones, gb2)  # ones @ Z
    _gemm(gemm, _NO_TRANS, _TRANS, m, h, o, Z, o, W2, o, dH, h)  # Z @ W2.T
    tanh_backward(H, dH)
    _gemm(gemm, _TRANS, _NO_TRANS, n_in, h, m, X, n_in, dH, h, gW1, h)  # X.T @ dH
    _gemv_t(gemv, m, h, dH, h, ones, gb1)  # ones @ dH
    return (np.float64(total) - zy) / m


#: Elements each region of a Run's workspace (`softmax_mlp_run`) is rounded up to: 64 bytes
#: of float32, so every region starts on a cache line of a 64-byte aligned workspace.
ALIGN = 16


def workspace_size(rows: int, n_in: int, hidden: int, n_out: int) -> int:
    """Elements of `softmax_mlp_run`'s workspace for batches of at most `rows` rows: its
    regions in order (`_region`), each rounded up to ALIGN elements."""
    sizes = (rows * n_in, rows * n_out, rows * hidden, rows * n_out, rows * hidden) + (rows,) * 4
    return sum(-(-size // ALIGN) * ALIGN for size in sizes)


@jit
def _region(ws, at, size, rows, cols):
    """The (rows, cols) array at element `at` of the workspace, and where the next region
    (of `size` elements) starts."""
    return ws[at : at + rows * cols].reshape((rows, cols)), at + -(-size // ALIGN) * ALIGN


@jit
def softmax_mlp_run(X_all, Y_all, idx, flat, grad, prev, ws, rows, fns, limit):
    """A Run's step up to its update (engine/run.py `_advance`) in one call, for SoftmaxMLP:
    the batch's rows `idx` of the training set (X_all, Y_all) gathered (`EpochBatches`),
    `softmax_mlp` on them with the parameters and gradients as the views of the flat buffers
    `flat` and `grad` (W1, b1, W2, b2 packed in that order), the gradient's squared norm
    (`sum_sq`), and, when the step is kept (loss and norm finite, the loss at most `limit`),
    prev ← flat. Returns (loss, squared norm). The activations live in the workspace `ws`
    (`workspace_size(rows, ...)`, 2 <= idx.size <= rows <= 128)."""
    m = idx.size
    n_in = X_all.shape[1]
    o = Y_all.shape[1]
    h = (flat.size - o) // (n_in + 1 + o)
    X, at = _region(ws, 0, rows * n_in, m, n_in)
    Y, at = _region(ws, at, rows * o, m, o)
    H, at = _region(ws, at, rows * h, m, h)
    Z, at = _region(ws, at, rows * o, m, o)
    dH, at = _region(ws, at, rows * h, m, h)
    mx, at = _region(ws, at, rows, m, 1)
    s, at = _region(ws, at, rows, m, 1)
    logs, at = _region(ws, at, rows, m, 1)
    ones = ws[at : at + m]
    for r in range(m):  # X_all.take(idx, 0), Y_all.take(idx, 0)
        i = idx[r]
        for j in range(n_in):
            X[r, j] = X_all[i, j]
        for j in range(o):
            Y[r, j] = Y_all[i, j]
        ones[r] = 1.0
    a, b = n_in * h, n_in * h + h
    c = b + h * o
    W1, b1 = flat[:a].reshape((n_in, h)), flat[a:b]
    W2, b2 = flat[b:c].reshape((h, o)), flat[c:]
    gW1, gb1 = grad[:a].reshape((n_in, h)), grad[a:b]
    gW2, gb2 = grad[b:c].reshape((h, o)), grad[c:]
    loss = softmax_mlp(X, Y, W1, b1, W2, b2, H, Z, dH, mx, s, logs, ones, gW1, gb1, gW2, gb2, fns)
    gsq = _dot(fns[DOT], grad.size, grad, grad)
    if np.isfinite(loss) and np.isfinite(gsq) and not loss > limit:
        for i in range(flat.size):
            prev[i] = flat[i]
    return loss, gsq


@jit
def sum_sq(x, fns):
    """float(np.dot(x, x)) of a flat array of at least 2 elements (run: the gradient's
    squared norm): the BLAS dot NumPy calls."""
    return _dot(fns[DOT], x.size, x, x)


@jit
def difference_sum_sq(a, b, out, fns):
    """out ← a − b, then float(np.dot(out, out)) (run: the update and its squared norm)."""
    for i in range(out.size):
        out[i] = a[i] - b[i]
    return _dot(fns[DOT], out.size, out, out)


@jit
def adam_norm(
    p, g, m, v, vmax, has_vmax, decay, has_decay, wd, grad_mode,
    w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, prev, out, fns,
):  # fmt: skip
    """The Adam family's step (`_kernels.adam`, the same arguments) and, in the same loop,
    out ← p − prev; then float(np.dot(out, out)), returned: a Run's step and its update's
    squared norm (`difference_sum_sq` after the step) in one call, prev holding θ before it."""
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    decay, wd, w1, b2, one_minus_b2, bc2_sqrt, eps, neg_step = (
        f(decay), f(wd), f(w1), f(b2), f(one_minus_b2), f(bc2_sqrt), f(eps), f(neg_step),
    )  # fmt: skip
    if has_vmax:
        _adam(
            p, g, m, v, vmax, True, decay, has_decay, wd, grad_mode,
            w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, prev, out, True,
        )  # fmt: skip
    else:
        _adam(
            p, g, m, v, vmax, False, decay, has_decay, wd, grad_mode,
            w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, prev, out, True,
        )  # fmt: skip
    return _dot(fns[DOT], out.size, out, out)


@jit
def sgd_norm(
    p, g, buf, momentum, fresh, dampen, nesterov, wd, grad_mode,
    mu, one_minus_dampening, neg_lr, prev, out, fns,
):  # fmt: skip
    """The SGD family's step (`_kernels.sgd`, the same arguments) with out ← p − prev in the
    same loop, then float(np.dot(out, out)), returned (as `adam_norm`)."""
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, mu, one_minus_dampening, neg_lr = (f(wd), f(mu), f(one_minus_dampening), f(neg_lr))
    if momentum:
        _sgd(
            p, g, buf, True, fresh, dampen, nesterov, wd, grad_mode,
            mu, one_minus_dampening, neg_lr, prev, out, True,
        )  # fmt: skip
    else:
        _sgd(
            p, g, buf, False, fresh, dampen, nesterov, wd, grad_mode,
            mu, one_minus_dampening, neg_lr, prev, out, True,
        )  # fmt: skip
    return _dot(fns[DOT], out.size, out, out)


@jit
def rmsprop_norm(
    p, g, sq, gavg, buf, centered, momentum, wd, grad_mode,
    alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, fns,
):  # fmt: skip
    """RMSprop's step (`_kernels.rmsprop`, the same arguments) with out ← p − prev in the
    same loop, then float(np.dot(out, out)), returned (as `adam_norm`)."""
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, alpha, one_minus_alpha, wg, eps, mu, neg_lr = (
        f(wd), f(alpha), f(one_minus_alpha), f(wg), f(eps), f(mu), f(neg_lr),
    )  # fmt: skip
    if centered and momentum:
        _rmsprop(
            p, g, sq, gavg, buf, True, True, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, True,
        )  # fmt: skip
    elif centered:
        _rmsprop(
            p, g, sq, gavg, buf, True, False, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, True,
        )  # fmt: skip
    elif momentum:
        _rmsprop(
            p, g, sq, gavg, buf, False, True, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, True,
        )  # fmt: skip
    else:
        _rmsprop(
            p, g, sq, gavg, buf, False, False, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, True,
        )  # fmt: skip
    return _dot(fns[DOT], out.size, out, out)


_inline = numba.njit(inline="always", fastmath=False, error_model="numpy")


@_inline
def _block_sum(a, start, n):
    """NumPy's pairwise sum of one block, a[start : start + n] with 8 <= n <= 128: eight
    running sums combined as a tree, then the rest in order (no zero start)."""
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = start + 8
    whole = start + n - n % 8
    while i < whole:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    block = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + n:
        block += a[i]
        i += 1
    return block


@jit
def _pairwise_tree(a, n):
    """NumPy's pairwise summation of a[:n], n > 128, without the zero start
    (numpy/_core/src/umath/loops_utils.h.src `pairwise_sum`): a block of at most 128
    elements is `_block_sum`; a longer range is its two halves' sums added, the first half
    n // 2 rounded down to a multiple of eight. NumPy recurses; this walks the same tree
    with a stack (numba's on-disk cache does not load recursive functions)."""
    starts = np.empty(64, np.int64)  # the ranges being summed, outermost first
    sizes = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)  # 0: neither half summed, 1: the first, 2: both
    sums = np.empty(64, a.dtype)  # finished sums waiting for their sibling
    starts[0], sizes[0], stage[0] = 0, n, 0
    top, done = 0, 0
    while top >= 0:
        at, size = starts[top], sizes[top]
        if size <= 128:
            sums[done] = _block_sum(a, at, size)
            done += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] == 2:
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
            continue
        if stage[top] == 0:
            stage[top] = 1
            starts[top + 1], sizes[top + 1] = at, half
        else:
            stage[top] = 2
            starts[top + 1], sizes[top + 1] = at + half, size - half
        stage[top + 1] = 0
        top += 1
    return sums[0]


@jit
def reduce_sum(a):
    """np.add.reduce(a, None) of a contiguous array, in NumPy's pairwise order over the whole
    array (added to a zero start), as NumPy sums a contiguous array of one dtype: in one
    inner-loop call, without buffering."""
    flat = a.reshape(-1)
    n = flat.size
    if n <= 128:
        return pairwise_sum(flat, 0, n)
    return flat.dtype.type(0.0) + _pairwise_tree(flat, n)


@jit
def softmax_mlp_eval(X, Y, labels, W1, b1, W2, b2, H, Z, mx, s, logs, fns):
    """(loss, correct) of SoftmaxMLP on a held-out block (X, one-hot Y, class labels):
    `MLPClassifier.evaluate`'s block, call for call: `logits` (X @ W1 + b1, tanh, @ W2 + b2:
    the gemm calls matmul makes), argmax's first maximal class (the first NaN when a row has
    one) against the labels, and `SoftmaxMLP._loss` (no gradient). Every array C-contiguous,
    each dimension (rows too) at least 2, at most 128 classes."""
    m, n_in = X.shape
    h = W1.shape[1]
    o = W2.shape[1]
    gemm = fns[GEMM]
    _gemm(gemm, _NO_TRANS, _NO_TRANS, m, h, n_in, X, n_in, W1, h, H, h)
    bias_add(H, b1)
    _unary_loop(fns[TANH], fns[TANH_DATA], H, H)
    _gemm(gemm, _NO_TRANS, _NO_TRANS, m, o, h, H, h, W2, o, Z, o)
    correct = 0
    for i in range(m):  # Z + b2; argmax; the row maximum, subtracted (`softmax_shift`)
        top = Z[i, 0] + b2[0]
        Z[i, 0] = top
        best = 0
        for j in range(1, o):
            z = Z[i, j] + b2[j]
            Z[i, j] = z
            if top == top and not (top >= z):  # z is larger, or NaN: argmax's rule too
                top = z
                best = j
        mx[i, 0] = top
        for j in range(o):
            Z[i, j] = Z[i, j] - top
        if best == labels[i]:
            correct += 1
    zy = _dot(fns[DOT], m * o, Z, Y)  # sum of the true classes' shifted logits
    _unary_loop(fns[EXP], fns[EXP_DATA], Z, Z)
    row_sums(Z, s)
    _unary_loop(fns[LOG], fns[LOG_DATA], s, logs)
    total = reduce_sum(logs)
    return (np.float64(total) - zy) / m, correct


KERNELS = (
    "softmax_mlp", "softmax_mlp_run", "sum_sq", "difference_sum_sq", "adam_norm", "sgd_norm",
    "rmsprop_norm", "softmax_mlp_eval",
)  # fmt: skip

# -- the functions' addresses ----------------------------------------------------------------

_NUMPY_CODES = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


def _ufunc_loop(ufunc: np.ufunc, dtype: np.dtype) -> tuple[int, int] | None:
    """(loop, data) addresses of `ufunc`'s first inner loop for dtype -> dtype, the one its
    type resolution picks, read from the `PyUFuncObject` (numpy/ufuncobject.h: PyObject_HEAD,
    int nin, nout, nargs, identity; functions; data; int ntypes, reserved1; name; types)."""
    base = id(ufunc)
    head = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    ints = (ctypes.c_int * 4).from_address(base + head)
    nin, nout, nargs = ints[0], ints[1], ints[2]
    at = head + 4 * ctypes.sizeof(ctypes.c_int)
    functions = ctypes.c_void_p.from_address(base + at).value
    data = ctypes.c_void_p.from_address(base + at + 8).value
    ntypes = ctypes.c_int.from_address(base + at + 16).value
    name = ctypes.c_char_p.from_address(base + at + 24).value
    type_codes = ctypes.c_void_p.from_address(base + at + 32).value
    if (nin, nout, nargs) != (1, 1, 2) or name != ufunc.__name__.encode():
        return None
    if ntypes != ufunc.ntypes or not functions or not type_codes:
        return None
    codes = ctypes.string_at(type_codes, ntypes * nargs)
    want = bytes([dtype.num, dtype.num])
    for i in range(ntypes):
        if codes[2 * i : 2 * i + 2] == want:
            loop = ctypes.c_void_p.from_address(functions + 8 * i).value
            loop_data = ctypes.c_void_p.from_address(data + 8 * i).value if data else None
            return (loop, loop_data or 0) if loop else None
    return None


def _blas_symbols() -> Any:
    """NumPy's BLAS as a ctypes library with `scipy_cblas_*64_` symbols, or None."""
    from numpy import __config__
    from numpy._core import _multiarray_umath

    blas = __config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in str(
        blas.get("openblas configuration", "")
    ):
        return None
    # dlsym on NumPy's extension module searches the libraries it loaded: its BLAS.
    return ctypes.CDLL(_multiarray_umath.__file__)


def blas_functions(dtype: np.dtype) -> np.ndarray | None:
    """The kernel's function table for dtype (int64 addresses, in `GEMM ... LOG_DATA`
    order), or None when NumPy's BLAS or its ufunc loops are not where this module looks."""
    code = _NUMPY_CODES.get(np.dtype(dtype))
    try:
        lib = _blas_symbols()
        if code is None or lib is None:
            return None
        table = [
            ctypes.cast(getattr(lib, f"scipy_cblas_{code}{name}64_"), ctypes.c_void_p).value
            for name in ("gemm", "gemv", "dot")
        ]
        for ufunc in (np.exp, np.log, np.tanh):
            loop = _ufunc_loop(ufunc, np.dtype(dtype))
            if loop is None:
                return None
            table.extend(loop)
    except (AttributeError, OSError, ValueError):
        return None
    if not all(table[: DOT + 1]) or not (table[EXP] and table[LOG] and table[TANH]):
        return None
    return np.array(table, np.int64)
