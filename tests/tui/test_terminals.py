"""Every terminal, every habit (issue 12): keys people expect, a sidebar that makes room, focus
that comes back, files that are not overwritten by surprise, settings that survive a restart,
ASCII terminals and the command line's conventions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import screen_text
from textual.widgets import Input, TabbedContent

from engine.run import RunConfig
from tui.app import create_app
from tui.charts.state_rows import CoordinateTable
from tui.screens.confirm import ConfirmOverwriteScreen
from tui.screens.save import SaveScreen
from tui.settings import Settings, settings_path
from tui.terminal import ascii_words, output_is_ascii, to_ascii

SMALL = (80, 24)
DIGITS = RunConfig(task="digits-mlp", optimizer="adam")


def default_settings() -> None:
    """Start from no settings file: the defaults a new user gets."""
    settings_path().unlink(missing_ok=True)


def active_tab(app) -> str:
    return app.query_one("#chart-tabs", TabbedContent).active


# -- navigation ---------------------------------------------------------------------------------


async def test_brackets_switch_tabs_from_any_focus_and_digits_outside_a_field() -> None:
    app = create_app(DIGITS)  # tabs: Loss, LR, Norms, Model, State, Sharpness
    async with app.run_test(size=(120, 40)) as pilot:
        field = app.query_one("#optimizer-lr", Input)
        field.focus()
        await pilot.pause()
        assert active_tab(app) == "tab-loss"
        await pilot.press("right_square_bracket")  # from inside a form field
        assert active_tab(app) == "tab-lr" and field.value == "0.001" and app.focused is field
        await pilot.press(*["right_square_bracket"] * 5)
        assert active_tab(app) == "tab-loss"  # around
        await pilot.press("left_square_bracket")
        assert active_tab(app) == "tab-sharpness"
        await pilot.press("3")  # in a field a digit is typed
        assert field.value == "0.0013" and active_tab(app) == "tab-sharpness"
        await pilot.press("backspace", "escape")  # leave the form: digits pick tabs
        for key, tab in (
            ("2", "tab-lr"),
            ("3", "tab-norms"),
            ("4", "tab-model"),
            ("5", "tab-state"),
            ("6", "tab-sharpness"),
            ("1", "tab-loss"),
        ):
            await pilot.press(key)
            assert active_tab(app) == tab
        await pilot.press("7")  # no seventh tab for this task: nothing happens
        assert active_tab(app) == "tab-loss"
        app.query_one("#task-select").focus()  # a picker has the focus: digits still work
        await pilot.press("2")
        assert active_tab(app) == "tab-lr"


async def test_a_two_d_task_opens_on_its_path() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert active_tab(app) == "tab-path"
        app.do(app.session.pick("task", "digits-mlp"))
        await pilot.pause()
        assert active_tab(app) == "tab-loss"  # no path for a network
        app.do(app.session.pick("task", "beale"))
        await pilot.pause()
        assert active_tab(app) == "tab-path"


async def test_the_sidebar_collapses_below_90_columns_and_b_toggles_it() -> None:
    default_settings()
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        sidebar = app.query_one("#sidebar")
        assert not sidebar.display  # 80 columns: the chart takes the width
        assert "b Sidebar" in screen_text(app).splitlines()[-1]
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert sidebar.display  # room enough
        await pilot.press("b")
        await pilot.pause()
        assert not sidebar.display and app.settings.sidebar == "hidden"
        await pilot.resize_terminal(80, 24)
        await pilot.press("b")
        await pilot.pause()
        assert sidebar.display and app.settings.sidebar == "shown"
        assert "rosenbrock" in screen_text(app)


async def test_focus_comes_back_after_each_dialog() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        field = app.query_one("#optimizer-lr", Input)
        for open_dialog in (
            lambda: pilot.press("ctrl+p"),
            lambda: pilot.press("ctrl+s"),
            lambda: app.run_action("help"),
            lambda: app.run_action("presets"),
            lambda: app.run_action("race"),
            lambda: app.run_action("export"),
            lambda: app.run_action("lessons"),
        ):
            field.focus()
            await pilot.pause()
            await open_dialog()
            await pilot.pause()
            assert app.screen is not app.screen_stack[0]
            await pilot.press("escape")
            for _ in range(5):  # the palette closes in two steps
                if app.screen is app.screen_stack[0]:
                    break
                await pilot.press("escape")
            await pilot.pause()
            assert app.focused is field, open_dialog
        await pilot.press("5")  # typing goes where it went before
        assert field.value == "0.025"


async def test_a_checkbox_reads_without_colour_and_enter_toggles_it() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        row = next(line for line in screen_text(app).splitlines() if "amsgrad" in line)
        assert "[ ]" in row
        app.query_one("#optimizer-amsgrad").focus()
        await pilot.press("enter")
        await pilot.pause()
        row = next(line for line in screen_text(app).splitlines() if "amsgrad" in line)
        assert "[x]" in row and app.session.config.optimizer_hypers["amsgrad"] is True


# -- files ------------------------------------------------------------------------------------


async def test_save_asks_before_replacing_another_file() -> None:
    other = Path("other.toml")
    other.write_text("# mine\n")
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("ctrl+s", "ctrl+a", "ctrl+k", *"other", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmOverwriteScreen)
        assert "other.toml already exists" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert other.read_text() == "# mine\n" and app.session.dirty is False  # kept
        await pilot.press("ctrl+s", "ctrl+a", "ctrl+k", *"other", "enter", "y")
        await pilot.pause()
        assert other.read_text().startswith("# optplay experiment")
        assert app.session.save_path == "other.toml"
        await pilot.press("ctrl+s", "enter")  # the experiment's own file: no question
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_export_asks_before_replacing_files_and_adds_the_extensions() -> None:
    Path("h.csv").write_text("old\n")
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnn", "e", "ctrl+a", "ctrl+k", *"h", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmOverwriteScreen)
        await pilot.press("y")
        await pilot.pause()
        assert Path("h.csv").read_text().startswith("step,loss") and Path("h.json").exists()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("../elsewhere", "outside the current folder"),
        ("/tmp/x", "outside the current folder"),
        ("bad\x07name", "control characters"),
    ],
)
async def test_save_refuses_names_it_should_not_write(typed: str, message: str) -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("ctrl+s")
        await pilot.pause()
        field = app.screen.query_one("#save-path", Input)
        field.value = typed
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen) and message in screen_text(app)


# -- settings -----------------------------------------------------------------------------------


async def test_settings_survive_a_restart() -> None:
    default_settings()
    first = create_app()
    async with first.run_test(size=(120, 40)) as pilot:
        first.set_focus(None)
        first.theme = "textual-light"
        await pilot.press("plus", "b", "S")  # faster, hide the sidebar, smooth the loss
        await pilot.pause()
        await pilot.press("q")
    assert "textual-light" in settings_path().read_text()
    second = create_app()
    async with second.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert second.theme == "textual-light" and second.session.speed == 500
        assert not second.query_one("#sidebar").display and second.settings.smoothing
        assert second.settings == Settings("textual-light", 500.0, "hidden", True)


async def test_settings_are_written_once_after_a_burst_of_keys(monkeypatch) -> None:
    import tui.settings

    written: list[Settings] = []
    real_save = tui.settings.save
    monkeypatch.setattr(tui.settings, "save", lambda s: written.append(s) or real_save(s))
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        await pilot.press("minus", "minus", "minus")
        assert written == []  # not on the keypress: the write waits for the burst to end
        while not written:
            await asyncio.sleep(0.05)
        assert [s.speed for s in written] == [app.session.speed]
        await pilot.press("minus")
    assert written[-1].speed == app.session.speed  # the change still pending at exit
    assert f"speed = {app.session.speed!r}" in settings_path().read_text()


async def test_settings_that_cannot_be_written_get_one_warning(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("OPTPLAY_CONFIG_DIR", str(blocker / "optplay"))
    app = create_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        app.set_focus(None)
        await pilot.press("minus")
        for _ in range(100):
            await asyncio.sleep(0.05)
            if "settings not saved" in screen_text(app):
                break
        assert "settings not saved" in screen_text(app) and "not-a-folder" in screen_text(app)
        assert app.session.speed == 100  # the change still holds for this session


async def test_unreadable_settings_are_ignored_with_one_warning() -> None:
    settings_path().write_text("speed = -3\n")
    app = create_app()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.pause()
        assert app.session.speed == 200  # the default
        assert "settings ignored" in screen_text(app) and "speed must be" in screen_text(app)


async def test_a_toast_goes_away_when_its_reason_is_gone() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        app.set_focus(None)
        await pilot.press("n")
        app.do(app.session.pick("task", "beale"))
        await pilot.pause()
        assert "task changed: r resets the run to apply it" in screen_text(app)
        await pilot.press("r")  # applied: the toast is no longer true
        await pilot.pause()
        assert "task changed" not in screen_text(app)


# -- ASCII ------------------------------------------------------------------------------------


def test_ascii_keeps_every_cell_and_reads() -> None:
    assert to_ascii("⣿⠉⣀⠀") == "#'. "
    assert to_ascii("┌─┐│└┘") == "+-+|++" and to_ascii("▐X▌") == "[X]"
    assert to_ascii("● ○ ✕ ▼ η β₁ m̂") == "@ o x v n b1 m"
    assert to_ascii("sgd ⟳ ½") == "sgd * 1"
    assert output_is_ascii(open(os.devnull, "w", encoding="ascii"))
    assert not output_is_ascii(open(os.devnull, "w", encoding="utf-8"))


async def test_the_app_draws_only_ascii_on_an_ascii_terminal() -> None:
    app = create_app(ascii_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnnnnnnnn")
        await pilot.pause()
        text = screen_text(app)
        assert text.isascii() and "rosenbrock" in text and "[ ]" in text


def test_the_c_locale_is_an_ascii_terminal(monkeypatch) -> None:
    # Python writes UTF-8 under LC_ALL=C (PEP 538/540): the locale, not the stream, tells.
    utf8 = open(os.devnull, "w", encoding="utf-8")
    monkeypatch.delenv("OPTPLAY_ASCII", raising=False)
    monkeypatch.setenv("LC_ALL", "C")
    assert output_is_ascii(utf8)
    monkeypatch.setenv("LC_ALL", "POSIX")
    assert output_is_ascii(utf8)
    monkeypatch.delenv("LC_ALL")
    monkeypatch.delenv("LC_CTYPE", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert not output_is_ascii(utf8)


def test_ascii_words_keep_the_meaning() -> None:
    assert ascii_words("m̂") == "m_hat" and ascii_words("√v̂") == "sqrt(v_hat)"
    assert ascii_words("α = η / (√v̂ + ε)") == "alpha = eta / (sqrt(v_hat) + eps)"
    assert ascii_words("‖Δθ‖/‖g‖") == "|dtheta|/|g|"
    assert ascii_words("θ ← θ − η·g") == "theta <- theta - eta*g"
    assert ascii_words("b ← μb + g; λθ") == "b <- mu*b + g; lambda*theta"
    assert ascii_words("β₁ 0.9, ḡ ≤ 1") == "beta1 0.9, g_bar <= 1"
    # a subscript spelled on the line is a name, not a product
    assert ascii_words("lr < 2/λmax") == "lr < 2/lambda_max"
    assert ascii_words("2/(λmin+λmax)") == "2/(lambda_min+lambda_max)"


async def test_the_c_locale_draws_ascii_and_spells_the_state_symbols(monkeypatch) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        await pilot.press(*"nnnn")
        app.show_tab("tab-state")
        await pilot.pause()
        await pilot.pause()
        table = app.query_one(CoordinateTable).plain
        assert "m_hat" in table and "sqrt(v_hat)" in table and "alpha" in table
        assert "dtheta" in table
        assert screen_text(app).isascii()  # no braille: the charts are ASCII too


# -- the command line ---------------------------------------------------------------------------


def optplay(*args: str, env: dict[str, str] | None = None, shell: str | None = None):
    command = [sys.executable, "-m", "tui", *args]
    environment = {**os.environ, **(env or {})}
    if shell is not None:
        quoted = " ".join(f"'{part}'" for part in command)
        return subprocess.run(
            ["bash", "-c", shell.replace("OPTPLAY", quoted)],
            capture_output=True, text=True, env=environment, timeout=120,
        )  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)


def test_version() -> None:
    done = optplay("--version")
    assert done.returncode == 0 and done.stdout.startswith("optplay ")


def test_a_closed_pipe_ends_quietly() -> None:
    done = optplay(shell="OPTPLAY list | head -1; exit ${PIPESTATUS[0]}")
    assert done.returncode in (0, 141) and done.stdout == "optimizers\n"
    assert done.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("run", "--task", "rosenbrock", "--optimizer", "adam", "--steps", "30"),
    ],
)
def test_an_ascii_terminal_gets_ascii(args: tuple[str, ...]) -> None:
    done = optplay(*args, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and done.stderr.isascii() and "\\u" not in done.stdout


def test_the_c_locale_gets_ascii_that_keeps_the_meaning() -> None:
    done = optplay("list", "optimizers", env={"LC_ALL": "C", "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and "\\u" not in done.stdout
    assert "sqrt(v_hat)" in done.stdout and "alpha = eta" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_list_presets_and_the_presets_flag_agree() -> None:
    one, two = optplay("list", "presets"), optplay("list", "--presets")
    assert one.returncode == two.returncode == 0 and one.stdout == two.stdout
    assert one.stdout.startswith("presets\n") and "optimizers" not in one.stdout.splitlines()


def test_one_default_lr_everywhere() -> None:
    """Rosenbrock with Adam: the app, `optplay run` and a file without lr use 0.02."""
    done = optplay("run", "--task", "rosenbrock", "--optimizer", "adam", "--steps", "1000")
    assert done.returncode == 0 and "lr=0.02" in done.stdout
    loss = float(next(line for line in done.stdout.splitlines() if "last batch loss" in line)
                 .split()[3])  # fmt: skip
    assert loss < 0.2  # walks the valley (Adam's own 1e-3 ends near 5.7)
    Path("exp.toml").write_text('task = "rosenbrock"\noptimizer = "adam"\n')
    from engine.config import load

    assert load("exp.toml").config.lr == 0.02 == create_app().session.config.lr
    listing = optplay("list", "tasks").stdout
    assert "suggested lr: adam 0.02" in listing


async def test_the_default_run_takes_a_few_seconds_to_watch() -> None:
    default_settings()
    app = create_app()
    async with app.run_test(size=SMALL):
        assert app.session.speed == 200 and app.session.planned_steps == 1000
        await asyncio.sleep(0)
