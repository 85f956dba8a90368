"""L-BFGS: quasi-Newton steps from the last few (Δθ, Δg) pairs, optionally with a line search.

    d = −H·g by the two-loop recursion over (s_i, y_i), H₀ = (sᵀy / yᵀy)·I
    θ ← θ + t·d, t = η (first iteration: η·min(1, 1/‖g‖₁)), or t from a strong-Wolfe search
    up to max_iter iterations (and max_eval function evaluations) per step

Liu & Nocedal 1989, On the limited memory BFGS method for large scale optimization (Math.
Programming); Nocedal & Wright 2006, Numerical Optimization, alg. 7.4 and 3.5-3.6.
torch.optim.LBFGS (which follows minFunc).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.optimizer_state import Quantity, StateDoc
from engine.optimizers.base import (
    _ALPHA_SUMMARY,
    _LR,
    _STEP,
    Closure,
    Optimizer,
    _alpha,
    _Arr,
    _Arrays,
    _KeyState,
    _lr,
    _magnitude,
    _same_alpha,
    _Want,
    fused_multiply_add,
    register,
)


class LBFGSScalars(NamedTuple):
    """Per-step scalars of L-BFGS (the step is one torch `step(closure)`)."""

    lr: float  # η of this step
    t: float  # the last step length along d
    H_diag: float  # γ = sᵀy / yᵀy, the initial inverse-Hessian scale
    history: int  # (s, y) pairs kept
    iterations: int  # iterations this step did
    evaluations: int  # function evaluations this step (its first one included)


def _fused_add(x: np.ndarray, alpha: Any, y: np.ndarray) -> np.ndarray:
    """x + alpha·y rounded once, as torch's `x.add(y, alpha=alpha)` computes it on CPU (a
    fused multiply-add, see `fused_multiply_add`)."""
    return fused_multiply_add(np.asarray(float(alpha)), y, x)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """torch's: the minimiser of the cubic through two points with slopes, clamped."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square) if isinstance(d2_square, float) else np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(obj, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """torch.optim.lbfgs._strong_wolfe, statement for statement: (f, g, t, evaluations)."""
    d_norm = np.max(np.abs(d))
    g = g.copy()
    f_new, g_new = obj(t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj(t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos] = t
            bracket_f[high_pos] = f_new
            bracket_g[high_pos] = g_new.copy()
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos] = t
            bracket_f[low_pos] = f_new
            bracket_g[low_pos] = g_new.copy()
            bracket_gtd[low_pos] = gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


@register
class LBFGS(Optimizer):
    """L-BFGS: a quasi-Newton method that builds curvature from the last `history_size` steps.

    Each step runs up to max_iter iterations on the same (full-batch) objective: the direction
    d = −H·g comes from the two-loop recursion over the stored pairs s = Δθ, y = Δg (H₀ = γI,
    γ = sᵀy/yᵀy), then θ ← θ + t·d with t = η (η·min(1, 1/‖g‖₁) on the very first
    iteration), or t from torch's strong-Wolfe line search (cubic interpolation, c₁ = 1e-4,
    c₂ = 0.9). It stops early when max|g| ≤ tolerance_grad, the change in θ or in the loss is
    below tolerance_change, or max_eval evaluations are spent (auto: max_iter·5/4). One
    optplay step is one torch `step(closure)`: several function evaluations, which the run
    counts. Needs the same objective at every evaluation, so only full-batch tasks (batch_size
    full, no gradient noise). Liu & Nocedal, "On the limited memory BFGS method for large scale
    optimization" (Math. Programming 1989). torch.optim.LBFGS.
    """

    name = "lbfgs"
    summary = "L-BFGS: quasi-Newton from the last (Δθ, Δg) pairs; full-batch tasks only"
    source = "torch twin"
    elementwise = False
    needs_closure = True
    full_batch_only = True
    specs = (
        _lr(1.0),
        Hyper("max_iter", 20, kind="int", low=1, high=10_000, help="iterations per step"),
        Hyper("max_eval", None, kind="int", low=1, high=100_000, aliases={"auto": None},
              help="function evaluations per step (auto: max_iter·5/4)"),
        Hyper("tolerance_grad", 1e-7, low=0.0, log=True, help="stop when max|g| is at most this"),
        Hyper("tolerance_change", 1e-9, low=0.0, log=True,
              help="stop when the step or the loss change is below this"),
        Hyper("history_size", 100, kind="int", low=1, high=10_000, help="(s, y) pairs kept"),
        Hyper("line_search_fn", "none", kind="choice", choices=("none", "strong_wolfe"),
              help="step length: η (none) or a strong-Wolfe line search"),
    )  # fmt: skip
    equations = (
        "s = Δθ, y = Δg of the last iterations,  γ = sᵀy / yᵀy\n"
        "d = −H·g   (two-loop recursion over (s, y), H₀ = γI)\n"
        "θ ← θ + t·d,   t = η, or t from a strong-Wolfe line search\n"
        "up to max_iter iterations and max_eval function evaluations per step"
    )
    reference = (
        "Liu & Nocedal 1989, On the limited memory BFGS method for large scale optimization "
        "(Math. Programming). torch.optim.LBFGS"
    )
    state_doc = StateDoc(
        state=(
            _STEP,
            Quantity("d", "d", "the last search direction −H·g"),
            Quantity("t", "t", "the last step length along d"),
            Quantity("H_diag", "γ", "sᵀy / yᵀy: the initial inverse-Hessian scale"),
            Quantity("history", "k", "(s, y) pairs kept"),
            Quantity("n_iter", "iters", "iterations so far"),
            Quantity("func_evals", "evals", "function evaluations so far"),
        ),
        derived=(_alpha("t·γ, the same for every coordinate"),),
        scalars=(
            _LR,
            Quantity("t", "t", "the last step length of this step"),
            Quantity("evaluations", "evals", "function evaluations of this step"),
        ),
        summaries=(_ALPHA_SUMMARY, _magnitude("d", "d", "the search direction")),
        effective_lr="α = t·γ for every coordinate (γ = sᵀy/yᵀy, t the step length): the rate "
        "at which θ ← θ + t·d would follow −g if H were γI; the curvature pairs then bend d "
        "away from −g.",
    )

    def __init__(self, **hypers: Any) -> None:
        super().__init__(**hypers)
        self._lbfgs: dict[str, Any] = {"func_evals": 0, "n_iter": 0}
        self._lr_now = self.lr

    def reset(self) -> None:
        super().reset()
        self._lbfgs = {"func_evals": 0, "n_iter": 0}

    def step(
        self,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        lr: float | None = None,
        closure: Closure | None = None,
        loss: float | None = None,
    ) -> None:
        """One torch `step(closure)`: `grads` is the gradient at the current `params` and
        `loss` the loss there (evaluated by `closure` when None); `closure` re-evaluates."""
        if closure is None:
            self._refuse_without_closure(lr, "it re-evaluates the objective")
        super().step(params, grads, lr)  # validates and keeps per-key state (_step_key)
        keys = list(params)
        if loss is None:
            loss, grads = closure()
        self._iterate(params, keys, grads, closure, float(loss))

    def _step_key(self, p: np.ndarray, g: np.ndarray, st: _KeyState, lr: float) -> None:
        st.t += 1
        st.hypers = self.hypers
        self._lr_now = lr

    def _iterate(
        self,
        params: Mapping[str, np.ndarray],
        keys: list[str],
        grads: Mapping[str, np.ndarray],
        closure: Closure,
        loss: float,
    ) -> None:
        lr = self._lr_now
        max_iter = self.max_iter
        max_eval = self.max_eval if self.max_eval is not None else max_iter * 5 // 4
        tol_grad, tol_change = self.tolerance_grad, self.tolerance_change
        history_size = self.history_size
        state = self._lbfgs

        def gather(gs: Mapping[str, np.ndarray]) -> np.ndarray:
            return np.concatenate([np.ravel(gs[k]) for k in keys])

        def add_grad(step: Any, update: np.ndarray) -> None:
            offset = 0
            for k in keys:
                p = params[k]
                n = p.size
                new = _fused_add(p.reshape(-1), step, update[offset : offset + n].astype(p.dtype))
                np.copyto(p, new.reshape(p.shape))
                offset += n

        def evaluate() -> tuple[float, np.ndarray]:
            value, gs = closure()
            return float(value), gather(gs)

        current_evals = 1
        state["func_evals"] += 1
        flat_grad = gather(grads)
        opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        if not opt_cond:
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro = [], [], []
                    H_diag = 1
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = y.dot(s)
                    if ys > 1e-10:
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        H_diag = ys / y.dot(y)
                    num_old = len(old_dirs)
                    al = [None] * num_old
                    q = -flat_grad
                    for i in range(num_old - 1, -1, -1):
                        al[i] = old_stps[i].dot(q) * ro[i]
                        q = _fused_add(q, -al[i], old_dirs[i])
                    d = r = q * H_diag
                    for i in range(num_old):
                        be_i = old_dirs[i].dot(r) * ro[i]
                        r = _fused_add(r, al[i] - be_i, old_stps[i])
                    d = r
                prev_flat_grad = flat_grad.copy()
                prev_loss = loss
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / np.sum(np.abs(flat_grad))) * lr
                else:
                    t = lr
                gtd = flat_grad.dot(d)
                if gtd > -tol_change:
                    break
                ls_func_evals = 0
                if self.line_search_fn == "strong_wolfe" and t == 0:
                    # lr 0 (a warmup's first step): no step to search along (torch's cubic
                    # interpolation divides by zero here); the point and its loss stay.
                    opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
                elif self.line_search_fn == "strong_wolfe":
                    x_init = {k: params[k].copy() for k in keys}

                    def obj(step: Any, direction: np.ndarray, x_init=x_init) -> tuple:
                        add_grad(step, direction)
                        result = evaluate()
                        for k in keys:
                            np.copyto(params[k], x_init[k])
                        return result

                    loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                        obj, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                    )
                    add_grad(t, d)
                    opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
                else:
                    add_grad(t, d)
                    if n_iter != max_iter:
                        loss, flat_grad = evaluate()
                        opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
                        ls_func_evals = 1
                current_evals += ls_func_evals
                state["func_evals"] += ls_func_evals
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if np.max(np.abs(d * t)) <= tol_change:
                    break
                if abs(loss - prev_loss) < tol_change:
                    break
            state.update(
                d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                prev_flat_grad=prev_flat_grad, prev_loss=prev_loss,
            )  # fmt: skip
        # Per-key views of the direction, and the step's scalars, for the State tab.
        t_now = float(state["t"]) if state.get("t") is not None else 0.0
        h_now = float(state["H_diag"]) if state.get("H_diag") is not None else 1.0
        history = len(state.get("old_dirs") or ())
        d_now = state.get("d")
        offset = 0
        for k in keys:
            st = self._state[k]
            p = params[k]
            if d_now is not None:
                st.bufs["d"] = d_now[offset : offset + p.size].reshape(p.shape).astype(p.dtype)
            offset += p.size
            st.scalars = LBFGSScalars(lr, t_now, h_now, history, n_iter, current_evals)

    def _state_scalars(self, st: _KeyState) -> dict[str, float]:
        s = self._lbfgs
        if st.scalars is None:
            return {}
        return {
            "t": st.scalars.t,
            "H_diag": st.scalars.H_diag,
            "history": st.scalars.history,
            "n_iter": s["n_iter"],
            "func_evals": s["func_evals"],
        }

    def _derive(self, st: _KeyState, want: _Want, grad: _Arr, prev: _Arr) -> _Arrays:
        return _same_alpha(st, want, st.scalars.t * st.scalars.H_diag)


@register
class LBFGSWolfe(LBFGS):
    """L-BFGS with torch's strong-Wolfe line search on by default.

    The same as lbfgs with line_search_fn = strong_wolfe: each iteration searches for a step
    length t with enough decrease (c₁) and a flattened slope (c₂), so η = 1 is a safe start
    on any scale. Liu & Nocedal (Math. Programming 1989); More & Thuente 1994 (line search).
    torch.optim.LBFGS(line_search_fn="strong_wolfe").
    """

    name = "lbfgs-wolfe"
    summary = "L-BFGS with torch's strong-Wolfe line search; full-batch tasks only"
    specs = tuple(
        Hyper("line_search_fn", "strong_wolfe", kind="choice", choices=("none", "strong_wolfe"),
              help="step length: η (none) or a strong-Wolfe line search")
        if h.name == "line_search_fn" else h
        for h in LBFGS.specs
    )  # fmt: skip
    reference = (
        "Liu & Nocedal 1989 (Math. Programming); strong-Wolfe search as in Nocedal & Wright "
        "2006. torch.optim.LBFGS(line_search_fn='strong_wolfe')"
    )
