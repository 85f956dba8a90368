"""Signals at random moments on `optplay sweep` running on the process pool: every finished row
is kept, the exit status is 128 + the signal, and no process the sweep started is alive 3 s
after it ends (its fork server, workers and resource tracker included; also after SIGKILL,
when the workers must notice that their parent is gone).

Run from the repository root (prints one line per trial and a summary; exit 1 on a failure):
    python tests/perf/sweep_signals.py                      # 20 trials of each signal
    python tests/perf/sweep_signals.py --trials 3 --signals SIGTERM SIGKILL

Each trial runs, in its own temporary folder, a 120-run sweep (quadratic; sgd, momentum and
adam at 40 rates; 20,000 steps, ~0.2 s a run) on a pool of 2 workers with `--out rows.csv`.
Once the pool's first worker is up, it waits a random time (0 to 4 s), signals the sweep's
process (the parent alone, as `kill` does), and then checks:
- SIGINT, SIGTERM, SIGHUP: exit status 128 + the signal (0 if the sweep finished first), the
  rows in `--out` are as many as the printed report says finished ("cancelled: K of 120 runs
  finished"), and each is a whole run (all 20,000 steps);
- every signal: each process seen under the sweep while it ran has exited within 3 s of the
  sweep's end (a zombie awaiting its parent counts as exited).

`tests/tui/test_sweep_signals.py` runs two trials of each signal with this code.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
RUNS = 120
STEPS = 20_000
SWEEP = [
    "sweep", "--task", "quadratic", "--optimizers", "sgd", "momentum", "adam",
    "--lr", "1e-3:1:40", "--steps", str(STEPS), "--workers", "2", "--out", "rows.csv",
    "--no-progress", "--no-chart",
]  # fmt: skip
ORPHAN_GRACE = 3.0  # seconds the sweep's processes may outlive it
START_TIMEOUT = 120.0  # seconds for the pool to come up (a loaded machine is slow)
END_TIMEOUT = 120.0  # seconds for the sweep to end once signalled


@dataclass
class Trial:
    """What one trial saw; `problems` is empty when it passed."""

    signal_name: str
    delay: float
    status: int | None = None
    kept: int | None = None  # runs the report says finished
    rows: int | None = None  # rows in --out
    seen: int = 0  # processes seen under the sweep
    alive: list[str] = field(default_factory=list)  # those still alive after the grace
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "ok" if not self.problems else "FAIL: " + "; ".join(self.problems)
        return (
            f"{self.signal_name:<8} after {self.delay:4.2f} s: exit {self.status}, "
            f"kept {self.kept}, rows {self.rows}, {self.seen} processes seen, "
            f"{len(self.alive)} alive after {ORPHAN_GRACE:g} s -- {verdict}"
        )


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_trial(signal_name: str, delay: float, folder: Path, root: Path = ROOT) -> Trial:
    """One sweep in `folder`, signalled `delay` s after its pool's first worker started
    (`root`: the checkout whose optplay runs)."""
    trial = Trial(signal_name, delay)
    signum = getattr(signal, signal_name)
    env = {**os.environ, "PYTHONPATH": str(root)}
    # Output to files, not pipes: a process left behind would hold a pipe open for ever.
    with (folder / "out.txt").open("w") as out_file, (folder / "err.txt").open("w") as err_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "tui", *SWEEP],
            cwd=folder,
            env=env,
            stdout=out_file,
            stderr=err_file,
        )
    parent = psutil.Process(child.pid)
    seen: dict[int, psutil.Process] = {}

    def look() -> None:
        for process in _descendants(parent):
            seen.setdefault(process.pid, process)

    def pool_started() -> bool:  # a worker: a process the fork server started
        return any(_parent_pid(p) not in (None, child.pid) for p in seen.values())

    started = time.monotonic()
    while child.poll() is None and not pool_started():
        if time.monotonic() - started > START_TIMEOUT:
            break
        look()
        time.sleep(0.02)
    signal_at = time.monotonic() + delay
    while child.poll() is None and time.monotonic() < signal_at:
        look()
        time.sleep(0.02)
    look()
    if child.poll() is None:
        child.send_signal(signum)
    try:
        child.wait(timeout=END_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        trial.problems.append(f"still running {END_TIMEOUT:g} s after the signal")
    out = (folder / "out.txt").read_text()
    err = (folder / "err.txt").read_text()
    ended = time.monotonic()
    trial.status = child.returncode
    trial.seen = len(seen)
    while time.monotonic() < ended + ORPHAN_GRACE and any(_alive(p) for p in seen.values()):
        time.sleep(0.05)
    trial.alive = [f"{p.pid} {' '.join(_cmd(p))[:60]}" for p in seen.values() if _alive(p)]
    for process in seen.values():  # never leave them behind, whatever the verdict
        if _alive(process):
            with contextlib.suppress(psutil.Error):
                process.kill()
    if trial.alive:
        trial.problems.append(f"alive {ORPHAN_GRACE:g} s after the end: {trial.alive}")
    if "Traceback" in err:
        trial.problems.append("a traceback: " + err.strip().splitlines()[-1])
    if signum != signal.SIGKILL:
        _check_rows(trial, signum, out, folder / "rows.csv")
    elif trial.status not in (-signal.SIGKILL, 0):
        trial.problems.append(f"exit status {trial.status}, expected -9")
    return trial


def _check_rows(trial: Trial, signum: int, out: str, rows_file: Path) -> None:
    finished = trial.status == 0
    expected = 0 if finished else 128 + signum
    if trial.status != expected:
        trial.problems.append(f"exit status {trial.status}, expected {expected}")
    match = re.search(r"cancelled: (\d+) of (\d+) runs finished", out)
    trial.kept = RUNS if finished else int(match.group(1)) if match else None
    if trial.kept is None:
        trial.problems.append("no report of the finished runs on stdout")
    if not rows_file.exists():
        trial.problems.append("--out was not written")
        return
    with rows_file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    trial.rows = len(rows)
    if trial.kept is not None and trial.rows != trial.kept:
        trial.problems.append(f"{trial.kept} runs finished but {trial.rows} rows in --out")
    if any(row["steps"] != str(STEPS) or not row["final_loss"] for row in rows):
        trial.problems.append("a row of --out is not a whole run")


def _parent_pid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


def _cmd(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per signal (default 20)")
    parser.add_argument("--signals", nargs="+", default=["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
    parser.add_argument("--max-delay", type=float, default=4.0, help="latest signal (s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random moments")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to run (default: this one)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failures = 0
    for name in args.signals:
        trials = []
        for _ in range(args.trials):
            with tempfile.TemporaryDirectory() as folder:
                trial = run_trial(name, rng.uniform(0.0, args.max_delay), Path(folder), args.root)
            print(trial.line(), flush=True)
            trials.append(trial)
        bad = sum(bool(t.problems) for t in trials)
        failures += bad
        kept = [t.kept for t in trials if t.kept is not None]
        print(
            f"== {name}: {len(trials) - bad}/{len(trials)} passed"
            + (f"; rows kept {min(kept)}..{max(kept)}" if kept else ""),
            flush=True,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
