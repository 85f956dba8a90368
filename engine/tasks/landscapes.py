"""2-D test functions for watching trajectories over contour plots.

Every landscape has one parameter {"xy": array([x, y])}, a start point (knobs x0, y0), a known
minimum, a view window `bounds`, a vectorised `surface(xs, ys)` for contours, and an optional
gradient-noise knob: `grad_noise` is the standard deviation of Gaussian noise added to each
gradient component. The noise draws come from `batches(rng)`, so a seeded run is repeatable.
The loss reported is always the noise-free function value.

Per-step values are computed on Python floats (cheaper than NumPy on two numbers); a
non-finite position gives a NaN loss and NaN gradient rather than an exception, so a run
can report divergence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from engine.hyper import Hyper
from engine.tasks.base import REGISTRY, Params, QuadraticLoss, Task

_NOISE_CHUNK = 1024  # noise rows drawn per rng call; the stream is the same whatever the chunk


def _start_hypers(x0: float, y0: float) -> tuple[Hyper, ...]:
    return (
        Hyper("x0", x0, low=-100.0, high=100.0, help="start x"),
        Hyper("y0", y0, low=-100.0, high=100.0, help="start y"),
        Hyper(
            "grad_noise",
            0.0,
            low=0.0,
            high=1e3,
            help="std of Gaussian noise added to each gradient component",
        ),
    )


class Landscape(Task):
    """Base of the 2-D landscapes: subclasses define `value_grad` and `surface_values`."""

    is_landscape = True
    records_trajectory = True
    minimum: ClassVar[tuple[float, float]] = (0.0, 0.0)
    bounds: ClassVar[tuple[tuple[float, float], tuple[float, float]]] = ((-1.0, 1.0), (-1.0, 1.0))

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)  # x0, y0, grad_noise (+ the subclass's knobs)
        self.start = (self.x0, self.y0)

    @property
    def minima(self) -> tuple[tuple[float, float], ...]:
        """Every global minimum (the Path chart marks each); `minimum` is the one a run from
        the start is expected to reach."""
        return (self.minimum,)

    # No model view (`model_view_kind` None, `model_view` None, from Task): the parameters are
    # the picture, and the Path view draws them over `surface` with history.trajectory().

    # -- the function -----------------------------------------------------------------------

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        """f(x, y) and its gradient, on Python floats."""
        raise NotImplementedError

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """f on arrays of equal shape (float64)."""
        raise NotImplementedError

    def surface(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """f on the grid of xs (columns) and ys (rows): shape (len(ys), len(xs)), float64."""
        X, Y = np.meshgrid(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
        with np.errstate(over="ignore", invalid="ignore"):
            return self.surface_values(X, Y)

    def value(self, x: float, y: float) -> float:
        return self._safe(x, y)[0]

    def _safe(self, x: float, y: float) -> tuple[float, float, float]:
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.nan, math.nan, math.nan
        try:
            return self.value_grad(x, y)
        except (ArithmeticError, ValueError):
            # Huge finite points: math.cos(2πx) of an overflowed 2πx is a domain error.
            return math.nan, math.nan, math.nan

    # -- the Task protocol ------------------------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"xy": (2,)}

    def init_params(self, rng: np.random.Generator) -> Params:
        return {"xy": np.array(self.start, dtype=self.dtype)}

    def batches(self, rng: np.random.Generator) -> Iterator[list[float] | None]:
        if self.grad_noise == 0.0:
            return itertools.repeat(None)
        return self._noise(rng)

    def _noise(self, rng: np.random.Generator) -> Iterator[list[float]]:
        while True:
            draws = rng.standard_normal((_NOISE_CHUNK, 2)) * self.grad_noise
            yield from draws.tolist()  # [nx, ny] rows as Python floats

    def loss_and_grads(
        self, params: Params, batch: list[float] | None = None, grads: Params | None = None
    ) -> tuple[float, Params]:
        if grads is None:
            grads = self.new_grads()
        xy = params["xy"]
        f, gx, gy = self._safe(float(xy[0]), float(xy[1]))
        if batch is not None:
            gx += batch[0]
            gy += batch[1]
        g = grads["xy"]
        g[0] = gx
        g[1] = gy
        return f, grads

    def evaluate(self, params: Params) -> dict[str, float]:
        xy = params["xy"]
        return {"loss": self.value(float(xy[0]), float(xy[1]))}


@REGISTRY.register
class Rosenbrock(Landscape):
    """f = (1 - x)^2 + 100 (y - x^2)^2: a curved, flat-bottomed valley; minimum f(1, 1) = 0."""

    name = "rosenbrock"
    summary = "banana valley (1−x)² + 100(y−x²)²; minimum at (1, 1)"
    description = (
        "Finding the valley is easy, following its flat curved floor to (1, 1) is not: "
        "plain gradient descent crawls, momentum and adaptive steps help."
    )
    specs = _start_hypers(-1.5, 2.0)
    minimum = (1.0, 1.0)
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    # Rates that walk the valley within the default 1000 steps without leaving the view
    # (measured over 1e-4..1; Adam's best final loss is at lr 1, which jumps about wildly).
    suggested_lr: ClassVar[Mapping[str, float]] = MappingProxyType(
        {
            "adam": 0.02,
            "amsgrad": 0.02,
            "adamw": 0.02,
            "adaptive-adam": 0.02,
            "nadam": 0.02,
            "radam": 0.01,
            "adamax": 0.1,
            "adagrad": 0.3,
            "lion": 0.01,
        }
    )

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        r = y - x * x
        return (
            (1.0 - x) * (1.0 - x) + 100.0 * r * r,
            -2.0 * (1.0 - x) - 400.0 * x * r,
            200.0 * r,
        )

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (1.0 - X) ** 2 + 100.0 * (Y - X * X) ** 2


@REGISTRY.register
class Beale(Landscape):
    """Beale's function: sharp ridges and flat plateaus; minimum f(3, 0.5) = 0."""

    name = "beale"
    summary = "Beale's function: flat plateaus, steep walls; minimum at (3, 0.5)"
    description = (
        "f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)². "
        "Gradients differ by orders of magnitude across the plane."
    )
    specs = _start_hypers(1.0, 1.5)
    minimum = (3.0, 0.5)
    bounds = ((-4.5, 4.5), (-4.5, 4.5))

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        y2 = y * y
        y3 = y2 * y
        t1 = 1.5 - x + x * y
        t2 = 2.25 - x + x * y2
        t3 = 2.625 - x + x * y3
        f = t1 * t1 + t2 * t2 + t3 * t3
        gx = 2.0 * (t1 * (y - 1.0) + t2 * (y2 - 1.0) + t3 * (y3 - 1.0))
        gy = 2.0 * x * (t1 + 2.0 * t2 * y + 3.0 * t3 * y2)
        return f, gx, gy

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (1.5 - X + X * Y) ** 2 + (2.25 - X + X * Y**2) ** 2 + (2.625 - X + X * Y**3) ** 2


@REGISTRY.register
class Rastrigin(Landscape):
    """2-D Rastrigin, A = 10: a bowl covered in local minima; global minimum f(0, 0) = 0."""

    name = "rastrigin"
    summary = "Rastrigin (A = 10): a bowl of local minima; global minimum at (0, 0)"
    description = (
        "f = 20 + Σ (x_i² − 10 cos 2πx_i). Local methods stop in the nearest dimple; "
        "gradient noise or large steps can hop between them."
    )
    specs = _start_hypers(2.3, -2.7)
    minimum = (0.0, 0.0)
    bounds = ((-5.12, 5.12), (-5.12, 5.12))
    A = 10.0

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        A, w = self.A, 2.0 * math.pi
        f = 2.0 * A + x * x - A * math.cos(w * x) + y * y - A * math.cos(w * y)
        return f, 2.0 * x + A * w * math.sin(w * x), 2.0 * y + A * w * math.sin(w * y)

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        w = 2.0 * np.pi
        return 2.0 * self.A + X * X - self.A * np.cos(w * X) + Y * Y - self.A * np.cos(w * Y)


@REGISTRY.register
class Saddle(Landscape):
    """f = x^2 + y^4/4 - y^2/2: a saddle at the origin between two minima (0, ±1), f = -1/4.

    Started near the saddle's stable line (y0 small), gradient descent first slides toward the
    saddle and then escapes along y, slowly, since the gradient there is tiny; from y0 = 0
    exactly it never leaves (unless the gradient is noisy). Unlike x^2 - y^2 the function is
    bounded below, so a run ends somewhere. `minimum` is the minimum on the start's side
    (y0 >= 0: (0, 1)); `saddle_point` is (0, 0).
    """

    name = "saddle"
    summary = "saddle x² + y⁴/4 − y²/2: escape from (0, 0) to a minimum at (0, ±1)"
    description = (
        "A saddle point at the origin between two minima (0, ±1). Starting near the "
        "stable direction, watch how long each optimizer lingers before escaping."
    )
    specs = _start_hypers(1.5, 1e-3)
    bounds = ((-1.6, 1.6), (-1.6, 1.6))
    saddle_point = (0.0, 0.0)

    @property
    def minimum(self) -> tuple[float, float]:  # type: ignore[override]
        return (0.0, 1.0) if self.start[1] >= 0.0 else (0.0, -1.0)

    @property
    def minima(self) -> tuple[tuple[float, float], ...]:
        return ((0.0, 1.0), (0.0, -1.0))

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        y2 = y * y
        return x * x + 0.25 * y2 * y2 - 0.5 * y2, 2.0 * x, y * (y2 - 1.0)

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        Y2 = Y * Y
        return X * X + 0.25 * Y2 * Y2 - 0.5 * Y2


@REGISTRY.register
class IllConditioned(Landscape):
    """f = 0.5 (u^2 + kappa v^2), (u, v) the point rotated by `angle` degrees; minimum at 0.

    `condition` is kappa, the ratio of the largest to the smallest curvature. With angle 0 the
    steep direction is y (axis-aligned: per-coordinate adaptive methods fix it for free);
    a rotation mixes the coordinates so they cannot.
    """

    name = "ill-conditioned"
    summary = "elongated bowl ½(u² + κv²): zig-zags when κ (condition) is large"
    description = (
        "A quadratic whose curvatures differ by the condition number κ. Gradient descent "
        "must keep lr < 2/κ for the steep direction and then crawls along the shallow one."
    )
    specs = (
        *_start_hypers(-4.0, 1.5),
        Hyper(
            "condition",
            10.0,
            low=1.0,
            high=1e6,
            log=True,
            help="condition number κ: steep / shallow curvature",
        ),
        Hyper("angle", 0.0, low=-90.0, high=90.0, help="rotation of the bowl, degrees"),
    )
    minimum = (0.0, 0.0)
    bounds = ((-5.0, 5.0), (-3.0, 3.0))

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        self.kappa = self.condition
        theta = math.radians(self.angle)
        self._c, self._s = math.cos(theta), math.sin(theta)

    def value_grad(self, x: float, y: float) -> tuple[float, float, float]:
        c, s, k = self._c, self._s, self.kappa
        u = c * x + s * y
        v = c * y - s * x
        kv = k * v
        return 0.5 * (u * u + kv * v), c * u - s * kv, s * u + c * kv

    def quadratic_loss(self) -> QuadraticLoss | None:
        """H = Rᵀ diag(1, κ) R, R the rotation by `angle`; None with gradient noise."""
        if self.grad_noise:
            return None
        c, s = self._c, self._s
        rotation = np.array([[c, s], [-s, c]])  # (x, y) -> (u, v)
        hessian = rotation.T @ np.diag([1.0, self.kappa]) @ rotation
        return QuadraticLoss(hessian, np.zeros(2), 0.0)

    def surface_values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        U = self._c * X + self._s * Y
        V = self._c * Y - self._s * X
        return 0.5 * (U * U + self.kappa * V * V)
