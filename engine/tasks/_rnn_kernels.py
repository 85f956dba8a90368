"""numba kernels of the sine RNN's recurrences (engine/tasks/rnn.py), bit-identical with its
NumPy passes in float64. Imported by the compiled path's build thread (`_build_recurrences` in
engine/tasks/rnn.py), never at start-up: importing numba takes a while.

What makes them identical, and why only these parts:
- `np.tanh` here is NumPy's own SIMD tanh (a table of 16 subintervals, each a degree-16
  polynomial evaluated by fused multiply-adds), not the C library's, which differs in about a
  quarter of the results by one unit in the last place. `tanh` below follows it operation for
  operation, with NumPy's own coefficients, read out of the installed NumPy (`numpy_tanh_table`)
  so the port follows the NumPy that runs; `check` refuses the kernels unless they reproduce
  `np.tanh` bit for bit on a probe of inputs over every subinterval.
- The recurrences' products h_t·W_hh and dA_t·W_hhᵀ have an inner dimension of `hidden`:
  OpenBLAS's gemm sums each element over it in order, one fused multiply-add a term, which a
  loop reproduces (`check` compares it with `np.matmul` on the run's shapes too).
- The products summed over the batch and the window (the weight gradients, the output layer,
  the loss) go through OpenBLAS's gemv and dot kernels, whose split accumulators a loop does
  not reproduce: they stay NumPy calls (engine/tasks/rnn.py).
float32 recurrences stay on NumPy: OpenBLAS's sgemm does not sum in that order. NumPy's
float32 tanh is ported too (`tanh_array_f32`, for the MLPs' float32 hidden layer): 32
subintervals, a degree-6 polynomial each, by fused multiply-adds, eight numbers at a time;
`check_f32` refuses it unless it reproduces `np.tanh` bit for bit.
"""

import glob
import os
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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


@_inline
def _row_times(a, a0, w, n_in, n_out, acc):
    """acc[:n_out] ← a[a0 : a0 + n_in] @ w (w flat, n_in × n_out row-major): each element
    summed over k in order with one fused multiply-add a term from +0, as OpenBLAS's gemm
    does on a small inner dimension."""
    for j in range(n_out):
        acc[j] = 0.0
    for k in range(n_in):
        ak = a[a0 + k]
        w0 = k * n_out
        for j in range(n_out):
            acc[j] = fma(ak, w[w0 + j], acc[j])


@_inline
def _two_rows_times(a, a0, a1, w, n_in, n_out, acc0, acc1):
    """`_row_times` of the rows at a0 and a1 together: twice the independent chains, which
    the CPU overlaps (each element still summed in order from +0)."""
    for j in range(n_out):
        acc0[j] = 0.0
        acc1[j] = 0.0
    for k in range(n_in):
        x0 = a[a0 + k]
        x1 = a[a1 + k]
        w0 = k * n_out
        for j in range(n_out):
            wj = w[w0 + j]
            acc0[j] = fma(x0, wj, acc0[j])
            acc1[j] = fma(x1, wj, acc1[j])


@_inline
def _rows_times(a, a_start, w, rows, n_in, n_out, out, o_start, acc0, acc1):
    """out[o_start:] rows ← a[a_start:] rows @ w, two rows at a time (flat arrays, rows of
    n_in and n_out values)."""
    for i in range(0, rows - 1, 2):
        a0 = a_start + i * n_in
        _two_rows_times(a, a0, a0 + n_in, w, n_in, n_out, acc0, acc1)
        o = o_start + i * n_out
        for j in range(n_out):
            out[o + j] = acc0[j]
            out[o + n_out + j] = acc1[j]
    if rows % 2:
        _row_times(a, a_start + (rows - 1) * n_in, w, n_in, n_out, acc0)
        o = o_start + (rows - 1) * n_out
        for j in range(n_out):
            out[o + j] = acc0[j]


@jit
def matmul_small(a, b, out):
    """out ← a @ b for 2-D C-contiguous float64 arrays (`_rows_times`)."""
    m, inner = a.shape
    n = b.shape[1]
    af, bf, of = a.reshape(a.size), b.reshape(b.size), out.reshape(out.size)
    _rows_times(af, 0, bf, m, inner, n, of, 0, np.empty(n), np.empty(n))


@jit
def rnn_forward(X, W_xh, b_h, W_hh, xt, Hs, D, lut):
    """The recurrence of `SineRNN._forward` up to h_T, in its buffers: xt ← Xᵀ; D ← input
    terms x_t·W_xh + b_h; Hs[t + 1] ← tanh(Hs[t]·W_hh + D[t]) (Hs[0] = 0 is not written)."""
    m, T = X.shape
    hidden = W_hh.shape[0]
    step = m * hidden  # values per time step in Hs and D
    W = W_hh.reshape(hidden * hidden)
    H = Hs.reshape(Hs.size)
    Df = D.reshape(D.size)
    for t in range(T):
        for i in range(m):
            x = X[i, t]
            xt[t, i] = x
            o = t * step + i * hidden
            for j in range(hidden):
                Df[o + j] = x * W_xh[0, j] + b_h[j]
    _tanh_into(Df, H[step:], step, lut)  # h_1 = tanh(D[0]): h_0 = 0
    acc0, acc1 = np.empty(hidden), np.empty(hidden)
    for t in range(1, T):
        o = t * step  # Hs[t] and D[t]; Hs[t + 1] at o + step
        _rows_times(H, o, W, m, hidden, hidden, H, o + step, acc0, acc1)
        for q in range(step):
            H[o + step + q] = H[o + step + q] + Df[o + q]
        _tanh_into(H[o + step :], H[o + step :], step, lut)


@jit
def rnn_backward(e, W_hy, W_hh, Hs, D, dA, dH):
    """The backward recurrence of `SineRNN.loss_and_grads`, in its buffers: dH ← e·W_hyᵀ;
    D ← 1 − h_t² for every step; dA[t] ← dH ⊙ D[t], dH ← dA[t]·W_hhᵀ for t = T−1 .. 1;
    dA[0] ← dH ⊙ D[0]."""
    T, m, hidden = D.shape
    step = m * hidden
    Wt = np.ascontiguousarray(W_hh.T).reshape(hidden * hidden)  # dA·W_hhᵀ as a row product
    H = Hs.reshape(Hs.size)
    Df = D.reshape(D.size)
    dAf = dA.reshape(dA.size)
    dHf = dH.reshape(dH.size)
    for i in range(m):
        for j in range(hidden):
            dHf[i * hidden + j] = fma(e[i, 0], W_hy[j, 0], 0.0)  # gemm from +0: -0 gives +0
    for q in range(T * step):
        h = H[step + q]
        Df[q] = 1.0 - h * h
    acc0, acc1 = np.empty(hidden), np.empty(hidden)
    for t in range(T - 1, 0, -1):
        o = t * step
        for q in range(step):
            dAf[o + q] = dHf[q] * Df[o + q]
        _rows_times(dAf, o, Wt, m, hidden, hidden, dHf, 0, acc0, acc1)
    for q in range(step):
        dAf[q] = dHf[q] * Df[q]


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


KERNELS = ("tanh_array", "matmul_small", "rnn_forward", "rnn_backward")
#: The float32 tanh: checked apart (`check_f32`), so either port runs without the other.
KERNELS_F32 = ("tanh_array_f32",)

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
    probe and `matmul_small` reproduces `np.matmul` on a lesson's shape (each run's shapes are
    probed again: `shape_ok`); else None (then the RNN steps on NumPy). Warms the
    recurrences up when it returns a table."""
    x = _probe()
    expected = np.tanh(x).view(np.int64)
    got = np.empty_like(x)
    table = None
    for candidate in numpy_tanh_tables():
        kernels["tanh_array"](x, got, candidate)
        if np.array_equal(got.view(np.int64), expected):
            table = candidate
            break
    if table is None or not shape_ok(kernels["matmul_small"], 32, 16):
        return None
    warm(kernels, table)
    return table


def shape_ok(matmul_small: Any, rows: int, hidden: int) -> bool:
    """Whether `matmul_small` reproduces `np.matmul` for (rows, hidden) @ (hidden, hidden)
    and its transpose: OpenBLAS's gemm sums in order on these shapes, but not on all (an odd
    row count or a large inner dimension takes other kernels), so each shape is probed once
    before its recurrences run compiled."""
    rng = np.random.default_rng(rows * 4099 + hidden)
    for _ in range(3):
        a = rng.standard_normal((rows, hidden))
        b = rng.standard_normal((hidden, hidden))
        for right in (b, b.T):
            out = np.empty((rows, hidden))
            matmul_small(a, np.ascontiguousarray(right), out)
            if not np.array_equal(out.view(np.int64), np.matmul(a, right).view(np.int64)):
                return False
    return True


def warm(kernels: dict, table: np.ndarray) -> None:
    """Compile (or load) the recurrences for float64 on tiny buffers (the build thread)."""
    m, T, hidden = 2, 3, 2
    X = np.full((m, T), 0.5)
    W = np.full((hidden, hidden), 0.25)
    Hs = np.zeros((T + 1, m, hidden))
    D = np.empty((T, m, hidden))
    kernels["rnn_forward"](X, W[:1].copy(), W[0].copy(), W, np.empty((T, m)), Hs, D, table)
    kernels["rnn_backward"](
        np.ones((m, 1)), np.ones((hidden, 1)), W, Hs, D, np.empty_like(D), np.empty((m, hidden))
    )


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
