"""Before/after engine speed in one process: this checkout's engine against a git revision's.

Run from the repository root (prints figures; asserts nothing):

    python tests/perf/compare_engines.py REV                  # optimizers and Run.step
    python tests/perf/compare_engines.py REV --only run       # digits-mlp Run.step (+ torch)
    python tests/perf/compare_engines.py REV --only optimizers --sizes 1e6,1e7 --names adam

REV's `engine/` is exported (`git archive`) into a temporary folder as the package
`engine_base` (its imports rewritten to that name), so both engines run in the same process.
Old and new take turns within each round, so a burst of load from other processes (a shared
machine) hits them alike; figures are the best and the median over the rounds, in CPU time of
this thread (`time.thread_time`: time spent descheduled is not counted), with BLAS on one
thread. Optimizers: float32 steps of one N-element parameter and their bandwidth as a fraction
of `np.copyto`'s (as tests/perf/bench_optimizers.py counts it), copyto timed in the same
rounds. Run.step: digits-mlp 64-128-10, batch 32, Adam, evaluation off, and the torch loop of
tests/perf/bench_run.py when torch is importable.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import importlib  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_optimizers import TRAFFIC  # noqa: E402

BASE = "engine_base"
clock = time.thread_time


def export_engine(rev: str, into: Path) -> None:
    """Write REV's engine/ to `into`/engine_base, with every reference to the package renamed."""
    archive = into / "engine.tar"
    subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "engine"], check=True
    )
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.11.4
    with tarfile.open(archive) as tar:
        tar.extractall(into, **safe)
    (into / "engine").rename(into / BASE)
    # `from engine.x`, `import engine.x`, "engine.x" module names and resources.files("engine").
    pattern = re.compile(r"""(?<![\w.])engine(?=[.'"\s]|$)""", re.MULTILINE)
    for path in (into / BASE).rglob("*.py"):
        text = path.read_text()
        lines = []
        for line in text.splitlines(keepends=True):
            code = line.lstrip()
            if code.startswith(("from ", "import ")) or "engine." in line or '"engine"' in line:
                line = pattern.sub(BASE, line)
            lines.append(line)
        path.write_text("".join(lines))


def rounds_of(fns: dict[Any, Callable[[], Any]], rounds: int, target: float) -> dict:
    """Per contender, the seconds per call of each round (contenders take turns)."""
    reps = {}
    for key, fn in fns.items():
        fn()
        t0 = clock()
        fn()
        reps[key] = max(1, int(target / max(clock() - t0, 1e-7)))
    times: dict[Any, list[float]] = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            n = reps[key]
            t0 = clock()
            for _ in range(n):
                fn()
            times[key].append((clock() - t0) / n)
    return times


def compare_optimizers(old: Any, new: Any, names: list[str], sizes: list[int], rounds: int):
    rng = np.random.default_rng(0)
    print("optimizer steps, float32, us per step: best (median) before | after | after/before")
    print(
        "and the bandwidth fraction of np.copyto (as bench_optimizers counts it), before -> after"
    )
    for n in sizes:
        src = rng.standard_normal(n).astype(np.float32)
        dst = np.empty_like(src)
        grad = (rng.standard_normal(n) * 1e-3).astype(np.float32)
        grads = {"w": grad}
        fns: dict[Any, Callable[[], Any]] = {"copyto": lambda d=dst, s=src: np.copyto(d, s)}
        for name in names:
            for tag, module in (("before", old), ("after", new)):
                params = {"w": rng.standard_normal(n).astype(np.float32)}
                opt = module.create(name, lr=1e-6)
                for _ in range(8):  # past RAdam's un-rectified first steps
                    opt.step(params, grads)
                fns[(name, tag)] = lambda o=opt, p=params, g=grads: o.step(p, g)
        times = rounds_of(fns, rounds, target=0.02)
        t_copy = min(times["copyto"])
        copy_bw = 2 * 4 * n / t_copy
        print(f"N = {n:.0e}: copyto {t_copy * 1e6:.1f} us = {copy_bw / 1e9:.1f} GB/s")
        for name in names:
            b, a = times[(name, "before")], times[(name, "after")]
            moved = sum(TRAFFIC[name]) * 4 * n
            print(
                f"  {name:14s} {min(b) * 1e6:10.1f} ({statistics.median(b) * 1e6:10.1f}) | "
                f"{min(a) * 1e6:10.1f} ({statistics.median(a) * 1e6:10.1f}) | "
                f"{min(a) / min(b):5.2f}   {moved / min(b) / copy_bw:.3f} -> "
                f"{moved / min(a) / copy_bw:.3f}",
                flush=True,
            )


def compare_runs(old_run: Any, new_run: Any, rounds: int) -> None:
    try:
        import torch

        torch.set_num_threads(1)
        import bench_run
    except ImportError:
        torch = None
    print("digits-mlp Run.step (64-128-10, batch 32, Adam), us per step: best (median)")
    for dtype in ("float64", "float32"):
        config = dict(
            task="digits-mlp",
            optimizer="adam",
            seed=0,
            task_hypers={"hidden": 128, "batch_size": 32},
            dtype=dtype,
            eval_every=0,
        )
        runs = {
            "before": old_run.Run(old_run.RunConfig(**config)),
            "after": new_run.Run(new_run.RunConfig(**config)),
        }
        fns: dict[Any, Callable[[], Any]] = {k: (lambda r=r: r.step(200)) for k, r in runs.items()}
        if torch is not None:
            loop = bench_run.torch_loop(torch, dtype, False)
            fns["torch"] = lambda f=loop: f(200)
        for fn in fns.values():
            fn()  # warm up
        times = rounds_of(fns, rounds, target=0.0)
        best = {k: min(v) / 200 for k, v in times.items()}
        med = {k: statistics.median(v) / 200 for k, v in times.items()}
        cells = "  ".join(f"{k} {best[k] * 1e6:7.1f} ({med[k] * 1e6:7.1f})" for k in fns)
        print(f"[{dtype}] {cells}")
        line = f"  after/before {best['after'] / best['before']:.3f}"
        if torch is not None:
            line += (
                f"; ratio to torch's default Adam loop: before {best['before'] / best['torch']:.3f}"
                f", after {best['after'] / best['torch']:.3f} (medians "
                f"{med['before'] / med['torch']:.3f}, {med['after'] / med['torch']:.3f})"
            )
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="git revision to compare against, e.g. main or a commit")
    ap.add_argument("--only", choices=("optimizers", "run"), default=None)
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    ap.add_argument("--names", default=",".join(TRAFFIC))
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export_engine(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        import engine_base.optimizers as old_optimizers
        import engine_base.run as old_run

        from engine import optimizers as new_optimizers
        from engine import run as new_run

        print(f"before: {args.rev} (as {BASE}); after: this checkout; numpy {np.__version__}")
        for label, package in (("before", "engine_base"), ("after", "engine")):
            try:  # each engine's compiled path (if it has one) built before the clock starts
                paths = importlib.import_module(f"{package}.optimizers.compiled")
            except ImportError:
                continue
            paths.wait()
            print(f"{label}: optimizer path {paths.describe()}")
        if args.only in (None, "run"):
            compare_runs(old_run, new_run, max(args.rounds * 3, 15))
        if args.only in (None, "optimizers"):
            sizes = [int(float(s)) for s in args.sizes.split(",")]
            names = args.names.split(",")
            compare_optimizers(old_optimizers, new_optimizers, names, sizes, args.rounds)


if __name__ == "__main__":
    main()
