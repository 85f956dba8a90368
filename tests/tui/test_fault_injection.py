"""Fault injection: kill a headless run and an experiment save at random moments.

Each trial forks a child that runs `optplay run ... --out h.csv --out h.json` (or saves an
experiment file in a loop) over files from an earlier run, and sends it SIGKILL, SIGTERM,
SIGHUP or two SIGINTs at a random moment of its training, export or save. Then every target
file must be complete, the old one or a new one, never half of one; no temporary file may be
left (after SIGKILL, once the stale-temp sweep that every save starts with has run: see
engine/files.py); and a run ended by SIGTERM, SIGHUP or SIGINT must have written its partial
history, valid and complete up to the step it reached, and exited 128 + the signal.

10 trials per signal and target in the default run (about 10-20 s), 100 with
`--hypothesis-profile=long`. The random moments come from a seeded generator; a failure
prints the trial's seed, delays and the child's stderr.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import long_profile

from engine import config, files
from engine.config import Experiment
from engine.history import STEP_SERIES
from engine.run import RunConfig

TRIALS = 100 if long_profile() else 10
KINDS = ("SIGKILL", "SIGTERM", "SIGHUP", "SIGINT twice")
STEPS = 10_000  # quadratic: ~0.1 s of training, then a 10,000-row CSV and JSON export
TEMP_PREFIX = ".optplay-"
HUNG = 900.0  # seconds after which a child is stuck, whatever the load


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def reset_signals() -> None:
    """The signal dispositions of a program started from a terminal. A test run started in the
    background (`pytest &` in a script: SIGINT ignored) or under nohup (SIGHUP ignored) would
    otherwise hand its children ignored signals, and a child looping on saves would never end
    (seen as "the child hung" in suite runs beside other work)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


class Child:
    """A forked child running `body()` (stdout/stderr to files); it writes one byte to a pipe
    when `ready()` is called, so the parent can time its signals from that moment. It starts
    with the signals as a terminal gives them (`reset_signals`), and the parent waits for the
    events it needs (the ready byte, the child's exit), never a time that load could pass."""

    def __init__(self, folder: Path, body: Callable[[Callable[[], None]], int]) -> None:
        self.err_path = folder / "child.err"
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # never returns into pytest
            code = 99
            try:
                reset_signals()
                os.close(read)
                sink = os.open(folder / "child.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                err = os.open(self.err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(sink, 1)
                os.dup2(err, 2)
                sys.stdout = open(1, "w", closefd=False)
                sys.stderr = open(2, "w", closefd=False)
                code = body(lambda: os.write(write, b"r"))
            except BaseException:  # shown by the parent on failure
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        os.close(write)
        self._ready = read

    def wait_ready(self) -> bool:
        """True once the child said it is ready (False if it ended first): a read of the
        pipe, which ends with its byte or with the child's exit (end of file)."""
        got = os.read(self._ready, 1)
        os.close(self._ready)
        return got == b"r"

    def send(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:  # it already ended: fine, the checks still apply
            pass

    def wait(self) -> tuple[int | None, int | None]:
        """(exit status, killing signal), one of them None, once the child has ended. Only a
        child still running after HUNG seconds (stuck, not slow: a trial takes well under a
        second of CPU) is killed and fails the test."""
        deadline = time.monotonic() + HUNG
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                return code, os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"the child hung (still running after {HUNG:g} s)")
            time.sleep(0.005)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def deliver(child: Child, kind: str, rng: random.Random, window: float) -> list[float]:
    """Send `kind` at random moments within `window` seconds; returns the delays used."""
    delays = [rng.uniform(0.0, window)]
    time.sleep(delays[0])
    if kind == "SIGINT twice":
        child.send(signal.SIGINT)
        delays.append(rng.uniform(0.0, window / 2))  # the second one, often mid-export
        time.sleep(delays[1])
        child.send(signal.SIGINT)
    else:
        child.send(getattr(signal, kind))
    return delays


# -- the headless run -----------------------------------------------------------------------


def csv_history(path: Path) -> int:
    """Steps in a complete CSV history (AssertionError if it is not one)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows and rows[0][: 1 + len(STEP_SERIES)] == ["step", *STEP_SERIES], rows[:1]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(rows)))
    assert all(len(r) == len(rows[0]) for r in rows)
    return len(rows) - 1


def json_history(path: Path) -> int:
    doc = json.loads(path.read_text())
    assert doc["format"] == "optplay-history"
    (rec,) = doc["runs"]
    assert rec["step"] == list(range(1, len(rec["step"]) + 1))
    assert all(len(rec[s]) == len(rec["step"]) for s in STEP_SERIES)
    return len(rec["step"])


def run_child(folder: Path) -> Child:
    from tui.cli import main

    def body(ready: Callable[[], None]) -> int:
        from engine.run import Run

        step = Run.step

        def stepping(self, n=1):  # tell the parent once training has begun
            if self.steps_done == 0:
                ready()
            return step(self, n)

        Run.step = stepping
        argv = ["run", "--task", "quadratic", "--optimizer", "sgd", "--no-progress"]
        argv += ["--steps", str(STEPS), "--out", "h.csv", "--out", "h.json"]
        os.chdir(folder)
        return main(argv)

    return Child(folder, body)


@pytest.fixture(scope="module")
def run_window(tmp_path_factory) -> float:
    """How long a run of the trials takes here, training and export (one calibration run):
    the signals are spread over that time, so they land in both phases."""
    folder = tmp_path_factory.mktemp("calibrate")
    child = run_child(folder)
    assert child.wait_ready()
    t0 = time.monotonic()
    assert child.wait() == (0, None), child.stderr()
    return 1.2 * (time.monotonic() - t0)


OLD = {
    "h.csv": "step,loss,lr,grad_norm,update_norm,effective_step\n1,4.0,0.1,4.0,0.4,0.1\n",
    "h.json": json.dumps(
        {
            "format": "optplay-history",
            "version": 1,
            "runs": [{"step": [1], **{s: [1.0] for s in STEP_SERIES}}],
        }
    )
    + "\n",
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_headless_run_killed_at_random_moments(tmp_path, run_window, kind):
    rng = random.Random(f"run {kind}")
    for trial in range(TRIALS):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        old = {}
        for name, text in OLD.items():  # the files of an earlier run, to be replaced
            (folder / name).write_text(text)
            old[name] = (folder / name).read_bytes()
        child = run_child(folder)
        assert child.wait_ready(), child.stderr()
        delays = deliver(child, kind, rng, run_window)
        code, killed = child.wait()
        where = f"trial {trial}, {kind} after {delays} s: exit {code}, signal {killed}\n"
        where += child.stderr()
        if kind == "SIGKILL":
            files.sweep_stale_temps(folder)  # what the next save into the folder does
        assert temps(folder) == [], where
        news = {}
        for name, reader in (("h.csv", csv_history), ("h.json", json_history)):
            data = (folder / name).read_bytes()
            if data != old[name]:
                news[name] = reader(folder / name)  # new: complete and valid
        if kind == "SIGKILL":
            assert killed in (signal.SIGKILL, None), where
            continue
        # Stopped by the signal, or finished first: either way the history was saved, the
        # same in both files, and complete up to the step reached.
        assert set(news) == {"h.csv", "h.json"}, where
        steps = news["h.csv"]
        assert news["h.json"] == steps and 1 <= steps <= STEPS, where
        signum = signal.SIGINT if kind == "SIGINT twice" else getattr(signal, kind)
        if killed is None:
            assert code in (128 + signum, 0) and (code != 0 or steps == STEPS), where
            assert "Traceback" not in child.stderr(), where
        else:  # it came after the run had saved and returned, as the process was ending
            assert killed == signum, where


# -- an experiment save -----------------------------------------------------------------------


A = Experiment(RunConfig(task="rosenbrock", optimizer="adam"), steps=500, name="A " + "a" * 3000)
B = Experiment(RunConfig(task="digits-mlp", optimizer="sgd", schedule="cosine"), name="B")


@pytest.mark.parametrize("kind", KINDS)
def test_an_experiment_save_killed_at_random_moments(tmp_path, kind):
    rng = random.Random(f"save {kind}")
    path = tmp_path / "exp.toml"
    config.save(path, B)
    for trial in range(TRIALS):

        def body(ready: Callable[[], None]) -> int:
            ready()
            i = 0
            while True:  # save after save, as fast as it goes, until killed
                config.save(path, A if i % 2 else B)
                i += 1

        child = Child(tmp_path, body)
        assert child.wait_ready(), child.stderr()
        delays = deliver(child, kind, rng, 0.05)
        code, killed = child.wait()
        where = f"trial {trial}, {kind} after {delays} s: exit {code}, signal {killed}"
        if kind == "SIGKILL":
            assert killed == signal.SIGKILL, where
            files.sweep_stale_temps(tmp_path)  # what the next save into the folder does
        elif kind == "SIGINT twice":
            # Python's KeyboardInterrupt ends the loop (the child's wrapper exits 99), once
            # a save in progress is done: engine.files holds the signal until then.
            assert killed is None and code == 99, where
        else:
            # No handler: the default action ends it, but only once a save in progress has
            # renamed or removed its temp file (engine.files holds these signals meanwhile).
            assert killed == getattr(signal, kind), where
        assert temps(tmp_path) == [], where
        assert config.load(path) in (A, B), where  # complete: one of the two, never a mix
