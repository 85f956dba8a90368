"""What launching loads: the first screen imports only what it draws.

Each check runs a fresh interpreter (this process has imported everything already) and reads
its `sys.modules`. The screens, lessons, presets, the bench and the sweep machinery (process
pools, Dask) and the web server load when first used; `optplay --version` and `optplay list`
do not load Textual at all. That the screens still open through their actions is covered by
the Pilot tests of each screen (test_app.py, test_race.py, test_sweep_screen.py, ...); one
test here opens each of them once more, in the order a user might.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui import __main__ as cli_main
from tui.app import OptplayApp, create_app
from tui.dialogs import Dialog

ROOT = Path(__file__).resolve().parents[2]

#: Loaded only when used: none of these may load with the app's first screen.
NOT_AT_LAUNCH = (
    "tui.screens.",  # every screen (prefix)
    "tui.charts.sweep",
    "engine.lessons",
    "engine.presets",
    "engine.bench",
    "engine.sweep",
    "engine.sweep_io",
    "engine.executors",
    "multiprocessing",
    "dask",
    "distributed",
    "aiohttp",
    "textual_serve",
    "tui.serve.server",
    "importlib.metadata",
    # The optimizer and task families other than the default run's (Adam on Rosenbrock):
    # each loads when first used (engine/registry.py `expect`).
    *(
        f"engine.optimizers.{family}"
        for family in """sgd adagrad rmsprop adadelta nadam radam adamax adafactor lion
        adaptive_adam rprop asgd muon lbfgs adabound schedulefree prodigy wrapped sam
        lookahead""".split()
    ),
    "engine.tasks.regression",
    "engine.tasks.mlp",
    "engine.tasks.rnn",
    "engine.tasks.sparse",
    "numpy.random",  # the default run draws nothing (engine.tasks.base.SpawnedGenerator)
)
#: The charts of the tabs the default run's first screen does not show (it opens on Path):
#: built, and loaded, after its first frame when launched from a terminal.
LATER_CHARTS = (
    "tui.charts.lr",
    "tui.charts.norms",
    "tui.charts.model",
    "tui.charts.state",
    "tui.charts.state_rows",
    "tui.charts.state_data",
    "tui.charts.sharpness",
    "engine.tasks.views",  # the Model tab's pictures
)
#: The sidebar's widgets (pickers, the knobs' form) and the dialogs' base: loaded when the
#: sidebar is built, after the first frame when launched from a terminal.
SIDEBAR = (
    "tui.widgets.pickers",
    "tui.widgets.hyper_form",
    "tui.widgets.choice",
    "tui.dialogs",
    "tui.widgets.footer",
)
#: Textual and what only the app draws with: not loaded by commands that print text.
APP_ONLY = ("textual", "textual_plotext", "plotext", "tui.app", "tui.charts.base")


def modules_after(code: str, cwd: Path) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    return set(json.loads(printed_lines(code, cwd)[-1]))


def printed_lines(code: str, cwd: Path) -> list[str]:
    """What a fresh interpreter prints running `code`, one string a line, then the JSON list
    of the modules it has loaded at its end as the last line."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(cwd),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def child_env(cwd: Path) -> dict[str, str]:
    """A fresh interpreter's environment: this checkout, settings and run store in `cwd`."""
    return {
        "PYTHONPATH": str(ROOT),
        "OPTPLAY_CONFIG_DIR": str(cwd),
        "OPTPLAY_DATA_DIR": str(cwd / "data"),
        "PATH": "/usr/bin:/bin",
    }


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The loaded modules among `names` (a name ending in "." is a package's submodules;
    otherwise the module and its submodules)."""
    return sorted(
        m
        for m in modules
        for name in names
        if (m.startswith(name) if name.endswith(".") else m == name or m.startswith(name + "."))
    )


def test_importing_the_app_loads_no_screen_nor_the_sweep_machinery(tmp_path) -> None:
    # `optplay` parses its arguments (every subcommand registered), then imports the app.
    code = "from tui.__main__ import build_parser\nbuild_parser().parse_args([])\nimport tui.app"
    modules = modules_after(code, tmp_path)
    assert "textual" in modules and "engine.session" in modules
    assert loaded(modules, NOT_AT_LAUNCH) == []


def test_the_first_screen_drawn_loads_no_screen_nor_the_sweep_machinery(tmp_path) -> None:
    modules = modules_after(
        """
        import asyncio
        from tui.app import create_app

        async def first_screen():
            app = create_app()
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                strips = app.screen._compositor.render_strips()  # as conftest.screen_text
                assert "palette" in "".join(s.text for s in strips), "no key bar drawn"

        asyncio.run(first_screen())
        """,
        tmp_path,
    )
    assert "tui.charts.path" in modules  # it drew the default run's chart
    assert loaded(modules, NOT_AT_LAUNCH) == []


def test_optplay_draws_its_first_screen_with_only_the_chart_it_shows_loaded(tmp_path) -> None:
    """`optplay` as launched from a terminal (tui/__main__.py: the sidebar and the other
    tabs' charts come after the first frame), driven headless: at its first frame it has
    loaded neither the screens nor the charts of the tabs not shown; they load right after."""
    code = """
        import asyncio, json, sys
        from tui.__main__ import main
        from tui.app import OptplayApp

        first = {}
        build = OptplayApp._build_sidebar

        async def after_first_frame(app):
            first.setdefault("modules", sorted(sys.modules))
            await build(app)

        async def drive(app):
            async with app.run_test(size=(120, 40)) as pilot:
                while not app.sidebar_built:
                    await pilot.pause()

        OptplayApp._build_sidebar = after_first_frame
        OptplayApp.run = lambda app, **kwargs: asyncio.run(drive(app))
        assert main([]) == 0
        print(json.dumps(first["modules"]))
    """
    first_frame_line, end_line = printed_lines(code, tmp_path)[-2:]
    at_first_frame, at_end = set(json.loads(first_frame_line)), set(json.loads(end_line))
    assert "tui.charts.path" in at_first_frame  # it drew the default run's chart
    assert loaded(at_first_frame, NOT_AT_LAUNCH) == []
    assert loaded(at_first_frame, LATER_CHARTS) == []
    assert loaded(at_first_frame, SIDEBAR) == []
    assert set(LATER_CHARTS) <= at_end  # built after the first frame
    assert {"tui.widgets.pickers", "tui.widgets.hyper_form"} <= at_end


@pytest.mark.parametrize("own", [None, "2"], ids=["default", "user's own"])
def test_optplay_loads_numpy_on_one_blas_thread_unless_told_otherwise(tmp_path, own) -> None:
    """`optplay` sets OPENBLAS_NUM_THREADS=1 (and OMP_, MKL_) before anything loads NumPy (the
    parser and the settings did, so the app's and `sweep`'s threads were OpenBLAS's default):
    its extra threads would spin while the first screen is drawn; a user's own setting wins."""
    code = """
        import os, sys
        import tui.__main__ as launcher

        assert "numpy" not in sys.modules

        def open_app(args):  # the environment NumPy loaded with (the app is not opened)
            print([os.environ.get(name) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")])
            return 0

        launcher.open_app = open_app
        assert launcher.main([]) == 0
    """
    env = child_env(tmp_path)
    if own is not None:
        env["OPENBLAS_NUM_THREADS"] = own
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str([own or "1", "1"])


def test_opening_an_experiment_file_loads_no_bench_nor_sweep(tmp_path) -> None:
    (tmp_path / "exp.toml").write_text('task = "beale"\noptimizer = "sgd"\n')
    modules = modules_after(
        """
        from tui.commands.common import load_source
        experiment = load_source("exp.toml")
        assert experiment.config.task == "beale"
        """,
        tmp_path,
    )
    assert loaded(modules, ("engine.bench", "engine.sweep", "engine.executors")) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["list"],
        ["list", "presets"],
        ["list", "lessons"],
        ["run", "--task", "quadratic", "--optimizer", "sgd", "--steps", "5", "--out", "h.csv"],
        ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "--steps", "5", "--seeds", "1",
         "--workers", "1"],
        ["sweep", "--task", "quadratic", "--optimizers", "sgd", "--lr", "0.01,0.1", "--steps",
         "5", "--workers", "1"],
        ["lesson", "momentum-ravine", "--set", "lr=0.02"],
        ["theory", "--task", "ill-conditioned", "--optimizer", "momentum", "--json"],
    ],
    ids=" ".join,
)  # fmt: skip
def test_commands_that_print_load_no_textual(tmp_path, argv) -> None:
    """The headless commands (run, bench, sweep, lesson, list) never load Textual."""
    modules = modules_after(
        f"""
        from tui.__main__ import main
        try:
            assert main({argv!r}) == 0
        except SystemExit as done:
            assert done.code in (0, None)
        """,
        tmp_path,
    )
    assert loaded(modules, APP_ONLY) == []


def test_version_is_printed_when_asked(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0
    first, path = done.stdout.splitlines()
    name, version = first.split()
    assert name == "optplay" and version[0].isdigit() and done.stderr == ""
    assert path.startswith(("optimizer kernels: compiled (numba ", "optimizer kernels: NumPy ("))


async def test_every_screen_opens_through_its_action() -> None:
    """The screens load on first use: each action still opens its screen (then escape)."""
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        for key, screen in (
            ("question_mark", "HelpScreen"),
            ("o", "PresetScreen"),
            ("L", "LessonsScreen"),
            ("c", "RaceSetupScreen"),
            ("ctrl+s", "SaveScreen"),
            ("e", "PromptScreen"),
            ("p", "PromptScreen"),  # pin (after the one step below)
            ("s", "SweepScreen"),
        ):
            if key == "p":
                await pilot.press("n")
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == screen, key
            for _ in range(3):  # a field of the screen may take the first escape
                if len(app.screen_stack) > 1:
                    await pilot.press("escape")
                    await pilot.pause()
            assert len(app.screen_stack) == 1 and not isinstance(app.screen, Dialog), key


async def test_the_app_turns_the_gc_back_on_after_its_first_frame() -> None:
    """The launcher keeps the cyclic GC off while the app loads (tui/__main__.py)."""
    gc.disable()
    try:
        app = create_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert gc.isenabled()
    finally:
        gc.enable()


def test_the_launcher_leaves_the_gc_on_however_the_app_ends(monkeypatch, tmp_path) -> None:
    def fails(self: OptplayApp, *args, **kwargs) -> None:
        assert not gc.isenabled()  # off while the app loads
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr(OptplayApp, "run", fails)
    with pytest.raises(RuntimeError):
        cli_main.main([])
    assert gc.isenabled()
    (tmp_path / "sweep.toml").write_text('[sweep]\ntask = "rosenbrock"\n')
    assert cli_main.main(["--config", str(tmp_path / "sweep.toml")]) == 2  # refused early
    assert gc.isenabled()


def test_the_commands_load_with_the_gc_off(tmp_path) -> None:
    """`optplay` imports its commands and builds its parser with the cyclic GC off (it would
    run some 40 times there, finding nothing); importing tui.__main__ loads no command."""
    lines = printed_lines(
        """
        import argparse, gc, sys
        import tui.__main__ as launcher
        print("tui.cli" in sys.modules)
        seen = []
        add_subparsers = argparse.ArgumentParser.add_subparsers

        def watched(self, **kwargs):
            seen.append(gc.isenabled())
            return add_subparsers(self, **kwargs)

        argparse.ArgumentParser.add_subparsers = watched
        assert launcher.main(["--help"]) == 0
        print(bool(seen) and not any(seen), gc.isenabled())
        """,
        tmp_path,
    )
    assert (lines[0], lines[-2]) == ("False", "True True")
