"""The softmax MLP's whole forward and backward pass in one compiled kernel
(engine/tasks/_mlp_kernels.py: NumPy's own BLAS calls and exp/log loops through their
addresses) and a step's norm kernels, against the NumPy path bit for bit: the loss and the
gradients on random batches (several seeds, batch sizes, both dtypes), whole runs with a last
partial batch, and the fallback when NumPy's BLAS symbols are not found."""

import numpy as np
import pytest
from test_compiled import _run, _same_runs, compiled_ready, needs_numba  # noqa: F401

from engine import tasks
from engine.optimizers import compiled
from engine.run import RunConfig
from engine.tasks import mlp

# compiled_ready (imported: a fixture) turns the compiled path on for every test here.
pytestmark = [needs_numba, pytest.mark.usefixtures("compiled_ready")]

DTYPES = [np.dtype(np.float64), np.dtype(np.float32)]


@pytest.fixture
def fused():
    """The whole pass as the build installed it (skipped where NumPy's BLAS is not
    scipy-openblas: the runs elsewhere compare the passes one by one)."""
    if len(mlp._fused) != 2:
        pytest.skip(f"the whole pass is not built here: {mlp._fused_error}")
    return mlp._fused


def _spied(monkeypatch, dtype: np.dtype) -> list:
    """Count the calls of the whole pass for dtype."""
    calls = []
    kernel, fns = mlp._fused[dtype]

    def spy(*args):
        calls.append(len(args[0]))
        return kernel(*args)

    monkeypatch.setitem(mlp._fused, dtype, (spy, fns))
    return calls


def _spied_run_pass(monkeypatch, dtype: np.dtype) -> list:
    """Count the calls of a Run's step pass (`softmax_mlp_run`) for dtype, by batch rows."""
    calls = []
    kernel = mlp._run_kernels[dtype]

    def spy(*args):
        calls.append(len(args[2]))
        return kernel(*args)

    monkeypatch.setitem(mlp._run_kernels, dtype, spy)
    return calls


def _loss_and_grads(task, params, batch, use: bool) -> tuple:
    compiled.ready = use
    grads = task.new_grads()
    loss, out = task.loss_and_grads(params, batch, grads)
    assert out is grads
    return np.float64(loss).tobytes(), {k: v.tobytes() for k, v in grads.items()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_whole_pass_matches_numpy_bit_for_bit(monkeypatch, fused, dtype, seed):
    calls = _spied(monkeypatch, dtype)
    rng = np.random.default_rng(seed)
    digits = tasks.create("digits-mlp", dtype=dtype.name)
    blobs = tasks.create("blobs-mlp", dtype=dtype.name, n_features=5, n_classes=4, hidden=7)
    for task in (digits, blobs):
        params = task.init_params(rng)
        for value in params.values():  # biases away from zero, weights off their start
            value += (rng.standard_normal(value.shape) * 0.3).astype(dtype)
        for m in (2, 3, 17, 30, 32, 100, 128):
            rows = rng.choice(len(task.X), m, replace=False)
            batch = (task.X[rows], task.Y[rows])
            expected = _loss_and_grads(task, params, batch, False)
            assert _loss_and_grads(task, params, batch, True) == expected, (task.name, m)
    assert len(calls) == 2 * 7


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_runs_through_the_whole_pass_are_bit_identical(monkeypatch, fused, dtype):
    """digits-mlp at batch 100 (1,438 = 14 × 100 + 38: every epoch ends on a partial batch)
    and at 32, Adam and SGD, with evaluations and state summaries: a Run's steps go through
    its step pass (the batch gathered, the pass, the norm, prev ← flat in one call)."""
    whole = _spied(monkeypatch, np.dtype(dtype))
    calls = _spied_run_pass(monkeypatch, np.dtype(dtype))
    for batch_size in (100, 32):
        for name in ("adam", "sgd"):
            cfg = RunConfig(
                task="digits-mlp", optimizer=name, seed=3, dtype=dtype, eval_every=7,
                state_every=5, task_hypers={"batch_size": batch_size},
            )  # fmt: skip
            _same_runs(_run(cfg, False, 50), _run(cfg, True, 50))
    assert 38 in calls and 100 in calls and 32 in calls
    assert whole == []


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_one_row_batch_and_sharpness_leave_the_step_pass(monkeypatch, fused, dtype):
    """batch 3 (1,438 = 479 × 3 + 1: every epoch ends on one row, which NumPy multiplies
    with gemv, not gemm) steps that row through the passes; with sharpness on, the step
    needs the batch itself: the whole pass, not the step pass. Bit-identical either way."""
    whole = _spied(monkeypatch, np.dtype(dtype))
    calls = _spied_run_pass(monkeypatch, np.dtype(dtype))
    cfg = RunConfig(task="digits-mlp", optimizer="adam", seed=4, dtype=dtype, eval_every=0,
                    task_hypers={"batch_size": 3})  # fmt: skip
    _same_runs(_run(cfg, False, 500), _run(cfg, True, 500))
    assert len(calls) == 499 and set(calls) == {3} and whole == []
    calls.clear()
    sharp = cfg.replace(sharpness_every=10, task_hypers={"batch_size": 32})
    _same_runs(_run(sharp, False, 30), _run(sharp, True, 30))
    assert calls == [] and whole.count(32) >= 30


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_run_diverging_in_the_step_pass_keeps_its_last_step(monkeypatch, fused, dtype):
    """A rate that blows the loss up: the same diverging step and reason, the parameters and
    the previous step's parameters (what inspect() differences) those of the last kept step."""
    calls = _spied_run_pass(monkeypatch, np.dtype(dtype))
    # The loss passing the limit; gradients or updates that overflow.
    for lr, factor in ((10.0, 1e-3), (1e300, float("inf"))):
        cfg = RunConfig(task="digits-mlp", optimizer="sgd", seed=1, dtype=dtype, eval_every=0,
                        optimizer_hypers={"lr": lr}, divergence_factor=factor)  # fmt: skip
        numpy_run, compiled_run = _run(cfg, False, 300), _run(cfg, True, 300)
        _same_runs(numpy_run, compiled_run)
        assert compiled_run.diverged_at is not None
        assert numpy_run._prev.tobytes() == compiled_run._prev.tobytes()
        assert numpy_run.steps_done == compiled_run.steps_done
    assert calls


@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_the_kernel_does_not_take_go_through_the_passes(monkeypatch, fused, dtype):
    """Batches past 128 rows, a strided batch, gradients in a fresh dict and strided or
    other-dtype parameters: the passes one by one, with the same numbers."""
    calls = _spied(monkeypatch, dtype)
    task = tasks.create("digits-mlp", dtype=dtype.name)
    rng = np.random.default_rng(9)
    params = task.init_params(rng)
    big = (task.X[:200], task.Y[:200])
    strided = (task.X[:64:2], task.Y[:64:2])
    for batch in (big, strided):
        assert _loss_and_grads(task, params, batch, True) == _loss_and_grads(
            task, params, batch, False
        )
    other = dict(params, b2=params["b2"].astype(np.float32 if dtype == np.float64 else None))
    wide = np.zeros(2 * task.hidden, dtype)
    wide[::2] = rng.standard_normal(task.hidden)
    for changed in (other, dict(params, b1=wide[::2])):
        batch = (task.X[:32], task.Y[:32])
        assert _loss_and_grads(task, changed, batch, True) == _loss_and_grads(
            task, changed, batch, False
        )
    compiled.ready = True
    task.loss_and_grads(params, (task.X[:32], task.Y[:32]))  # no grads given: the passes
    assert calls == []


def test_norm_kernels_match_numpy(fused):
    table = compiled.kernels_for(np.dtype(np.float32))
    assert "sum_sq" in table and "difference_sum_sq" in table
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        fns = compiled.blas_tables[dtype]
        entries = compiled.kernels_for(dtype)
        for n in (2, 7, 1000, 9738, 70001):
            a, b = rng.standard_normal((2, n)).astype(dtype)
            a[rng.integers(n)] = -0.0
            assert entries["sum_sq"](a, fns) == float(np.dot(a, a))
            out, expected = np.empty_like(a), a - b
            assert entries["difference_sum_sq"](a, b, out, fns) == float(np.dot(expected, expected))
            assert out.tobytes() == expected.tobytes()


def _build_without(monkeypatch, **patches) -> dict:
    """Run the whole pass's build step again with `patches` on _mlp_kernels; return the
    kernels it added (mlp._fused and compiled.blas_tables restored afterwards)."""
    from engine.tasks import _mlp_kernels

    for name, value in patches.items():
        monkeypatch.setattr(_mlp_kernels, name, value)
    monkeypatch.setattr(mlp, "_fused", {})
    monkeypatch.setattr(mlp, "_run_kernels", {})
    monkeypatch.setattr(mlp, "_eval_kernels", {})
    monkeypatch.setattr(mlp, "_fused_error", None)
    monkeypatch.setattr(compiled, "blas_tables", {})
    kernels: dict = {}
    mlp._build_fused(kernels)
    return kernels


def test_without_numpys_blas_symbols_the_passes_run_one_by_one(monkeypatch):
    """Another BLAS (no scipy_cblas_*64_ symbols): no whole pass, no norm kernels, the
    reason in `compiled.describe()`, and runs still bit-identical with the NumPy path."""

    class NoSymbols:
        def __getattr__(self, name):
            raise AttributeError(name)

    kernels = _build_without(monkeypatch, _blas_symbols=lambda: NoSymbols())
    assert kernels == {} and mlp._fused == {} and compiled.blas_tables == {}
    compiled.ready = True
    assert "MLP passes one by one: NumPy's BLAS" in compiled.describe()
    cfg = RunConfig(task="digits-mlp", optimizer="adam", seed=4, dtype="float32", eval_every=9)
    _same_runs(_run(cfg, False, 50), _run(cfg, True, 50))


def test_a_numpy_built_with_another_blas_is_not_probed(monkeypatch):
    """NumPy's config naming another BLAS: the build does not look for symbols at all."""
    from numpy import __config__

    blas = dict(__config__.CONFIG["Build Dependencies"]["blas"], name="accelerate")
    deps = dict(__config__.CONFIG["Build Dependencies"], blas=blas)
    monkeypatch.setitem(__config__.CONFIG, "Build Dependencies", deps)
    from engine.tasks import _mlp_kernels

    assert _mlp_kernels.blas_functions(np.dtype(np.float64)) is None
    assert _build_without(monkeypatch) == {}


def test_a_pass_that_differs_from_numpy_is_refused(monkeypatch, fused):
    """The build's check compares with the NumPy passes: a kernel whose numbers differ (here
    a table pointing exp at log's loop) is not installed."""
    from engine.tasks import _mlp_kernels

    real = _mlp_kernels.blas_functions

    def swapped(dtype):
        table = real(dtype).copy()
        table[_mlp_kernels.EXP] = table[_mlp_kernels.LOG]
        return table

    assert _build_without(monkeypatch, blas_functions=swapped) == {}
    assert "differs from NumPy's" in mlp.fused_note()


def test_the_function_table_names_numpys_own_loops(fused):
    """The exp, log and tanh loops read out of the ufunc objects compute what the ufuncs do."""
    from engine.tasks import _mlp_kernels

    for dtype in DTYPES:
        assert _mlp_kernels.blas_functions(dtype).tobytes() == fused[dtype][1].tobytes()
        for ufunc in (np.exp, np.log, np.tanh):
            assert _mlp_kernels._ufunc_loop(ufunc, dtype) is not None
    assert _mlp_kernels._ufunc_loop(np.add, DTYPES[0]) is None  # two inputs: not a unary loop


def _spied_adam_norm(monkeypatch, dtype: np.dtype) -> list:
    """Count the calls of the Adam family's step with its update's squared norm."""
    calls = []
    entries = compiled.kernels_for(dtype)
    kernel = entries["adam_norm"]

    def spy(*args):
        calls.append(args[0].size)
        return kernel(*args)

    monkeypatch.setitem(entries, "adam_norm", spy)
    return calls


ADAM_FAMILY = [
    ("adam", {}),
    ("adam", {"beta1": 0.3, "maximize": True, "weight_decay": 0.1}),
    ("amsgrad", {}),
    ("adamw", {"lr": 0.01}),
    ("adaptive-adam", {"beta1_schedule": "decay"}),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_adam_family_steps_a_run_with_its_update_norm_in_one_call(monkeypatch, fused, dtype):
    """A Run's Adam step leaves the update and its squared norm too (`adam_norm`, one call
    for what `adam` and `difference_sum_sq` did): the same histories, parameters, state
    summaries and divergence as the NumPy path, with AMSGrad, decoupled and L2 decay,
    maximize and a scheduled β₁; a rate that overflows float32's update diverges at the same
    step with the last kept parameters."""
    calls = _spied_adam_norm(monkeypatch, dtype)
    for name, knobs in ADAM_FAMILY:
        cfg = RunConfig(task="digits-mlp", optimizer=name, seed=5, dtype=dtype.name,
                        optimizer_hypers=knobs, eval_every=9, state_every=4)  # fmt: skip
        _same_runs(_run(cfg, False, 60), _run(cfg, True, 60))
    assert len(calls) == 60 * len(ADAM_FAMILY) and set(calls) == {9610}  # 64·128 + ... + 10
    calls.clear()
    blow_up = RunConfig(task="digits-mlp", optimizer="adam", seed=1, dtype=dtype.name,
                        eval_every=0, optimizer_hypers={"lr": 1e300})  # fmt: skip
    numpy_run, compiled_run = _run(blow_up, False, 50), _run(blow_up, True, 50)
    _same_runs(numpy_run, compiled_run)
    assert numpy_run._prev.tobytes() == compiled_run._prev.tobytes()
    assert numpy_run.steps_done == compiled_run.steps_done
    assert compiled_run.diverged_at is not None and calls


def test_a_build_that_ran_before_the_mlp_module_was_imported_catches_up(monkeypatch, fused):
    """The app's first run (Rosenbrock) builds the compiled path before the MLP module is
    imported (task families load when first used): picking digits-mlp then builds the MLP's
    kernels in a thread of their own, the first runs step through the passes one by one,
    and a Run made once it ends goes through its one-call step pass, with the same numbers."""
    monkeypatch.setattr(mlp, "_fused", {})
    monkeypatch.setattr(mlp, "_run_kernels", {})
    monkeypatch.setattr(mlp, "_eval_kernels", {})
    monkeypatch.setattr(compiled, "extra_builds", [b for b in compiled.extra_builds
                                                   if b is not mlp._build_fused])  # fmt: skip
    monkeypatch.setattr(compiled, "_late_builds", [])
    for name in ("adam_norm", "sgd_norm", "rmsprop_norm", "sum_sq", "difference_sum_sq"):
        monkeypatch.delitem(compiled._kernels, name, raising=False)
    cfg = RunConfig(task="digits-mlp", optimizer="adam", seed=1, eval_every=5)
    before = _run(cfg, True, 20)  # nothing of the MLP's compiled yet: the passes one by one
    assert mlp._run_kernels == {}

    compiled.add_build(mlp._build_fused)  # as the module's import does, after the build
    assert compiled.wait(600)
    assert set(mlp._run_kernels) == set(DTYPES) and set(mlp._eval_kernels) == set(DTYPES)
    assert "adam_norm" in compiled._kernels
    calls = _spied_run_pass(monkeypatch, np.dtype(np.float64))
    _same_runs(before, _run(cfg, True, 20))
    _same_runs(before, _run(cfg, False, 20))
    assert calls  # the Run made after the late build stepped through the one-call pass
