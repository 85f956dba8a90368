"""Every task's gradient against central finite differences, in float64, for every key.

Parameters are random (the initial ones plus a perturbation, so nothing sits at a special
point such as zero biases), the problems small, and every element of every parameter is
perturbed. The per-key error is the norm-wise relative error ||g - g_fd|| / max(||g||, ||g_fd||).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import tasks

TOLERANCE = 1e-6

# Small sizes so every element can be perturbed; each case: (name, hypers).
CASES = [
    ("linear-regression", {"n_samples": 20, "n_features": 3, "batch_size": 8}),
    ("linear-regression", {"n_samples": 15, "batch_size": "full"}),
    ("quadratic", {"a": 2.5, "x0": -1.3}),
    ("rosenbrock", {}),
    ("beale", {}),
    ("rastrigin", {}),
    ("saddle", {}),
    ("ill-conditioned", {"condition": 50.0}),
    ("ill-conditioned", {"condition": 7.0, "angle": 30.0}),
    ("binary-mlp", {"dataset": "circle", "hidden": 5, "n_samples": 40, "batch_size": 7}),
    ("binary-mlp", {"dataset": "spiral", "hidden": 3, "n_samples": 30, "batch_size": "full"}),
    ("blobs-mlp", {"n_features": 6, "n_classes": 4, "hidden": 5, "n_samples": 40, "batch_size": 9}),
    ("digits-mlp", {"hidden": 6, "batch_size": 5}),
    ("sine-rnn", {"hidden": 4, "window": 7, "batch_size": 5, "n_points": 100}),
    ("sine-rnn", {"hidden": 3, "window": 1, "batch_size": 3, "n_points": 40}),
    ("sparse-logistic", {"n_features": 15, "n_common": 4, "rare_density": 0.2, "batch_size": 9}),
    ("sparse-logistic", {"n_features": 6, "n_common": 6, "n_samples": 12, "batch_size": "full"}),
]


def random_params(task: tasks.Task, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Initial parameters moved to a random point (landscapes: anywhere in the view)."""
    params = task.init_params(rng)
    if task.is_landscape:
        (x0, x1), (y0, y1) = task.bounds
        params["xy"][:] = [rng.uniform(x0, x1), rng.uniform(y0, y1)]
        return params
    # np.array: arithmetic on 0-d arrays returns scalars, which cannot be nudged in place
    return {k: np.array(v + 0.3 * rng.standard_normal(v.shape)) for k, v in params.items()}


def finite_difference(task: tasks.Task, params: dict, batch: object, key: str) -> np.ndarray:
    """Central differences for every element of params[key] (params restored afterwards)."""
    flat = params[key].reshape(-1)  # a view: writes move the parameter
    out = np.empty(flat.size)
    for i in range(flat.size):
        old = flat[i]
        h = 1e-6 * max(1.0, abs(old))
        flat[i] = old + h
        up = task.loss(params, batch)
        hi = flat[i]
        flat[i] = old - h
        down = task.loss(params, batch)
        lo = flat[i]
        flat[i] = old
        out[i] = (up - down) / (hi - lo)  # the step actually taken, after rounding
    return out.reshape(params[key].shape)


def relative_error(g: np.ndarray, g_fd: np.ndarray) -> float:
    scale = max(np.linalg.norm(g), np.linalg.norm(g_fd), 1e-12)
    return float(np.linalg.norm(g - g_fd) / scale)


@pytest.mark.parametrize(
    ("name", "hypers"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_gradients_match_finite_differences(name, hypers):
    task = tasks.create(name, **hypers)
    rng = np.random.default_rng(1234)
    points = 4 if task.is_landscape else 2
    batches = task.batches(rng)
    for _ in range(points):
        params = random_params(task, rng)
        batch = next(batches)
        _, grads = task.loss_and_grads(params, batch)
        assert set(grads) == set(params) == set(task.param_shapes())
        for key in params:
            g_fd = finite_difference(task, params, batch, key)
            assert grads[key].shape == params[key].shape
            err = relative_error(grads[key], g_fd)
            assert err <= TOLERANCE, f"{name} {key}: relative error {err:.2e}"


def test_rnn_gradient_reaches_the_first_step():
    """Backpropagation runs through the whole window, not only the last step.

    Changing only the first input of each window changes the gradient of W_hh; a backward
    pass cut after one step would not see it.
    """
    task = tasks.create("sine-rnn", hidden=4, window=6, batch_size=3, n_points=100)
    rng = np.random.default_rng(0)
    params = random_params(task, rng)
    X, y = next(task.batches(rng))
    _, ga = task.loss_and_grads(params, (X, y))
    X2 = X.copy()
    X2[:, 0] += 0.5
    _, gb = task.loss_and_grads(params, (X2, y))
    assert np.abs(ga["W_hh"] - gb["W_hh"]).max() > 1e-6


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "rastrigin", "saddle", "ill-conditioned"])
def test_gradient_noise_is_the_batch_draw(name):
    """With grad_noise, the gradient is the true one plus the batch's draw; the loss is clean."""
    noisy = tasks.create(name, grad_noise=0.7)
    clean = tasks.create(name)
    rng = np.random.default_rng(5)
    params = noisy.init_params(rng)
    batches = noisy.batches(np.random.default_rng(9))
    draws = np.random.default_rng(9).standard_normal((3, 2)) * 0.7
    for draw in draws:
        batch = next(batches)
        np.testing.assert_allclose(batch, draw, rtol=0, atol=0)
        loss, g = noisy.loss_and_grads(params, batch)
        loss0, g0 = clean.loss_and_grads(params, None)
        assert loss == loss0
        np.testing.assert_allclose(g["xy"], g0["xy"] + draw, rtol=1e-15, atol=1e-15)
