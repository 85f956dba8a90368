"""Snapshot tests of the State tab at 80x24 and 120x40: Rosenbrock + Adam (the coordinate
table), digits-mlp + Adam (bands and histogram rows per layer) and a race of Adam against
SGD on digits-mlp (one band per run), plus that race without colour (NO_COLOR).

Deterministic like tests/snapshots/test_snapshots.py: fixed configs and seeds, the tab shown
first (so summaries record from step 0), the steps done synchronously and the last one with
`n`, paused. Update with `pytest --snapshot-update` after looking at the new pictures.
"""

from __future__ import annotations

import pytest
from test_snapshots import SIZES, hold_still
from textual.pilot import Pilot

from engine.config import Experiment, RaceEntry
from engine.run import RunConfig
from tui.app import OptplayApp, create_app

DIGITS = RunConfig(task="digits-mlp", optimizer="adam", seed=7, eval_every=20)


def adam_vs_sgd() -> OptplayApp:
    sgd = DIGITS.replace(optimizer="sgd", optimizer_hypers={"lr": 0.05})
    return create_app(Experiment.of_race([RaceEntry(DIGITS), RaceEntry(sgd)], steps=300))


def on_state_tab(steps: int):
    """Show the State tab, then `steps` updates (the last one with `n`), paused."""

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        pilot.app.show_tab("tab-state")
        await pilot.pause()
        pilot.app.session.race.step(steps - 1)
        await pilot.press("n")
        await pilot.pause()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_state_rosenbrock_adam(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(create_app(), terminal_size=size, run_before=on_state_tab(160))


@pytest.mark.parametrize("size", SIZES)
def test_state_digits_adam(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(create_app(DIGITS), terminal_size=size, run_before=on_state_tab(160))


@pytest.mark.parametrize("size", SIZES)
def test_state_race_adam_vs_sgd(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(adam_vs_sgd(), terminal_size=size, run_before=on_state_tab(160))


def test_state_race_without_colour(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: Textual's Monochrome filter; every band, row and curve is still named."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(adam_vs_sgd(), terminal_size=(80, 24), run_before=on_state_tab(160))
