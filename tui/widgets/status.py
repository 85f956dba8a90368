"""The status line: what the run is doing, in one row.

`ready · step 0 · loss — · lr 0.001 · — steps/s · speed max`. Steps/s is shown only while
running (a paused or finished run has no rate), which also keeps screenshots stable.

During a race the line describes the race: `running · race of 3 · step 120 · best adam
0.0123 · 4,000 steps/s · speed max` (the racers' learning rates differ: no lr).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

#: States the line can show; each sets a `-<state>` class that app.tcss colours.
STATES = ("ready", "running", "paused", "finished", "diverged", "failed")


def format_number(x: float | None, digits: int = 4) -> str:
    """Compact number for a narrow status line: 0.01234, 1.234e-05, nan."""
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def format_speed(steps_per_second: float | None) -> str:
    """The speed limit as shown: `max` for unlimited, else steps per second."""
    if steps_per_second is None:
        return "max"
    return f"{steps_per_second:g}/s"


@dataclass(frozen=True)
class StatusView:
    """Everything the status line shows."""

    state: str = "ready"
    step: int = 0
    loss: float | None = None
    lr: float | None = None
    steps_per_second: float | None = None
    speed: float | None = None
    diverged_at: int | None = None
    racers: int = 0  # > 0: a race of this many runs; `loss` is then the leader's
    leader: str | None = None  # the racer with the lowest current loss


class StatusLine(Static):
    """One row at the bottom of the screen describing the run."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.view = StatusView()
        self._shown_state: str | None = None

    def on_mount(self) -> None:
        self.show(self.view)

    def show(self, view: StatusView) -> None:
        self.view = view
        state = view.state
        if state == "diverged" and view.diverged_at is not None:
            label = f"diverged at step {view.diverged_at}"
        else:
            label = state
        if state != self._shown_state:  # restyle only on a change
            self._shown_state = state
            for name in STATES:
                self.set_class(name == state, f"-{name}")
        rate = (
            f"{view.steps_per_second:,.0f} steps/s"
            if state == "running" and view.steps_per_second
            else "— steps/s"
        )
        if view.racers:
            best = f"best {view.leader} {format_number(view.loss)}" if view.leader else "best —"
            middle = (f"  race of {view.racers}", f"  step {view.step:,}", f"  {best}")
        else:
            middle = (
                f"  step {view.step:,}",
                f"  loss {format_number(view.loss)}",
                f"  lr {format_number(view.lr, 3)}",
            )
        text = Text.assemble(
            (f" {label} ", "bold reverse"),
            *middle,
            f"  {rate}",
            f"  speed {format_speed(view.speed)}",
            no_wrap=True,
            overflow="ellipsis",
        )
        self.update(text, layout=False)  # one row, always: no layout pass per report
