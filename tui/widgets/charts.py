"""Live charts of a run, drawn with plotext through textual-plotext.

Charts never redraw per step. `ChartPanel` runs one timer (15 Hz) and redraws only the chart
in the visible tab, and only when what it would show changed (new steps, log toggle, size,
a reset). Every chart reads a bounded, downsampled view of the run's `History` (two buckets
per column, min and max per bucket so spikes stay visible), and its data is rasterised into
braille cells by `braille.DotGrid` before plotext sees it, so a frame costs the same at step
100 and at step 1,000,000 (see tests/perf/bench_tui.py).

plotext draws the frame, ticks, title and lines; the data area's size is computed here the
way plotext lays it out (`RunChart.frame`), so the cells line up with plotext's ticks.

Log scale is done here, not by plotext: values are plotted as log10 and the ticks are
labelled with the original numbers (plotext's own log axis re-applies itself on every build).

Several runs at once (a race, pinned overlays): a `ChartView` with `lanes` draws every lane in
its own colour (`lane_color`, one palette for dark and one for light themes) with a legend
line at the top of the data area. Each lane is downsampled to the same two points per column,
so a frame's cost grows with the number of lanes (at most 6), never with the runs' lengths
(tests/perf/bench_tui.py: 6 lanes cost about 1.5x one run; plotext's frame dominates).
"""

from __future__ import annotations

import functools
import itertools
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.widgets import TabbedContent, TabPane
from textual_plotext import Plot, PlotextPlot
from textual_plotext.plot import _rgbify

from tui.widgets.braille import DotGrid, Frame

Color = tuple[int, int, int]
#: Data cells of one layer: rows (from the top of the data area), columns, characters, colour.
Cells = tuple[np.ndarray, np.ndarray, list[str], Color]

# Colours that read on dark and light themes alike (from textual-plotext's own sequence).
BLUE: Color = (0, 130, 200)
GREEN: Color = (60, 180, 75)
RED: Color = (230, 25, 75)
ORANGE: Color = (245, 130, 48)
PURPLE: Color = (145, 30, 180)
GRAY: Color = (128, 128, 128)

#: Lane colours of the shared charts (racers, overlays), in lane order: distinct hues that keep
#: their contrast on a dark background (lighter shades) and on a light one (darker shades).
LANE_COLORS_DARK: tuple[Color, ...] = (
    (66, 165, 245),  # blue
    (255, 152, 0),  # orange
    (102, 187, 106),  # green
    (239, 83, 80),  # red
    (186, 104, 200),  # purple
    (38, 198, 218),  # cyan
)
LANE_COLORS_LIGHT: tuple[Color, ...] = (
    (21, 101, 192),
    (230, 81, 0),
    (46, 125, 50),
    (198, 40, 40),
    (106, 27, 154),
    (0, 131, 143),
)
#: Marks that belong to no lane (start, minimum) on the path chart.
INK_DARK: Color = (224, 224, 224)
INK_LIGHT: Color = (40, 40, 40)


def lane_color(index: int, dark: bool = True) -> Color:
    """The colour of lane `index` (0-based) on a dark or light theme."""
    palette = LANE_COLORS_DARK if dark else LANE_COLORS_LIGHT
    return palette[index % len(palette)]


REFRESH_HZ = 10
#: Previews up to this many steps use the schedule's exact `curve(n)`; longer ones sample lr().
EXACT_PREVIEW_STEPS = 2_000_000


@dataclass(frozen=True)
class ChartView:
    """What the charts show: a run and its planned length.

    `version` changes whenever the run's settings change (reset, new knobs) so cached
    previews and contours are rebuilt.

    `lanes` (objects with `.name`, `.run` and `.pinned`, e.g. `engine.compare.Lane`): when
    given, every lane is drawn in its own colour with a legend (a race, pinned overlays);
    `run` is then the lane whose task sets the path chart's view (the live run or racer 1).
    """

    run: Any
    planned_steps: int
    version: int = 0
    lanes: tuple[Any, ...] = ()


# -- axis helpers ----------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick positions (steps of 1, 2, 2.5 or 5 x 10^k) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    best: list[float] = []
    for m in (0.5, 1, 2, 2.5, 5, 10):
        step = m * mag
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        ticks = [0.0 if k == 0 else k * step for k in range(first, last + 1)]
        closer = not best or abs(len(ticks) - count) < abs(len(best) - count)
        if len(ticks) <= count + 1 and closer:
            best = ticks
    return best


def step_label(x: float) -> str:
    """Step numbers on the x axis: 0, 500, 1.5k, 20k, 1M."""
    x = round(x)
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(x) >= size:
            value = x / size
            return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    return str(x)


def value_label(x: float | None) -> str:
    """A value in a title: 4 significant digits (0.01234, 1.234e-05)."""
    if x is None:
        return "—"
    return f"{x:.4g}"


def _short_exp(text: str) -> str:
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for evenly spaced ticks, all in one format with just enough decimals."""
    if not ticks:
        return []
    biggest = max(abs(t) for t in ticks)
    spacing = min((b - a for a, b in itertools.pairwise(ticks)), default=biggest)
    spacing = spacing or biggest or 1.0
    decimals = max(0, -math.floor(math.log10(spacing) + 1e-9))
    if abs(round(spacing * 10**decimals) - spacing * 10**decimals) > 1e-6:
        decimals += 1  # steps like 0.25
    if biggest < 1e5 and decimals <= 4:
        return [f"{t:.{decimals}f}" for t in ticks]
    for digits in range(1, 6):  # exponent form with just enough digits to be exact
        labels = [f"{t:.{digits}e}" for t in ticks]
        pairs = zip(labels, ticks, strict=True)
        if all(abs(float(label) - t) <= 1e-9 * biggest for label, t in pairs):
            break
    return [_short_exp(label) if t else "0" for label, t in zip(labels, ticks, strict=True)]


def to_plot(values: np.ndarray, log_y: bool) -> np.ndarray:
    """Values as plotted: log10 on a log axis (non-positive values become NaN)."""
    if not log_y:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks inside [lo, hi] (log10 units) for a log axis, labelled with the values."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        step = math.ceil(len(decades) / 5)
        ticks = [float(d) for d in decades[::step]]
        return ticks, [_short_exp(f"{10**t:.0e}") for t in ticks]
    # Less than a decade in view: round values inside it.
    values = [v for v in nice_ticks(10**lo, 10**hi, 4) if v > 0]
    return [math.log10(v) for v in values], tick_labels(values)


# -- charts ----------------------------------------------------------------------------------


@dataclass
class Layer:
    """One thing drawn in the data area, in drawing order (later layers cover earlier)."""

    kind: str  # "band" (xs, lo, hi), "path" (xs, ys), "mask" (dot grid), "mark" (x, y, char)
    color: Color
    data: tuple[Any, ...]
    label: str | None = None


@dataclass
class Picture:
    """What a chart wants drawn; `RunChart.render_picture` turns it into a plotext figure."""

    title: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    vlines: list[tuple[float, Color]] = field(default_factory=list)
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] | None = None  # None: fit the data
    log_y: bool = False
    step_axis: bool = True  # x ticks as step numbers (0, 500, 1k) rather than values
    note: str = ""  # shown at the bottom of the data area, wrapped (e.g. plateau's preview)
    #: Lanes' legend, packed into as few rows as fit at the top: (name, colour, pinned).
    legend: list[tuple[str, Color, bool]] = field(default_factory=list)

    def band(self, xs: Any, lo: Any, hi: Any, color: Color, label: str | None = None) -> None:
        lo = to_plot(np.asarray(lo, np.float64), self.log_y)
        hi = to_plot(np.asarray(hi, np.float64), self.log_y)
        self.layers.append(Layer("band", color, (np.asarray(xs, np.float64), lo, hi), label))

    def path(self, xs: Any, ys: Any, color: Color, label: str | None = None) -> None:
        data = (np.asarray(xs, np.float64), np.asarray(ys, np.float64))
        self.layers.append(Layer("path", color, data, label))

    def mark(self, x: float, y: float, char: str, color: Color) -> None:
        self.layers.append(Layer("mark", color, (float(x), float(y), char)))

    def y_extent(self) -> tuple[float, float] | None:
        lows, highs = [], []
        for layer in self.layers:
            if layer.kind == "band":
                _, lo, hi = layer.data
                ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(layer.data[0])
                if ok.any():
                    lows.append(float(lo[ok].min()))
                    highs.append(float(hi[ok].max()))
        if not lows:
            return None
        return min(lows), max(highs)


class RunChart(PlotextPlot):
    """A chart drawn from a `ChartView` on request; remembers what it last drew."""

    #: Whether the y axis starts on a log scale (`l` toggles it per chart).
    LOG_Y_DEFAULT = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.log_y = self.LOG_Y_DEFAULT
        self.drawn_key: tuple[Any, ...] | None = None
        self.frame: Frame | None = None  # the data area of the last frame
        self._frame_number = 0  # bumps with every draw(): the cached strips are stale
        self._strips: list[Strip] = []
        self._strips_key: tuple[Any, ...] | None = None
        self.cells: list[Cells] = []  # rasterised data: (rows from top, cols, chars, colour)
        self._origin = (0, 0)

    def render_line(self, y: int) -> Strip:
        """Line API: rows of the plot, built from plotext's cell matrix once per frame.

        textual-plotext renders plotext's ANSI string and parses it back with
        `Text.from_ansi`; for a full chart that round trip costs more than the plot itself.
        Here the matrix becomes Strips of Segments directly (same sizing and theme)."""
        key = (self._frame_number, self.size, self.app.theme)
        if key != self._strips_key:
            self._strips = self.build_strips()
            self._strips_key = key
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def build_strips(self) -> list[Strip]:
        """Build the plotext figure at the widget's size and theme, as one Strip per row."""
        plot, width, height = self._plot, self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return []
        plot.plotsize(width, height)
        plot._set_size(width, height)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        plot._set_sizes()
        plot._build_matrix()
        self.paint_cells(plot.monitor.matrix)
        return matrix_strips(plot.monitor.matrix, width)

    def columns(self) -> int:
        """About how many cells wide the data area is (before the tick labels are known)."""
        return max(self.size.width - 8, 8)

    def data_key(self, view: ChartView) -> tuple[Any, ...]:
        run = view.run
        key: tuple[Any, ...] = (
            id(run),
            view.version,
            len(run.history),
            run.state,
            self.log_y,
            view.planned_steps,
            self.size.width,
            self.size.height,
        )
        if view.lanes:  # every lane's progress, and the theme (lane colours follow it)
            lanes = tuple(
                (id(lane.run), lane.name, len(lane.run.history), lane.run.state)
                for lane in view.lanes
            )
            key += (lanes, self.dark)
        return key

    @property
    def dark(self) -> bool:
        """Whether the app's theme is dark (lane colours are picked for the background)."""
        try:
            return bool(self.app.current_theme.dark)
        except Exception:  # not mounted yet: dark is the default theme
            return True

    def lane_color(self, index: int) -> Color:
        return lane_color(index, self.dark)

    def draw(self, view: ChartView) -> None:
        """Rebuild the plot from the view and schedule a render."""
        picture = Picture(log_y=self.log_y)
        if view.lanes:
            picture.legend = [
                (lane.name, self.lane_color(i), bool(getattr(lane, "pinned", False)))
                for i, lane in enumerate(view.lanes)
            ]
            self.lanes_picture(view, picture)
        else:
            self.picture(view, picture)
        self.render_picture(picture)
        self.drawn_key = self.data_key(view)
        self._frame_number += 1
        self.refresh()

    def picture(self, view: ChartView, picture: Picture) -> None:
        """Describe what to draw (subclasses)."""
        raise NotImplementedError

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Describe what to draw for several lanes, one colour each (subclasses)."""
        raise NotImplementedError

    def render_picture(self, picture: Picture) -> None:
        """Lay out ticks, compute the data area as plotext will, rasterise the layers.

        plotext gets the axes, ticks, title and vertical lines; the data itself is kept as
        cells (`self.cells`) and painted into plotext's matrix after it is built, so plotext
        never walks the data point by point."""
        # A fresh figure: plotext cannot put ticks and limits back to automatic.
        self._plot = plt = Plot()
        self.cells = []
        width, height = self.size.width, self.size.height
        x0, x1 = picture.x_range
        x1 = max(x1, x0 + 1e-12)
        if picture.y_range is not None:
            y0, y1 = picture.y_range
        else:
            extent = picture.y_extent()
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
        if picture.log_y:
            yt, y_labels = log_ticks(y0, y1)
        else:
            yt = nice_ticks(y0, y1, 5 if height >= 16 else 3)
            y_labels = tick_labels(yt)
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
                plt.vline(x, color)
        # plotext draws the axes only when a series uses them: one blank point.
        plt.scatter([x0], [y0], marker=" ")
        if frame.usable:
            self.cells = self._rasterise(picture, frame)

    def _rasterise(self, picture: Picture, frame: Frame) -> list[Cells]:
        out: list[Cells] = []
        legend = []
        for layer in picture.layers:
            if layer.kind == "mark":
                x, y, char = layer.data
                c, r = frame.cell_of(x, y)
                if 0 <= c < frame.cols and 0 <= r < frame.rows:
                    out.append((np.array([r]), np.array([c]), [char], layer.color))
                continue
            grid = DotGrid(frame)
            if layer.kind == "band":
                grid.band(*layer.data)
            elif layer.kind == "path":
                grid.polyline(*layer.data)
            else:
                grid.add_mask(layer.data[0])
            out.append((*grid.cells(), layer.color))
            if layer.label:
                legend.append((layer.label, layer.color))
        for i, (label, color) in enumerate(legend[: frame.rows]):
            # A small legend in the top-left corner, one row per labelled layer.
            chars = list(f"━ {label}"[: frame.cols])
            out.append((np.full(len(chars), i), np.arange(len(chars)), chars, color))
        legend_rows = len(legend)
        if picture.legend:
            legend_rows = self._legend_line(picture.legend, frame, out)
        lines = textwrap.wrap(picture.note, max(frame.cols - 1, 8))[: frame.rows - legend_rows]
        for i, line in enumerate(lines):
            row = frame.rows - len(lines) + i
            out.append((np.full(len(line), row), np.arange(len(line)), list(line), GRAY))
        return out

    @staticmethod
    def _legend_line(entries: list[tuple[str, Color, bool]], frame: Frame, out: list[Cells]) -> int:
        """Lanes' names packed left to right ("━ adam  ┅ pinned"), wrapping onto more rows
        only when they don't fit (at most half the data area); returns the rows used."""
        row, col = 0, 0
        max_rows = max(1, frame.rows // 2)
        for name, color, pinned in entries:
            text = f"{'┅' if pinned else '━'} {name}"[: frame.cols]
            if col and col + 2 + len(text) > frame.cols:
                row, col = row + 1, 0
                if row >= max_rows:
                    return row
            if col:
                text = "  " + text  # the gap is painted too: data never runs between names
            chars = list(text)
            out.append((np.full(len(chars), row), col + np.arange(len(chars)), chars, color))
            col += len(chars)
        return row + 1

    def paint_cells(self, matrix: Any) -> None:
        """Write the rasterised data into plotext's built matrix (rows stored bottom-up)."""
        frame = self.frame
        if frame is None or not self.cells:
            return
        col0, row0 = self._origin
        if row0 + frame.rows > matrix.rows or col0 + frame.cols > matrix.cols:
            return  # the widget was resized since the last draw; the next tick redraws
        markers, colors = matrix.marker, matrix.fullground
        top = row0 + frame.rows - 1
        for rows, cols, chars, color in self.cells:
            for r, c, char in zip(rows.tolist(), cols.tolist(), chars, strict=True):
                markers[top - r][col0 + c] = char
                colors[top - r][col0 + c] = color


_STYLE_WORDS = {"bold", "dim", "italic", "underline", "strike"}


@functools.lru_cache(maxsize=1024)
def _cell_style(fg: Any, style: Any, bg: Any) -> Style:
    """The Rich style of a plotext cell (colours as RGB tuples, 256-colour ints or names)."""

    def color(value: Any) -> RichColor | None:
        if value == "default" or value is None:
            return None
        if isinstance(value, tuple):
            return RichColor.from_rgb(*value)
        if isinstance(value, int):
            return RichColor.from_ansi(value)
        return color(_rgbify(value))

    words = set(str(style).split()) & _STYLE_WORDS if style != "default" else set()
    return Style(color=color(fg), bgcolor=color(bg), **{w: True for w in words})


def matrix_strips(matrix: Any, width: int) -> list[Strip]:
    """One Strip per row of a plotext matrix (stored bottom-up), one Segment per run."""
    strips = []
    for row in range(matrix.rows - 1, -1, -1):
        markers, fgs = matrix.marker[row], matrix.fullground[row]
        styles, bgs = matrix.style[row], matrix.background[row]
        segments = []
        start = 0
        key = (fgs[0], styles[0], bgs[0]) if matrix.cols else None
        for col in range(1, matrix.cols + 1):
            here = (fgs[col], styles[col], bgs[col]) if col < matrix.cols else None
            if here != key:
                segments.append(Segment("".join(markers[start:col]), _cell_style(*key)))
                start, key = col, here
        strips.append(Strip(segments, min(matrix.cols, width)).crop_extend(0, width, None))
    return strips


def fit_title(parts: list[str], room: int) -> str:
    """The leading parts that fit in `room` columns (plotext drops a wider title)."""
    room = max(room, 10)
    parts = parts or [""]
    title = parts[0][:room]
    for part in parts[1:]:
        if len(title) + 3 + len(part) > room:
            break
        title += " · " + part
    return title


class LossChart(RunChart):
    """Training loss as a min/max band per bucket, eval loss as a line, divergence marked."""

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history = run.history
        n = 2 * self.columns()
        train = history.downsample("loss", n)
        evals = history.downsample("eval_loss", n)
        step = len(history)
        if len(train.steps):
            picture.band(train.steps, train.mins, train.maxs, BLUE, "train")
            if len(evals.steps):
                picture.band(evals.steps, evals.lasts, evals.lasts, RED, "eval")
        parts = [f"loss {value_label(history.last('loss'))}" if step else "loss"]
        diverged_at = run.diverged_at
        if diverged_at is not None:
            parts.append(f"diverged at {diverged_at}")
            picture.vlines.append((diverged_at, RED))
        eval_loss = history.last("eval_loss")
        if eval_loss is not None:
            parts.append(f"eval {value_label(eval_loss)}")
        accuracy = history.last("eval_accuracy")
        if accuracy is not None:
            parts.append(f"acc {accuracy:.1%}")
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, max(step, diverged_at or 0, 1))

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's training loss (min/max band) in its colour; divergences marked."""
        n = 2 * self.columns()
        end = 1
        for i, lane in enumerate(view.lanes):
            run, color = lane.run, self.lane_color(i)
            train = run.history.downsample("loss", n)
            if len(train.steps):
                picture.band(train.steps, train.mins, train.maxs, color)
            if run.diverged_at is not None:
                picture.vlines.append((run.diverged_at, color))
            end = max(end, len(run.history), run.diverged_at or 0)
        step = max(len(lane.run.history) for lane in view.lanes)
        # No single run's loss here: the legend names the curves, the status line the leader.
        parts = ["loss", f"{len(view.lanes)} runs", f"step {step_label(step)}"]
        if picture.log_y:
            parts.append("log")
        if not step:
            parts.append("space starts")
        picture.title = parts
        picture.x_range = (0, end)


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
        self._preview_key: tuple[Any, ...] | None = None
        self._preview: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._lane_previews: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}

    def preview(self, view: ChartView, span: int, n: int) -> tuple[np.ndarray, ...]:
        """(x, min, max) of the lr of updates 1..span in at most n buckets.

        Cached per settings; a stateful schedule (plateau) is re-read every frame, by
        sampling lr() so the cost does not grow with the span.
        """
        schedule = view.run.schedule
        stateful = bool(getattr(schedule, "stateful", False))
        key = (id(schedule), view.version, span, n, len(view.run.history) if stateful else 0)
        if key != self._preview_key or self._preview is None:
            self._preview = schedule_preview(schedule, span, n)
            self._preview_key = key
        return self._preview

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's schedule over the planned run (the rate used, for a lane without a
        schedule) in its colour, with the current step marked."""
        n = 2 * self.columns()
        span = max([view.planned_steps, 1] + [len(lane.run.history) for lane in view.lanes])
        cache: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}
        for i, lane in enumerate(view.lanes):
            run, color = lane.run, self.lane_color(i)
            schedule = run.schedule
            if schedule is not None:
                stateful = bool(getattr(schedule, "stateful", False))
                key = (id(schedule), view.version, span, n, len(run.history) if stateful else 0)
                curve = self._lane_previews.get(key)
                if curve is None:
                    curve = schedule_preview(schedule, span, n)
                cache[key] = curve
                picture.band(*curve, color)
            elif len(run.history):
                used = run.history.downsample("lr", n)
                picture.band(used.steps, used.mins, used.maxs, color)
        self._lane_previews = cache  # only the lanes on screen stay cached
        step = len(view.run.history)
        if step:
            picture.vlines.append((step, GRAY))
        parts = ["lr", f"step {step_label(step)} of {step_label(span)}"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, span)

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        history, schedule = run.history, run.schedule
        step = len(history)
        span = max(view.planned_steps, step, 1)
        n = 2 * self.columns()
        if schedule is not None:
            picture.band(*self.preview(view, span, n), GREEN, "schedule")
        if step:
            used = history.downsample("lr", n)
            picture.band(used.steps, used.mins, used.maxs, ORANGE, "used")
            picture.vlines.append((step, ORANGE))
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


class NormsChart(RunChart):
    """Gradient norm, update norm and effective step size per step (log y: they span
    orders of magnitude)."""

    LOG_Y_DEFAULT = True
    SERIES = (
        ("grad_norm", "grad", BLUE),
        ("update_norm", "update", RED),
        ("effective_step", "eff. step", PURPLE),
    )

    def picture(self, view: ChartView, picture: Picture) -> None:
        history = view.run.history
        n = 2 * self.columns()
        parts = []
        for name, label, color in self.SERIES:
            data = history.downsample(name, n)
            if len(data.steps):
                picture.band(data.steps, data.mins, data.maxs, color, label)
                parts.append(f"{label} {value_label(history.last(name))}")
        if not parts:
            parts = ["gradient norm · update norm · effective step"]
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
                picture.band(data.steps, data.mins, data.maxs, self.lane_color(i))
            end = max(end, len(history))
        parts = ["gradient norm", f"{len(view.lanes)} runs"]
        if picture.log_y:
            parts.append("log")
        picture.title = parts
        picture.x_range = (0, end)


class PathChart(RunChart):
    """For 2-D tasks: the parameters' path over level sets of the loss surface.

    plotext has no contour plot: the surface is evaluated on the chart's dot grid, cut into a
    few levels at quantiles of log(f - min) (so the lines spread evenly over the view,
    whatever the function's range), and the dots where the level changes are drawn.
    """

    MAX_LEVELS = 5

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._contour_key: tuple[Any, ...] | None = None
        self._contour: np.ndarray | None = None

    def contour(self, task: Any, version: int, frame: Frame) -> np.ndarray:
        """Boolean dot grid (row 0 at the bottom) of level-set boundaries; cached."""
        key = (id(task), version, frame)
        if key != self._contour_key or self._contour is None:
            # Fewer lines on a small plot so the path stays readable.
            levels = max(3, min(self.MAX_LEVELS, frame.cols // 10, frame.rows // 3))
            self._contour = level_set_mask(task, frame, levels)
            self._contour_key = key
        return self._contour

    def contour_backdrop(self, view: ChartView, picture: Picture) -> Any:
        """Set the view window to the task's bounds and draw its contours; returns the task,
        or None (with a title saying why) when the task is not a 2-D landscape."""
        task = view.run.task
        if not getattr(task, "is_landscape", False):
            picture.title = ["path: only for 2-D tasks"]
            return None
        (x0, x1), (y0, y1) = task.bounds
        picture.x_range, picture.y_range = (x0, x1), (y0, y1)
        picture.step_axis = False
        picture.log_y = False
        frame = self.planned_frame(picture)
        if frame is not None and frame.usable:
            picture.layers.append(Layer("mask", GRAY, (self.contour(task, view.version, frame),)))
        return task

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
        path = run.history.trajectory(8 * self.columns())
        picture.path(path.xs, path.ys, BLUE)
        mx, my = task.minimum
        sx, sy = task.start
        keep = np.isfinite(path.xs) & np.isfinite(path.ys)
        nx, ny = (path.xs[keep][-1], path.ys[keep][-1]) if keep.any() else (sx, sy)
        picture.mark(mx, my, "✕", GREEN)
        picture.mark(sx, sy, "○", ORANGE)
        picture.mark(nx, ny, "●", RED)
        picture.title = [
            f"● ({value_label(nx)}, {value_label(ny)})",
            f"step {step_label(len(run.history))}",
            "○ start",
            "✕ minimum",
        ]

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        """Every lane's path over the same contours, each ending in a ● of its colour. Lanes
        on another task (an overlay pinned before the task changed) are left out."""
        run = view.run
        task = self.contour_backdrop(view, picture)
        if task is None:
            return
        same = (run.config.task, run.config.task_hypers)
        ends = []
        points = 8 * self.columns()
        for i, lane in enumerate(view.lanes):
            cfg = lane.run.config
            if (cfg.task, cfg.task_hypers) != same:
                continue
            path = lane.run.history.trajectory(points)
            color = self.lane_color(i)
            picture.path(path.xs, path.ys, color)
            keep = np.isfinite(path.xs) & np.isfinite(path.ys)
            if keep.any():
                ends.append((path.xs[keep][-1], path.ys[keep][-1], color))
        ink = INK_DARK if self.dark else INK_LIGHT
        mx, my = task.minimum
        sx, sy = task.start
        picture.mark(mx, my, "✕", ink)
        picture.mark(sx, sy, "○", ink)
        for x, y, color in ends:
            picture.mark(x, y, "●", color)
        picture.title = [f"step {step_label(len(run.history))}", "○ start", "✕ minimum"]

    def planned_frame(self, picture: Picture) -> Frame | None:
        """The data area `render_picture` will use for this picture (fixed y range)."""
        if picture.y_range is None:
            return None
        y0, y1 = picture.y_range
        yt = nice_ticks(y0, y1, 5 if self.size.height >= 16 else 3)
        label_width = max((len(label) for label in tick_labels(yt)), default=0)
        x0, x1 = picture.x_range
        return Frame(self.size.width - 2 - label_width, self.size.height - 4, x0, x1, y0, y1)


def level_set_mask(task: Any, frame: Frame, levels: int) -> np.ndarray:
    """Dots (row 0 at the bottom) where the quantised surface changes level."""
    grid = DotGrid(frame)
    nx, ny = grid.width, grid.height
    # The data value at each dot's centre, as DotGrid maps them.
    xs = frame.x0 + np.arange(nx) * (frame.x1 - frame.x0) / (nx - 1)
    ys = frame.y0 + np.arange(ny) * (frame.y1 - frame.y0) / (ny - 1)
    with np.errstate(all="ignore"):
        z = np.asarray(task.surface(xs, ys), np.float64)
        ok = np.isfinite(z)
        if not ok.any():
            return np.zeros((ny, nx), bool)
        shifted = np.log(np.where(ok, z - z[ok].min(), np.nan) + 1e-12 * (np.ptp(z[ok]) + 1))
    cuts = np.nanquantile(shifted, np.linspace(0, 1, levels + 2)[1:-1])
    level = np.where(np.isfinite(shifted), np.searchsorted(cuts, shifted), -1)
    edge = np.zeros(level.shape, bool)
    edge[:, 1:] |= level[:, 1:] != level[:, :-1]
    edge[1:, :] |= level[1:, :] != level[:-1, :]
    return edge


class ChartPanel(Vertical):
    """Tabs of charts; redraws the visible one on a timer when its data changed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: ChartView | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="chart-tabs"):
            with TabPane("Loss", id="tab-loss"):
                yield LossChart(id="loss-chart")
            with TabPane("LR", id="tab-lr"):
                yield LrChart(id="lr-chart")
            with TabPane("Norms", id="tab-norms"):
                yield NormsChart(id="norms-chart")
            with TabPane("Path", id="tab-path"):
                yield PathChart(id="path-chart")

    def on_mount(self) -> None:
        self.set_interval(1 / REFRESH_HZ, self.redraw, name="chart-refresh")

    def show(self, view: ChartView) -> None:
        """Chart this view from now on (a new run, new settings, a log toggle...)."""
        self.view = view
        tabs = self.query_one(TabbedContent)
        landscape = bool(getattr(view.run.task, "is_landscape", False))
        if landscape:
            tabs.show_tab("tab-path")
        else:
            if tabs.active == "tab-path":
                tabs.active = "tab-loss"
            tabs.hide_tab("tab-path")
        self.redraw()

    def toggle_log(self) -> RunChart | None:
        """Flip the visible chart between linear and log y; returns that chart."""
        chart = self.active_chart()
        if chart is not None and not isinstance(chart, PathChart):
            chart.log_y = not chart.log_y
            self.redraw()
            return chart
        return None

    def active_chart(self) -> RunChart | None:
        pane = self.query_one(TabbedContent).active_pane
        if pane is None:
            return None
        return pane.query_one(RunChart)

    def redraw(self, force: bool = False) -> None:
        """Redraw the visible chart if what it shows changed since its last frame."""
        chart = self.active_chart()
        if self.view is None or chart is None or not chart.size.area:
            return
        if force or chart.data_key(self.view) != chart.drawn_key:
            chart.draw(self.view)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self.redraw)

    def on_resize(self) -> None:
        self.call_after_refresh(self.redraw)
