"""The Sharpness chart: λ_max of the loss Hessian over steps, against GD's limit 2/lr.

Sharpness is measured every SHARPNESS_EVERY steps once the chart has been shown
(`Session.watch_sharpness`; engine/theory.py measures it by power iteration on Hessian-vector
products). Full-batch gradient descent on a network drives λ_max up to about 2/lr and holds
it there (the edge of stability, Cohen et al. 2021); for adaptive optimizers the
preconditioned sharpness λ_max(P⁻¹H) is drawn too (their threshold is 38/lr for Adam at
β₁ = 0.9). Measurements are markers joined by a thin line; 2/lr is dashed.

The cursor (`i`) stops at the steps measured (every lane's, in a race) and reads λ_max,
λ_max(P⁻¹H) and 2/lr there (each lane's λ_max in a race), as the history recorded them."""

from __future__ import annotations

import numpy as np

from tui.charts.axes import value_label
from tui.charts.base import ChartView, Picture, RunChart, value_at

#: The glyphs of a measurement: λ_max and λ_max(P⁻¹H).
MARKS = ("●", "▲")


class SharpnessChart(RunChart):
    """λ_max (and λ_max(P⁻¹H)) at the steps measured, the limit 2/lr per step (log y: the
    preconditioned sharpness and 2/lr can be decades apart)."""

    LOG_Y_DEFAULT = True
    #: (history series, label) of the measurements, in the order drawn.
    SERIES = (("sharpness", "λ_max"), ("preconditioned_sharpness", "λ_max(P⁻¹H)"))

    # -- the cursor: the steps measured ------------------------------------------------------

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        return list(self.SERIES[:1] if view.lanes else self.SERIES)

    def cursor_stops(self, view: ChartView) -> np.ndarray:
        runs = [lane.run for lane in view.lanes] or [view.run]
        found = [run.history.buckets(name).steps for run in runs for name, _ in self.SERIES]
        return np.unique(np.concatenate(found)).astype(np.int64)

    def cursor_readout(self, view: ChartView, step: int) -> str:
        """As every chart's, then (one run) the limit 2/lr at that step."""
        readout = super().cursor_readout(view, step)
        lr = None if view.lanes else value_at(view.run.history, "lr", step)
        if lr:
            readout += f" · 2/lr {value_label(2.0 / lr)}"
        return readout

    def picture(self, view: ChartView, picture: Picture) -> None:
        history = view.run.history
        n = self.columns()
        lr = history.downsample("lr", 2 * n)
        if len(lr.steps):
            with np.errstate(divide="ignore"):
                limit = 2.0 / lr.lasts
            picture.path(lr.steps, limit, self.color("schedule"), "2/lr", pattern=1, glyph="╍")
        parts = []
        for k, (name, label, role) in enumerate(
            (("sharpness", "λ_max", "train"), ("preconditioned_sharpness", "λ_max(P⁻¹H)", "eval"))
        ):
            data = history.downsample(name, n)
            if len(data.steps):
                color = self.color(role)
                picture.path(data.steps, data.lasts, color, pattern=2 * k, style="dim")
                picture.marks(data.steps, data.lasts, MARKS[k], color, label)
                parts.append(f"{label} {value_label(history.last(name))}")
        if parts and history.last("lr"):
            parts.append(f"2/lr {value_label(2.0 / history.last('lr'))}")
        if not parts:
            every = view.run.config.sharpness_every
            when = f"every {every} steps" if every else "once shown"
            parts = [f"sharpness λ_max: measured {when}"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, max(len(history), 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's λ_max in its colour and glyph pattern, its number at its end."""
        n = self.columns()
        end = 1
        for i, lane in enumerate(view.lanes):
            history = lane.run.history
            data = history.downsample("sharpness", n)
            if len(data.steps):
                color = self.lane_color(i)
                picture.path(data.steps, data.lasts, color, pattern=i)
                picture.marks(data.steps[-1:], data.lasts[-1:], str(i + 1), color)
            end = max(end, len(history))
        parts = ["sharpness λ_max", f"{len(view.lanes)} runs"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, end)
