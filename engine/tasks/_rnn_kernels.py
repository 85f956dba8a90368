"""numba kernels of the sine RNN (engine/tasks/rnn.py): its whole passes, bit-identical with
its NumPy passes in float64 and float32, and ports of NumPy's tanh (the MLPs' hidden layer).
Imported by the compiled path's build thread (`_build_recurrences` in engine/tasks/rnn.py),
never at start-up: importing numba takes a while.

The whole passes (`rnn_loss_grads`, `rnn_sse`, `rnn_run`) make the calls NumPy's passes make:
its BLAS's gemm, gemv and dot and its own SIMD tanh loop, through their addresses (see the
section below and engine/tasks/_mlp_kernels.py), and the elementwise passes between them one
rounded operation each. NumPy's tanh loop is 4-5x faster than the port on a few hundred
values and more, and a call of OpenBLAS's gemm beats the loop the port of the products was.

The ports of NumPy's tanh: `np.tanh` is NumPy's own SIMD tanh (float64: a table of 16
subintervals, each a degree-16 polynomial evaluated by fused multiply-adds), not the C
library's, which differs in about a quarter of the results by one unit in the last place.
`tanh` below follows it operation for operation, with NumPy's own coefficients, read out of
the installed NumPy (`numpy_tanh_tables`) so the port follows the NumPy that runs; `check`
refuses it unless it reproduces `np.tanh` bit for bit on a probe of inputs over every
subinterval. The float32 port (`tanh_array_f32`): 32 subintervals, a degree-6 polynomial
each, by fused multiply-adds, eight numbers at a time; `check_f32` refuses it unless it
reproduces `np.tanh` bit for bit.
"""

import glob
import os

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from engine.tasks._mlp_kernels import (
    _NO_TRANS,
    _ROW_MAJOR,
    _TRANS,
    DOT,
    GEMM,
    GEMV,
    TANH,
    TANH_DATA,
    _data,
    _dot,
    _gemm,
    _unary_loop,
)

jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
_inline = numba.njit(inline="always", fastmath=False, error_model="numpy")


@intrinsic
def fma(typingctx, a, b, c):
    """a·b + c rounded once (LLVM's llvm.fma: the FMA instruction where the CPU has one)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        lty = context.get_value_type(signature.return_type)
        fn = builder.module.declare_intrinsic("llvm.fma", [lty], ir.FunctionType(lty, [lty] * 3))
        return builder.call(fn, args)

    return a(a, b, c), codegen


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 of an int64's bits."""
    if i != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


_SIGN = np.int64(-0x8000000000000000)
_EXPONENT_MASK = np.int64(0x7FF8000000000000)
_HUGE = np.int64(0x7FE0000000000000)
_NAN_BITS = np.int64(0x7FF8000000000000)


@_inline
def _index(ux):
    """The subinterval of |x| from its bits: NumPy's clamp of the exponent and the first
    mantissa bit to 0 .. 15."""
    hi = ((ux & _EXPONENT_MASK) >> 32) - 0x3FC00000
    if hi < 0:
        hi = 0
    if hi > 0x780000:
        hi = 0x780000
    return hi >> 19


@_inline
def _finish(r, x, ux):
    """NumPy's ending: 1 past saturation (and for ±inf), the sign of x, NaN for NaN."""
    if (ux & _EXPONENT_MASK) > _HUGE:
        r = 1.0
    r = _from_bits(_bits(r) | (ux & _SIGN))
    if x != x:
        r = _from_bits(_NAN_BITS)
    return r


@_inline
def tanh(x, lut):
    """NumPy's float64 SIMD tanh of one number; lut is its (18, 16) table: row 0 the
    subintervals' offsets b, rows 1..17 the coefficients c0..c16."""
    ux = _bits(x)
    j = _index(ux)
    y = abs(x) - lut[0, j]
    r = fma(lut[17, j], y, lut[16, j])
    for row in range(15, 0, -1):
        r = fma(r, y, lut[row, j])
    return _finish(r, x, ux)


@_inline
def _tanh_into(src, dst, n, lut):
    """dst[:n] ← tanh(src[:n]), four numbers at a time: their polynomials are independent
    chains of fused multiply-adds, which the CPU then overlaps (the same operations as
    `tanh`, so the same numbers)."""
    n4 = n - n % 4
    for i in range(0, n4, 4):
        x0, x1, x2, x3 = src[i], src[i + 1], src[i + 2], src[i + 3]
        u0, u1, u2, u3 = _bits(x0), _bits(x1), _bits(x2), _bits(x3)
        j0, j1, j2, j3 = _index(u0), _index(u1), _index(u2), _index(u3)
        y0, y1 = abs(x0) - lut[0, j0], abs(x1) - lut[0, j1]
        y2, y3 = abs(x2) - lut[0, j2], abs(x3) - lut[0, j3]
        r0, r1 = fma(lut[17, j0], y0, lut[16, j0]), fma(lut[17, j1], y1, lut[16, j1])
        r2, r3 = fma(lut[17, j2], y2, lut[16, j2]), fma(lut[17, j3], y3, lut[16, j3])
        for row in range(15, 0, -1):
            r0 = fma(r0, y0, lut[row, j0])
            r1 = fma(r1, y1, lut[row, j1])
            r2 = fma(r2, y2, lut[row, j2])
            r3 = fma(r3, y3, lut[row, j3])
        dst[i] = _finish(r0, x0, u0)
        dst[i + 1] = _finish(r1, x1, u1)
        dst[i + 2] = _finish(r2, x2, u2)
        dst[i + 3] = _finish(r3, x3, u3)
    for i in range(n4, n):
        dst[i] = tanh(src[i], lut)


@jit
def tanh_array(x, out, lut):
    """out ← tanh(x) elementwise (flat float64 arrays), as `np.tanh(x, out=out)`."""
    _tanh_into(x, out, x.size, lut)


# -- the whole pass through NumPy's own BLAS and tanh loop -------------------------------------
# `SineRNN.loss_and_grads`' NumPy passes make these calls (numpy/_core/src/umath/matmul.c.src,
# for C-contiguous arrays of at least 2 rows and 2 hidden units): h_t·W_hh and dA_t·W_hhᵀ one
# gemm each (RowMajor, the transposed view as a Trans flag), the weight gradient H2ᵀ·dA one
# gemm; h_T·W_hy one gemv (ColMajor, Trans: a matrix times a vector), Hᵀ·e and ones·dA, x·dA
# one gemv each (RowMajor, Trans: a vector times a matrix, or a transposed matrix times a
# vector); ones·e and the loss's vdot one dot each, summed from +0 into a double; e·W_hyᵀ (an
# inner dimension of 1) no BLAS: +0 plus each product; np.tanh its SIMD loop. The kernels
# below make the same calls with the same arguments through their addresses (`fns`,
# engine/tasks/_mlp_kernels.py `blas_functions`), and the elementwise passes between them one
# rounded operation each, in the array's dtype, so both dtypes give NumPy's numbers.

_COL_MAJOR = 102


@intrinsic
def _gemv(typingctx, fn, order, trans, m, n, A, lda, x, y):
    """cblas_?gemv(order, trans, m, n, 1, A, lda, x, 1, 0, y, 1) at address fn."""
    if not isinstance(y, types.Array) or y.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        fn, order, trans, m, n, A, lda, x, y = args
        f = context.get_value_type(signature.args[8].dtype)
        p = f.as_pointer()
        i32, i64 = ir.IntType(32), ir.IntType(64)
        params = [i32, i32, i64, i64, f, p, i64, p, i64, f, p, i64]
        target = builder.inttoptr(fn, ir.FunctionType(ir.VoidType(), params).as_pointer())
        a = _data(context, builder, signature.args[5], A, p)
        xs = _data(context, builder, signature.args[7], x, p)
        ys = _data(context, builder, signature.args[8], y, p)
        one, zero, inc = ir.Constant(f, 1.0), ir.Constant(f, 0.0), ir.Constant(i64, 1)
        order, trans = builder.trunc(order, i32), builder.trunc(trans, i32)
        builder.call(target, [order, trans, m, n, one, a, lda, xs, inc, zero, ys, inc])
        return context.get_dummy_value()

    return types.none(fn, order, trans, m, n, A, lda, x, y), codegen


#: Elements each region of a pass's workspace (`workspace_size`) is rounded up to: 64 bytes of
#: float32, so every region of a 64-byte aligned workspace starts on a cache line.
ALIGN = 16


def workspace_size(rows: int, window: int, hidden: int) -> int:
    """Elements of the workspace of `rnn_loss_grads`, `rnn_sse` and `rnn_run` for batches of
    at most `rows` windows: its regions in order (`_regions`), each rounded up to ALIGN."""
    step = rows * hidden
    sizes = (rows * window, (window + 1) * step, window * step, step, rows, rows * window,
             rows * window, rows)  # fmt: skip
    return sum(-(-size // ALIGN) * ALIGN for size in sizes)


@_inline
def _skip(at, size):
    return at + -(-size // ALIGN) * ALIGN


@jit
def _regions(ws, rows, m, T, h):
    """The workspace's regions for m windows (m <= rows): xt (T·m inputs, time-major), H
    (h_0 .. h_T, m·h each), dA (T·m·h), dH (m·h), e (m), ones (T·m, all 1), and the batch's
    inputs (m, T) and targets (m) of `rnn_run`."""
    step = rows * h
    xt = ws[: T * m]
    at = _skip(0, rows * T)
    H = ws[at : at + (T + 1) * m * h]
    at = _skip(at, (T + 1) * step)
    dA = ws[at : at + T * m * h]
    at = _skip(at, T * step)
    dH = ws[at : at + m * h]
    at = _skip(at, step)
    e = ws[at : at + m]
    at = _skip(at, rows)
    ones = ws[at : at + T * m]
    at = _skip(at, rows * T)
    Xb = ws[at : at + m * T].reshape((m, T))
    at = _skip(at, rows * T)
    yb = ws[at : at + m]
    return xt, H, dA, dH, e, ones, Xb, yb


@_inline
def _add_input(out, xt, m, W_xh, b_h):
    """out ← out + (x·W_xh + b_h) for the m windows' inputs xt of one step (out: m·h
    values): NumPy's input terms (x·W_xh, then + b_h, each rounded), added as
    `h[t + 1] += A[t]` adds them."""
    h = b_h.size
    w = W_xh[0]
    for i in range(m):
        x = xt[i]
        row = out[i * h : (i + 1) * h]
        for j in range(h):
            a = x * w[j]
            row[j] = row[j] + (a + b_h[j])


@jit
def _forward(X, W_xh, b_h, W_hh, W_hy, b_y, xt, H, e, fns):
    """`SineRNN._forward`: xt ← Xᵀ; h_1 = tanh(x_1·W_xh + b_h) (h_0 = 0); h_{t+1} ←
    h_t·W_hh, + (x_t·W_xh + b_h), tanh; e ← h_T·W_hy, + b_y. The input terms are computed
    where they are added (NumPy keeps them in D first: the same numbers). One compiled
    function per dtype that `_loss_grads` and `rnn_sse` both call."""
    m, T = X.shape
    h = W_hh.shape[0]
    step = m * h
    for t in range(T):
        column = xt[t * m : (t + 1) * m]
        for i in range(m):
            column[i] = X[i, t]
    zero = X.dtype.type(0.0)
    for q in range(step):
        H[q] = zero
    tanh, tanh_data, gemm = fns[TANH], fns[TANH_DATA], fns[GEMM]
    first = H[step : 2 * step]
    w = W_xh[0]
    for i in range(m):  # x_0·W_xh + b_h: h_0·W_hh is not computed (h_0 = 0)
        x = xt[i]
        row = first[i * h : (i + 1) * h]
        for j in range(h):
            a = x * w[j]
            row[j] = a + b_h[j]
    _unary_loop(tanh, tanh_data, first, first)
    for t in range(1, T):
        o = t * step  # h_t; h_{t+1} at o + step
        out = H[o + step : o + 2 * step]
        _gemm(gemm, _NO_TRANS, _NO_TRANS, m, h, h, H[o : o + step], h, W_hh, h, out, h)
        _add_input(out, xt[t * m : (t + 1) * m], m, W_xh, b_h)
        _unary_loop(tanh, tanh_data, out, out)
    _gemv(fns[GEMV], _COL_MAJOR, _TRANS, h, m, H[T * step :], h, W_hy, e)
    for i in range(m):
        e[i] = e[i] + b_y[0]


@jit
def _loss_grads(X, y, W_xh, W_hh, b_h, W_hy, b_y, gW_xh, gW_hh, gb_h, gW_hy, gb_y, ws, rows, fns):
    """`SineRNN.loss_and_grads` on the windows X (m, T) with targets y (m), in the workspace
    ws (`_regions` for batches of at most `rows`): the loss, its gradients into g*. One
    compiled function per dtype that `rnn_loss_grads` and `rnn_run` both call."""
    m, T = X.shape
    h = W_hh.shape[0]
    step = m * h
    f = X.dtype.type
    xt, H, dA, dH, e, ones, _, _ = _regions(ws, rows, m, T, h)
    _forward(X, W_xh, b_h, W_hh, W_hy, b_y, xt, H, e, fns)
    for i in range(m):
        e[i] = e[i] - y[i]
    dot = fns[DOT]
    loss = (0.0 + _dot(dot, m, e, e)) / m  # float(np.vdot(e, e)) / m
    scale, zero, one = f(2.0 / m), f(0.0), f(1.0)
    for i in range(m):
        e[i] = e[i] * scale
    for q in range(T * m):
        ones[q] = one
    gemv = fns[GEMV]
    _gemv(gemv, _ROW_MAJOR, _TRANS, m, h, H[T * step :], h, e, gW_hy)  # h_Tᵀ·e
    gb_y[0] = f(0.0 + _dot(dot, m, ones, e))  # ones·e
    w = W_hy.reshape(h)
    for i in range(m):  # e·W_hyᵀ: an inner dimension of 1, no BLAS
        row = dH[i * h : (i + 1) * h]
        for j in range(h):
            row[j] = zero + e[i] * w[j]
    gemm = fns[GEMM]
    for t in range(T - 1, -1, -1):
        o = t * step  # dA_t; h_{t+1} at o + step
        dAt, ht = dA[o : o + step], H[o + step : o + 2 * step]
        for q in range(step):
            d = ht[q] * ht[q]
            dAt[q] = dH[q] * (one - d)  # dH ⊙ (1 − h²), each rounded
        if t > 0:
            _gemm(gemm, _NO_TRANS, _TRANS, m, h, h, dAt, h, W_hh, h, dH, h)
    # the weights' gradients summed over the steps: H2ᵀ·dA, ones·dA, x·dA
    _gemm(gemm, _TRANS, _NO_TRANS, h, h, T * m, H[: T * step], h, dA, h, gW_hh, h)
    _gemv(gemv, _ROW_MAJOR, _TRANS, T * m, h, dA, h, ones, gb_h)
    _gemv(gemv, _ROW_MAJOR, _TRANS, T * m, h, dA, h, xt, gW_xh)
    return loss


@jit
def rnn_loss_grads(X, y, W_xh, W_hh, b_h, W_hy, b_y, gW_xh, gW_hh, gb_h, gW_hy, gb_y, ws, fns):
    """`SineRNN.loss_and_grads` in one call: the loss on the windows X (m, T) and targets
    y (m, 1), its gradients into gW_xh .. gb_y; ws: a workspace for batches of m windows
    (`workspace_size`). Every array C-contiguous of one dtype, m and hidden at least 2."""
    m = X.shape[0]
    return _loss_grads(X, y.reshape(m), W_xh, W_hh, b_h, W_hy, b_y, gW_xh, gW_hh, gb_h,
                       gW_hy, gb_y, ws, m, fns)  # fmt: skip


@jit
def rnn_sse(X, y, W_xh, W_hh, b_h, W_hy, b_y, ws, fns):
    """float(np.vdot(err, err)) of the predictions' errors err = `_forward`(X) − y: what
    `SineRNN.evaluate` sums over its row blocks (the same requirements as `rnn_loss_grads`)."""
    m, T = X.shape
    h = W_hh.shape[0]
    xt, H, _, _, e, _, _, _ = _regions(ws, m, m, T, h)
    _forward(X, W_xh, b_h, W_hh, W_hy, b_y, xt, H, e, fns)
    for i in range(m):
        e[i] = e[i] - y[i, 0]
    return 0.0 + _dot(fns[DOT], m, e, e)


@jit
def rnn_run(X_all, y_all, idx, flat, grad, prev, ws, rows, fns, limit):
    """A Run's step up to its update (engine/run.py `_advance`) in one call, for SineRNN:
    the batch's rows `idx` of the training windows (X_all, y_all) gathered (`EpochBatches`),
    `rnn_loss_grads` on them with the parameters and gradients as views of the flat buffers
    `flat` and `grad` (W_xh, W_hh, b_h, W_hy, b_y packed in that order), the gradient's
    squared norm (`_mlp_kernels.sum_sq`), and, when the step is kept (loss and norm finite,
    the loss at most `limit`), prev ← flat. Returns (loss, squared norm). ws: a workspace
    for `rows` windows (`workspace_size`), 2 <= idx.size <= rows."""
    m = idx.size
    T = X_all.shape[1]
    h = (int(np.sqrt(4 * flat.size + 5)) - 3) // 2  # flat.size = h² + 3h + 1
    _, _, _, _, _, _, X, y = _regions(ws, rows, m, T, h)
    for r in range(m):  # X_all.take(idx, 0), y_all.take(idx, 0)
        i = idx[r]
        for t in range(T):
            X[r, t] = X_all[i, t]
        y[r] = y_all[i, 0]
    a, b = h, h + h * h
    c, d = b + h, b + 2 * h
    loss = _loss_grads(
        X, y, flat[:a].reshape((1, h)), flat[a:b].reshape((h, h)), flat[b:c],
        flat[c:d].reshape((h, 1)), flat[d:], grad[:a].reshape((1, h)),
        grad[a:b].reshape((h, h)), grad[b:c], grad[c:d].reshape((h, 1)), grad[d:], ws, rows,
        fns,
    )  # fmt: skip
    gsq = _dot(fns[DOT], grad.size, grad, grad)
    if np.isfinite(loss) and np.isfinite(gsq) and not loss > limit:
        for q in range(flat.size):
            prev[q] = flat[q]
    return loss, gsq


# -- NumPy's float32 tanh ----------------------------------------------------------------------
# numpy/_core/src/umath/loops_hyperbolic.dispatch.cpp.src (`simd_tanh_f32`, NumPy 2.x, the
# targets with fused multiply-adds): from the bits of x, the subinterval
# j = clamp((bits & 0x7FE00000) − 0x3D400000, 0, 0x3E00000) >> 21 (the exponent and the first
# two mantissa bits, 0 .. 31); y = |x| − b_j; r = c0 + y·(c1 + y·(... c6)), one fused
# multiply-add a coefficient; 1 where bits & 0x7FE00000 > 0x7F000000 (|x| ≥ 2¹²⁷ and ±inf); the
# sign of x ORed in; NumPy's quiet NaN (0x7FC00000) for NaN. Its table (b, c0 .. c6 by rows of
# 32 subintervals, `lut32x8` there) is read out of the installed NumPy (`numpy_tanh_tables_f32`)
# and used here as (32, 8): each subinterval's eight numbers side by side.


@intrinsic
def _bits32(typingctx, x):
    """The bits of a float32 as a non-negative int64."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.zext(builder.bitcast(args[0], ir.IntType(32)), ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def _from_bits32(typingctx, i):
    """The float32 of an int64's low 32 bits."""
    if i != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())

    return types.float32(i), codegen


_F32_ONE = np.int64(0x3F800000)
_F32_NAN = np.int64(0x7FC00000)


@_inline
def tanh32(x, lut):
    """NumPy's float32 SIMD tanh of one number; lut is its (32, 8) table (`tanh_array_f32`)."""
    ux = _bits32(x)
    top = ux & 0x7FE00000
    j = min(max(top - 0x3D400000, 0), 0x3E00000) >> 21
    y = abs(x) - lut[j, 0]
    r = fma(lut[j, 7], y, lut[j, 6])
    for k in range(5, 0, -1):
        r = fma(r, y, lut[j, k])
    rb = _bits32(r)
    if top > 0x7F000000:
        rb = _F32_ONE
    r = _from_bits32(rb | (ux & 0x80000000))
    if x != x:
        r = _from_bits32(_F32_NAN)
    return r


def _splat(vector_type: ir.VectorType, value: int) -> ir.Constant:
    return ir.Constant(vector_type, [ir.Constant(vector_type.element, value)] * vector_type.count)


# The 8 x 8 transpose of eight table rows (one per number) into eight coefficient vectors:
# interleave pairs of rows, then pairs of pairs, then the 128-bit halves (the shuffles an AVX
# compiler emits for it).
_PAIRS = ([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15])
_QUADS = ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
_HALVES = ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])


@intrinsic
def _tanh8_f32(typingctx, x, out, lut, i):
    """out[i : i + 8] ← `tanh32` of x[i : i + 8] as one 8-wide vector: its operations lane by
    lane (generic LLVM: vector loads, shuffles, llvm.fma.v8f32, selects), the table rows
    fetched by each lane's subinterval and transposed. x, out: 1-D C-contiguous float32
    arrays; lut: the C-contiguous (32, 8) float32 table."""
    if not (
        all(isinstance(a, types.Array) and a.dtype == types.float32 for a in (x, out, lut))
        and isinstance(i, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
        vf, vi = ir.VectorType(f32, 8), ir.VectorType(i32, 8)
        xs, outs, luts, at = args
        xa = context.make_array(signature.args[0])(context, builder, xs)
        oa = context.make_array(signature.args[1])(context, builder, outs)
        la = context.make_array(signature.args[2])(context, builder, luts)
        at = builder.sext(at, i64) if at.type.width < 64 else at

        def vector_at(data, index):
            return builder.bitcast(builder.gep(data, [index]), vf.as_pointer())

        xv = builder.load(vector_at(xa.data, at), align=4)
        xi = builder.bitcast(xv, vi)
        top = builder.and_(xi, _splat(vi, 0x7FE00000))
        j = builder.sub(top, _splat(vi, 0x3D400000))
        zero, last = _splat(vi, 0), _splat(vi, 0x3E00000)
        j = builder.select(builder.icmp_signed(">", j, zero), j, zero)
        j = builder.select(builder.icmp_signed("<", j, last), j, last)
        j = builder.lshr(j, _splat(vi, 21))
        rows = []
        for lane in range(8):
            jl = builder.zext(builder.extract_element(j, ir.Constant(i32, lane)), i64)
            row = vector_at(la.data, builder.shl(jl, ir.Constant(i64, 3)))
            rows.append(builder.load(row, align=4))  # any float32 array's alignment

        def shuffle(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(vi, mask))

        pairs = [[shuffle(rows[q], rows[q + 1], m) for m in _PAIRS] for q in range(0, 8, 2)]
        quads = [
            [shuffle(a, b, m) for a, b in zip(left, right, strict=True) for m in _QUADS]
            for left, right in ((pairs[0], pairs[1]), (pairs[2], pairs[3]))
        ]  # per half: (b, c0, c1, c2) interleaved, then (c3 .. c6): columns 0, 1, 2, 3 and 4 .. 7
        col = [shuffle(quads[0][k], quads[1][k], m) for m in _HALVES for k in range(4)]
        fma8 = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vf, [vf, vf, vf]), "llvm.fma.v8f32"
        )
        y = builder.fsub(builder.bitcast(builder.and_(xi, _splat(vi, 0x7FFFFFFF)), vf), col[0])
        r = builder.call(fma8, [col[7], y, col[6]])
        for k in range(5, 0, -1):
            r = builder.call(fma8, [r, y, col[k]])
        ordinary = builder.icmp_signed("<=", top, _splat(vi, 0x7F000000))
        rb = builder.select(ordinary, builder.bitcast(r, vi), _splat(vi, 0x3F800000))
        rb = builder.or_(rb, builder.and_(xi, _splat(vi, -0x80000000)))
        rb = builder.select(builder.fcmp_unordered("uno", xv, xv), _splat(vi, 0x7FC00000), rb)
        builder.store(builder.bitcast(rb, vf), vector_at(oa.data, at), align=4)
        return context.get_dummy_value()

    return types.none(x, out, lut, i), codegen


@jit
def tanh_array_f32(x, out, lut):
    """out ← tanh(x) elementwise (flat float32 arrays), as `np.tanh(x, out=out)`: eight at a
    time (`_tanh8_f32`), the rest one by one (`tanh32`)."""
    n = x.size
    n8 = n - n % 8
    for i in range(0, n8, 8):
        _tanh8_f32(x, out, lut, i)
    for i in range(n8, n):
        out[i] = tanh32(x[i], lut)


#: The float64 tanh port (`check`) and the float32 one (`check_f32`), checked apart: either
#: runs without the other (the MLPs' hidden layer, engine/tasks/mlp.py).
KERNELS = ("tanh_array",)
KERNELS_F32 = ("tanh_array_f32",)
#: The sine RNN's whole passes (engine/tasks/rnn.py `_build_passes` checks them).
PASSES = ("rnn_loss_grads", "rnn_sse", "rnn_run")

# -- NumPy's tanh table ----------------------------------------------------------------------

#: The subintervals' offsets b, row 0 of the table: 0, 1.75·2⁻³, 2.5·2⁻³, 1.75·2⁻², ... 14, 20
#: (NumPy picks the subinterval from the exponent and the first mantissa bit), 0.
_OFFSETS = np.array([0.0, *(m * 2.0**e for e in range(-3, 4) for m in (1.75, 2.5)), 0.0])


def numpy_tanh_tables() -> list[np.ndarray]:
    """Candidate (18, 16) tables of NumPy's float64 tanh, read out of the installed NumPy's
    extension module: every place its row of offsets appears (one per SIMD target it was
    built for), with the 17 rows of coefficients that follow. `check` keeps the one that
    reproduces `np.tanh`."""
    pattern = _OFFSETS.tobytes()
    size = 18 * 16 * 8
    out = []
    folder = os.path.join(os.path.dirname(np.__file__), "_core")
    for path in sorted(glob.glob(os.path.join(folder, "_multiarray_umath*"))):
        with open(path, "rb") as f:
            data = f.read()
        at = data.find(pattern)
        while at >= 0 and at + size <= len(data):
            table = np.frombuffer(data, np.float64, 18 * 16, at).reshape(18, 16).copy()
            if not any(np.array_equal(table, seen) for seen in out):
                out.append(table)
            at = data.find(pattern, at + 1)
    return out


def _probe() -> np.ndarray:
    """Inputs over every subinterval of tanh and its edges: zeros, tiny and subnormal numbers,
    the offsets and their neighbours, values past saturation, infinities and NaN."""
    rng = np.random.default_rng(20240601)
    spread = np.concatenate(
        [rng.standard_normal(20000) * scale for scale in (1e-3, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)]
    )
    edges = np.concatenate([_OFFSETS, np.nextafter(_OFFSETS, 0.0), np.nextafter(_OFFSETS, 99.0)])
    special = np.array([0.0, 5e-324, 1e-300, 1e-20, 19.06, 22.0, 1e300, np.inf, np.nan])
    x = np.concatenate([spread, edges, special])
    return np.concatenate([x, -x])


def check(kernels: dict) -> np.ndarray | None:
    """NumPy's tanh table when `tanh_array` with it reproduces `np.tanh` bit for bit on the
    probe; else None (then the MLPs' float64 tanh is NumPy's)."""
    x = _probe()
    expected = np.tanh(x).view(np.int64)
    got = np.empty_like(x)
    for candidate in numpy_tanh_tables():
        kernels["tanh_array"](x, got, candidate)
        if np.array_equal(got.view(np.int64), expected):
            return candidate
    return None


# -- NumPy's float32 tanh table --------------------------------------------------------------

#: The subintervals' offsets b, row 0 of the float32 table: 0; 1.875·2⁻⁵; (1.125, 1.375, 1.625,
#: 1.875)·2ᵉ for e = −4 .. 2; 9; then 0 for the saturated subinterval (32 in all).
_OFFSETS_F32 = np.array(
    [0.0, 1.875 / 32, *(m * 2.0**e for e in range(-4, 3) for m in (1.125, 1.375, 1.625, 1.875)),
     9.0, 0.0],
    np.float32,
)  # fmt: skip


def numpy_tanh_tables_f32() -> list[np.ndarray]:
    """Candidate (32, 8) tables of NumPy's float32 tanh, read out of the installed NumPy's
    extension module: every place its row of 32 offsets appears, with the 7 rows of
    coefficients that follow, transposed. `check_f32` keeps the one that reproduces
    `np.tanh` (another build may hold older tables with the same offsets: they fail it)."""
    pattern = _OFFSETS_F32.tobytes()
    size = 8 * 32 * 4
    out = []
    folder = os.path.join(os.path.dirname(np.__file__), "_core")
    for path in sorted(glob.glob(os.path.join(folder, "_multiarray_umath*"))):
        with open(path, "rb") as f:
            data = f.read()
        at = data.find(pattern)
        while at >= 0 and at + size <= len(data):
            rows = np.frombuffer(data, np.float32, 8 * 32, at).reshape(8, 32)
            table = np.ascontiguousarray(rows.T)
            if not any(np.array_equal(table, seen) for seen in out):
                out.append(table)
            at = data.find(pattern, at + 1)
    return out


def probe_f32(stride: int = 9973) -> np.ndarray:
    """float32 inputs over every subinterval and its edges: every `stride`-th bit pattern of
    all 2³² (a prime stride, so every exponent, sign and low mantissa bits are met), each
    offset and its neighbours, the saturation and overflow thresholds, zeros, subnormals,
    infinities and NaNs (quiet and signalling, both signs)."""
    spread = np.arange(0, 1 << 32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = [_OFFSETS_F32, np.nextafter(_OFFSETS_F32, np.float32(0))]
    edges.append(np.nextafter(_OFFSETS_F32, np.float32(99)))
    bits = np.array(
        [0, 1, 0x7FFFFF, 0x800000, 0x3D3FFFFF, 0x3D400000, 0x41200000, 0x411FFFFF, 0x7EFFFFFF,
         0x7F000000, 0x7F1FFFFF, 0x7F200000, 0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7FC00000,
         0x7FFFFFFF],
        np.uint32,
    ).view(np.float32)  # fmt: skip
    x = np.concatenate([spread, *edges, bits])
    return np.concatenate([x, -x])


def check_f32(kernels: dict) -> np.ndarray | None:
    """NumPy's float32 tanh table, (32, 8), when `tanh_array_f32` with it reproduces
    `np.tanh` bit for bit on the probe (at every offset into an 8-wide block: the vector and
    the one-by-one code both run); else None (then the MLPs' float32 tanh is NumPy's)."""
    x = probe_f32()
    expected = np.tanh(x).view(np.uint32)
    got = np.empty_like(x)
    for candidate in numpy_tanh_tables_f32():
        kernels["tanh_array_f32"](x, got, candidate)
        if not np.array_equal(got.view(np.uint32), expected):
            continue
        tail = x[3:20]  # 17 numbers: two vectors and a remainder, shifted off the blocks
        kernels["tanh_array_f32"](tail, got[:17], candidate)
        if np.array_equal(got[:17].view(np.uint32), expected[3:20]):
            return candidate
    return None
