"""The LR chart: the schedule's whole curve over the planned run, and the rates used."""

from __future__ import annotations

from typing import Any

import numpy as np

from tui.charts.axes import step_label, value_label
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


class LrChart(RunChart):
    """The schedule's whole curve over the planned run, with the current step marked."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._previews: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}
        self._fresh: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}

    def preview(self, view: ChartView, run: Any, span: int, n: int) -> tuple[np.ndarray, ...]:
        """(x, min, max) of `run`'s schedule over `span` steps in at most n buckets, cached
        per settings; a stateful schedule (plateau) is re-read as the run feeds it."""
        schedule = run.schedule
        stateful = bool(getattr(schedule, "stateful", False))
        key = (id(schedule), view.version, span, n, len(run.history) if stateful else 0)
        curve = self._previews.get(key)
        if curve is None:
            curve = schedule_preview(schedule, span, n)
        self._fresh[key] = curve
        return curve

    def draw(self, view: ChartView) -> None:
        self._fresh = {}
        super().draw(view)
        self._previews = self._fresh  # only the schedules on screen stay cached

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history, schedule = run.history, run.schedule
        step = len(history)
        span = max(view.planned_steps, step, 1)
        n = 2 * self.columns()
        if schedule is not None:
            picture.band(*self.preview(view, run, span, n), self.color("schedule"), "schedule")
        if step:
            used = history.downsample("lr", n)
            picture.band(used.steps, used.mins, used.maxs, self.color("used"), "used")
            picture.vlines.append((step, self.color("used")))
        if schedule is None:
            parts = ["lr set by the optimizer itself (no schedule)"]
        else:
            current = history.last("lr") if step else float(schedule.lr(0))
            parts = [f"lr {value_label(current)} · step {step_label(step)} of {step_label(span)}"]
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
                xs, lo, hi = self.preview(view, run, span, n)
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
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, span)
