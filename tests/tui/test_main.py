"""The `optplay` command's app part: which settings the app opens with, and bad sources."""

from __future__ import annotations

import pytest

from tui import __main__ as cli_main
from tui.app import OptplayApp


@pytest.fixture
def opened(monkeypatch) -> list[OptplayApp]:
    """Apps `optplay` would open, captured instead of taking over the terminal."""
    apps: list[OptplayApp] = []

    def fake_run(self: OptplayApp, *args, **kwargs) -> None:
        apps.append(self)

    monkeypatch.setattr(OptplayApp, "run", fake_run)
    return apps


def test_plain_optplay_opens_the_app_with_defaults(opened) -> None:
    assert cli_main.main([]) == 0
    (app,) = opened
    assert app.session.config.task == "rosenbrock" and app.session.config.optimizer == "adam"


def test_config_file_opens_with_its_settings_and_steps(opened, tmp_path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(
        'name = "beale test"\ntask = "beale"\noptimizer = "momentum"\nsteps = 500\n'
        "[optimizer_hypers]\nlr = 0.001\n"
    )
    assert cli_main.main(["--config", str(path)]) == 0
    (app,) = opened
    assert app.session.config.task == "beale" and app.session.config.optimizer_hypers["lr"] == 0.001
    assert app.session.planned_steps == 500
    assert app.session.save_path == str(path) and app.session.name == "beale test"


def test_bad_config_file_is_reported_without_opening(opened, tmp_path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('task = "beale"\noptimizer = "adam"\n[optimizer_hypers]\nbeta1 = 1.5\n')
    assert cli_main.main(["--config", str(path)]) == 2
    assert not opened
    assert "beta1 must be a number in [0, 1), got 1.5" in capsys.readouterr().err


def test_a_benchmark_preset_is_not_an_app_run(opened, capsys) -> None:
    assert cli_main.main(["--preset", "benchmark"]) == 2
    assert not opened
    assert "optplay bench --preset benchmark" in capsys.readouterr().err


def test_subcommands_go_to_the_headless_cli(opened, capsys) -> None:
    assert cli_main.main(["list", "optimizers"]) == 0
    assert not opened
    assert "adam" in capsys.readouterr().out
    assert cli_main.main(["--help"]) == 0
