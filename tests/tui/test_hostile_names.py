"""Names from a file shown as text: 50 hostile racer names (terminal escapes, Rich and Textual
markup, bidi controls, very long ones) appear literally, their control characters escaped,
on the app's screen at 80x24 and 120x40, in the raw output the app writes to a terminal, and
in the CLI's output. Nothing from a name may reach the terminal as a control sequence."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time

import pytest
from conftest import screen_text, wait_for

from engine import config as config_module
from engine.config import Experiment, RaceEntry
from engine.run import RunConfig
from engine.textsafe import for_terminal
from tui.app import create_app
from tui.cli import main

PATTERNS = (
    "\x1b]0;PWNED-TITLE\x07",  # retitles the window
    "\x1b[2J\x1b[Hcleared",  # clears the screen
    "\x1b[31mRED-NAME\x1b[0m",  # colours
    "\x9b31mC1-CSI",  # the one-byte CSI
    "\x07BELL\x08\x7f",
    "line\r\nbreak",
    "[bold]BOLD[/]",
    "[/]",
    "[@click=app.quit]QUIT-LINK[/]",
    "[link=https://example.org]LINK[/link]",
    "\u202eREVERSED",
    "\u2066isolate\u2069\u200b",
    "$x {x} %s \\x1b",
    "L" * 300,
    "[red on white]\x1b[5mBLINK",
)
#: 50 distinct names: each pattern, numbered.
NAMES = [f"{PATTERNS[i % len(PATTERNS)]}#{i}" for i in range(50)]
RACE_SIZE = 6
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adagrad")
#: Sequences from the names that must never reach a terminal as they are.
RAW_SEQUENCES = (b"\x1b]0;PWNED", b"\x1b[31mRED", b"\xc2\x9b31m", b"\x07BELL", b"\x1b[5mBLINK",
                 "\u202eREVERSED".encode(), b"\x1b[2J\x1b[Hcleared")  # fmt: skip


def races() -> list[list[RaceEntry]]:
    base = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    chunks = [NAMES[i : i + RACE_SIZE] for i in range(0, len(NAMES), RACE_SIZE)]
    return [
        [RaceEntry(base.replace(optimizer=o, optimizer_hypers={}), n)
         for o, n in zip(OPTIMIZERS, names, strict=False)]
        for names in chunks
    ]  # fmt: skip


def shown(name: str, length: int = 12) -> str:
    """The start of a name as the screen must show it (its controls escaped)."""
    return for_terminal(name)[:length]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_hostile_names_are_shown_literally_in_the_app(size) -> None:
    screens = []
    for entries in races():
        if len(entries) < 2:
            continue
        app = create_app(Experiment.of_race(entries, steps=50))
        async with app.run_test(size=size) as pilot:
            await wait_for(lambda app=app: app.session.race is not None)
            app.session.race.step(20)
            app.render_view()
            await pilot.pause()
            text = screen_text(app)
            # no control character of any name on the screen, and no name clicked anything
            assert all(ch.isprintable() for row in text.split("\n") for ch in row), text
            assert app.is_running
            screens.append(text)
    everything = "\n".join(screens)
    # what fits of the names is shown as written, controls escaped, markup as text
    for literal in ("\\x1b]0;PWNED", "\\x1b[31mRED", "\\x9b31mC1", "\\u202eREVERSED",
                    "[bold]BOLD[/]", "[@click=app.quit]QUIT", "[link=https://exa"):  # fmt: skip
        assert literal in everything, literal
    assert "LLLLLLLLLLLL" in everything


def test_hostile_names_leave_no_escape_in_the_raw_terminal_output(tmp_path) -> None:
    entries = races()[0]
    path = tmp_path / "race.toml"
    config_module.save(path, Experiment.of_race(entries, steps=50))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:  # the app, on a terminal of its own
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "tui", "--config", str(path)], env)
    output = b""
    try:
        # Until the race panel shows the first name (escaped) and the footer is drawn.
        marker = for_terminal(entries[0].name)[:10].encode()
        deadline = time.monotonic() + 120
        while not (marker in output and b"Quit" in output):
            assert time.monotonic() < deadline, output[-2000:]
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    output += os.read(fd, 65536)
                except OSError:
                    break
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    assert marker in output
    for sequence in RAW_SEQUENCES:
        assert sequence not in output, sequence


@pytest.mark.parametrize("command", ["run", "bench", "sweep"])
def test_hostile_names_are_escaped_in_cli_output(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    entries = races()[0]
    path = tmp_path / "race.toml"
    config_module.save(path, Experiment.of_race(entries, steps=20))
    if command == "run":
        argv = ["run", "--config", str(path), "--no-progress"]
    elif command == "bench":
        argv = ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "--steps", "10",
                "--workers", "1", "--no-progress", "--out", f"{NAMES[0]}.json"]  # fmt: skip
    else:
        argv = ["sweep", "--task", "quadratic", "--optimizers", "sgd", "--lr", "0.1", "--steps",
                "10", "--workers", "1", "--no-progress", "--out", f"{NAMES[2]}.csv"]  # fmt: skip
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, err
    for sequence in RAW_SEQUENCES:
        assert sequence.decode() not in out + err
    if command != "run":
        assert "wrote " + for_terminal(argv[-1]) in out
