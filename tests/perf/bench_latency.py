"""Responsiveness of the app, measured end to end in a real terminal (tmux) and with Pilot.

Run from the repository root (prints figures; asserts nothing):
    python tests/perf/bench_latency.py [--rounds N] [--only tmux|pilot]

Measures, in one run:
1. launch to first drawn screen (tmux: from starting `optplay` to the key bar on screen);
2. key to screen in tmux: `-` / `+` alternately, from `send-keys` until `capture-pane` shows
   the new speed in the status line; idle (paused) and while training at full speed, for a
   single run (digits-mlp, rosenbrock) and a 6-lane race, at 80x24 and 200x50; p50/p90/max;
3. the same keys with Pilot (the key posted to the app until the session's speed changed),
   to compare with tmux (Pilot skips the terminal, the driver's input thread and the output);
4. training speed under the app (tmux, full speed, the status line's steps/s over a few
   seconds) against headless `Run.step` / `Race.step` measured in this process.

tmux is polled every ~1 ms, so latencies are resolved to about a millisecond. The machine
may be shared: run it when it is quiet, and compare figures measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.compare import Race  # noqa: E402
from engine.config import Experiment, RaceEntry, save  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402

DIGITS = RunConfig(task="digits-mlp", optimizer="adam")
ROSEN = RunConfig(task="rosenbrock", optimizer="adam")
RACERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")
SPEED = re.compile(r"speed (max|[0-9.]+/s)")
RATE = re.compile(r"([0-9,]+) steps/s")


def race_of_six(task: str) -> Experiment:
    entries = [RaceEntry(RunConfig(task=task, optimizer=o)) for o in RACERS]
    return Experiment.of_race(entries, steps=10**9)


class Terminal:
    """`optplay` in a detached tmux session of a given size."""

    def __init__(self, experiment: Experiment, size: tuple[int, int], folder: Path) -> None:
        self.name = f"optplay-bench-{os.getpid()}-{size[0]}x{size[1]}"
        self.folder = folder
        path = folder / "exp.toml"
        save(path, experiment.config if not experiment.race else experiment,
             steps=experiment.steps or 10**9)  # fmt: skip
        config = folder / "config"
        config.mkdir(exist_ok=True)
        (config / "settings.toml").write_text('speed = "max"\nsidebar = "shown"\n')
        env = f"OPTPLAY_CONFIG_DIR={config} TERM=xterm-256color"
        command = f"cd {folder} && {env} {sys.executable} -m tui --config {path}"
        self.started = time.perf_counter()
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y",
             str(size[1]), command],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def status(self) -> str:
        lines = [line for line in self.screen().splitlines() if "step" in line and "speed" in line]
        return lines[-1] if lines else ""

    def send(self, key: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def wait_for(self, condition, timeout: float = 30.0) -> float:
        """Seconds until `condition(screen)` holds (polling ~1 ms)."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if condition(self.screen()):
                return time.perf_counter() - t0
            time.sleep(float(os.environ.get("POLL", "0.0005")))
        raise TimeoutError("the screen did not change in time")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def speed_of(screen: str) -> str | None:
    m = SPEED.findall(screen)
    return m[-1] if m else None


def key_latencies(term: Terminal, rounds: int) -> list[float]:
    """`-` then `+`, `rounds` times each: seconds from send-keys to the new speed on screen."""
    out = []
    for i in range(2 * rounds):
        before = speed_of(term.screen())
        term.send("-" if i % 2 == 0 else "+")
        out.append(term.wait_for(lambda s, before=before: speed_of(s) not in (None, before)))
        time.sleep(0.05)
    return out


def app_rate(term: Terminal, seconds: float = 4.0) -> float:
    """Median steps/s the status line shows over `seconds` of full-speed training."""
    rates = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        m = RATE.search(term.status())
        if m:
            rates.append(float(m.group(1).replace(",", "")))
        time.sleep(0.2)
    return statistics.median(rates) if rates else float("nan")


def headless_rate(experiment: Experiment, seconds: float = 2.0) -> float:
    stepper = Race(list(experiment.race)) if experiment.race else Run(experiment.config)
    stepper.step(50)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        stepper.step(200)
        n += 200
    return n / (time.perf_counter() - t0)


def summary(values: list[float]) -> str:
    ms = sorted(v * 1e3 for v in values)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"p50 {statistics.median(ms):6.1f}  p90 {p90:6.1f}  max {ms[-1]:6.1f} ms"


def tmux_part(rounds: int) -> None:
    cases = {
        "digits-mlp": Experiment(DIGITS, steps=10**9),
        "rosenbrock": Experiment(ROSEN, steps=10**9),
        "6-lane race (digits)": race_of_six("digits-mlp"),
    }
    print("1. Launch to the first drawn screen (tmux, 120x40)")
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(3):
            term = Terminal(cases["rosenbrock"], (120, 40), Path(tmp))
            term.wait_for(lambda s: "palette" in s)
            times.append(time.perf_counter() - term.started)
            term.close()
            time.sleep(0.3)
        print(f"   {statistics.median(times) * 1e3:.0f} ms (median of 3; {min(times) * 1e3:.0f}-"
              f"{max(times) * 1e3:.0f})")  # fmt: skip

    print("\n2. Key to screen in tmux (`-`/`+`, speed in the status line)")
    for size in ((80, 24), (200, 50)):
        for label, experiment in cases.items():
            with tempfile.TemporaryDirectory() as tmp:
                term = Terminal(experiment, size, Path(tmp))
                try:
                    term.wait_for(lambda s: "palette" in s)
                    time.sleep(0.5)
                    idle = key_latencies(term, rounds)
                    term.send("Space")
                    term.wait_for(lambda s: "running" in s)
                    time.sleep(1.0)
                    busy = key_latencies(term, rounds)
                    rate = app_rate(term)
                finally:
                    term.close()
            print(f"   {size[0]}x{size[1]} {label:22} idle {summary(idle)}")
            print(f"   {'':8}{'':22} training {summary(busy)}")
            if size == (80, 24):
                headless = headless_rate(experiment)
                print(f"   {'':8}{'':22} steps/s: app {rate:,.0f} / headless {headless:,.0f} = "
                      f"{rate / headless:.2f}")  # fmt: skip


async def pilot_latency(experiment: Experiment, rounds: int, training: bool) -> list[float]:
    from tui.app import create_app

    app = create_app(experiment)
    out = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        while app.session.speed is not None:
            app.action_faster()
        if training:
            app.action_toggle_run()
            await asyncio.sleep(1.0)
        from textual import events

        for i in range(2 * rounds):
            before = app.session.speed
            key = "minus" if i % 2 == 0 else "plus"
            t0 = time.perf_counter()
            app.post_message(events.Key(key, "-" if key == "minus" else "+"))
            while app.session.speed == before:
                await asyncio.sleep(0.0002)
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        app.session.pause()
        await pilot.pause()
    return out


def pilot_part(rounds: int) -> None:
    print("\n3. Key to action with Pilot (the key posted, until the session changed), 120x40")
    for label, experiment in (
        ("digits-mlp", Experiment(DIGITS, steps=10**9)),
        ("6-lane race (digits)", race_of_six("digits-mlp")),
    ):
        idle = asyncio.run(pilot_latency(experiment, rounds, training=False))
        busy = asyncio.run(pilot_latency(experiment, rounds, training=True))
        print(f"   {label:22} idle {summary(idle)}")
        print(f"   {'':22} training {summary(busy)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="key pairs per case")
    parser.add_argument("--only", choices=("tmux", "pilot"))
    args = parser.parse_args()
    os.environ.setdefault("OPTPLAY_CONFIG_DIR", tempfile.mkdtemp())
    if args.only != "pilot":
        if shutil.which("tmux") is None:
            print("tmux is not installed: the terminal measurements are skipped")
        else:
            tmux_part(args.rounds)
    if args.only != "tmux":
        pilot_part(args.rounds)


if __name__ == "__main__":
    main()
