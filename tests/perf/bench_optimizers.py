"""Optimizer update speed against memory bandwidth (not part of the test run).

    python tests/perf/bench_optimizers.py [--sizes 1e3,1e4,1e5,1e6,1e7]

For N float32 elements (one parameter array) it prints, per optimizer, the time of one
`opt.step()` and its effective bandwidth as a fraction of `np.copyto` on the same N, both
measured in this process. Effective bandwidth counts the minimal bytes an update must move
(e.g. Adam reads θ, g, m, v and writes θ, m, v: 7·4·N bytes) per second; copyto moves 2·4·N
bytes (read + write). A fraction of 1 means the update streams its arrays as fast as a copy.
Each optimizer is timed in rounds alternating with copyto, and its fraction uses the copyto of
its own rounds (memory bandwidth on a shared machine drifts between optimizers); times are
the best batch, in wall time (a split step's work runs on several threads, which CPU time of
this thread would not count; the best batch is the one the machine's load disturbed least).

The optimizer paths timed: NumPy (the reference) and, when numba is installed, the compiled
kernels (engine/optimizers/compiled.py) on one thread and, where this process may use more
than one core, split over `compiled.threads()` threads as buffers of at least
`compiled.parallel_min` elements are; the summary prints each optimizer's time as a multiple
of np.copyto's (one thread) on the largest N for each (the issue's target: Adam at most 2.0x).
`--threads` prints only where a split Adam step starts to beat one thread's (the threshold
`compiled.PARALLEL_MIN`), in interleaved rounds.

It also checks that a step allocates no memory proportional to N (tracemalloc peak during
one step at the largest N) and, when torch is importable, times torch.optim.Adam on the same
arrays for comparison. One thread: BLAS/OpenMP thread counts are pinned to 1 before numpy
loads (Adafactor's norms are BLAS dot products). Before/after figures of two versions of the
engine in one process: tests/perf/compare_engines.py.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import optimizers  # noqa: E402
from engine.optimizers import compiled  # noqa: E402

#: Paths timed: (label, compiled.ready while timing, threads of a split step).
PATHS: list[tuple[str, bool, int]] = [("numpy", False, 1)]
if compiled.wait():
    PATHS.append(("compiled", True, 1))
    if compiled.threads() > 1:
        PATHS.append((f"compiled x{compiled.threads()}", True, compiled.threads()))


def use_path(ready: bool, threads: int) -> None:
    """Make the next steps run on a path of PATHS."""
    compiled.ready = ready
    compiled.set_threads(threads)


# Arrays an update must read (θ and g included) and write, per optimizer with these knobs.
TRAFFIC: dict[str, tuple[int, int]] = {
    "sgd": (2, 1),
    "momentum": (3, 2),
    "nesterov": (3, 2),
    "adagrad": (3, 2),
    "rmsprop": (3, 2),
    "adadelta": (4, 3),
    "adam": (4, 3),
    "amsgrad": (5, 4),
    "adamw": (4, 3),
    "nadam": (4, 3),
    "radam": (4, 3),
    "adamax": (4, 3),
    "adafactor": (3, 2),  # 1-D parameter: unfactored v
    "lion": (3, 2),
    "adaptive-adam": (4, 3),
    "rprop": (4, 3),  # θ, g, prev, step sizes
    "asgd": (2, 2),  # θ, g; writes θ and the average (a copy of θ before t₀)
    "muon": (4, 3),  # a 1-D parameter takes the AdamW path (the matrix path is below)
    "lbfgs": (2, 1),  # nominal, with BENCH_KNOBS: one iteration (one closure call) per step
    "adabound": (4, 3),
    "schedulefree-adamw": (4, 3),  # θ, g, z, v
    "schedulefree-sgd": (3, 2),  # θ, g, z
    "prodigy": (6, 4),  # θ, g, θ₀, s, m, v
    "sam": (3, 3),  # nominal: θ, g, the momentum buffer; writes θ, the buffer and ε
    "lookahead": (4, 3),  # nominal: Adam's (the slow weights move every k = 5 steps)
}
#: The optimizers of issue 28, each summarised at the largest N.
NEW = ("rprop", "asgd", "muon", "lbfgs", "adabound", "schedulefree-adamw", "schedulefree-sgd",
       "prodigy", "sam", "lookahead")  # fmt: skip

# L-BFGS's defaults (20 iterations, 100 pairs) make one step seconds at N = 1e7: one
# iteration per step with 10 pairs is what is timed.
BENCH_KNOBS: dict[str, dict[str, Any]] = {"lbfgs": {"max_iter": 1, "history_size": 10}}


def stepper(opt: Any, params: dict, grads: dict) -> Any:
    """One step of `opt` as a call; closure optimizers (L-BFGS) get the closure of
    ½‖θ‖² + g·θ (what they evaluate inside the step is part of their time)."""
    if not opt.needs_closure:
        return lambda: opt.step(params, grads)
    p, g = params["w"], grads["w"]

    def closure() -> tuple[float, dict]:
        return 0.5 * float(np.dot(p, p)) + float(np.dot(g, p)), {"w": p + g}

    return lambda: opt.step(params, {"w": p + g}, closure=closure, loss=closure()[0])


def best_time(fn: Any, n_elems: int, budget: float = 0.4) -> float:
    """Seconds per call: the best of several timed batches (noise only ever adds time)."""
    clock = time.perf_counter
    fn()
    t0 = clock()
    fn()
    one = max(clock() - t0, 1e-7)
    reps = max(1, min(200, int(0.05 / one)))
    batches = max(3, min(15, int(budget / (one * reps))))
    best = float("inf")
    for _ in range(batches):
        t0 = clock()
        for _ in range(reps):
            fn()
        best = min(best, (clock() - t0) / reps)
    return best


def paired_times(fn: Any, ref: Any, n_elems: int, rounds: int = 3) -> tuple[float, float]:
    """Best seconds per call of `fn` and of `ref`, timed in alternating rounds."""
    t_fn = t_ref = float("inf")
    for _ in range(rounds):
        t_ref = min(t_ref, best_time(ref, n_elems, 0.4 / rounds))
        t_fn = min(t_fn, best_time(fn, n_elems, 0.4 / rounds))
    return t_fn, t_ref


def bench(
    sizes: list[int], names: list[str]
) -> dict[str, dict[str, dict[int, tuple[float, float, float]]]]:
    """results[path][optimizer][N] = (seconds per step, bandwidth fraction of copyto, time
    as a multiple of copyto's), for the optimizers `names`."""
    rng = np.random.default_rng(0)
    results = {path: {name: {} for name in names} for path, _, _ in PATHS}
    for n in sizes:
        src = rng.standard_normal(n).astype(np.float32)
        dst = np.empty_like(src)
        g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
        best_copy = float("inf")
        for name in names:
            reads, writes = TRAFFIC[name]
            for path, use, threads in PATHS:
                use_path(use, threads)
                p = rng.standard_normal(n).astype(np.float32)
                opt = optimizers.create(name, lr=1e-6, **BENCH_KNOBS.get(name, {}))
                params, grads = {"w": p}, {"w": g}
                one_step = stepper(opt, params, grads)
                for _ in range(8):  # past RAdam's un-rectified first steps
                    one_step()
                t, t_copy = paired_times(
                    one_step,
                    lambda s=src, d=dst: np.copyto(d, s),
                    n,
                )
                best_copy = min(best_copy, t_copy)
                frac = (reads + writes) * 4 * n / t / (2 * 4 * n / t_copy)
                results[path][name][n] = (t, frac, t / t_copy)
                del opt, p
        print(
            f"  N = {n:.0e}: copyto {best_copy * 1e6:9.1f} us = {8 * n / best_copy / 1e9:5.1f} GB/s"
            " (the best of all rounds)",
            flush=True,
        )
    use_path(len(PATHS) > 1, compiled.threads())
    compiled.set_threads(None)
    return results


def thread_threshold(names: list[str], rounds: int = 5) -> None:
    """Time per step of each optimizer on the compiled path, one thread against split over
    `compiled.threads()` threads, for N around the threshold; best of interleaved rounds."""
    count = compiled.threads()
    print(f"\n[split steps: {count} threads against one, compiled, float32; "
          f"threshold in force {compiled.parallel_min}]")  # fmt: skip
    if len(PATHS) < 2 or count < 2:
        print("  nothing to compare: no compiled path or one core")
        return
    rng = np.random.default_rng(3)
    sizes = [1 << k for k in range(13, 24)]
    print("N          " + "".join(f"{name:>22s}" for name in names))
    for n in sizes:
        cells = []
        for name in names:
            p = rng.standard_normal(n).astype(np.float32)
            g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
            opt = optimizers.create(name, lr=1e-6)
            one_step = stepper(opt, {"w": p}, {"w": g})
            compiled.ready = True
            compiled.parallel_min = 0  # split at every size
            best = {1: float("inf"), count: float("inf")}
            try:
                for _ in range(rounds):
                    for threads in best:
                        compiled.set_threads(threads)
                        best[threads] = min(best[threads], best_time(one_step, n, 0.3 / rounds))
            finally:
                compiled.parallel_min = compiled.PARALLEL_MIN
                compiled.set_threads(None)
            ratio = best[count] / best[1]
            cells.append(f"{best[1] * 1e6:8.1f} {best[count] * 1e6:8.1f} {ratio:4.2f}")
        print(f"{n:<11d}" + "".join(f"{c:>22s}" for c in cells), flush=True)
    print("  (each cell: us one thread, us split, split / one; < 1: the split pays)")


def alloc_per_step(n: int, names: list[str]) -> dict[str, int]:
    """Peak bytes allocated during one step (after warm-up), per optimizer."""
    rng = np.random.default_rng(1)
    g = rng.standard_normal(n).astype(np.float32)
    out = {}
    for name in names:
        p = rng.standard_normal(n).astype(np.float32)
        opt = optimizers.create(name, lr=1e-6)
        if opt.needs_closure:
            continue  # L-BFGS keeps and builds vectors by design (its history)
        opt.step({"w": p}, {"w": g})
        tracemalloc.start()
        opt.step({"w": p}, {"w": g})
        out[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del opt, p
    return out


def torch_adam(sizes: list[int]) -> dict[int, tuple[float, float]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    out = {}
    for n in sizes:
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n) * 1e-3
        times = []
        for foreach in (False, True):
            opt = torch.optim.Adam([p], lr=1e-6, foreach=foreach)
            times.append(best_time(opt.step, n))
        out[n] = (times[0], times[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    ap.add_argument("--only", default="", help="comma-separated optimizers (default: all)")
    ap.add_argument(
        "--threads", action="store_true", help="only where split steps beat one thread's"
    )
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    only = [s for s in args.only.split(",") if s]
    unknown = sorted(set(only) - set(TRAFFIC))
    if unknown:
        ap.error(f"--only: unknown optimizer {unknown[0]!r}; one of {', '.join(TRAFFIC)}")
    names = only or list(TRAFFIC)
    if args.threads:
        print(f"optimizer path: {compiled.describe()}; load average {os.getloadavg()}")
        thread_threshold(only or ["adam", "amsgrad", "nadam", "adadelta", "sgd"])
        return
    kib = optimizers.BLOCK_BYTES // 1024
    print(
        f"numpy {np.__version__}; blocks of up to {kib} KiB per array (less for kernels "
        f"touching more than 5 arrays) for arrays of at least "
        f"{optimizers.BLOCKED_MIN_BLOCKS * kib} KiB"
    )
    print(f"optimizer path: {compiled.describe()}; split steps from N = "
          f"{compiled.parallel_min} on {compiled.threads()} threads; "
          f"load average {os.getloadavg()}")  # fmt: skip
    results = bench(sizes, names)
    big = max(sizes)
    for path, _, _ in PATHS:
        print(
            f"\n[{path}] time per step (us) and effective bandwidth / np.copyto bandwidth, float32"
        )
        head = "optimizer      " + "".join(f"{f'N={n:.0e}':>19s}" for n in sizes)
        print(head)
        print("-" * len(head))
        for name, row in results[path].items():
            cells = "".join(f"{row[n][0] * 1e6:11.1f} ({row[n][1]:4.2f})" for n in sizes)
            print(f"{name:15s}{cells}")

    print(f"\ntime of one step / np.copyto's time, N={big:.0e} float32")
    print("optimizer      " + "".join(f"{path:>12s}" for path, _, _ in PATHS))
    for name in names:
        cells = "".join(f"{results[path][name][big][2]:11.2f}x" for path, _, _ in PATHS)
        print(f"{name:15s}{cells}")
    print()
    for name in [n for n in ("adam", "adafactor", *NEW) if n in names]:
        for path, _, _ in PATHS:
            t, frac, ratio = results[path][name][big]
            print(
                f"{name.capitalize()} ({path}), N={big:.0e} float32: {t * 1e3:.2f} ms/step, "
                f"{frac:.2f} of copyto bandwidth, {ratio:.2f}x copyto's time"
            )

    # Muon's own path: a matrix, Newton–Schulz in emulated bfloat16 (float64 products).
    rng = np.random.default_rng(2)
    for rows, cols in ((64, 128), (1000, 1000)) if "muon" in names else ():
        w = rng.standard_normal((rows, cols)).astype(np.float32)
        gw = rng.standard_normal((rows, cols)).astype(np.float32)
        muon = optimizers.create("muon", lr=1e-6)
        t = best_time(lambda m=muon, w=w, gw=gw: m.step({"w": w}, {"w": gw}), w.size, 0.5)
        print(f"Muon, {rows}x{cols} matrix float32: {t * 1e3:.2f} ms/step")

    allocs = alloc_per_step(big, names)
    worst = max(allocs.values(), default=0)
    print(f"load average {os.getloadavg()}")
    print(
        f"peak allocation during one step at N={big:.0e}: max {worst} bytes "
        f"({worst / (4 * big):.4f} of one parameter array), "
        + ", ".join(f"{k} {v}" for k, v in allocs.items() if v == worst)
    )

    ta = torch_adam(sizes) if "adam" in names else None
    if ta is not None:
        print(
            "\ntorch.optim.Adam on the same N (1 thread): us/step single-tensor | foreach | "
            f"ours ({PATHS[-1][0]})"
        )
        for n in sizes:
            ours = results[PATHS[-1][0]]["adam"][n][0]
            print(
                f"  N={n:.0e}: {ta[n][0] * 1e6:10.1f} | {ta[n][1] * 1e6:10.1f} | {ours * 1e6:10.1f}"
            )


if __name__ == "__main__":
    main()
