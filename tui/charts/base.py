"""What every chart shares: the view it draws, the picture it describes, the widget.

A chart never redraws per step. `ChartPanel` (panel.py) asks the visible chart to `draw` a
`ChartView` on a timer, and only when what it would show changed (new steps, log toggle,
size, a reset). Each chart describes a `Picture` (layers of data, vertical lines, a title,
a legend); `RunChart.render_picture` lets plotext lay out the axes and rasterises the layers
into braille cells with NumPy (`braille.DotGrid`), so a frame costs the same at step 100 and
at step 1,000,000. Every private plotext call is in plotext_adapter.py.

Colours come from the Textual theme: each role (train, eval, lane-0 ...) is a component class
(`chart--train`) styled in app.tcss with the theme's variables, so light and dark themes both
read. Nothing relies on colour alone (NO_COLOR, 16 colours, monochrome themes): lanes differ by
line style (solid, dashed, dotted... `braille.PATTERNS`) and carry their number at the end of
their curve and in the legend; markers differ by glyph; what matters is bold over dim
backgrounds. Legends sit in the corner of the data area where they cover the least data.
Log scale is done here, not by plotext: values are plotted as log10 and the ticks are
labelled with the original numbers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from rich.color import Color
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual_plotext import PlotextPlot

from engine.textsafe import for_terminal
from tui.charts import plotext_adapter as adapter
from tui.charts.axes import (
    epoch_label,
    fit_title,
    log_ticks,
    nice_ticks,
    one_tick_per_row,
    step_label,
    tick_labels,
    to_plot,
    value_label,
)
from tui.charts.braille import DotGrid, Frame
from tui.charts.cells import look_of
from tui.charts.lanes import lane_marker
from tui.terminal import ascii_words

#: Data cells of one layer: rows (from the top of the data area), columns, characters, colour
#: and a style word ("", "bold", "dim").
Cells = tuple[np.ndarray, np.ndarray, list[str], Any, str]

#: Colour roles; each is the component class "chart--<role>" (styled in app.tcss).
ROLES = (
    "train", "eval", "schedule", "used", "grad", "update", "ratio",
    "contour", "path", "start", "minimum", "now", "ink", "note",
    "lane-0", "lane-1", "lane-2", "lane-3", "lane-4", "lane-5",
    # the Model tab (tui/charts/model/): classes, fitted vs true vs exact, right vs wrong
    "class-0", "class-1", "class-2", "class-3", "class-4", "class-5",
    "fit", "truth", "solution", "correct", "wrong",
)  # fmt: skip
LANE_ROLES = tuple(r for r in ROLES if r.startswith("lane-"))


@dataclass(frozen=True)
class ChartView:
    """What the charts show: a run and its planned length.

    `version` changes whenever the run's settings change (reset, new knobs) so cached
    previews and contours are rebuilt. `lanes` (objects with `.name`, `.run` and `.pinned`,
    such as `engine.session.LaneView`): when given, every lane is drawn in its own colour
    with a legend (a race, pinned overlays); `run` is then the lane whose task sets the path
    chart's view."""

    run: Any
    planned_steps: int
    version: int = 0
    lanes: tuple[Any, ...] = ()
    #: The lane the Model tab shows (an index into `lanes`) and the leading lane, if any.
    model_lane: int = 0
    leader_lane: int | None = None
    #: The steps a lesson's verdict measured, marked on the chart it watches
    #: (tui/charts/measured.py), or None.
    measured: Any = None


@dataclass
class Layer:
    """One thing drawn in the data area, in drawing order (later layers cover earlier)."""

    kind: str  # "band" (xs, lo, hi), "path" (xs, ys), "mask" (dot grid), "mark" (x, y, char),
    #            "marks" (xs, ys, char)
    color: Any
    data: tuple[Any, ...]
    label: str | None = None  # a legend entry
    pattern: int = 0  # line style (braille.PATTERNS)
    style: str = ""  # "bold" or "dim"
    glyph: str = "━"  # the legend's sample of this layer


@dataclass
class Picture:
    """What a chart wants drawn; `RunChart.render_picture` turns it into a plotext figure."""

    title: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    vlines: list[tuple[float, Any]] = field(default_factory=list)
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] | None = None  # None: fit the data
    log_y: bool = False
    step_axis: bool = True  # x ticks as step numbers (0, 500, 1k) rather than values
    #: > 0: the step ticks also say the epoch ("300 3ep"): updates per epoch of the task.
    steps_per_epoch: int = 0
    note: str = ""  # shown at the bottom of the data area, wrapped (e.g. plateau's preview)
    note_color: Any = None
    #: Lanes' legend, packed into as few rows as fit at the top: (name, colour, pinned).
    legend: list[tuple[str, Any, bool]] = field(default_factory=list)
    #: No colour on screen (NO_COLOR): each lane's lines carry its marker (`lane_marker`).
    plain: bool = False

    def band(
        self, xs: Any, lo: Any, hi: Any, color: Any, label: str | None = None, **how: Any
    ) -> None:
        lo = to_plot(np.asarray(lo, np.float64), self.log_y)
        hi = to_plot(np.asarray(hi, np.float64), self.log_y)
        data = (np.asarray(xs, np.float64), lo, hi)
        self.layers.append(Layer("band", color, data, label, **how))

    def path(self, xs: Any, ys: Any, color: Any, label: str | None = None, **how: Any) -> None:
        ys = to_plot(np.asarray(ys, np.float64), self.log_y)
        self.layers.append(Layer("path", color, (np.asarray(xs, np.float64), ys), label, **how))

    def mark(self, x: float, y: float, char: str, color: Any, style: str = "bold") -> None:
        self.layers.append(Layer("mark", color, (float(x), float(y), char), style=style))

    def marks(
        self, xs: Any, ys: Any, char: str, color: Any, label: str | None = None, style: str = "bold"
    ) -> None:
        """One `char` at each point (sparse values such as evaluations: not a line)."""
        ys = to_plot(np.asarray(ys, np.float64), self.log_y)
        data = (np.asarray(xs, np.float64), ys, char)
        self.layers.append(Layer("marks", color, data, label, style=style, glyph=char))

    def y_extent(self, x_window: tuple[float, float] | None = None) -> tuple[float, float] | None:
        """The data's [low, high] (inside `x_window` when given)."""
        lows, highs = [], []
        for layer in self.layers:
            if layer.kind in ("band", "path", "marks"):
                if layer.kind == "band":
                    xs, lo, hi = layer.data
                else:
                    xs, lo, hi = layer.data[0], layer.data[1], layer.data[1]
                ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(xs)
                if x_window is not None:
                    ok &= (xs >= x_window[0]) & (xs <= x_window[1])
                if ok.any():
                    lows.append(float(lo[ok].min()))
                    highs.append(float(hi[ok].max()))
        if not lows:
            return None
        return min(lows), max(highs)


#: Six lane colours on a dark background and on a light one: Okabe and Ito's colour-blind
#: safe hues (sky blue, orange, bluish green, vermillion, reddish purple, yellow), lightened
#: for dark themes and darkened for light ones. Fixed rather than the theme's variables:
#: a theme has five hues at most (textual-dark's accent is its warning orange, its primary and
#: secondary are both blue), and the text colour is no lane's. Each is far from the others and
#: from the theme's text and background (tests/tui/test_race_charts.py measures it).
LANE_PALETTES: dict[str, tuple[str, ...]] = {
    "dark": ("#56B4E9", "#E69F00", "#2EC27E", "#FF6B57", "#D58FC8", "#F0E442"),
    "light": ("#0060A8", "#B86E00", "#00805C", "#C8321E", "#94307F", "#6E6A00"),
}


#: Without colour, a lane's digit or letter is written along its curve every this many
#: columns (each lane shifted, so two lanes' marks do not fall on one column).
MARKER_SPACING = 12


def _lane_css() -> str:
    rules = []
    for mode, colors in LANE_PALETTES.items():
        for i, color in enumerate(colors):
            rules.append(f"RunChart:{mode} > .chart--lane-{i} {{ color: {color}; }}")
    return "\n".join(rules)


def value_at(history: Any, name: str, step: int) -> float | None:
    """Series `name`'s value at `step` as the history keeps it: the value recorded there, or
    the last of the bucket holding it once steps are merged; None where it has none (an
    evaluation series between evaluations)."""
    try:
        found = history.downsample(name, 1, start=step, end=step)
    except (KeyError, ValueError):
        return None
    if not len(found.steps):
        return None
    if history.width(name) == 1 and int(found.steps[0]) != step:
        return None  # a sparse series (evaluations) not measured at this step
    return float(found.lasts[0])


def legend_name(index: int, lane: Any, pins: bool) -> str:
    """A lane's legend entry: its number and name; with pins, the live run's rate too (what
    the pins are compared with, and what `lr` edits)."""
    name = f"{index + 1} {lane.name}"
    if pins and not getattr(lane, "pinned", False):
        lr = lane.run.history.last("lr")
        if lr is None:
            lr = getattr(lane.run.optimizer, "lr", None)
        if lr is not None:
            name += f" lr {value_label(lr)}"
    return name


class RunChart(PlotextPlot):
    """A chart drawn from a `ChartView` on request; remembers what it last drew.

    The cursor (the app's `i`): a vertical line at a step and a readout of every series or
    lane there; the chart takes the focus while it is on, so its keys are its own: ←/→ a
    step, shift+←/→ a tenth of the steps shown, `z` zooms to a window around it, `Z` back,
    `i` or escape leaves. A chart that reads a series per step names them in
    `cursor_series` (the others have no cursor)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"chart--{role}" for role in ROLES}
    BINDINGS: ClassVar[list[Any]] = [
        Binding("left", "move_cursor(-1)", "Step back", show=False),
        Binding("right", "move_cursor(1)", "Step on", show=False),
        Binding("shift+left", "jump_cursor(-1)", "10% back", show=False),
        Binding("shift+right", "jump_cursor(1)", "10% on", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("Z", "unzoom", "Unzoom", show=False),
        Binding("escape,i", "leave_cursor", "Leave cursor", show=False),
    ]
    #: The zoom window is this share of the steps shown (at least ZOOM_MIN_STEPS).
    ZOOM_SHARE = 0.2
    ZOOM_MIN_STEPS = 10
    # Lane colours (the other roles' are in app.tcss, from the theme's variables).
    DEFAULT_CSS: ClassVar[str] = _lane_css()

    #: Whether the y axis starts on a log scale (`l` toggles it per chart).
    LOG_Y_DEFAULT = False
    #: Why a chart that shows no series over steps has no cursor (the `i` key says it).
    NO_CURSOR: ClassVar[str] = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.log_y = self.LOG_Y_DEFAULT
        self.drawn_key: tuple[Any, ...] | None = None
        self.frame: Frame | None = None  # the data area of the last frame
        self._frame_number = 0  # bumps with every draw(): the cached strips are stale
        self._strips: list[Strip] = []
        self._strips_key: tuple[Any, ...] | None = None
        self._rows: list[adapter.Row] = []  # the last strips and what they were made from
        self.cells: list[Cells] = []  # rasterised data: (rows from top, cols, chars, colour)
        self._origin = (0, 0)
        self._figure = adapter.new_plot()
        self._colors: dict[str, Color | None] = {}
        self.cursor: int | None = None  # the cursor's step, None when off
        self.zoom: tuple[float, float] | None = None  # the x window shown, None: all
        self.last_view: ChartView | None = None
        self._steps_shown = (0.0, 1.0)  # the x range of the last frame, before zooming
        self._step_axis = True  # the last frame's x axis was steps

    # -- the cursor and zoom ------------------------------------------------------------

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        """(history series, label) the cursor reads, for one run; for a race the first
        series is read per lane. Empty: this chart has no cursor."""
        return []

    def cursor_readout(self, view: ChartView, step: int) -> str:
        """The readout at `step`: the step and each series' (or each lane's) value."""
        series = self.cursor_series(view)
        parts = [f"step {step:,}"]
        if view.lanes:
            name = series[0][0]
            for i, lane in enumerate(view.lanes):
                value = value_at(lane.run.history, name, step)
                parts.append(f"{lane_marker(i)} {lane.name} {value_label(value)}")
        else:
            for name, label in series:
                value = value_at(view.run.history, name, step)
                if value is not None:
                    parts.append(f"{label} {value_label(value)}")
        return " · ".join(parts)

    def cursor_stops(self, view: ChartView) -> np.ndarray | None:
        """The steps the cursor stops at when the chart's values are recorded only at some
        steps (sharpness every 10, the State tab's α every 16): sorted, or None when every
        step has its values. An empty array: nothing recorded yet (no cursor)."""
        return None

    def cursor_end(self, view: ChartView) -> int:
        """The last step the cursor can reach."""
        stops = self.cursor_stops(view)
        if stops is not None:
            return int(stops[-1]) if len(stops) else 0
        runs = [lane.run for lane in view.lanes] or [view.run]
        return max(len(run.history) for run in runs)

    def _snap(self, view: ChartView, step: int, direction: int, away: int | None = None) -> int:
        """`step` moved onto a recorded step (`cursor_stops`): the nearest one at or after it
        (`direction` 1) or at or before it (-1), and one stop further when that is `away`
        (the step the cursor leaves)."""
        stops = self.cursor_stops(view)
        if stops is None or not len(stops):
            return step
        side = "left" if direction > 0 else "right"
        k = int(np.searchsorted(stops, step, side=side)) - (direction <= 0)
        k = min(max(k, 0), len(stops) - 1)
        if away is not None and int(stops[k]) == away:
            k = min(max(k + direction, 0), len(stops) - 1)
        return int(stops[k])

    def why_no_cursor(self) -> str:
        """What `i` says when `start_cursor` declines."""
        if self.NO_CURSOR:
            return f"no cursor on this tab: {self.NO_CURSOR}"
        view = self.last_view
        if view is not None and self.cursor_series(view):
            return "no cursor yet: nothing recorded on this chart"
        return "this chart has no cursor"

    def start_cursor(self) -> bool:
        """Put the cursor on the last step and take the keys; False when this chart has no
        cursor (or nothing drawn yet)."""
        view = self.last_view
        if view is None or not self.cursor_series(view):
            return False
        stops = self.cursor_stops(view)
        if stops is not None and not len(stops):
            return False
        self.cursor = self.cursor_end(view)
        self.can_focus = True
        self.focus()
        self.redraw()
        return True

    def action_leave_cursor(self) -> None:
        self.cursor = None
        self.can_focus = False
        self.screen.set_focus(None)
        self.redraw()

    def on_blur(self) -> None:
        if self.cursor is not None:  # another tab, a dialog, the form: the cursor goes
            self.cursor = None
            self.can_focus = False
            self.redraw()

    def action_move_cursor(self, steps: int) -> None:
        if self.cursor is None or self.last_view is None:
            return
        step = min(max(self.cursor + steps, 0), self.cursor_end(self.last_view))
        self.cursor = self._snap(self.last_view, step, 1 if steps > 0 else -1, self.cursor)
        self.redraw()

    def action_jump_cursor(self, direction: int) -> None:
        if self.last_view is None:
            return
        x0, x1 = self.zoom or self._steps_shown
        if not self._step_axis:  # e.g. Path: x is a coordinate, not a step
            x0, x1 = 0, self.cursor_end(self.last_view)
        self.action_move_cursor(direction * max(round((x1 - x0) / 10), 1))

    def action_zoom(self) -> None:
        """A window of ZOOM_SHARE of the steps shown, centred on the cursor."""
        if self.cursor is None:
            return
        x0, x1 = self.zoom or self._steps_shown
        half = max((x1 - x0) * self.ZOOM_SHARE, self.ZOOM_MIN_STEPS) / 2
        lo, hi = self._steps_shown
        start = min(max(self.cursor - half, lo), max(hi - 2 * half, lo))
        self.zoom = (start, min(start + 2 * half, hi))
        self.redraw()

    def action_unzoom(self) -> None:
        self.zoom = None
        self.redraw()

    def redraw(self) -> None:
        """Draw the last view again now (the cursor or zoom changed)."""
        if self.last_view is not None and self.size.area:
            self.draw(self.last_view)

    # -- colours ------------------------------------------------------------------------

    def color(self, role: str) -> Color | None:
        """The theme's colour for `role` ("train", "lane-2", ...), remembered until the styles
        change (a lookup costs ~0.2 ms, a race's frame asks for a dozen, and Textual forgets
        its own cache of them at every refresh)."""
        if role not in self._colors:
            self._colors[role] = self.get_component_rich_style(f"chart--{role}").color
        return self._colors[role]

    def notify_style_update(self) -> None:
        """The styles changed (a new theme, CSS reloaded): look the colours up again."""
        self._colors = {}
        super().notify_style_update()

    def lane_color(self, index: int) -> Color | None:
        return self.color(LANE_ROLES[index % len(LANE_ROLES)])

    # -- rendering ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line API: rows of the plot, built from plotext's cell matrix once per frame."""
        key = (self._frame_number, self.size, self.app.theme)
        if key != self._strips_key:
            self._strips = self.build_strips()
            self._strips_key = key
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def build_strips(self, reuse: bool = True) -> list[Strip]:
        """The figure at the widget's size and theme, as one Strip per row (with `reuse`, a
        row the last build made alike is the same Strip object)."""
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return []
        matrix = adapter.build_matrix(self, self._figure, width, height)
        if self.frame is not None and self.cells:
            adapter.paint(matrix, self.cells, self._origin, (self.frame.cols, self.frame.rows))
        strips, self._rows = adapter.matrix_strips(matrix, width, self._rows if reuse else [])
        return strips

    def show_frame(self) -> None:
        """Build the strips of the frame just drawn and repaint only the rows that changed
        (a chart whose curve grew by a few cells repaints those rows, not all forty)."""
        self._frame_number += 1
        if not self.size.area:
            self.refresh()
            return
        key = self._strips_key  # the strips on screen: the last frame's at this size
        old = self._strips if key is not None and key[1:] == (self.size, self.app.theme) else None
        self._strips = self.build_strips()
        self._strips_key = (self._frame_number, self.size, self.app.theme)
        if old is None or len(old) != len(self._strips):
            self.refresh()
            return
        width = self.size.width
        changed = [
            Region(0, y, width, 1)
            for y, (before, now) in enumerate(zip(old, self._strips, strict=True))
            if before is not now
        ]
        if changed:
            self.refresh(*changed)

    def columns(self) -> int:
        """About how many cells wide the data area is (before the tick labels are known)."""
        return max(self.size.width - 8, 8)

    def data_key(self, view: ChartView) -> tuple[Any, ...]:
        """What a frame shows: the view's runs and their progress (`view_key`), the size,
        the cursor and zoom."""
        return (*self.view_key(view), self.size.width, self.size.height, self.cursor, self.zoom)

    def view_key(self, view: ChartView) -> tuple[Any, ...]:
        """What a frame shows of `view`, whatever the chart's size."""
        run = view.run
        key: tuple[Any, ...] = (
            id(run),
            view.version,
            len(run.history),
            run.state,
            self.log_y,
            view.planned_steps,
            self.app.theme,
            view.measured,
        )
        if view.lanes:  # every lane's progress
            key += (
                tuple(
                    (id(lane.run), lane.name, len(lane.run.history), lane.run.state)
                    for lane in view.lanes
                ),
            )
        return key

    def draw(self, view: ChartView) -> None:
        """Rebuild the plot from the view and schedule a render."""
        self.last_view = view
        picture = Picture(log_y=self.log_y, note_color=self.color("note"))
        picture.plain = not look_of(self.app).colors
        if view.lanes:
            pins = any(getattr(lane, "pinned", False) for lane in view.lanes)
            picture.legend = [
                (
                    legend_name(i, lane, pins),
                    self.lane_color(i),
                    bool(getattr(lane, "pinned", False)),
                )
                for i, lane in enumerate(view.lanes)
            ]
            self.lanes_picture(view, picture)
        else:
            self.picture(view, picture)
        if self.cursor is not None:
            self.cursor = self._snap(view, min(self.cursor, self.cursor_end(view)), -1)
            self.show_cursor(view, picture, self.cursor)
        self.render_picture(picture)
        self.drawn_key = self.data_key(view)
        self.show_frame()

    def show_cursor(self, view: ChartView, picture: Picture, step: int) -> None:
        """The cursor's line at `step` and its readout (above any note of the chart)."""
        picture.vlines.append((step, self.color("ink")))
        readout = self.cursor_readout(view, step)
        picture.note = f"{readout}\n{picture.note}" if picture.note else readout

    def picture(self, view: ChartView, picture: Picture) -> None:
        """Describe what to draw for one run (subclasses)."""
        raise NotImplementedError

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Describe what to draw for several lanes, one colour each (subclasses)."""
        raise NotImplementedError

    def render_picture(self, picture: Picture) -> None:
        """Lay out ticks, compute the data area as plotext will, rasterise the layers.

        plotext gets the axes, ticks, title and vertical lines; the data itself is kept as
        cells (`self.cells`) and painted into plotext's matrix after it is built, so plotext
        never walks the data point by point."""
        if getattr(self.app, "ascii_only", False):  # α -> alpha, before the title is fitted
            picture.title = [ascii_words(part) for part in picture.title]
            picture.legend = [(ascii_words(n), c, p) for n, c, p in picture.legend]
        adapter.discard(self._figure)
        self._figure = plt = adapter.new_plot()
        self.cells = []
        width, height = self.size.width, self.size.height
        self._step_axis = picture.step_axis
        if picture.step_axis:
            self._steps_shown = picture.x_range
            if self.zoom is not None:
                picture.x_range = self.zoom
                # second: a narrow title keeps its leading parts only, and this one matters
                zoom = f"zoom {step_label(self.zoom[0])}-{step_label(self.zoom[1])}"
                picture.title.insert(1, zoom)
        x0, x1 = picture.x_range
        x1 = max(x1, x0 + 1e-12)
        if picture.y_range is not None:
            y0, y1 = picture.y_range
        else:
            extent = picture.y_extent((x0, x1) if self.zoom is not None else None)
            if extent is None:  # nothing to show yet: a frame and the title
                self.frame = None
                plt.title(fit_title(picture.title, width - 4))
                return
            y0, y1 = extent
            if y1 - y0 < 1e-12 * max(1.0, abs(y1)):
                pad = 0.5 if picture.log_y else max(abs(y1) * 0.1, 1e-12)
                y0, y1 = y0 - pad, y1 + pad
        xt = nice_ticks(x0, x1, 5 if width >= 60 else 3)
        x_labels = [step_label(t) for t in xt] if picture.step_axis else tick_labels(xt)
        if picture.step_axis and picture.steps_per_epoch > 0:
            x_labels = [
                f"{label} {epoch_label(t / picture.steps_per_epoch)}ep"
                for label, t in zip(x_labels, xt, strict=True)
            ]
        if picture.log_y:
            yt, y_labels = log_ticks(y0, y1)
        else:
            yt = nice_ticks(y0, y1, 5 if height >= 16 else 3)
            y_labels = tick_labels(yt)
        yt, y_labels = one_tick_per_row(yt, y_labels, y0, y1, height - 4)
        label_width = max((len(label) for label in y_labels), default=0)
        # plotext's layout: tick labels, then the frame, left and right; from the bottom a row
        # of x tick labels, the frame, the data area, the frame, the title.
        frame = Frame(width - 2 - label_width, height - 4, x0, x1, y0, y1)
        self.frame = frame
        self._origin = (label_width + 1, 2)  # data area's (column, row from the bottom)
        plt.xlim(x0, x1)
        plt.ylim(y0, y1)
        plt.xticks(xt, x_labels)
        if yt:
            plt.yticks(yt, y_labels)
        plt.title(fit_title(picture.title, frame.cols))
        for x, color in picture.vlines:
            if x0 <= x <= x1:
                plt.vline(x, _plotext_color(color))
        # plotext draws the axes only when a series uses them: one blank point.
        plt.scatter([x0], [y0], marker=" ")
        if frame.usable:
            self.cells = self._rasterise(picture, frame)

    def _rasterise(self, picture: Picture, frame: Frame) -> list[Cells]:
        out: list[Cells] = []
        occupied = np.zeros((frame.rows, frame.cols), bool)
        entries: list[tuple[str, Any]] = []
        # Without colour, a lane's lines are known by their colour (each lane has its own)
        # and marked with its digit or letter.
        lane_of = {}
        if picture.plain:
            lane_of = {color: i for i, (_, color, _) in enumerate(picture.legend)}
            if len(lane_of) != len(picture.legend):
                lane_of = {}
        # Each lane's markers go over every layer: a lane drawn under the others (three
        # lanes ending on one bottom row) still shows its digit.
        markers: list[Cells] = []
        for layer in picture.layers:
            if layer.kind in ("mark", "marks"):
                xs, ys, char = layer.data
                c, r = frame.cells_of(np.atleast_1d(xs), np.atleast_1d(ys))
                keep = (c >= 0) & (c < frame.cols) & (r >= 0) & (r < frame.rows)
                rows, cols = np.divmod(np.unique(r[keep] * frame.cols + c[keep]), frame.cols)
                out.append((rows, cols, [char] * len(rows), layer.color, layer.style))
            else:
                grid = DotGrid(frame)
                if layer.kind == "band":
                    grid.band(*layer.data)
                elif layer.kind == "path":
                    grid.polyline(*layer.data)
                else:
                    grid.add_mask(layer.data[0])
                grid.dash(layer.pattern)
                rows, cols, chars = grid.cells()
                lane = lane_of.get(layer.color) if layer.kind != "mask" else None
                if lane is not None:
                    markers.append(_lane_marks(rows, cols, lane, layer.color, layer.style))
                out.append((rows, cols, chars, layer.color, layer.style))
            if layer.kind != "mask":  # a backdrop (contours) may lie under the legend
                occupied[rows, cols] = True
            if layer.label:
                entries.append((f"{layer.glyph} {layer.label}", layer.color))
        out.extend(markers)
        for name, color, pinned in picture.legend:
            entries.append((f"{for_terminal(name)}{' (pinned)' if pinned else ''}", color))
        note_rows = 0
        lines = [
            line
            for part in picture.note.splitlines()
            for line in textwrap.wrap(part, max(frame.cols - 1, 8))
        ][: max(frame.rows - 1, 0)]
        for i, line in enumerate(lines):
            row = frame.rows - len(lines) + i
            cells = (np.full(len(line), row), np.arange(len(line)), list(line))
            out.append((*cells, picture.note_color, "dim"))
            occupied[row, : len(line)] = True
            note_rows += 1
        if entries:
            out.extend(self._legend(entries, frame, occupied, note_rows))
        return out

    @staticmethod
    def _legend(
        entries: list[tuple[str, Any]], frame: Frame, occupied: np.ndarray, note_rows: int = 0
    ) -> list[Cells]:
        """The legend, packed into as few rows as fit (at most half the data area), in the
        corner where it covers the fewest data cells, never over the note (the bottom
        `note_rows`) when a top corner is free of it. Its whole box is painted, so no data
        runs between its words."""
        rows: list[list[tuple[str, Any]]] = [[]]
        width = 0
        for text, color in entries:
            text = text[: frame.cols]
            used = sum(len(t) + 2 for t, _ in rows[-1])
            if rows[-1] and used + len(text) > frame.cols:
                rows.append([])
                used = 0
            rows[-1].append((text, color))
            width = max(width, used + len(text))
        rows = rows[: max(1, frame.rows // 2)]
        height = len(rows)
        corners = [(0, 0), (0, frame.cols - width), (frame.rows - height, 0),
                   (frame.rows - height, frame.cols - width)]  # fmt: skip

        def covered(corner: tuple[int, int]) -> int:
            r, c = corner
            over_note = r + height > frame.rows - note_rows
            return int(occupied[r : r + height, c : c + width].sum()) + over_note * occupied.size

        top, left = min(corners, key=covered)
        out: list[Cells] = []
        for i, row in enumerate(rows):
            col = left
            blank = list(" " * width)
            out.append((np.full(width, top + i), left + np.arange(width), blank, None, ""))
            for text, color in row:
                cols = col + np.arange(len(text))
                out.append((np.full(len(text), top + i), cols, list(text), color, "bold"))
                col += len(text) + 2
        return out


def _lane_marks(rows: np.ndarray, cols: np.ndarray, lane: int, color: Any, style: str) -> Cells:
    """Lane `lane`'s marker on one of its cells about every MARKER_SPACING columns; lanes
    start at different columns, so two lanes' marks rarely coincide."""
    marker = lane_marker(lane)
    due = (2 * lane) % MARKER_SPACING
    picked = []
    for k in np.lexsort((rows, cols)).tolist():
        if cols[k] >= due:
            picked.append(k)
            due = int(cols[k]) + MARKER_SPACING
    return rows[picked], cols[picked], [marker] * len(picked), color, style


def _plotext_color(color: Any) -> Any:
    """A colour as plotext's vline takes it: an RGB triple (or "default")."""
    if isinstance(color, Color):
        return tuple(color.get_truecolor())
    return color if color is not None else "default"
