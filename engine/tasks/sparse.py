"""Logistic regression on sparse 0/1 features: a few common ones and a long tail of rare ones.

The setting the AdaGrad paper was written for (bag-of-words text, click logs): most features
are zero in most samples, and some of the rare ones are the informative ones. Feature j is 1
with probability `common_density` for the first `n_common` features and `rare_density` for
the others, independently per sample; otherwise 0. Labels are drawn from the model itself,

    y ~ Bernoulli(sigmoid(x · w* + b*)),   w*_j ~ N(0, 1) for common features, N(0, 3²) for rare

with b* centring the logits so both classes are about equally frequent. The rare features get
the larger true weights: each is seen in few samples, but where it is seen it decides the
label, which is what makes the tail worth learning. Being drawn from the model, the labels
are noisy; the best achievable loss is the labels' entropy under w*, `bayes_loss()`.

Loss: mean binary cross-entropy of the logits z = x · w + b (softplus(z) − y·z, stable for any
z); gradients X^T (sigmoid(z) − y) / m and mean(sigmoid(z) − y). A held-out set of the same size
(fresh draws from the same distribution) is what `evaluate` scores (loss and accuracy).

Why it matters for optimizers: a rare feature's gradient is nonzero only in the batches that
contain it, so its average gradient is about `rare_density` times a common feature's. One
learning rate for all coordinates is either too small for the tail or too large for the head;
per-coordinate methods (AdaGrad, RMSprop, Adam) scale each coordinate by its own history.
"""

from __future__ import annotations

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
    eval_chunks,
)

#: Standard deviation of the true weights of common and of rare features.
COMMON_WEIGHT_STD = 1.0
RARE_WEIGHT_STD = 3.0


def _density(name: str, default: float, help: str) -> Hyper:
    return Hyper(name, default, low=0.0, high=1.0, low_open=True, log=True, help=help)


@REGISTRY.register
class SparseLogistic(Task):
    """Logistic regression on 0/1 features: `n_common` frequent ones, the rest rare."""

    name = "sparse-logistic"
    summary = "logistic regression on sparse 0/1 features: a few common, many rare (AdaGrad)"
    description = (
        "Each sample has 0/1 features: the first n_common are 1 with probability "
        "common_density, the rest with rare_density. Labels come from a logistic model whose "
        "rare features carry the larger weights. Loss: binary cross-entropy."
    )
    is_classifier = True
    size_knob = "n_features"
    specs = (
        Hyper("n_features", 200, kind="int", low=1, high=100_000, help="features per sample"),
        Hyper("n_common", 10, kind="int", low=0, high=100_000, help="how many are common"),
        _density("common_density", 0.5, "probability that a common feature is 1"),
        _density("rare_density", 0.01, "probability that a rare feature is 1"),
        Hyper("n_samples", 4000, kind="int", low=2, high=1_000_000, help="training samples"),
        batch_size_hyper(32),
        DATA_SEED,
    )

    @classmethod
    def check(cls, values: dict[str, Any]) -> None:
        if values["n_common"] > values["n_features"]:
            raise ValueError(
                f"n_common must be at most n_features ({values['n_features']}), "
                f"got {values['n_common']}"
            )
        check_batch_size(values, values["n_samples"])
        n, f = values["n_samples"], values["n_features"]
        check_elements("n_samples", f"n_samples × n_features = {n} × {f}", n * f)

    def __init__(
        self,
        dtype: Any = "float64",
        *,
        n_features: int,
        n_common: int,
        common_density: float,
        rare_density: float,
        n_samples: int,
        batch_size: int,
        data_seed: int,
    ) -> None:
        super().__init__(
            dtype,
            n_features=n_features,
            n_common=n_common,
            common_density=common_density,
            rare_density=rare_density,
            n_samples=n_samples,
            batch_size=batch_size,
            data_seed=data_seed,
        )
        rng = np.random.default_rng(data_seed)
        #: Probability that each feature is 1.
        self.density = np.full(n_features, rare_density)
        self.density[:n_common] = common_density
        std = np.full(n_features, RARE_WEIGHT_STD)
        std[:n_common] = COMMON_WEIGHT_STD
        self.true_weights = std * rng.standard_normal(n_features)
        # Centre the logits: E[x · w*] = Σ density_j w*_j.
        self.true_bias = -float(self.density @ self.true_weights)

        def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
            X = (rng.random((n, n_features)) < self.density).astype(np.float64)
            z = X @ self.true_weights + self.true_bias
            y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
            return X, y

        X, y = draw(n_samples)
        X_test, y_test = draw(n_samples)
        self.X, self.y = X.astype(self.dtype), y.astype(self.dtype)
        self.X_test, self.y_test = X_test.astype(self.dtype), y_test.astype(self.dtype)
        self.batch_size = batch_size

    # -- Task protocol ----------------------------------------------------------------------

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"w": (self.n_features,), "b": ()}

    def init_params(self, rng: np.random.Generator) -> Params:
        """Zero weights and bias: the usual start of a linear model (predicts 1/2 everywhere).
        The rng is not needed."""
        return {"w": np.zeros(self.n_features, self.dtype), "b": np.zeros((), self.dtype)}

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, ...]]:
        return epoch_batches(rng, (self.X, self.y), self.batch_size)

    def loss_and_grads(
        self, params: Params, batch: tuple[np.ndarray, np.ndarray], grads: Params | None = None
    ) -> tuple[float, Params]:
        X, y = batch
        m = X.shape[0]
        if grads is None:
            grads = self.new_grads()
        z = X @ params["w"]
        z += params["b"]
        loss = _cross_entropy(z, y) / m
        # dLoss/dz = (sigmoid(z) - y) / m, with sigmoid(z) = (1 + tanh(z/2)) / 2 (no overflow).
        z *= 0.5
        np.tanh(z, out=z)
        z += 1.0
        z *= 0.5
        z -= y
        z *= 1.0 / m
        np.matmul(z, X, out=grads["w"])
        grads["b"][...] = z.sum()
        return loss, grads

    def evaluate(self, params: Params) -> dict[str, float]:
        """Mean cross-entropy and accuracy on the held-out set (in row blocks)."""
        n = len(self.X_test)
        loss_sum = 0.0
        correct = 0
        for rows in eval_chunks(n, self.n_features):
            z = self.X_test[rows] @ params["w"] + params["b"]
            y = self.y_test[rows]
            loss_sum += _cross_entropy(z, y)
            correct += int(np.count_nonzero((z > 0) == (y > 0.5)))
        return {"loss": loss_sum / n, "accuracy": correct / n}

    def bayes_loss(self) -> float:
        """The held-out cross-entropy of the true model (w*, b*): the floor of `evaluate`."""
        z = self.X_test.astype(np.float64) @ self.true_weights + self.true_bias
        return _cross_entropy(z, self.y_test.astype(np.float64)) / len(z)

    def noise_floor(self) -> float:
        """The floor of the held-out loss: `bayes_loss()` (the labels are noisy)."""
        return self.bayes_loss()


def _cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """Σ BCE(z, y) = Σ softplus(z) − y·z, stable for any logit."""
    return float(np.logaddexp(0.0, z).sum()) - float(np.vdot(z, y))
