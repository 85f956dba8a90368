"""Wall time of one piece of work on the NumPy path and on the compiled path (numba kernels,
engine/optimizers/compiled.py), in this process, serially: `--paths` of bench_lessons.py and
bench_sweep.py. The kernels are compiled (or loaded from the cache) before the clock starts;
the two paths must give the same results, bit for bit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def compare(label: str, work: Callable[[], Any]) -> bool:
    """Time work() on NumPy, then compiled; print both (wall and CPU time), the speedups and
    the load average.
    Returns whether both gave equal results (True when the compiled path is unavailable)."""
    import engine.tasks  # noqa: F401  (the sine RNN adds its kernels to the build: first)
    from engine.optimizers import compiled

    if not compiled.wait():
        print(f"{label}: compiled path unavailable ({compiled.describe()}): nothing to compare")
        return True
    times, cpu, results = {}, {}, {}
    for path, on in (("NumPy", False), ("compiled", True)):
        compiled.set_enabled(on)
        t0, c0 = time.perf_counter(), time.process_time()
        results[path] = work()
        times[path] = time.perf_counter() - t0
        cpu[path] = time.process_time() - c0
    same = results["NumPy"] == results["compiled"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{label}: NumPy {times['NumPy']:.1f} s, compiled {times['compiled']:.1f} s: "
        f"{times['NumPy'] / times['compiled']:.2f}x faster compiled (target >= 1.5x); "
        f"CPU time NumPy {cpu['NumPy']:.1f} s, compiled {cpu['compiled']:.1f} s: "
        f"{cpu['NumPy'] / cpu['compiled']:.2f}x (CPU time does not count waiting for a core "
        f"on a loaded machine); same results: {'yes' if same else 'NO'}; "
        f"load average {load:.2f}"
    )
    return same
