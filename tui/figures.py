"""Pictures of runs for slides and papers: PNG, SVG, PDF and GIF (matplotlib, Pillow), and
the same charts as plotext text (.txt).

`optplay plot` (tui/commands/plot.py) and the app's picture export (`E`) draw with this
module. The charts follow the app's conventions (tui/charts/): each lane has its colour (the
lane roles of tui/app.tcss under Textual's textual-dark / textual-light themes) AND its line
style and eval marker, so a figure printed in black and white still tells the lanes apart;
evaluations are markers over the training curve; every loss says which loss it is (the
training batch loss, the eval loss); `log` puts the y axis on a log scale.

Charts: loss, lr, norms, path (2-D tasks: trajectories over the loss contours), state (the
optimizer's effective-lr quantiles, when the history has state summaries), sweep (final loss
against the swept knob, one line per optimizer) and bench (final loss against problem size,
one line per optimizer, with the spread over seeds).

matplotlib and Pillow are the optional extra `.[plot]`; `require()` raises `MissingExtra` (a
one-line message) when they are not installed. The .txt output needs only plotext (a
dependency of the app). This module imports no Textual: `optplay plot` starts fast.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHARTS = ("loss", "lr", "norms", "path", "state", "sweep", "bench")
#: Lane colours per theme: Textual's theme colours in the order of the app's lane roles
#: (tui/app.tcss: lane-0 primary, lane-1 warning, lane-2 success, lane-3 error, lane-4
#: secondary, lane-5 foreground).
THEMES: dict[str, dict[str, Any]] = {
    "dark": {
        "background": "#121212",
        "foreground": "#e0e0e0",
        "grid": "#3a3a3a",
        "contour": "#5a5a5a",
        "lanes": ("#0178d4", "#ffa62b", "#4ebf71", "#ba3c5b", "#4f8fc0", "#e0e0e0"),
    },
    "light": {
        "background": "#ffffff",
        "foreground": "#1e1e1e",
        "grid": "#d8d8d8",
        "contour": "#a0a0a0",
        "lanes": ("#004578", "#e08a00", "#2e8b57", "#ba3c5b", "#0178d4", "#1e1e1e"),
    },
}
#: Line style and eval marker per lane: the lanes read without colour (as the app's braille
#: patterns and glyphs do).
LINE_STYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (1, 4)))
MARKERS = ("o", "s", "^", "D", "v", "P")
LINE_WIDTH = 2.0
DPI = 100
DEFAULT_SIZE = (800, 500)
DEFAULT_TEXT_SIZE = (100, 30)


class MissingExtra(Exception):
    """matplotlib (or Pillow) is not installed: the message says how to get it."""


class FigureError(Exception):
    """A chart that cannot be drawn from this input (one line naming what is missing)."""


def require(gif: bool = False) -> Any:
    """matplotlib's pyplot-free pieces (Figure, FigureCanvasAgg); MissingExtra when the
    `.[plot]` extra is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra(
            "pictures need matplotlib: pip install 'optplay[plot]' (or .txt for text charts)"
        ) from None
    if gif:
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise MissingExtra("GIFs need Pillow: pip install 'optplay[plot]'") from None
    return Figure


# -- what is drawn ----------------------------------------------------------------------------


@dataclass
class Plot:
    """What a picture shows: history lanes (records as `engine.history.load_history_json`
    gives them, one per lane), or a sweep's points, or a bench's groups."""

    kind: str  # "history", "sweep" or "bench"
    lanes: list[dict[str, Any]] = field(default_factory=list)
    sweep: dict[str, Any] | None = None
    bench: list[dict[str, Any]] | None = None
    title: str = ""

    def default_chart(self) -> str:
        if self.kind != "history":
            return self.kind
        return "loss"


@dataclass(frozen=True)
class Options:
    chart: str = "loss"
    size: tuple[int, int] | None = None  # pixels (images) or characters (.txt)
    theme: str = "light"
    log: bool = False
    smooth: int = 0  # EMA over about this many points (0: none)
    frames: int = 40  # GIF frames
    fps: float = 10.0


def history_lanes(runs: Any) -> list[dict[str, Any]]:
    """History lanes of trained runs (what `engine.history.export_history` takes: a Run,
    (name, Run) pairs, Lanes...), as a JSON export would read back: copied now, so the runs
    may train on while the picture is drawn."""
    from engine.history import run_record
    from engine.named_runs import named_runs

    lanes = []
    for name, run in named_runs(runs):
        record = dict(run_record(run, name))
        for key in ("step", "loss", "lr", "grad_norm", "update_norm", "update_grad_ratio"):
            record[key] = _floats(record[key])
        record["step"] = record["step"].astype(np.int64)
        lanes.append(record)
    return lanes


def applies(plot: Plot, chart: str) -> str | None:
    """Why `chart` cannot be drawn from `plot` (None: it can)."""
    if chart in ("sweep", "bench"):
        if plot.kind != chart:
            return f"--chart {chart} needs a {chart} result (got a {plot.kind})"
        return None
    if plot.kind != "history":
        return f"--chart {chart} needs a history (got a {plot.kind} result: --chart {plot.kind})"
    if chart == "path" and not any("trajectory" in lane for lane in plot.lanes):
        return "--chart path needs a 2-D task's trajectory (a JSON history or a stored run)"
    if chart == "state" and not any("state_summaries" in lane for lane in plot.lanes):
        return "--chart state needs optimizer-state summaries (`optplay run --state-out`)"
    return None


def _floats(values: Any) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], np.float64)


def _ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average over about `span` points, debiased (TensorBoard's)."""
    weight = 1.0 - 1.0 / max(1, span)
    out = np.empty_like(values)
    acc, norm = 0.0, 0.0
    for i, v in enumerate(values):
        if math.isfinite(v):
            acc = weight * acc + (1 - weight) * v
            norm = weight * norm + (1 - weight)
        out[i] = acc / norm if norm else math.nan
    return out


def _style(ax: Any, theme: dict[str, Any]) -> None:
    ax.set_facecolor(theme["background"])
    for spine in ax.spines.values():
        spine.set_color(theme["foreground"])
    ax.tick_params(colors=theme["foreground"], which="both")
    ax.xaxis.label.set_color(theme["foreground"])
    ax.yaxis.label.set_color(theme["foreground"])
    ax.title.set_color(theme["foreground"])
    ax.grid(True, color=theme["grid"], linewidth=0.6)


def _legend(ax: Any, theme: dict[str, Any]) -> None:
    if ax.get_legend_handles_labels()[0]:
        legend = ax.legend(loc="best", fontsize="small", frameon=True)
        legend.get_frame().set_facecolor(theme["background"])
        legend.get_frame().set_edgecolor(theme["grid"])
        for text in legend.get_texts():
            text.set_color(theme["foreground"])


def _lane_line(ax: Any, i: int, xs: Any, ys: Any, theme: dict[str, Any], label: str,
               marker: str | None = None, part: str = "") -> Any:  # fmt: skip
    """Lane i's curve in its colour and line style: in an SVG, `<g id="lane-i">` holds its
    one path; its markers (if any) are drawn apart (`lane-i-marks`)."""
    colour, style = theme["lanes"][i % 6], LINE_STYLES[i % 6]
    (line,) = ax.plot(xs, ys, color=colour, linestyle=style, linewidth=LINE_WIDTH,
                      label=None if marker else label)  # fmt: skip
    line.set_gid(f"lane-{i}{part}")  # ids are unique: a second chart of the figure has a part
    if marker:
        (marks,) = ax.plot(xs, ys, color=colour, linestyle="none", marker=marker, markersize=5)
        marks.set_gid(f"marks-{i}")
        # The legend shows line and marker together, as one entry.
        ax.plot([], [], color=colour, linestyle=style, linewidth=LINE_WIDTH, marker=marker,
                markersize=5, label=label)  # fmt: skip
    return line


def _upto(lane: dict[str, Any], step: float | None) -> dict[str, Any]:
    """The lane's record cut at `step` (GIF frames); the whole record when None."""
    if step is None:
        return lane
    keep = np.asarray(lane["step"]) <= step
    out = dict(lane)
    for key in ("step", "loss", "lr", "grad_norm", "update_norm", "update_grad_ratio"):
        if key in lane:
            out[key] = np.asarray(lane[key])[keep]
    ev = lane.get("eval") or {}
    if ev:
        k = np.asarray(ev["step"]) <= step
        out["eval"] = {"step": np.asarray(ev["step"])[k], "loss": np.asarray(ev["loss"])[k]}
    if "trajectory" in lane:
        tr = lane["trajectory"]
        k = np.asarray(tr["step"]) <= step
        out["trajectory"] = {key: np.asarray(v)[k] for key, v in tr.items()}
    return out


def _draw_loss(ax: Any, plot: Plot, opts: Options, theme: dict[str, Any],
               until: float | None) -> None:  # fmt: skip
    for i, full in enumerate(plot.lanes):
        lane = _upto(full, until)
        steps, loss = np.asarray(lane["step"]), _floats(lane["loss"])
        name = str(lane.get("name", f"run {i + 1}"))
        if opts.smooth:
            ax.plot(steps, loss, color=theme["lanes"][i % 6], linewidth=0.8, alpha=0.3)
            _lane_line(ax, i, steps, _ema(loss, opts.smooth), theme,
                       f"{name}: training loss (batch, smoothed)")  # fmt: skip
        else:
            _lane_line(ax, i, steps, loss, theme, f"{name}: training loss (batch)")
        ev = lane.get("eval") or {}
        ev_steps, ev_loss = np.asarray(ev.get("step", [])), _floats(ev.get("loss", []))
        if len(ev_steps):
            ax.plot(ev_steps, ev_loss, linestyle="none", marker=MARKERS[i % 6], markersize=5,
                    markerfacecolor=theme["background"], markeredgecolor=theme["lanes"][i % 6],
                    label=f"{name}: eval loss")  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(plot.title or "loss")


def _draw_series(ax: Any, plot: Plot, series: str, label: str, theme: dict[str, Any],
                 until: float | None, part: str = "") -> None:  # fmt: skip
    for i, full in enumerate(plot.lanes):
        lane = _upto(full, until)
        name = str(lane.get("name", f"run {i + 1}"))
        _lane_line(ax, i, np.asarray(lane["step"]), _floats(lane[series]), theme, name,
                   part=part)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel(label)


def _draw_path(ax: Any, plot: Plot, theme: dict[str, Any], until: float | None) -> None:
    from engine import tasks

    first = next(lane for lane in plot.lanes if "trajectory" in lane)
    task = tasks.create(first["task"], **dict(first.get("task_hypers") or {}))
    (x0, x1), (y0, y1) = task.bounds
    xs, ys = np.linspace(x0, x1, 200), np.linspace(y0, y1, 200)
    z = task.surface(xs, ys)
    finite = z[np.isfinite(z)]
    if finite.size:
        low = finite.min()
        levels = np.unique(low + np.geomspace(1e-3, 1, 14) * (np.percentile(finite, 95) - low))
        ax.contour(xs, ys, z, levels=levels, colors=theme["contour"], linewidths=0.7)
    for i, full in enumerate(plot.lanes):
        if "trajectory" not in full:
            continue
        tr = _upto(full, until)["trajectory"]
        name = str(full.get("name", f"run {i + 1}"))
        px, py = _floats(tr["x"]), _floats(tr["y"])
        _lane_line(ax, i, px, py, theme, name)
        keep = np.isfinite(px) & np.isfinite(py)
        if keep.any():
            ax.plot(px[keep][-1], py[keep][-1], marker=MARKERS[i % 6], markersize=7,
                    color=theme["lanes"][i % 6])  # fmt: skip
    minima = tuple(getattr(task, "minima", (task.minimum,)))  # the saddle has two
    mx, my = [m[0] for m in minima], [m[1] for m in minima]
    sx, sy = task.start
    ax.plot(sx, sy, marker="o", markersize=8, markerfacecolor="none",
            markeredgecolor=theme["foreground"], linestyle="none", label="start")  # fmt: skip
    ax.plot(mx, my, marker="x", markersize=9, color=theme["foreground"], linestyle="none",
            label="minimum")  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(plot.title or f"path on {first['task']}")


def _draw_state(ax: Any, plot: Plot, theme: dict[str, Any]) -> None:
    """The median effective learning rate of each parameter group, per lane (the State
    tab's headline quantity)."""
    drawn = 0
    recorded = [lane for lane in plot.lanes if lane.get("state_summaries")]
    for i, lane in enumerate(plot.lanes):
        summaries = lane.get("state_summaries")
        if not summaries:
            continue
        steps = np.asarray(summaries.get("step", []))
        for k, (group, quantities) in enumerate((summaries.get("params") or {}).items()):
            stats = quantities.get("effective_lr")
            if not stats:
                continue
            # One run: a colour and style per parameter group; several: per run (lane).
            style = k if len(recorded) == 1 else i
            label = f"{lane.get('name')}: {group}"
            line = _lane_line(ax, style, steps, _floats(stats["median"]), theme, label)
            line.set_gid(f"lane-{i}-{group}")
            drawn += 1
    if not drawn:
        raise FigureError("--chart state: the state summaries hold no effective lr")
    ax.set_xlabel("step")
    ax.set_ylabel("effective lr α (median over the group's coordinates)")
    ax.set_title(plot.title or "optimizer state")


def sweep_lines(sweep: dict[str, Any]) -> tuple[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """(knob, [(optimizer, knob values, mean final loss)]) of a one-knob sweep."""
    points = sweep.get("points") or []
    knobs = sorted({k for p in points for k in (p.get("knobs") or {})})
    if len(knobs) != 1:
        raise FigureError(
            f"--chart sweep draws one-knob sweeps (this one sweeps {', '.join(knobs) or 'none'})"
        )
    knob = knobs[0]
    lines = []
    for opt in dict.fromkeys(p["optimizer"] for p in points):
        mine = sorted((p for p in points if p["optimizer"] == opt), key=lambda p: p["knobs"][knob])
        xs = _floats(p["knobs"][knob] for p in mine)
        ys = _floats(p.get("final_loss_mean") for p in mine)
        lines.append((str(opt), xs, ys))
    return knob, lines


def _draw_sweep(ax: Any, plot: Plot, theme: dict[str, Any]) -> None:
    assert plot.sweep is not None
    knob, lines = sweep_lines(plot.sweep)
    for i, (opt, xs, ys) in enumerate(lines):
        _lane_line(ax, i, xs, ys, theme, opt, marker=MARKERS[i % 6])
    scale = ((plot.sweep.get("spec") or {}).get("scales") or {}).get(knob)
    if scale == "log" or (knob == "lr" and scale is None):
        ax.set_xscale("log")
    ax.set_xlabel(knob)
    ax.set_ylabel("final loss (mean over seeds)")
    ax.set_title(plot.title or f"sweep of {knob}")


def bench_lines(groups: list[dict[str, Any]]) -> tuple[str, list[tuple[str, np.ndarray, ...]]]:
    """(x label, [(label, sizes, mean, min, max)]) of a bench: one line per optimizer (and
    task, when several), final loss against problem size."""
    sized = [g for g in groups if g.get("size") is not None]
    if not sized:
        raise FigureError("--chart bench needs a bench over sizes (`optplay bench --sizes ...`)")
    knobs = sorted({str(g.get("size_knob")) for g in sized})
    task_names = list(dict.fromkeys(g["task"] for g in sized))
    lines = []
    for task in task_names:
        for opt in dict.fromkeys(g["optimizer"] for g in sized if g["task"] == task):
            mine = sorted((g for g in sized if g["task"] == task and g["optimizer"] == opt),
                          key=lambda g: g["size"])  # fmt: skip
            label = opt if len(task_names) == 1 else f"{task} {opt}"
            lines.append((
                label,
                _floats(g["size"] for g in mine),
                _floats(g.get("final_loss_mean") for g in mine),
                _floats(g.get("final_loss_min") for g in mine),
                _floats(g.get("final_loss_max") for g in mine),
            ))  # fmt: skip
    return f"problem size ({', '.join(knobs)})", lines


def _draw_bench(ax: Any, plot: Plot, theme: dict[str, Any]) -> None:
    assert plot.bench is not None
    xlabel, lines = bench_lines(plot.bench)
    for i, (label, xs, mean, low, high) in enumerate(lines):
        _lane_line(ax, i, xs, mean, theme, label, marker=MARKERS[i % 6])
        ax.fill_between(xs, low, high, color=theme["lanes"][i % 6], alpha=0.15, linewidth=0)
    ax.set_xscale("log", base=2)
    sizes = sorted({float(x) for _, xs, *_ in lines for x in xs})
    ax.set_xticks(sizes, [f"{x:g}" for x in sizes])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("final loss (mean; band: min-max over seeds)")
    ax.set_title(plot.title or "final loss against problem size")


def _draw(fig: Any, plot: Plot, opts: Options, until: float | None = None) -> None:
    theme = THEMES[opts.theme]
    fig.set_facecolor(theme["background"])
    chart = opts.chart
    if chart == "norms":
        top, bottom = fig.subplots(2, 1, sharex=True)
        _draw_series(top, plot, "grad_norm", "‖g‖ gradient norm", theme, until)
        _draw_series(bottom, plot, "update_norm", "‖Δθ‖ update norm", theme, until, "-update")
        top.set_xlabel("")
        top.set_title(plot.title or "norms")
        axes = [top, bottom]
    else:
        ax = fig.subplots()
        axes = [ax]
        if chart == "loss":
            _draw_loss(ax, plot, opts, theme, until)
        elif chart == "lr":
            _draw_series(ax, plot, "lr", "learning rate", theme, until)
            ax.set_title(plot.title or "learning rate")
        elif chart == "path":
            _draw_path(ax, plot, theme, until)
        elif chart == "state":
            _draw_state(ax, plot, theme)
        elif chart == "sweep":
            _draw_sweep(ax, plot, theme)
        elif chart == "bench":
            _draw_bench(ax, plot, theme)
        else:
            raise FigureError(f"--chart must be one of {', '.join(CHARTS)}, got {chart!r}")
    for ax in axes:
        if opts.log and chart != "path":
            ax.set_yscale("log")
        _style(ax, theme)
        _legend(ax, theme)
    if until is not None:
        axes[0].text(0.99, 0.01, f"step {int(until):,}", transform=axes[0].transAxes,
                     ha="right", va="bottom", color=theme["foreground"])  # fmt: skip
    fig.tight_layout()


def _hold_limits(fig: Any, plot: Plot, opts: Options) -> list[tuple[Any, Any]]:
    """The axes limits of the finished chart, so that every GIF frame shares them."""
    Figure = require()
    whole = Figure(figsize=fig.get_size_inches(), dpi=DPI)
    _draw(whole, plot, opts)
    return [(ax.get_xlim(), ax.get_ylim()) for ax in whole.axes if ax.get_label() != "<colorbar>"]


def save(plot: Plot, path: str | os.PathLike[str], opts: Options) -> None:
    """Draw `plot` as `opts.chart` and write it; the format from the suffix (.png, .svg,
    .pdf, .gif, .txt). FigureError / MissingExtra with one line when it cannot."""
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    problem = applies(plot, opts.chart)
    if problem:
        raise FigureError(problem)
    if suffix == "txt":
        from engine.files import write_text_atomic

        write_text_atomic(path, text_chart(plot, opts))
        return
    Figure = require(gif=suffix == "gif")
    width, height = opts.size or DEFAULT_SIZE
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    if suffix == "gif":
        _save_gif(fig, plot, path, opts)
        return
    _draw(fig, plot, opts)
    import io

    from engine.files import write_bytes_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format=suffix, dpi=DPI, facecolor=fig.get_facecolor())
    write_bytes_atomic(path, buf.getvalue())


def _save_gif(fig: Any, plot: Plot, path: str | os.PathLike[str], opts: Options) -> None:
    """`opts.frames` frames of the chart growing to the last step (the Path chart's race, or
    the loss curves), at `opts.fps`."""
    import io

    from PIL import Image

    if plot.kind != "history":
        raise FigureError("GIFs animate a history (the path or the curves), not a result table")
    last = max((float(np.nanmax(np.asarray(lane["step"]))) for lane in plot.lanes
                if len(lane["step"])), default=0.0)  # fmt: skip
    limits = _hold_limits(fig, plot, opts)
    frames = []
    for k in range(1, opts.frames + 1):
        fig.clear()
        _draw(fig, plot, opts, until=last * k / opts.frames)
        for ax, (xlim, ylim) in zip(fig.axes, limits, strict=False):
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor=fig.get_facecolor())
        frames.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=round(1000 / opts.fps), loop=0, optimize=False,
                   disposal=1)  # fmt: skip
    from engine.files import write_bytes_atomic

    write_bytes_atomic(path, out.getvalue())


# -- the same charts as text (plotext) ----------------------------------------------------------


def text_chart(plot: Plot, opts: Options) -> str:
    """The chart as plotext text (no colours): for terminals and issue reports."""
    import plotext as plt

    problem = applies(plot, opts.chart)
    if problem:
        raise FigureError(problem)
    width, height = opts.size or DEFAULT_TEXT_SIZE
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    markers = ("braille", "dot", "+", "x", "*", "o")
    chart = opts.chart
    if chart in ("loss", "lr", "norms"):
        series = {"loss": "loss", "lr": "lr", "norms": "grad_norm"}[chart]
        for i, lane in enumerate(plot.lanes):
            ys = _floats(lane[series])
            if chart == "loss" and opts.smooth:
                ys = _ema(ys, opts.smooth)
            keep = np.isfinite(ys) & ((ys > 0) if opts.log else True)
            name = str(lane.get("name", f"run {i + 1}"))
            label = f"{name}: training loss (batch)" if chart == "loss" else name
            plt.plot(np.asarray(lane["step"])[keep].tolist(), ys[keep].tolist(),
                     label=label, marker=markers[i % 6])  # fmt: skip
            ev = lane.get("eval") or {}
            if chart == "loss" and len(ev.get("step", [])):
                ev_loss = _floats(ev["loss"])
                k = np.isfinite(ev_loss)
                plt.scatter(np.asarray(ev["step"])[k].tolist(), ev_loss[k].tolist(),
                            label=f"{name}: eval loss", marker="o")  # fmt: skip
        plt.xlabel("step")
        title = {"loss": "loss", "lr": "learning rate", "norms": "‖g‖ gradient norm"}[chart]
    elif chart == "path":
        for i, lane in enumerate(plot.lanes):
            if "trajectory" in lane:
                tr = lane["trajectory"]
                plt.plot(_floats(tr["x"]).tolist(), _floats(tr["y"]).tolist(),
                         label=str(lane.get("name")), marker=markers[i % 6])  # fmt: skip
        title = "path"
    elif chart == "sweep":
        assert plot.sweep is not None
        knob, lines = sweep_lines(plot.sweep)
        for i, (opt, xs, ys) in enumerate(lines):
            plt.plot(xs.tolist(), ys.tolist(), label=opt, marker=markers[i % 6])
        plt.xscale("log")
        plt.xlabel(knob)
        title = f"final loss against {knob}"
    elif chart == "bench":
        assert plot.bench is not None
        xlabel, blines = bench_lines(plot.bench)
        for i, (label, xs, mean, _, _) in enumerate(blines):
            plt.plot(xs.tolist(), mean.tolist(), label=label, marker=markers[i % 6])
        plt.xscale("log")
        plt.xlabel(xlabel)
        title = "final loss against problem size"
    else:
        raise FigureError(f"--chart {chart} has no text form (try .png)")
    if opts.log:
        plt.yscale("log")
    plt.title(plot.title or title)
    # No escape sequence (the "clear" theme still writes resets), no trailing blank line.
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", plt.build()).rstrip("\n")
    return "\n".join(line.rstrip() for line in text.split("\n")) + "\n"
