"""The tutorials' smallest problems: a noisy straight line and a 1-D parabola."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from engine.hyper import Hyper
from engine.tasks import views
from engine.tasks.base import (
    DATA_SEED,
    REGISTRY,
    Params,
    QuadraticLoss,
    Task,
    batch_size_hyper,
    check_batch_size,
    check_elements,
    epoch_batches,
)


@REGISTRY.register
class LinearRegression(Task):
    """Least squares on y = 4 + 3 x + noise, x uniform in [0, 2] (the tutorials' data).

    With more features, the true weights are 3 * (-1/2)^j for feature j = 0, 1, 2, ...
    (3, -1.5, 0.75, ...) and the intercept stays 4. The loss is the mean squared error
    mean((X w + b - y)^2), without a factor 1/2 (torch's MSELoss); the gradients are
    2/m X^T e and 2/m sum(e). A held-out set of the same size (fresh draws from the same
    line) is what `evaluate` scores.
    """

    name = "linear-regression"
    summary = "fit y = 4 + 3x + noise by mean squared error (the tutorials' line)"
    description = (
        "Linear regression on n_samples points x ~ U[0, 2], y = 4 + 3x + N(0, noise^2). "
        "Loss: mean squared error. More features get true weights 3·(−1/2)^j."
    )
    size_knob = "n_features"
    specs = (
        Hyper("n_samples", 100, kind="int", low=2, high=1_000_000, help="training points"),
        Hyper("n_features", 1, kind="int", low=1, high=1000, help="input features"),
        Hyper("noise", 1.0, low=0.0, high=1e3, help="std of the Gaussian noise on y"),
        batch_size_hyper(0),
        DATA_SEED,
    )

    true_bias = 4.0

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        check_batch_size(values, values["n_samples"])
        n, f = values["n_samples"], values["n_features"]
        check_elements("n_samples", f"n_samples × n_features = {n} × {f}", n * f)

    def __init__(self, dtype: Any = "float64", **knobs: Any) -> None:
        super().__init__(dtype, **knobs)
        self.true_weights = 3.0 * (-0.5) ** np.arange(self.n_features)
        rng = np.random.default_rng(self.data_seed)

        def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
            x = 2.0 * rng.random((n, self.n_features))
            y = self.true_bias + x @ self.true_weights + self.noise * rng.standard_normal(n)
            return x.astype(self.dtype), y.astype(self.dtype)

        self.X, self.y = draw(self.n_samples)
        self.X_test, self.y_test = draw(self.n_samples)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"w": (self.n_features,), "b": ()}

    def init_params(self, rng: np.random.Generator) -> Params:
        w = rng.standard_normal(self.n_features).astype(self.dtype)
        b = np.asarray(rng.standard_normal(), dtype=self.dtype)
        return {"w": w, "b": b}

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, ...]]:
        return epoch_batches(rng, (self.X, self.y), self.batch_size)

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        X, y = batch
        m = X.shape[0]
        if grads is None:
            grads = self.new_grads()
        err = X @ params["w"]
        err += params["b"]
        err -= y
        np.matmul(err, X, out=grads["w"])
        grads["w"] *= 2.0 / m
        grads["b"][...] = err.sum() * (2.0 / m)
        return float(err @ err) / m, grads

    def evaluate(self, params: Params) -> dict[str, float]:
        err = self.X_test @ params["w"] + params["b"] - self.y_test
        return {"loss": float(err @ err) / len(err)}

    def quadratic_loss(self) -> QuadraticLoss | None:
        """Full batch: H = 2/m AᵀA with A = [X 1] (w then b), θ* least squares. Mini-batches
        step on other quadratics: None."""
        if self.batch_size and self.batch_size < len(self.X):
            return None
        return self._quadratic

    @functools.cached_property
    def _quadratic(self) -> QuadraticLoss:
        """H = 2/m [[XᵀX, Xᵀ1], [1ᵀX, m]] without building [X 1]; computed once."""
        X = self.X.astype(np.float64)
        m = len(X)
        f = X.shape[1]
        gram = np.empty((f + 1, f + 1))
        gram[:f, :f] = X.T @ X
        gram[:f, f] = gram[f, :f] = X.sum(axis=0)
        gram[f, f] = m
        theta = np.array(self._least_squares)
        residual = X @ theta[:f] + theta[f] - self.y.astype(np.float64)
        return QuadraticLoss((2.0 / m) * gram, theta, float(residual @ residual) / m)

    def why_not_quadratic(self) -> str:
        return "mini-batches: each step descends a different quadratic (set batch_size=full)"

    def solution(self) -> tuple[np.ndarray, float]:
        """The exact least-squares (w, b) on the training set, in float64 (computed once)."""
        coef = self._least_squares
        return coef[:-1].copy(), float(coef[-1])

    @functools.cached_property
    def _least_squares(self) -> np.ndarray:
        """(w1 .. wF, b) minimising the training MSE: numpy.linalg.lstsq, read-only. Costs
        about n_samples x n_features^2 once (a few ms by default, ~2 s at the largest sizes)."""
        A = np.column_stack([self.X.astype(np.float64), np.ones(len(self.X))])
        return views.frozen(np.linalg.lstsq(A, self.y.astype(np.float64), rcond=None)[0])

    # -- what the model learned --------------------------------------------------------------

    @property
    def model_view_kind(self) -> views.ViewKind | None:
        return "line" if self.n_features == 1 else "weights"

    def model_view(
        self,
        params: Params,
        *,
        width: int = views.DEFAULT_WIDTH,
        height: int = views.DEFAULT_HEIGHT,
    ) -> views.ModelView | None:
        """1 feature: the training points with the current, true and least-squares lines
        (LineFit); more: the current, true and least-squares coefficients (WeightsFit).
        `width` and `height` are not used (no grid)."""
        views.check_resolution(width, height)
        params = views.copy_params(params)
        w = params["w"].astype(np.float64)
        b = float(params["b"])
        ls = self._least_squares
        if self.n_features > 1:
            return views.WeightsFit(
                title=f"coefficients w1..w{self.n_features} and b: current, true (the data's "
                "line) and least squares on the training set",
                names=(*(f"w{j + 1}" for j in range(self.n_features)), "b"),
                current=views.frozen(np.append(w, b)),
                true=views.frozen(np.append(self.true_weights, self.true_bias)),
                least_squares=ls,
            )
        line = self._line_data
        shown = len(line.x)
        points = f"{shown:,} training points"
        if shown < len(self.X):
            points = f"{shown:,} of {len(self.X):,} training points (evenly spaced)"
        return views.LineFit(
            title=f"{points}; lines: current fit, true y = {self.true_bias:g} + "
            f"{self.true_weights[0]:g}x, least squares on the training points",
            x=line.x,
            y=line.y,
            total=len(self.X),
            x_range=line.x_range,
            y_range=line.y_range,
            current=views.Line(float(w[0]), b),
            true=views.Line(float(self.true_weights[0]), self.true_bias),
            least_squares=views.Line(float(ls[0]), float(ls[1])),
        )

    @functools.cached_property
    def _line_data(self) -> _LineData:
        """The drawn points and the axes (they fit the data and the true and least-squares
        lines, not the current line: the picture stays still while training)."""
        subset = views.spread_subset(len(self.X), views.MAX_POINTS)
        x_all = self.X[:, 0].astype(np.float64)
        y_all = self.y.astype(np.float64)
        x_range = views.padded_range(x_all)
        ends = np.array(x_range)
        ls = self._least_squares
        lines = np.concatenate([self.true_bias + self.true_weights[0] * ends, ls[1] + ls[0] * ends])
        y_range = views.padded_range(np.concatenate([[y_all.min(), y_all.max()], lines]))
        return _LineData(views.frozen(x_all[subset]), views.frozen(y_all[subset]), x_range, y_range)

    def fit_summary(self, params: Params) -> str | None:
        """The current w and b next to the least-squares solution, e.g.
        "w = 2.97357, b = 4.05119 (least squares: w = 2.96881, b = 4.05743)"."""
        params = views.copy_params(params)
        w = params["w"].astype(np.float64)
        b = float(params["b"])
        ls = self._least_squares
        text = (
            f"w = {_numbers(w)}, b = {b:.6g} "
            f"(least squares: w = {_numbers(ls[:-1])}, b = {ls[-1]:.6g}"
        )
        if self.n_features > 1:
            distance = float(np.linalg.norm(np.append(w, b) - ls))
            text += f"; distance {distance:.3g}"
        return text + ")"


class _LineData(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]


def _numbers(values: np.ndarray, shown: int = 4) -> str:
    """One number as itself; several as [a, b, c, d, ...] (the first `shown`)."""
    if len(values) == 1:
        return f"{values[0]:.6g}"
    items = [f"{v:.4g}" for v in values[:shown]]
    if len(values) > shown:
        items.append(f"... {len(values)} values")
    return "[" + ", ".join(items) + "]"


@REGISTRY.register
class Quadratic(Task):
    """f(x) = a x^2 on one scalar parameter, from x0 (the tutorials' NAdam-vs-Adam race)."""

    name = "quadratic"
    summary = "1-D parabola f(x) = a·x² from x0 (the tutorials' Adam vs NAdam race)"
    description = (
        "One scalar parameter x starting at x0; loss a·x², gradient 2a·x, minimum at 0. "
        "Small enough to read every step's numbers."
    )
    records_trajectory = True  # x over time, with its sign (the loss a·x² loses it)
    specs = (
        Hyper("a", 1.0, low=0.0, high=1e6, low_open=True, log=True, help="curvature / 2"),
        Hyper("x0", 2.0, low=-1e6, high=1e6, help="start point"),
    )

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"x": ()}

    def init_params(self, rng: np.random.Generator) -> Params:
        # The start point is the experiment; the rng is not needed.
        return {"x": np.array(self.x0, dtype=self.dtype)}

    def batches(self, rng: np.random.Generator) -> Iterator[None]:
        return itertools.repeat(None)

    def loss_and_grads(
        self, params: Params, batch: Any = None, grads: Params | None = None
    ) -> tuple[float, Params]:
        if grads is None:
            grads = self.new_grads()
        x = params["x"]
        np.multiply(x, 2.0 * self.a, out=grads["x"])
        xf = float(x)
        return self.a * xf * xf, grads

    def evaluate(self, params: Params) -> dict[str, float]:
        xf = float(params["x"])
        return {"loss": self.a * xf * xf}

    def quadratic_loss(self) -> QuadraticLoss | None:
        return QuadraticLoss(np.array([[2.0 * self.a]]), np.zeros(1), 0.0)

    # -- what the model learned --------------------------------------------------------------

    @property
    def model_view_kind(self) -> views.ViewKind | None:
        return "parabola"

    def model_view(
        self,
        params: Params,
        *,
        width: int = views.DEFAULT_WIDTH,
        height: int = views.DEFAULT_HEIGHT,
    ) -> views.ModelView | None:
        """The parabola sampled at `width` points and the current x on it. The x range is
        +-1.2 max(|x0|, |x|): it stays put unless x goes beyond its start."""
        views.check_resolution(width, height)
        x = float(params["x"])
        reach = abs(self.x0)
        if math.isfinite(x):
            reach = max(reach, abs(x))
        reach = 1.2 * reach if reach > 0.0 else 1.0
        xs = views.pixel_centres(-reach, reach, width)
        top = self.a * reach * reach
        loss = self.a * x * x if math.isfinite(x) else math.nan
        return views.ParabolaView(
            title=f"f(x) = {self.a:g} * x^2 and the current x = {x:.6g} "
            f"(f = {loss:.6g}; started at x0 = {self.x0:g})",
            a=self.a,
            x=x,
            loss=loss,
            start=self.x0,
            xs=views.frozen(xs),
            fs=views.frozen(self.a * xs * xs),
            x_range=(-reach, reach),
            y_range=(-0.05 * top, 1.05 * top),
        )
