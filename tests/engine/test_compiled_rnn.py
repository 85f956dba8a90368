"""The compiled passes of the sine RNN (engine/tasks/_rnn_kernels.py) against NumPy's
passes, bit for bit: the ports of NumPy's float64 and float32 tanh on every subinterval and
its edges (float32: every number from 2⁻¹⁵ to 11 as well), the whole passes on tiny, odd and
the lessons' shapes, and whole runs (histories, evaluations, sharpness, state summaries,
parameters, divergence) in float64 and float32, at batch sizes the kernels take and at ones
that fall back to NumPy; the MLPs' hidden layer through the ported tanh in both dtypes."""

import numpy as np
import pytest
from test_compiled import _run, _same_runs, compiled_ready, needs_numba  # noqa: F401

from engine import tasks
from engine.optimizers import compiled
from engine.run import RunConfig
from engine.tasks import mlp, rnn

# compiled_ready (imported: a fixture) turns the compiled path on for every test here.
pytestmark = [needs_numba, pytest.mark.usefixtures("compiled_ready")]


@pytest.fixture
def port():
    """The port in use: the build reproduced this CPU's `np.tanh` and OpenBLAS's small
    products. Elsewhere (another SIMD target, another OpenBLAS kernel) the build refuses it and
    the RNN steps on NumPy: the tests that read the port itself are skipped there, while the
    whole-run comparisons below still hold (NumPy against NumPy)."""
    if rnn.compiled_tanh_table is None:
        pytest.skip("np.tanh or OpenBLAS on this CPU is not what the port follows")
    return rnn.compiled_tanh_table


@pytest.fixture
def port_f32():
    """The float32 port in use: the build reproduced this CPU's float32 `np.tanh`. Elsewhere
    the MLPs' float32 tanh is NumPy's, and the tests that read the port are skipped."""
    if rnn.compiled_tanh_table_f32 is None:
        pytest.skip("float32 np.tanh on this CPU is not what the port follows")
    return rnn.compiled_tanh_table_f32


def _kernels():
    from engine.tasks import _rnn_kernels

    return _rnn_kernels


def test_the_build_found_numpys_tanh_table():
    """Without it every test below would compare NumPy with NumPy. The build looks for the
    table of NumPy's x86-64 FMA tanh (the kernel of X86_V3 and X86_V4 targets)."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    if not (features.get("AVX2") and features.get("FMA3")):
        pytest.skip("NumPy runs another tanh on this CPU: the RNN steps on NumPy")
    assert rnn.compiled_tanh_table is not None


def test_the_build_found_numpys_float32_tanh_table():
    """The float32 port follows the kernel of NumPy's targets with fused multiply-adds."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    if not (features.get("AVX2") and features.get("FMA3")):
        pytest.skip("NumPy runs another float32 tanh on this CPU: the MLPs use NumPy's")
    assert rnn.compiled_tanh_table_f32 is not None


def _same_tanh_f32(x: np.ndarray, table: np.ndarray) -> None:
    got = np.empty_like(x)
    compiled.kernel("tanh_array_f32")(x, got, table)
    expected = np.tanh(x)
    differ = np.flatnonzero(got.view(np.uint32) != expected.view(np.uint32))
    assert differ.size == 0, (x[differ[:5]], got[differ[:5]], expected[differ[:5]])


def test_float32_tanh_matches_numpy_bit_for_bit(port_f32):
    """Every subinterval's offset and neighbours, the thresholds, zeros, subnormals, infinities
    and NaNs (`probe_f32`), a denser stride of bit patterns, random activations, and every
    length and start around the 8-wide blocks."""
    k = _kernels()
    rng = np.random.default_rng(12)
    scales = rng.choice([1e-30, 1e-6, 0.03, 0.3, 1.0, 3.0, 9.0, 1e3], 200_000)
    x = np.concatenate(
        [
            k.probe_f32(1009),
            (rng.standard_normal(200_000) * scales).astype(np.float32),
            np.array([-0.0, 0.0, -np.inf, np.inf, np.nan, -np.nan], np.float32),
        ]
    )
    _same_tanh_f32(x, port_f32)
    for start in range(9):
        for length in range(0, 26):
            _same_tanh_f32(x[start : start + length], port_f32)


def test_float32_tanh_matches_numpy_on_every_float32_near_its_subintervals(port_f32):
    """Every float32 (both signs) from 2⁻¹⁵ to past the last subinterval (10.0), in chunks:
    where the polynomials of the table's subintervals differ from x and from 1. The bit
    patterns outside (down to the subnormals, up to NaN) are met by `probe_f32`'s stride
    above. (All 2³² were checked once by hand: 40 s, too long for the suite.)"""
    chunk = 1 << 22
    bits = np.empty(chunk, np.uint32)
    steps = np.arange(chunk, dtype=np.uint32)
    start, stop = 0x38000000, 0x41300000  # 2⁻¹⁵ .. 11.0
    for first in range(start, stop, chunk):
        np.add(steps, np.uint32(first), out=bits)
        x = bits[: min(chunk, stop - first)].view(np.float32)
        _same_tanh_f32(x, port_f32)
        _same_tanh_f32(-x, port_f32)


def test_a_float32_table_that_does_not_reproduce_numpy_is_refused(monkeypatch, port_f32):
    """The build's check: one coefficient a unit in the last place off (what another NumPy's
    table could be) and the port is refused, so the MLPs keep NumPy's tanh."""
    k = _kernels()
    nudged = port_f32.copy()
    nudged[20, 3] = np.nextafter(nudged[20, 3], np.float32(1))
    monkeypatch.setattr(k, "numpy_tanh_tables_f32", lambda: [nudged])
    assert k.check_f32({"tanh_array_f32": compiled.kernel("tanh_array_f32")}) is None
    monkeypatch.setattr(k, "numpy_tanh_tables_f32", lambda: [nudged, port_f32])
    found = k.check_f32({"tanh_array_f32": compiled.kernel("tanh_array_f32")})
    assert found is port_f32


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_runs_without_a_port_step_on_numpys_tanh_with_the_same_numbers(monkeypatch, dtype):
    """A build that refused the ports (another CPU): the hidden layer runs np.tanh."""
    monkeypatch.setattr(rnn, "compiled_tanh_table", None)
    monkeypatch.setattr(rnn, "compiled_tanh_table_f32", None)
    assert rnn.compiled_tanh(np.dtype(dtype)) is None
    cfg = RunConfig(task="digits-mlp", optimizer="adam", dtype=dtype, eval_every=10)
    _same_runs(_run(cfg, False, 30), _run(cfg, True, 30))


def test_tanh_matches_numpy_bit_for_bit(port):
    k = _kernels()
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            k._probe(),
            rng.standard_normal(50_000) * rng.choice([1e-8, 0.05, 0.5, 2.0, 8.0, 25.0], 50_000),
            np.array([-0.0, 0.0, -np.inf, np.inf, np.nan, -np.nan, 1e-310, -1e-310]),
        ]
    )
    got = np.empty_like(x)
    compiled.kernel("tanh_array")(x, got, rnn.compiled_tanh_table)
    assert got.tobytes() == np.tanh(x).tobytes()


def _grads(task, params, batch, use: bool) -> tuple:
    compiled.ready = use
    loss, grads = task.loss_and_grads(params, batch)
    return loss, {k: v.tobytes() for k, v in grads.items()}


@pytest.mark.parametrize("zero", ["W_hy", "W_hh", "b_h"])
def test_gradients_with_zero_weights_keep_the_sign_of_zero(zero):
    """Signed zeros through the products (a gemm sums from +0) and tanh."""
    task = tasks.create("sine-rnn", hidden=8, window=6, batch_size=16)
    params = task.init_params(np.random.default_rng(3))
    params[zero][...] = -0.0
    batch = next(task.batches(np.random.default_rng(4)))
    assert _grads(task, params, batch, True) == _grads(task, params, batch, False)


def _counting(monkeypatch, dtype: str) -> dict[str, int]:
    """Count the calls of each compiled pass of dtype (`rnn._passes`)."""
    found = rnn._passes.get(np.dtype(dtype))
    if found is None:
        pytest.skip("NumPy's BLAS or tanh loop is not where the build looks: NumPy's passes")
    calls = {"loss_grads": 0, "sse": 0, "run": 0}

    def counted(name, kernel):
        def call(*args):
            calls[name] += 1
            return kernel(*args)

        return call

    spied = found._replace(**{name: counted(name, getattr(found, name)) for name in calls})
    monkeypatch.setitem(rnn._passes, np.dtype(dtype), spied)
    return calls


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_run_steps_and_evaluates_through_the_compiled_passes(monkeypatch, dtype):
    """One call a step (`rnn_run`: batch, loss, gradients, norm), one an evaluation
    (`rnn_sse`), one a full-batch step (`rnn_loss_grads`): the runs below compare the kernels,
    not NumPy with itself."""
    calls = _counting(monkeypatch, dtype)
    cfg = RunConfig(task="sine-rnn", optimizer="adam", eval_every=2, dtype=dtype)
    _run(cfg, True, 6)
    assert calls == {"loss_grads": 0, "sse": 4, "run": 6}  # evaluations at 0, 2, 4, 6
    full = cfg.replace(task_hypers={"hidden": 8, "window": 20, "batch_size": 0, "n_points": 200})
    _run(full, True, 4)
    assert calls["loss_grads"] == 4


def test_a_pass_that_does_not_reproduce_numpy_is_refused():
    """The build's check: NumPy's exp loop in place of its tanh loop (what a wrong address
    would call) and the passes are refused, so the RNN steps on NumPy."""
    from engine.tasks import _mlp_kernels, _rnn_kernels

    dtype = np.dtype(np.float64)
    fns = _mlp_kernels.blas_functions(dtype)
    if fns is None:
        pytest.skip("NumPy's BLAS is not where the build looks")
    assert rnn._check_passes(_rnn_kernels, fns, dtype)
    k = _mlp_kernels
    wrong = fns.copy()
    wrong[[k.TANH, k.TANH_DATA]] = fns[[k.EXP, k.EXP_DATA]]
    assert not rnn._check_passes(_rnn_kernels, wrong, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("hidden", "window", "rows"), [(2, 1, 2), (2, 3, 3), (7, 5, 9), (16, 20, 32), (33, 4, 65)]
)
def test_the_compiled_pass_gives_numpys_loss_and_gradients(hidden, window, rows, dtype):
    """Odd and tiny shapes, weights that saturate tanh, signed zeros, and the evaluation."""
    task = tasks.create("sine-rnn", hidden=hidden, window=window, batch_size=rows, dtype=dtype)
    rng = np.random.default_rng(hidden * window + rows)
    for scale in (1.0, 30.0):
        params = {k: v * scale for k, v in task.init_params(rng).items()}
        params["b_h"][::2] = -0.0
        batch = next(task.batches(rng))
        assert _grads(task, params, batch, True) == _grads(task, params, batch, False)
        losses = []
        for use in (True, False):
            compiled.ready = use
            losses.append(np.float64(task.evaluate(params)["loss"]).tobytes())
        assert losses[0] == losses[1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "hypers",
    [
        {"hidden": 16, "window": 20, "batch_size": 32},  # rmsprop-sine
        {"hidden": 16, "window": 40, "batch_size": 32},  # adam-rnn-gradients
        {"hidden": 8, "window": 20, "batch_size": 0, "n_points": 200},  # full batch
        {"hidden": 5, "window": 7, "batch_size": 33},  # odd rows, a last batch of one
        {"hidden": 3, "window": 4, "batch_size": 1},  # one row: NumPy's passes
        {"hidden": 1, "window": 4, "batch_size": 8},  # one unit: NumPy's passes
    ],
    ids=str,
)
def test_rnn_runs_are_bit_identical(hypers, dtype):
    """Histories (loss, norms, evaluations), parameters and state summaries of whole runs."""
    for name in ("adam", "sgd", "rmsprop", "adagrad"):
        cfg = RunConfig(task="sine-rnn", optimizer=name, seed=5, dtype=dtype, task_hypers=hypers)
        cfg = cfg.replace(eval_every=25, state_every=10)
        _same_runs(_run(cfg, False, 60), _run(cfg, True, 60))


def test_sharpness_is_bit_identical():
    """The edge-of-stability lesson's run: full batch, the sharpness every 10 steps."""
    cfg = RunConfig(
        task="sine-rnn", optimizer="sgd", optimizer_hypers={"lr": 0.3}, eval_every=0,
        task_hypers={"hidden": 8, "window": 20, "batch_size": 0, "n_points": 200},
        sharpness_every=10,
    )  # fmt: skip
    a, b = _run(cfg, False, 40), _run(cfg, True, 40)
    assert len(a.history.buckets("sharpness").lasts) > 0
    _same_runs(a, b)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_diverging_rnn_stops_at_the_same_step(dtype):
    cfg = RunConfig(
        task="sine-rnn", optimizer="sgd", dtype=dtype, optimizer_hypers={"lr": 1e3},
        divergence_factor=1.0,
    )  # fmt: skip
    a, b = _run(cfg, False, 300), _run(cfg, True, 300)
    assert a.diverged_at is not None
    _same_runs(a, b)


def test_a_build_that_ran_before_the_task_was_imported_catches_up(monkeypatch):
    """A process that built the compiled path before importing the RNN task: its first
    steps run NumPy's passes while the RNN's kernels build in a thread, then compiled ones."""
    if not rnn._passes:
        pytest.skip("NumPy's BLAS or tanh loop is not where the build looks: NumPy's passes")
    monkeypatch.setattr(rnn, "_passes", {})
    monkeypatch.setattr(rnn, "_built", rnn.threading.Event())
    monkeypatch.setattr(rnn, "_late_started", False)
    assert rnn._compiled_passes(np.dtype(np.float64)) is None
    assert rnn._built.wait(600)
    assert rnn._compiled_passes(np.dtype(np.float64)) is not None


def test_mlp_steps_use_the_ported_tanh_with_the_same_numbers(monkeypatch, port):
    """The MLPs' hidden layer runs the same port in float64 (their runs are compared bit for
    bit in test_compiled_network.py); here: it is the one a digits-mlp step calls."""
    monkeypatch.setattr(mlp, "_fused", {})  # the passes one by one (not the whole pass)
    called = []
    real = rnn.compiled_tanh

    def spy(dtype):
        found = real(dtype)
        called.append(found is not None)
        return found

    monkeypatch.setattr(rnn, "compiled_tanh", spy)
    cfg = RunConfig(task="digits-mlp", optimizer="adam", eval_every=0, state_every=5)
    compiled_run = _run(cfg, True, 30)
    assert called and all(called)
    _same_runs(_run(cfg, False, 30), compiled_run)


def test_float32_mlp_steps_use_the_ported_tanh_with_the_same_numbers(monkeypatch, port_f32):
    """The float32 hidden layer runs the float32 port (and the runs agree bit for bit)."""
    monkeypatch.setattr(mlp, "_fused", {})  # the passes one by one (not the whole pass)
    called = []
    real = rnn.compiled_tanh

    def spy(dtype):
        found = real(dtype)
        called.append(found is not None and found[1] is port_f32)
        return found

    monkeypatch.setattr(rnn, "compiled_tanh", spy)
    cfg = RunConfig(
        task="digits-mlp", optimizer="adam", dtype="float32", eval_every=10, state_every=5
    )
    compiled_run = _run(cfg, True, 40)
    assert called and all(called)
    _same_runs(_run(cfg, False, 40), compiled_run)


def test_strided_parameters_take_numpys_passes_with_the_same_numbers():
    task = tasks.create("sine-rnn", hidden=8, window=6, batch_size=16)
    params = task.init_params(np.random.default_rng(8))
    wide = np.zeros((8, 16))
    wide[:, ::2] = params["W_hh"]
    params["W_hh"] = wide[:, ::2]  # strided
    X, y = np.zeros((16, 6)), np.zeros((16, 1))
    assert not task._takes(X, y, *(params[k] for k in rnn._KEYS))
    batch = next(task.batches(np.random.default_rng(9)))
    assert _grads(task, params, batch, True) == _grads(task, params, batch, False)
