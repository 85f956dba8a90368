"""How fast `optplay runs list` answers over a store of 10,000 runs (engine/store.py).

Run from the repository root (prints figures; asserts nothing):
    python tests/perf/bench_runs_store.py [N]     # N runs (default 10,000)

Fills a store in a temporary folder (OPTPLAY_DATA_DIR) with N runs of a 1000-step
digits-mlp history (the same row N times, over several tasks and optimizers, one
transaction), then times, best of 5:
- `optplay runs list` (the table) and `optplay runs list --json` as the user runs them: a
  fresh process, so Python's start and the imports are included (the target is 0.3 s);
- `Store().list()` in process (the query and the rows alone);
- a filtered listing (`--optimizer adam --since 1d`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def fill(n: int) -> None:
    from engine import store
    from engine.run import Run, RunConfig

    run = Run(RunConfig(task="digits-mlp", optimizer="adam", seed=0))
    run.step(1000)
    row = store.snapshot(run, started=time.time(), planned_steps=1000, source="cli")
    blob = store.encode_history(row.arrays, row.meta)
    tasks = ("digits-mlp", "quadratic", "rosenbrock", "linear-regression")
    opts = ("sgd", "momentum", "adam", "adamw", "nadam")
    now = time.time()
    with store.Store() as s:
        values = [
            (None, "cli", tasks[k % 4], opts[k % 5], "constant", k % 10, 1000, 1000,
             now - (n - k) * 60.0, now - (n - k) * 60.0 + 1, row.code_version, "finished",
             row.final_loss, row.final_eval_loss, row.best_eval_loss, None, row.config)
            for k in range(n)
        ]  # fmt: skip
        cols = ", ".join(store.SUMMARY_COLUMNS[1:]) + ", config"
        s._conn.execute("BEGIN IMMEDIATE")
        s._conn.executemany(
            f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(values[0]))})", values
        )
        s._conn.executemany(
            "INSERT INTO histories (run_id, data) VALUES (?, ?)",
            [(k + 1, blob) for k in range(n)],
        )
        s._conn.execute("COMMIT")


def best_of(fn: object, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        os.environ["OPTPLAY_DATA_DIR"] = folder
        t0 = time.perf_counter()
        fill(n)
        size = (Path(folder) / "runs.sqlite").stat().st_size
        print(f"filled {n:,} runs in {time.perf_counter() - t0:.1f} s ({size / 2**20:.0f} MiB)")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cli = [sys.executable, "-m", "tui", "runs", "list"]

        def command(*extra: str) -> None:
            done = subprocess.run([*cli, *extra], env=env, capture_output=True, check=True)
            assert done.stdout.count(b"\n") >= n, "not every run was listed"

        def quiet(*extra: str) -> None:
            subprocess.run([*cli, *extra], env=env, capture_output=True, check=True)

        from engine.store import Store

        def in_process() -> None:
            with Store() as s:
                assert len(s.list()) == n

        startup = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        print(f"python start alone                  {startup:.3f} s")
        print(f"optplay runs list                   {best_of(command):.3f} s   (target 0.3 s)")
        print(f"optplay runs list --json            {best_of(lambda: command('--json')):.3f} s")
        filtered = best_of(lambda: quiet("--optimizer", "adam", "--since", "1d"))
        print(f"optplay runs list --optimizer adam --since 1d  {filtered:.3f} s")
        print(f"Store().list() in process           {best_of(in_process):.3f} s")


if __name__ == "__main__":
    main()
