"""The tutorials' smallest problems: a noisy straight line and a 1-D parabola."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.hyper import Hyper
from engine.tasks.base import (
    DATA_SEED,
    REGISTRY,
    Params,
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

    def solution(self) -> tuple[np.ndarray, float]:
        """The exact least-squares (w, b) on the training set, in float64."""
        A = np.column_stack([self.X.astype(np.float64), np.ones(len(self.X))])
        coef = np.linalg.lstsq(A, self.y.astype(np.float64), rcond=None)[0]
        return coef[:-1], float(coef[-1])


@REGISTRY.register
class Quadratic(Task):
    """f(x) = a x^2 on one scalar parameter, from x0 (the tutorials' NAdam-vs-Adam race)."""

    name = "quadratic"
    summary = "1-D parabola f(x) = a·x² from x0 (the tutorials' Adam vs NAdam race)"
    description = (
        "One scalar parameter x starting at x0; loss a·x², gradient 2a·x, minimum at 0. "
        "Small enough to read every step's numbers."
    )
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
