"""Each chart tab is declared once (tui/charts/tabs.py): the panel's panes, the tabs a task
shows, the palette's entries, the digit keys and the lesson texts' tab names all come from that
table, so a new view is one chart module and one row."""

from __future__ import annotations

import dataclasses

from textual.widgets import TabbedContent, TabPane

from engine import lessons
from engine.run import RunConfig
from tui.actions import BY_NAME
from tui.app import create_app
from tui.charts import tabs
from tui.charts.norms import NormsChart
from tui.screens.lessons import watch_heading
from tui.widgets.lesson_line import lesson_rows

DIGITS = RunConfig(task="digits-mlp", optimizer="adam")


def active_tab(app) -> str:
    return app.query_one("#chart-tabs", TabbedContent).active


def palette_titles(app) -> list[str]:
    return [
        command.title
        for command in app.get_system_commands(app.screen)
        if command.title.startswith("Show ") and command.title.endswith(" chart")
    ]


def test_every_tab_a_lesson_may_name_is_declared() -> None:
    # The engine keeps plain ids (`[watch] tab`); the app maps each through the table.
    for tab_id in lessons.TABS:
        tab = tabs.by_id(tab_id)
        assert tab is not None, tab_id
        assert tab.pane == f"tab-{tab_id}"


def test_the_digit_keys_cover_every_tab() -> None:
    assert BY_NAME["tab"].keys.split(",") == [str(n) for n in range(1, len(tabs.TABS) + 1)]
    assert BY_NAME["tab"].shown_key == f"1-{len(tabs.TABS)}"


async def test_panel_palette_and_digits_follow_the_table() -> None:
    app = create_app(DIGITS)  # a network: no Path, a Model view
    async with app.run_test(size=(120, 40)) as pilot:
        panes = [pane.id for pane in app.query_one("#chart-tabs").query(TabPane)]
        assert panes == [tab.pane for tab in tabs.TABS]
        assert palette_titles(app) == [
            "Show loss chart",
            "Show learning rate chart",
            "Show norms chart",
            "Show model chart",
            "Show optimizer state chart",
            "Show sharpness chart",  # a network has no exact theory: its sharpness is shown
        ]
        app.set_focus(None)
        await pilot.press("4")
        assert active_tab(app) == "tab-model"
        app.do(app.session.pick("task", "beale"))  # 2-D: Path shown and opened, no Model
        await pilot.pause()
        assert active_tab(app) == "tab-path"
        assert "Show path chart" in palette_titles(app)
        assert "Show model chart" not in palette_titles(app)


def test_lesson_texts_name_the_tab_by_its_label() -> None:
    lesson = lessons.load(lessons.names()[0])
    label = tabs.by_id(lesson.watch.tab).label
    assert watch_heading(lesson) == f"Watch: the {label} tab"


class EchoChart(NormsChart):
    """A new view for the test: the norms again, under another name."""


async def test_a_new_tab_is_one_row(monkeypatch) -> None:
    chart = f"{EchoChart.__module__}:EchoChart"
    echo = tabs.Tab("echo", "Echo", "echo norms", chart, applies=tabs.landscapes)
    monkeypatch.setattr(tabs, "TABS", (*tabs.TABS, echo))
    app = create_app()  # a 2-D task: the new tab applies
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.query_one("#chart-tabs").query(TabPane).last().id == "tab-echo"
        assert "Show echo norms chart" in palette_titles(app)
        app.set_focus(None)
        await pilot.press("6")  # Loss, LR, Norms, Path, State, Echo
        assert active_tab(app) == "tab-echo"
        assert isinstance(app.query_one("#echo-chart"), EchoChart)
        app.do(app.session.pick("task", "digits-mlp"))  # it does not apply to a network
        await pilot.pause()
        assert active_tab(app) == "tab-loss"
        assert "Show echo norms chart" not in palette_titles(app)
        # A lesson naming the new tab is told by its label.
        lesson = lessons.load(lessons.names()[0])
        lesson = dataclasses.replace(lesson, watch=dataclasses.replace(lesson.watch, tab="echo"))
        text = lesson_rows(dataclasses.replace(app.session.view(), lesson=lesson, verdict=None))
        assert "Watch the Echo tab" in text.plain
