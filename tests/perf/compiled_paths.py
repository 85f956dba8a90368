"""Wall time of one piece of work on the NumPy path and on the compiled path (numba kernels,
engine/optimizers/compiled.py), in this process, serially: `--paths` of bench_lessons.py and
bench_sweep.py. The kernels are compiled (or loaded from the cache) before the clock starts;
the two paths must give the same results, bit for bit."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any


def compare(label: str, work: Callable[[], Any], rounds: int = 1) -> bool:
    """Time work() on NumPy, then compiled, `rounds` times taking turns (so bursts of load
    from other processes hit both alike); print each path's best wall and best CPU time, the
    speedups and the load average.
    Returns whether both gave equal results in every round (True when the compiled path is
    unavailable)."""
    from engine import tasks
    from engine.optimizers import compiled

    for name in tasks.names():  # every family's module first: their kernels build with the rest
        tasks.get(name)

    if not compiled.wait():
        print(f"{label}: compiled path unavailable ({compiled.describe()}): nothing to compare")
        return True
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    same = True
    for _ in range(max(1, rounds)):
        results = {}
        for path, on in (("NumPy", False), ("compiled", True)):
            compiled.set_enabled(on)
            t0, c0 = time.perf_counter(), time.process_time()
            results[path] = work()
            times[path] = min(times.get(path, math.inf), time.perf_counter() - t0)
            cpu[path] = min(cpu.get(path, math.inf), time.process_time() - c0)
        same = same and results["NumPy"] == results["compiled"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    best = f" (best of {rounds})" if rounds > 1 else ""
    print(
        f"{label}{best}: NumPy {times['NumPy']:.1f} s, compiled {times['compiled']:.1f} s: "
        f"{times['NumPy'] / times['compiled']:.2f}x faster compiled (target >= 1.5x); "
        f"CPU time NumPy {cpu['NumPy']:.1f} s, compiled {cpu['compiled']:.1f} s: "
        f"{cpu['NumPy'] / cpu['compiled']:.2f}x (CPU time does not count waiting for a core "
        f"on a loaded machine); same results: {'yes' if same else 'NO'}; "
        f"load average {load:.2f}"
    )
    return same
