"""Timers and workers die with their screen (issue 26): a screen dismissed or removed while it
is updating raises nothing, whatever its timer or worker was doing.

Textual calls an interval timer's callback from the timer's own task, so a timer can fire
while its screen is being removed, its widgets already gone (the Sweep screen's progress timer
failed so with `NoMatches '#sweep-progress'`). These tests hold that moment open: a `Stall`
widget in the screen delays the screen's removal until its timer has ticked or stopped.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conftest import SteadyExecutor, screen_text, wait_for
from textual.timer import Timer
from textual.widget import Widget

from engine import presets
from engine.bench import BenchProgress
from engine.sweep import SweepSpec
from tui.app import create_app
from tui.screens import bench as bench_screen
from tui.screens.bench import BenchScreen
from tui.screens.sweep import SweepScreen

SWEEP = SweepSpec(task="rosenbrock", optimizers=("sgd", "adam"), grid={"lr": "1e-3:1e-1:3"},
                  steps=100)  # fmt: skip


def named_timer(screen: Widget, name: str) -> Timer:
    return next(timer for timer in screen._timers if timer.name == name)


class Stall(Widget):
    """Holds its screen's removal open (its unmount waits) until `timer` has ticked once
    after the screen's other widgets were removed, or was stopped: what a slow widget or a
    loaded machine does."""

    def __init__(self, timer: Timer) -> None:
        super().__init__()
        self.timer = timer
        self.ticks = 0
        tick = timer._callback
        assert tick is not None

        def counted() -> Any:
            try:
                return tick()
            finally:
                self.ticks += 1

        timer._callback = counted

    async def on_unmount(self) -> None:
        parent = self.parent
        assert parent is not None
        task = self.timer._task
        start: int | None = None
        for _ in range(1000):  # at most 20 s, and only if the timer neither ticks nor stops
            if task is None or task.done():
                return
            if start is None and all(child is self for child in parent.children):
                start = self.ticks  # the screen's other widgets are gone now
            if start is not None and self.ticks > start:
                return
            await asyncio.sleep(0.02)


def sweep_app() -> Any:
    app = create_app()
    app.sweep_executor = lambda runs: SteadyExecutor(hold_after=2)  # mid-way until cancelled
    return app


async def sweep_mid_way(app: Any) -> SweepScreen:
    app.open_sweep(SWEEP, start=True)
    await wait_for(lambda: isinstance(app.screen, SweepScreen))
    screen = app.screen
    await wait_for(lambda: screen.sweep is not None and len(screen.sweep.rows) == 2)
    return screen


async def test_the_sweep_screen_removed_mid_sweep_raises_nothing() -> None:
    app = sweep_app()
    async with app.run_test(size=(120, 40)):
        screen = await sweep_mid_way(app)
        await screen.mount(Stall(named_timer(screen, "sweep-redraw")))
        # Leaving the test closes the app: the screen is removed while its sweep runs and
        # its timer ticks during the removal (an exception there fails the test).


async def test_the_sweep_screen_left_keeps_its_sweep_and_timer() -> None:
    app = sweep_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await sweep_mid_way(app)
        await pilot.press("escape")  # cancels the sweep: it ends with its rows kept
        await wait_for(lambda: screen.ended)
        await pilot.press("escape")  # leaves the screen: installed, it lives on
        await wait_for(lambda: not isinstance(app.screen, SweepScreen))
        timer = named_timer(screen, "sweep-redraw")
        assert screen.is_attached and timer._task is not None and not timer._task.done()
        app.action_sweep()  # back: the same screen, its rows kept
        await wait_for(lambda: app.screen is screen)
        await pilot.pause()
        assert len(screen.sweep.rows) == 2 and "cancelled: kept 2/" in screen_text(app)
        await pilot.press("escape")  # left again: the app closes with it installed, off the
        await wait_for(lambda: app.screen is not screen)  # stack (where its timer failed)


class EndlessBench:
    """A benchmark that reports progress until its progress callback stops it (or, so that a
    failing test does not keep the test process alive, 60 s have passed)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def __call__(self, spec: Any, progress: Any = None, *args: Any, **kwargs: Any) -> Any:
        step = 0
        try:
            while not self.stopped.wait(0.005) and step < 12_000:
                step += 1
                progress(BenchProgress(1, 2, "quadratic", None, "sgd", 0, step % 50, 50))
        finally:
            self.stopped.set()


async def bench_mid_way(app: Any) -> BenchScreen:
    app.push_screen(BenchScreen(presets.load("benchmark"), "benchmark", "optplay bench"))
    await wait_for(lambda: isinstance(app.screen, BenchScreen))
    await wait_for(lambda: "run 1/2: quadratic" in screen_text(app))  # the timer drew
    return app.screen


async def test_the_bench_screen_dismissed_mid_benchmark_raises_nothing(monkeypatch) -> None:
    bench = EndlessBench()
    monkeypatch.setattr(bench_screen, "run_bench", bench)
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await bench_mid_way(app)
        await screen.mount(Stall(named_timer(screen, "bench-progress")))
        await pilot.press("escape")  # dismissed: removed while its timer and worker run
        await wait_for(lambda: not isinstance(app.screen, BenchScreen) and not screen.is_attached)
        await wait_for(bench.stopped.is_set)
        await wait_for(lambda: all(w.is_finished for w in app.workers if w.node is screen))


async def test_the_benchmark_stops_when_the_app_closes_under_it(monkeypatch) -> None:
    bench = EndlessBench()
    monkeypatch.setattr(bench_screen, "run_bench", bench)
    app = create_app()
    async with app.run_test(size=(120, 40)):
        await bench_mid_way(app)
        # The app closes with the benchmark running: its thread must end with its screen
        # (else the process waits for the whole benchmark before it can exit).
    await wait_for(bench.stopped.is_set)
