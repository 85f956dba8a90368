"""The task registry and the Task contract: names, knobs, dtypes, batches, buffers, data."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from itertools import islice

import numpy as np
import pytest

from engine import tasks
from engine.hyper import Hyper
from engine.tasks.mlp import DIGITS_CONTENT_SHA256, load_digits

NAMES = [
    "linear-regression",
    "quadratic",
    "rosenbrock",
    "beale",
    "rastrigin",
    "saddle",
    "ill-conditioned",
    "binary-mlp",
    "blobs-mlp",
    "digits-mlp",
    "sine-rnn",
    "sparse-logistic",
]
LANDSCAPES = ["rosenbrock", "beale", "rastrigin", "saddle", "ill-conditioned"]
CLASSIFIERS = ["binary-mlp", "blobs-mlp", "digits-mlp", "sparse-logistic"]

# Small versions of every task (fast to build and step), for the contract tests.
SMALL = {
    "linear-regression": {"n_samples": 30, "n_features": 2, "batch_size": 8},
    "quadratic": {},
    "rosenbrock": {"grad_noise": 0.1},
    "beale": {},
    "rastrigin": {},
    "saddle": {},
    "ill-conditioned": {"angle": 20.0},
    "binary-mlp": {"n_samples": 40, "hidden": 4, "batch_size": 6},
    "blobs-mlp": {"n_samples": 50, "n_features": 5, "hidden": 6, "batch_size": 8},
    "digits-mlp": {"hidden": 8, "batch_size": 32},
    "sine-rnn": {"n_points": 120, "window": 5, "hidden": 4, "batch_size": 7},
    "sparse-logistic": {"n_features": 12, "n_common": 3, "rare_density": 0.1, "n_samples": 40},
}


def flat_views(task: tasks.Task) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One contiguous buffer and per-key views into it (a run's fast-path layout)."""
    shapes = task.param_shapes()
    flat = np.full(sum(int(np.prod(s)) for s in shapes.values()), np.nan, dtype=task.dtype)
    views, offset = {}, 0
    for key, shape in shapes.items():
        size = int(np.prod(shape))
        views[key] = flat[offset : offset + size].reshape(shape)
        offset += size
    return flat, views


def same_batch(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# -- registry ---------------------------------------------------------------------------------


def test_names_are_the_contract():
    assert tasks.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_declarations(name):
    cls = tasks.get(name)
    assert cls.summary and "\n" not in cls.summary and len(cls.summary) <= 90
    assert isinstance(cls.description, str) and cls.description
    assert all(isinstance(h, Hyper) for h in tasks.specs(name))
    assert cls.is_classifier == (name in CLASSIFIERS)
    assert cls.is_landscape == (name in LANDSCAPES)
    assert tasks.summary(name) == cls.summary
    defaults = {h.name: h.default for h in tasks.specs(name)}
    assert tasks.validate(name, {}) == defaults


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match=r"unknown task 'mnist'"):
        tasks.create("mnist")


@pytest.mark.parametrize(
    ("name", "hypers", "field"),
    [
        ("binary-mlp", {"dataset": "moons"}, "dataset"),
        ("binary-mlp", {"hidden": 0}, "hidden"),
        ("binary-mlp", {"noise": 0.9}, "noise"),
        ("binary-mlp", {"batch_size": 251}, "batch_size"),
        ("digits-mlp", {"batch_size": 5000}, "batch_size"),
        ("digits-mlp", {"batch_size": -1}, "batch_size"),
        ("digits-mlp", {"hidden": "many"}, "hidden"),
        ("linear-regression", {"batch_size": 101}, "batch_size"),
        ("linear-regression", {"n_features": 0}, "n_features"),
        ("linear-regression", {"noise": -1}, "noise"),
        ("blobs-mlp", {"n_classes": 1}, "n_classes"),
        ("blobs-mlp", {"noise": "nan"}, "noise"),
        ("quadratic", {"a": 0}, "a"),
        ("rosenbrock", {"grad_noise": -0.1}, "grad_noise"),
        ("rosenbrock", {"x0": 1e9}, "x0"),
        ("ill-conditioned", {"condition": 0.5}, "condition"),
        ("ill-conditioned", {"angle": 120}, "angle"),
        ("sine-rnn", {"window": 500}, "window"),
        ("sine-rnn", {"window": 0}, "window"),
        ("sine-rnn", {"batch_size": 10_000}, "batch_size"),
        ("sine-rnn", {"period": 1}, "period"),
        ("digits-mlp", {"lr": 0.1}, "lr"),
        ("sparse-logistic", {"n_common": 300}, "n_common"),
        ("sparse-logistic", {"rare_density": 0}, "rare_density"),
        ("sparse-logistic", {"common_density": 1.5}, "common_density"),
        ("sparse-logistic", {"batch_size": 5000}, "batch_size"),
    ],
)
def test_bad_knobs_are_named(name, hypers, field):
    with pytest.raises(ValueError, match=rf"^{re.escape(field)} "):
        tasks.create(name, **hypers)


@pytest.mark.parametrize("dtype", ["float16", "int64", "double-ish", None, True])
def test_bad_dtype_is_named(dtype):
    with pytest.raises(ValueError, match=r"^dtype must be one of float64, float32"):
        tasks.create("quadratic", dtype=dtype)


def test_knobs_from_forms_are_typed():
    task = tasks.create("digits-mlp", hidden="16", batch_size="full")
    assert task.hypers == {"hidden": 16, "batch_size": 0}
    assert tasks.create("binary-mlp", dataset="XOR").hypers["dataset"] == "xor"


# -- the Task contract, every task --------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_contract_in_both_dtypes(name, dtype):
    task = tasks.create(name, dtype=dtype, **SMALL[name])
    assert task.dtype == np.dtype(dtype)
    rng = np.random.default_rng(0)
    params = task.init_params(rng)
    shapes = task.param_shapes()
    assert list(params) == list(shapes)
    for key, p in params.items():
        assert p.dtype == task.dtype and p.shape == shapes[key]
    batch = next(task.batches(rng))
    if isinstance(batch, tuple):
        assert batch[0].dtype == task.dtype
    loss, grads = task.loss_and_grads(params, batch)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert list(grads) == list(shapes)
    for key, g in grads.items():
        assert g.dtype == task.dtype and g.shape == shapes[key]
        assert np.all(np.isfinite(g))
    report = task.evaluate(params)
    expected = {"loss", "accuracy"} if task.is_classifier else {"loss"}
    assert set(report) == expected
    assert all(isinstance(v, float) and np.isfinite(v) for v in report.values())
    if task.is_classifier:
        assert 0.0 <= report["accuracy"] <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64(name):
    t64 = tasks.create(name, **SMALL[name])
    t32 = tasks.create(name, dtype="float32", **SMALL[name])
    p64 = t64.init_params(np.random.default_rng(3))
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    # The same parameters (as float32) and the same batch rows.
    b64 = next(t64.batches(np.random.default_rng(4)))
    b32 = next(t32.batches(np.random.default_rng(4)))
    if isinstance(b64, tuple):
        np.testing.assert_allclose(b32[0], b64[0], rtol=1e-6, atol=1e-7)
    l64, g64 = t64.loss_and_grads({k: v.astype(np.float64) for k, v in p32.items()}, b64)
    l32, g32 = t32.loss_and_grads(p32, b32)
    assert l32 == pytest.approx(l64, rel=1e-4, abs=1e-6)
    for key in g64:
        scale = max(np.abs(g64[key]).max(), 1e-3)
        assert np.abs(g32[key] - g64[key]).max() <= 1e-3 * scale, key


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_params_and_batches(name):
    def draw(seed: int):
        task = tasks.create(name, **SMALL[name])
        rng = np.random.default_rng(seed)
        params = task.init_params(rng)
        return params, list(islice(task.batches(rng), 25))  # several epochs for small sets

    params_a, batches_a = draw(7)
    params_b, batches_b = draw(7)
    for key in params_a:
        np.testing.assert_array_equal(params_a[key], params_b[key])
    assert all(same_batch(a, b) for a, b in zip(batches_a, batches_b, strict=True))
    if name in ("quadratic", "beale", "rastrigin", "saddle", "ill-conditioned"):
        return  # nothing random in these: fixed start, exact gradient
    params_c, batches_c = draw(8)
    differs = any(not np.array_equal(params_a[k], params_c[k]) for k in params_a)
    differs |= not all(same_batch(a, c) for a, c in zip(batches_a, batches_c, strict=True))
    assert differs


@pytest.mark.parametrize(
    "name", ["linear-regression", "binary-mlp", "blobs-mlp", "sine-rnn", "sparse-logistic"]
)
def test_data_comes_from_data_seed_not_the_run_seed(name):
    a = tasks.create(name, **SMALL[name])
    b = tasks.create(name, **SMALL[name])
    c = tasks.create(name, data_seed=1, **SMALL[name])
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize(
    "name", ["linear-regression", "binary-mlp", "blobs-mlp", "sine-rnn", "sparse-logistic"]
)
def test_held_out_data_is_not_the_training_data(name):
    task = tasks.create(name, **SMALL[name])
    assert not np.array_equal(task.X[: len(task.X_test)], task.X_test[: len(task.X)])


def test_an_epoch_visits_every_training_row_once():
    task = tasks.create("linear-regression", n_samples=30, batch_size=8)
    batches = task.batches(np.random.default_rng(0))
    epoch = list(islice(batches, 4))  # 8 + 8 + 8 + 6
    assert [len(b[1]) for b in epoch] == [8, 8, 8, 6]
    seen = np.concatenate([b[1] for b in epoch])
    np.testing.assert_array_equal(np.sort(seen), np.sort(task.y))
    second = np.concatenate([b[1] for b in islice(batches, 4)])
    assert not np.array_equal(seen, second)  # a fresh permutation each epoch
    np.testing.assert_array_equal(np.sort(second), np.sort(task.y))


def test_full_batch_yields_the_whole_training_set():
    task = tasks.create("digits-mlp", batch_size="full")
    batches = task.batches(np.random.default_rng(0))
    first, second = next(batches), next(batches)
    assert first[0].shape == (1438, 64)
    assert first[0] is second[0] and first[0] is task.X  # no copying per step


@pytest.mark.parametrize("name", NAMES)
def test_preallocated_grads_are_written_in_place(name):
    task = tasks.create(name, **SMALL[name])
    rng = np.random.default_rng(1)
    params = task.init_params(rng)
    batches = task.batches(rng)
    batch = next(batches)
    loss, expected = task.loss_and_grads(params, batch)
    flat, views = flat_views(task)
    ids = {k: id(v) for k, v in views.items()}
    loss2, got = task.loss_and_grads(params, batch, views)
    assert got is views and {k: id(v) for k, v in got.items()} == ids
    assert loss2 == loss
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    assert np.all(np.isfinite(flat))  # every element of the flat buffer was written


@pytest.mark.parametrize("name", NAMES)
def test_returned_grads_are_not_reused_buffers(name):
    """With grads=None the caller owns the result: later calls must not overwrite it."""
    task = tasks.create(name, **SMALL[name])
    rng = np.random.default_rng(2)
    params = task.init_params(rng)
    batches = task.batches(rng)
    b1 = next(batches)
    _, g1 = task.loss_and_grads(params, b1)
    kept = {k: v.copy() for k, v in g1.items()}
    for batch in islice(batches, 6):  # includes a short last batch for the small data sets
        task.loss_and_grads(params, batch)
    for key in kept:
        np.testing.assert_array_equal(g1[key], kept[key])
    _, g_again = task.loss_and_grads(params, b1)
    for key in kept:
        np.testing.assert_array_equal(g_again[key], kept[key])


def test_zero_dim_parameters_keep_their_shape():
    task = tasks.create("quadratic", a=3.0, x0=-2.0)
    params = task.init_params(np.random.default_rng(0))
    assert params["x"].shape == ()
    loss, grads = task.loss_and_grads(params, None)
    assert loss == 12.0 and float(grads["x"]) == -12.0
    lr_task = tasks.create("linear-regression")
    assert lr_task.init_params(np.random.default_rng(0))["b"].shape == ()


# -- landscapes -------------------------------------------------------------------------------

MINIMUM_VALUE = {
    "rosenbrock": 0.0,
    "beale": 0.0,
    "rastrigin": 0.0,
    "saddle": -0.25,
    "ill-conditioned": 0.0,
}


@pytest.mark.parametrize("name", LANDSCAPES)
def test_landscape_minimum_start_and_bounds(name):
    task = tasks.create(name, angle=35.0) if name == "ill-conditioned" else tasks.create(name)
    params = task.init_params(np.random.default_rng(0))
    assert list(params) == ["xy"] and params["xy"].shape == (2,)
    np.testing.assert_array_equal(params["xy"], task.start)
    (xmin, xmax), (ymin, ymax) = task.bounds
    assert xmin < task.start[0] < xmax and ymin < task.start[1] < ymax
    assert xmin < task.minimum[0] < xmax and ymin < task.minimum[1] < ymax
    at_min = {"xy": np.array(task.minimum)}
    loss, grads = task.loss_and_grads(at_min, None)
    assert loss == pytest.approx(MINIMUM_VALUE[name], abs=1e-12)
    np.testing.assert_allclose(grads["xy"], 0.0, atol=1e-12)
    # No grid point in the view is lower than the minimum.
    xs = np.linspace(xmin, xmax, 201)
    ys = np.linspace(ymin, ymax, 151)
    grid = task.surface(xs, ys)
    assert grid.min() >= MINIMUM_VALUE[name] - 1e-12


@pytest.mark.parametrize("name", LANDSCAPES)
def test_surface_is_the_loss_on_the_grid(name):
    task = tasks.create(name, condition=30.0) if name == "ill-conditioned" else tasks.create(name)
    xs = np.linspace(*task.bounds[0], 7)
    ys = np.linspace(*task.bounds[1], 5)
    grid = task.surface(xs, ys)
    assert grid.shape == (5, 7) and grid.dtype == np.float64
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            loss, _ = task.loss_and_grads({"xy": np.array([x, y])}, None)
            assert grid[i, j] == pytest.approx(loss, rel=1e-12, abs=1e-12)


def test_saddle_has_a_saddle_and_two_minima():
    task = tasks.create("saddle")
    assert task.saddle_point == (0.0, 0.0)
    _, g = task.loss_and_grads({"xy": np.array([0.0, 0.0])}, None)
    np.testing.assert_array_equal(g["xy"], [0.0, 0.0])
    assert task.minimum == (0.0, 1.0)
    assert tasks.create("saddle", y0=-0.01).minimum == (0.0, -1.0)
    # Along y the origin is a maximum, along x a minimum.
    assert task.value(0.0, 0.1) < task.value(0.0, 0.0) < task.value(0.1, 0.0)


def test_ill_conditioned_curvatures_are_1_and_kappa():
    task = tasks.create("ill-conditioned", condition=100.0, angle=30.0)
    # The Hessian of 0.5 (u^2 + kappa v^2) in (x, y) has eigenvalues 1 and kappa.
    h = 1e-4
    hess = np.empty((2, 2))
    for j, e in enumerate(np.eye(2)):
        _, gp = task.loss_and_grads({"xy": 0.3 + h * e}, None)
        _, gm = task.loss_and_grads({"xy": 0.3 - h * e}, None)
        hess[:, j] = (gp["xy"] - gm["xy"]) / (2 * h)
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), [1.0, 100.0], rtol=1e-8)


@pytest.mark.parametrize("name", LANDSCAPES)
def test_non_finite_position_gives_nan_not_an_exception(name):
    task = tasks.create(name)
    for bad in ([np.inf, 0.0], [np.nan, 1.0]):
        loss, grads = task.loss_and_grads({"xy": np.array(bad)}, None)
        assert np.isnan(loss) and np.all(np.isnan(grads["xy"]))
    loss, _ = task.loss_and_grads({"xy": np.array([1e200, 1e200])}, None)
    assert not np.isfinite(loss) or loss > 1e300  # overflow is inf, not OverflowError


def test_landscape_noise_stream_is_repeatable():
    task = tasks.create("rastrigin", grad_noise=2.0)
    a = list(islice(task.batches(np.random.default_rng(3)), 2000))
    b = list(islice(task.batches(np.random.default_rng(3)), 2000))
    assert a == b
    draws = np.array(a)
    assert draws.std() == pytest.approx(2.0, rel=0.05)
    assert next(tasks.create("rastrigin").batches(np.random.default_rng(3))) is None


# -- data -------------------------------------------------------------------------------------


def test_digits_data_matches_its_provenance():
    images, labels, is_test = load_digits()
    assert images.shape == (1797, 64) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    assert digest == DIGITS_CONTENT_SHA256
    provenance = (resources.files("engine") / "data" / "PROVENANCE.md").read_text()
    assert DIGITS_CONTENT_SHA256 in provenance
    # The fixed, stratified 80/20 split: 359 test images, 35 to 37 of each digit.
    assert int(is_test.sum()) == 359
    assert set(np.bincount(labels[is_test]).tolist()) <= {35, 36, 37}
    split_digest = hashlib.sha256(is_test.tobytes()).hexdigest()
    assert split_digest in provenance
    npz = resources.files("engine") / "data" / "digits.npz"
    assert 10_000 < len(npz.read_bytes()) < 100_000  # tens of KB


def test_digits_task_scales_pixels_and_splits():
    task = tasks.create("digits-mlp")
    assert task.X.shape == (1438, 64) and task.X_test.shape == (359, 64)
    assert task.X.min() == 0.0 and task.X.max() == 1.0
    assert task.Y.shape == (1438, 10) and np.all(task.Y.sum(axis=1) == 1.0)
    assert task.n_out == 10 and task.hidden == 128 and task.batch_size == 32


def test_linear_regression_truth():
    task = tasks.create("linear-regression", n_features=3, noise=0.0, n_samples=50)
    np.testing.assert_allclose(task.true_weights, [3.0, -1.5, 0.75])
    assert task.true_bias == 4.0
    assert task.X.min() >= 0.0 and task.X.max() <= 2.0
    w, b = task.solution()
    np.testing.assert_allclose(w, [3.0, -1.5, 0.75], atol=1e-10)
    assert b == pytest.approx(4.0, abs=1e-10)
    params = {"w": np.array([3.0, -1.5, 0.75]), "b": np.array(4.0)}
    loss, _ = task.loss_and_grads(params, (task.X, task.y))
    assert loss == pytest.approx(0.0, abs=1e-24)
    assert task.evaluate(params)["loss"] == pytest.approx(0.0, abs=1e-24)


def test_binary_datasets_like_playground():
    circle = tasks.create("binary-mlp", dataset="circle", n_samples=200)
    r = np.hypot(circle.X[:, 0], circle.X[:, 1])
    np.testing.assert_array_equal(circle.labels, (r < 2.5).astype(int))  # noise 0: by radius
    assert r.max() <= 5.0 and not np.any((r > 2.5) & (r < 3.5))
    xor = tasks.create("binary-mlp", dataset="xor", n_samples=200)
    np.testing.assert_array_equal(xor.labels, (xor.X[:, 0] * xor.X[:, 1] >= 0).astype(int))
    assert np.abs(xor.X).min() >= 0.3
    for dataset in ("circle", "xor", "spiral", "gauss"):
        task = tasks.create("binary-mlp", dataset=dataset, noise=0.2, n_samples=200)
        both = np.concatenate([task.labels, task.labels_test])
        assert set(both.tolist()) == {0, 1}
        assert abs(both.mean() - 0.5) < 0.15
        assert task.X.shape == (200, 2) and task.X_test.shape == (200, 2)


def test_blobs_are_balanced_and_centred():
    task = tasks.create("blobs-mlp", noise=0.0)
    assert task.X.shape == (1000, 20) and task.Y.shape == (1000, 3)
    counts = np.bincount(task.labels)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(task.X, task.centers[task.labels])


def test_sine_windows_predict_the_next_value():
    task = tasks.create("sine-rnn", window=10, n_points=500)
    n_train = 400
    assert task.X.shape == (n_train - 10, 10) and task.y.shape == (n_train - 10, 1)
    np.testing.assert_array_equal(task.X[1:, :-1], task.X[:-1, 1:])
    np.testing.assert_array_equal(task.y[:-1, 0], task.X[1:, -1])
    np.testing.assert_array_equal(task.X_test[0], task.series[n_train : n_train + 10])
    # Min-max scaled with the training part's range.
    assert task.series[:n_train].min() == 0.0 and task.series[:n_train].max() == 1.0


def test_sparse_features_have_the_declared_frequencies():
    task = tasks.create("sparse-logistic")  # 10 common features at 0.5, 190 rare at 0.01
    freq = task.X.mean(axis=0)
    assert task.X.shape == (4000, 200) and set(np.unique(task.X)) == {0.0, 1.0}
    assert np.abs(freq[:10] - 0.5).max() < 0.05
    assert np.abs(freq[10:].mean() - 0.01) < 0.002
    # Rare but present: every rare feature occurs in the training set, a few dozen times.
    counts = task.X[:, 10:].sum(axis=0)
    assert counts.min() >= 10 and counts.max() <= 80
    # The logits are centred: both classes are common.
    assert 0.4 < task.y.mean() < 0.6
    # The true model is the best there is: its held-out loss is below the start's (ln 2).
    zeros = task.init_params(np.random.default_rng(0))
    assert task.evaluate(zeros)["loss"] == pytest.approx(np.log(2.0))
    assert task.bayes_loss() < 0.8 * np.log(2.0)
