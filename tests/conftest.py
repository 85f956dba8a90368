"""Shared test configuration: every test in its own folder, Hypothesis profiles, the `long`
marker, `screen_text` (what a Textual app's terminal shows) and `SteadyExecutor` (sweeps with
fixed timings) for the app's tests, and the `serve` / `summary` fixtures of the `optplay
serve` tests (helpers in tests/serve/).

This is the only conftest.py: test modules import its helpers with `from conftest import ...`.

Profiles (pick one with `--hypothesis-profile=NAME`):

- "default": modest example counts, derandomized (the same examples on every run, so CI is
  reproducible), no deadline (a shared 2-core machine has noisy timings), and a reproduction
  blob printed with any failure.
- "long": many more random examples, for hunting bugs locally or nightly. Tests marked
  `@pytest.mark.long` (heavy sweeps) run only under this profile.

    python -m pytest tests/engine -k fuzz --hypothesis-profile=long
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps files (the constants it collects from our code) in `.hypothesis` of the
# working folder: a folder of its own instead, so that nothing is written into the checkout.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="optplay-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

# The suite runs the NumPy path, the reference, in this process and in every subprocess it
# starts: tests/engine/test_compiled.py turns the compiled path on where it compares the two.
# (Otherwise each short-lived `optplay` subprocess would start a background numba build of
# every kernel, seconds of CPU each, and a cold cache on a new machine costs ~20 s a build.)
os.environ.setdefault("OPTPLAY_COMPILED", "0")

_QUIET_CHECKS = (HealthCheck.too_slow, HealthCheck.data_too_large)

settings.register_profile(
    "default",
    max_examples=100,
    derandomize=True,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=_QUIET_CHECKS,
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_QUIET_CHECKS,
)
settings.load_profile("default")  # `--hypothesis-profile` overrides this after conftest loads


def long_profile() -> bool:
    """True when the run asked for the long Hypothesis profile."""
    return settings.get_current_profile_name() == "long"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long: heavy sweep, run only with --hypothesis-profile=long")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if long_profile():
        return
    skip = pytest.mark.skip(reason="heavy sweep: run with --hypothesis-profile=long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in its own temporary folder: whatever a test (or the app it drives)
    writes with a relative path lands there, never in the checkout; the app's settings are
    read from and written to that folder too, never the user's."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path.parent / f"{tmp_path.name}-config"  # beside it: tests list tmp_path
    monkeypatch.setenv("OPTPLAY_CONFIG_DIR", str(config))
    # The app's tests start from the settings they were written for: the settings column
    # shown at any width and full speed. Tests of the defaults remove this file.
    config.mkdir()
    (config / "settings.toml").write_text('sidebar = "shown"\nspeed = "max"\n')
    # The run store (engine/store.py) too: no test writes to the user's data folder.
    monkeypatch.setenv("OPTPLAY_DATA_DIR", str(tmp_path.parent / f"{tmp_path.name}-data"))
    return tmp_path


async def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait (without busy CPU) until `condition()` holds; fail after `timeout` seconds (for
    the app's tests: a stream or a worker reaching a state)."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@functools.cache
def shipped_verdict(name: str) -> Any:
    """The verdict of a shipped lesson trained headlessly (`optplay lesson NAME`), computed
    once per test session: several tests compare the app's or the session's verdict with it,
    and a lesson takes seconds to train."""
    from engine import lessons

    return lessons.load(name).run()[1]


def finishes(fn: Callable[[], Any], seconds: float = 60.0) -> tuple[str, Any]:
    """("ok", fn()) or ("error", the exception it raised), fn run on a daemon thread; fails
    the test if it runs past `seconds` (a hang guard with a wide margin, not a speed target:
    the bugs it guards against hung for minutes or for ever). Import it with `from conftest
    import finishes`."""
    out: list[tuple[str, Any]] = []

    def work() -> None:
        try:
            out.append(("ok", fn()))
        except BaseException as err:  # returned for the test to inspect
            out.append(("error", err))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"still running after {seconds} s"
    return out[0]


def screen_text(app: Any) -> str:
    """The terminal's characters, row by row, as the user sees them (import it with
    `from conftest import screen_text`)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


class SteadyExecutor:
    """A serial executor (this process) whose runs report fixed timings, so a sweep's screen
    is the same picture every time (import it with `from conftest import SteadyExecutor`).
    `hold_after`: after that many results, wait until the sweep is cancelled (a sweep caught
    mid-way, deterministically)."""

    kind = "serial"
    workers = 1

    def __init__(self, hold_after: int | None = None) -> None:
        from engine.executors import SerialExecutor

        self._serial = SerialExecutor()
        self.hold_after = hold_after

    def describe(self) -> str:
        return "serial (this process)"

    def map_unordered(self, fn: Any, jobs: Any, cancel: Any = None) -> Iterator[Any]:
        import dataclasses
        import threading

        cancel = cancel or threading.Event()
        for k, (index, result) in enumerate(self._serial.map_unordered(fn, jobs, cancel)):
            # An engine.jobs.TrainResult: its timings fixed.
            outcome = dataclasses.replace(result.outcome, seconds_per_step=2.5e-5)
            fixed = {"run_seconds": 0.01, "cpu_seconds": 0.01, "outcome": outcome}
            yield index, dataclasses.replace(result, worker="test", **fixed)
            if self.hold_after is not None and k + 1 >= self.hold_after:
                cancel.wait(30)

    def close(self) -> None:
        pass

    def __enter__(self) -> SteadyExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- `optplay serve` tests (tests/serve/) -------------------------------------------------------

_SUMMARY: list[str] = []  # lines for the end of the test run (the browser test's figures)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start `optplay serve --port 0 ARGS...` in tmp_path; killed at teardown if still up."""
    from serve_helpers import ServerProcess  # tests/serve/, on the path for its tests

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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its summary lines to the controller, which prints
    the summary (see `pytest_testnodedown`)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["optplay_summary"] = list(_SUMMARY)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: defined only when it is installed
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller collects the summary lines of a worker that has finished."""
    _SUMMARY.extend(getattr(node, "workeroutput", {}).get("optplay_summary", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SUMMARY:
        terminalreporter.section("optplay serve in a real browser (timings measured now)")
        for line in _SUMMARY:
            terminalreporter.write_line(line)
