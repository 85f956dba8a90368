"""Nothing lost: quitting with unsaved changes asks first, and saving is atomic.

"Unsaved" means the experiment (what ctrl+s would write: the config, the run length, the
name, a race's entries) differs from what was last loaded or saved. A clean app quits at
once; a dirty one shows a dialog whose answers are one key each: `s` save (the save dialog,
prefilled, then quit), `d` discard and quit, `escape` cancel.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from conftest import screen_text
from textual import events
from textual.widgets import Input

import engine.history
from engine.config import load, save
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.confirm import ConfirmQuitScreen
from tui.screens.save import SaveScreen

SMALL = (80, 24)


async def press_to_quit(pilot, key: str) -> None:
    """Press a key that should end the app, and wait until it has.

    (`Pilot.press` then waits for every widget's queue, and widgets of an app that has
    shut down can leave it waiting for its 30 s timeout.)"""
    app = pilot.app
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app.post_message(event)
    for _ in range(250):
        if not app.is_running:
            return
        await asyncio.sleep(0.02)


async def edit(pilot, field_id: str, value: str) -> None:
    """Change a form field's text, then leave the form (leaving commits it)."""
    field = pilot.app.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.pause()
    field.value = value
    pilot.app.set_focus(None)
    await pilot.pause()


async def edit_lr(pilot, value: str) -> None:
    await edit(pilot, "optimizer-lr", value)


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_clean_app_quits_at_once(key: str) -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.set_focus(None)
        assert not app.session.dirty
        await press_to_quit(pilot, key)
        assert not app.is_running
    assert app.return_code == 0


async def test_dirty_app_asks_before_quitting() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        assert app.session.dirty and app.session.unsaved_changes() == ["optimizer knobs"]
        for key in ("q", "ctrl+q"):
            await pilot.press(key)
            assert isinstance(app.screen, ConfirmQuitScreen) and app.is_running
            text = screen_text(app)
            assert "unsaved changes (optimizer knobs)" in text
            assert "s save · d discard · esc cancel" in text
            await pilot.press("ctrl+q")  # asking again does not stack a second dialog
            assert len(app.screen_stack) == 2
            await pilot.press("escape")


@pytest.mark.parametrize("keys", [["escape"], ["tab", "tab", "enter"]])
async def test_cancel_goes_back_to_the_app_with_the_changes(keys: list[str]) -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        await pilot.press("q")
        await pilot.pause()
        await pilot.press(*keys)  # escape, or the Cancel button (third from the left)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmQuitScreen) and app.is_running
        assert app.session.config.optimizer_hypers["lr"] == 0.005 and app.session.dirty
        await pilot.press("n")  # the app's keys work again
        assert app.session.run.steps_done == 1


@pytest.mark.parametrize("keys", [["d"], ["tab", "enter"]])
async def test_discard_quits_without_writing(tmp_path: Path, keys: list[str]) -> None:
    path = tmp_path / "exp.toml"
    app = create_app(save_path=str(path))
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        await pilot.press("q")
        await pilot.pause()
        await pilot.press(*keys[:-1])
        await press_to_quit(pilot, keys[-1])  # d, or the Discard button
        assert not app.is_running
    assert app.return_code == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("keys", [["s"], ["enter"]])
async def test_save_writes_the_file_then_quits(tmp_path: Path, keys: list[str]) -> None:
    path = tmp_path / "exp.toml"
    app = create_app(save_path=str(path))
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        await pilot.press("q")
        await pilot.pause()
        await pilot.press(*keys)  # s, or the Save button (it has the focus)
        await pilot.pause()
        assert isinstance(app.screen, SaveScreen)  # where to: prefilled with the file
        assert app.screen.query_one(Input).value == str(path)
        await press_to_quit(pilot, "enter")
        assert not app.is_running
    assert app.return_code == 0
    experiment = load(path)
    assert experiment.config == app.session.config and experiment.steps == 1000
    assert experiment.config.optimizer_hypers["lr"] == 0.005


async def test_escape_in_the_save_dialog_stays_in_the_app(tmp_path: Path) -> None:
    app = create_app(save_path=str(tmp_path / "exp.toml"))
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        await pilot.press("q", "s", "escape")
        await pilot.pause()
        assert app.is_running and app.screen is app.screen_stack[0] and app.session.dirty
    assert list(tmp_path.iterdir()) == []


async def test_a_failed_save_keeps_the_app_and_the_changes(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "exp.toml"
    app = create_app(save_path=str(missing))
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await edit_lr(pilot, "0.005")
        await pilot.press("q", "s", "enter")
        await pilot.pause()
        assert app.is_running and app.session.dirty
        assert "not saved" in screen_text(app)
        await pilot.press("q")  # still asks
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)


async def test_saved_or_reverted_changes_quit_at_once(tmp_path: Path) -> None:
    app = create_app(save_path=str(tmp_path / "exp.toml"))
    async with app.run_test(size=SMALL) as pilot:
        await edit_lr(pilot, "0.005")
        await edit_lr(pilot, "0.02")  # back to what was loaded
        assert not app.session.dirty
        await edit_lr(pilot, "0.007")
        await pilot.press("ctrl+s", "enter")  # save to the offered file
        await pilot.pause()
        assert not app.session.dirty
        await press_to_quit(pilot, "q")
        assert not app.is_running
    assert load(tmp_path / "exp.toml").config.optimizer_hypers["lr"] == 0.007


async def test_an_opened_file_is_clean_until_edited(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    config = RunConfig(task="quadratic", optimizer="sgd", optimizer_hypers={"lr": 0.1})
    save(path, config, steps=250, name="mine")
    experiment = load(path)
    app = create_app(experiment, save_path=str(path))
    async with app.run_test(size=SMALL) as pilot:
        assert not app.session.dirty
        await edit(pilot, "run-steps", "300")
        assert app.session.unsaved_changes() == ["steps"]
        await pilot.press("q")
        await pilot.pause()
        assert "unsaved changes (steps)" in screen_text(app)
        await press_to_quit(pilot, "d")
        assert not app.is_running
    assert load(path) == experiment  # discarded: the file is as it was


async def test_picking_another_optimizer_is_a_change() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        app.query_one("#optimizer-select").focus()
        await pilot.press("enter", *"sgd", "enter", "escape")
        await pilot.pause()
        assert app.session.config.optimizer == "sgd"
        assert "optimizer" in app.session.unsaved_changes()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuitScreen)
        await pilot.press("escape")


# -- atomic saves ------------------------------------------------------------------------------


@pytest.mark.parametrize("crash_in", ["fsync", "replace"])
async def test_a_crash_mid_save_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_in: str
) -> None:
    """The file is written to a temp file, flushed, then renamed over the old one: a crash
    before the rename leaves the old file untouched and no temp file behind."""
    path = tmp_path / "exp.toml"
    save(path, RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02}))
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(f"simulated crash in {crash_in}")

    app = create_app(load(path), save_path=str(path))
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await edit_lr(pilot, "0.005")
        monkeypatch.setattr(engine.history.os, crash_in, crash)
        await pilot.press("ctrl+s", "enter")
        await pilot.pause()
        assert f"simulated crash in {crash_in}" in screen_text(app)
        assert app.session.dirty  # not saved: quitting would still ask
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert sorted(os.listdir(tmp_path)) == ["exp.toml"]
        await pilot.press("ctrl+s", "enter")  # the disk is back: this one lands
        await pilot.pause()
        assert not app.session.dirty
    assert load(path).config.optimizer_hypers["lr"] == 0.005
    assert sorted(os.listdir(tmp_path)) == ["exp.toml"]
