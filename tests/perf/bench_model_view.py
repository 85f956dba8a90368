"""Time `task.model_view` per frame for every task that has one, at 80x24 and 120x40 cells.

Run from the repository root:  python tests/perf/bench_model_view.py   (prints figures)

A frame of the app's Model tab is one `model_view` call at cols x 2*rows pixels (two pixels
per cell, half blocks) plus the drawing (the app's part). The whole frame's budget is 15 ms;
the compute part aims at 5 ms or less. Params come from a run trained 200 steps (mid-training,
as the app sees them). "first" is the first call on a fresh task: it includes what is cached
for the task's lifetime (the blobs' PCA, the drawn subsets, least squares). The last section
shows how the cost grows with the network (the regions cost one forward pass per pixel).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.run import Run, RunConfig

SIZES = {"80x24": (80, 48), "120x40": (120, 80)}  # cells -> (width, height) in pixels
FRAMES = 60

CASES = [
    ("binary-mlp", {"dataset": "spiral"}),
    ("binary-mlp", {"dataset": "circle"}),
    ("blobs-mlp", {}),
    ("blobs-mlp", {"n_classes": 10}),
    ("linear-regression", {}),
    ("linear-regression", {"n_features": 20}),
    ("quadratic", {}),
    ("digits-mlp", {}),
    ("sine-rnn", {}),
]
BIGGER = [
    ("binary-mlp", {"dataset": "spiral", "hidden": 64}),
    ("blobs-mlp", {"hidden": 128}),
    ("blobs-mlp", {"n_features": 1000, "n_samples": 20000, "hidden": 64}),
    ("digits-mlp", {"hidden": 1024}),
    ("sine-rnn", {"hidden": 128, "window": 50}),
]


def trained_run(task: str, knobs: dict) -> Run:
    run = Run(RunConfig(task=task, optimizer="adam", task_hypers=knobs), history_capacity=256)
    run.step(200)
    return run


def frame_times(run: Run, width: int, height: int) -> tuple[float, float]:
    """(median, max) seconds of one model_view call over FRAMES calls (after one call that
    fills the task's caches: that one is the "first" column)."""
    run.task.model_view(run.params, width=width, height=height)
    times = []
    for _ in range(FRAMES):
        t0 = time.perf_counter()
        run.task.model_view(run.params, width=width, height=height)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def first_call(task: str, knobs: dict, width: int, height: int) -> float:
    run = trained_run(task, knobs)
    run.task.__dict__.pop("_plane", None)  # forget the cached plane, subsets and least squares
    run.task.__dict__.pop("_line_data", None)
    run.task.__dict__.pop("_least_squares", None)
    t0 = time.perf_counter()
    run.task.model_view(run.params, width=width, height=height)
    return time.perf_counter() - t0


def label(task: str, knobs: dict) -> str:
    shown = " ".join(f"{k}={v}" for k, v in knobs.items())
    return f"{task} {shown}".strip()


def report(cases: list[tuple[str, dict]], title: str) -> None:
    print(title)
    head = f"  {'task':<52} {'kind':<9}"
    for size in SIZES:
        head += f" {size + ' median':>14} {'max':>7}"
    print(head + f" {'first':>8}")
    for task, knobs in cases:
        run = trained_run(task, knobs)
        line = f"  {label(task, knobs):<52} {run.task.model_view_kind or '-':<9}"
        for width, height in SIZES.values():
            median, worst = frame_times(run, width, height)
            line += f" {median * 1e3:>11.3f} ms {worst * 1e3:>7.2f}"
        first = first_call(task, knobs, *SIZES["120x40"])
        print(line + f" {first * 1e3:>5.1f} ms")


def main() -> None:
    print(f"model_view per frame, {FRAMES} frames each (figures on a shared machine vary)\n")
    report(CASES, "default knobs (and two variants)")
    print()
    report(BIGGER, "bigger networks and data (cost grows with hidden units x pixels)")


if __name__ == "__main__":
    main()
