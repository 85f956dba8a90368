"""The status line: what the run is doing, in one row.

`ready  step 0  loss —  lr 0.001  — steps/s  speed max`. Steps/s is shown only while running
(a paused or finished run has no rate), which also keeps screenshots stable.

During a race the line describes the race: `running  race of 3  step 120  best adam 0.0123
4,000 steps/s  speed max` (the racers' learning rates differ: no lr). The numbers are the
session's `Status` (engine/session.py), written with the one shared number formatter.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.numbers import format_number
from engine.session import Status

#: States the line can show; each sets a `-<state>` class that app.tcss colours.
STATES = ("ready", "running", "paused", "finished", "diverged", "failed")


def format_speed(steps_per_second: float | None) -> str:
    """The speed limit as shown: `max` for unlimited, else steps per second."""
    if steps_per_second is None:
        return "max"
    return f"{steps_per_second:g}/s"


class StatusLine(Static):
    """One row at the bottom of the screen describing the run."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.status = Status()
        self._shown: Status | None = None
        self._shown_state: str | None = None

    def on_mount(self) -> None:
        self.show(self.status)

    def show(self, status: Status) -> None:
        if status == self._shown:
            return  # progress arrives many times a second: redraw only on a change
        self.status = self._shown = status
        state = status.state
        if state == "diverged" and status.diverged_at is not None:
            label = f"diverged at step {status.diverged_at}"
        else:
            label = state
        if state != self._shown_state:  # restyle only on a change
            self._shown_state = state
            for name in STATES:
                self.set_class(name == state, f"-{name}")
        rate = (
            f"{status.steps_per_second:,.0f} steps/s"
            if state == "running" and status.steps_per_second
            else "— steps/s"
        )
        if status.racers:
            best = (
                f"best {status.leader} {format_number(status.loss, missing='—')}"
                if status.leader
                else "best —"
            )
            middle = (f"  race of {status.racers}", f"  step {status.step:,}", f"  {best}")
        else:
            middle = (
                f"  step {status.step:,}",
                f"  loss {format_number(status.loss, missing='—')}",
                f"  lr {format_number(status.lr, 3, missing='—')}",
            )
        text = Text.assemble(
            (f" {label} ", "bold reverse"),
            *middle,
            f"  {rate}",
            f"  speed {format_speed(status.speed)}",
            f"  {status.fit}" if status.fit else "",  # e.g. final w, b next to least squares
            no_wrap=True,
            overflow="ellipsis",
        )
        self.update(text, layout=False)  # one row, always: no layout pass per report
