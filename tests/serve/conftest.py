"""Fixtures for the `optplay serve` tests (helpers in serve_helpers.py): each test in its own
temporary folder, servers killed at teardown with the app processes they reported, and the
browser test's figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_helpers import ServerProcess

_SUMMARY: list[str] = []  # lines for the end of the test run (the browser test's figures)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `optplay serve --port 0 ARGS...` in tmp_path; killed at teardown if still up."""
    servers: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        server = ServerProcess(list(args), tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def summary() -> Callable[[str], None]:
    """Add a line to the summary printed at the end of the test run (and print it now)."""

    def add(line: str) -> None:
        print(line)
        _SUMMARY.append(line)

    return add


def pytest_terminal_summary(terminalreporter) -> None:
    if _SUMMARY:
        terminalreporter.section("optplay serve in a real browser (timings measured now)")
        for line in _SUMMARY:
            terminalreporter.write_line(line)
