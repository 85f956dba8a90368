"""The Norms chart: gradient norm, update norm and their ratio ‖Δθ‖/‖g‖ per step.

The ratio is how far the parameters moved per unit of gradient: the lr for plain SGD, but
with momentum or per-coordinate scaling it mixes past gradients and per-parameter rates in,
so it is not a learning rate (the State tab shows the optimizer's per-parameter rates)."""

from __future__ import annotations

from tui.charts.axes import value_label
from tui.charts.base import ChartView, Picture, RunChart


class NormsChart(RunChart):
    """Gradient norm, update norm and their ratio per step (log y: they span orders of
    magnitude)."""

    LOG_Y_DEFAULT = True
    SERIES = (
        ("grad_norm", "grad", "grad"),
        ("update_norm", "update", "update"),
        ("update_grad_ratio", "‖Δθ‖/‖g‖", "ratio"),
    )

    def picture(self, view: ChartView, picture: Picture) -> None:
        history = view.run.history
        n = 2 * self.columns()
        parts = []
        for k, (name, label, role) in enumerate(self.SERIES):
            data = history.downsample(name, n)
            if len(data.steps):
                picture.band(data.steps, data.mins, data.maxs, self.color(role), label, pattern=k,
                             glyph=("━", "╍", "┅")[k])  # fmt: skip
                parts.append(f"{label} {value_label(history.last(name))}")
        if not parts:
            parts = ["gradient norm · update norm · ‖Δθ‖/‖g‖"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, max(len(history), 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """One series per lane: the gradient norm (three series times six lanes would be
        unreadable; the single-run view shows all three)."""
        n = 2 * self.columns()
        end = 1
        for i, lane in enumerate(view.lanes):
            history = lane.run.history
            data = history.downsample("grad_norm", n)
            if len(data.steps):
                color = self.lane_color(i)
                picture.band(data.steps, data.mins, data.maxs, color, pattern=i)
                picture.marks(data.steps[-1:], data.lasts[-1:], str(i + 1), color)
            end = max(end, len(history))
        parts = ["gradient norm", f"{len(view.lanes)} runs"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, end)
