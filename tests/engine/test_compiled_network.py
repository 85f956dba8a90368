"""The compiled passes of the MLP's forward and backward and of a step's bookkeeping against
NumPy's, bit for bit: each kernel on random arrays (NaN, signed zeros and every row length
NumPy's pairwise summation treats differently), and whole runs of the MLP tasks at batch
sizes the kernels take and at sizes that fall back to NumPy, float64 and float32."""

import numpy as np
import pytest
from test_compiled import _run, _same_runs, compiled_ready, needs_numba  # noqa: F401

from engine.optimizers import compiled
from engine.run import RunConfig

# compiled_ready (imported: a fixture) turns the compiled path on for every test here.
pytestmark = [needs_numba, pytest.mark.usefixtures("compiled_ready")]

DTYPES = [np.float64, np.float32]


def _kernels() -> dict:
    return compiled._kernels


def _arrays(rng: np.random.Generator, rows: int, cols: int, dtype: type) -> np.ndarray:
    scale = rng.choice([1e-3, 1.0, 1e3])
    Z = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    Z[rng.random((rows, cols)) < 0.1] = -0.0
    return Z


# Row lengths around NumPy's pairwise blocks: below 8 (summed in order), 8 running sums with
# and without a remainder, up to the 128 of one block.
LENGTHS = [1, 2, 7, 8, 9, 10, 15, 16, 17, 31, 64, 100, 127, 128]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_passes_match_numpy_bit_for_bit(dtype):
    k = _kernels()
    rng = np.random.default_rng(3)
    for rows in LENGTHS:
        for cols in LENGTHS:
            Z = _arrays(rng, rows, cols, dtype)
            b = rng.standard_normal(cols).astype(dtype)
            if rows * cols > 4:
                Z[rng.integers(rows), rng.integers(cols)] = np.nan  # a diverging logit
            # add(Z, b2), maximum.reduce, subtract
            expected, mx = Z.copy(), np.empty((rows, 1), dtype)
            np.add(expected, b, expected)
            np.maximum.reduce(expected, 1, None, mx, True)
            np.subtract(expected, mx, expected)
            got, got_mx = Z.copy(), np.empty((rows, 1), dtype)
            k["softmax_shift"](got, b, got_mx)
            assert (got.tobytes(), got_mx.tobytes()) == (expected.tobytes(), mx.tobytes())
            # add.reduce along rows (pairwise), then over the column of logs
            s, got_s = np.empty((rows, 1), dtype), np.empty((rows, 1), dtype)
            np.add.reduce(Z, 1, None, s, True)
            k["row_sums"](Z, got_s)
            assert got_s.tobytes() == s.tobytes(), (rows, cols)
            Y = np.eye(cols, dtype=dtype)[rng.integers(0, cols, rows)]
            positive = np.abs(s) + 1
            expected = Z.copy()
            np.divide(expected, positive, expected)
            np.subtract(expected, Y, expected)
            np.multiply(expected, 1.0 / rows, expected)
            got = Z.copy()
            total = k["softmax_finish"](got, positive, s, Y, 1.0 / rows)
            assert got.tobytes() == expected.tobytes()
            assert np.array(total, dtype).tobytes() == np.add.reduce(s, None).tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_and_bookkeeping_passes_match_numpy(dtype):
    k = _kernels()
    rng = np.random.default_rng(4)
    H = _arrays(rng, 32, 128, dtype)
    b = rng.standard_normal(128).astype(dtype)
    expected, got = H.copy(), H.copy()
    np.add(expected, b, expected)
    k["bias_add"](got, b)
    assert got.tobytes() == expected.tobytes()
    a, c = _arrays(rng, 1, 9738, dtype)[0], _arrays(rng, 1, 9738, dtype)[0]
    copy = np.empty_like(a)
    k["copy_into"](copy, a)
    assert copy.tobytes() == a.tobytes()
    out, expected = np.empty_like(a), np.empty_like(a)
    np.subtract(a, c, out=expected)
    k["difference"](a, c, out)
    assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("task", "hypers"),
    [
        ("digits-mlp", {"batch_size": 32}),
        ("digits-mlp", {"batch_size": 200}),  # past one pairwise block: NumPy's passes
        ("digits-mlp", {"batch_size": 0}),  # full batch
        ("blobs-mlp", {"n_classes": 9, "batch_size": 17}),
        ("blobs-mlp", {"hidden": 7, "batch_size": 17}),  # 119 activations: the ported tanh's tail
        ("binary-mlp", {}),
    ],
)
def test_mlp_runs_are_bit_identical(task, hypers, dtype):
    """Histories (loss, norms, evaluations), parameters and state summaries of whole runs."""
    for name in ("adam", "sgd"):
        cfg = RunConfig(task=task, optimizer=name, seed=5, dtype=dtype, task_hypers=hypers)
        cfg = cfg.replace(eval_every=25, state_every=10)
        _same_runs(_run(cfg, False, 60), _run(cfg, True, 60))


def test_a_step_runs_the_compiled_passes(monkeypatch):
    """The kernels above are the ones a digits-mlp step calls when the whole pass in one
    kernel is not built (test_compiled_mlp_pass.py: so the runs compare them)."""
    from engine.tasks import mlp

    monkeypatch.setattr(mlp, "_fused", {})
    called = []
    table = compiled.kernels_for(np.dtype(np.float32))
    for name in ("bias_add", "softmax_shift", "row_sums", "softmax_finish", "copy_into"):
        kernel = table[name]
        monkeypatch.setitem(table, name, lambda *a, _k=kernel, _n=name: called.append(_n) or _k(*a))
    compiled.ready = True
    cfg = RunConfig(task="digits-mlp", optimizer="adam", dtype="float32", eval_every=0)
    _run(cfg, True, 1)
    assert sorted(set(called)) == [
        "bias_add", "copy_into", "row_sums", "softmax_finish", "softmax_shift",
    ]  # fmt: skip


@pytest.mark.parametrize(("lr", "factor"), [(10.0, 1.0), (1e30, 1e30)])
def test_diverging_mlp_stops_at_the_same_step(lr, factor):
    """A loss past the limit, and logits that overflow (an update that is not finite)."""
    cfg = RunConfig(
        task="digits-mlp", optimizer="sgd", dtype="float32", optimizer_hypers={"lr": lr},
        divergence_factor=factor,
    )  # fmt: skip
    a, b = _run(cfg, False, 200), _run(cfg, True, 200)
    assert a.diverged_at is not None
    _same_runs(a, b)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_strided_or_mixed_parameters_fall_back_to_numpy_with_the_same_numbers(dtype):
    """The kernels' entry points take contiguous arrays of one dtype: other parameters (a
    strided bias, float64 weights of a float32 task) go through NumPy, with the same result."""
    from engine import tasks

    task = tasks.create("digits-mlp", dtype=dtype)
    rng = np.random.default_rng(6)
    params = task.init_params(rng)
    wide = np.zeros(2 * len(params["b1"]), params["b1"].dtype)
    wide[::2] = rng.standard_normal(len(params["b1"]))
    params["b1"] = wide[::2]  # strided
    params["b2"] = rng.standard_normal(10)  # float64 whatever the task's dtype
    batch = next(task.batches(np.random.default_rng(0)))
    results = []
    for use in (False, True):
        compiled.ready = use
        loss, grads = task.loss_and_grads(params, batch)
        results.append((loss, {k: v.tobytes() for k, v in grads.items()}))
    assert results[0] == results[1]
