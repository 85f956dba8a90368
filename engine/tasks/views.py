"""What the model learned, as plain data: the pictures behind the app's Model tab.

A task draws nothing; it computes. `task.model_view(params, width=..., height=...)` returns one
frozen dataclass of NumPy arrays and numbers (no UI types), or None when the task has nothing
to show beyond the charts every run has. `task.model_view_kind` says which dataclass that will
be without computing anything, so the app can decide on its tabs up front:

    kind          dataclass          tasks
    "regions"     DecisionRegions    binary-mlp (circle, xor, spiral, gauss), blobs-mlp
    "line"        LineFit            linear-regression with 1 feature
    "weights"     WeightsFit         linear-regression with more features
    "parabola"    ParabolaView       quadratic
    "confusion"   ConfusionView      digits-mlp
    "sequence"    SequenceView       sine-rnn
    None          (model_view None)  the 2-D landscapes: their picture is the Path view

Every view has `kind` (as above) and `title`, one line stating exactly what is drawn.

    from engine import tasks
    from engine.tasks.views import DecisionRegions

    task = tasks.create("binary-mlp", dataset="spiral")
    params = task.init_params(np.random.default_rng(0))     # or run.params while training
    task.model_view_kind                                    # "regions" (nothing computed)
    view = task.model_view(params, width=120, height=80)    # 120 columns x 40 rows, 2 px/row
    assert isinstance(view, DecisionRegions)
    view.probabilities.shape          # (80, 120, 2): P(class) per pixel; row 0 is the TOP row
    view.region[0, 0], view.confidence[0, 0]   # the class the network picks there, how sure
    view.xs[0], view.ys[0]            # the plane point at that pixel's centre (ys descend)
    view.train.points[view.train.wrong]        # training points the network gets wrong

    run.task.model_view(run.params, width=cols, height=2 * rows)   # in the app, per frame

Conventions:
- `width` x `height` is the pixel grid of grid-shaped views (DecisionRegions; ParabolaView
  samples its curve at `width` points); views without a grid ignore them. The app asks for
  cols x 2*rows pixels to draw two pixels per character cell with half blocks.
- Grids are row-major with row 0 at the top (the largest y), as a screen is drawn; `xs` and
  `ys` give the coordinates of the pixel centres, so nothing depends on that convention.
- Arrays are float64 (labels and counts intp / int64) and read-only; a view shares nothing
  that later training changes. `model_view` copies `params` first and never uses the task's
  training buffers, so the UI thread may call it while a run trains in a worker thread. (A
  copy taken during an update may mix two neighbouring steps' arrays; the picture is then
  that of a recent step, and every number in one view comes from the same copy.)
- Cost is bounded whatever the data size: at most MAX_POINTS points per set are drawn (an
  evenly spaced, fixed subset; fewer for very wide inputs, see POINT_BUDGET), a digits strip
  holds at most MAX_DIGITS images, a sequence at most MAX_SEQUENCE steps. What does not
  depend on `params` (projections, ranges, subsets, least squares) is computed once per task
  and cached. The network part of a view costs about one forward pass over the width x height
  pixels and the drawn points (tests/perf/bench_model_view.py measures it per task).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.tasks.view_size import DEFAULT_HEIGHT as DEFAULT_HEIGHT  # the default pixel grid
from engine.tasks.view_size import DEFAULT_WIDTH as DEFAULT_WIDTH

Params = dict[str, np.ndarray]  # as in engine.tasks.base

ViewKind = Literal["regions", "line", "weights", "parabola", "confusion", "sequence"]

#: The largest pixel grid a view computes (a 4K terminal has fewer cells than this).
MAX_PIXELS = 2048
#: Points drawn per set (training, test); larger sets are shown by a fixed subset.
MAX_POINTS = 2000
#: Multiply-adds a view may spend on classifying its drawn points (both sets), per frame:
#: with wide inputs (blobs with 1,000 features) fewer points are drawn, at least MIN_POINTS.
POINT_BUDGET = 2**24
MIN_POINTS = 100
#: Misclassified digits listed at most (in test-set order).
MAX_DIGITS = 64
#: Held-out steps of a sequence view at most.
MAX_SEQUENCE = 240
#: Rows a principal-component projection is fitted on at most (a fixed, evenly spaced subset).
MAX_PCA_ROWS = 2000
#: Above this many flops (rows x features x min(rows, features)) the two components come from
#: a seeded randomized SVD (a few hundred ms at most) instead of the exact one (seconds).
EXACT_PCA_FLOPS = 2**28


# -- pieces shared by several views --------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PointSet:
    """Data points in a view's plane: `points` (n, 2) as (x, y), the true class `labels` (n,)
    and the class the network predicts for each, `predicted` (n,), from the full input (for a
    projection: from the point itself, not from its shadow on the plane)."""

    points: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    #: How many points the set has in all (`len(points)` is at most MAX_POINTS of them).
    total: int

    @property
    def wrong(self) -> np.ndarray:
        """Boolean mask of the misclassified points."""
        return self.predicted != self.labels

    @property
    def accuracy(self) -> float:
        """Fraction of the drawn points classified correctly."""
        return float(np.mean(self.predicted == self.labels)) if len(self.labels) else 1.0


@dataclass(frozen=True, eq=False)
class Projection:
    """How inputs of `n_features` dimensions map to a view's plane and back.

    plane (u, v) = (x - mean) @ components.T;  input = mean + (u, v) @ components.
    For 2-D inputs this is the identity (mean 0, components I). For more, `components` are the
    first two principal components of the training data (unit rows) and the plane passes
    through the training mean; `explained` is the fraction of the data's variance along each
    (None for the identity). For 1-D inputs x is the feature and y is unused (components
    [[1], [0]]).
    """

    method: Literal["features", "pca"]
    mean: np.ndarray
    components: np.ndarray
    axis_labels: tuple[str, str]
    explained: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", frozen(self.mean))
        object.__setattr__(self, "components", frozen(self.components))

    def to_plane(self, X: np.ndarray) -> np.ndarray:
        """Plane coordinates (n, 2) of inputs X (n, n_features)."""
        return (np.asarray(X, np.float64) - self.mean) @ self.components.T

    def from_plane(self, uv: np.ndarray) -> np.ndarray:
        """Inputs (n, n_features) at plane points uv (n, 2)."""
        return self.mean + np.asarray(uv, np.float64) @ self.components


@dataclass(frozen=True, eq=False)
class Line:
    """y = slope * x + intercept."""

    slope: float
    intercept: float

    def at(self, x: np.ndarray | float) -> np.ndarray | float:
        return self.slope * x + self.intercept


# -- the views --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DecisionRegions:
    """A classifier's class probabilities over a plane, with the data points on top.

    `probabilities` (height, width, n_classes) holds P(class | pixel centre) from the current
    network; `region` (height, width) is the class it picks (argmax) and `confidence` its
    probability (how sure it is: 1/n_classes .. 1), for shading. Row 0 is the top (y =
    ys[0], the largest). `train` and `test` are the data points in the same plane.

    For inputs of more than two features the plane is `projection`'s (see `Projection`): the
    regions are the network's answers on that plane only, and a point off the plane can be
    predicted differently from the region under its shadow. `plane_agreement` says how often
    that happens: the fraction of drawn training points whose region (the class at their
    projection) equals their predicted class (1.0 for 2-D data).
    """

    title: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    xs: np.ndarray
    ys: np.ndarray
    probabilities: np.ndarray
    region: np.ndarray
    confidence: np.ndarray
    class_names: tuple[str, ...]
    train: PointSet
    test: PointSet
    projection: Projection
    plane_agreement: float
    kind: Literal["regions"] = "regions"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def axis_labels(self) -> tuple[str, str]:
        return self.projection.axis_labels

    def pixel_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) indices of the pixels holding plane `points` (n, 2), clipped to the grid
        (the inverse of `xs` / `ys`: where to draw a point's mark)."""
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        width, height = len(self.xs), len(self.ys)
        pts = np.asarray(points, np.float64)
        col = np.floor((pts[:, 0] - x0) / (x1 - x0) * width).astype(np.intp)
        row = np.floor((y1 - pts[:, 1]) / (y1 - y0) * height).astype(np.intp)
        return np.clip(row, 0, height - 1), np.clip(col, 0, width - 1)


@dataclass(frozen=True, eq=False)
class LineFit:
    """A 1-feature linear regression: the training points (x, y), the current fitted line, the
    true line the data was drawn from and the exact least-squares line on the training set."""

    title: str
    x: np.ndarray
    y: np.ndarray
    total: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    current: Line
    true: Line
    least_squares: Line
    kind: Literal["line"] = "line"


@dataclass(frozen=True, eq=False)
class WeightsFit:
    """A linear regression with several features: per coefficient (w1 .. wF, then b), the
    current value, the true value and the least-squares solution, each of shape (F + 1,)."""

    title: str
    names: tuple[str, ...]
    current: np.ndarray
    true: np.ndarray
    least_squares: np.ndarray
    kind: Literal["weights"] = "weights"

    @property
    def distance_to_least_squares(self) -> float:
        """Euclidean distance from the current coefficients to the least-squares ones."""
        return float(np.linalg.norm(self.current - self.least_squares))


@dataclass(frozen=True, eq=False)
class ParabolaView:
    """f(x) = a x^2 sampled at `xs` (`fs`), the current x on it and the start x0.

    x over time is not part of a view (a view is one instant): the run records it as its
    trajectory, `run.history.trajectory(n).steps` / `.xs` (bounded, downsampled, exact ends).
    """

    title: str
    a: float
    x: float
    loss: float
    start: float
    xs: np.ndarray
    fs: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    kind: Literal["parabola"] = "parabola"


@dataclass(frozen=True, eq=False)
class ConfusionView:
    """The test-set confusion matrix and the currently misclassified test images.

    `matrix[i, j]` counts test images of true class i predicted as j (it sums to `n_test`, and
    its trace / n_test is `accuracy`, what `evaluate` reports). `images` (k, side, side) in
    [0, 1] are the first k = min(n_misclassified, MAX_DIGITS) misclassified test images in
    test-set order, with `true_labels`, `predicted_labels` and their `test_index`.
    """

    title: str
    class_names: tuple[str, ...]
    matrix: np.ndarray
    n_test: int
    accuracy: float
    n_misclassified: int
    images: np.ndarray
    true_labels: np.ndarray
    predicted_labels: np.ndarray
    test_index: np.ndarray
    kind: Literal["confusion"] = "confusion"


@dataclass(frozen=True, eq=False)
class SequenceView:
    """One-step-ahead predictions on held-out data: for each series index in `steps`, the
    network's prediction from the `window` true values before it (`predicted`) and the true
    value (`target`), both on the task's scale; `mse` is their mean squared error."""

    title: str
    steps: np.ndarray
    target: np.ndarray
    predicted: np.ndarray
    mse: float
    kind: Literal["sequence"] = "sequence"


ModelView = DecisionRegions | LineFit | WeightsFit | ParabolaView | ConfusionView | SequenceView


# -- helpers for the task families -------------------------------------------------------------


def frozen(a: np.ndarray, dtype: type | None = np.float64) -> np.ndarray:
    """A read-only array (a view when no conversion is needed: the source stays writable)."""
    out = np.asarray(a, dtype) if dtype is not None else np.asarray(a)
    out = out.view()
    out.flags.writeable = False
    return out


def copy_params(params: Params) -> Params:
    """A private copy of `params` (the live arrays change while a run trains)."""
    return {k: np.array(v, copy=True) for k, v in params.items()}


def check_resolution(width: int, height: int) -> None:
    """ValueError naming `width` or `height` unless each is an integer in [1, MAX_PIXELS]."""
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer in [1, {MAX_PIXELS}], got {value!r}")
        if not 1 <= value <= MAX_PIXELS:
            raise ValueError(f"{name} must be an integer in [1, {MAX_PIXELS}], got {value}")


def spread_subset(n: int, limit: int) -> np.ndarray:
    """At most `limit` indices of 0..n-1, evenly spaced and increasing (all when n <= limit)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.intp))


def points_within_budget(per_point: int) -> int:
    """How many points per set a view classifies: MAX_POINTS, fewer when each one costs
    `per_point` multiply-adds and both sets would exceed POINT_BUDGET (never below
    MIN_POINTS)."""
    return int(min(MAX_POINTS, max(MIN_POINTS, POINT_BUDGET // (2 * max(1, per_point)))))


def padded_range(values: np.ndarray, pad: float = 0.05) -> tuple[float, float]:
    """(lo, hi) of the finite `values`, widened by `pad` of the span on each side; a span of
    zero (or no values) becomes a unit-wide range around the value."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (-1.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        return (lo - 0.5, hi + 0.5)
    return (lo - pad * span, hi + pad * span)


def pixel_centres(lo: float, hi: float, n: int) -> np.ndarray:
    """Centres of n equal pixels covering [lo, hi], increasing."""
    step = (hi - lo) / n
    return lo + step * (np.arange(n) + 0.5)


def feature_projection(n_features: int) -> Projection:
    """The identity plane of 2-D inputs; for 1-D inputs, x is the feature and y unused."""
    if n_features not in (1, 2):
        raise ValueError(f"feature_projection needs 1 or 2 features, got {n_features}")
    components = np.eye(2)[:, :n_features].copy()
    labels = ("x1", "x2") if n_features == 2 else ("x1", "(unused)")
    return Projection("features", np.zeros(n_features), components, labels)


def pca_projection(X: np.ndarray) -> Projection:
    """The plane of the first two principal components of the rows of X, through their mean.

    Fitted on at most MAX_PCA_ROWS evenly spaced rows (all of them for smaller sets). Each
    component's sign is fixed so that its largest-magnitude loading is positive, which makes
    the picture the same on every call and platform."""
    rows = np.asarray(X, np.float64)[spread_subset(len(X), MAX_PCA_ROWS)]
    mean = rows.mean(axis=0)
    centred = rows - mean
    m, f = centred.shape
    total = float(np.vdot(centred, centred))  # the data's whole variance (times m)
    if m * f * min(m, f) <= EXACT_PCA_FLOPS:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
    else:
        s, vt = _randomized_top_singular(centred, 2)
    comps = np.zeros((2, f))
    k = min(2, vt.shape[0])
    comps[:k] = vt[:k]
    for c in comps:
        if c.any() and c[np.argmax(np.abs(c))] < 0:
            c *= -1.0
    var = s[:2] ** 2
    explained = [float(var[i] / total) if total > 0 and i < len(var) else 0.0 for i in range(2)]
    return Projection("pca", mean, comps, ("PC1", "PC2"), (explained[0], explained[1]))


def _randomized_top_singular(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top k singular values and right singular vectors of A by a seeded randomized SVD
    (Halko, Martinsson & Tropp 2011: 8 extra directions, 6 power iterations)."""
    rng = np.random.default_rng(0)
    sketch = k + 8
    Q, _ = np.linalg.qr(A @ rng.standard_normal((A.shape[1], sketch)))
    for _ in range(6):
        W, _ = np.linalg.qr(A.T @ Q)
        Q, _ = np.linalg.qr(A @ W)
    _, s, vt = np.linalg.svd(Q.T @ A, full_matrices=False)
    return s[:k], vt[:k]


def format_count(n: int) -> str:
    """1,234 style."""
    return f"{n:,}"
