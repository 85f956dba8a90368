"""History memory and chart cost for a 1,000,000-step run on a 2-D landscape.

Run from the repository root (prints figures; asserts nothing):
    python tests/perf/bench_history.py

Targets (issue 5): history under 20 MB after 1,000,000 steps, `downsample` under 5 ms, and a
chart frame costing the same at step 1,000 and step 1,000,000.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.history import History  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402

STEPS = 1_000_000
POINTS = 200  # about two points per column of a wide terminal chart


def call_ms(fn, calls: int = 200) -> tuple[float, float]:
    """Median and max milliseconds of `calls` calls of fn()."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), max(times)


def chart_frame(run: Run) -> None:
    """What one refresh of the UI's charts asks for."""
    h = run.history
    for name in ("loss", "lr", "grad_norm", "update_norm", "update_grad_ratio", "eval_loss"):
        h.downsample(name, POINTS)
    h.trajectory(POINTS)


def main() -> None:
    cfg = RunConfig(
        task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 1e-3}, eval_every=100
    )
    run = Run(cfg)
    print(f"{STEPS:,} steps of rosenbrock + adam (eval every 100), history capacity 4096\n")
    t0 = time.perf_counter()
    while run.steps_done < STEPS:
        run.step(min(10_000, STEPS - run.steps_done))
    elapsed = time.perf_counter() - t0
    print(f"stepping: {elapsed:.1f} s, {elapsed / STEPS * 1e6:.2f} us per step (Run.step)")
    h = run.history
    print(f"history arrays: {h.nbytes / 2**20:.2f} MiB (target < 20 MB)")
    print(f"bucket width now: {h.width('loss')} steps; stored buckets per series <= 4096")

    small = Run(cfg)
    small.step(1_000)
    for label, r in (("1,000-step run", small), (f"{STEPS:,}-step run", run)):
        med, worst = call_ms(lambda r=r: r.history.downsample("loss", POINTS))
        f_med, f_worst = call_ms(lambda r=r: chart_frame(r), calls=50)
        print(
            f"{label:>18}: downsample('loss', {POINTS}) median {med:.3f} ms (max {worst:.3f}); "
            f"full chart frame (6 series + trajectory) median {f_med:.3f} ms (max {f_worst:.3f})"
        )
    d = h.downsample("loss", POINTS)
    print(f"downsampled points: {len(d.steps)}; last step {int(d.steps[-1]):,}")

    # Memory actually retained by a History filled with 1e6 rows (arrays + pending lists).
    values = np.random.default_rng(0).random(STEPS).tolist()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    hist = History()
    for i, v in enumerate(values, start=1):
        hist.record(i, v, 1e-3, v, v, 1.0)
        hist.record_point(i, v, v)
        if i % 100 == 0:
            hist.record_eval(i, v, None)
    hist.last("loss")
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"tracemalloc: a History holding {STEPS:,} steps retains {retained / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
