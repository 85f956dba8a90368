"""The LR chart: the schedule's whole curve over the planned run, and the rates used."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from textual.worker import Worker, WorkerState

from engine import schedules
from tui.charts.axes import epoch_label, step_label, value_label
from tui.charts.base import ChartView, Picture, RunChart

#: Previews up to this many steps use the schedule's exact `curve(n)` (min and max per bucket,
#: so short spikes such as restarts show); longer ones sample lr(), which costs the same for
#: any step (closed forms), so the preview never blocks the UI whatever the planned length.
EXACT_PREVIEW_STEPS = 65_536


def schedule_preview(schedule: Any, span: int, n: int) -> tuple[np.ndarray, ...]:
    """(x, min, max) of the lr of updates 1..span in at most n buckets: the exact curve up to
    EXACT_PREVIEW_STEPS steps (not for a stateful schedule), else n samples of lr()."""
    if span <= EXACT_PREVIEW_STEPS and not getattr(schedule, "stateful", False):
        curve = np.asarray(schedule.curve(span), np.float64)
        group = max(1, -(-span // n))
        starts = np.arange(0, span, group)
        steps = np.minimum(starts + group, span) - 1
        lo = np.minimum.reduceat(curve, starts)
        hi = np.maximum.reduceat(curve, starts)
    else:
        steps = np.unique(np.linspace(0, span - 1, n).astype(np.int64))
        lo = hi = np.array([schedule.lr(int(s)) for s in steps], np.float64)
    # lr(k) is the rate of update k + 1, drawn at step k + 1 like the history.
    return (steps + 1, lo, hi)


def steps_per_epoch(run: Any) -> int:
    """Updates per epoch of the run's task when it has a data set and mini-batches (then the
    LR axis says epochs too), else 0."""
    task = getattr(run, "task", None)
    if getattr(task, "X", None) is None:
        return 0
    steps = int(task.steps_per_epoch)
    return steps if steps > 1 else 0


def preview_key(schedule: Any, history_length: int) -> tuple[Any, ...]:
    """What a schedule's preview depends on: its kind, base rate and knobs (a reset or a new
    run with the same settings draws the same curve); a stateful schedule (plateau) is
    itself, as fed so far."""
    if getattr(schedule, "stateful", False):
        return (id(schedule), history_length)
    return (type(schedule), repr(schedule))


class LrChart(RunChart):
    """The schedule's whole curve over the planned run, with the current step marked."""

    #: Previews kept: a race's schedules and a few earlier ones (a reset, a switch back).
    KEEP_PREVIEWS = 16
    #: Previews of up to this many steps are made in the frame (the exact curve: well under a
    #: millisecond). A longer one samples lr() and takes 2-7 ms for some schedules (step,
    #: exponential, restarts), six of them in a race 40 ms: those are made in a thread, from
    #: a copy of the schedule, and drawn as soon as they are ready (the frame after, about).
    FRAME_PREVIEW_STEPS = 4096

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._previews: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}
        self._view: ChartView | None = None
        self._wanted: dict[tuple[Any, ...], tuple[Any, int, int]] = {}  # key: (schedule, span, n)
        self._making: set[tuple[Any, ...]] = set()  # in the thread now
        self._worker: Worker[dict[tuple[Any, ...], tuple[np.ndarray, ...]]] | None = None
        self._in_frames_only = False  # a thread failed: make them in the frame (and fail there)

    def preview(self, view: ChartView, run: Any, span: int, n: int) -> tuple[np.ndarray, ...]:
        """(x, min, max) of `run`'s schedule over `span` steps in at most n buckets, cached
        per schedule settings (see `preview_key`)."""
        key = (*preview_key(run.schedule, len(run.history)), span, n)
        curve = self._previews.pop(key, None)
        if curve is None:
            curve = _shared(schedule_preview(run.schedule, span, n))
        self._keep(key, curve)
        return curve

    def _keep(self, key: tuple[Any, ...], curve: tuple[np.ndarray, ...]) -> None:
        self._previews[key] = curve  # the newest last: the oldest goes first
        while len(self._previews) > self.KEEP_PREVIEWS:
            del self._previews[next(iter(self._previews))]

    def preview_now(
        self, view: ChartView, run: Any, span: int, n: int
    ) -> tuple[np.ndarray, ...] | None:
        """`preview` if it is cached or cheap; else None, and it is made in a thread and
        drawn when ready (see FRAME_PREVIEW_STEPS)."""
        schedule = run.schedule
        key = (*preview_key(schedule, len(run.history)), span, n)
        cheap = span <= self.FRAME_PREVIEW_STEPS or schedule.stateful
        if key in self._previews or cheap or self._in_frames_only:
            return self.preview(view, run, span, n)
        if key not in self._wanted and key not in self._making:
            # A copy: the run's own schedule is read by the training thread meanwhile.
            copy = schedules.create(schedule.name, schedule.base_lr, **schedule.hypers)
            self._wanted[key] = (copy, span, n)
            self._start()
        return None

    @property
    def busy(self) -> bool:
        """True while previews are being made in a thread (tests wait on it)."""
        return self._worker is not None or bool(self._wanted)

    def _start(self) -> None:
        if self._worker is not None or not self._wanted:
            return  # one thread at a time: what is wanted meanwhile goes next
        jobs, self._wanted = self._wanted, {}
        self._making = set(jobs)
        self._worker = self.run_worker(
            partial(_make_previews, jobs), name="lr-preview", thread=True, exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._worker or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self._worker = None
        self._making = set()
        if event.state == WorkerState.ERROR:
            self._in_frames_only = True
        else:
            for key, curve in (worker.result or {}).items():
                self._keep(key, curve)
        self._start()
        if self._view is not None and self.display and self.size.area:
            self.draw(self._view)

    def draw(self, view: ChartView) -> None:
        self._view = view
        super().draw(view)

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        return [("lr", "lr")]

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history, schedule = run.history, run.schedule
        step = len(history)
        span = max(view.planned_steps, step, 1)
        n = 2 * self.columns()
        if schedule is not None:
            curve = self.preview_now(view, run, span, n)
            if curve is not None:  # else drawn when it is ready
                picture.band(*curve, self.color("schedule"), "schedule")
        if step:
            used = history.downsample("lr", n)
            picture.band(used.steps, used.mins, used.maxs, self.color("used"), "used")
            picture.vlines.append((step, self.color("used")))
        if schedule is None:
            parts = ["lr set by the optimizer itself (no schedule)"]
        else:
            current = history.last("lr") if step else float(schedule.lr(0))
            parts = [f"lr {value_label(current)} · step {step_label(step)} of {step_label(span)}"]
            per_epoch = steps_per_epoch(run)
            if per_epoch:
                picture.steps_per_epoch = per_epoch
                epochs = f"epoch {epoch_label(step / per_epoch)} of {epoch_label(span / per_epoch)}"
                parts.append(epochs)
            note = getattr(schedule, "preview_note", "")
            if note:  # plateau: the future rate depends on the loss
                picture.note = f"{schedule.name}: {note}"
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, span)

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's schedule over the planned run (the rate used, for a lane without a
        schedule) in its colour, with the current step marked."""
        n = 2 * self.columns()
        span = max([view.planned_steps, 1] + [len(lane.run.history) for lane in view.lanes])
        for i, lane in enumerate(view.lanes):
            run, color = lane.run, self.lane_color(i)
            if run.schedule is not None:
                found = self.preview_now(view, run, span, n)
                if found is None:
                    continue  # drawn when it is ready
                xs, lo, hi = found
            elif len(run.history):
                used = run.history.downsample("lr", n)
                xs, lo, hi = used.steps, used.mins, used.maxs
            else:
                continue
            picture.band(xs, lo, hi, color, pattern=i)
            picture.marks(xs[-1:], hi[-1:], str(i + 1), color)
        step = len(view.run.history)
        if step:
            picture.vlines.append((step, self.color("note")))
        parts = ["lr", f"step {step_label(step)} of {step_label(span)}"]
        per_epoch = steps_per_epoch(view.run)
        if per_epoch:
            picture.steps_per_epoch = per_epoch
            parts.append(f"epoch {epoch_label(step / per_epoch)}")
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, span)


def _shared(curve: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The preview, read-only: every frame that draws it shares it."""
    for array in curve:
        array.flags.writeable = False
    return curve


def _make_previews(
    jobs: dict[tuple[Any, ...], tuple[Any, int, int]],
) -> dict[tuple[Any, ...], tuple[np.ndarray, ...]]:
    """The previews asked for (runs in a thread worker)."""
    return {key: _shared(schedule_preview(*job)) for key, job in jobs.items()}
