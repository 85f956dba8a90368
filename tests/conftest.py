"""Shared test configuration: every test in its own folder, Hypothesis profiles, the `long`
marker, and `screen_text` (what a Textual app's terminal shows) for the app's tests.

Profiles (pick one with `--hypothesis-profile=NAME`):

- "default": modest example counts, derandomized (the same examples on every run, so CI is
  reproducible), no deadline (a shared 2-core machine has noisy timings), and a reproduction
  blob printed with any failure.
- "long": many more random examples, for hunting bugs locally or nightly. Tests marked
  `@pytest.mark.long` (heavy sweeps) run only under this profile.

    python -m pytest tests/engine -k fuzz --hypothesis-profile=long
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

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
    writes with a relative path lands there, never in the checkout."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def screen_text(app: Any) -> str:
    """The terminal's characters, row by row, as the user sees them (import it with
    `from conftest import screen_text`)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
