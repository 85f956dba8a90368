"""The first screen does only the work it shows (issue 25: first screen <= 0.5 s at 120x40).

Launched from a terminal (`optplay`), the sidebar's pickers and form, three quarters of the
main screen's widgets, are built after the first frame; then the screen reads as if they had
been there from the start. The main screen's breakpoint class is in place before its widgets
are styled, so the first resize restyles nothing. Counts and screens, never times.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import screen_text, wait_for
from textual.css.stylesheet import Stylesheet

from engine.config import Experiment
from engine.run import RunConfig
from tui.app import OptplayApp, create_app
from tui.widgets.hyper_form import HyperForm


def digits_app() -> Any:
    return create_app(Experiment(RunConfig(task="digits-mlp", optimizer="adam"), steps=500))


async def test_a_deferred_sidebar_comes_after_the_first_frame_and_reads_the_same(monkeypatch):
    plain = digits_app()
    async with plain.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: "lr" in screen_text(plain))
        await pilot.pause()
        expected = screen_text(plain)
        focused = plain.main.focused.id  # the task picker: Textual's auto focus

    empty_at_build: list[bool] = []
    build = OptplayApp._build_sidebar

    async def spied_build(app: OptplayApp) -> None:
        empty_at_build.append(not app.main.query_one("#sidebar").children)
        await build(app)

    monkeypatch.setattr(OptplayApp, "_build_sidebar", spied_build)
    deferred = digits_app()
    deferred.defer_sidebar = True
    async with deferred.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: deferred.sidebar_built)
        await pilot.pause()
        assert empty_at_build == [True]  # composed without it, built once
        assert screen_text(deferred) == expected
        assert deferred.main.focused is not None and deferred.main.focused.id == focused
        # The form works as the first one: a typed lr commits and reaches the session.
        field = deferred.main.query_one("#optimizer-lr")
        deferred.main.set_focus(field)
        await pilot.pause()
        field.value = "0.05"
        await pilot.press("enter")
        await wait_for(lambda: deferred.session.run.config.lr == 0.05)


async def test_space_before_the_sidebar_is_built_runs_the_session():
    """A key pressed in the moment before the form exists acts as it would after."""
    app = digits_app()
    app.defer_sidebar = True
    app.sidebar_built = False
    async with app.run_test(size=(120, 40)) as pilot:
        assert app._form_ready() or app.sidebar_built  # no form yet: nothing blocks
        await pilot.press("space")
        await wait_for(lambda: app.session.streaming or app.session.run.steps_done > 0)
        app.session.pause()
        await wait_for(lambda: app.sidebar_built)
        assert app.main.query_one(HyperForm) is not None


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_main_screen_is_restyled_whole_once_before_the_first_frame(monkeypatch, size):
    """The breakpoint class ("-wide" at 120 columns, "-narrow" at 80) is on the main screen
    before its widgets are styled: Textual's first resize finds it there. (It added it
    then, and restyled every widget of the screen once more, ~160, on top of the restyle
    of the screen's first showing.)"""
    restyled: list[int] = []
    update_nodes = Stylesheet.update_nodes

    def counted(self: Stylesheet, nodes: Any, animate: bool = False) -> None:
        nodes = list(nodes)
        restyled.append(len(nodes))
        update_nodes(self, nodes, animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", counted)
    app = digits_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.main.has_class("-wide" if size[0] >= 90 else "-narrow")
        widgets = len(list(app.main.walk_children()))
        assert len([n for n in restyled if n > widgets // 2]) == 1
