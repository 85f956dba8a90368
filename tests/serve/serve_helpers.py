"""Helpers for the `optplay serve` tests: a server in a subprocess, its log lines, the app
processes of its tabs.

Every server here listens on port 0 (a free port the system picks; the URL is read from its
log), in the test's own temporary folder, in a session of its own (so a Ctrl+C can be sent to
it the way a terminal does: to its whole process group).
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

OPENED = re.compile(r"tab opened from \S+: app process (\d+)")
SERVING = re.compile(r"serving the app on (http://\S+/)")


def process_ended(pid: int) -> bool:
    """True when process `pid` has exited (gone, or a zombie nobody has reaped yet)."""
    if Path("/proc/self/stat").exists():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        return state in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used so far; 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` until true; the seconds it took. Fails the test after `timeout`."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.perf_counter() - started


def _is_ours(pid: int) -> bool:
    """True when `pid` still runs optplay (not another process that reused the id)."""
    try:
        return b"tui" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class ServerProcess:
    """`optplay serve ARGS` running in `folder`, with its stdout and stderr lines collected."""

    def __init__(self, args: list[str], folder: Path) -> None:
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--port", "0", *args],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._ended_streams = 0
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True).start()

    def _collect(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended_streams += 1
            self._changed.notify_all()

    def log(self) -> str:
        return "\n".join(["stdout:", *self.out, "stderr:", *self.err])

    def wait_for_line(
        self, pattern: str | re.Pattern[str], timeout: float = 60.0, stderr: bool = False
    ) -> re.Match:
        """The first stdout (or stderr) line matching `pattern`, waiting up to `timeout` s."""
        regex = re.compile(pattern)
        lines = self.err if stderr else self.out
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in lines:
                    if found := regex.search(line):
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or self._ended_streams == 2:
                    pytest.fail(f"no line matching {regex.pattern!r}\n{self.log()}")
                self._changed.wait(min(left, 0.5))

    def url(self, timeout: float = 60.0) -> str:
        """The URL the server printed once listening."""
        return self.wait_for_line(SERVING, timeout).group(1)

    def app_pids(self) -> list[int]:
        """The app processes of every tab opened so far, in order."""
        with self._changed:
            return [int(m.group(1)) for line in self.out if (m := OPENED.search(line))]

    def wait_for_tabs(self, count: int, timeout: float = 60.0) -> list[int]:
        """Wait until `count` tabs have opened; their app processes."""
        wait_until(lambda: len(self.app_pids()) >= count, timeout, f"{count} tab(s) opened")
        return self.app_pids()[:count]

    def interrupt(self, signum: int) -> None:
        """Send `signum` to the server's process group, as a terminal sends Ctrl+C."""
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        """The server's exit status, once it has exited and all its output has been read."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"optplay serve still running {timeout:g} s later\n{self.log()}")
        with self._changed:
            self._changed.wait_for(lambda: self._ended_streams == 2, timeout)
        return status

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM the server; its exit status (see `wait`)."""
        self.process.terminate()
        return self.wait(timeout)

    def kill(self) -> None:
        """Teardown: the server and every app process it reported, if still running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in self.app_pids():
            if not process_ended(pid) and _is_ours(pid):
                os.kill(pid, signal.SIGKILL)


def write_long_run(folder: Path) -> Path:
    """An experiment file whose run lasts long enough to watch its step count rise."""
    path = folder / "long-run.toml"
    path.write_text('name = "long run"\ntask = "rosenbrock"\noptimizer = "adam"\nsteps = 5000000\n')
    return path


def listening_addresses(port: int) -> set[str] | None:
    """The local addresses with a socket listening on TCP `port` (from /proc/net; None where
    the system has no /proc/net/tcp)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    found = set()
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words, each in the host's byte order
            if sys.byteorder == "little":
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)))
    return found
