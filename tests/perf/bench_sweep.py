"""A 48-run learning-rate sweep on digits-mlp: serially, on the process pool and on a 2-worker
Dask LocalCluster. Prints wall time, speedup over serial and the per-run overhead of each
executor, and checks that every executor gives the same losses.

Run from the repository root (prints figures; asserts nothing but equal results):
    python tests/perf/bench_sweep.py                 # 4 optimizers x 12 rates, 1000 steps
    python tests/perf/bench_sweep.py --steps 300 --repeats 1
    python tests/perf/bench_sweep.py --paths         # serial only: NumPy vs compiled path,
                                                     # taking turns, best of --repeats

Targets on 2 cores: pool >= 1.7x serial, Dask >= 1.5x serial.

How it is measured:
- The sweep: sgd, momentum, rmsprop and adam at 12 log-spaced rates from 1e-4 to 1 (48 runs,
  seed 0), digits-mlp (64-128-10), evaluation every steps // 100 steps, scored as
  `optplay sweep` scores them.
- One BLAS thread per process everywhere (pinned here before NumPy loads, as `optplay sweep`
  does): "serial" is one core, and each worker is one core.
- Wall time is `Sweep.run()` from start to the last row. The pool's wall time includes
  starting its workers (a new pool per repeat); the pool's fork server (which imports NumPy
  and the engine once) is started cold once per `optplay sweep` command: its time is printed
  apart ("pool cold start") and counted in the idle-core estimate. The LocalCluster is
  started once, before the clock (a user's cluster is already running), and its start-up
  time is printed apart. Each executor's best of `--repeats` is reported, the
  executors taking turns so bursts of load from other processes hit them alike.
- Per-run overhead = (wall time x workers - time spent inside runs, as measured in the
  workers) / runs: what each run costs beyond its own training and evaluation (sending it,
  results coming back, workers starting, idle workers at the end of the sweep).
- On a machine shared with other work, wall time says more about the neighbours than about
  the executor, so CPU time is reported too: `cpu in runs` is the CPU time the runs' threads
  used (`RunScore.cpu_seconds`; it does not grow while a worker waits for a core), and the
  idle-core estimate is serial CPU time / (the busiest worker's CPU time + the executor's
  start-up), i.e. the speedup the same work would get with the cores to itself.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.executors import ProcessExecutor, SerialExecutor  # noqa: E402
from engine.sweep import Sweep, SweepReport, SweepSpec  # noqa: E402

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
TIMING = ("seconds_per_update", "run_seconds", "cpu_seconds", "worker")


def make_spec(steps: int) -> SweepSpec:
    return SweepSpec(
        task="digits-mlp", optimizers=OPTIMIZERS, grid={"lr": "1e-4:1:12"}, steps=steps, seeds=1
    )


def numbers(report: SweepReport) -> list[tuple]:
    return [
        (r.index, tuple((k, v) for k, v in vars(r.score).items() if k not in TIMING))
        for r in report.rows
    ]


def timed(spec: SweepSpec, executor) -> tuple[float, SweepReport]:
    t0 = time.perf_counter()
    report = Sweep(spec, executor).run()
    return time.perf_counter() - t0, report


def overhead(wall: float, workers: int, report: SweepReport) -> float:
    inside = sum(r.score.run_seconds for r in report.rows)
    return (wall * workers - inside) / len(report.rows)


def cpu(report: SweepReport) -> float:
    return sum(r.score.cpu_seconds for r in report.rows)


def busiest_worker_cpu(report: SweepReport) -> float:
    per_worker: dict[str, float] = {}
    for r in report.rows:
        per_worker[r.score.worker] = per_worker.get(r.score.worker, 0.0) + r.score.cpu_seconds
    return max(per_worker.values())


def pool_start(workers: int) -> float:
    """Seconds from a new pool to every worker having answered a trivial job."""
    t0 = time.perf_counter()
    with ProcessExecutor(workers) as pool:
        list(pool.map_unordered(abs, list(range(workers))))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="updates per run")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many")
    parser.add_argument("--workers", type=int, default=2, help="pool and cluster size")
    parser.add_argument("--paths", action="store_true", help="only: NumPy vs compiled, serial")
    args = parser.parse_args()
    spec = make_spec(args.steps)
    if args.paths:
        from compiled_paths import compare

        work = lambda: numbers(Sweep(spec, SerialExecutor()).run())  # noqa: E731
        label = f"{spec.total_runs}-run sweep, {args.steps} steps, serial"
        if not compare(label, work, args.repeats):
            raise SystemExit(1)
        return
    print(
        f"{spec.total_runs} runs: {', '.join(OPTIMIZERS)} x 12 lr on digits-mlp, "
        f"{args.steps} steps each; {os.cpu_count()} cores; best of {args.repeats}"
    )

    cold_start = pool_start(args.workers)  # the first pool of this process: fork server too
    dask = None
    cluster_start = None
    try:
        from engine.executors import DaskExecutor

        t0 = time.perf_counter()
        dask = DaskExecutor("local", workers=args.workers)
        cluster_start = time.perf_counter() - t0
    except Exception as err:  # the extra is missing, or the cluster cannot start here
        print(f"dask: skipped ({str(err).splitlines()[0]})")

    best: dict[str, tuple[float, SweepReport]] = {}
    workers = {"serial": 1, "process pool": args.workers, "dask": args.workers}
    try:
        for _ in range(args.repeats):
            candidates = {"serial": SerialExecutor(), "process pool": None, "dask": dask}
            for label, executor in candidates.items():
                if label == "dask" and dask is None:
                    continue
                if label == "process pool":
                    with ProcessExecutor(args.workers) as pool:  # started inside the clock
                        result = timed(spec, pool)
                else:
                    result = timed(spec, executor)
                if label not in best or result[0] < best[label][0]:
                    best[label] = result
    finally:
        if dask is not None:
            dask.close()

    serial_wall, serial = best["serial"]
    serial_cpu = cpu(serial)
    start = {"serial": 0.0, "process pool": cold_start, "dask": 0.0}
    print()
    print(
        f"{'executor':<14}{'wall':>8}{'speedup':>9}{'overhead/run':>14}{'cpu in runs':>13}"
        f"{'idle-core estimate':>20}  same losses"
    )
    for label, (wall, report) in best.items():
        same = "yes" if numbers(report) == numbers(serial) else "NO"
        estimate = serial_cpu / (busiest_worker_cpu(report) + start[label])
        print(
            f"{label:<14}{wall:>7.2f}s{serial_wall / wall:>8.2f}x"
            f"{1e3 * overhead(wall, workers[label], report):>11.1f} ms"
            f"{cpu(report):>12.2f}s{estimate:>19.2f}x  {same}"
        )
    per_run = sum(r.score.run_seconds for r in serial.rows) / len(serial.rows)
    per_update = sum(r.score.seconds_per_update for r in serial.rows) / len(serial.rows)
    print(
        f"\none run (serial): {1e3 * per_run:.1f} ms in the worker, "
        f"{1e6 * per_update:.1f} us per update (evaluation excluded)"
    )
    print(f"pool cold start ({args.workers} workers, fork server included): {cold_start:.2f} s")
    if cluster_start is not None:
        print(f"LocalCluster start ({args.workers} workers): {cluster_start:.2f} s (not in wall)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.2f} (other processes compete for the cores)")
    print("targets on 2 cores: process pool >= 1.7x, dask >= 1.5x")


if __name__ == "__main__":
    main()
