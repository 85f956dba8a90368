"""Time one frame of the app's Model tab at 120x40 per task: compute the view AND draw it.

Run from the repository root:  python tests/perf/bench_model_tab.py   (prints figures)
With `--blas-threads`, NumPy keeps its default BLAS threads (the app does not limit them);
on a loaded 2-core machine their spin-waiting makes the medians several times noisier.

A frame is what the Model tab does for one new picture: `compute` (the task's `model_view` at
the chart's pixel grid, in the app a worker thread) plus `paint` (the painter fills the cell
grid) plus `strips` (the cells become Textual Strips, one Segment per run of equal style).
At 120x40 the chart is 88 x 36 cells, so decision regions are 82 x 66 pixels (two per cell).
The budget of a whole frame is 15 ms.

Each task is timed twice: on an idle process, and while a run of the same task trains at
full speed in a thread (as in the app, where the view is computed beside training). Colours
and the look come from the real app's theme (textual-dark), read once through a headless app.
"no colour" repeats the frame as NO_COLOR draws it (textures instead of half blocks).
"""

from __future__ import annotations

import os
import sys

if "--blas-threads" not in sys.argv:  # as the other app benchmarks: one BLAS thread each
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"  # before numpy loads

import asyncio
import statistics
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.run import Run, RunConfig
from tui.charts.cells import Look
from tui.charts.model.chart import Request, compute, paint
from tui.charts.model.ink import Ink
from tui.charts.model.regions import pixel_size

COLS, ROWS = 88, 36  # the Model tab's chart at a 120x40 terminal
FRAMES = 40

CASES = [
    ("binary-mlp", {"dataset": "spiral"}),
    ("binary-mlp", {"dataset": "circle", "hidden": 64}),
    ("blobs-mlp", {}),
    ("blobs-mlp", {"n_classes": 10}),
    ("blobs-mlp", {"n_features": 1000, "n_samples": 20000, "hidden": 64}),
    ("linear-regression", {}),
    ("linear-regression", {"n_features": 20}),
    ("quadratic", {}),
    ("digits-mlp", {}),
    ("sine-rnn", {}),
]


def theme_ink() -> Ink:
    """The Model chart's colours in the default theme, from a headless app."""
    from tui.app import create_app
    from tui.charts.model import ModelChart

    async def read() -> Ink:
        app = create_app(RunConfig(task="binary-mlp", optimizer="adam"))
        async with app.run_test(size=(120, 40)) as pilot:
            app.show_tab("tab-model")
            await pilot.pause()
            return app.query_one(ModelChart).ink()

    return asyncio.run(read())


def trained_run(task: str, knobs: dict) -> Run:
    run = Run(RunConfig(task=task, optimizer="adam", task_hypers=knobs), history_capacity=256)
    run.step(200)
    return run


def frame(run: Run, look: Look, ink: Ink) -> tuple[float, float, float]:
    """Seconds of (compute, paint, strips) for one frame."""
    width, height = pixel_size(COLS, ROWS, look)
    request = Request(run, run.task, run.steps_done, width, height)
    t0 = time.perf_counter()
    computed = compute(run, request)
    t1 = time.perf_counter()
    canvas = paint(COLS, ROWS, run, computed, look, ink)
    t2 = time.perf_counter()
    canvas.strips()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


class Trainer:
    """A run of the same task stepping at full speed in a thread (the app's training)."""

    def __init__(self, task: str, knobs: dict) -> None:
        self.run = Run(RunConfig(task=task, optimizer="adam", task_hypers=knobs),
                       history_capacity=256)  # fmt: skip
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._train, daemon=True)

    def _train(self) -> None:
        while not self._stop.is_set():
            self.run.step(50)

    def __enter__(self) -> Run:
        self._thread.start()
        return self.run

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(run: Run, look: Look, ink: Ink) -> tuple[list[float], list[float], list[float]]:
    frame(run, look, ink)  # fills the task's caches (the "first" column)
    parts: tuple[list[float], list[float], list[float]] = ([], [], [])
    for _ in range(FRAMES):
        for part, seconds in zip(parts, frame(run, look, ink), strict=True):
            part.append(seconds)
    return parts


def first_frame(task: str, knobs: dict, ink: Ink) -> float:
    run = trained_run(task, knobs)
    return sum(frame(run, Look(), ink))


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f}"


def label(task: str, knobs: dict) -> str:
    return f"{task} {' '.join(f'{k}={v}' for k, v in knobs.items())}".strip()


def main() -> None:
    ink = theme_ink()
    print(f"Model tab frame at 120x40 (chart {COLS}x{ROWS} cells): median of {FRAMES} frames "
          "in ms (best: the fastest frame); a shared machine's figures vary")  # fmt: skip
    print(f"  {'task':<52} {'compute':>7} {'ui':>5} {'frame':>6} {'best':>5} {'no colour':>9}"
          f" {'training':>8} {'first':>6}")  # fmt: skip
    worst = worst_ui = 0.0
    for task, knobs in CASES:
        run = trained_run(task, knobs)
        c, p, s = measure(run, Look(), ink)
        ui = [a + b for a, b in zip(p, s, strict=True)]
        totals = [a + b for a, b in zip(c, ui, strict=True)]
        mono = [sum(x) for x in zip(*measure(run, Look(colors=False), ink), strict=True)]
        with Trainer(task, knobs) as training:
            time.sleep(0.05)
            busy = [sum(x) for x in zip(*measure(training, Look(), ink), strict=True)]
        first = first_frame(task, knobs, ink)
        worst = max(worst, statistics.median(busy))
        worst_ui = max(worst_ui, statistics.median(ui))
        best = min(totals) * 1e3
        print(f"  {label(task, knobs):<52} {ms(c):>7} {ms(ui):>5} {ms(totals):>6} "
              f"{best:5.2f} {ms(mono):>9} {ms(busy):>8} {first * 1e3:6.1f}")  # fmt: skip
    print(f"\nworst median frame (compute + draw) while a run trains: {worst * 1e3:.2f} ms;")
    print(f"worst median draw on the UI thread: {worst_ui * 1e3:.2f} ms (budget 15 ms)")
    print("compute runs in a worker thread (at most 10 views/s, at most 20% of the time);")
    print("ui = paint + strips, on the UI thread; first = the first frame of a fresh task.")


if __name__ == "__main__":
    main()
