"""`optplay plot INPUT...`: a picture (PNG, SVG, PDF, GIF) or a text chart of runs.

    optplay plot INPUT... [--chart loss|lr|norms|path|state|sweep|bench] [--out FILE]
                 [--size WxH] [--theme light|dark] [--log] [--smooth K]
                 [--frames N --fps F] [--title TEXT] [--no-progress]

INPUT is, in this order of lookup: a file (a history .csv/.json from `optplay run --out` or
the app's export, older versions' included; a sweep or bench result .json/.csv from `optplay
sweep --out` / `optplay bench --out`; an experiment .toml, trained first with a progress
bar), a stored run id (`optplay runs list`), a preset or a lesson (trained first). Several
histories draw one lane each. `--out` picks the format by its suffix: .png, .svg, .pdf, .gif
(the Path chart's race for 2-D tasks, else the curves, growing over --frames frames at --fps)
or .txt (the chart as plotext text); default `optplay-CHART.png`. --size is in pixels
(characters for .txt). Images need the `.[plot]` extra (matplotlib, Pillow): without it,
one line says so and the exit status is 2, as for any bad argument or input.

This module imports no UI library (matplotlib loads only to draw).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from tui.commands.common import PROG, UsageError, emit

NAME = "plot"

SUFFIXES = (".png", ".svg", ".pdf", ".gif", ".txt")
#: tui.figures.CHARTS, spelled out: building the parser must not load NumPy (`optplay runs
#: list` answers in a fraction of a second); tests/tui/test_plot.py holds the two equal.
CHARTS = ("loss", "lr", "norms", "path", "state", "sweep", "bench")


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", text)
    if not m or not (16 <= int(m.group(1)) <= 10000 and 8 <= int(m.group(2)) <= 10000):
        raise argparse.ArgumentTypeError(
            f"must be WIDTHxHEIGHT, e.g. 800x500 (16-10000 x 8-10000), got {text!r}"
        )
    return int(m.group(1)), int(m.group(2))


def _count(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*\d{1,6}\s*", text) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}], got {text!r}")
        return int(text)

    return parse


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number in [0.1, 100], got {text!r}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `plot` to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "plot",
        help="draw runs, sweeps and benches as PNG, SVG, PDF, GIF or text",
        description="Draw a history, a stored run, an experiment, preset or lesson (trained "
        "first), a sweep or a bench result as a picture. Images need `pip install "
        "'optplay[plot]'`; .txt needs nothing more.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT")
    parser.add_argument("--chart", choices=CHARTS, help="what to draw (default: loss; path for "
                        "a GIF of a 2-D task; a sweep's or bench's own chart)")  # fmt: skip
    parser.add_argument("--out", metavar="FILE", help="png, svg, pdf, gif or txt")
    parser.add_argument("--size", type=_size, metavar="WxH", help="pixels (txt: characters)")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--log", action="store_true", help="log scale on the y axis")
    parser.add_argument("--smooth", type=_count(0, 100000), default=0, metavar="K",
                        help="smooth the training loss over about K points (EMA)")  # fmt: skip
    parser.add_argument("--frames", type=_count(1, 1000), default=40, metavar="N",
                        help="GIF frames (default 40)")  # fmt: skip
    parser.add_argument("--fps", type=_fps, default=10.0, metavar="F", help="GIF frames a second")
    parser.add_argument("--title", metavar="TEXT", help="the chart's title")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


# -- inputs -------------------------------------------------------------------------------------


def _floats(values: list[str]) -> list[float]:
    return [float(v) if v not in ("", None) else math.nan for v in values]


def history_csv(text: str, label: str) -> list[dict[str, Any]]:
    """Lanes of a history CSV (`optplay run --out h.csv`, the app's export; a `run` column
    when several runs; older files' `effective_step` read as update_grad_ratio)."""
    import numpy as np

    from engine.history import RENAMED_SERIES, STEP_SERIES

    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "step" not in rows[0]:
        raise UsageError(f"{label}: not a history CSV (no step column)")
    head = [RENAMED_SERIES.get(h, h) for h in rows[0]]
    lanes: dict[str, dict[str, list[str]]] = {}
    for row in rows[1:]:
        if not row:
            continue
        cells = dict(zip(head, row, strict=False))
        name = cells.get("run", Path(label).stem).lstrip("'")
        lane = lanes.setdefault(name, {h: [] for h in head})
        for h in head:
            lane[h].append(cells.get(h, ""))
    out = []
    for name, cols in lanes.items():
        rec: dict[str, Any] = {"name": name, "step": np.array([int(s) for s in cols["step"]])}
        for series in STEP_SERIES:
            rec[series] = np.array(_floats(cols.get(series, [""] * len(cols["step"]))))
        if "eval_loss" in cols:
            ev = [(int(s), float(v)) for s, v in zip(cols["step"], cols["eval_loss"],
                                                      strict=True) if v]  # fmt: skip
            rec["eval"] = {"step": np.array([s for s, _ in ev], np.int64),
                           "loss": np.array([v for _, v in ev])}  # fmt: skip
        out.append(rec)
    return out


def _sweep_csv(rows: list[dict[str, str]]) -> dict[str, Any]:
    """A sweep's points (mean final loss per optimizer and knob value) from its run rows."""
    fixed = {"index", "optimizer", "seed", "target", "steps", "initial_loss", "final_loss",
             "best_loss", "best_step", "final_accuracy", "train_loss", "steps_to_target",
             "diverged_at", "seconds_per_update", "run_seconds", "cpu_seconds", "worker",
             "diverged"}  # fmt: skip
    knobs = [k for k in rows[0] if k not in fixed]
    groups: dict[tuple[Any, ...], list[float]] = {}
    for r in rows:
        key = (r["optimizer"], *(float(r[k]) for k in knobs))
        groups.setdefault(key, []).append(_floats([r["final_loss"]])[0])
    points = [
        {"optimizer": key[0], "knobs": dict(zip(knobs, key[1:], strict=True)),
         "final_loss_mean": float(sum(v) / len(v))}
        for key, v in groups.items()
    ]  # fmt: skip
    return {"points": points, "spec": {"scales": {}}}


def _bench_csv(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    groups = []
    for r in rows:
        g: dict[str, Any] = dict(r)
        g["size"] = int(r["size"]) if r.get("size") else None
        for key in ("final_loss_mean", "final_loss_min", "final_loss_max"):
            g[key] = _floats([r.get(key, "")])[0]
        groups.append(g)
    return groups


def _train(experiment: Any, label: str, progress: bool) -> list[dict[str, Any]]:
    """Train an experiment (a race or one run) as the app does, with a progress bar; its
    lanes as history records."""
    from engine.compare import Race
    from engine.run import Run
    from tui.commands.common import ProgressBar, StopSignals, train
    from tui.figures import history_lanes

    steps = experiment.steps or 1000
    trained: Any = Race.from_experiment(experiment) if experiment.race else Run(experiment.config)
    bar = ProgressBar(sys.stderr, enabled=progress)
    with StopSignals() as stop:
        try:
            train(trained, steps, stop, lambda: bar.show(trained.steps_done / steps, label))
        finally:
            bar.done()
        if stop.hit:
            raise UsageError(f"{label}: interrupted at step {trained.steps_done}")
    if experiment.race:
        return history_lanes(list(zip(trained.names, trained.runs, strict=True)))
    return history_lanes([(experiment.name or experiment.config.optimizer, trained)])


def load_input(text: str, progress: bool) -> tuple[str, Any, str]:
    """(kind, data, title) of one INPUT: ("history", lanes), ("sweep", doc) or ("bench",
    groups). UsageError naming the input when it is none of those."""
    path = Path(text)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".toml":  # read as every experiment file is (bounded, checked)
            from tui.commands.common import load_source

            return _experiment_input(load_source(config_path=text), text, progress)
        if suffix not in (".json", ".csv"):
            raise UsageError(f"{text}: plot reads .csv, .json or .toml files")
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{text}: {err}") from None
        return _json_input(text, raw) if suffix == ".json" else _csv_input(text, raw)
    if re.fullmatch(r"[0-9]{1,18}", text):
        return _stored_input(int(text))
    from engine import lessons, presets

    if text in presets.names():
        return _experiment_input(presets.load(text), f"preset {text}", progress)
    if text in lessons.names():
        lesson = lessons.load(text)
        return _experiment_input(lesson.experiment, f"lesson {text}", progress, lesson.title)
    raise UsageError(
        f"{text}: no such file, stored run id, preset or lesson (see `optplay runs list`, "
        "`optplay list presets`, `optplay list lessons`)"
    )


def _json_input(label: str, raw: str) -> tuple[str, Any, str]:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UsageError(f"{label}: not JSON ({err.msg}, line {err.lineno})") from None
    kind = doc.get("format") if isinstance(doc, dict) else None
    if kind == "optplay-history":
        from engine.history import load_history_json

        try:
            return "history", load_history_json(label), ""
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"{label}: a damaged history file ({err})") from None
    if kind == "optplay-sweep":
        return "sweep", doc, ""
    if kind == "optplay-bench":
        return "bench", list(doc.get("groups") or []), ""
    raise UsageError(f"{label}: not an optplay history, sweep or bench file")


def _csv_input(label: str, raw: str) -> tuple[str, Any, str]:
    head = next(csv.reader(io.StringIO(raw)), [])
    if "step" in head:
        return "history", history_csv(raw, label), ""
    rows = list(csv.DictReader(io.StringIO(raw)))
    if not rows:
        raise UsageError(f"{label}: no rows")
    if "size_knob" in head:
        return "bench", _bench_csv(rows), ""
    if {"index", "optimizer", "seed", "final_loss"} <= set(head):
        return "sweep", _sweep_csv(rows), ""
    raise UsageError(f"{label}: not an optplay history, sweep or bench CSV")


def _experiment_input(source: Any, label: str, progress: bool, title: str = "") -> tuple:
    from engine.config import Experiment

    if not isinstance(source, Experiment):
        word = "bench" if type(source).__name__ == "BenchSpec" else "sweep"
        raise UsageError(
            f"{label} is a {word} spec: run it with `optplay {word} ... --out r.json`, then "
            f"plot r.json"
        )
    return "history", _train(source, label, progress), title or (source.name or "")


def _stored_input(run_id: int) -> tuple[str, Any, str]:
    import sqlite3

    from engine.store import Store, StoreError

    try:
        with Store() as store:
            stored = store.get(run_id)
    except KeyError:
        raise UsageError(f"no stored run with id {run_id} (see `optplay runs list`)") from None
    except (StoreError, sqlite3.Error) as err:
        raise UsageError(f"the run store: {err}") from None
    record = stored.record()
    record["name"] = stored.summary.get("name") or f"run {run_id} ({record['optimizer']})"
    return "history", [record], ""


# -- the command --------------------------------------------------------------------------------


def handle(args: argparse.Namespace) -> int:
    """`optplay plot`: see the module docstring."""
    from tui.figures import FigureError, MissingExtra, Options, Plot, save

    chart = args.chart or "loss"
    out = args.out or f"optplay-{args.chart or 'chart'}.png"
    suffix = Path(out).suffix.lower()
    try:
        if suffix not in SUFFIXES:
            raise UsageError(f"--out {out}: must end in {', '.join(SUFFIXES)}")
        if suffix != ".txt":
            from tui.figures import require

            require(gif=suffix == ".gif")  # before any training: say so at once
        plot: Plot | None = None
        for text in args.inputs:
            kind, data, title = load_input(text, not args.no_progress)
            if plot is None:
                plot = Plot(kind, title=args.title or title)
            elif kind != "history" or plot.kind != "history":
                raise UsageError("several inputs must all be histories (one lane each)")
            if kind == "history":
                plot.lanes += data
            elif kind == "sweep":
                plot.sweep = data
            else:
                plot.bench = data
        assert plot is not None
        if args.chart is None:
            chart = plot.default_chart()
            if suffix == ".gif" and any("trajectory" in lane for lane in plot.lanes):
                chart = "path"  # a GIF of a 2-D task: the race across the contours
            if args.out is None:
                out = f"optplay-{chart}.png"
        if plot.kind == "history" and len(plot.lanes) > 6:
            raise UsageError(f"at most 6 lanes in one chart, got {len(plot.lanes)}")
        options = Options(chart=chart, size=args.size, theme=args.theme, log=args.log,
                          smooth=args.smooth, frames=args.frames, fps=args.fps)  # fmt: skip
        save(plot, out, options)
    except MissingExtra as err:
        emit(sys.stderr, f"{PROG} plot: {err}")
        return 2
    except (UsageError, FigureError) as err:
        emit(sys.stderr, f"{PROG} plot: error: {err}")
        return 2
    except OSError as err:
        emit(sys.stderr, f"{PROG} plot: error: --out {out}: {err.strerror or err}")
        return 2
    emit(sys.stdout, f"wrote {out}")
    return 0
