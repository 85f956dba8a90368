"""Each action is declared once (tui/actions.py) and everything that shows keys comes from it."""

from __future__ import annotations

from pathlib import Path

from tui.actions import ACTIONS, bindings, help_keys
from tui.app import OptplayApp, create_app

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_action_has_its_binding_method_and_help() -> None:
    keys = {key for b in bindings() for key in b.key.split(",")}
    helped = {key for key, _ in help_keys()}
    for action in ACTIONS:
        assert callable(getattr(OptplayApp, f"action_{action.name}", None)), action.name
        assert set(action.keys.split(",")) <= keys, action.name
        assert action.shown_key in helped, action.name


async def test_the_palette_offers_every_titled_action_that_applies() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for action in ACTIONS:
            applies = action.when is None or action.when in app.session.view().available
            if action.title is not None and applies:
                assert action.title in titles, action.name


def test_the_readme_lists_every_key() -> None:
    table = README.read_text(encoding="utf-8").split("## Keys", 1)[1].split("\n\n")[2]
    for action in ACTIONS:
        if action.name == "prev_tab":
            continue
        shown = {"question_mark": "?", "right_square_bracket": "]"}.get(
            action.shown_key, action.shown_key
        )
        assert f"`{shown}`" in table or f"`[` / `{shown}`" in table, action.name
