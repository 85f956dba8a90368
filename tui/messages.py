"""Messages the training worker posts up to the app.

Each carries the `Run` it is about (or the `Race`, whose stream drives all its racers), so
reports from a run the app has since replaced (after a reset with new settings) are
recognised and ignored.

The worker never touches widgets: it reports what happened and the app decides what the
screen shows. Progress arrives many times a second, so a newer report replaces an older one
still waiting in the queue (only the latest state matters to a status line).
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class RunProgress(Message):
    """A progress snapshot from `Run.stream` (step, state, loss, lr, steps/s, ...)."""

    def __init__(self, run: Any, progress: Any) -> None:
        super().__init__()
        self.run = run
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        # An older snapshot still queued is dropped when a newer one is waiting behind it.
        return isinstance(message, RunProgress)


class RunFinished(Message):
    """The stream ended: the run reached its planned length, diverged, or was cancelled."""

    def __init__(self, run: Any, state: str, step: int) -> None:
        super().__init__()
        self.run = run
        self.state = state
        self.step = step


class RunFailed(Message):
    """Training raised an exception; the app shows it and stays up."""

    def __init__(self, run: Any, error: BaseException) -> None:
        super().__init__()
        self.run = run
        self.error = error
