"""The settings file's `compiled` switch (beside OPTPLAY_COMPILED): `optplay --version` says
which optimizer path runs, a bad value is refused with a warning naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.optimizers import compiled
from tui import settings as settings_file

ROOT = Path(__file__).resolve().parents[2]


def _version(tmp_path: Path, settings: str, **env: str) -> str:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "settings.toml").write_text(settings)
    full = {k: v for k, v in os.environ.items() if k != compiled.ENV_SWITCH}
    full.update(OPTPLAY_CONFIG_DIR=str(config), PYTHONPATH=str(ROOT), **env)
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--version"],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_setting_off_runs_numpy_and_version_says_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _version(tmp_path, "compiled = false\n")
    assert line == "optimizer kernels: NumPy (compiled = false in settings.toml)"


@pytest.mark.skipif(not compiled.installed(), reason="numba is not installed")
def test_setting_on_or_absent_uses_the_compiled_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("compiled = true\n", ""):
        assert _version(tmp_path, text).startswith("optimizer kernels: compiled (numba ")


@pytest.mark.skipif(not compiled.installed(), reason="numba is not installed")
def test_environment_overrides_the_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _version(tmp_path, "compiled = false\n", OPTPLAY_COMPILED="1")
    assert line.startswith("optimizer kernels: compiled (numba ")
    line = _version(tmp_path, "compiled = true\n", OPTPLAY_COMPILED="0")
    assert line == "optimizer kernels: NumPy (OPTPLAY_COMPILED=0)"


def test_bad_value_is_named_and_the_defaults_apply(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "settings.toml"
    path.write_text('compiled = "no"\n')
    loaded, warning = settings_file.load(path)
    assert loaded.compiled is True
    assert "compiled must be true or false" in warning


def test_setting_round_trips_through_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "settings.toml"
    assert settings_file.save(settings_file.Settings(compiled=False), path) is None
    assert "compiled = false" in path.read_text()
    assert settings_file.load(path) == (settings_file.Settings(compiled=False), None)
