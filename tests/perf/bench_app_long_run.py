"""A 1,000,000-step run inside the app: memory stays bounded, the charts stay responsive.

Run from the repository root (prints figures; asserts nothing; a few minutes):
    python tests/perf/bench_app_long_run.py [--steps N] [--size 120x40]

The app runs headless (Textual's test driver) on rosenbrock + adam (lr 1e-3, eval every 100
steps) and trains the way a user starts it: `space`, at full speed, through `Run.stream`,
with the status line updating per chunk and the loss chart redrawing on its 10 Hz timer.
At 1e3, 1e4, 1e5 and 1e6 steps it records:
- the process's resident set size (VmRSS, Linux) and its growth since the app started;
- History.nbytes (the run's stored metrics) and the Python objects the GC tracks;
- key latency while training: from posting `l` (log scale, which redraws the chart in
  view) to the chart's next frame being built, median of 5.
After the last checkpoint the run is paused and each chart's frame time is measured:
`draw()` + `build_strips()` (what a timer tick costs), median of 10, at 1e3 steps in a fresh
app and at the end of the long run, to show a frame costs the same at step 1e6.

tracemalloc is off by default (it slows the step loop several times); `--tracemalloc`
reports the traced Python heap at each checkpoint as well.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events  # noqa: E402

from engine.run import RunConfig  # noqa: E402
from tui.app import OptplayApp, create_app  # noqa: E402
from tui.charts import ChartPanel, RunChart  # noqa: E402

CONFIG = RunConfig(
    task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 1e-3}, eval_every=100
)
MIB = 2**20
TABS = ("tab-loss", "tab-lr", "tab-norms", "tab-path")


def rss_mib() -> float:
    """Resident set size of this process in MiB (NaN where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def press(app: OptplayApp, key: str) -> None:
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app.post_message(event)


async def key_latency_ms(app: OptplayApp, repeats: int = 5) -> float:
    """Median time from posting `l` to the visible chart's next frame (ms), while training."""
    samples = []
    for _ in range(repeats):
        chart = app.query_one(ChartPanel).active_chart()
        assert chart is not None
        frame = chart._frame_number
        start = time.perf_counter()
        press(app, "l")
        while chart._frame_number == frame:
            await asyncio.sleep(0.0005)
        samples.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.05)
    return statistics.median(samples)


def frame_ms(app: OptplayApp, chart: RunChart, repeats: int = 10) -> float:
    """Median cost of one frame of `chart`: draw (data -> picture) + build_strips (cells)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        chart.draw(app.query_one(ChartPanel).view)
        chart.build_strips()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def chart_frames(app: OptplayApp, pilot: Any) -> dict[str, float]:
    out = {}
    for tab in TABS:
        app.show_tab(tab)
        await pilot.pause()
        chart = app.query_one(ChartPanel).active_chart()
        assert chart is not None
        out[tab.removeprefix("tab-")] = frame_ms(app, chart)
    app.show_tab("tab-loss")
    return out


async def frames_at(steps: int, size: tuple[int, int]) -> dict[str, float]:
    """Frame times in a fresh app whose run has `steps` steps (stepped synchronously)."""
    app = create_app(CONFIG, steps=10**7)
    async with app.run_test(size=size) as pilot:
        app.session.race.step(steps)
        return await chart_frames(app, pilot)


async def long_run(total: int, size: tuple[int, int], trace: bool) -> None:
    checkpoints = [c for c in (1_000, 10_000, 100_000, 1_000_000) if c <= total]
    if total not in checkpoints:
        checkpoints.append(total)
    app = create_app(CONFIG, steps=total + 50_000)  # still running at `total`
    gc.collect()
    if trace:
        tracemalloc.start()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.set_focus(None)
        base_rss = rss_mib()
        base_heap = tracemalloc.get_traced_memory()[0] if trace else 0
        run = app.session.run
        print(f"app up: RSS {base_rss:.1f} MiB; training {CONFIG.task} + {CONFIG.optimizer} "
              f"at full speed, {size[0]}x{size[1]}")  # fmt: skip
        header = "     steps   RSS MiB  +RSS MiB  history KiB  gc objects  key ms  steps/s"
        print(header + ("  heap +MiB" if trace else ""))
        started = time.perf_counter()
        press(app, "space")
        for checkpoint in checkpoints:
            while run.steps_done < checkpoint:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            latency = await key_latency_ms(app)
            rss = rss_mib()
            row = (
                f"{checkpoint:>10,}  {rss:8.1f}  {rss - base_rss:8.1f}  "
                f"{run.history.nbytes / 1024:11.0f}  {len(gc.get_objects()):10,}  "
                f"{latency:6.1f}  {run.steps_done / elapsed:7,.0f}"
            )
            if trace:
                row += f"  {(tracemalloc.get_traced_memory()[0] - base_heap) / MIB:9.2f}"
            print(row, flush=True)
        press(app, "space")  # pause, then time the frames at the end of the run
        while app.session.race.state == "running":
            await asyncio.sleep(0.05)
        end = await chart_frames(app, pilot)
        steps_end = run.steps_done
    start = await frames_at(1_000, size)
    print(f"\nchart frame (draw + build_strips), median of 10, ms, {size[0]}x{size[1]}:")
    print(f"{'chart':8s} {'1e3 steps':>10s} {f'{steps_end:,} steps':>16s}")
    for name in end:
        print(f"{name:8s} {start[name]:10.2f} {end[name]:16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the heap")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    asyncio.run(long_run(args.steps, (width, height), args.tracemalloc))


if __name__ == "__main__":
    main()
