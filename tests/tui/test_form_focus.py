"""Pilot tests: a form field's focus is visible and easy to leave, and keys meant for the app
never edit a knob by accident (issue 25, "Focus you can see and leave")."""

from __future__ import annotations

import pytest
from conftest import screen_text, wait_for
from textual.widgets import Input, Label, Static, TabbedContent, Tabs

from engine.run import RunConfig
from tui.app import create_app
from tui.widgets.hyper_form import FORM_HINT
from tui.widgets.keybar import KeyBar

SMALL = (80, 24)


async def focus_field(pilot, field_id: str, text: str) -> Input:
    """Focus a form field and replace its text by typing (not committed)."""
    field = pilot.app.query_one(f"#{field_id}", Input)
    field.focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()
    return field


def keybar_text(app) -> str:
    return str(app.query_one(KeyBar).render())


async def test_enter_commits_and_the_next_digit_switches_tabs() -> None:
    app = create_app()  # rosenbrock: Loss, LR, Norms, Path, State
    async with app.run_test(size=SMALL) as pilot:
        await focus_field(pilot, "optimizer-lr", "0.05")
        await pilot.press("enter", "3")
        await pilot.pause()
        assert app.session.run.config.lr == 0.05  # not 0.053
        assert app.query_one("#optimizer-lr", Input).value == "0.05"
        assert app.query_one(TabbedContent).active == "tab-norms"
        assert isinstance(app.focused, Tabs)  # the chart panel has the keys


async def test_escape_leaves_a_field_without_committing() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        before = app.session.run.config.lr
        field = await focus_field(pilot, "optimizer-lr", "0.07")
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        assert app.session.run.config.lr == before  # nothing applied
        assert field.value == "0.02"  # the committed value is shown again
        await pilot.press("n")  # keys act on the app again
        assert app.session.run.steps_done == 1 and app.session.run.config.lr == before


async def test_the_focused_field_has_a_reverse_label() -> None:
    app = create_app()
    async with app.run_test(size=SMALL) as pilot:
        label = app.query_one("#section-optimizer .hyper-name", Label)
        assert "reverse" not in str(label.styles.text_style)
        app.query_one("#optimizer-lr", Input).focus()
        await pilot.pause()
        assert "reverse" in str(label.styles.text_style)  # reads without colour too
        app.set_focus(None)
        await pilot.pause()
        assert "reverse" not in str(label.styles.text_style)


async def test_key_bar_says_what_enter_and_escape_do_while_editing() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert "editing" not in keybar_text(app)
        app.query_one("#optimizer-lr", Input).focus()
        await pilot.pause()
        assert "editing lr — Enter to apply, Esc to cancel" in keybar_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "editing" not in keybar_text(app) and "space" in keybar_text(app)


async def test_a_letter_typed_into_a_number_is_refused_with_a_message() -> None:
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        field = await focus_field(pilot, "optimizer-lr", "0.05n")
        assert field.value == "0.05"  # never appended
        error = app.query_one("#section-optimizer .hyper-error", Static)
        assert str(error.render()) == "lr takes a number: 'n' refused"
        assert "lr takes a number: 'n'" in screen_text(app)  # shown under the field
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.run.config.lr == 0.05
        assert "refused" not in screen_text(app)


async def test_exponents_signs_lists_and_aliases_still_type() -> None:
    config = RunConfig(task="quadratic", optimizer="sgd", schedule="multistep")
    app = create_app(config)
    async with app.run_test(size=(120, 50)) as pilot:
        field = await focus_field(pilot, "optimizer-lr", "1e-3")
        assert field.value == "1e-3"
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.run.config.lr == 0.001
        ids = {w.id for w in app.query(Input)}
        list_field = next(i for i in ids if i and i.startswith("schedule-") and "mile" in i)
        field = await focus_field(pilot, list_field, "10,20")
        assert field.value == "10,20"


async def test_the_sidebar_help_line_follows_the_focus_in_place() -> None:
    """The focused knob's help shows in the sidebar's one help line, docked under it (the
    same cells whichever section the knob is in, so a Tab lays out no screen); the hint
    while no knob has the focus. No section has a help line of its own."""
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam"))
    async with app.run_test(size=(120, 40)) as pilot:
        help_line = app.query_one("#form-help", Static)
        await wait_for(lambda: FORM_HINT in str(help_line.render()))
        room = help_line.region
        app.query_one("#optimizer-lr", Input).focus()
        await pilot.pause()
        lr_spec = app.query_one("#optimizer-lr").parent.spec
        assert lr_spec.help in str(help_line.render())
        assert app.query_one("#optimizer-lr").parent.query_one(".hyper-name").has_class("-focused")
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused.id == "optimizer-beta1"
        beta1_help = app.focused.parent.help_text
        assert str(help_line.render()) == beta1_help != lr_spec.help
        assert (
            not app.query_one("#optimizer-lr").parent.query_one(".hyper-name").has_class("-focused")
        )
        await pilot.press("escape")
        await pilot.pause()
        assert str(help_line.render()) == FORM_HINT
        assert help_line.region == room
        assert len(app.query(".hyper-help")) == 1


@pytest.mark.parametrize("deferred", [False, True], ids=["built whole", "deferred"])
async def test_the_focused_pickers_name_is_highlighted_and_only_its(deferred) -> None:
    """The highlight follows the focus from picker to picker (it stayed on the task picker:
    a `:focus-within` rule on the name was applied only by full restyles), and is there on a
    launched first screen too, whose sidebar comes after the first frame."""
    app = create_app(RunConfig(task="digits-mlp", optimizer="adam"))
    app.defer_sidebar = deferred

    def highlighted() -> list[str]:
        labels = {p.id: p.query_one(".picker-label", Label) for p in app.query(".picker")}
        plain = labels["schedule-picker"].styles.background  # never focused here
        return [id for id, label in labels.items() if label.styles.background != plain]

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.sidebar_built and app.focused is not None)
        await pilot.pause()
        assert highlighted() == ["task-picker"]
        await pilot.press("tab")
        await wait_for(lambda: app.focused.id == "optimizer-select")
        await pilot.pause()
        assert highlighted() == ["optimizer-picker"]
        app.set_focus(None)
        await pilot.pause()
        assert highlighted() == []
