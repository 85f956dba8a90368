"""The State tab: inside the optimizer — its state, bias corrections and effective rates.

What it shows depends on what is trained (one widget, no mode in the app):

- a small problem (a 2-D landscape's x and y, the quadratic, a 1-D regression), one run: a
  table of every coordinate's g, state (m, v, ...), derived quantities (m̂, v̂, √v̂, α) and
  the step taken Δθ, under the optimizer's own symbols and torch's key names; below it α of
  each coordinate over time and the per-step scalars as small curves;
- a network, one run: per parameter group (W1, b1, ...) the effective learning rate α over
  time on a log axis (the band from its 10% to its 90% quantile, labelled with the group's
  name at its end), today's distribution of α over the group's parameters (a histogram row
  per group), and the bias corrections / β₁,t / μ_t / ρ_t over time as small curves;
- a formula as written (a seed tutorial's, `engine.lessons.formulas`), alone or as a race
  lane: above the rest, a line naming the formula that differs from its fix and how far this
  step is from the fix's step from the same state and g (‖Δ−Δfix‖/‖Δfix‖, ‖Δ‖/‖Δfix‖); the
  two also appear over time among the curves;
- a race (or a run with pins): the same band per run, covering every group's 10-90% range,
  so Adam's per-parameter rates sit next to SGD's single lr; a histogram row per run (all
  of its parameters) and each run's scalars.

Data: the table and histograms read `Run.inspect()` (never waiting for a running stream);
the bands and curves read `Run.state_summaries`, which a run records only once the tab has
been shown (`Session.watch_state`; the app calls it when this tab is activated). Reading
changes nothing in any run. The α chart's title ends with the bytes of optimizer state each
run keeps (`Run.state_bytes`: Adam's m and v against Adafactor's factored v, say).

The tab draws like a chart: `ChartPanel` calls `draw(view)` on its timer when `data_key`
changed; the heights of the parts are set from the view and the tab's size, and a part that
does not fit is left out (the α chart first, then the curves' second rows, then curves). The
α chart draws right after the parts are painted, in a frame of its own (it needs its final
size after a layout, and the two together would make one frame of ~15 ms in a race of six).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from rich.color import Color
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from engine.numbers import format_bytes
from engine.session import STATE_EVERY
from tui.charts.axes import step_text, to_plot, value_label
from tui.charts.base import ChartView, Picture, RunChart
from tui.charts.lanes import lane_marker
from tui.charts.state_data import (
    ALPHA,
    CoordinateRow,
    coordinate_rows,
    lanes_alpha_band,
    log_range,
    positive_log10,
    small_problem,
)
from tui.charts.state_rows import (
    CoordinateTable,
    Curve,
    CurveRows,
    HistogramRow,
    HistogramRows,
    TextRows,
)
from tui.terminal import ascii_words

#: The α chart is left out below this height (title, frame, 3 data rows, ticks).
MIN_CHART_ROWS = 7
#: Curves get two rows each (8 dot levels) when the chart keeps at least this many rows.
ROOMY_CHART_ROWS = 16
#: Points read per small curve (a curve is at most ~100 braille cells of 2 dots wide).
CURVE_POINTS = 256


def _inspect(run: Any) -> Any | None:
    """`run.inspect()` without waiting for a running stream; None when the optimizer was
    creating its state at that very moment (the next frame reads it)."""
    try:
        return run.inspect()
    except RuntimeError:  # a state dict grew under the reader (first step of a stream)
        return None


class AlphaChart(RunChart):
    """α over time on a log axis: a 10-90% band per parameter group (one run) or per run
    (a race), each labelled at its end with its name, so it reads without colour."""

    LOG_Y_DEFAULT = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._labels: list[tuple[float, float, str, Any]] = []
        #: Every group is one number (the StateTab's table view): lines, not bands.
        self.per_coordinate = False
        self._view: ChartView | None = None
        self._waiting = False  # drawing after the next refresh (see draw_later)

    def draw(self, view: ChartView) -> None:
        self._view = view
        super().draw(view)

    # -- the cursor: the steps recorded ---------------------------------------------------

    def cursor_series(self, view: ChartView) -> list[tuple[str, str]]:
        runs = [lane.run for lane in view.lanes] or [view.run]
        if any(_records_alpha(run) for run in runs):
            return [(ALPHA, "α")]
        return []

    def cursor_stops(self, view: ChartView) -> np.ndarray:
        """The steps the summaries recorded (every STATE_EVERY, in any run of a race)."""
        runs = [lane.run for lane in view.lanes] or [view.run]
        found = [run.state_summaries.table()[0] for run in runs if _records_alpha(run)]
        if not found:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(found)).astype(np.int64)

    def cursor_readout(self, view: ChartView, step: int) -> str:
        """The step, then each group's α as recorded there: its 10%..90% quantiles and
        median (one number per coordinate on a small problem); in a race each run's band,
        the lowest 10% to the highest 90% over its groups."""
        parts = [f"step {step:,}"]
        if view.lanes:
            for i, lane in enumerate(view.lanes):
                found = lanes_alpha_band(lane.run.state_summaries)
                text = "—"
                if found is not None:
                    k = np.flatnonzero(found[0] == step)
                    if len(k):
                        text = f"{value_label(found[1][k[0]])}..{value_label(found[2][k[0]])}"
                parts.append(f"{lane_marker(i)} {lane.name} α {text}")
            return " · ".join(parts)
        s = view.run.state_summaries
        if not _records_alpha(view.run):
            return parts[0]
        for group in s.groups:
            band = s.band(group, ALPHA)
            k = np.flatnonzero(band.steps == step)
            if not len(k):
                parts.append(f"{group} α —")
            elif self.per_coordinate:
                parts.append(f"{group} α {value_label(band.median[k[0]])}")
            else:
                q10, median, q90 = (float(a[k[0]]) for a in (band.q10, band.median, band.q90))
                parts.append(
                    f"{group} α {value_label(q10)}..{value_label(q90)} median {value_label(median)}"
                )
        return " · ".join(parts)

    def on_resize(self) -> None:
        """Laid out anew (the State tab's parts changed height): draw at the new size now,
        not at the panel's next tick (unless drawn at this size already, or `draw_later`
        is about to: the layout may not be final yet)."""
        if not self._waiting:
            self.draw_if_changed()

    def draw_later(self, view: ChartView) -> None:
        """Draw `view` after the next refresh: once the tab's parts are laid out, and in a
        frame of its own (the parts and this chart in one frame take ~15 ms in a race)."""
        self._view = view
        if not self._waiting:
            self._waiting = True
            self.call_after_refresh(self._refreshed)

    def _refreshed(self) -> None:
        self._waiting = False
        self.draw_if_changed()

    def draw_if_changed(self) -> None:
        """Draw the last view given unless it is drawn at this size already."""
        view = self._view
        if view is not None and self.display and self.size.area:
            if self.data_key(view) != self.drawn_key:
                self.draw(view)

    def _x_range(self, end: int, labels: list[str]) -> tuple[float, float]:
        """Steps 0..end, plus room on the right for the longest label."""
        room = max((len(s) for s in labels), default=0) + 1
        cols = max(self.columns() - 2, room + 4)
        end = max(end, 1)
        return 0.0, end * cols / max(cols - room, 1)

    def _band(
        self,
        picture: Picture,
        steps: Any,
        lo: Any,
        hi: Any,
        color: Any,
        outline: int | None = None,
    ) -> None:
        """A band through sparse records (one every k steps): edges joined straight between
        records (in log units on a log axis), as a line chart joins its points, instead of
        one stroke per record. With `outline` (a line style, braille.PATTERNS), only its two
        edges are drawn in that style: several bands then cross without hiding each other."""
        steps = np.asarray(steps, np.float64)
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        dense = 2 * self.columns()
        if 1 < len(steps) < dense:
            # The records themselves stay among the points: the band's extremes (and so the
            # axis) do not depend on the chart's width.
            xs = np.union1d(np.linspace(steps[0], steps[-1], dense), steps)
            with np.errstate(all="ignore"):
                if picture.log_y:
                    lo = 10 ** np.interp(xs, steps, np.log10(lo))
                    hi = 10 ** np.interp(xs, steps, np.log10(hi))
                else:
                    lo, hi = np.interp(xs, steps, lo), np.interp(xs, steps, hi)
            steps = xs
        if outline is None:
            picture.band(steps, lo, hi, color)
        else:
            picture.path(steps, lo, color, pattern=outline)
            picture.path(steps, hi, color, pattern=outline)

    def picture(self, view: ChartView, picture: Picture) -> None:
        run = view.run
        self._labels = []
        s = run.state_summaries
        n = 2 * self.columns()
        names: list[str] = []
        end = run.steps_done
        medians = []
        if s is not None and ALPHA in {q.key for q in s.summaries}:
            outline = None if self.per_coordinate or len(s.groups) < 2 else 0
            for i, group in enumerate(s.groups):
                band = s.band(group, ALPHA, n)
                if not len(band.steps):
                    continue
                color = self.lane_color(i)
                style = None if outline is None else i
                self._band(picture, band.steps, band.q10, band.q90, color, style)
                medians.append((band.steps, band.median, color))
                self._labels.append((band.steps[-1], band.median[-1], group, color))
                names.append(group)
        for steps, median, color in medians:  # over every band: a line cut through the fill
            picture.path(steps, to_plot(np.asarray(median, np.float64), picture.log_y), color)
        picture.x_range = self._x_range(end, names)
        what = "per coordinate" if self.per_coordinate else "per group"
        picture.title = self._title(run, what, bool(names), picture.log_y)
        picture.title.append(f"state {format_bytes(run.state_bytes)}")
        if names and not self.per_coordinate:
            picture.note = never_updated_note([("", run)])

    def lanes_picture(self, view: ChartView, picture: Picture) -> None:
        picture.legend = []  # each band is labelled at its end instead
        self._labels = []
        n = 2 * self.columns()
        names: list[str] = []
        end = 1
        for i, lane in enumerate(view.lanes):
            run = lane.run
            end = max(end, run.steps_done)
            found = lanes_alpha_band(run.state_summaries, n)
            if found is None:
                continue
            steps, low, high = found
            color = self.lane_color(i)
            self._band(picture, steps, low, high, color, i if len(view.lanes) > 1 else None)
            with np.errstate(all="ignore"):
                middle = float(np.sqrt(low[-1] * high[-1]))
            self._labels.append((steps[-1], middle, lane.name, color))
            names.append(lane.name)
        picture.x_range = self._x_range(end, names)
        picture.title = self._title(view.run, "per run", bool(names), picture.log_y)
        sizes = ", ".join(f"{ln.name} {format_bytes(ln.run.state_bytes)}" for ln in view.lanes)
        picture.title.append(f"state {sizes}")
        if names:
            picture.note = never_updated_note([(lane.name, lane.run) for lane in view.lanes])

    @staticmethod
    def _title(run: Any, what: str, drawn: bool, log_y: bool) -> list[str]:
        s = run.state_summaries
        if not drawn:
            every = s.every if s is not None else STATE_EVERY
            return [f"effective lr α {what}: none recorded yet", f"every {every} steps"]
        if what == "per run":
            parts = ["effective lr α: 10-90% band", "per run, every group"]
        elif what == "per coordinate":
            parts = ["effective lr α per coordinate"]
        else:
            parts = ["effective lr α: 10-90% band + median", "per group"]
        if log_y:
            parts.append("log")
        return parts

    def render_picture(self, picture: Picture) -> None:
        """As every chart, then each band's name right of its end (rows nudged apart)."""
        super().render_picture(picture)
        frame = self.frame
        if frame is None or not frame.usable or not self.cells:
            return
        # The note (the cursor's readout, the never-updated count) is not written over.
        lines = [
            line
            for part in picture.note.splitlines()
            for line in textwrap.wrap(part, max(frame.cols - 1, 8))
        ][: max(frame.rows - 1, 0)]
        top = frame.rows - len(lines)
        taken = {(top + i, col) for i, line in enumerate(lines) for col in range(len(line))}
        for x, y, text, color in self._labels:
            yp = float(to_plot(np.array([y], np.float64), picture.log_y)[0])
            if not np.isfinite(yp):
                continue
            c, r = frame.cell_of(x, yp)
            c = min(max(c + 1, 0), frame.cols - 1)
            text = text[: frame.cols - c]
            if not text:
                continue
            span = range(c, c + len(text))
            for d in (0, -1, 1, -2, 2, -3, 3):
                row = min(max(r + d, 0), frame.rows - 1)
                if not any((row, col) in taken for col in span):
                    break
            taken.update((row, col) for col in span)
            self.cells.append(
                (np.full(len(text), row), np.arange(c, c + len(text)), list(text), color, "bold")
            )


def _records_alpha(run: Any) -> bool:
    """Whether `run`'s state summaries record α and hold a record yet."""
    s = run.state_summaries
    return s is not None and len(s) > 0 and ALPHA in {q.key for q in s.summaries}


def updated_alphas(
    insp: Any, never: np.ndarray | None, keep_missing: bool = False
) -> list[np.ndarray]:
    """Each parameter's α (flattened) without the coordinates never updated (`never`, in
    the run's flat order, as `Run.never_updated`); a parameter without α gives an empty
    array with `keep_missing`, else is skipped."""
    out, offset = [], 0
    for p in insp.params.values():
        size = int(np.prod(p.shape))
        alpha = p.derived.get(ALPHA)
        if alpha is not None:
            alpha = alpha.reshape(-1)
            if never is not None and alpha.size == size:
                alpha = alpha[~never[offset : offset + size]]
            out.append(alpha)
        elif keep_missing:
            out.append(np.empty(0))
        offset += size
    return out


def never_updated_note(runs: list[tuple[str, Any]]) -> str:
    """ "412 of 9,738 coordinates never updated: left out" (per run when they differ); ""
    when every coordinate of every run moved."""
    counts = []
    for name, run in runs:
        never = run.never_updated()
        if never is not None:
            counts.append((name, int(never.sum()), never.size))
    if not any(n for _, n, _ in counts):
        return ""
    if len({(n, size) for _, n, size in counts}) == 1 and len(counts) == len(runs):
        _, n, size = counts[0]
        each = " in each run" if len(runs) > 1 else ""
        return f"{n:,} of {size:,} coordinates never updated{each}: left out"
    parts = ", ".join(f"{name} {n:,} of {size:,}" for name, n, size in counts if n)
    return f"coordinates never updated: {parts}: left out"


def _figure(x: Any) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4g}"


def fix_lines(name: str, run: Any, insp: Any) -> list[str]:
    """Two lines for a formula as written (none for any other optimizer): how far the last
    step is from the fix's step (from the same state and g), then which formula differs and
    the fix. The figures come first: a narrow tab crops the ends of the lines."""
    opt = getattr(run, "optimizer", None)
    differs = getattr(opt, "differs", "")
    if not differs:
        return []
    sc = insp.scalars if insp is not None else {}
    if "fix_distance" in sc:
        figures = (
            f"step {step_text(insp.step)}: ‖Δ−Δfix‖/‖Δfix‖ {_figure(sc['fix_distance'])}"
            f" · ‖Δ‖/‖Δfix‖ {_figure(sc['fix_ratio'])}"
        )
    else:
        figures = "no step yet"
    return [
        f"as written vs fix · {figures}" + (f" · {name}" if name else ""),
        f"  differs: {differs} · fix: {opt.fixed}",
    ]


class FixRows(TextRows):
    """The as-written formulas' distance from their fix (see `fix_lines`)."""

    def show_fix(self, lines: list[str], width: int) -> None:
        if getattr(self.app, "ascii_only", False):
            lines = [ascii_words(line) for line in lines]
        texts = []
        for line in lines:
            text = Text(line)
            text.truncate(width, overflow="ellipsis")
            texts.append(text)
        self.show_lines(texts)


@dataclass(frozen=True)
class TablePart:
    """The coordinate table's content."""

    title: str
    coords: tuple[str, ...]
    rows: tuple[CoordinateRow, ...]
    note: str = ""

    @property
    def height(self) -> int:
        return 1 + bool(self.note) + (len(self.rows) + 1 if self.rows else 0)


@dataclass(frozen=True)
class HistogramPart:
    """The histogram rows' content: a title, one row per group or run, the shared span."""

    title: str
    rows: tuple[HistogramRow, ...]
    span: tuple[float, float] | None

    @property
    def height(self) -> int:
        return len(self.rows) + 2  # title and axis


@dataclass(frozen=True)
class Layout:
    """Rows given to each part; 0 hides it."""

    table: int
    chart: int
    histogram: int
    curves: int  # curves shown
    rows_each: int  # rows per curve
    fix: int = 0  # the as-written formulas' lines (FixRows)


def plan_layout(height: int, table: int, histogram: int, curves: int, fix: int = 0) -> Layout:
    """Share `height` rows: the table and the histogram always get theirs; then each curve
    one row (two when the chart still keeps ROOMY_CHART_ROWS); the α chart the rest if that
    is at least MIN_CHART_ROWS. Without room for the chart, as many curves as fit. The `fix`
    lines (as-written formulas) are kept like the table's."""
    left = max(height - table - histogram - fix, 0)
    rows_each = 2 if left - 2 * curves >= ROOMY_CHART_ROWS else 1
    chart = left - rows_each * curves
    if chart < MIN_CHART_ROWS:
        return Layout(table, 0, histogram, min(curves, left), 1, fix)
    return Layout(table, chart, histogram, curves, rows_each, fix)


class StateTab(Vertical):
    """The State tab (see the module docstring); draws like a chart for `ChartPanel`."""

    DEFAULT_CSS: ClassVar[str] = """
    StateTab { height: 1fr; width: 1fr; }
    StateTab > .state-part { height: auto; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drawn_key: tuple[Any, ...] | None = None
        self.layout_now: Layout | None = None

    def compose(self) -> ComposeResult:
        yield FixRows(id="state-fix", classes="state-part")
        yield CoordinateTable(id="state-table", classes="state-part")
        yield AlphaChart(id="state-alpha")
        yield HistogramRows(id="state-hist", classes="state-part")
        yield CurveRows(id="state-curves", classes="state-part")

    # -- what ChartPanel uses -------------------------------------------------------------

    @property
    def chart(self) -> AlphaChart:
        return self.query_one(AlphaChart)

    @property
    def log_y(self) -> bool:
        return self.chart.log_y

    @log_y.setter
    def log_y(self, value: bool) -> None:
        self.chart.log_y = value

    def color(self, role: str) -> Color | None:
        return self.chart.color(role)

    def start_cursor(self) -> bool:
        """The α chart's cursor (`RunChart.start_cursor`), when the chart is shown."""
        chart = self.chart
        return bool(chart.display and chart.size.area) and chart.start_cursor()

    def why_no_cursor(self) -> str:
        if not (self.chart.display and self.chart.size.area):
            return "no cursor: the α chart has no room in this window"
        return self.chart.why_no_cursor()

    def data_key(self, view: ChartView) -> tuple[Any, ...]:
        runs = [lane.run for lane in view.lanes] or [view.run]
        recorded = tuple(0 if r.state_summaries is None else len(r.state_summaries) for r in runs)
        # The α chart's own size is left out: laying the parts out resizes it, and it then
        # draws itself (AlphaChart.on_resize); the tab's parts need no second frame for it.
        return (self.chart.view_key(view), recorded, self.size.width, self.size.height)

    def draw(self, view: ChartView) -> None:
        """Fill every part from the view. When the parts' heights change, they are laid out
        first and the chart is drawn after the next refresh (it needs its final size)."""
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0:
            return
        found = self._read(view)
        if found is None:
            self.drawn_key = None  # the state was growing under the reader: next frame
            return
        table, histogram, curves = found
        fix = self._fix_lines(view)
        self.query_one(FixRows).show_fix(fix, width)
        layout = plan_layout(
            height,
            table.height if table else 0,
            histogram.height if histogram else 0,
            len(curves),
            len(fix),
        )
        if table:
            self.query_one(CoordinateTable).show_table(
                table.title, table.coords, table.rows, width, table.note
            )
        if histogram:
            self.query_one(HistogramRows).show_rows(
                histogram.title, histogram.rows, histogram.span, width
            )
        end = max([lane.run.steps_done for lane in view.lanes] or [view.run.steps_done])
        self.query_one(CurveRows).show_curves(curves[: layout.curves], layout.rows_each, end, width)
        self.drawn_key = self.data_key(view)
        if layout != self.layout_now:
            self.layout_now = layout
            self._apply(layout)
        if layout.chart:
            self.chart.draw_later(view)

    # -- reading the runs -----------------------------------------------------------------

    def _read(
        self, view: ChartView
    ) -> tuple[TablePart | None, HistogramPart | None, list[Curve]] | None:
        """What each part shows (None where a part is not shown); None when a run's state
        could not be read this frame."""
        chart = self.chart
        if view.lanes:
            rows, logs = [], []
            curves: list[Curve] = []
            for i, lane in enumerate(view.lanes):
                insp = _inspect(lane.run)
                if insp is None:
                    return None
                alphas = updated_alphas(insp, lane.run.never_updated())
                found, dropped = positive_log10(np.concatenate(alphas) if alphas else np.empty(0))
                color = chart.lane_color(i)
                rows.append(HistogramRow(lane.name, found, dropped, color))
                logs.append(found)
                curves += self._curves(lane.run, f"{lane.name} ", color)
            title = "α now per run, all parameters · log"
            return None, HistogramPart(title, tuple(rows), log_range(logs)), curves
        run = view.run
        insp = _inspect(run)
        if insp is None:
            return None
        curves = self._curves(run, "", chart.color("ink"))
        shapes = {name: p.shape for name, p in insp.params.items()}
        chart.per_coordinate = small_problem(tuple(shapes), shapes)
        if chart.per_coordinate:
            rows_ = tuple(coordinate_rows(insp)) if insp.step else ()
            title = f"{insp.optimizer} · step {step_text(insp.step)} · each coordinate"
            note = "" if rows_ else "no update yet: n steps once, space runs"
            return TablePart(title, tuple(insp.params), rows_, note), None, curves
        rows, logs = [], []
        alphas = updated_alphas(insp, run.never_updated(), keep_missing=True)
        for i, (name, alpha) in enumerate(zip(insp.params, alphas, strict=True)):
            found, dropped = positive_log10(alpha)
            rows.append(HistogramRow(name, found, dropped, chart.lane_color(i)))
            logs.append(found)
        title = "α now per group · log"
        return None, HistogramPart(title, tuple(rows), log_range(logs)), curves

    @staticmethod
    def _fix_lines(view: ChartView) -> list[str]:
        """Every as-written run's distance from its fix (lanes named in a race)."""
        if view.lanes:
            lines: list[str] = []
            for lane in view.lanes:
                lines += fix_lines(lane.name, lane.run, _inspect(lane.run))
            return lines
        return fix_lines("", view.run, _inspect(view.run))

    @staticmethod
    def _curves(run: Any, prefix: str, color: Any) -> list[Curve]:
        """The run's tracked per-step scalars over time (none before summaries record)."""
        s = run.state_summaries
        if s is None:
            return []
        out = []
        for q in s.scalars:
            series = s.scalar(q.key, CURVE_POINTS)
            if len(series.steps):
                out.append(Curve(f"{prefix}{q.symbol}", series.steps, series.values, color))
        return out

    # -- layout ---------------------------------------------------------------------------

    def _apply(self, layout: Layout) -> None:
        for widget, rows in (
            (self.query_one(FixRows), layout.fix),
            (self.query_one(CoordinateTable), layout.table),
            (self.query_one(HistogramRows), layout.histogram),
            (self.query_one(CurveRows), layout.curves * layout.rows_each),
        ):
            widget.display = rows > 0
            widget.styles.height = rows
        chart = self.chart
        chart.display = layout.chart > 0
        chart.styles.height = "1fr"
