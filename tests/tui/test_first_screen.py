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
from textual.widgets import TabPane

from engine.config import Experiment
from engine.run import RunConfig
from tui.app import OptplayApp, create_app
from tui.charts import tabs as chart_tabs
from tui.charts.panel import ChartPanel
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
async def test_the_main_screen_is_not_restyled_whole_before_the_first_frame(monkeypatch, size):
    """The breakpoint class ("-wide" at 120 columns, "-narrow" at 80) is on the main screen
    before its widgets are styled: Textual's first resize finds it there (it added it then,
    and restyled every widget of the screen once more). Its first showing does not restyle
    it whole either (tui/app.py `MainScreen`): each widget was styled as it mounted."""
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
        assert [n for n in restyled if n > widgets // 2] == []


def styles_of(app: OptplayApp) -> dict[str, str]:
    """Every node's styles on the main screen, its component classes' too, as CSS text."""
    found = {}
    for i, node in enumerate(app.main.walk_children(with_self=True)):
        key = f"{i} {type(node).__name__}#{node.id}"
        found[key] = node.styles.css
        for name in sorted(node._component_styles):
            found[f"{key} .{name}"] = node._component_styles[name].css
    return found


@pytest.mark.parametrize("deferred", [False, True], ids=["built whole", "deferred"])
async def test_the_first_screen_is_styled_as_a_full_restyle_styles_it(deferred):
    """Skipping the first showing's restyle changes no style: restyling the screen whole
    after the first frame gives every node the styles it had."""
    app = digits_app()
    app.defer_sidebar = deferred
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.sidebar_built)
        await pilot.pause()
        before = styles_of(app)
        app.update_styles(app.main, animate=False)
        assert styles_of(app) == before
        assert len(before) > 100


@pytest.mark.parametrize("task, opens", [("rosenbrock", "path"), ("digits-mlp", "loss")])
async def test_a_deferred_first_screen_builds_only_the_chart_it_shows(monkeypatch, task, opens):
    """Launched, the first screen holds the chart of the tab the run opens on (Path for a
    2-D task, Loss otherwise); the other tabs' charts come after the first frame."""
    at_first_frame: list[list[str]] = []
    build = OptplayApp._build_sidebar

    async def spied_build(app: OptplayApp) -> None:
        at_first_frame.append(charts_of(app))
        await build(app)

    monkeypatch.setattr(OptplayApp, "_build_sidebar", spied_build)
    app = create_app(Experiment(RunConfig(task=task, optimizer="adam"), steps=500))
    app.defer_sidebar = True
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.sidebar_built)
        await pilot.pause()
        assert at_first_frame == [[f"{opens}-chart"]]
        assert len(charts_of(app)) == len(chart_tabs.TABS)
        assert app.main.query_one(ChartPanel).active_chart().id == f"{opens}-chart"


def charts_of(app: OptplayApp) -> list[str]:
    panel = app.main.query_one(ChartPanel)
    return [pane.children[0].id for pane in panel.query(TabPane) if pane.children]
