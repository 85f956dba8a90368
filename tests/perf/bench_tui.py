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
5. Worst frame per chart, measured as the app draws: every chart tab (Loss, LR, Norms, Path for
   a 2-D task, Model for a task that has it, State) of a single run and of a race of 6, at
   80x24 and 120x40 (see `FrameMeter` for what a frame is and what is left out: the UI
   thread's CPU time of the chart's drawing, up to the strips the compositor takes).
   Columns: the first frame after a tab switch (the tab's caches cold, the run moved on since
   it last drew), after a task switch (a single run: the task picked at step 0 and back; a
   race: a new race on the other task; a 2-D task opens on Path, the other tabs' first frame
   after the switch is when they are opened), after a reset, then the median and the worst
   of 20 steady frames (the runs step between frames, as while training; the training thread
   is not running meanwhile). Histories of 1e3 and 1e6 steps; races 1e5 steps per lane (6e5
   in all: 1e6 per lane takes minutes to train); the networks fewer (NETWORK_STEPS: digits
   trains at ~5k steps/s), which costs a frame the same: a history is folded into 4096
   buckets, so past ~1e4 steps a frame does not depend on the length. The first frames after
   a reset or a task switch are at step 0, so they do not depend on it either.
   Select sections with arguments: `python tests/perf/bench_tui.py 5` runs only this one
   (about 10 minutes), `python tests/perf/bench_tui.py 5 rosenbrock` one case of it.
6. Frames while training digits-mlp/adam at full speed (120x40, 2 x SECONDS per case), with the
   sharpness measured every 10 steps (the Sharpness tab shown: it switches measuring on)
   beside the same with it off (the Loss tab): p50/p90/max of the chart frames on the UI
   thread (`FrameMeter`) against TARGET_MS, training steps/s, and on which threads the
   measurements ran (the training worker's, never the UI thread).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: both sides get one BLAS thread

import asyncio  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events  # noqa: E402
from textual.widgets import TabbedContent  # noqa: E402

from engine.compare import Race  # noqa: E402
from engine.config import Experiment, RaceEntry  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402
from tui.app import OptplayApp, create_app  # noqa: E402
from tui.charts import ChartPanel  # noqa: E402
from tui.charts.model import ModelChart  # noqa: E402

SECONDS = 2.0  # wall time per measurement
REPEATS = 3
NEVER_ENDS = 10**9  # planned steps: the run never finishes during a measurement

CONFIGS = {
    "rosenbrock/adam (2 params)": RunConfig(
        task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02}
    ),
    "digits-mlp/adam (9.6k params)": RunConfig(task="digits-mlp", optimizer="adam"),
    # The sharpness (power iteration on Hessian-vector products) every 10 steps, as the
    # Sharpness tab records it: what it costs the app's training and its keys.
    "digits-mlp/adam, sharpness/10": RunConfig(
        task="digits-mlp", optimizer="adam", sharpness_every=10
    ),
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


def full_speed(app: OptplayApp) -> None:
    """Lift the speed limit (the app starts at DEFAULT_SPEED steps per second)."""
    while app.session.speed is not None:
        app.session.faster()


async def app_rate(config: RunConfig) -> float:
    """Steps per second while the app trains at full speed with everything on screen."""
    app = create_app(config, steps=NEVER_ENDS)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        full_speed(app)
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
        full_speed(app)
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


# -- 5. worst frame per chart, as the app draws ------------------------------------------------

RACERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")
RACE_SCHEDULES = ("constant", "step", "exponential", "cosine-restarts", "cosine", "warmup-cosine")
#: (label, task, the task switched to and back, optimizer knobs)
FRAME_CASES = (
    ("rosenbrock", "rosenbrock", "beale", {"lr": 0.02}),
    ("binary-mlp", "binary-mlp", "blobs-mlp", {}),
    ("digits-mlp", "digits-mlp", "binary-mlp", {}),
)
#: Longest history per (task, race?): 1e6 steps of a network take minutes to train (digits
#: about 5k steps/s); its history is folded into buckets long before, so a frame costs the same.
NETWORK_STEPS = {
    ("rosenbrock", False): 1_000_000,
    ("rosenbrock", True): 100_000,
    ("binary-mlp", False): 100_000,
    ("binary-mlp", True): 20_000,
    ("digits-mlp", False): 20_000,
    ("digits-mlp", True): 5_000,
}
FRAME_SIZES = ((80, 24), (120, 40))
STEADY_FRAMES = 20
STEPS_BETWEEN_FRAMES = 10
TAB_NAMES = {"tab-loss": "Loss", "tab-lr": "LR", "tab-norms": "Norms", "tab-path": "Path",
             "tab-model": "Model", "tab-state": "State"}  # fmt: skip
COLUMNS = ("tab", "task", "reset", "median", "worst")
TARGET_MS = 15.0


class FrameMeter:
    """Times the chart's work on the UI thread and cuts it into frames. A frame is what runs
    between two screen updates: the drawing calls (the panel's redraw, a chart's draw, the
    Model tab's paint) and the strips the compositor takes from the chart's widgets
    (`render_lines`, also when a layout of the screen renders them); a drawing call after
    strips were taken starts the next frame. Nested calls count once. A frame that drew is a
    chart frame; one that only repainted (a tab just shown repaints its last picture before
    its chart draws) counts among the first frames after a switch, not the steady ones.

    The screen's own layout (`Screen._refresh_layout`, less the chart strips rendered in it)
    is kept apart in `layouts`: after a tab switch, a task switch or a reset it is Textual's
    work (the tab shown, the sidebar's form rebuilt); between steady frames the chart's
    (a widget of it changed size), and `chart_frames` adds it to the frame. Time is the UI
    thread's CPU time (`time.thread_time`): what other processes take on a loaded machine does
    not count.
    A full garbage collection (generation 2: it walks the whole app's heap, ~60k objects) that
    starts inside a frame is not the chart's drawing either: its time is left out of the
    frame and kept apart (`full_collections`: (frame with it, the collection), in ms)."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bool]] = []  # (ms, drew)
        self.layouts: list[float] = []
        self.full_collections: list[tuple[float, float]] = []
        self._depth = 0
        self._current = 0.0
        self._rendering = 0.0  # chart strips rendered inside the running layout
        self._collecting = 0.0
        self._collection_start: float | None = None
        self._drew = False
        self._rendered = False
        gc.callbacks.append(self._on_gc)

    def close(self) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2 or not self._depth:
            return
        if phase == "start":
            self._collection_start = time.thread_time()
        elif self._collection_start is not None:
            self._collecting += time.thread_time() - self._collection_start
            self._collection_start = None

    def wrap(self, obj: Any, name: str, kind: str = "check") -> None:
        """Time `obj.name` (an instance attribute shadows the class's method); `kind`:
        "check" (may draw), "draw" (draws), "render" (strips for the compositor) or
        "layout" (the screen's)."""
        original: Callable[..., Any] = getattr(obj, name)
        meter = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if meter._depth and kind != "render":
                meter._drew = meter._drew or kind == "draw"
                return original(*args, **kwargs)
            if kind in ("check", "draw") and meter._rendered:
                meter._close()
            outermost = not meter._depth
            meter._depth += 1
            before = meter._rendering
            t0 = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - t0
                meter._depth -= 1
                if kind == "layout":
                    rendered = meter._rendering - before
                    meter.layouts.append((spent - rendered) * 1e3)
                    meter._current += rendered
                    meter._rendering = before
                elif outermost:
                    meter._current += spent
                elif kind == "render":
                    meter._rendering += spent  # inside a layout, or a draw (counted there)
                meter._drew = meter._drew or kind == "draw"
                meter._rendered = meter._rendered or kind == "render"

        setattr(obj, name, timed)

    def _close(self) -> None:
        if self._drew or self._rendered:
            self.frames.append(((self._current - self._collecting) * 1e3, self._drew))
            if self._collecting and self._drew:
                self.full_collections.append((self._current * 1e3, self._collecting * 1e3))
        self._current, self._collecting, self._drew, self._rendered = 0.0, 0.0, False, False

    def take(self, repaints: bool = False) -> list[float]:
        """The chart frames since the last take (ms), without full collections; with
        `repaints`, the frames that only repainted too."""
        self._close()
        out = [ms for ms, drew in self.frames if drew or repaints]
        self.frames = []
        return out

    def take_layouts(self) -> list[float]:
        """The screen's layouts since the last take (ms, less the chart strips in them)."""
        out, self.layouts = self.layouts, []
        return out


def instrument(app: OptplayApp, meter: FrameMeter) -> None:
    """Wrap the panel's redraw, every chart widget's drawing and render_lines, and the
    screen's layout."""
    panel = app.main.query_one(ChartPanel)
    meter.wrap(panel, "redraw")
    meter.wrap(app.main, "_refresh_layout", "layout")
    for widget in panel.query("*"):
        if isinstance(widget, ModelChart):  # draws when a computed view is painted
            meter.wrap(widget, "draw")
            meter.wrap(widget, "_show", "draw")
            meter.wrap(widget, "_paint")
            meter.wrap(widget, "_paint_message")
        elif hasattr(widget, "draw") and hasattr(widget, "data_key"):
            meter.wrap(widget, "draw", "draw")
    for pane in panel.query("TabPane"):
        for widget in pane.query("*"):
            meter.wrap(widget, "render_lines", "render")


async def settle(pilot: Any, app: OptplayApp) -> None:
    """Until the screen shows the chart (the Model tab: its view computed and painted; the
    LR tab: the previews of long runs made in a thread, drawn)."""
    await pilot.pause()
    await pilot.pause()
    chart = app.main.query_one(ChartPanel).active_chart()
    if hasattr(chart, "busy"):
        deadline = time.perf_counter() + 10
        while chart.busy and time.perf_counter() < deadline:
            await pilot.pause(0.01)
        await pilot.pause()


def race_entries(task: str, hypers: dict[str, float]) -> list[RaceEntry]:
    """Six optimizers, each with its own schedule (RACE_SCHEDULES: the LR tab previews six
    curves, some of them costly to sample over a long run)."""
    base = RunConfig(task=task, optimizer="adam", optimizer_hypers=hypers)
    return [
        RaceEntry(base.replace(optimizer=name, optimizer_hypers={}, schedule=schedule))
        for name, schedule in zip(RACERS, RACE_SCHEDULES, strict=True)
    ]


Frames = dict[tuple[tuple[int, int], str], dict[str, list[float]]]


async def chart_frames(
    case: tuple[str, str, str, dict[str, float]], race: bool, steps: int
) -> tuple[Frames, list[tuple[float, float]]]:
    """Frames (ms) per (size, tab) and column of one case (see section 5 of the docstring),
    and the full collections that ran inside frames."""
    _, task, other, hypers = case
    config = RunConfig(task=task, optimizer="adam", optimizer_hypers=hypers)
    experiment = Experiment.of_race(race_entries(task, hypers)) if race else Experiment(config)
    app = create_app(experiment, steps=max(steps, 1000) * 2)
    out: Frames = {}
    meter = FrameMeter()
    async with app.run_test(size=FRAME_SIZES[0]) as pilot:
        await pilot.pause()
        panel = app.main.query_one(ChartPanel)
        instrument(app, meter)
        app.do(app.session.watch_state())  # the State tab records from the first step
        app.session.race.step(steps)
        meter.take()

        def cell(size: tuple[int, int], tab: str) -> dict[str, list[float]]:
            return out.setdefault((size, tab), {c: [] for c in (*COLUMNS, "layout")})

        def clear() -> None:
            meter.take(repaints=True)
            meter.take_layouts()

        for size in FRAME_SIZES:
            await pilot.resize_terminal(*size)
            tabs = panel.shown_tabs()
            app.show_tab(tabs[-1])  # every tab below is switched to from another one
            await settle(pilot, app)
            for tab in tabs:
                app.session.race.step(STEPS_BETWEEN_FRAMES)  # moved on since it last drew
                clear()
                app.show_tab(tab)
                await settle(pilot, app)
                cell(size, tab)["tab"] += meter.take(repaints=True)
                cell(size, tab)["layout"] += meter.take_layouts()
                steady = cell(size, tab)["median"]
                for _ in range(STEADY_FRAMES):
                    app.session.race.step(STEPS_BETWEEN_FRAMES)
                    clear()
                    panel.redraw()
                    await settle(pilot, app)
                    frames = meter.take()
                    if frames:  # a layout here is the chart's doing: its widgets changed
                        frames[frames.index(max(frames))] += sum(meter.take_layouts())
                    steady += frames
                cell(size, tab)["worst"] = steady
        for size in FRAME_SIZES:
            await pilot.resize_terminal(*size)
            for tab in panel.shown_tabs():
                app.show_tab(tab)
                await settle(pilot, app)
                app.session.race.step(STEPS_BETWEEN_FRAMES)
                clear()
                app.action_reset()
                await settle(pilot, app)
                cell(size, tab)["reset"] += meter.take(repaints=True)
                cell(size, tab)["layout"] += meter.take_layouts()
        for size in FRAME_SIZES:
            await pilot.resize_terminal(*size)
            for tab in panel.shown_tabs():
                for switch_to in (other, task):
                    app.show_tab(tab)
                    await settle(pilot, app)
                    clear()
                    if race:
                        entries = race_entries(switch_to, hypers if switch_to == task else {})
                        app.do(app.session.start_race(entries, max(steps, 1000), go=False))
                    else:
                        app.do(app.session.pick("task", switch_to))
                    await settle(pilot, app)
                    frames = meter.take(repaints=True)
                    if panel.query_one(TabbedContent).active != tab and tab in panel.shown_tabs():
                        app.show_tab(tab)  # a 2-D task opened on Path: now the tab asked for
                        await settle(pilot, app)
                        frames = meter.take(repaints=True)
                    if tab in panel.shown_tabs():
                        cell(size, tab)["task"] += frames
                        cell(size, tab)["layout"] += meter.take_layouts()
    meter.close()
    return out, meter.full_collections


def frames_row(frames: dict[str, list[float]]) -> tuple[list[str], float]:
    """The row's cells ("!" marks a frame over TARGET_MS; the layout column is Textual's,
    not a chart frame, and is not marked) and its worst chart frame."""
    cells = []
    worst = 0.0
    for column in (*COLUMNS, "layout"):
        values = frames[column]
        if not values:
            cells.append("-")
            continue
        value = statistics.median(values) if column == "median" else max(values)
        over = value > TARGET_MS and column != "layout"
        if column != "layout":
            worst = max(worst, max(values))
        cells.append(f"{value:5.1f}{'!' if over else ' '}")
    return cells, worst


def print_chart_frames(selected: tuple[str, ...] = ()) -> None:
    print(
        "\n5. Chart frames in ms as the app draws them: the chart's work on the UI thread (CPU\n"
        "   time) up to the strips Textual paints. First frame after a tab switch / a task\n"
        f"   switch / a reset, steady median and worst of {STEADY_FRAMES}; '!' marks a frame over "
        f"{TARGET_MS:g} ms.\n"
        "   layout: the worst layout of the screen by Textual after a switch or reset (the tab\n"
        "   shown, the form rebuilt), less the chart strips rendered in it: not the chart's\n"
        "   drawing, not marked (a layout between steady frames is the chart's: in its frame)"
    )
    worst_per_chart: dict[tuple[str, tuple[int, int]], float] = {}
    layouts: list[float] = []
    collections: list[tuple[float, float]] = []
    frames_seen = 0
    header = "".join(f"{c:>9}" for c in (*COLUMNS, "layout"))
    for case in FRAME_CASES:
        if selected and case[0] not in selected:
            continue
        for race in (False, True):
            longest = NETWORK_STEPS[(case[1], race)]
            for steps in (1_000, longest):
                t0 = time.perf_counter()
                found, collected = asyncio.run(chart_frames(case, race, steps))
                collections += collected
                frames_seen += sum(
                    len(v) for f in found.values() for k, v in f.items() if k in COLUMNS[:4]
                )
                what = f"{case[0]} {'race of 6' if race else 'single run'}, {steps:,} steps"
                print(f"   {what}  ({time.perf_counter() - t0:.0f} s)")
                print(f"      {'size':8}{'chart':7}{header}")
                for (size, tab), frames in found.items():
                    cells, worst = frames_row(frames)
                    name = TAB_NAMES[tab]
                    print(
                        f"      {f'{size[0]}x{size[1]}':8}{name:7}"
                        + "".join(f"{c:>9}" for c in cells)
                    )
                    key = (name, size)
                    worst_per_chart[key] = max(worst_per_chart.get(key, 0.0), worst)
                    layouts += frames["layout"]
    print("\n   Worst chart frame per chart (every case and column above but layout):")
    for size in FRAME_SIZES:
        cells = [
            f"{name} {worst_per_chart[(name, size)]:.1f}"
            for name in TAB_NAMES.values()
            if (name, size) in worst_per_chart
        ]
        over = [c for c in cells if float(c.split()[-1]) > TARGET_MS]
        print(
            f"      {size[0]}x{size[1]}: "
            + "   ".join(cells)
            + (f"   over {TARGET_MS:g} ms: {len(over)}" if over else "   all within target")
        )
    if layouts:
        print(
            f"   Textual's layouts of the screen meanwhile: {len(layouts)}, median "
            f"{statistics.median(layouts):.1f} ms, worst {max(layouts):.1f} ms"
        )
    if collections:
        with_it = max(frame for frame, _ in collections)
        lo, hi = min(c for _, c in collections), max(c for _, c in collections)
        print(
            f"   Full garbage collections (the whole heap; left out above) started inside "
            f"{len(collections)} of {frames_seen} frames: {lo:.1f}-{hi:.1f} ms each; the worst "
            f"frame with one {with_it:.1f} ms"
        )
    else:
        print(f"   No full garbage collection started inside any of the {frames_seen} frames")


async def frames_while_training(sharpness: bool) -> tuple[list[float], float, set[str]]:
    """Chart frames (ms) on the UI thread while digits-mlp/adam trains at full speed for
    2 x SECONDS, on the Sharpness tab (measuring every 10 steps) or the Loss tab (not measuring);
    steps/s; the names of the threads the sharpness measurements ran on."""
    app = create_app(CONFIGS["digits-mlp/adam (9.6k params)"], steps=NEVER_ENDS)
    threads: set[str] = set()
    meter = FrameMeter()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.set_focus(None)
        instrument(app, meter)
        app.show_tab("tab-sharpness" if sharpness else "tab-loss")
        await settle(pilot, app)
        run = app.session.run
        if sharpness:
            assert run.config.sharpness_every == 10, run.config.sharpness_every
            probe = run._sharpness
            measure = probe.measure

            def traced(*args: Any, **kwargs: Any) -> Any:
                threads.add(threading.current_thread().name)
                return measure(*args, **kwargs)

            probe.measure = traced  # type: ignore[method-assign]
        full_speed(app)
        app.action_toggle_run()
        await asyncio.sleep(0.5)  # warm up: stream chunk sizing, first frames
        meter.take()
        start, t0 = run.steps_done, time.perf_counter()
        await asyncio.sleep(2 * SECONDS)
        rate = (run.steps_done - start) / (time.perf_counter() - t0)
        frames = meter.take()
        app.session.pause()
        await pilot.pause()
        if sharpness:
            assert run.history.count("sharpness") > 0
    meter.close()
    return frames, rate, threads


def sharpness_frames() -> None:
    print(
        "\n6. digits-mlp/adam training at full speed (120x40): chart frames on the UI thread\n"
        f"   in ms (p50 / p90 / max, target {TARGET_MS:g} ms), sharpness every 10 steps and off"
    )
    ui = threading.main_thread().name
    for _ in range(REPEATS - 1):
        for sharpness in (False, True):
            frames, rate, threads = asyncio.run(frames_while_training(sharpness))
            if not frames:
                print("   no frame drawn")
                continue
            ordered = sorted(frames)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            over = sum(f > TARGET_MS for f in frames)
            label = "sharpness/10 (Sharpness tab)" if sharpness else "no sharpness (Loss tab)  "
            where = ""
            if sharpness:
                on_ui = ui in threads
                where = f"   measured on {sorted(threads)}{' (UI THREAD!)' if on_ui else ''}"
            p50, worst = statistics.median(frames), max(frames)
            print(
                f"   {label} {len(frames):3} frames {p50:5.1f} / {p90:5.1f} / {worst:5.1f}   "
                f"over target {over:2}   {rate:7,.0f} steps/s{where}"
            )


def main() -> None:
    sections = {arg for arg in sys.argv[1:] if arg.isdigit()} or {"1", "2", "3", "4", "5", "6"}
    cases = tuple(arg for arg in sys.argv[1:] if not arg.isdigit())
    if "1" in sections:
        training_speed()
    if "2" in sections:
        key_latencies()
    if "3" in sections or "4" in sections:
        frame_sections(sections)
    if "5" in sections:
        print_chart_frames(cases)
    if "6" in sections:
        sharpness_frames()


def training_speed() -> None:
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


def key_latencies() -> None:
    print("\n2. Key latency while training at full speed (post -> action), 20 presses of `l`")
    for label, config in CONFIGS.items():
        lat = asyncio.run(key_latency(config))
        print(
            f"   {label:30} median {statistics.median(lat) * 1e3:6.1f} ms   "
            f"worst {max(lat) * 1e3:6.1f} ms"
        )


def frame_sections(sections: set[str]) -> None:
    config = CONFIGS["rosenbrock/adam (2 params)"]
    if "3" in sections:
        print("\n3. Chart frame time in ms (draw + build_strips): median / 2nd worst / worst of 20")
        for steps in (1_000, 1_000_000):
            print(f"   history of {steps:,} steps")
            for size in ((80, 24), (120, 40)):
                print_frames(asyncio.run(frame_times(config, steps, size)), size)
    if "4" in sections:
        print("\n4. Race chart frame time in ms, 6 lanes: median / 2nd worst / worst of 20")
        for steps in (1_000, 100_000):
            race = Race.of(config, list(RACERS))
            print(f"   6 lanes of {steps:,} steps")
            for size in ((80, 24), (120, 40)):
                print_frames(asyncio.run(race_frame_times(race, steps, size)), size)


if __name__ == "__main__":
    main()
