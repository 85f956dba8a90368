"""What the app costs: training speed with the UI up, key latency, and chart frame time.

Run from the repository root (prints figures; asserts nothing; about a minute):
    python tests/perf/bench_tui.py

1. Training steps/s, headless `Run.step(n)` in a loop versus the app training the same config
   through `Run.stream` at full speed (Textual headless driver at 120x40, the loss chart in
   view and redrawing at 15 Hz, the status line updating per chunk). Overhead = 1 - app/headless.
   Both sides run in turns for the same wall time; best of a few repeats (shared machine).
2. Key latency while training at full speed: time from a key event being posted to the app
   until its action runs (the `l` key, which also redraws a chart).
3. Chart frame time: one frame of each chart = `draw()` (downsample the history, rasterise
   it, describe the plotext figure) + `build_strips()` (plotext builds its cell matrix, turned
   into Textual strips), at 1e3 and 1e6 steps of history, at 80x24 and 120x40. Median, second
   worst and worst of 20 frames (the first frame after a change also builds caches: the lr
   preview, the contour). Textual's compositor then paints the strips; not included.
4. The same for a race of 6 optimizers (6 lanes with a legend on every chart), at 1e3 and
   1e5 lockstep steps: a frame should cost about 6 single-run frames, whatever the length.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: both sides get one BLAS thread

import asyncio  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events  # noqa: E402

from engine.compare import Race  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402
from tui.app import OptplayApp, create_app  # noqa: E402
from tui.charts import ChartPanel  # noqa: E402

SECONDS = 2.0  # wall time per measurement
REPEATS = 3
NEVER_ENDS = 10**9  # planned steps: the run never finishes during a measurement

CONFIGS = {
    "rosenbrock/adam (2 params)": RunConfig(
        task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02}
    ),
    "digits-mlp/adam (9.6k params)": RunConfig(task="digits-mlp", optimizer="adam"),
}


def headless_rate(config: RunConfig) -> float:
    """Steps per second of `Run.step` called in chunks of about 1/30 s."""
    run = Run(config)
    run.step(200)  # warm up
    t0 = time.perf_counter()
    run.step(200)
    per_step = (time.perf_counter() - t0) / 200
    chunk = max(1, int(1 / 30 / per_step))
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        run.step(chunk)
        done += chunk
    return done / (time.perf_counter() - t0)


async def app_rate(config: RunConfig) -> float:
    """Steps per second while the app trains at full speed with everything on screen."""
    app = create_app(config, steps=NEVER_ENDS)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_toggle_run()
        await asyncio.sleep(0.5)  # warm up: stream chunk sizing, first frames
        start, t0 = app.session.run.steps_done, time.perf_counter()
        await asyncio.sleep(SECONDS)
        rate = (app.session.run.steps_done - start) / (time.perf_counter() - t0)
        app.session.pause()
        await pilot.pause()
    return rate


async def key_latency(config: RunConfig, presses: int = 20) -> list[float]:
    """Seconds from posting a key to its action running, while training at full speed."""
    app = create_app(config, steps=NEVER_ENDS)
    handled: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.set_focus(None)
        toggle = app.action_toggle_log

        def timed_toggle() -> None:
            handled.append(time.perf_counter())
            toggle()

        app.action_toggle_log = timed_toggle  # type: ignore[method-assign]
        app.action_toggle_run()
        await asyncio.sleep(0.5)
        latencies = []
        for _ in range(presses):
            before = len(handled)
            t0 = time.perf_counter()
            app.post_message(events.Key("l", "l"))
            while len(handled) == before:
                await asyncio.sleep(0.001)
            latencies.append(handled[-1] - t0)
            await asyncio.sleep(0.1)
        app.session.pause()
        await pilot.pause()
    return latencies


async def frame_times(
    config: RunConfig, steps: int, size: tuple[int, int], frames: int = 20
) -> dict[str, list]:
    """Per chart tab: seconds per frame (draw + build_strips) of a run of `steps` steps."""
    app: OptplayApp = create_app(config, steps=max(steps, 1000))
    out: dict[str, list[float]] = {}
    async with app.run_test(size=size) as pilot:
        app.session.race.step(steps)
        for tab in ("tab-loss", "tab-lr", "tab-norms", "tab-path"):
            app.show_tab(tab)
            await pilot.pause()
            panel = app.query_one(ChartPanel)
            chart = panel.active_chart()
            assert chart is not None and panel.view is not None
            times = []
            for _ in range(frames):
                t0 = time.perf_counter()
                chart.draw(panel.view)
                chart.build_strips()
                times.append(time.perf_counter() - t0)
            out[tab.removeprefix("tab-")] = times
    return out


async def race_frame_times(race: Race, steps: int, size: tuple[int, int], frames: int = 20) -> dict:
    """Per chart tab: seconds per frame of a race's lanes (draw + build_strips)."""
    app: OptplayApp = create_app(race.runs[0].config)
    out: dict[str, list[float]] = {}
    async with app.run_test(size=size) as pilot:
        app.do(app.session.start_race(race.experiment().race, max(steps, 1000), go=False))
        app.session.race.step(steps)
        await pilot.pause()
        for tab in ("tab-loss", "tab-lr", "tab-norms", "tab-path"):
            app.show_tab(tab)
            await pilot.pause()
            panel = app.query_one(ChartPanel)
            chart = panel.active_chart()
            assert chart is not None and panel.view is not None and panel.view.lanes
            times = []
            for _ in range(frames):
                t0 = time.perf_counter()
                chart.draw(panel.view)
                chart.build_strips()
                times.append(time.perf_counter() - t0)
            out[tab.removeprefix("tab-")] = times
    return out


def print_frames(times: dict[str, list[float]], size: tuple[int, int]) -> None:
    cells = "   ".join(
        f"{name} {statistics.median(t) * 1e3:4.1f}/{sorted(t)[-2] * 1e3:4.1f}/{max(t) * 1e3:5.1f}"
        for name, t in times.items()
    )
    print(f"     {size[0]}x{size[1]}:  {cells}")


def main() -> None:
    print("1. Training speed: headless Run.step vs the app training at full speed (120x40)")
    for label, config in CONFIGS.items():
        best_headless = best_app = 0.0
        for _ in range(REPEATS):
            best_headless = max(best_headless, headless_rate(config))
            best_app = max(best_app, asyncio.run(app_rate(config)))
        overhead = 1 - best_app / best_headless
        print(
            f"   {label:30} headless {best_headless:9,.0f} steps/s   app {best_app:9,.0f} "
            f"steps/s   UI overhead {overhead:6.1%}"
        )

    print("\n2. Key latency while training at full speed (post -> action), 20 presses of `l`")
    for label, config in CONFIGS.items():
        lat = asyncio.run(key_latency(config))
        print(
            f"   {label:30} median {statistics.median(lat) * 1e3:6.1f} ms   "
            f"worst {max(lat) * 1e3:6.1f} ms"
        )

    print("\n3. Chart frame time in ms (draw + build_strips): median / 2nd worst / worst of 20")
    config = CONFIGS["rosenbrock/adam (2 params)"]
    for steps in (1_000, 1_000_000):
        print(f"   history of {steps:,} steps")
        for size in ((80, 24), (120, 40)):
            print_frames(asyncio.run(frame_times(config, steps, size)), size)

    print("\n4. Race chart frame time in ms, 6 lanes: median / 2nd worst / worst of 20")
    racers = ["adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"]
    for steps in (1_000, 100_000):
        race = Race.of(config, racers)
        print(f"   6 lanes of {steps:,} steps")
        for size in ((80, 24), (120, 40)):
            print_frames(asyncio.run(race_frame_times(race, steps, size)), size)


if __name__ == "__main__":
    main()
