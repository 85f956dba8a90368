"""Every shipped lesson at 8 seeds: serially, on the process pool and on a 2-worker Dask
LocalCluster. Prints wall time and speedup over serial, and checks that every executor gives
the same verdicts and numbers.

Run from the repository root (prints figures; asserts nothing but equal results):
    python tests/perf/bench_lessons.py                  # seeds 0-7, serial, pool and Dask
    python tests/perf/bench_lessons.py --first-seed 100 --no-dask
    python tests/perf/bench_lessons.py --paths [--lessons a,b]  # serial, NumPy vs compiled

Target on 2 cores: all shipped lessons at 8 seeds within 60 s on the pool.

One BLAS thread per process everywhere (pinned before NumPy loads, as `optplay lesson` does).
The pool is started once for all lessons (as one `optplay lesson` per lesson would start its
own, its start-up is printed apart); the LocalCluster is started before the clock.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402


def run_all(
    executor: Any, first: int, count: int, names: list[str] | None = None
) -> tuple[float, dict[str, Any]]:
    from engine import lessons
    from engine.lessons import seeds

    out = {}
    t0 = time.perf_counter()
    for name in names or lessons.names():
        verdict = seeds.run_seeds(lessons.load(name), range(first, first + count), executor)
        out[name] = verdict.as_json()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--paths", action="store_true", help="only: NumPy vs compiled, serial")
    parser.add_argument("--lessons", help="comma-separated lesson names (default: all)")
    args = parser.parse_args()

    from engine.executors import DaskExecutor, ProcessExecutor, SerialExecutor

    names = args.lessons.split(",") if args.lessons else None
    if args.paths:
        from compiled_paths import compare

        shown = args.lessons or "all lessons"
        work = lambda: run_all(SerialExecutor(), args.first_seed, args.seeds, names)[1]  # noqa: E731
        if not compare(f"{shown} at {args.seeds} seeds, serial", work):
            raise SystemExit(1)
        return

    results = {}
    serial_time, results["serial"] = run_all(SerialExecutor(), args.first_seed, args.seeds, names)
    print(f"serial     {serial_time:7.1f} s")
    t0 = time.perf_counter()
    with ProcessExecutor(args.workers) as pool:
        list(pool.map_unordered(abs, [0]))  # start the workers
        start = time.perf_counter() - t0
        pool_time, results["pool"] = run_all(pool, args.first_seed, args.seeds, names)
    print(
        f"pool ({args.workers})   {pool_time:7.1f} s  {serial_time / pool_time:.2f}x serial"
        f"  (start-up {start:.1f} s, apart)"
    )
    if not args.no_dask:
        t0 = time.perf_counter()
        with DaskExecutor("local", workers=args.workers) as dask:
            start = time.perf_counter() - t0
            dask_time, results["dask"] = run_all(dask, args.first_seed, args.seeds, names)
        print(
            f"dask ({args.workers})   {dask_time:7.1f} s  {serial_time / dask_time:.2f}x serial"
            f"  (cluster start-up {start:.1f} s, apart)"
        )
    for name, verdict in results["serial"].items():
        print(f"  {name:22s} {verdict['verdict']:14s} {verdict['held']}/{verdict['seeds']}")
    same = all(other == results["serial"] for other in results.values())
    print("same verdicts and numbers on every executor:", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
