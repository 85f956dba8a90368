"""Snapshots of the flavours at 80x24: the help's flavour diff and a race of Adam's flavours.

Deterministic as tests/snapshots/test_snapshots.py: fixed configs and seeds, runs stepped
synchronously, animations and cursor blink off. Update with `pytest --snapshot-update` after
checking the new pictures.
"""

from __future__ import annotations

from conftest import screen_text
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine import presets
from engine.run import RunConfig
from tui.app import create_app

SIZE = (80, 24)


def hold_still(pilot: Pilot) -> None:
    pilot.app.animation_level = "none"
    for field in pilot.app.query(Input):
        field.cursor_blink = False


def test_help_shows_the_flavours_with_the_differing_lines_marked(snap_compare) -> None:
    """Momentum in the keras flavour: the help scrolled to the flavours, torch's rule
    unmarked, the lines optax and Keras write differently marked `*` (Keras keeps η inside
    the velocity), the run's flavour labelled."""
    config = RunConfig(
        task="rosenbrock", optimizer="momentum", optimizer_hypers={"flavour": "keras"}
    )

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        await pilot.press("question_mark")
        await pilot.pause()
        heading = pilot.app.screen.query_one("#help-flavours-heading", Static)
        pilot.app.screen.query_one("#help-body").scroll_to_widget(heading, animate=False, top=True)
        await pilot.pause()
        rows = screen_text(pilot.app).splitlines()
        marked = [row for row in rows if "│ *  " in row]
        assert len(marked) == 4
        assert any("v ← μ·v − η·g" in row for row in marked)
        assert any("keras  keras.optimizers.SGD  (this run)" in row for row in rows)
        assert any("│    b ← μ·b + (1 − τ)·g" in row for row in rows)  # torch's: unmarked

    assert snap_compare(create_app(config), terminal_size=SIZE, run_before=run_before)


def test_race_of_adams_flavours_paused(snap_compare) -> None:
    """The preset flavours-adam (torch, optax and Keras with ε = 1e-3 on Rosenbrock) paused
    at step 150: Keras' ε̂ = ε√(1 − β₂ᵗ) takes a visibly different path; torch and optax
    agree."""

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        pilot.app.session.race.step(149)
        await pilot.press("n")  # the last step through the app: paused at 150
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "step 150" in text and "paused" in text

    app = create_app(presets.load("flavours-adam"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
