"""numba kernels of the elementwise optimizers (imported by `compiled` in the background:
importing numba takes a while). Each mirrors its family's NumPy kernel operation by operation;
see engine/optimizers/compiled.py for the rules that make them bit-identical."""

import numba
import numpy as np

# -- kernels ---------------------------------------------------------------------------------
# Argument conventions: p, g and the state arrays are flat and of one dtype; float scalars
# come as Python floats and are rounded to that dtype first (as NumPy rounds a Python float
# operand of a float32 array; Python floats also keep numba's call cheap). `has_*` flags stand
# for optional arrays (a dummy array is passed in their place). `grad_mode`: 0 = g, 1 = −g,
# 2 = p·λ + g, 3 = p·λ − g (`_grad`).


jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
_inline = numba.njit(inline="always", fastmath=False, error_model="numpy")

# A store under a run-time flag (AMSGrad's v̄, a momentum buffer) keeps LLVM from vectorizing
# the loop: those kernels branch once on the flag and call an inlined loop with the flag as a
# constant, which LLVM then folds away.


@_inline
def used_grad(p, g, wd, grad_mode):
    if grad_mode == 0:
        return g
    if grad_mode == 1:
        return -g
    d = p * wd
    if grad_mode == 2:
        return d + g
    return d - g


@_inline
def lerp(m, x, w, low):
    # `_lerp`: m + w(x − m) for w < 0.5, else x − (x − m)(1 − w); `w` is the factor used.
    t = (x - m) * w
    return m + t if low else x - t


@_inline
def ema_sq(v, d, b, one_minus_b):
    return v * b + d * one_minus_b * d


@jit
def adam(
    p, g, m, v, vmax, has_vmax, decay, has_decay, wd, grad_mode,
    w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    decay, wd, w1, b2, one_minus_b2, bc2_sqrt, eps, neg_step = (
        f(decay),
        f(wd),
        f(w1),
        f(b2),
        f(one_minus_b2),
        f(bc2_sqrt),
        f(eps),
        f(neg_step),
    )
    if has_vmax:
        _adam(
            p, g, m, v, vmax, True, decay, has_decay, wd, grad_mode,
            w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, p, p, False,
        )  # fmt: skip
    else:
        _adam(
            p, g, m, v, vmax, False, decay, has_decay, wd, grad_mode,
            w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, p, p, False,
        )  # fmt: skip


@_inline
def _adam(
    p, g, m, v, vmax, has_vmax, decay, has_decay, wd, grad_mode,
    w1, low1, b2, one_minus_b2, bc2_sqrt, divide_bc2, eps, neg_step, prev, out, with_diff,
):  # fmt: skip
    # with_diff (a constant): out ← p − prev as well, the update when prev holds θ before the
    # step (`_mlp_kernels.adam_norm`), the loop `difference` runs after it otherwise.
    for i in range(p.size):
        pi = p[i]
        if has_decay:
            pi = pi * decay
        d = used_grad(pi, g[i], wd, grad_mode)
        mi = lerp(m[i], d, w1, low1)
        m[i] = mi
        vi = ema_sq(v[i], d, b2, one_minus_b2)
        v[i] = vi
        if has_vmax:
            vi = np.maximum(vmax[i], vi)
            vmax[i] = vi
        den = np.sqrt(vi)
        if divide_bc2:
            den = den / bc2_sqrt
        den = den + eps
        pi = pi + mi * neg_step / den
        p[i] = pi
        if with_diff:
            out[i] = pi - prev[i]


@jit
def nadam(
    p, g, m, v, decay, has_decay, wd, grad_mode, w1, low1, b2, one_minus_b2,
    bc2, divide_bc2, eps, neg_grad_coef, neg_momentum_coef,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    decay, wd, w1, b2, one_minus_b2, bc2, eps, neg_grad_coef, neg_momentum_coef = (
        f(decay),
        f(wd),
        f(w1),
        f(b2),
        f(one_minus_b2),
        f(bc2),
        f(eps),
        f(neg_grad_coef),
        f(neg_momentum_coef),
    )
    for i in range(p.size):
        pi = p[i]
        if has_decay:
            pi = pi * decay
        d = used_grad(pi, g[i], wd, grad_mode)
        mi = lerp(m[i], d, w1, low1)
        m[i] = mi
        vi = ema_sq(v[i], d, b2, one_minus_b2)
        v[i] = vi
        den = np.sqrt(vi / bc2) if divide_bc2 else np.sqrt(vi)
        den = den + eps
        pi = pi + d * neg_grad_coef / den
        p[i] = pi + mi * neg_momentum_coef / den


@jit
def radam(
    p, g, m, v, decay, has_decay, wd, grad_mode, w1, low1, b2, one_minus_b2,
    bc1, divide_bc1, lr, rectified, bc2_sqrt, eps, rect,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    decay, wd, w1, b2, one_minus_b2, bc1, lr, bc2_sqrt, eps, rect = (
        f(decay),
        f(wd),
        f(w1),
        f(b2),
        f(one_minus_b2),
        f(bc1),
        f(lr),
        f(bc2_sqrt),
        f(eps),
        f(rect),
    )
    for i in range(p.size):
        pi = p[i]
        if has_decay:
            pi = pi * decay
        d = used_grad(pi, g[i], wd, grad_mode)
        mi = lerp(m[i], d, w1, low1)
        m[i] = mi
        vi = ema_sq(v[i], d, b2, one_minus_b2)
        v[i] = vi
        upd = mi / bc1 * lr if divide_bc1 else mi * lr
        if rectified:
            upd = upd * (bc2_sqrt / (np.sqrt(vi) + eps)) * rect
        p[i] = pi - upd


@jit
def adamax(
    p, g, m, u, wd, grad_mode, w1, low1, b2, eps, neg_step,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, w1, b2, eps, neg_step = (f(wd), f(w1), f(b2), f(eps), f(neg_step))
    for i in range(p.size):
        pi = p[i]
        d = used_grad(pi, g[i], wd, grad_mode)
        mi = lerp(m[i], d, w1, low1)
        m[i] = mi
        ui = np.maximum(u[i] * b2, np.abs(d) + eps)
        u[i] = ui
        p[i] = pi + mi * neg_step / ui


@jit
def rmsprop(
    p, g, sq, gavg, buf, centered, momentum, wd, grad_mode,
    alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, alpha, one_minus_alpha, wg, eps, mu, neg_lr = (
        f(wd),
        f(alpha),
        f(one_minus_alpha),
        f(wg),
        f(eps),
        f(mu),
        f(neg_lr),
    )
    if centered and momentum:
        _rmsprop(
            p, g, sq, gavg, buf, True, True, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, p, p, False,
        )  # fmt: skip
    elif centered:
        _rmsprop(
            p, g, sq, gavg, buf, True, False, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, p, p, False,
        )  # fmt: skip
    elif momentum:
        _rmsprop(
            p, g, sq, gavg, buf, False, True, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, p, p, False,
        )  # fmt: skip
    else:
        _rmsprop(
            p, g, sq, gavg, buf, False, False, wd, grad_mode,
            alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, p, p, False,
        )  # fmt: skip


@_inline
def _rmsprop(
    p, g, sq, gavg, buf, centered, momentum, wd, grad_mode,
    alpha, one_minus_alpha, wg, lowg, eps, mu, neg_lr, prev, out, with_diff,
):  # fmt: skip
    # with_diff (a constant): out ← p − prev as well, as in `_adam`.
    for i in range(p.size):
        pi = p[i]
        d = used_grad(pi, g[i], wd, grad_mode)
        sqi = ema_sq(sq[i], d, alpha, one_minus_alpha)
        sq[i] = sqi
        if centered:
            ga = lerp(gavg[i], d, wg, lowg)
            gavg[i] = ga
            avg = np.sqrt(sqi - ga * ga)
        else:
            avg = np.sqrt(sqi)
        avg = avg + eps
        if momentum:
            b = buf[i] * mu + d / avg
            buf[i] = b
            pn = pi + b * neg_lr
        else:
            pn = pi + d * neg_lr / avg
        p[i] = pn
        if with_diff:
            out[i] = pn - prev[i]


@jit
def adagrad(p, g, acc, wd, grad_mode, eps, neg_lr):
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, eps, neg_lr = (f(wd), f(eps), f(neg_lr))
    for i in range(p.size):
        pi = p[i]
        d = used_grad(pi, g[i], wd, grad_mode)
        a = acc[i] + d * d
        acc[i] = a
        p[i] = pi + d * neg_lr / (np.sqrt(a) + eps)


@jit
def adadelta(
    p, g, sq, acc, wd, grad_mode, rho, one_minus_rho, eps, neg_lr,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, rho, one_minus_rho, eps, neg_lr = (f(wd), f(rho), f(one_minus_rho), f(eps), f(neg_lr))
    for i in range(p.size):
        pi = p[i]
        d = used_grad(pi, g[i], wd, grad_mode)
        sqi = ema_sq(sq[i], d, rho, one_minus_rho)
        sq[i] = sqi
        delta = np.sqrt(acc[i] + eps) / np.sqrt(sqi + eps) * d
        acc[i] = ema_sq(acc[i], delta, rho, one_minus_rho)
        p[i] = pi + delta * neg_lr


@jit
def sgd(
    p, g, buf, momentum, fresh, dampen, nesterov, wd, grad_mode,
    mu, one_minus_dampening, neg_lr,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, mu, one_minus_dampening, neg_lr = (f(wd), f(mu), f(one_minus_dampening), f(neg_lr))
    if momentum:
        _sgd(
            p, g, buf, True, fresh, dampen, nesterov, wd, grad_mode,
            mu, one_minus_dampening, neg_lr, p, p, False,
        )  # fmt: skip
    else:
        _sgd(
            p, g, buf, False, fresh, dampen, nesterov, wd, grad_mode,
            mu, one_minus_dampening, neg_lr, p, p, False,
        )  # fmt: skip


@_inline
def _sgd(
    p, g, buf, momentum, fresh, dampen, nesterov, wd, grad_mode,
    mu, one_minus_dampening, neg_lr, prev, out, with_diff,
):  # fmt: skip
    # with_diff (a constant): out ← p − prev as well, as in `_adam`.
    for i in range(p.size):
        pi = p[i]
        d = used_grad(pi, g[i], wd, grad_mode)
        if momentum:
            if fresh:
                b = d
            elif dampen:
                b = buf[i] * mu + d * one_minus_dampening
            else:
                b = buf[i] * mu + d
            buf[i] = b
            d = d + b * mu if nesterov else b
        pn = pi + d * neg_lr
        p[i] = pn
        if with_diff:
            out[i] = pn - prev[i]


@jit
def lion(
    p, g, m, decays, wd, b1, one_minus_b1, b2, one_minus_b2, lr,
):  # fmt: skip
    f = p.dtype.type  # Python floats, rounded to the dtype as NumPy rounds them
    wd, b1, one_minus_b1, b2, one_minus_b2, lr = (
        f(wd),
        f(b1),
        f(one_minus_b1),
        f(b2),
        f(one_minus_b2),
        f(lr),
    )
    for i in range(p.size):
        pi = p[i]
        gi = g[i]
        mi = m[i]
        u = np.sign(mi * b1 + gi * one_minus_b1)
        if decays:
            u = u + pi * wd
        p[i] = pi - u * lr
        m[i] = mi * b2 + gi * one_minus_b2


# -- network pieces (engine/tasks/mlp.py) ------------------------------------------------------
# Only the algebraic elementwise passes: NumPy's tanh, exp and log are its own SIMD routines,
# which numba's (libm's) do not match bit for bit, and the matrix products are BLAS's.


@jit
def tanh_backward(H, dH):
    """dH ← dH·(1 − H²) (mlp: multiply(H, H, T); subtract(1, T, T); multiply(dH, T, dH))."""
    h = H.reshape(-1)
    d = dH.reshape(-1)
    one = H.dtype.type(1.0)
    for i in range(h.size):
        d[i] = d[i] * (one - h[i] * h[i])


@jit
def softmax_grad(Z, s, Y, inv_m):
    """Z ← (Z / s − Y)·(1/m), s the row sums (mlp: divide, subtract, multiply)."""
    inv_m = Z.dtype.type(inv_m)
    rows, cols = Z.shape
    for i in range(rows):
        si = s[i, 0]
        for j in range(cols):
            Z[i, j] = (Z[i, j] / si - Y[i, j]) * inv_m


@jit
def bias_add(A, b):
    """A ← A + b on every row (mlp: add(H, b1, H))."""
    rows, cols = A.shape
    for i in range(rows):
        for j in range(cols):
            A[i, j] = A[i, j] + b[j]


@jit
def softmax_shift(Z, b, mx):
    """Z ← Z + b; mx ← the row maxima; Z ← Z − mx (mlp: add(Z, b2, Z),
    maximum.reduce(Z, 1, None, mx, True), subtract(Z, mx, Z)). A NaN in a row makes its
    maximum NaN, as np.maximum propagates it."""
    rows, cols = Z.shape
    for i in range(rows):
        top = Z[i, 0] + b[0]
        Z[i, 0] = top
        for j in range(1, cols):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            if top == top and not (top >= z):  # z is larger, or NaN
                top = z
        mx[i, 0] = top
        for j in range(cols):
            Z[i, j] = Z[i, j] - top


@_inline
def pairwise_sum(a, start, n):
    """NumPy's pairwise summation of a[start : start + n] for n <= 128 (one block: eight
    running sums combined as a tree, then the rest in order; below 8 elements, in order),
    added to a zero start as np.add.reduce does."""
    res = a.dtype.type(0.0)
    if n < 8:
        for i in range(start, start + n):
            res += a[i]
        return res
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
    return res + block


@jit
def row_sums(Z, s):
    """s ← the row sums of Z (mlp: add.reduce(Z, 1, None, s, True)); at most 128 columns."""
    rows, cols = Z.shape
    flat = Z.reshape(-1)
    for i in range(rows):
        s[i, 0] = pairwise_sum(flat, i * cols, cols)


@jit
def softmax_finish(Z, s, logs, Y, inv_m):
    """Returns the sum of `logs` (mlp: add.reduce(logs, None); at most 128 rows) and turns
    the exponentials Z into the gradient (Z / s − Y)·(1/m) (`softmax_grad`)."""
    total = pairwise_sum(logs.reshape(-1), 0, logs.size)
    softmax_grad(Z, s, Y, inv_m)
    return total


# -- a step's bookkeeping (engine/run.py) ----------------------------------------------------


@jit
def copy_into(dst, src):
    """dst ← src (run: copyto(prev, flat)): one call costs less than np.copyto's."""
    for i in range(dst.size):
        dst[i] = src[i]


@jit
def difference(a, b, out):
    """out ← a − b (run: subtract(flat, prev, out=scratch))."""
    for i in range(out.size):
        out[i] = a[i] - b[i]
