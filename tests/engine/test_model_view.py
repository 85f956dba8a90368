"""What the model learned: every task's `model_view` against the numbers it pictures.

Decision regions agree with the network's predictions at the data points, the confusion matrix
with `evaluate`'s accuracy, the least-squares line with numpy.linalg.lstsq and the RNN's
sequence with its forward pass. Views are read-only, deterministic, leave params alone and
cost the same whatever the data size.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import tasks
from engine.run import Run, RunConfig
from engine.tasks import views

KINDS = {
    "linear-regression": "line",
    "quadratic": "parabola",
    "rosenbrock": None,
    "beale": None,
    "rastrigin": None,
    "saddle": None,
    "ill-conditioned": None,
    "binary-mlp": "regions",
    "blobs-mlp": "regions",
    "digits-mlp": "confusion",
    "sine-rnn": "sequence",
}
VIEW_CLASSES = {
    "regions": views.DecisionRegions,
    "line": views.LineFit,
    "weights": views.WeightsFit,
    "parabola": views.ParabolaView,
    "confusion": views.ConfusionView,
    "sequence": views.SequenceView,
}


def trained(task: str, steps: int, lr: float, **task_hypers) -> Run:
    """A run of `task` trained `steps` Adam steps (seed 0): mid-training params."""
    run = Run(
        RunConfig(task=task, optimizer="adam", optimizer_hypers={"lr": lr}, task_hypers=task_hypers)
    )
    run.step(steps)
    return run


def fresh(name: str, dtype: str = "float64", **knobs):
    task = tasks.create(name, dtype=dtype, **knobs)
    return task, task.init_params(np.random.default_rng(1))


def arrays_of(view: object) -> dict[str, np.ndarray]:
    """Every array in a view, nested dataclasses included, by dotted name."""
    out: dict[str, np.ndarray] = {}
    for key, value in vars(view).items():
        if isinstance(value, np.ndarray):
            out[key] = value
        elif hasattr(value, "__dataclass_fields__"):
            out.update({f"{key}.{k}": v for k, v in arrays_of(value).items()})
    return out


# -- every task ------------------------------------------------------------------------------


def test_every_task_declares_its_view_kind():
    declared = {name: tasks.create(name).model_view_kind for name in tasks.names()}
    assert {name: declared[name] for name in KINDS} == KINDS
    assert all(kind is None or kind in VIEW_CLASSES for kind in declared.values())
    assert tasks.create("linear-regression", n_features=3).model_view_kind == "weights"


@pytest.mark.parametrize("name", tasks.names())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_view_is_its_declared_kind_frozen_deterministic_and_leaves_params_alone(name, dtype):
    task, params = fresh(name, dtype)
    before = {k: v.copy() for k, v in params.items()}
    view = task.model_view(params, width=40, height=24)
    kind = task.model_view_kind
    assert task.has_model_view == (kind is not None)
    if kind is None:
        assert view is None
        return
    assert isinstance(view, VIEW_CLASSES[kind]) and view.kind == kind
    # A title that says what is drawn, on one ASCII line (readable in any terminal).
    assert view.title and "\n" not in view.title and view.title.isascii()
    for key, value in params.items():
        assert np.array_equal(value, before[key]) and value.dtype == before[key].dtype
    again = task.model_view(params, width=40, height=24)
    arrays = arrays_of(view)
    assert arrays
    for key, a in arrays.items():
        assert not a.flags.writeable, key
        assert a.dtype in (np.float64, np.intp, np.int64), key
        assert np.array_equal(a, arrays_of(again)[key], equal_nan=True), key
    assert view.title == again.title


@pytest.mark.parametrize("bad", [0, -3, 5000, 2.5, "80", True, None])
def test_a_bad_resolution_is_named(bad):
    task, params = fresh("binary-mlp")
    with pytest.raises(ValueError, match=r"^width must be an integer in \[1, 2048\], got"):
        task.model_view(params, width=bad)
    with pytest.raises(ValueError, match=r"^height must be an integer in \[1, 2048\], got"):
        task.model_view(params, height=bad)


def test_landscapes_have_no_model_view_but_a_trajectory():
    task, params = fresh("rosenbrock")
    assert task.model_view(params) is None and not task.has_model_view
    assert task.fit_summary(params) is None


# -- decision regions --------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["circle", "xor", "spiral", "gauss"])
def test_decision_regions_agree_with_the_network_at_the_data_points(dataset):
    run = trained("binary-mlp", 400, 0.03, dataset=dataset, noise=0.1)
    task, params = run.task, run.params
    view = task.model_view(params, width=120, height=80)
    assert view.probabilities.shape == (80, 120, 2) and view.class_names == ("0", "1")
    # Every point is drawn (250 each), so the test accuracy is evaluate's.
    assert len(view.train.points) == view.train.total == len(task.X)
    assert view.test.accuracy == task.evaluate(params)["accuracy"]
    assert np.array_equal(view.train.labels, task.labels)
    assert np.array_equal(view.train.points, task.X)  # 2-D data: the plane is the input
    # The function the grid samples, at the data points, is the network's prediction.
    for points, X in ((view.train, task.X), (view.test, task.X_test)):
        on_grid_fn = task.region_probabilities(params, points.points).argmax(axis=1)
        assert np.array_equal(on_grid_fn, points.predicted)
        assert np.array_equal(points.predicted, task.predicted_classes(params, X))
    assert view.plane_agreement == 1.0
    # The grid: pixel (r, c) is the function at (xs[c], ys[r]); row 0 is the top.
    assert np.all(np.diff(view.xs) > 0) and np.all(np.diff(view.ys) < 0)
    r, c = np.meshgrid(np.arange(80), np.arange(120), indexing="ij")
    centres = np.column_stack([view.xs[c.ravel()], view.ys[r.ravel()]])
    at_centres = task.region_probabilities(params, centres)
    np.testing.assert_allclose(view.probabilities.reshape(-1, 2), at_centres, rtol=0, atol=1e-12)
    np.testing.assert_allclose(view.probabilities.sum(axis=2), 1.0, atol=1e-12)
    assert np.array_equal(view.region, view.probabilities.argmax(axis=2))
    assert np.all(view.confidence >= 0.5) and np.all(view.confidence <= 1.0)
    # Drawn where they are: the region under each point's pixel is (nearly always) its
    # predicted class. A grid flipped upside down or transposed fails this.
    (x0, x1), (y0, y1) = view.x_range, view.y_range
    everything = np.vstack([task.X, task.X_test])
    assert np.all((x0 < everything[:, 0]) & (everything[:, 0] < x1))
    assert np.all((y0 < everything[:, 1]) & (everything[:, 1] < y1))
    rows, cols = view.pixel_of(view.train.points)
    assert np.mean(view.region[rows, cols] == view.train.predicted) > 0.95


def test_misclassified_points_are_marked():
    run = trained("binary-mlp", 60, 0.01, dataset="spiral")  # early: many mistakes
    view = run.task.model_view(run.params)
    wrong = view.test.wrong
    assert 0 < wrong.sum() < len(wrong)
    assert np.array_equal(wrong, view.test.predicted != run.task.labels_test)
    assert view.test.accuracy == 1.0 - wrong.mean()


def test_blobs_are_drawn_on_their_first_two_principal_components():
    run = trained("blobs-mlp", 300, 0.01)  # 3 classes, 20 features
    task, params = run.task, run.params
    view = task.model_view(params, width=80, height=48)
    assert view.probabilities.shape == (48, 80, 3) and view.class_names == ("0", "1", "2")
    assert "principal components" in view.title and "projected" in view.title
    proj = view.projection
    assert proj.method == "pca" and view.axis_labels == ("PC1", "PC2")
    # The PCA of the training data (all 1,000 rows), up to each component's sign.
    centred = task.X - task.X.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(proj.mean, task.X.mean(axis=0), atol=1e-12)
    for k in range(2):
        np.testing.assert_allclose(abs(proj.components[k] @ vt[k]), 1.0, atol=1e-9)
    assert proj.explained == pytest.approx(tuple(s[:2] ** 2 / (s**2).sum()), rel=1e-9)
    np.testing.assert_allclose(view.train.points, centred @ proj.components.T, atol=1e-9)
    # The regions are the network on the plane: the same as the full network at the points
    # of the plane.
    uv = view.train.points[:50]
    Z = task.logits(params, proj.from_plane(uv))
    softmax = np.exp(Z - Z.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(task.region_probabilities(params, uv), softmax, atol=1e-12)
    # Points are coloured by the network's answer on the full 20-D input, as evaluate scores.
    assert view.test.accuracy == task.evaluate(params)["accuracy"]
    on_plane = task.region_probabilities(params, view.train.points).argmax(axis=1)
    assert view.plane_agreement == np.mean(on_plane == view.train.predicted)


def test_blobs_with_two_features_use_them_as_axes():
    task, params = fresh("blobs-mlp", n_features=2, n_classes=4)
    view = task.model_view(params)
    assert view.projection.method == "features" and view.axis_labels == ("x1", "x2")
    assert np.array_equal(view.train.points, task.X) and view.plane_agreement == 1.0
    assert view.n_classes == 4 == view.probabilities.shape[2]


def test_one_feature_blobs_lie_on_a_line():
    task, params = fresh("blobs-mlp", n_features=1)
    view = task.model_view(params, width=30, height=10)
    assert np.all(view.train.points[:, 1] == 0.0)
    assert view.plane_agreement == 1.0 and "y unused" in view.title
    assert np.array_equal(view.region[0], view.region[-1])  # nothing depends on y


def test_large_sets_are_drawn_by_a_bounded_subset():
    task, params = fresh("binary-mlp", n_samples=5000)
    view = task.model_view(params)
    assert len(view.train.points) == views.MAX_POINTS and view.train.total == 5000
    assert "2,000 of 5,000 training points" in view.title
    assert len(np.unique(view.train.points, axis=0)) == views.MAX_POINTS


def test_wide_inputs_draw_fewer_points_within_the_budget():
    task, params = fresh("blobs-mlp", n_features=1000, n_samples=3000, hidden=16)
    view = task.model_view(params, width=20, height=10)
    per_point = 1000 * 16 + 16 * 3
    n = len(view.train.points)
    assert n == len(view.test.points) == views.POINT_BUDGET // (2 * per_point) < 3000
    assert f"{n:,} of 3,000 training points (evenly spaced)" in view.title


def test_randomized_pca_finds_the_exact_components():
    # The path taken for large data (rows x features x min(...) above EXACT_PCA_FLOPS).
    rng = np.random.default_rng(4)
    centres = rng.uniform(-2, 2, (3, 300))
    X = centres[rng.integers(0, 3, 400)] + rng.standard_normal((400, 300))
    A = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    s2, vt2 = views._randomized_top_singular(A, 2)
    np.testing.assert_allclose(s2, s[:2], rtol=1e-9)
    for k in range(2):
        assert abs(vt2[k] @ vt[k]) == pytest.approx(1.0, abs=1e-9)


# -- digits -----------------------------------------------------------------------------------


def test_confusion_matrix_matches_evaluate():
    run = trained("digits-mlp", 150, 3e-3, hidden=32)
    task, params = run.task, run.params
    view = task.model_view(params)
    n = len(task.X_test)
    assert view.matrix.shape == (10, 10) and view.matrix.sum() == n == view.n_test == 359
    assert np.array_equal(view.matrix.sum(axis=1), np.bincount(task.labels_test, minlength=10))
    accuracy = task.evaluate(params)["accuracy"]
    assert view.accuracy == accuracy == np.trace(view.matrix) / n
    assert view.n_misclassified == n - np.trace(view.matrix)
    assert f"accuracy {accuracy:.1%}" in view.title
    # The strip: misclassified test images in test-set order, with both labels.
    k = len(view.images)
    assert k == min(view.n_misclassified, views.MAX_DIGITS) > 0
    assert np.all(np.diff(view.test_index) > 0)
    assert np.array_equal(view.images, task.X_test[view.test_index].reshape(k, 8, 8))
    assert np.array_equal(view.true_labels, task.labels_test[view.test_index])
    predicted = task.predicted_classes(params, task.X_test)
    assert np.array_equal(view.predicted_labels, predicted[view.test_index])
    assert np.all(view.predicted_labels != view.true_labels)
    assert view.images.min() >= 0.0 and view.images.max() <= 1.0


def test_an_untrained_digit_net_lists_at_most_the_cap():
    task, params = fresh("digits-mlp", hidden=8)
    view = task.model_view(params)
    assert view.n_misclassified > views.MAX_DIGITS == len(view.images)
    assert f"the first {views.MAX_DIGITS} of {view.n_misclassified} misclassified" in view.title


# -- linear regression and the parabola ------------------------------------------------------


def test_least_squares_line_equals_numpy_lstsq():
    run = trained("linear-regression", 200, 0.05)
    task, params = run.task, run.params
    view = task.model_view(params)
    A = np.column_stack([task.X[:, 0], np.ones(len(task.X))])
    (slope, intercept), *_ = np.linalg.lstsq(A, task.y, rcond=None)
    assert view.least_squares.slope == pytest.approx(slope, rel=1e-12)
    assert view.least_squares.intercept == pytest.approx(intercept, rel=1e-12)
    assert (view.current.slope, view.current.intercept) == (params["w"][0], params["b"])
    assert (view.true.slope, view.true.intercept) == (3.0, 4.0)
    assert np.array_equal(view.x, task.X[:, 0]) and np.array_equal(view.y, task.y)
    assert view.current.at(2.0) == params["w"][0] * 2.0 + params["b"]
    (x0, x1), (y0, y1) = view.x_range, view.y_range
    assert x0 < view.x.min() and view.x.max() < x1 and y0 < view.y.min() and view.y.max() < y1
    assert y0 < view.least_squares.at(x0) < y1 and y0 < view.true.at(x1) < y1


def test_several_features_compare_coefficients():
    task, params = fresh("linear-regression", n_features=3, n_samples=50)
    view = task.model_view(params)
    assert view.kind == "weights" and view.names == ("w1", "w2", "w3", "b")
    A = np.column_stack([task.X, np.ones(50)])
    np.testing.assert_allclose(
        view.least_squares, np.linalg.lstsq(A, task.y, rcond=None)[0], rtol=1e-12
    )
    assert np.array_equal(view.current, [*params["w"], params["b"]])
    assert np.array_equal(view.true, [3.0, -1.5, 0.75, 4.0])
    assert view.distance_to_least_squares == pytest.approx(
        np.linalg.norm(view.current - view.least_squares)
    )


def test_fit_summary_puts_w_and_b_next_to_least_squares():
    task = tasks.create("linear-regression")
    w_ls, b_ls = task.solution()
    params = {"w": np.array([2.5]), "b": np.array(4.25)}
    assert task.fit_summary(params) == (
        f"w = 2.5, b = 4.25 (least squares: w = {w_ls[0]:.6g}, b = {b_ls:.6g})"
    )
    several = tasks.create("linear-regression", n_features=6)
    text = several.fit_summary({"w": np.arange(6.0), "b": np.array(1.0)})
    assert text.startswith("w = [0, 1, 2, 3, ... 6 values], b = 1 (least squares: w = [")
    assert "; distance " in text
    assert tasks.create("quadratic").fit_summary({"x": np.array(1.0)}) is None


def test_parabola_shows_the_current_x():
    task = tasks.create("quadratic", a=2.0, x0=-3.0)
    view = task.model_view({"x": np.array(0.5)}, width=60)
    assert (view.x, view.loss, view.start, view.a) == (0.5, 0.5, -3.0, 2.0)
    assert len(view.xs) == 60 and np.array_equal(view.fs, 2.0 * view.xs**2)
    assert view.x_range == pytest.approx((-3.6, 3.6))
    assert view.y_range[0] < 0.0 < 2.0 * 3.6**2 < view.y_range[1]
    far = task.model_view({"x": np.array(10.0)})
    assert far.x_range == pytest.approx((-12.0, 12.0))
    lost = task.model_view({"x": np.array(np.nan)})
    assert np.isnan(lost.x) and lost.x_range == view.x_range


def test_quadratic_x_over_time_is_the_runs_trajectory():
    run = Run(RunConfig(task="quadratic", optimizer="momentum", optimizer_hypers={"lr": 0.3}))
    run.step(40)
    path = run.history.trajectory()
    assert path.steps[0] == 0 and path.xs[0] == 2.0
    assert path.steps[-1] == 40 and path.xs[-1] == run.params["x"]
    assert (path.xs < 0).any()  # momentum overshoots: the sign is kept (the loss loses it)


# -- the RNN ----------------------------------------------------------------------------------


def test_sequence_prediction_is_the_forward_pass():
    run = trained("sine-rnn", 200, 0.01)
    task, params = run.task, run.params
    view = task.model_view(params)
    k = len(view.steps)
    assert k == min(len(task.X_test), views.MAX_SEQUENCE) == 180
    assert np.array_equal(view.predicted, task.predict(params, task.X_test[:k])[:, 0])
    assert np.array_equal(view.target, task.y_test[:k, 0])
    assert np.array_equal(task.series[view.steps], view.target)  # steps index the series
    assert view.steps[0] == 800 + task.window
    assert view.mse == pytest.approx(task.evaluate(params)["loss"], rel=1e-12)  # all windows


def test_sequence_view_does_not_touch_the_training_buffers():
    # The app computes views on its thread while the run trains: the RNN's per-batch-size
    # activation buffers must not be shared with a view (here the sizes are equal).
    task, params = fresh("sine-rnn", n_points=200, window=5, batch_size=35)
    batch = next(task.batches(np.random.default_rng(0)))
    task.loss_and_grads(params, batch)
    buffers = {
        m: {k: getattr(b, k).copy() for k in ("Hs", "D", "dA")} for m, b in task._buffers.items()
    }
    view = task.model_view(params)
    assert len(view.steps) == 35 == len(task.X_test)
    for m, saved in buffers.items():
        for key, value in saved.items():
            assert np.array_equal(getattr(task._buffers[m], key), value)
