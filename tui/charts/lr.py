"""The LR chart: the schedule's whole curve over the planned run, and the rates used."""

from __future__ import annotations

import time
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
    #: Seconds of a frame that new previews of a race may take. A preview of a long run
    #: samples lr() and costs 2-7 ms for some schedules (step, exponential, restarts); six of
    #: them in one frame would be 40 ms, so the lanes past the budget get theirs in the
    #: frames right after (one or two more). A frame computes one at least: the single run's
    #: is always drawn at once.
    PREVIEW_BUDGET = 0.004

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._previews: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}
        self._view: ChartView | None = None
        self._draw_started = 0.0
        self._made = 0  # previews computed in this frame
        self._left_out = False  # a lane's preview waits for the next frame
        self._drawing_rest = False

    def preview(self, view: ChartView, run: Any, span: int, n: int) -> tuple[np.ndarray, ...]:
        """(x, min, max) of `run`'s schedule over `span` steps in at most n buckets, cached
        per schedule settings (see `preview_key`)."""
        key = (*preview_key(run.schedule, len(run.history)), span, n)
        curve = self._previews.pop(key, None)
        if curve is None:
            self._made += 1
            curve = schedule_preview(run.schedule, span, n)
            for array in curve:
                array.flags.writeable = False  # shared by every frame that draws it
        self._previews[key] = curve  # the newest last: the oldest goes first
        while len(self._previews) > self.KEEP_PREVIEWS:
            del self._previews[next(iter(self._previews))]
        return curve

    def preview_in_budget(
        self, view: ChartView, run: Any, span: int, n: int
    ) -> tuple[np.ndarray, ...] | None:
        """`preview`, or None when it is not cached and this frame has computed one already
        and spent PREVIEW_BUDGET (the next frame draws it)."""
        key = (*preview_key(run.schedule, len(run.history)), span, n)
        if key not in self._previews and self._made:
            if time.perf_counter() - self._draw_started > self.PREVIEW_BUDGET:
                self._left_out = True
                return None
        return self.preview(view, run, span, n)

    def draw(self, view: ChartView) -> None:
        self._view = view
        self._draw_started = time.perf_counter()
        self._made = 0
        self._left_out = False
        super().draw(view)
        if self._left_out and not self._drawing_rest:
            self._drawing_rest = True
            self.call_after_refresh(self._draw_rest)

    def _draw_rest(self) -> None:
        """The frame after one that left previews out: draw them (and the newest view)."""
        self._drawing_rest = False
        if self._left_out and self._view is not None and self.display and self.size.area:
            self.draw(self._view)

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
                found = self.preview_in_budget(view, run, span, n)
                if found is None:
                    continue  # drawn in the next frame (PREVIEW_BUDGET)
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
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, span)
