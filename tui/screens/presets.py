"""The preset picker: the shipped scenarios (engine/presets), one keypress from the app.

Each entry shows the preset's file name, its title and what it opens: one run, a race of n
optimizers, or a benchmark (which runs in the background and ends in a table; see
tui/screens/bench.py). Enter picks, escape cancels; the app loads the chosen preset.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from engine import presets
from tui.dialogs import Dialog


def describe(name: str) -> str:
    """What a preset opens, in a few words ("race of 3: SGD, Momentum, Adam")."""
    loaded = presets.load(name)
    race = getattr(loaded, "race", None)
    if race:
        names = ", ".join(entry.name or entry.config.optimizer for entry in race)
        return f"race of {len(race)}: {names}"
    if hasattr(loaded, "config"):
        cfg = loaded.config
        return f"one run: {cfg.optimizer} on {cfg.task}"
    if presets.kind(name) == "sweep":
        return f"sweep: {', '.join(loaded.optimizers)} on {loaded.task}, {loaded.total_runs} runs"
    return "benchmark: fresh runs per size, optimizer and seed; a table at the end"


class PresetScreen(Dialog[str | None]):
    """Choose a shipped preset; returns its name (or None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        options = []
        for name in presets.names():
            prompt = Text.assemble(
                (name, "bold"), "  ", presets.title(name), "\n", (describe(name), "dim")
            )
            options.append(Option(prompt, id=name))
        with Vertical(id="presets-body") as body:
            body.border_title = "presets"
            body.border_subtitle = "enter opens · esc cancels"
            yield OptionList(*options, id="preset-list")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
