"""The Norms chart: gradient norm, update norm and their ratio ‖Δθ‖/‖g‖ per step.

The ratio is how far the parameters moved per unit of gradient: the lr for plain SGD, but
with momentum or per-coordinate scaling it mixes past gradients and per-parameter rates in,
so it is not a learning rate (the State tab shows the optimizer's per-parameter rates).

A race (or a run with pins) draws one series per lane, one series at a time: the gradient
norm, the update norm or the ratio (`u` cycles them; a lesson's `[watch] series` opens the
one it measures)."""

from __future__ import annotations

from tui.charts.axes import value_label
from tui.charts.base import ChartView, Picture, RunChart
from tui.charts.measured import draw as draw_measured


class NormsChart(RunChart):
    """Gradient norm, update norm and their ratio per step (log y: they span orders of
    magnitude)."""

    LOG_Y_DEFAULT = True
    SERIES = (
        ("grad_norm", "grad", "grad"),
        ("update_norm", "update", "update"),
        ("update_grad_ratio", "‖Δθ‖/‖g‖", "ratio"),
    )

    #: The series a race's lanes show, one at a time: (history series, title, lesson name).
    LANE_SERIES = (
        ("grad_norm", "gradient norm", "grad"),
        ("update_norm", "update norm", "update"),
        ("update_grad_ratio", "‖Δθ‖/‖g‖", "ratio"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lane_series = 0  # an index into LANE_SERIES

    def show_series(self, name: str) -> None:
        """Show `name` ("grad", "update", "ratio": a lesson's `[watch] series`) per lane."""
        self.lane_series = [short for _, _, short in self.LANE_SERIES].index(name)

    def next_series(self) -> str:
        """The next series per lane (wrapping around); its title."""
        self.lane_series = (self.lane_series + 1) % len(self.LANE_SERIES)
        return self.LANE_SERIES[self.lane_series][1]

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        if view.lanes:
            name, title, _ = self.LANE_SERIES[self.lane_series]
            return [(name, title)]
        return [(name, label) for name, label, _ in self.SERIES]

    def view_key(self, view: ChartView) -> tuple:
        return (*super().view_key(view), self.lane_series)

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
        measured = draw_measured(self, view, "norms", picture)
        if measured:
            parts.insert(1, measured)
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, max(len(history), 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """One series per lane, the one chosen (three series times six lanes would be
        unreadable; the single-run view shows all three)."""
        n = 2 * self.columns()
        end = 1
        series, title, short = self.LANE_SERIES[self.lane_series]
        for i, lane in enumerate(view.lanes):
            history = lane.run.history
            data = history.downsample(series, n)
            if len(data.steps):
                color = self.lane_color(i)
                picture.band(data.steps, data.mins, data.maxs, color, pattern=i)
                picture.marks(data.steps[-1:], data.lasts[-1:], str(i + 1), color)
            end = max(end, len(history))
        parts = [title, f"{len(view.lanes)} runs"]
        measured = draw_measured(self, view, f"norms:{short}", picture)
        if measured:
            parts.insert(1, measured)
        if picture.log_y:
            parts.append("log")
        parts.append("u: next series")
        picture.title = parts
        picture.x_range = (0, end)
