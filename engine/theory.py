"""Theory beside the run: exact quadratic theory and the sharpness of any task.

Where a task's loss is exactly quadratic, f(θ) = f* + ½ (θ − θ*)ᵀ H (θ − θ*) (the task says so
through `Task.quadratic_loss()`: quadratic, ill-conditioned, linear-regression at full batch),
gradient descent and momentum are linear maps, and in the eigenbasis of H (eigenvalues
λ_min ≤ ... ≤ λ_max, condition number κ = λ_max / λ_min) each eigen-direction is its own scalar
(GD) or 2×2 (momentum) recurrence. From that:

    GD         stable for η < 2/λ_max; best constant rate η = 2/(λ_min + λ_max), contraction
               (κ − 1)/(κ + 1) per step (of the error; the loss contracts by its square)
    heavy ball (torch: b ← μb + (1 − τ)g, θ ← θ − ηb)  stable for η(1 − τ) < 2(1 + μ)/λ_max;
               Polyak's optimum α* = 4/(√λ_max + √λ_min)², β* = ((√κ − 1)/(√κ + 1))², rate √β*
    Nesterov   (torch: b ← μb + g, θ ← θ − η(g + μb)); per direction
               e_{k+1} = (1 + μ)(1 − ηλ) e_k − μ(1 − ηλ) e_{k−1}, stable (Jury's test) for
               η < 2(1 + μ)/((1 + 2μ) λ_max); best tuning (Lessard, Recht & Packard 2016)
               η = 4/(3λ_max + λ_min), μ = (√(3κ + 1) − 2)/(√(3κ + 1) + 2), rate 1 − 2/√(3κ + 1)

`predict` runs those recurrences from a run's own start under its own schedule (lr(step) per
update, the torch buffer start b₁ = g, dampening, L2 weight decay) and gives the predicted loss
at every step and the error along every eigen-direction: a run of the same config has the same
loss to rounding (tests/engine/test_theory.py holds it to 1e-9).

For any other task with a known minimum (the 2-D landscapes) the same figures come from the
Hessian *at the minimum* (central differences of the gradient), labelled "near the minimum":
they describe the last part of a run, not its start. Tasks without a known minimum (networks)
get no such figures but do get sharpness.

Sharpness (`SharpnessProbe`) is the top eigenvalue of the loss Hessian at the current parameters,
by power iteration on Hessian-vector products: the exact product H·v for quadratic tasks,
otherwise a forward difference of gradients (g(θ + εv) − g(θ))/ε, whose error is stated (the
power iteration's residual ‖Hv − λv‖ bounds the distance to an eigenvalue, plus the difference
step's truncation, measured once against 2ε). With a preconditioner P (Adam-family optimizers:
P⁻¹ = α/η, their effective lr over the base lr) it also gives λ_max(P⁻¹H), the preconditioned
sharpness, whose stability threshold is the same 2/η (Cohen et al. 2021; 2022).

NumPy only; imports no UI library and not engine.run (a run imports this for its sharpness).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import schedules, tasks
from engine.tasks.base import Params, QuadraticLoss, Task, seeded_rngs

#: Optimizers whose updates the theory predicts (torch.optim.SGD and its two presets).
PREDICTED_OPTIMIZERS = ("sgd", "momentum", "nesterov")
#: The momentum at which limits are quoted when no momentum optimizer is given (torch's usual).
DEFAULT_MOMENTUM = 0.9
_EIG_FLOOR = 1e-12  # relative: eigenvalues below λ_max · this count as zero (flat directions)


# -- the closed forms ------------------------------------------------------------------------


def gd_lr_stable_max(lam_max: float) -> float:
    """GD converges for 0 < η < 2/λ_max (|1 − ηλ| < 1 in every direction)."""
    return 2.0 / lam_max


def gd_optimum(lam_min: float, lam_max: float) -> tuple[float, float]:
    """(η, contraction) of the best constant GD rate: 2/(λ_min + λ_max), (κ − 1)/(κ + 1)."""
    return 2.0 / (lam_min + lam_max), (lam_max - lam_min) / (lam_max + lam_min)


def heavy_ball_lr_stable_max(lam_max: float, momentum: float, dampening: float = 0.0) -> float:
    """torch's heavy ball converges for η(1 − τ) < 2(1 + μ)/λ_max (and μ < 1); inf for
    τ = 1, where the buffer keeps only the first gradient and every lr is stable."""
    if dampening >= 1.0:
        return math.inf
    return 2.0 * (1.0 + momentum) / ((1.0 - dampening) * lam_max)


def polyak_optimum(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    """Polyak's heavy ball (α*, β*, rate): 4/(√λ_max + √λ_min)², ((√κ − 1)/(√κ + 1))², √β*."""
    a, b = math.sqrt(lam_max), math.sqrt(lam_min)
    rate = (a - b) / (a + b)
    return 4.0 / (a + b) ** 2, rate * rate, rate


def nesterov_lr_stable_max(lam_max: float, momentum: float) -> float:
    """torch's Nesterov converges for η < 2(1 + μ)/((1 + 2μ) λ_max) (Jury's test on
    z² − (1 + μ)(1 − ηλ)z + μ(1 − ηλ))."""
    return 2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * lam_max)


def nesterov_optimum(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    """(η, μ, rate) of the best constant Nesterov tuning on a quadratic (Lessard et al. 2016):
    4/(3λ_max + λ_min), (√(3κ + 1) − 2)/(√(3κ + 1) + 2), 1 − 2/√(3κ + 1)."""
    r = math.sqrt(3.0 * lam_max / lam_min + 1.0)
    return 4.0 / (3.0 * lam_max + lam_min), (r - 2.0) / (r + 2.0), 1.0 - 2.0 / r


def transition(
    kind: str, curvature: float, lr: float, momentum: float = 0.0, dampening: float = 0.0
) -> np.ndarray:
    """The 2×2 map (e, b) -> (e', b') of one update along a direction of curvature λ, for
    kind "gd", "heavy_ball" or "nesterov" in torch's form (e the error, b the buffer)."""
    h, eta, mu = curvature, lr, momentum
    if kind == "gd":
        return np.array([[1.0 - eta * h, 0.0], [0.0, 0.0]])
    if kind == "heavy_ball":
        c = (1.0 - dampening) * h
        return np.array([[1.0 - eta * c, -eta * mu], [c, mu]])
    if kind == "nesterov":
        return np.array([[1.0 - eta * h * (1.0 + mu), -eta * mu * mu], [h, mu]])
    raise ValueError(f"kind must be gd, heavy_ball or nesterov, got {kind!r}")


def rate(
    kind: str,
    eigenvalues: Sequence[float],
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
) -> float:
    """The asymptotic contraction per step: the largest spectral radius over the directions
    (< 1: converges; > 1: diverges)."""
    return max(
        float(np.max(np.abs(np.linalg.eigvals(transition(kind, h, lr, momentum, dampening)))))
        for h in eigenvalues
    )


def heavy_ball_rates(
    eigenvalues: Sequence[float], lrs: np.ndarray, momenta: np.ndarray
) -> np.ndarray:
    """Heavy ball's rate over a grid: [i, j] = rate at (lrs[j], momenta[i]) (the phase diagram);
    the roots of z² − (1 + μ − ηλ)z + μ in closed form, vectorised."""
    eta = np.asarray(lrs, dtype=np.float64)[None, :, None]
    mu = np.asarray(momenta, dtype=np.float64)[:, None, None]
    h = np.asarray(eigenvalues, dtype=np.float64)[None, None, :]
    p = 1.0 + mu - eta * h
    disc = np.sqrt((p * p - 4.0 * mu).astype(np.complex128))
    radius = np.maximum(np.abs((p + disc) / 2.0), np.abs((p - disc) / 2.0))
    return radius.max(axis=2)


# -- a task's theory -------------------------------------------------------------------------


@dataclass(frozen=True)
class Theory:
    """The figures of one task: exact (the loss is quadratic), local (the Hessian at the
    minimum: "near the minimum") or none (`where` says why; no eigenvalues)."""

    task: str
    exact: bool
    local: bool
    where: str  # in words: where the figures hold
    hessian: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    eigenvalues: np.ndarray = field(default_factory=lambda: np.zeros(0))  # ascending
    eigenvectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # columns
    quadratic: QuadraticLoss | None = None  # the exact loss (exact only)

    @property
    def known(self) -> bool:
        """Whether there are figures at all (a Hessian with a positive top eigenvalue)."""
        return self.eigenvalues.size > 0 and float(self.eigenvalues[-1]) > 0.0

    @property
    def lam_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def lam_min(self) -> float:
        """The smallest curvature; 0 when a direction is flat (or curves down)."""
        low = float(self.eigenvalues[0])
        return low if low > _EIG_FLOOR * self.lam_max else 0.0

    @property
    def condition(self) -> float:
        """κ = λ_max / λ_min (inf when a direction is flat)."""
        return self.lam_max / self.lam_min if self.lam_min > 0.0 else math.inf

    def figures(self, momentum: float = DEFAULT_MOMENTUM, dampening: float = 0.0) -> dict[str, Any]:
        """The figures as `optplay theory --json` prints them: limits at `momentum`; optima
        None when a direction is flat (κ = inf)."""
        if not self.known:
            return {
                "task": self.task,
                "exact": self.exact,
                "local": self.local,
                "eigenvalues": [float(v) for v in self.eigenvalues],
                "condition": None,
                "gd": None,
                "heavy_ball": None,
                "nesterov": None,
            }
        lo, hi = self.lam_min, self.lam_max
        flat = lo <= 0.0
        gd_lr, gd_rate = (None, None) if flat else gd_optimum(lo, hi)
        hb = (None, None, None) if flat else polyak_optimum(lo, hi)
        nes = (None, None, None) if flat else nesterov_optimum(lo, hi)
        return {
            "task": self.task,
            "exact": self.exact,
            "local": self.local,
            "eigenvalues": [float(v) for v in self.eigenvalues],
            "condition": None if flat else self.condition,
            "gd": {"lr_stable_max": gd_lr_stable_max(hi), "lr_opt": gd_lr, "rate_opt": gd_rate},
            "heavy_ball": {
                "lr_opt": None if flat or dampening >= 1.0 else hb[0] / (1.0 - dampening),
                "momentum_opt": hb[1],
                "rate_opt": hb[2],
                "lr_stable_max": heavy_ball_lr_stable_max(hi, momentum, dampening),
            },
            "nesterov": {
                "lr_opt": nes[0],
                "momentum_opt": nes[1],
                "rate_opt": nes[2],
                "lr_stable_max": nesterov_lr_stable_max(hi, momentum),
            },
        }


def _eigen(
    task_name: str,
    hessian: np.ndarray,
    exact: bool,
    local: bool,
    where: str,
    quadratic: QuadraticLoss | None = None,
) -> Theory:
    hessian = 0.5 * (hessian + hessian.T)  # exactly symmetric for eigh
    values, vectors = np.linalg.eigh(hessian)
    return Theory(task_name, exact, local, where, hessian, values, vectors, quadratic)


def analyse(task: Task) -> Theory:
    """The theory of `task`: exact when its loss is quadratic, else local at its known minimum
    (the 2-D landscapes), else none (`where` says why)."""
    quadratic = task.quadratic_loss()
    if quadratic is not None:
        return _eigen(
            task.name,
            np.asarray(quadratic.hessian, np.float64),
            True,
            False,
            "exact: the loss is quadratic",
            quadratic,
        )
    minimum = getattr(task, "minimum", None)
    if getattr(task, "is_landscape", False) and minimum is not None:
        point = np.array(minimum, dtype=np.float64)
        hessian = finite_difference_hessian(_landscape_gradient(task), point)
        label = ", ".join(f"{v:g}" for v in point)
        where = f"near the minimum ({label})"
        if getattr(task, "grad_noise", 0.0):
            where += " of the noise-free loss; the gradient is noisy (grad_noise > 0)"
        return _eigen(task.name, hessian, False, True, where)
    why = f"no exact theory: {task.why_not_quadratic()}, and no known minimum"
    return Theory(task.name, False, False, why)


def _landscape_gradient(task: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The noise-free gradient of a 2-D landscape at a point."""

    def gradient(point: np.ndarray) -> np.ndarray:
        _, gx, gy = task.value_grad(float(point[0]), float(point[1]))
        return np.array([gx, gy])

    return gradient


def finite_difference_hessian(
    gradient: Callable[[np.ndarray], np.ndarray], point: np.ndarray, step: float = 1e-5
) -> np.ndarray:
    """The Hessian at `point` by central differences of `gradient`, column by column,
    symmetrised (error O(step²) + rounding O(eps/step))."""
    n = point.size
    hessian = np.empty((n, n))
    for j in range(n):
        h = step * max(1.0, abs(float(point[j])))
        up, down = point.copy(), point.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (gradient(up) - gradient(down)) / (2.0 * h)
    return 0.5 * (hessian + hessian.T)


# -- the predicted run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """The exact predicted run: `loss[k]` the loss after k updates (k = 0..N; a run records
    it as the batch loss of step k + 1) and `errors[k, i]` the distance to the minimum along
    eigen-direction i (ascending curvature)."""

    optimizer: str
    loss: np.ndarray  # (N + 1,)
    errors: np.ndarray  # (N + 1, n)
    eigenvalues: np.ndarray

    def steps_to(self, target: float) -> int | None:
        """The step at which a run of N updates first records a loss <= target (its step k
        records the loss after k − 1 updates), None if it never does."""
        hits = np.flatnonzero(self.loss[:-1] <= target)
        return int(hits[0]) + 1 if hits.size else None


def optimizer_kind(optimizer: str, hypers: Mapping[str, Any]) -> str | None:
    """ "gd", "heavy_ball" or "nesterov" for an optimizer the theory predicts, else None."""
    if optimizer not in PREDICTED_OPTIMIZERS or hypers.get("flavour", "torch") != "torch":
        return None
    if hypers.get("momentum", 0.0) == 0.0:
        return "gd"
    return "nesterov" if hypers.get("nesterov") else "heavy_ball"


def why_not_predicted(
    theory: Theory, optimizer: str, hypers: Mapping[str, Any], schedule: Any
) -> str | None:
    """Why `predict` cannot predict this run (None when it can)."""
    if not theory.exact:
        return theory.where if not theory.local else "the theory is local (near the minimum)"
    if optimizer_kind(optimizer, hypers) is None:
        if optimizer in PREDICTED_OPTIMIZERS:
            return f"the theory predicts torch's form, not flavour {hypers.get('flavour')}"
        return f"the theory predicts {', '.join(PREDICTED_OPTIMIZERS)}, not {optimizer}"
    if hypers.get("maximize"):
        return "maximize climbs the quadratic: nothing to predict"
    if schedule is None or getattr(schedule, "stateful", False):
        return "the schedule reacts to the loss (plateau): its rates are not known in advance"
    return None


def start_params(task: Task, seed: int) -> np.ndarray:
    """A run's starting parameters, flattened in `param_shapes` order (float64)."""
    init_rng, _ = seeded_rngs(seed)
    params = task.init_params(init_rng)
    return np.concatenate(
        [np.ravel(np.asarray(params[k], np.float64)) for k in task.param_shapes()]
    )


def predict(
    theory: Theory, start: np.ndarray, optimizer: str, hypers: Mapping[str, Any], lrs: np.ndarray
) -> Prediction:
    """The exact run of `optimizer` (sgd / momentum / nesterov, torch's form, with its
    momentum, dampening, nesterov and weight_decay knobs) from `start` with rate lrs[k] for
    update k + 1: len(lrs) + 1 losses. ValueError when `why_not_predicted` says no."""
    kind = optimizer_kind(optimizer, hypers)
    if kind is None or theory.quadratic is None:
        raise ValueError(f"no exact prediction for {optimizer} on {theory.task}")
    h = theory.eigenvalues
    V = theory.eigenvectors
    quad = theory.quadratic
    decay = float(hypers.get("weight_decay", 0.0))
    mu = float(hypers.get("momentum", 0.0)) if kind != "gd" else 0.0
    damp = 1.0 - float(hypers.get("dampening", 0.0)) if kind == "heavy_ball" else 1.0
    curvature = h + decay  # the gradient with L2 decay is (H + λI)θ − Hθ*
    theta_star = V.T @ np.asarray(quad.minimizer, np.float64)
    # With decay the iteration's fixed point moves to (H + λI)⁻¹Hθ*; e is measured from it.
    with np.errstate(divide="ignore", invalid="ignore"):
        fixed = np.where(curvature != 0.0, h * theta_star / curvature, theta_star)
    offset = fixed - theta_star  # fixed point − minimizer, per direction
    e = V.T @ np.asarray(start, np.float64) - fixed
    b = np.zeros_like(e)
    n = len(lrs)
    errors = np.empty((n + 1, e.size))
    errors[0] = e + offset
    with np.errstate(all="ignore"):
        for k in range(n):
            eta = float(lrs[k])
            g = curvature * e
            if kind == "gd":
                e = e - eta * g
            else:
                b = g.copy() if k == 0 else mu * b + damp * g  # torch: b₁ = g, undamped
                e = e - eta * (g + mu * b) if kind == "nesterov" else e - eta * b
            errors[k + 1] = e + offset
        loss = quad.min_loss + 0.5 * (errors * errors) @ h  # inf once a diverging run overflows
    return Prediction(kind, loss, errors, h)


# -- a run config's theory: what the CLI prints and the app shows ------------------------------


@dataclass(frozen=True)
class ConfigTheory:
    """The theory of one run config: the task's figures with the limits at the optimizer's
    momentum, where its lr sits, the knobs of its optimum and (when exact) its predicted run."""

    theory: Theory
    optimizer: str
    kind: str | None  # "gd" / "heavy_ball" / "nesterov" for sgd, momentum, nesterov; else None
    momentum: float  # the momentum the limits are quoted at (the optimizer's, or 0.9)
    dampening: float
    figures: dict[str, Any]  # Theory.figures(momentum, dampening)
    lr: float | None  # the optimizer's base lr
    prediction: Prediction | None
    why_not: str | None  # why there is no prediction

    @property
    def lr_limit(self) -> float | None:
        """The stability limit of this optimizer's kind at its momentum (None: unknown)."""
        if self.kind is None or not self.theory.known:
            return None
        return self.figures[self.kind]["lr_stable_max"]

    @property
    def rate_at_lr(self) -> float | None:
        """The error's contraction per step at the base lr (> 1: diverges), None: unknown."""
        if self.kind is None or self.lr is None or not self.theory.known:
            return None
        mu = 0.0 if self.kind == "gd" else self.momentum
        return rate(self.kind, self.theory.eigenvalues, self.lr, mu, self.dampening)

    def optimum(self) -> dict[str, float] | None:
        """The knobs that set this optimizer to its optimal constant rate (and momentum), or
        None when the theory has none for it (another optimizer, a flat direction, τ = 1)."""
        if self.kind is None or not self.theory.known:
            return None
        best = self.figures[self.kind]
        if best["lr_opt"] is None:
            return None
        if self.kind == "gd":
            return {"lr": best["lr_opt"]}
        return {"lr": best["lr_opt"], "momentum": best["momentum_opt"]}

    def as_json(self) -> dict[str, Any]:
        """The object of `optplay theory --json` (non-finite numbers as null)."""
        out = dict(self.figures)
        if self.prediction is not None:
            out["predicted"] = {
                "optimizer": self.optimizer,
                "loss": [float(v) for v in self.prediction.loss],
            }
        return _finite(out)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def for_config(config: Any, steps: int, theory: Theory | None = None) -> ConfigTheory:
    """The theory of a RunConfig, with the predicted loss of `steps` updates when exact (a
    `theory` of the same task may be passed in to save its analysis)."""
    task = tasks.create(config.task, dtype="float64", **config.task_hypers)
    th = analyse(task) if theory is None else theory
    hypers = config.optimizer_hypers
    kind = optimizer_kind(config.optimizer, hypers)
    momentum = float(hypers["momentum"]) if kind in ("heavy_ball", "nesterov") else DEFAULT_MOMENTUM
    dampening = float(hypers.get("dampening", 0.0)) if kind == "heavy_ball" else 0.0
    lr = config.lr
    schedule = None
    if lr is not None:
        schedule = schedules.create(config.schedule, lr, **config.schedule_hypers)
    why = why_not_predicted(th, config.optimizer, hypers, schedule)
    prediction = None
    if why is None:
        start = start_params(task, config.seed)
        prediction = predict(th, start, config.optimizer, hypers, schedule.curve(steps))
    return ConfigTheory(
        th,
        config.optimizer,
        kind,
        momentum,
        dampening,
        th.figures(momentum, dampening),
        lr,
        prediction,
        why,
    )


# -- sharpness -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sharpness:
    """The top Hessian eigenvalue at some parameters (`value`), ± `error`, and with a
    preconditioner the top eigenvalue of P⁻¹H (`preconditioned`, ± `preconditioned_error`)."""

    value: float
    error: float
    method: str  # "exact Hessian-vector products" / "finite differences of gradients"
    iterations: int
    preconditioned: float | None = None
    preconditioned_error: float | None = None


class SharpnessProbe:
    """Power iteration on Hessian-vector products of `task`'s loss, warm-started from the
    previous call's eigenvector (so a run measuring every K steps tracks it in a few products).

    Products are exact (H·s) when the task's loss is quadratic, else forward differences
    g(θ + s) − g(θ) ≈ H·s along a step s of length ε = √eps·max(1, ‖θ‖). `measure` works on its
    own copy of the parameters and gradients: it never touches the caller's arrays.

    The iterate is that step itself (its direction is the eigenvector's estimate), in buffers
    the probe keeps from call to call: a difference product costs one gradient and two passes
    over the parameters (θ + s, then g − g(θ)), the next step is the product rescaled (one
    more), and the Rayleigh quotient and the residual come from two dot products.
    """

    def __init__(
        self, task: Task, tol: float = 1e-6, max_iter: int = 200, warm_iter: int | None = None
    ) -> None:
        self.task = task
        self.tol = tol
        self.max_iter = max_iter
        #: Products per warm-started call (None: iterate to `tol` every time).
        self.warm_iter = warm_iter
        quadratic = task.quadratic_loss()
        self._hessian = None if quadratic is None else np.asarray(quadratic.hessian, np.float64)
        shapes = task.param_shapes()
        sizes = [int(np.prod(s)) for s in shapes.values()]
        total = sum(sizes)
        self._size = total
        self._x = np.zeros(total, task.dtype)
        self._g = np.zeros(total, task.dtype)
        # θ + s in float64, before it is rounded into a float32 task's parameters
        self._point = None if self._x.dtype == np.float64 else np.zeros(total)
        self._params: Params = {}
        self._grads: Params = {}
        offset = 0
        for (key, shape), size in zip(shapes.items(), sizes, strict=True):
            self._params[key] = self._x[offset : offset + size].reshape(shape)
            self._grads[key] = self._g[offset : offset + size].reshape(shape)
            offset += size
        self._root_eps = math.sqrt(float(np.finfo(task.dtype).eps))
        # Per series: the iterate u (the warm start), the last product, scratch; and ‖u‖².
        self._vectors: dict[str, list[np.ndarray]] = {}
        self._norms: dict[str, float] = {}
        self._fd_error: dict[str, float] = {}  # relative truncation of the difference step
        self._rng = np.random.default_rng(0)

    @property
    def exact(self) -> bool:
        return self._hessian is not None

    @property
    def method(self) -> str:
        if self.exact:
            return "exact Hessian-vector products"
        return "finite differences of gradients"

    def _gradient(self, flat: np.ndarray, batch: Any) -> np.ndarray:
        np.copyto(self._x, flat, casting="unsafe")
        _, g = self.task.loss_and_grads(self._params, batch, self._grads)
        if g is not self._grads:
            for key, arr in g.items():
                np.copyto(self._grads[key], arr)
        return self._g.astype(np.float64)

    def measure(
        self,
        params: Mapping[str, np.ndarray] | np.ndarray,
        batch: Any = None,
        preconditioner: np.ndarray | None = None,
        gradient: np.ndarray | None = None,
        preconditioner_scale: float = 1.0,
    ) -> Sharpness:
        """λ_max of the Hessian of the loss on `batch` at `params` (a dict in `param_shapes`
        order or a flat vector); with `preconditioner` also λ_max(P⁻¹H), P⁻¹ = `preconditioner`
        (per parameter, flat, ≥ 0) × `preconditioner_scale` (> 0). `gradient`, the gradient at
        `params` on `batch` when the caller has it (flat), saves one gradient evaluation."""
        if isinstance(params, np.ndarray):
            theta = np.asarray(params, np.float64).ravel()
        else:
            theta = np.concatenate(
                [np.ravel(np.asarray(params[k], np.float64)) for k in self.task.param_shapes()]
            )
        if self._hessian is not None:
            hessian = self._hessian

            def product(s: np.ndarray, out: np.ndarray) -> np.ndarray:
                return np.dot(hessian, s, out=out)

            length = 1.0
        else:
            product, length = self._difference(theta, batch, gradient)
        # Warm calls share their products between the two series (the cost stays the same).
        share = 2 if preconditioner is not None else 1
        value, error, iterations = self._power("plain", product, length, share)
        pre = pre_error = None
        if preconditioner is not None:
            weight = np.asarray(preconditioner, np.float64).ravel()
            pre, pre_error, more = self._power(
                "preconditioned", product, length, share, weight, float(preconditioner_scale)
            )
            iterations += more
        return Sharpness(value, error, self.method, iterations, pre, pre_error)

    def _difference(
        self, theta: np.ndarray, batch: Any, gradient: np.ndarray | None
    ) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], float]:
        """(product, ε): product(s, out) writes g(θ + s) − g(θ) (≈ H·s for a step s of length
        ε) into `out` and returns it; it reads `s` before it writes `out` (they may be one)."""
        if gradient is None:
            base = self._gradient(theta, batch)
        else:
            base = np.asarray(gradient, np.float64).ravel()
        eps = self._root_eps * max(1.0, math.sqrt(float(np.dot(theta, theta))))
        self._theta, self._batch, self._base = theta, batch, base
        x, g, point = self._x, self._g, self._point
        params, grads, loss_and_grads = self._params, self._grads, self.task.loss_and_grads
        add, subtract = np.add, np.subtract

        def product(s: np.ndarray, out: np.ndarray) -> np.ndarray:
            # A hot path every K steps: in place, in the probe's own buffers.
            if point is None:
                add(theta, s, out=x)
            else:
                add(theta, s, out=point)
                np.copyto(x, point, casting="unsafe")
            _, found = loss_and_grads(params, batch, grads)
            if found is not grads:
                for key, arr in found.items():
                    np.copyto(grads[key], arr)
            return subtract(g, base, out=out)

        return product, eps

    def _power(
        self,
        series: str,
        product: Callable[[np.ndarray, np.ndarray], np.ndarray],
        length: float,
        share: int = 1,
        weight: np.ndarray | None = None,
        scale: float = 1.0,
    ) -> tuple[float, float, int]:
        """(λ, error, products) for the algebraically largest eigenvalue of DH, D = scale ×
        diag(weight) (the identity without a weight)."""
        vectors = self._vectors.get(series)
        cold = vectors is None
        for fresh in (False, True):
            if vectors is None or fresh:
                cold = True
                vectors = [np.empty(self._size) for _ in range(3 if weight is None else 4)]
                self._rng.standard_normal(self._size, out=vectors[0 if weight is None else 1])
                self._vectors[series] = vectors
                if weight is None:
                    self._norms[series] = float(np.dot(vectors[0], vectors[0]))
            if weight is not None:
                # From the last product y ∝ H·u: D·y, one more step of the iteration under this
                # call's D, whose norm needs no division by the weights (‖D·y‖² = D·y·y/scale).
                u, last = vectors[0], vectors[1]
                np.multiply(weight, last, out=u)
                self._norms[series] = float(np.dot(u, last)) / scale
            norm = self._norms[series]
            if norm > 0.0 and math.isfinite(norm):
                break  # else a product that was not finite (or zero): start afresh, once
        limit = self.max_iter if cold or self.warm_iter is None else self.warm_iter // share
        value, residual, used, norm = _power_iteration(
            product, vectors, self._norms[series], length, self.tol, limit, weight, scale
        )
        if value < 0.0:
            # The largest |λ| curves down: shift so the top of the spectrum dominates.
            top, residual, more, norm = _power_iteration(
                product, vectors, norm, length, self.tol, limit, weight, scale, shift=value
            )
            value, used = top + value, used + more
        self._norms[series] = norm
        error = residual
        if not self.exact:
            if cold and series == "plain":  # the difference step's truncation: against 2ε
                step = vectors[0] * (length / math.sqrt(norm))
                wide = self._gradient(self._theta + 2.0 * step, self._batch) - self._base
                quotient = float(np.dot(step, wide)) / (2.0 * length * length)
                self._fd_error[series] = abs(quotient - value) / max(abs(value), 1e-300)
                used += 1
            error += self._fd_error.get("plain", 0.0) * abs(value)
        return value, error, used

    def reset(self) -> None:
        """Forget the warm starts (a run that starts over)."""
        self._vectors.clear()
        self._norms.clear()
        self._fd_error.clear()


def start_sharpness(config: Any) -> Sharpness:
    """The sharpness where a run of `config` starts: at its initial parameters, on its first
    batch (converged power iteration)."""
    task = tasks.create(config.task, dtype="float64", **config.task_hypers)
    init_rng, batch_rng = seeded_rngs(config.seed)
    params = task.init_params(init_rng)
    batch = next(iter(task.batches(batch_rng)))
    return SharpnessProbe(task, tol=1e-8, max_iter=300).measure(params, batch)


def _power_iteration(
    product: Callable[[np.ndarray, np.ndarray], np.ndarray],
    vectors: list[np.ndarray],
    norm: float,
    length: float,
    tol: float,
    limit: int,
    weight: np.ndarray | None = None,
    scale: float = 1.0,
    shift: float = 0.0,
) -> tuple[float, float, int, float]:
    """(Rayleigh quotient, residual ‖Aû − λû‖, products, ‖u‖² of the next iterate) of power
    iteration on A = DH − shift, D = scale × diag(weight) (the identity without a weight), after
    up to `limit` products, stopping when the quotient changes by less than tol relative or
    the residual falls below tol·|λ|.

    DH is self-adjoint in the inner product ⟨a, b⟩ = a·D⁻¹b, in which u is normalised: its
    eigenvalues are those of P⁻¹H for D = P⁻¹, and no division by the weights is needed, since
    the next iterate is D·y for a product y ∝ H·u and ‖D·y‖² = D·y·y/scale. vectors = [u (of
    norm² `norm`), y, s, z]: each product is `product(s, y)`, y ≈ H·s for the step s = u
    rescaled to `length`; z holds D·y/scale. On return vectors[0] is the next iterate and
    vectors[1] the last product (what the next call starts from)."""
    u, y, step = vectors[0], vectors[1], vectors[2]
    spare = vectors[3] if weight is not None else None
    dot, sqrt, multiply = np.dot, math.sqrt, np.multiply
    value = math.nan
    residual = math.inf
    used = 0
    for _ in range(max(1, limit)):
        if not (norm > 0.0 and math.isfinite(norm)):
            break
        k = length / sqrt(norm)
        multiply(u, k, out=step)
        y = product(step, y)
        used += 1
        uy = float(dot(u, y))
        z = y if spare is None else multiply(y, weight, out=spare)  # D·y / scale
        zy = float(dot(z, y))
        new = uy / (k * norm)  # u·Hu / ‖u‖² = ⟨u, DHu⟩ / ⟨u, u⟩
        square = scale * zy / (k * k * norm)  # ‖DHû‖²
        next_norm = zy / scale
        if shift:
            square += shift * (shift - 2.0 * new)
            new -= shift
            z -= (shift * k / scale) * u  # the next iterate ∝ (DH − shift)·u
            # its norm from the vector: the two terms may all but cancel (u near an eigenvector
            # of eigenvalue `shift`); iterates are 0 where the weight is (rare path: allocates)
            if spare is None:
                next_norm = float(dot(z, z))
            else:
                over = np.divide(z, weight, out=np.zeros_like(z), where=weight > 0.0)
                next_norm = float(dot(z, over)) / scale
        # ‖Aû − λû‖² = ‖Aû‖² − λ² for a unit û and λ = ⟨û, Aû⟩ (no temporary vector)
        residual = sqrt(max(square - new * new, 0.0))
        done = abs(new - value) <= tol * abs(new) or residual <= tol * abs(new)
        value = new
        if not (square > 0.0 and math.isfinite(square)):
            norm = next_norm
            break
        if spare is None:  # z is y: the next iterate, and u's buffer takes the next product
            u, y = y, u
        else:
            u, spare = spare, u
        norm = next_norm
        if done:
            break
    vectors[0], vectors[1], vectors[2] = u, y, step
    if spare is not None:
        vectors[3] = spare
    return value, residual, used, norm
