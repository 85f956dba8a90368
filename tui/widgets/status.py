"""The status line: what the run is doing, in one row that fits.

` paused  step 150  batch loss 0.4123  eval loss 0.3987  lr 0.001  speed 200/s`. Each loss says
which series it is (see "Loss series" in the README): the last update's mini-batch loss and
the newest evaluation. The rate in steps per second is shown only while running. When the row
is too narrow, the least important parts go first (the speed limit, the rate, the labels'
first words), never cutting a word.

During a race the line describes the race: ` running  race of 3  step 120  best adam eval loss
0.0123  4,000 steps/s  speed max` (the racers' learning rates differ: no lr); best is the
racer ranked first (`engine.compare.rank`: eval loss, batch loss only when there is no
evaluation after step 0, as the line says). The numbers are the
session's `Status` (engine/session.py), written with the one shared number formatter. The
rate ends in "compiled" when the optimizers run numba kernels (engine/optimizers/compiled.py).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.numbers import format_number
from engine.optimizers import compiled
from engine.session import Status
from engine.textsafe import for_terminal, shortened

#: States the line can show; each sets a `-<state>` class that app.tcss colours.
STATES = ("ready", "running", "paused", "finished", "diverged", "failed")


def format_speed(steps_per_second: float | None) -> str:
    """The speed limit as shown: `max` for unlimited, else steps per second."""
    if steps_per_second is None:
        return "max"
    return f"{steps_per_second:g}/s"


def parts_of(status: Status) -> list[tuple[int, str, str]]:
    """(rank, long text, short text) of each part after the state label; higher ranks are
    dropped first when the row is too narrow, long texts shortened before anything goes."""
    out: list[tuple[int, str, str]] = []
    if status.racers:
        out.append((1, f"race of {status.racers}", f"race of {status.racers}"))
    out.append((0, f"step {status.step:,}", f"step {status.step:,}"))
    if status.racers:
        loss = format_number(status.loss, missing="—")
        if status.leader:
            leader = shortened(for_terminal(status.leader), 24)
            long = f"best {leader} {status.rank_by or 'loss'} {loss}"
            short = f"best {leader} {loss}"
        else:
            long = short = "best —"
        out.append((2, long, short))
    else:
        loss = format_number(status.loss, missing="—")
        out.append((1, f"{status.loss_label} {loss}", f"loss {loss}"))
        if status.eval_loss is not None:
            value = format_number(status.eval_loss)
            out.append((3, f"eval loss {value}", f"eval {value}"))
        out.append((4, f"lr {format_number(status.lr, 3, missing='—')}", ""))
    if status.state == "running" and status.steps_per_second:
        rate = f"{status.steps_per_second:,.0f} steps/s" + (" compiled" if compiled.ready else "")
        out.append((3, rate, rate))
    # The speed limit is what + and - change: it stays while anything else can go.
    out.append((2, f"speed {format_speed(status.speed)}", ""))
    if status.fit:  # e.g. final w, b next to least squares (the Model tab shows it whole)
        out.append((6, status.fit, status.fit))
    return out


def status_text(status: Status, width: int) -> tuple[str, str]:
    """(state label, the rest) fitting in `width` cells."""
    if status.state == "diverged" and status.diverged_at is not None:
        label = f" diverged at step {status.diverged_at} "
    else:
        label = f" {status.state} "
    parts = parts_of(status)
    room = width - len(label) - 1

    def line(items: list[tuple[int, str, str]], short: bool) -> str:
        texts = [(s if short and s else t) for _, t, s in items]
        return "".join(f"  {t}" for t in texts if t)

    for short in (False, True):
        kept = list(parts)
        while kept and len(line(kept, short)) > room:
            kept.remove(max(kept, key=lambda p: (p[0], kept.index(p))))
        if len(kept) == len(parts) or short:
            return label, line(kept, short)
    return label, ""


class StatusLine(Static):
    """One row at the bottom of the screen describing the run."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.status = Status()
        self._shown: tuple[Status, int] | None = None
        self._shown_state: str | None = None

    def on_mount(self) -> None:
        self.show(self.status)

    def on_resize(self) -> None:
        self.show(self.status)

    def show(self, status: Status) -> None:
        width = self.size.width or 80
        if (status, width) == self._shown:
            return  # progress arrives many times a second: redraw only on a change
        self.status, self._shown = status, (status, width)
        state = status.state
        if state != self._shown_state:  # restyle only on a change
            self._shown_state = state
            for name in STATES:
                self.set_class(name == state, f"-{name}")
        label, rest = status_text(status, width)
        text = Text.assemble((label, "bold reverse"), rest, no_wrap=True, overflow="crop")
        self.update(text, layout=False)  # one row, always: no layout pass per report
