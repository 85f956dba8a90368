"""Time per full training step of digits-mlp (64-128-10, batch 32, Adam): engine vs PyTorch.

Run from the repository root (prints figures; asserts nothing):
    python tests/perf/bench_run.py    # engine, and torch side by side where torch is installed
    python tests/perf/bench_run.py --recording    # only what keeping a run in the store costs

One process, one thread: BLAS/OpenMP thread counts are pinned to 1 before numpy/torch load,
and torch.set_num_threads(1). The engine step is `Run.step` (batch draw, forward, backward,
Adam on the flat buffer, metrics: loss, lr, grad/update norms, history append); evaluation is
off (eval_every=0) because the torch loop does not evaluate either. The torch loop is
nn.Sequential(Linear(64, 128), Tanh, Linear(128, 10)) + CrossEntropyLoss + Adam (default
single-tensor and fused=True), batches of 32 drawn the same way (epoch permutation, gather)
from the same training set, and `loss.item()` each step as the engine reports the loss.
The engine runs on whichever optimizer path is active (the compiled numba kernels when numba
is installed: engine/optimizers/compiled.py; OPTPLAY_COMPILED=0 for NumPy); on the compiled
path the step's loss_and_grads is one kernel calling NumPy's own BLAS and exp/log/tanh loops
(engine/tasks/_mlp_kernels.py), where NumPy ships scipy-openblas.
Figures are the best of the repeats (the machine is shared; the best is the least disturbed),
in CPU time of this thread (time.thread_time: time spent descheduled by other processes' load
is not counted; everything, torch included, runs on this one thread).

It also prints the cost of optimizer-state summaries (RunConfig.state_every: quantiles of the
effective lr, |m| and √v̂ per parameter, engine/state_history.py): Run.step with summaries
off, every 10 steps, every STATE_EVERY = 16 steps (what the app records once its State tab
has been shown, engine/session.py) and every step, measured side by side, and the time of
one record; then the app's setting on Rosenbrock, where a step is cheapest. Then what
recording a run in the run store costs against training it (`recording_cost`).

Then the anchors, side by side in interleaved rounds (median of ROUNDS rounds, in CPU time of
the whole process, since JAX runs XLA on threads of its own that CPU time of this thread would
not count, and in wall time, which counts time descheduled by a shared machine's load): Run.step
on the NumPy path and on the compiled path, JAX with optax Adam jitted one step per call and
under `lax.scan` 100 steps per call (when jax and optax are installed: not dependencies), and
torch's default Adam loop (when torch is installed), float64 and float32, with their ratios;
and the compiled path's first-use compile time, with a cold and a warm numba cache.

Last, the cost of sharpness (RunConfig.sharpness_every, engine/theory.py: power iteration on
finite-difference Hessian-vector products, warm-started, plus λ_max(P⁻¹H) for Adam): Run.step
with sharpness off and every 10 steps, side by side, for SGD and Adam (target: at most 25% of
a step at every 10), in interleaved rounds: the median of the rounds' ratios.
`python tests/perf/bench_run.py --sharpness` prints only that part,
`--anchors` only the compile times and the anchors.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/torch are imported
# XLA on one thread too, as the engine and torch run (before jax is imported).
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import tasks  # noqa: E402
from engine.optimizers import compiled  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402
from engine.session import STATE_EVERY  # noqa: E402

STEPS = 2000  # steps per timed repeat
REPEATS = 7
ROUNDS = 9  # interleaved rounds of the anchors
SCAN = 100  # steps per lax.scan call


def best_per_step(loops: dict[str, object], steps: int = STEPS) -> dict[str, float]:
    """Each value is fn(k) running k steps; best-of-REPEATS seconds per step for each.

    The contenders take turns within each repeat, so a burst of load from other processes
    hits them alike instead of whichever happened to run at that moment."""
    for fn in loops.values():
        fn(300)  # warm up: caches, lazily created state and buffers
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(REPEATS):
        for label, fn in loops.items():
            t0 = time.thread_time()
            fn(steps)
            best[label] = min(best[label], (time.thread_time() - t0) / steps)
    return best


def engine_run(
    dtype: str, state_every: int = 0, sharpness_every: int = 0, optimizer: str = "adam"
) -> Run:
    return Run(
        RunConfig(
            task="digits-mlp",
            optimizer=optimizer,
            seed=0,
            task_hypers={"hidden": 128, "batch_size": 32},
            dtype=dtype,
            eval_every=0,
            state_every=state_every,
            sharpness_every=sharpness_every,
        )
    )


def engine_loops(dtype: str) -> dict[str, object]:
    run = engine_run(dtype)
    single = engine_run(dtype)

    def singles(n: int) -> None:
        for _ in range(n):
            single.step()

    # Where the time goes: the same pieces called directly on a third run's own buffers.
    parts = engine_run(dtype)
    task, opt = parts.task, parts.optimizer
    params, grads = parts._params, parts._grads
    batches = parts._batches
    batch = next(batches)
    flat_p, flat_g = {"flat": parts._flat}, {"flat": parts._grad_flat}

    def draw(n: int) -> None:
        for _ in range(n):
            next(batches)

    def forward_backward(n: int) -> None:
        for _ in range(n):
            task.loss_and_grads(params, batch, grads)

    def adam(n: int) -> None:
        for _ in range(n):
            opt.step(flat_p, flat_g, lr=1e-3)

    # State summaries: the same run with summaries every 10 steps and every step, and one
    # record on its own (what a step divisible by state_every adds).
    every10, every1 = engine_run(dtype, 10), engine_run(dtype, 1)
    app = engine_run(dtype, STATE_EVERY)

    def one_record(n: int) -> None:
        for _ in range(n):
            every1._summarize(every1.steps_done)

    return {
        "Run.step(n)": run.step,
        "Run.step() x n": singles,
        "  batch draw": draw,
        "  loss_and_grads": forward_backward,
        "  adam step (flat)": adam,
        "Run.step(n) +state/10": every10.step,
        "Run.step(n) +state/app": app.step,
        "Run.step(n) +state/1": every1.step,
        "  one state record": one_record,
    }


def torch_loop(torch, dtype: str, fused: bool):
    """fn(k): k training steps of the equivalent torch model on the engine's training set."""
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    task = engine_run(dtype).task  # the same training set
    X = torch.from_numpy(np.ascontiguousarray(task.X))
    y = torch.from_numpy(task.labels.astype(np.int64))
    n = len(X)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10)
    ).to(tdtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused else {}))
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    state = {"perm": torch.randperm(n, generator=gen), "i": 0}

    def steps(k: int) -> None:
        for _ in range(k):
            i = state["i"]
            if i >= n:
                state["perm"], i = torch.randperm(n, generator=gen), 0
            idx = state["perm"][i : i + 32]
            state["i"] = i + 32
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()

    return steps


def landscape_state_cost() -> None:
    """The app's summaries on Rosenbrock + Adam (a step is a few microseconds there)."""

    def run(state_every: int) -> Run:
        config = RunConfig(
            task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02},
            eval_every=0, state_every=state_every,
        )  # fmt: skip
        return Run(config)

    off, on, every1 = run(0), run(STATE_EVERY), run(1)

    def one_record(n: int) -> None:
        for _ in range(n):
            every1._summarize(every1.steps_done)

    t = best_per_step({"off": off.step, "on": on.step, "record": one_record}, steps=20000)
    record = t["record"] / t["off"]
    print(f"[rosenbrock, adam, float64: summaries every {STATE_EVERY} steps, as the app]")
    print(f"  Run.step(n) off {t['off'] * 1e6:6.2f} us, on {t['on'] * 1e6:6.2f} us: "
          f"{100 * (t['on'] / t['off'] - 1):+.1f}% of a step (side by side)")  # fmt: skip
    print(f"  one state record {t['record'] * 1e6:6.2f} us = {100 * record:.0f}% of a step: "
          f"{100 * record / STATE_EVERY:.1f}% at {STATE_EVERY}")  # fmt: skip


def sharpness_cost(steps: int = STEPS, rounds: int = ROUNDS) -> None:
    """Sharpness every 10 steps on digits-mlp, float64: its share of a step, side by side.

    Per optimizer, the run without sharpness and the run with it take turns for `rounds`
    rounds of `steps` steps (a multiple of 10: each turn holds the same number of
    measurements), CPU time of this thread; each round gives a ratio on/off measured under
    the same load, and the median of those ratios is the figure (the spread beside it)."""
    print(f"[digits-mlp, float64: sharpness every 10 steps (target <= 25% of a step); "
          f"optimizer path: {'compiled' if compiled.ready else 'NumPy'}]")  # fmt: skip
    for optimizer in ("sgd", "adam"):
        off = engine_run("float64", optimizer=optimizer)
        on = engine_run("float64", sharpness_every=10, optimizer=optimizer)
        off.step(300)  # warm up; the first measurement converges from a random vector
        on.step(300)
        times: dict[str, list[float]] = {"off": [], "on": []}
        ratios = []
        for _ in range(rounds):
            for label, run in (("off", off), ("on", on)):
                t0 = time.thread_time()
                run.step(steps)
                times[label].append((time.thread_time() - t0) / steps)
            ratios.append(times["on"][-1] / times["off"][-1])
        h = on.history
        rel = np.array(h.buckets("sharpness_error").lasts) / np.array(h.buckets("sharpness").lasts)
        extra = ""
        if h.count("preconditioned_sharpness"):
            extra = f", λ_max(P⁻¹H) {h.last('preconditioned_sharpness'):.4g}"
        median_off = statistics.median(times["off"])
        median_on = statistics.median(times["on"])
        print(
            f"  {optimizer:<5} off {median_off * 1e6:6.1f} us, on {median_on * 1e6:6.1f} us "
            f"(medians): {100 * (statistics.median(ratios) - 1):+.1f}% of a step, median of "
            f"{rounds} rounds (range {100 * (min(ratios) - 1):+.1f}% .. "
            f"{100 * (max(ratios) - 1):+.1f}%)"
        )
        each = on.sharpness_seconds / h.count("sharpness")
        print(
            f"        last λ_max {h.last('sharpness'):.4g}{extra}; stated error median "
            f"{100 * np.median(rel):.0f}%; a measurement {each * 1e6:.0f} us (wall time)"
        )


def recording_cost(steps: int = 1000, repeats: int = 5) -> None:
    """What keeping a run in the run store (engine/store.py) costs against training it: a
    digits-mlp run of the app's default length (1000 steps, eval every 100), trained, then
    `store.snapshot` (on the app's UI thread) and `Store.add` (on a worker thread in the app,
    at the end of `optplay run`), in a temporary store. Best of `repeats`, CPU time of this
    thread; also the first record of a process (opening the store, imports)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        os.environ["OPTPLAY_DATA_DIR"] = folder
        from engine import store

        def trained() -> tuple[Run, float]:
            run = Run(RunConfig(task="digits-mlp", optimizer="adam", seed=0))
            t0 = time.thread_time()
            run.step(steps)
            return run, time.thread_time() - t0

        run, _ = trained()
        t0 = time.perf_counter()
        store.record_runs([store.snapshot(run, started=0.0, planned_steps=steps)])
        first = time.perf_counter() - t0
        train = snap = add = float("inf")
        with store.Store() as s:
            for _ in range(repeats):
                run, seconds = trained()
                train = min(train, seconds)
                t0 = time.thread_time()
                row = store.snapshot(run, started=0.0, planned_steps=steps)
                t1 = time.thread_time()
                s.add(row)
                t2 = time.thread_time()
                snap, add = min(snap, t1 - t0), min(add, t2 - t1)
    print(f"[recording a run: digits-mlp, adam, {steps} steps (the app's default length)]")
    print(f"  training {train * 1e3:7.1f} ms; snapshot {snap * 1e3:.2f} ms (UI thread in the app),")
    print(f"  store add {add * 1e3:.2f} ms (worker thread in the app; end of `optplay run`)")
    print(f"  recording costs {100 * (snap + add) / train:.2f}% of the training time "
          f"(target <= 2%); the first record of a process {first * 1e3:.1f} ms "
          f"({100 * first / train:.1f}%: opening the store)")  # fmt: skip


def jax_loops(dtype: str) -> dict[str, object]:
    """fn(k) for JAX + optax Adam: jitted one step per call, and lax.scan SCAN steps per call;
    the same model, loss and batches of 32 (an epoch permutation, gathered inside the jit)."""
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    task = engine_run(dtype).task  # the same training set
    X = jnp.asarray(task.X)
    y = jnp.asarray(task.labels.astype(np.int32))
    n = len(task.X)
    rng = np.random.default_rng(0)
    params = {k: jnp.asarray(v) for k, v in engine_run(dtype).params.items()}
    opt = optax.adam(1e-3)

    def loss_fn(p, xb, yb):
        h = jnp.tanh(xb @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean()

    def one(carry, idx):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, X[idx], y[idx])
        updates, s = opt.update(g, s, p)
        return (optax.apply_updates(p, updates), s), loss

    step = jax.jit(one)
    scan = jax.jit(lambda carry, idxs: jax.lax.scan(one, carry, idxs))
    state = {"carry": (params, opt.init(params)), "perm": rng.permutation(n), "i": 0}

    def batch_indices(k: int) -> np.ndarray:
        out = np.empty((k, 32), np.int32)
        for j in range(k):
            i = state["i"]
            if i + 32 > n:
                state["perm"], i = rng.permutation(n), 0
            out[j] = state["perm"][i : i + 32]
            state["i"] = i + 32
        return out

    def per_step(k: int) -> None:
        idxs = batch_indices(k)
        carry = state["carry"]
        for j in range(k):
            carry, loss = step(carry, idxs[j])
            float(loss)  # the loss reported each step, as Run.step and torch's loss.item()
        state["carry"] = carry

    def scanned(k: int) -> None:
        carry = state["carry"]
        for _ in range(k // SCAN):
            carry, losses = scan(carry, batch_indices(SCAN))
            np.asarray(losses)  # the losses of the call
        state["carry"] = carry

    return {"JAX jit per step": per_step, f"JAX lax.scan x{SCAN}": scanned}


def median_per_step(loops: dict[str, object], steps: int) -> dict[str, tuple[float, float]]:
    """(median CPU seconds of all this process's threads, median wall seconds) per step of
    each fn(k) over ROUNDS interleaved rounds."""
    for fn in loops.values():
        fn(2 * SCAN)  # warm up, compile
    cpu: dict[str, list[float]] = {label: [] for label in loops}
    wall: dict[str, list[float]] = {label: [] for label in loops}
    for _ in range(ROUNDS):
        for label, fn in loops.items():
            c0, w0 = time.process_time(), time.perf_counter()
            fn(steps)
            cpu[label].append((time.process_time() - c0) / steps)
            wall[label].append((time.perf_counter() - w0) / steps)
    return {
        label: (statistics.median(cpu[label]), statistics.median(wall[label])) for label in loops
    }


def on_path(run: Run, use_compiled: bool) -> object:
    def steps(k: int) -> None:
        compiled.ready = use_compiled
        run.step(k)

    return steps


def anchors(torch: object) -> None:
    tasks.get("digits-mlp")  # its module's kernels build with the optimizers' (not late)
    has_compiled = compiled.wait()
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401

        has_jax = True
    except ImportError:
        has_jax = False
    print(f"[anchors: median of {ROUNDS} interleaved rounds, us per step]")
    print(f"  optimizer path: {compiled.describe()}")
    if not has_jax:
        print("  jax/optax are not installed in this interpreter: JAX anchors skipped")
    for dtype in ("float64", "float32"):
        loops: dict[str, object] = {"Run.step NumPy": on_path(engine_run(dtype), False)}
        if has_compiled:
            loops["Run.step compiled"] = on_path(engine_run(dtype), True)
        if has_jax:
            loops.update(jax_loops(dtype))
        if torch is not None:
            loops["torch Adam (default)"] = torch_loop(torch, dtype, False)
        t = median_per_step(loops, 1000)
        compiled.ready = has_compiled
        print(f"  [{dtype}]{'process CPU':>27}{'wall':>10}")
        for label, (sec, wall) in t.items():
            print(f"    {label:<24} {sec * 1e6:8.1f} us {wall * 1e6:7.1f} us")
        for ours in ("Run.step NumPy", "Run.step compiled"):
            if ours not in t:
                continue
            for other in t:
                if other.startswith(("JAX", "torch")):
                    cpu_ratio = t[ours][0] / t[other][0]
                    wall_ratio = t[ours][1] / t[other][1]
                    print(f"    {ours} / {other:<22} {cpu_ratio:6.2f}x {wall_ratio:8.2f}x")
    print()


def compile_times() -> None:
    """First use of the compiled path in a fresh process: cold cache, then warm."""
    if not compiled.available():
        print(f"[compile] {compiled.describe()}: nothing to compile")
        return
    root = str(Path(__file__).resolve().parents[2])
    code = (
        "import time; t = time.perf_counter()\n"
        "from engine import tasks\n"
        "from engine.optimizers import compiled\n"
        "for name in tasks.names(): tasks.get(name)  # every family's kernels build too\n"
        "assert compiled.wait()\n"
        "print(f'{compiled.compile_seconds:.2f} {time.perf_counter() - t:.2f}')\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": root}
        for label in ("cold cache (first launch)", "warm cache (later launches)"):
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout.split()
            print(f"[compile] {label}: kernels ready {out[0]} s after the request "
                  f"(background thread; import + wait {out[1]} s)")  # fmt: skip
    print()


def _torch_or_none() -> object:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def main() -> None:
    if "--sharpness" in sys.argv[1:]:
        compiled.request()  # the path the app runs, ready before the first round
        compiled.wait()
        sharpness_cost(500)
        return
    if "--recording" in sys.argv:  # only the run store's cost
        recording_cost()
        return
    if "--anchors" in sys.argv:  # only the side-by-side anchors (JAX, torch) and compile times
        compile_times()
        anchors(_torch_or_none())
        return
    try:
        import torch

        torch.set_num_threads(1)
        torch_note = f"torch {torch.__version__}"
    except ImportError:
        torch = None
        torch_note = "torch is not installed in this interpreter: torch timings skipped"
    print(f"digits-mlp 64-128-10, batch 32, Adam; 1 thread; numpy {np.__version__}; {torch_note}")
    print(f"optimizer path: {compiled.describe()}")
    print(f"best of {REPEATS} x {STEPS} steps, CPU microseconds per step\n")
    for dtype in ("float64", "float32"):
        loops = engine_loops(dtype)
        torch_labels = []
        if torch is not None:
            for label, fused in (("torch Adam (default)", False), ("torch Adam fused=True", True)):
                loops[label] = torch_loop(torch, dtype, fused)
                torch_labels.append(label)
        t = best_per_step(loops)
        print(f"[{dtype}]")
        for label, sec in t.items():
            print(f"  {label:<26} {sec * 1e6:8.1f} us")
            if label == "  adam step (flat)":
                rest = t["Run.step(n)"] - t["  batch draw"] - t["  loss_and_grads"] - sec
                print(f"  {'  run bookkeeping (rest)':<26} {rest * 1e6:8.1f} us")
        off = t["Run.step(n)"]
        for label, every in (
            ("Run.step(n) +state/10", "every 10 steps"),
            ("Run.step(n) +state/app", f"every {STATE_EVERY} (app)"),
            ("Run.step(n) +state/1", "every step"),
        ):
            extra = 100 * (t[label] / off - 1)
            print(f"  state summaries {every:<15} {extra:+6.1f}% of a step (side by side)")
        record = 100 * t["  one state record"] / off
        print(
            f"  one state record = {record:.0f}% of a step: {record / 10:.1f}% at "
            f"state_every=10, {record / 16:.1f}% at 16"
        )
        if not torch_labels:
            print("  (no torch: no ratio)")
        for label in torch_labels:
            print(f"  ratio Run.step / {label:<22} {t['Run.step(n)'] / t[label]:6.3f}")
        print()
    landscape_state_cost()
    print()
    compile_times()
    anchors(torch)
    recording_cost()
    print()
    sharpness_cost()


if __name__ == "__main__":
    main()
