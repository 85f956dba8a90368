"""The compiled path (numba) against the NumPy path, the reference: bit for bit on every
elementwise optimizer and every task, float64 and float32 (parameters, state, histories, state
summaries, divergence steps). Both paths run in one process; without numba the comparisons
are skipped and the NumPy path is what the rest of the suite tests."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from engine import optimizers
from engine.history import SERIES
from engine.optimizers import compiled
from engine.run import Run, RunConfig

needs_numba = pytest.mark.skipif(
    not compiled.installed(), reason="numba is not installed (pip install '.[fast]')"
)

#: Every optimizer with a compiled kernel.
COMPILED = [n for n in optimizers.names() if optimizers.get(n).compiled_step is not None]

#: Knob settings that take each branch of the kernels: L2 and decoupled decay, maximize,
#: AMSGrad, β₁ < 0.5 (the other side of torch's lerp), centered RMSprop with momentum,
#: dampened momentum, Nesterov.
VARIANTS = {
    "sgd": [{}, {"weight_decay": 0.1, "maximize": True}],
    "momentum": [{}, {"dampening": 0.3, "weight_decay": 0.05}],
    "nesterov": [{}, {"maximize": True}],
    "adagrad": [{}, {"lr_decay": 0.01, "weight_decay": 0.1, "maximize": True}],
    "rmsprop": [{}, {"centered": True, "momentum": 0.9}, {"momentum": 0.5, "weight_decay": 0.1}],
    "adadelta": [{}, {"weight_decay": 0.1, "maximize": True}],
    "adam": [{}, {"amsgrad": True, "weight_decay": 0.1}, {"beta1": 0.3, "maximize": True}],
    "amsgrad": [{}],
    "adamw": [{}, {"amsgrad": True, "maximize": True}],
    "nadam": [{}, {"decoupled_weight_decay": True, "weight_decay": 0.1}, {"weight_decay": 0.1}],
    "radam": [{}, {"decoupled_weight_decay": True, "weight_decay": 0.1, "beta1": 0.2}],
    "adamax": [{}, {"weight_decay": 0.1, "maximize": True, "beta1": 0.4}],
    "lion": [{}, {"weight_decay": 0.1}],
    "adaptive-adam": [{}],
}


@pytest.fixture
def compiled_ready(monkeypatch):
    """Turn the compiled path on (the suite runs with OPTPLAY_COMPILED=0: tests/conftest.py)
    and wait for the kernels; restore the path that was active afterwards."""
    monkeypatch.delenv(compiled.ENV_SWITCH, raising=False)
    was = compiled.ready
    assert compiled.wait(600), compiled.error
    yield
    compiled.ready = was


def _steps(name: str, knobs: dict, dtype: type, use: bool, n: int, size: int) -> tuple:
    compiled.ready = use
    rng = np.random.default_rng(7)
    opt = optimizers.create(name, **knobs)
    p = rng.standard_normal(size).astype(dtype)
    for i in range(n):
        g = (rng.standard_normal(size) * (1.0 + p)).astype(dtype)
        opt.step({"w": p}, {"w": g}, lr=1e-3 * (1.5 + np.sin(i)))  # a changing rate
    state = {k: np.asarray(v).tobytes() for k, v in opt.state("w").items()}
    return p.tobytes(), state, opt.scalars("w")


# Elementwise optimizers of issue 28 that step through NumPy only (no compiled kernel yet).
NUMPY_ONLY = {"rprop", "asgd", "adabound", "schedulefree-adamw", "schedulefree-sgd"}


def test_every_elementwise_optimizer_has_a_compiled_kernel_and_variants_here():
    elementwise = [
        n for n in optimizers.names() if optimizers.get(n).elementwise and n not in NUMPY_ONLY
    ]
    assert COMPILED == elementwise
    assert sorted(VARIANTS) == sorted(COMPILED)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("name", "knobs"), [(n, k) for n, ks in VARIANTS.items() for k in ks], ids=str
)
def test_optimizer_steps_are_bit_identical(compiled_ready, name, knobs, dtype):
    """3,000 steps of a 257-element buffer: parameters, every state array and the scalars."""
    numpy_path = _steps(name, knobs, dtype, False, 3000, 257)
    compiled_path = _steps(name, knobs, dtype, True, 3000, 257)
    assert compiled_path == numpy_path


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["adam", "rmsprop", "lion"])
def test_large_buffers_match_the_blocked_numpy_path(compiled_ready, name, dtype):
    """Buffers large enough for the NumPy path's cache-sized blocks."""
    size = 3 * optimizers.base.BLOCKED_MIN_BLOCKS * optimizers.base.BLOCK_BYTES // 8 + 5
    assert _steps(name, {}, dtype, True, 4, size) == _steps(name, {}, dtype, False, 4, size)


#: Knob edits made between steps, one after another: each kernel's knob-dependent state
#: arrays (AMSGrad's max, momentum buffers, centered RMSprop's average), which a key looks up
#: once per knob setting (`_KeyState.kernel_bufs`), and the arguments the compiled path
#: derives from the knobs once per setting (`compiled._knob_args`).
EDITS = {
    "adam": [
        {"amsgrad": True},
        {"beta2": 0.9, "eps": 1e-4},
        {"amsgrad": False, "weight_decay": 0.1},
        {"maximize": True, "beta1": 0.3},
    ],
    "adamw": [{"weight_decay": 0.0}, {"weight_decay": 0.2, "amsgrad": True}],
    "sgd": [
        {"momentum": 0.9},
        {"nesterov": True},
        {"nesterov": False, "dampening": 0.5},
        {"momentum": 0.0, "weight_decay": 0.1},
    ],
    "rmsprop": [{"centered": True}, {"momentum": 0.5}, {"centered": False, "alpha": 0.9}],
    "nadam": [{"decoupled_weight_decay": True, "weight_decay": 0.1}, {"beta2": 0.95}],
    "radam": [{"weight_decay": 0.1}, {"decoupled_weight_decay": True, "beta1": 0.2}],
    "adamax": [{"beta1": 0.4, "maximize": True}],
    "adagrad": [{"eps": 1e-3, "weight_decay": 0.1}],
    "adadelta": [{"rho": 0.5}],
    "lion": [{"weight_decay": 0.1, "beta2": 0.9}],
}


def _edited_steps(name: str, dtype: type, use: bool, lookup_each_step: bool = False) -> list:
    """Three steps of a 257-element buffer under the defaults, then three after each edit of
    EDITS[name] in turn: the parameters and the whole state after every step. With
    `lookup_each_step`, the key's state arrays are looked up afresh at every step (as before
    they were kept per knob setting): the reference for what an edit must change."""
    compiled.ready = use
    rng = np.random.default_rng(3)
    opt = optimizers.create(name)
    p = rng.standard_normal(257).astype(dtype)
    seen = []
    for knobs in [{}, *EDITS[name]]:
        opt.set_hypers(**knobs)
        for _ in range(3):
            if lookup_each_step and opt.has_state("w"):
                opt._state["w"].kernel_bufs = None
            g = (rng.standard_normal(257) * (1.0 + p)).astype(dtype)
            opt.step({"w": p}, {"w": g}, lr=1e-2)
            state = {k: np.asarray(v).tobytes() for k, v in opt.state("w").items()}
            seen.append((p.tobytes(), state))
    return seen


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(EDITS))
def test_knob_edits_between_steps_take_effect_at_the_next_step(compiled_ready, name, dtype):
    """An edit between two steps changes the next step exactly as on the NumPy path, and
    as when nothing is kept per knob setting."""
    reference = _edited_steps(name, dtype, False, lookup_each_step=True)
    assert _edited_steps(name, dtype, False) == reference
    assert _edited_steps(name, dtype, True) == reference


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_knob_edits_between_run_steps_match_the_numpy_path(compiled_ready, dtype):
    """A Run steps its optimizer without the per-array checks (`Optimizer._step_checked`):
    edits between its steps apply from the next step, on both paths alike."""
    cfg = RunConfig(task="digits-mlp", optimizer="adam", seed=4, dtype=dtype, state_every=3)
    runs = []
    for use in (False, True):
        compiled.ready = use
        run = Run(cfg)
        for edit in ({"amsgrad": True, "lr": 0.01}, {"beta2": 0.9}, {"amsgrad": False}, {}):
            run.step(5)
            run.set_hypers(optimizer=edit)
        runs.append(run)
    assert runs[0].optimizer.knobs_used("flat")["amsgrad"] is False
    _same_runs(*runs)


def test_is_one_is_exactly_whether_the_dtype_rounds_to_one():
    """`compiled._is_one` (both paths' test) compares with the range float32 rounds to 1:
    the same answer as rounding, at the range's ends (ties) and the floats next to them."""
    ends = (1.0 - 2.0**-25, 1.0, 1.0 + 2.0**-24)
    near = [np.nextafter(x, d) for x in ends for d in (0.0, 2.0)]
    rng = np.random.default_rng(5)
    xs = [*ends, *near, 0.999, 0.5, 2.0, float("nan"), float("inf"), *1 + rng.normal(0, 1e-7, 200)]
    for dtype in (np.float32, np.float64):
        a = np.ones(2, dtype)
        for x in map(float, xs):
            assert compiled._is_one(x, a) == bool(dtype(x) == 1.0), (dtype, x)


@pytest.fixture
def split_small_buffers(monkeypatch):
    """Split steps over 3 threads from 64 elements (the real threshold is ~1M elements): small
    buffers take the parallel path, in chunks of 1,024 elements."""
    monkeypatch.setattr(compiled, "parallel_min", 64)
    monkeypatch.setattr(compiled, "CHUNK", 1024)
    compiled.set_threads(3)
    yield
    compiled.set_threads(None)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("name", "knobs"), [(n, k) for n, ks in VARIANTS.items() for k in ks], ids=str
)
def test_split_steps_are_bit_identical(compiled_ready, split_small_buffers, name, knobs, dtype):
    """A buffer split over threads (4,100 elements: four chunks and a short last one, ragged
    against the chunk size) gives the NumPy path's numbers."""
    numpy_path = _steps(name, knobs, dtype, False, 40, 4100)
    compiled_path = _steps(name, knobs, dtype, True, 40, 4100)
    assert compiled_path == numpy_path


@needs_numba
def test_split_steps_run_on_several_threads(compiled_ready, split_small_buffers, monkeypatch):
    seen = set()
    second = threading.Event()
    kernel = compiled.adam_step

    def watched(*args, **kwargs):
        seen.add(threading.get_ident())
        if len(seen) > 1:
            second.set()
        else:  # the first thread holds its chunk until another thread takes one (or 60 s)
            second.wait(60)
        return kernel(*args, **kwargs)

    monkeypatch.setattr(optimizers.get("adam"), "compiled_step", watched)
    opt = optimizers.create("adam")
    p = np.ones(64 * 1024, np.float32)
    opt.step({"w": p}, {"w": np.full_like(p, 0.5)})
    assert len(seen) > 1


def test_thread_limit_comes_from_the_setting_then_numba_then_the_cores(monkeypatch):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    assert compiled.threads() == 1
    try:
        compiled.set_threads(2)
        assert compiled.threads() == 2
    finally:
        compiled.set_threads(None)
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    assert compiled.threads() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        compiled.set_threads(0)


def test_sweep_workers_split_no_step(tmp_path):
    """Pool workers get NUMBA_NUM_THREADS=1: the runs side by side are the parallelism."""
    from engine.executors import ProcessExecutor

    with ProcessExecutor(workers=1) as executor:
        [(_, threads)] = list(executor.map_unordered(_threads_in_worker, [None]))
    assert threads == 1


def _threads_in_worker(_job: object) -> int:
    return compiled.threads()


def _run(cfg: RunConfig, use: bool, steps: int) -> Run:
    compiled.ready = use
    run = Run(cfg)
    run.step(steps)
    return run


def _same_runs(a: Run, b: Run) -> None:
    for name in SERIES:
        for x, y in zip(a.history.buckets(name), b.history.buckets(name), strict=True):
            assert x.tobytes() == y.tobytes(), name
    for k in a.params:
        assert a.params[k].tobytes() == b.params[k].tobytes(), k
    assert (a.diverged_at, a.divergence) == (b.diverged_at, b.divergence)
    sa, sb = a.state_summaries, b.state_summaries
    assert (sa is None) == (sb is None)
    if sa is not None:
        for x, y in zip(sa.table(), sb.table(), strict=True):
            assert x.tobytes() == y.tobytes()


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("task", ["digits-mlp", "sine-rnn", "linear-regression", "rosenbrock"])
def test_runs_are_bit_identical_for_every_optimizer(compiled_ready, task, dtype):
    """Histories, parameters, state summaries and divergence of whole runs."""
    for name in COMPILED:
        cfg = RunConfig(task=task, optimizer=name, seed=2, dtype=dtype, eval_every=20)
        cfg = cfg.replace(state_every=10)
        _same_runs(_run(cfg, False, 120), _run(cfg, True, 120))


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_runs_are_bit_identical_on_every_task(compiled_ready, dtype):
    from engine import tasks

    for task in tasks.names():
        for name in ("adam", "momentum", "lion"):
            cfg = RunConfig(task=task, optimizer=name, seed=1, dtype=dtype, state_every=7)
            _same_runs(_run(cfg, False, 80), _run(cfg, True, 80))


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_divergence_is_found_at_the_same_step(compiled_ready, name, dtype):
    cfg = RunConfig(task="rosenbrock", optimizer=name, dtype=dtype, optimizer_hypers={"lr": 50.0})
    a, b = _run(cfg, False, 500), _run(cfg, True, 500)
    assert a.diverged_at is not None
    _same_runs(a, b)


@needs_numba
def test_switching_paths_mid_run_changes_no_number(compiled_ready):
    """What the app does when the background compile finishes: NumPy, then compiled."""
    cfg = RunConfig(task="digits-mlp", optimizer="adam", dtype="float32", state_every=5)
    reference = _run(cfg, False, 200)
    switched = _run(cfg, False, 90)
    compiled.ready = True
    switched.step(110)
    _same_runs(reference, switched)


def _in_subprocess(code: str, tmp_path, **env: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full = {**os.environ, "PYTHONPATH": root, **env}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=full, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_environment_switch_keeps_the_numpy_path(tmp_path):
    code = (
        "import numpy as np\n"
        "from engine import optimizers\n"
        "from engine.optimizers import compiled\n"
        "opt = optimizers.create('adam')\n"
        "opt.step({'w': np.ones(3)}, {'w': np.ones(3)})\n"
        "import sys\n"
        "print(compiled.wait(60), 'numba' in sys.modules, compiled.describe())\n"
    )
    out = _in_subprocess(code, tmp_path, OPTPLAY_COMPILED="0")
    if compiled.installed():
        assert out == "False False NumPy (OPTPLAY_COMPILED=0)"
    else:
        assert out == "False False NumPy (numba not installed)"


@needs_numba
def test_a_path_turned_on_after_a_step_found_it_off_still_builds(tmp_path):
    """The suite's order: steps run with OPTPLAY_COMPILED=0 first, then a test turns it on."""
    code = (
        "import os\n"
        "import numpy as np\n"
        "from engine import optimizers\n"
        "from engine.optimizers import compiled\n"
        "optimizers.create('adam').step({'w': np.ones(3)}, {'w': np.ones(3)})\n"
        "assert compiled.requested and not compiled.ready\n"
        "del os.environ['OPTPLAY_COMPILED']\n"
        "print(compiled.wait(600))\n"
    )
    assert _in_subprocess(code, tmp_path, OPTPLAY_COMPILED="0") == "True"


def test_without_numba_the_numpy_path_runs(monkeypatch):
    monkeypatch.setattr(compiled, "installed", lambda: False)
    assert not compiled.available()
    assert compiled.describe() == "NumPy (numba not installed)"


@needs_numba
def test_turning_the_path_off_and_on(compiled_ready):
    try:
        compiled.set_enabled(False)
        assert not compiled.ready
        assert compiled.describe() == "NumPy (compiled path turned off)"
        compiled.set_enabled(True)
        assert compiled.ready
        assert compiled.describe().startswith("compiled (numba ")
    finally:
        compiled.set_enabled(True)


def test_cache_folder_is_a_writable_user_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = compiled._cache_dir()
    assert folder.startswith(str(tmp_path / "cache"))
    assert os.path.isdir(folder)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "given"))
    assert compiled._cache_dir() == str(tmp_path / "given")


def test_status_line_names_the_compiled_path_while_running(monkeypatch):
    from engine.session import Status
    from tui.widgets.status import parts_of

    running = Status(state="running", step=10, steps_per_second=5000.0)
    texts = lambda: [long for _, long, _ in parts_of(running)]  # noqa: E731
    monkeypatch.setattr(compiled, "ready", True)
    assert "5,000 steps/s compiled" in texts()
    monkeypatch.setattr(compiled, "ready", False)
    assert "5,000 steps/s" in texts()
