"""The optional compiled path: numba kernels of the elementwise optimizers, bit-identical
with their NumPy kernels.

Each kernel is one loop over a flat parameter buffer doing, per element, exactly the rounded
operations of the family's NumPy kernel in the same order (`_lerp`, `_ema_sq`, `_grad`, ...
one scalar operation for each ufunc pass), in the array's dtype: the per-step scalars are
rounded to that dtype first, as NumPy rounds a Python float operand of a float32 array. No
fastmath, so LLVM neither reassociates nor contracts a·b + c into a fused multiply-add; sqrt
and division are IEEE-exact in both. The loop streams θ, g and the state from memory once
per step instead of once per ufunc pass, and a small buffer pays no Python call per pass.

Used automatically when numba is installed (the `fast` extra), unless the environment sets
OPTPLAY_COMPILED=0, the app's settings file says `compiled = false` (tui/settings.py) or
`set_enabled(False)` is called. The first elementwise step asks for
the kernels (`request`): a background thread imports numba and compiles them (or loads them
from numba's on-disk cache, kept in a writable folder: see `_cache_dir`) while the steps run
on NumPy; once `ready` is set, the next step runs compiled, with the same numbers. `wait()`
blocks until then (benchmarks, tests).

A family opts in with one line, `compiled_step = compiled.adam_step`: the base class's
`_step_key` calls it (as a method) with flat views when `ready`. The `*_step` functions here
only unpack the optimizer's knobs and scalars into the kernel's arguments.

A buffer of at least `parallel_min` elements is split into chunks stepped on `threads()`
threads at once (`split_step`). Every kernel is elementwise, so a chunk's numbers are those of
the whole buffer's loop: the split changes the time, never a bit. One thread's loop of the
Adam family is bound by the divide and square-root unit (two divisions and a root per
element), not by memory, so a second core nearly halves it. The chunks run the same compiled
kernels (they release the GIL) on a small pool of Python threads rather than through numba's
`parallel=True`: no second set of kernels to compile, and numba's only threading layer that
ships with it (workqueue) aborts the process when two threads (the app's workers) launch
parallel loops at once. Worker processes of a sweep get one thread (engine/executors.py sets
NUMBA_NUM_THREADS=1 for them): the runs side by side are the parallelism there.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ENV_SWITCH = "OPTPLAY_COMPILED"

#: True once the kernels are compiled (or loaded) and the path is enabled: steps run compiled.
ready = False
#: Whether a step has asked for the kernels (`request`): steps stop asking once it is set.
requested = False
_started = False  # the background build has been started
#: Seconds the background thread took to import numba and compile or load every kernel.
compile_seconds: float | None = None
#: Why the compiled path failed to build, if it did (then the NumPy path runs).
error: str | None = None

_enabled = True
_off_by_setting = False  # the settings file's `compiled = false` (`turn_off_by_setting`)
#: Steps tiny buffers through each kernel so the build thread compiles (or loads) all of them.
#: engine/optimizers/base.py installs it: it builds optimizers, and this module never imports
#: the base (the base imports this one).
warm_up: Callable[[dict[str, Any]], None] | None = None
#: Further builds, installed by the modules whose kernels they are (the sine RNN's:
#: engine/tasks/rnn.py), so that this module imports no task: each adds its compiled and
#: warmed-up kernels to the build's dict (or none, when they fail its own checks).
extra_builds: list[Callable[[dict[str, Any]], None]] = []
#: One event per build step added after the build had run (`add_build`), set when it ends.
_late_builds: list[threading.Event] = []
#: Notes on parts of a build that fell back to NumPy's passes (the MLPs' whole pass when
#: NumPy's BLAS is not found: engine/tasks/mlp.py), each a function giving a phrase or None;
#: `describe` adds them once the path is ready.
build_notes: list[Callable[[], str | None]] = []
_kernels: dict[str, Any] = {}
#: Per dtype, the addresses of NumPy's own BLAS functions and ufunc loops that the kernels
#: calling them take as an argument (engine/tasks/_mlp_kernels.py `blas_functions`), filled
#: by the build when they were found and checked; empty otherwise.
blas_tables: dict[np.dtype, np.ndarray] = {}
#: Per dtype, every kernel by name as its compiled entry point for the argument types the
#: build warmed it up with (`_entry_points`): a call skips numba's dispatcher, whose type
#: matching costs more than a small kernel's work (~1 µs of an 18-argument call against
#: ~0.3). Callers pass exactly those types: C-contiguous arrays of the dtype with the warmed
#: number of dimensions (an entry point reads any array as that layout).
_entries: dict[np.dtype, dict[str, Any]] = {}
_lock = threading.Lock()
_done = threading.Event()


def installed() -> bool:
    """Whether numba can be imported (without importing it: that takes a while)."""
    return importlib.util.find_spec("numba") is not None


def switched_off() -> bool:
    """Whether the environment turns the compiled path off (OPTPLAY_COMPILED=0/false/no/off)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "false", "no", "off")


def available() -> bool:
    """Whether the compiled path will run once compiled: numba installed and not turned off."""
    return _enabled and not switched_off() and installed() and error is None


def numba_version() -> str | None:
    """numba's installed version, read from its metadata (no import), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numba")
    except PackageNotFoundError:
        return None


def describe() -> str:
    """Which path runs, for `--version`: 'compiled (numba 0.68.1)', 'compiling (numba
    0.68.1)' while the background compile runs, or 'NumPy (<why>)'."""
    if not installed():
        return "NumPy (numba not installed)"
    if _off_by_setting and switched_off():
        return "NumPy (compiled = false in settings.toml)"
    if switched_off():
        return f"NumPy ({ENV_SWITCH}=0)"
    if not _enabled:
        return "NumPy (compiled path turned off)"
    if error is not None:
        return "NumPy (numba failed: see optplay --version)"
    if ready:
        notes = [note for note in (f() for f in build_notes) if note]
        extra = "".join(f"; {note}" for note in notes)
        return f"compiled (numba {numba_version()}{extra})"
    if _started and not _done.is_set():
        return f"compiling (numba {numba_version()})"
    return f"compiled (numba {numba_version()})"  # what the first step asks for


def set_enabled(enabled: bool) -> None:
    """Turn the compiled path on or off for this process (a setting; the numbers are the
    same either way). Turning it on starts the compile if it has not run yet."""
    global _enabled, ready, requested
    _enabled = enabled
    if not enabled:
        ready = False
    elif _kernels:
        ready = not switched_off()
    else:
        requested = False
        request()


def turn_off_by_setting() -> None:
    """The app's settings say `compiled = false`: the NumPy path in this process and in the
    worker processes it starts (through the environment switch, which they inherit), unless
    the environment already sets OPTPLAY_COMPILED: it decides for this launch."""
    global _off_by_setting, ready
    if ENV_SWITCH in os.environ:
        return
    os.environ[ENV_SWITCH] = "0"
    _off_by_setting = True
    ready = False


def request() -> None:
    """Start compiling the kernels in a background thread, once, if the path is available
    (steps call it until `requested` is set; `wait` and `set_enabled` call it again, so a path
    turned on after a step found it off still builds)."""
    global requested, _started
    with _lock:
        requested = True
        if _started or not available():
            return
        _started = True
    threading.Thread(target=_build, name="optplay-compile", daemon=True).start()


def wait(timeout: float | None = None) -> bool:
    """Request the kernels and block until they are ready (or the build failed, or the path
    is unavailable). Returns `ready`."""
    global ready
    request()
    if _started:
        _done.wait(timeout)
        for finished in list(_late_builds):  # steps added after the build (`add_build`)
            finished.wait(timeout)
    if _kernels and available():
        ready = True
    return ready


def _cache_dir() -> str:
    """A writable folder for numba's cache: NUMBA_CACHE_DIR if set, else the user's cache
    folder (an installed package's own folder may be read-only), else a temporary folder."""
    import tempfile

    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return given
    candidates = []
    try:
        from platformdirs import user_cache_dir

        candidates.append(os.path.join(user_cache_dir("optplay"), "numba"))
    except Exception:  # platformdirs missing or no home: the temporary folder still works
        pass
    candidates.append(os.path.join(tempfile.gettempdir(), "optplay-numba-cache"))
    for folder in candidates:
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return candidates[-1]


def _build() -> None:
    global ready, compile_seconds, error
    started = time.perf_counter()
    try:
        os.environ.setdefault("NUMBA_CACHE_DIR", _cache_dir())
        kernels = _compile()
        if warm_up is not None:
            warm_up(kernels)
        done = 0
        while True:  # a build step added meanwhile (`add_build`) runs here too
            with _lock:
                if done == len(extra_builds):
                    break
                build = extra_builds[done]
            build(kernels)
            done += 1
    except Exception as exc:  # numba too old for this NumPy, no compiler, ...: NumPy runs
        error = f"{type(exc).__name__}: {exc}"
    else:
        with _lock:  # from here, `add_build` runs a new step in a thread of its own
            _entries.update(_entry_points(kernels))
            _kernels.update(kernels)
        compile_seconds = time.perf_counter() - started
        ready = _enabled and not switched_off()
    finally:
        _done.set()


def add_build(build: Callable[[dict[str, Any]], None]) -> None:
    """Add a build step for kernels of a module loaded on demand (a task family): run by the
    build with the others, or, when the build has already installed its kernels (the module
    was imported later, e.g. digits-mlp picked after a Rosenbrock run), in a thread of its
    own whose new kernels are installed when it ends (`wait` waits for it too). Steps run
    NumPy's passes until then, with the same numbers."""
    with _lock:
        extra_builds.append(build)
        late = _done.is_set() and bool(_kernels)
        if late:
            finished = threading.Event()
            _late_builds.append(finished)
    if late:
        threading.Thread(
            target=_late_build, args=(build, finished), name="optplay-compile-late",
            daemon=True,
        ).start()  # fmt: skip


def _late_build(build: Callable[[dict[str, Any]], None], finished: threading.Event) -> None:
    try:
        with _lock:
            kernels = dict(_kernels)
        build(kernels)  # adds what it compiled and checked to `kernels`
        added = {name: k for name, k in kernels.items() if name not in _kernels}
        entries = _entry_points(added)
        with _lock:
            for dtype, table in entries.items():
                _entries.setdefault(dtype, {}).update(table)
            _kernels.update(added)
    except Exception:  # a build step keeps its own notes: its module's NumPy passes run
        pass
    finally:
        finished.set()


def _compile() -> dict[str, Any]:
    from engine.optimizers import _kernels

    return {name: getattr(_kernels, name) for name in (*_STEPPERS, *NETWORK_KERNELS)}


#: Kernels of the networks' elementwise passes (engine/tasks/mlp.py) and of a step's
#: bookkeeping (engine/run.py), by name.
NETWORK_KERNELS = (
    "tanh_backward", "softmax_grad", "bias_add", "softmax_shift", "row_sums", "softmax_finish",
    "copy_into", "difference",
)  # fmt: skip


def _entry_points(kernels: dict[str, Any]) -> dict[np.dtype, dict[str, Any]]:
    """`_entries` from the warmed-up dispatchers: a kernel with one compiled signature for a
    dtype gets its entry point; one with several keeps its dispatcher (which picks)."""
    out: dict[np.dtype, dict[str, Any]] = {np.dtype(np.float32): {}, np.dtype(np.float64): {}}
    for name, dispatcher in kernels.items():
        by_dtype: dict[np.dtype, list] = {}
        for signature, result in dispatcher.overloads.items():
            dtype = np.dtype(str(signature[0].dtype))
            by_dtype.setdefault(dtype, []).append(result.entry_point)
        for dtype, table in out.items():
            points = by_dtype.get(dtype, [])
            table[name] = points[0] if len(points) == 1 else dispatcher
    return out


# -- splitting large buffers over threads ----------------------------------------------------

#: Buffers of at least this many elements are stepped on several threads (`split_step`). Below
#: it, waking a helper thread costs more than it can save (tests/perf/bench_optimizers.py
#: --threads): a split costs 20-40 us when the other core is busy (split / one thread: 4.5x
#: at 8K elements, 1.3x at 256K on a loaded 2-core machine), while one thread's Adam takes
#: ~0.6 ns per float32 element, so from 1M elements (~0.6 ms) the cost is at most a few per
#: cent when no core is free and the split nearly halves the step when one is.
PARALLEL_MIN = 1 << 20
#: The threshold in force (tests lower it to split small buffers).
parallel_min = PARALLEL_MIN
#: Elements per chunk of a split step, at most: chunks are handed out one at a time to
#: whichever thread is free, so a thread the machine's load delays takes fewer. A multiple of
#: 1024 elements keeps each chunk's start on its own cache lines.
CHUNK = 1 << 18
_thread_limit: int | None = None
_pool: Any = None  # (ThreadPoolExecutor, its worker count, the process id that started it)
_pool_lock = threading.Lock()


def set_threads(count: int | None) -> None:
    """Use at most `count` threads for a split step in this process (None: the default, see
    `threads`)."""
    global _thread_limit
    if count is not None and (isinstance(count, bool) or int(count) < 1):
        raise ValueError(f"threads must be an integer >= 1, got {count!r}")
    _thread_limit = None if count is None else int(count)


def threads() -> int:
    """Threads a split step uses: `set_threads`'s count, else NUMBA_NUM_THREADS (numba's own
    limit, which sweep workers set to 1), else the cores this process may run on."""
    if _thread_limit is not None:
        return _thread_limit
    given = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if given:
        try:
            return max(1, int(given))
        except ValueError:
            pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _workers(count: int) -> Any:
    """The pool of `count` helper threads (the caller is one more), started on first use and
    again after a fork (a forked child has none of its parent's threads)."""
    global _pool
    pid = os.getpid()
    with _pool_lock:
        if _pool is None or _pool[1] != count or _pool[2] != pid:
            from concurrent.futures import ThreadPoolExecutor

            if _pool is not None and _pool[2] == pid:
                _pool[0].shutdown(wait=False)
            pool = ThreadPoolExecutor(count, thread_name_prefix="optplay-step")
            _pool = (pool, count, pid)
        return _pool[0]


def split_step(step: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any) -> None:
    """step(p, g, bufs, c) (a family's bound `compiled_step`) over chunks of the flat buffers
    on `threads()` threads: the calling thread and helpers each take the next chunk until none
    is left. Elementwise kernels give the same numbers as one call on the whole buffers."""
    count = threads()
    n = p.size
    if count <= 1:
        step(p, g, bufs, c)
        return
    size = min(CHUNK, -(-n // count))
    size = -(-size // 1024) * 1024
    chunks = iter(range(0, n, size))

    def work() -> None:
        for i in chunks:  # next() on a shared iterator: each chunk goes to one thread
            j = i + size
            step(p[i:j], g[i:j], [None if b is None else b[i:j] for b in bufs], c)

    pool = _workers(count - 1)
    helpers = [pool.submit(work) for _ in range(count - 1)]
    try:
        work()
    finally:
        for helper in helpers:
            if not helper.cancel():  # started: wait for its chunks (a pending one has none)
                helper.result()


def kernel(name: str) -> Any:
    """The compiled kernel `name` when the path is ready, else None (then NumPy runs)."""
    return _kernels[name] if ready else None


def kernels_for(dtype: np.dtype) -> dict[str, Any] | None:
    """Every kernel by name as its entry point for arrays of `dtype` (see `_entries`: only
    for C-contiguous arrays of the warmed shapes) when the path is ready, else None."""
    return _entries.get(dtype) if ready else None


# -- argument unpacking (one per family; each is the family's `compiled_step`) ---------------
# `Optimizer._step_key` calls them with 1-D C-contiguous arrays of one dtype (what the entry
# points take); the build's warm-up passes its dispatchers as `k`.
# Scalars go to the kernels as Python floats (each kernel rounds them to the dtype); what
# depends only on the knobs is computed once per knob setting (`_knob_args`).


def _knob_args(opt: Any, build: Any) -> tuple:
    """build(opt), cached until the knobs change (`set_hypers` installs a new dict)."""
    cached = opt.__dict__.get("_compiled_knobs")
    if cached is None or cached[0] is not opt.hypers:
        cached = opt._compiled_knobs = (opt.hypers, build(opt))
    return cached[1]


def _grad_mode(wd: float, maximize: bool) -> int:
    """`_grad`'s case as the kernels number it."""
    if wd != 0.0:
        return 3 if maximize else 2
    return 1 if maximize else 0


def _lerp_args(w: float) -> tuple[float, bool]:
    """`_lerp`'s factor and branch."""
    return (w, True) if w < 0.5 else (1.0 - w, False)


#: The floats that float32 rounds to exactly 1: [1 − 2⁻²⁵, 1 + 2⁻²⁴], 1 and its two half-way
#: points (ties round to 1, whose significand is even). float64 rounds only 1.0 itself to 1.
_F32_ONE_LOW, _F32_ONE_HIGH = 1.0 - 2.0**-25, 1.0 + 2.0**-24


def _is_one(x: float, p: np.ndarray) -> bool:
    """Whether `x` (a float) is exactly 1 as p's dtype (float32 or float64) rounds it, so
    `p / x` is `p` itself: bias corrections 1 − βᵗ get there after a few thousand steps
    (float32 sooner), and their pass over the array is then skipped, with the same numbers.
    Both paths ask this (`base._is_one`); comparing with float32's range costs ~30 ns a step,
    rounding x to float32 and back ~250 ns."""
    return x == 1.0 or (p.itemsize == 4 and _F32_ONE_LOW <= x <= _F32_ONE_HIGH)


def _adam_knobs(opt: Any) -> tuple:
    b2 = float(opt.beta2)
    return b2, 1.0 - b2, float(opt.eps), float(opt.weight_decay), bool(opt.maximize)


def adam_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """Adam, AMSGrad, AdamW and adaptive-adam (`Adam._kernel`)."""
    b2, one_minus_b2, eps, weight_decay, maximize = _knob_args(opt, _adam_knobs)
    m, v, vmax = bufs
    decay = c.decay
    wd = weight_decay if decay is None else 0.0
    w1, low1 = _lerp_args(1 - c.beta1)
    (k or _entries[p.dtype])["adam"](
        p, g, m, v, v if vmax is None else vmax, vmax is not None,
        1.0 if decay is None else decay, decay is not None, wd, _grad_mode(wd, maximize),
        w1, low1, b2, one_minus_b2, c.bias_correction2_sqrt,
        not _is_one(c.bias_correction2_sqrt, p), eps, -c.step_size,
    )  # fmt: skip


def adam_flat(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, norm: tuple | None) -> Any:
    """`adam_step` on these buffers as a function of the step's scalars alone, for a caller
    stepping one flat buffer under unchanged knobs (`Optimizer._compiled_flat_step`): the
    arguments that depend only on the knobs and buffers are computed here, once. With `norm`
    = (prev, out, fns), the kernel that also leaves the update p − prev in out and returns
    its squared norm (`_mlp_kernels.adam_norm`, when the build installed it): the function
    returns that float, else None."""
    b2, one_minus_b2, eps, weight_decay, maximize = _adam_knobs(opt)
    m, v, vmax = bufs
    vm, has_vmax = (v, False) if vmax is None else (vmax, True)
    entries = _entries[p.dtype]
    kernel = entries["adam"]
    fused = entries.get("adam_norm") if norm is not None else None
    prev, out, fns = norm if fused is not None else (None, None, None)
    mode_l2, mode = _grad_mode(weight_decay, maximize), _grad_mode(0.0, maximize)
    f32 = p.itemsize == 4
    lerp = [None, 0.0, False]  # β₁ and `_lerp_args(1 − β₁)` (adaptive-adam schedules β₁)

    def step(c: Any) -> float | None:
        _, b1, _, _, step_size, bc2_sqrt, decay = c  # AdamScalars
        if decay is None:
            decay, has_decay, wd, grad_mode = 1.0, False, weight_decay, mode_l2
        else:
            has_decay, wd, grad_mode = True, 0.0, mode
        if b1 != lerp[0]:
            lerp[:] = (b1, *_lerp_args(1 - b1))
        # not `_is_one(bc2_sqrt, p)`, inlined
        divide = not (bc2_sqrt == 1.0 or (f32 and _F32_ONE_LOW <= bc2_sqrt <= _F32_ONE_HIGH))
        if fused is not None:
            return fused(
                p, g, m, v, vm, has_vmax, decay, has_decay, wd, grad_mode, lerp[1], lerp[2],
                b2, one_minus_b2, bc2_sqrt, divide, eps, -step_size, prev, out, fns,
            )  # fmt: skip
        kernel(
            p, g, m, v, vm, has_vmax, decay, has_decay, wd, grad_mode, lerp[1], lerp[2],
            b2, one_minus_b2, bc2_sqrt, divide, eps, -step_size,
        )  # fmt: skip
        return None

    return step


def _nadam_knobs(opt: Any) -> tuple:
    b2 = float(opt.beta2)
    w1, low1 = _lerp_args(1 - opt.beta1)
    return w1, low1, b2, 1.0 - b2, float(opt.eps), float(opt.weight_decay), bool(opt.maximize)


def nadam_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """NAdam (`NAdam._kernel`)."""
    w1, low1, b2, one_minus_b2, eps, weight_decay, maximize = _knob_args(opt, _nadam_knobs)
    m, v = bufs
    decay = c.decay
    wd = weight_decay if decay is None else 0.0
    (k or _entries[p.dtype])["nadam"](
        p, g, m, v, 1.0 if decay is None else decay, decay is not None, wd,
        _grad_mode(wd, maximize), w1, low1, b2, one_minus_b2, c.bias_correction2,
        not _is_one(c.bias_correction2, p), eps, -c.grad_coef, -c.momentum_coef,
    )  # fmt: skip


def radam_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """RAdam (`RAdam._kernel`)."""
    w1, low1, b2, one_minus_b2, eps, weight_decay, maximize = _knob_args(opt, _nadam_knobs)
    m, v = bufs
    decay = c.decay
    wd = weight_decay if decay is None else 0.0
    (k or _entries[p.dtype])["radam"](
        p, g, m, v, 1.0 if decay is None else decay, decay is not None, wd,
        _grad_mode(wd, maximize), w1, low1, b2, one_minus_b2, c.bias_correction1,
        not _is_one(c.bias_correction1, p), c.lr, bool(c.rectified), c.bias_correction2_sqrt,
        eps, c.rect if c.rectified else 1.0,
    )  # fmt: skip


def _adamax_knobs(opt: Any) -> tuple:
    wd = float(opt.weight_decay)
    w1, low1 = _lerp_args(1 - opt.beta1)
    return wd, _grad_mode(wd, opt.maximize), w1, low1, float(opt.beta2), float(opt.eps)


def adamax_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """Adamax (`Adamax._kernel`)."""
    m, u = bufs
    (k or _entries[p.dtype])["adamax"](p, g, m, u, *_knob_args(opt, _adamax_knobs), -c.step_size)


def _rmsprop_knobs(opt: Any) -> tuple:
    wd, alpha = float(opt.weight_decay), float(opt.alpha)
    wg, lowg = _lerp_args(1.0 - alpha)
    return (
        bool(opt.centered), opt.momentum > 0, wd, _grad_mode(wd, opt.maximize), alpha,
        1.0 - alpha, wg, lowg, float(opt.eps), float(opt.momentum),
    )  # fmt: skip


def rmsprop_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """RMSprop, centered or not, with or without momentum (`RMSprop._kernel`)."""
    sq, gavg, buf = bufs
    (k or _entries[p.dtype])["rmsprop"](
        p, g, sq, sq if gavg is None else gavg, sq if buf is None else buf,
        *_knob_args(opt, _rmsprop_knobs), -c.lr,
    )  # fmt: skip


def _adagrad_knobs(opt: Any) -> tuple:
    wd = float(opt.weight_decay)
    return wd, _grad_mode(wd, opt.maximize), float(opt.eps)


def adagrad_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """Adagrad (`Adagrad._kernel`)."""
    knobs = _knob_args(opt, _adagrad_knobs)
    (k or _entries[p.dtype])["adagrad"](p, g, bufs[0], *knobs, -c.decayed_lr)


def _adadelta_knobs(opt: Any) -> tuple:
    wd, rho = float(opt.weight_decay), float(opt.rho)
    return wd, _grad_mode(wd, opt.maximize), rho, 1.0 - rho, float(opt.eps)


def adadelta_step(
    opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None
) -> None:
    """Adadelta (`Adadelta._kernel`)."""
    sq, acc = bufs
    (k or _entries[p.dtype])["adadelta"](p, g, sq, acc, *_knob_args(opt, _adadelta_knobs), -c.lr)


def _sgd_knobs(opt: Any) -> tuple:
    wd, mu, dampening = float(opt.weight_decay), float(opt.momentum), float(opt.dampening)
    return (
        mu != 0.0, dampening != 0.0, bool(opt.nesterov), wd, _grad_mode(wd, opt.maximize),
        mu, 1.0 - dampening,
    )  # fmt: skip


def sgd_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """SGD, momentum and Nesterov (`SGD._kernel`)."""
    buf = bufs[0]
    momentum, dampen, nesterov, wd, grad_mode, mu, one_minus_dampening = _knob_args(opt, _sgd_knobs)
    (k or _entries[p.dtype])["sgd"](
        p, g, p if buf is None else buf, momentum, bool(c.fresh_buffer), dampen, nesterov, wd,
        grad_mode, mu, one_minus_dampening, -c.lr,
    )  # fmt: skip


def _lion_knobs(opt: Any) -> tuple:
    wd, b1, b2 = float(opt.weight_decay), float(opt.beta1), float(opt.beta2)
    return wd != 0.0, wd, b1, 1.0 - b1, b2, 1.0 - b2


def lion_step(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, c: Any, k: Any = None) -> None:
    """Lion (`Lion._kernel`)."""
    (k or _entries[p.dtype])["lion"](p, g, bufs[0], *_knob_args(opt, _lion_knobs), c.lr)


def _norm_kernel(name: str, p: np.ndarray, norm: tuple | None) -> tuple:
    """(the kernel `name` with the update's squared norm, prev, out, fns) for a flat step given
    `norm`, when the build installed that kernel; else (None, None, None, None)."""
    fused = _entries[p.dtype].get(name) if norm is not None else None
    if fused is None:
        return None, None, None, None
    return (fused, *norm)


def sgd_flat(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, norm: tuple | None) -> Any:
    """`sgd_step` on these buffers as a function of the step's scalars alone (`adam_flat`'s
    rules; with `norm`, `_mlp_kernels.sgd_norm`)."""
    momentum, dampen, nesterov, wd, grad_mode, mu, one_minus_dampening = _sgd_knobs(opt)
    buf = p if bufs[0] is None else bufs[0]
    kernel = _entries[p.dtype]["sgd"]
    fused, prev, out, fns = _norm_kernel("sgd_norm", p, norm)

    def step(c: Any) -> float | None:
        lr, fresh = c  # SGDScalars
        fresh = bool(fresh)
        if fused is not None:
            return fused(
                p, g, buf, momentum, fresh, dampen, nesterov, wd, grad_mode, mu,
                one_minus_dampening, -lr, prev, out, fns,
            )  # fmt: skip
        kernel(
            p, g, buf, momentum, fresh, dampen, nesterov, wd, grad_mode, mu,
            one_minus_dampening, -lr,
        )  # fmt: skip
        return None

    return step


def rmsprop_flat(opt: Any, p: np.ndarray, g: np.ndarray, bufs: list, norm: tuple | None) -> Any:
    """`rmsprop_step` on these buffers as a function of the step's scalars alone
    (`adam_flat`'s rules; with `norm`, `_mlp_kernels.rmsprop_norm`)."""
    sq, gavg, buf = bufs
    gavg = sq if gavg is None else gavg
    buf = sq if buf is None else buf
    knobs = _rmsprop_knobs(opt)
    kernel = _entries[p.dtype]["rmsprop"]
    fused, prev, out, fns = _norm_kernel("rmsprop_norm", p, norm)

    def step(c: Any) -> float | None:
        if fused is not None:
            return fused(p, g, sq, gavg, buf, *knobs, -c.lr, prev, out, fns)
        kernel(p, g, sq, gavg, buf, *knobs, -c.lr)
        return None

    return step


#: Each family's flat step (`Optimizer._compiled_flat_step`) by its `compiled_step`, where it
#: has one: flat(opt, p, g, bufs, norm) gives the kernel's call as a function of the scalars.
flat_steps: dict[Any, Any] = {adam_step: adam_flat, sgd_step: sgd_flat, rmsprop_step: rmsprop_flat}

#: A registered optimizer of each kernel, for warming the kernels up.
_STEPPERS = {
    "adam": adam_step,
    "nadam": nadam_step,
    "radam": radam_step,
    "adamax": adamax_step,
    "rmsprop": rmsprop_step,
    "adagrad": adagrad_step,
    "adadelta": adadelta_step,
    "sgd": sgd_step,
    "lion": lion_step,
}
