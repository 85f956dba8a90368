"""Your own optimizer in the app: `optplay --optimizer-file`, the optimizer picker's "optimizer
from file…" entry and its dialog; broken files are one error line and the optimizer stays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import screen_text, wait_for
from test_optimizer_file import BROKEN, readme_example, run_cli
from textual.widgets import Input, OptionList, Select

from engine.run import RunConfig
from tui import settings as settings_file
from tui.__main__ import main as app_main
from tui.app import create_app
from tui.screens.optimizer_file import WARNING, OptimizerFileScreen
from tui.widgets.pickers import Picker

SIZE = (120, 40)


async def open_file_dialog(pilot) -> OptimizerFileScreen:
    """Choose the optimizer picker's last entry, as a user would: open it, end, enter."""
    pilot.app.query_one("#optimizer-select", Select).focus()
    await pilot.press("enter", "end", "enter")
    await wait_for(lambda: isinstance(pilot.app.screen, OptimizerFileScreen))
    return pilot.app.screen


async def type_path(pilot, path: str) -> OptimizerFileScreen:
    """Open the dialog, type `path` over what it offers, enter."""
    dialog = await open_file_dialog(pilot)
    dialog.query_one("#prompt-value", Input).focus()
    await pilot.press("ctrl+a", "ctrl+k", *path, "enter")
    await pilot.pause()
    return dialog


async def load_typed(pilot, path: str) -> None:
    await type_path(pilot, path)
    await wait_for(lambda: not isinstance(pilot.app.screen, OptimizerFileScreen))
    await pilot.pause()


def shown_text(app) -> str:
    """The screen and the toasts' texts (a toast wraps a long line)."""
    toasts = " ".join(" ".join(n.message.split()) for n in app._notifications)
    return screen_text(app) + "\n" + toasts


async def test_the_readme_example_trains_in_the_app_as_on_the_cli(tmp_path, capsys) -> None:
    Path("heavy_ball.py").write_text(readme_example(), encoding="utf-8")
    app = create_app(RunConfig(task="quadratic", optimizer="sgd"))
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_file_dialog(pilot)
        text = screen_text(app)
        assert WARNING[:40] in text and "heavy_ball.py" in text  # the warning, the folder listed
        dialog.query_one("#optfile-list", OptionList).focus()
        await pilot.press("home", "enter")  # heavy_ball.py, the only .py file here
        await wait_for(lambda: app.query_one("#optimizer-picker", Picker).value == "heavy-ball")
        await pilot.pause()
        assert app.session.config.optimizer == "heavy-ball"
        assert app.query_one("#optimizer-momentum", Input).value == "0.9"  # its declared knob
        assert "HeavyBall from heavy_ball.py" in screen_text(app)  # its summary
        app.set_focus(None)
        app.session.race.step(39)
        await pilot.press("n")
        await wait_for(lambda: app.session.run.steps_done == 40)
        await pilot.press("e", "ctrl+a", "ctrl+k", *"app", "enter")
        await wait_for(lambda: Path("app.csv").exists())
        lr = app.session.config.optimizer_hypers["lr"]
    status, _, _ = run_cli(
        capsys, "run", "--optimizer-file", "heavy_ball.py", "--task", "quadratic",
        "--set", f"lr={lr!r}", "--steps", "40", "--no-progress", "--out", "cli.csv",
    )  # fmt: skip
    assert status == 0
    assert Path("app.csv").read_text() == Path("cli.csv").read_text()


async def test_a_folder_typed_is_listed_and_remembered(tmp_path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "heavy_ball.py").write_text(readme_example(), encoding="utf-8")
    (folder / "notes.txt").write_text("not python", encoding="utf-8")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await type_path(pilot, "rules")  # a folder: the dialog stays, listing it
        listed = dialog.query_one("#optfile-list", OptionList)
        await wait_for(lambda: listed.option_count == 1)
        assert app.screen is dialog
        assert [listed.get_option_at_index(i).prompt for i in range(listed.option_count)] == [
            "heavy_ball.py"
        ]
        await pilot.press("escape")
        await wait_for(lambda: app.settings.optimizer_folder == "rules")
        assert app.session.config.optimizer == "adam"  # cancelled: nothing loaded
    await wait_for(lambda: settings_file.load()[0].optimizer_folder == "rules")
    app = create_app()  # the next session starts in the folder chosen, listing its files
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_file_dialog(pilot)
        assert dialog.query_one("#prompt-value", Input).value == "rules/"
        assert "heavy_ball.py" in screen_text(app)


@pytest.mark.parametrize("case", ["syntax", "no step", "shape"])
async def test_a_broken_file_is_one_line_and_the_optimizer_stays(case, tmp_path, capsys) -> None:
    source, _ = BROKEN[case]
    Path("mine.py").write_text(source, encoding="utf-8")
    status, _, err = run_cli(
        capsys, "run", "--optimizer-file", "mine.py", "--task", "quadratic", "--steps", "3"
    )
    assert status == 2
    message = err.strip().removeprefix("optplay run: error: ")
    app = create_app()
    async with app.run_test(size=SIZE) as pilot:
        await load_typed(pilot, "mine.py")
        await wait_for(lambda: message in shown_text(app))
        errors = [n for n in app._notifications if n.severity == "error"]
        assert [n.message for n in errors] == [message] and "\n" not in message
        assert app.session.config.optimizer == "adam"
        assert app.query_one("#optimizer-picker", Picker).value == "adam"
        await pilot.press("n")  # the app is up and trains the optimizer it had
        await wait_for(lambda: app.session.run.steps_done == 1)


def test_the_app_command_line_refuses_a_broken_file_as_run_does(tmp_path, capsys) -> None:
    Path("mine.py").write_text(BROKEN["no step"][0], encoding="utf-8")
    status = app_main(["--optimizer-file", "mine.py"])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.strip().splitlines() == [
        "optplay: error: --optimizer-file mine.py: class A has no step(params, grads, state, "
        "lr) method"
    ]


async def test_the_app_command_line_opens_with_the_file_s_optimizer(tmp_path, monkeypatch):
    Path("heavy_ball.py").write_text(readme_example(), encoding="utf-8")
    opened = {}

    class Opened(Exception):
        pass

    def run(self) -> None:  # the app as `optplay --optimizer-file` built it, not run here
        opened["app"] = self
        raise Opened

    monkeypatch.setattr("tui.app.OptplayApp.run", run)
    with pytest.raises(Opened):
        app_main(["--optimizer-file", "heavy_ball.py"])
    app = opened["app"]
    assert app.session.config.optimizer == "heavy-ball"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#optimizer-picker", Picker).value == "heavy-ball"
        assert "momentum_buffer" in str(app.session.run.optimizer.state_doc.state)


async def state_tab_buffer(config: RunConfig, optimizer_file: str | None = None) -> str:
    """The State tab's momentum_buffer value after 5 steps (`n`), as the screen shows it."""
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        if optimizer_file is not None:
            app.load_optimizer_file(optimizer_file)
        app.show_tab("tab-state")
        app.set_focus(None)
        await pilot.pause()
        for _ in range(5):
            await pilot.press("n")
        await wait_for(lambda: app.session.run.steps_done == 5)
        row = r"momentum_buffer +([-\d.]\S*) "  # the name, then its value
        await wait_for(lambda: re.search(r"step 5 · each coordinate", screen_text(app)))
        return re.search(row, screen_text(app))[1]


async def test_the_state_tab_follows_the_file_s_named_state(tmp_path) -> None:
    Path("heavy_ball.py").write_text(readme_example(), encoding="utf-8")
    mine = await state_tab_buffer(RunConfig(task="quadratic", optimizer="sgd"), "heavy_ball.py")
    built_in = await state_tab_buffer(
        RunConfig(task="quadratic", optimizer="momentum", optimizer_hypers={"lr": 0.01})
    )
    assert mine == built_in != "4"  # the buffer at step 5, not the copy kept from step 1
