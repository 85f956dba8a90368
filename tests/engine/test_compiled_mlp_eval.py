"""The softmax MLP's held-out evaluation in one compiled call per block
(engine/tasks/_mlp_kernels.py `softmax_mlp_eval`: NumPy's own gemm, tanh, exp and log through
their addresses, its reductions' pairwise order) and the SGD and RMSprop steps with their
update's norm (`sgd_norm`, `rmsprop_norm`), against the NumPy path bit for bit: evaluation
numbers on blocks past NumPy's 128-element pairwise block, NaN and tied logits, both dtypes,
and whole runs."""

import numpy as np
import pytest
from test_compiled import _run, _same_runs, compiled_ready, needs_numba  # noqa: F401

from engine import tasks
from engine.optimizers import compiled
from engine.run import RunConfig
from engine.tasks import base, mlp

# compiled_ready (imported: a fixture) turns the compiled path on for every test here.
pytestmark = [needs_numba, pytest.mark.usefixtures("compiled_ready")]

DTYPES = [np.dtype(np.float64), np.dtype(np.float32)]


@pytest.fixture
def evaluation():
    """The compiled evaluation as the build installed it (skipped where NumPy's BLAS is not
    scipy-openblas: evaluation then runs NumPy's passes on both paths)."""
    if len(mlp._fused) != 2 or len(mlp._eval_kernels) != 2:
        pytest.skip(f"the compiled evaluation is not built here: {mlp._fused_error}")
    return mlp._eval_kernels


def _spied(monkeypatch, dtype: np.dtype) -> list:
    """The rows of each block the compiled evaluation takes, for dtype."""
    calls = []
    kernel = mlp._eval_kernels[dtype]

    def spy(*args):
        calls.append(len(args[0]))
        return kernel(*args)

    monkeypatch.setitem(mlp._eval_kernels, dtype, spy)
    return calls


def _evaluated(task, params, use: bool) -> tuple:
    compiled.ready = use
    result = task.evaluate(params)
    return tuple((k, np.float64(v).tobytes()) for k, v in sorted(result.items()))


def _moved(task, seed: int) -> dict:
    """Parameters off their start (biases away from zero)."""
    rng = np.random.default_rng(seed)
    params = task.init_params(rng)
    for value in params.values():
        value += (rng.standard_normal(value.shape) * 0.5).astype(value.dtype)
    return params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [None, 2, 9, 128, 129, 136, 200, 300])
def test_evaluation_matches_numpy_bit_for_bit(monkeypatch, evaluation, dtype, rows):
    """digits-mlp's 359 test images in blocks of `rows` (None: one block): blocks past 128
    rows sum their losses in NumPy's pairwise tree, a short last block in one block (blocks of
    2 end on one row)."""
    task = tasks.create("digits-mlp", dtype=dtype.name)
    per_row = task.hidden + task.n_out
    if rows is not None:
        monkeypatch.setattr(base, "EVAL_ELEMENTS", rows * per_row)
    # A last block of one row goes through NumPy's passes (its products are gemv calls).
    blocks = [s.stop - s.start for s in base.eval_chunks(len(task.X_test), per_row)]
    blocks = [b for b in blocks if b >= 2]
    calls = _spied(monkeypatch, dtype)
    for seed in (0, 1):
        params = _moved(task, seed)
        assert _evaluated(task, params, True) == _evaluated(task, params, False)
    assert calls == blocks * 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_large_held_out_set_evaluates_bit_for_bit(monkeypatch, evaluation, dtype):
    """blobs-mlp's 5,000 held-out points in one block (a pairwise tree several levels deep)
    and 7 classes (the row sums' block of eight plus the rest)."""
    task = tasks.create("blobs-mlp", dtype=dtype.name, n_samples=5000, n_classes=7, hidden=9)
    calls = _spied(monkeypatch, dtype)
    params = _moved(task, 3)
    assert _evaluated(task, params, True) == _evaluated(task, params, False)
    assert calls == [5000]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_tied_logits_score_as_numpy_does(monkeypatch, evaluation, dtype):
    """A NaN logit (argmax picks the first NaN; the loss is NaN) and tied logits (argmax
    picks the first of them): the same accuracy and loss bytes as NumPy's passes."""
    task = tasks.create("digits-mlp", dtype=dtype.name)
    calls = _spied(monkeypatch, dtype)
    params = _moved(task, 4)
    tied = {k: v.copy() for k, v in params.items()}
    tied["W2"][:, 3] = tied["W2"][:, 7]
    tied["b2"][3] = tied["b2"][7]
    broken = {k: v.copy() for k, v in params.items()}
    broken["W2"][5, 2] = np.nan
    for case in (tied, broken):
        with np.errstate(all="ignore"):
            assert _evaluated(task, case, True) == _evaluated(task, case, False)
    assert len(calls) == 2


def test_the_build_checks_the_evaluation_and_refuses_a_wrong_one(evaluation):
    """The build's check passes on the real table and fails on one whose tanh is exp."""
    from engine.tasks import _mlp_kernels

    for dtype in DTYPES:
        fns = compiled.blas_tables[dtype]
        assert mlp._check_eval(_mlp_kernels, fns, dtype)
        wrong = fns.copy()
        wrong[_mlp_kernels.TANH : _mlp_kernels.TANH_DATA + 1] = fns[
            _mlp_kernels.EXP : _mlp_kernels.EXP_DATA + 1
        ]
        assert not mlp._check_eval(_mlp_kernels, wrong, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_sum_is_numpys_pairwise_sum(evaluation, dtype):
    from engine.tasks import _mlp_kernels

    rng = np.random.default_rng(6)
    for n in (*range(1, 300), 1000, 1024, 1031, 8191, 8193, 70001):
        a = (rng.standard_normal((n, 1)) * 1e3).astype(dtype)
        got = _mlp_kernels.reduce_sum(a)
        assert np.asarray(got, dtype).tobytes() == np.add.reduce(a, None).tobytes(), n


def test_evaluation_leaves_the_softmax_gradient_out(monkeypatch):
    """Both paths' evaluation computes the loss alone (`_loss`), the number `_output` gives
    before it turns the logits into the gradient."""
    task = tasks.create("digits-mlp")
    params = _moved(task, 5)
    compiled.ready = False
    seen = []
    monkeypatch.setattr(type(task), "_output", lambda *a: seen.append(a) or 0.0)
    result = task.evaluate(params)
    assert seen == []
    monkeypatch.undo()
    Z = task.logits(params, task.X_test)
    m = len(Z)
    expected = task._output(Z, task.Y_test, m, mlp._Buffers(m, 1, task.n_out, task.dtype))
    assert np.float64(result["loss"]).tobytes() == np.float64(expected).tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sgd_and_rmsprop_steps_give_their_update_norm_bit_for_bit(monkeypatch, evaluation, dtype):
    """SGD, momentum (dampened, with decay), Nesterov and RMSprop (plain, centered with
    momentum, with decay) on digits-mlp: each step's update and its norm come from the
    family's kernel (`sgd_norm`, `rmsprop_norm`), with the NumPy path's histories."""
    entries = compiled.kernels_for(np.dtype(dtype))
    used = []
    for name in ("sgd_norm", "rmsprop_norm"):
        kernel = entries[name]
        monkeypatch.setitem(entries, name, lambda *a, k=kernel, n=name: used.append(n) or k(*a))
    for name, knobs in (
        ("sgd", {"weight_decay": 0.01}),
        ("momentum", {"dampening": 0.3, "weight_decay": 0.05}),
        ("nesterov", {"maximize": False}),
        ("rmsprop", {}),
        ("rmsprop", {"centered": True, "momentum": 0.9}),
        ("rmsprop", {"weight_decay": 0.1, "momentum": 0.5}),
    ):
        cfg = RunConfig(task="digits-mlp", optimizer=name, seed=2, dtype=dtype, eval_every=5,
                        optimizer_hypers=knobs)  # fmt: skip
        _same_runs(_run(cfg, False, 40), _run(cfg, True, 40))
    assert used.count("sgd_norm") == 3 * 40 and used.count("rmsprop_norm") == 3 * 40


@pytest.mark.parametrize("name", ["sgd_norm", "rmsprop_norm"])
def test_the_build_checks_the_norm_steps(evaluation, name):
    from engine.optimizers import _kernels
    from engine.tasks import _mlp_kernels

    family = getattr(_kernels, name.removesuffix("_norm"))
    for dtype in DTYPES:
        assert mlp._check_flat_norm(_mlp_kernels, name, family, compiled.blas_tables[dtype], dtype)
