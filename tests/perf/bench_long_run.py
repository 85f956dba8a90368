"""Memory of a 1,000,000-step run (History + Run) on a 2-D landscape: does it stay bounded?

Run from the repository root (prints figures; asserts nothing):
    python tests/perf/bench_long_run.py [--steps N]

What is measured, at checkpoints 1e3, 1e4, 1e5 and 1e6 steps of rosenbrock + adam
(eval every 100 steps, the app's default history capacity of 4096 buckets):
- Python heap retained by the process (tracemalloc, current bytes), relative to just after
  the Run was built: the Run's own growth (history arrays, pending rows, schedule caches, rate
  windows, anything leaking per step);
- History.nbytes (its stored arrays) and the bucket width;
- the process's resident set size (VmRSS from /proc, Linux) for the whole picture.

The same run with `history_capacity=None` (every step kept, as headless `optplay run --out`
uses) is measured to 1e5 steps for contrast, since its memory grows by design.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.run import Run, RunConfig  # noqa: E402

CONFIG = RunConfig(
    task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 1e-3}, eval_every=100
)
MIB = 2**20


def rss_mib() -> float:
    """Resident set size of this process in MiB (NaN where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(total: int, capacity: int | None, checkpoints: list[int]) -> list[tuple]:
    """Step a fresh run to each checkpoint; rows of (steps, heap growth, nbytes, width, rss)."""
    gc.collect()
    tracemalloc.start()
    run = Run(CONFIG, history_capacity=capacity)
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    rows = []
    t0 = time.perf_counter()
    for target in checkpoints:
        if target > total:
            break
        while run.steps_done < target:
            run.step(min(50_000, target - run.steps_done))
        run.history.downsample("loss", 200)  # a chart read folds pending rows
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
        h = run.history
        rows.append((target, grown, h.nbytes, h.width("loss"), rss_mib()))
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert run.state == "ready", run.state  # rosenbrock + adam at 1e-3 trains quietly
    print(f"  ({elapsed:.1f} s with tracemalloc on; peak traced heap {peak / MIB:.2f} MiB)")
    return rows


def show(rows: list[tuple]) -> None:
    print(f"  {'steps':>9}  {'Run heap growth':>16}  {'History.nbytes':>15}  {'width':>6}  RSS")
    for steps, grown, nbytes, width, rss in rows:
        print(
            f"  {steps:>9,}  {grown / 1024:>12.1f} KiB  {nbytes / MIB:>11.2f} MiB  "
            f"{width:>6}  {rss:.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()
    checkpoints = [1_000, 10_000, 100_000, 250_000, 500_000, 1_000_000]
    checkpoints = [c for c in checkpoints if c < args.steps] + [args.steps]

    print(f"{args.steps:,} steps of rosenbrock + adam, eval every 100, capacity 4096:")
    bounded = measure(args.steps, 4096, checkpoints)
    show(bounded)
    growth = bounded[-1][1] - bounded[min(2, len(bounded) - 1)][1]
    print(f"  heap growth from 1e5 to {args.steps:,} steps: {growth / 1024:+.1f} KiB\n")

    short = min(args.steps, 100_000)
    print(f"{short:,} steps with history_capacity=None (every step kept), for contrast:")
    unbounded = measure(short, None, [c for c in checkpoints if c <= short])
    show(unbounded)
    per_step = unbounded[-1][1] / unbounded[-1][0]
    print(f"  about {per_step:.0f} bytes per step: {per_step * 1e6 / MIB:.0f} MiB at 1e6 steps")


if __name__ == "__main__":
    main()
