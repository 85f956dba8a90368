"""The headless CLI under faults, signals and hostile files (issue 18's numbered items).

Tests that deliver signals run `tui.cli.main` in a forked child (`in_child`), so a signal the
CLI failed to handle kills the child, not the test session; tests of a closed stdout run
`python -m tui` with its stdout pipe closed before it starts writing.
"""

from __future__ import annotations

import csv
import os
import resource
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.history import STEP_SERIES
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUAD = ["--task", "quadratic", "--optimizer", "sgd", "--no-progress"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def assert_complete_history(path: Path, steps: int | None = None) -> int:
    """A CSV history with one row per step 1..N, every row complete; returns N."""
    rows = read_rows(path)
    assert rows[0][: 1 + len(STEP_SERIES)] == ["step", *STEP_SERIES]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(1, len(body) + 1))
    assert all(len(r) == len(rows[0]) for r in body)
    if steps is not None:
        assert len(body) == steps
    return len(body)


def in_child(
    tmp_path: Path, body: Callable[[], int], memory: int | None = None
) -> tuple[int | None, int | None, str, str]:
    """Run `body()` in a forked child with stdout and stderr going to files (and its address
    space capped at `memory` bytes, if given); returns (exit status or None, terminating
    signal or None, stdout, stderr)."""
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 99
        try:
            if memory is not None:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            code = body()
        except BaseException:  # a traceback is what the test reports
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return code, sig, out.read_text(), err.read_text()


def signal_after(steps: int, *signals: int) -> None:
    """Make `Run.step` deliver `signals` to this process once `steps` updates are done (one
    after each of the following chunks), as a user or the system would mid-run."""
    from engine.run import Run

    step = Run.step
    pending = list(signals)

    def stepping(self, n=1):
        result = step(self, n)
        if pending and self.steps_done >= steps:
            os.kill(os.getpid(), pending.pop(0))
        return result

    Run.step = stepping


# -- 1. --entry with a Unicode digit ----------------------------------------------------------


RACE = """\
task = "quadratic"
steps = 20

[[race]]
name = "{first}"
optimizer = "sgd"

[[race]]
optimizer = "adam"
"""


@pytest.mark.parametrize("entry", ["²", "٣", "¹", "½", "1²"])
def test_entry_with_a_unicode_digit_is_a_message(tmp_path, capsys, entry):
    path = tmp_path / "race.toml"
    path.write_text(RACE.format(first="one"), encoding="utf-8")
    status, out, err = run_cli(capsys, "run", "--config", str(path), "--entry", entry)
    assert status == 2 and out == ""
    assert err == (
        f"optplay run: error: --entry: no racer '{entry}' in {path} (racers: one, adam, or 1-2)\n"
    )


# -- 2. deep nesting and long echoes, through the CLI -----------------------------------------


@pytest.mark.parametrize("command", ["run", "bench"])
def test_deeply_nested_files_exit_2(tmp_path, capsys, command):
    path = tmp_path / "deep.toml"
    path.write_text("[bench]\ntasks." + ".".join(["a"] * 1000) + " = 1\n")
    status, _, err = run_cli(capsys, command, "--config", str(path))
    assert status == 2 and "line 2: nested more than 32 levels deep" in err
    path.write_text('task = "quadratic"\noptimizer = "sgd"\nx = ' + "[" * 500 + "]" * 500)
    status, _, err = run_cli(capsys, command, "--config", str(path))
    assert status == 2 and "line 3: nested more than 32 levels deep" in err


# -- 5. special files as --config -------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "bench"])
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_as_config_exit_2(tmp_path, command, device):
    # In a child with 4 GiB of address space: reading /dev/zero unbounded (the bug) must
    # fail the test, not eat the machine's memory.
    code, _, _, err = in_child(
        tmp_path, lambda: main([command, "--config", device]), memory=4 << 30
    )
    assert code == 2
    assert err == f"optplay {command}: error: {device}: not a regular file (a character device)\n"


def test_a_fifo_as_config_exits_2_without_blocking(tmp_path):
    fifo = tmp_path / "exp.toml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "tui", "run", "--config", str(fifo)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"optplay run: error: {fifo}: not a regular file (a FIFO)\n"


def test_a_huge_config_exits_2(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    with path.open("wb") as fh:
        fh.truncate(10 << 20)
    status, _, err = run_cli(capsys, "run", "--config", str(path))
    assert status == 2 and "larger than 1 MiB" in err


# -- 6. a closed stdout -----------------------------------------------------------------------


def with_closed_stdout(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """`python -m tui ARGV` whose stdout pipe has no reader by the time it writes."""
    err = tmp_path / "stderr.txt"
    with err.open("w") as err_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui", *argv],
            stdout=subprocess.PIPE, stderr=err_fh, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        proc.stdout.close()  # the reader is gone before the child has started
        code = proc.wait(timeout=120)
    return subprocess.CompletedProcess(argv, code, "", err.read_text())


def test_a_closed_stdout_loses_no_results(tmp_path):
    done = with_closed_stdout(
        tmp_path, "run", *QUAD, "--steps", "300", "--out", "a.csv", "--out", "b.json"
    )
    assert done.stderr == "" and done.returncode == 0
    assert_complete_history(tmp_path / "a.csv", 300)
    assert (tmp_path / "b.json").read_text().endswith("}\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "presets"],
        ["list", "--presets"],
        ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "--steps", "5", "--seeds", "1"],
        ["--help"],
    ],
)
def test_commands_are_quiet_on_a_closed_pipe(tmp_path, argv):
    done = with_closed_stdout(tmp_path, *argv)
    assert done.stderr == "" and done.returncode == 0


def test_results_are_written_before_anything_is_printed(tmp_path, capsys, monkeypatch):
    """The files exist by the time the first line of the summary is printed."""
    import builtins

    paths = [tmp_path / "a.csv", tmp_path / "b.json"]
    seen: list[list[bool]] = []
    real_print = builtins.print

    def spying_print(*args, **kwargs):
        seen.append([p.exists() for p in paths])
        real_print(*args, **kwargs)

    monkeypatch.setattr(builtins, "print", spying_print)
    status, _, _ = run_cli(capsys, "run", *QUAD, "--steps", "50", *[f"--out={p}" for p in paths])
    assert status == 0 and seen and all(all(flags) for flags in seen)


# -- 7 and 8. a second Ctrl-C, SIGTERM and SIGHUP ---------------------------------------------


@pytest.mark.parametrize(
    ("sig", "status", "word"),
    [
        (signal.SIGINT, 130, "interrupted (SIGINT)"),
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
        (signal.SIGHUP, 129, "hung up (SIGHUP)"),
    ],
)
def test_signals_that_end_a_run_save_its_history(tmp_path, sig, status, word):
    out = tmp_path / "h.csv"

    def body() -> int:
        signal_after(200, sig)
        return main(["run", *QUAD, "--steps", "10000000", "--out", str(out)])

    code, killed, stdout, stderr = in_child(tmp_path, body)
    assert killed is None and code == status, stderr
    n = assert_complete_history(out)
    assert 200 <= n < 10_000_000
    assert f"state            {word} at step {n}" in stdout
    assert f"wrote {out}" in stdout
    assert "Traceback" not in stderr


def test_a_second_ctrl_c_during_the_export_waits_for_it(tmp_path):
    """Issue 18: a second Ctrl-C during the export threw the whole trained history away."""
    out = tmp_path / "h.csv"

    def body() -> int:
        import engine.history

        signal_after(200, signal.SIGINT)
        export = engine.history.export_history

        def interrupted_export(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, mid-export
            return export(*args, **kwargs)

        engine.history.export_history = interrupted_export
        return main(["run", *QUAD, "--steps", "10000000", "--out", str(out)])

    code, killed, stdout, stderr = in_child(tmp_path, body)
    assert killed is None and code == 130, stderr
    n = assert_complete_history(out)
    assert f"interrupted (SIGINT) at step {n}" in stdout and "Traceback" not in stderr
    assert "saving the history first" in stderr


# -- 9. long names and --out checked before training -------------------------------------------


def test_out_names_up_to_255_bytes_are_written(tmp_path, capsys):
    long = tmp_path / ("h" * 251 + ".csv")
    status, _, err = run_cli(capsys, "run", *QUAD, "--steps", "20", "--out", str(long))
    assert status == 0, err
    assert_complete_history(long, 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == [long.name]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / ("h" * 253 + ".csv"), "File name too long"),
        (lambda d: (d / "dir.csv").mkdir() or d / "dir.csv", "Is a directory"),
        (lambda d: d / "missing" / "h.csv", "does not exist"),
    ],
    ids=["256-bytes", "a-directory", "no-folder"],
)
def test_out_is_checked_before_training(tmp_path, capsys, monkeypatch, make, message):
    from engine.run import Run

    def no_training(*_args, **_kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(Run, "step", no_training)
    status, stdout, err = run_cli(capsys, "run", *QUAD, "--out", str(make(tmp_path)))
    assert status == 2 and stdout == ""
    assert err.startswith("optplay run: error: --out ") and message in err


def test_a_full_disk_is_reported_and_the_summary_still_shown(tmp_path, capsys):
    link = tmp_path / "h.csv"
    link.symlink_to("/dev/full")
    ok = tmp_path / "ok.csv"
    status, stdout, err = run_cli(
        capsys, "run", *QUAD, "--steps", "20", "--out", str(link), "--out", str(ok)
    )
    assert status == 2
    assert err == f"optplay run: error: --out {link}: No space left on device\n"
    assert "state            finished" in stdout and f"wrote {ok}" in stdout
    assert_complete_history(ok, 20)
    assert link.is_symlink()


# -- 12. names from files are escaped on the terminal ------------------------------------------


PWNED = "\\u001b]0;PWNED\\u0007\\u001b[2J"


def test_terminal_escapes_in_names_are_shown_escaped(tmp_path, capsys):
    path = tmp_path / "race.toml"
    path.write_text(RACE.format(first=PWNED), encoding="utf-8")
    status, _, err = run_cli(capsys, "run", "--config", str(path), "--steps", "3", *QUAD[-1:])
    assert status == 0
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in err  # the reader sees what the name holds
    status, _, err = run_cli(capsys, "run", "--config", str(path), "--entry", "nope")
    assert status == 2 and "\x1b" not in err and "\\x1b]0;PWNED" in err
    status, out, err = run_cli(
        capsys, "run", *QUAD, "--steps", "2", "--out", str(tmp_path / "a\x1b[2Jb.csv")
    )
    assert status == 0 and "\x1b" not in out and "a\\x1b[2Jb.csv" in out


# -- 15. --steps=-- ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["--steps=--"], ["--seed=--"], ["--set=--"], ["--out=--"], ["--eval-every=--"]],
)
def test_a_double_dash_value_is_refused(capsys, argv):
    status, out, err = run_cli(capsys, "run", *QUAD, *argv)
    option = argv[0].split("=")[0]
    assert status == 2 and out == ""
    assert f"argument {option}: expected a value, got '--'" in err


# -- which loss and divergence in the summary (issue 18, "numbers that mislead") ---------------


def test_the_summary_names_each_loss(capsys):
    status, out, _ = run_cli(
        capsys, "run", "--task", "digits-mlp", "--optimizer", "adam", "--steps", "60",
        "--eval-every", "25", "--no-progress",
    )  # fmt: skip
    assert status == 0
    assert "last batch loss  " in out and "(training loss of update 60, on its batch)" in out
    assert "eval loss        " in out and "at step 50 (held-out data)" in out
    assert "final loss" not in out


def test_an_exploding_loss_is_divergence_and_exits_1(capsys):
    """Issue 18: lr 10 on linear regression ended "finished" at a loss of 6.5e165."""
    status, out, _ = run_cli(
        capsys, "run", "--task", "linear-regression", "--optimizer", "sgd", "--set", "lr=10",
        "--steps", "50", "--no-progress",
    )  # fmt: skip
    assert status == 1
    assert "state            diverged at step" in out and "the loss rose to" in out
    assert "divergence_factor 1e+06" in out
    status, out, _ = run_cli(
        capsys, "run", "--task", "linear-regression", "--optimizer", "sgd", "--set", "lr=10",
        "--steps", "50", "--no-progress", "--divergence-factor", "inf",
    )  # fmt: skip
    assert status == 0 and "state            finished" in out
    status, _, err = run_cli(capsys, "run", *QUAD, "--divergence-factor", "0")
    assert status == 2 and "--divergence-factor: must be a number in (0, inf], got '0'" in err
