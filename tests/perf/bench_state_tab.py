"""Frame time of the State tab: one `StateTab.draw` (read the optimizer state of every run shown,
bin the effective rates, read the summaries, fill the table / histogram rows / curves, draw
the α chart) plus the α chart's `build_strips`, at 80x24 and 120x40.

Run from the repository root (prints figures; asserts nothing; about a minute):
    python tests/perf/bench_state_tab.py

Cases: Rosenbrock + Adam (the coordinate table), digits-mlp + Adam (9.6k parameters: four
histogram rows over every parameter's α, read each frame) and a race of six optimizers on
digits-mlp, each after 1,000 and 20,000 steps recorded with the app's STATE_EVERY (the
summaries' buckets are full and folding by then). Median / 2nd worst / worst of 30 frames,
and the median against the Loss chart's frame of the same runs and size, drawn in turns (a
ratio that a loaded machine disturbs less). The target for any chart frame is 15 ms.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import asyncio  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.config import Experiment, RaceEntry  # noqa: E402
from engine.run import RunConfig  # noqa: E402
from tui.app import create_app  # noqa: E402
from tui.charts import ChartPanel  # noqa: E402
from tui.charts.state import StateTab  # noqa: E402

DIGITS = RunConfig(task="digits-mlp", optimizer="adam", eval_every=0)
CASES = {
    "rosenbrock/adam": Experiment(
        RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    ),
    "digits-mlp/adam": Experiment(DIGITS),
    "digits-mlp race of 6": Experiment.of_race(
        [
            RaceEntry(DIGITS.replace(optimizer=name, optimizer_hypers={}))
            for name in ("adam", "sgd", "momentum", "rmsprop", "adagrad", "nadam")
        ]
    ),
}


async def frame_times(
    experiment: Experiment, steps: int, size: tuple[int, int]
) -> tuple[list[float], list[float]]:
    """(State tab frames, Loss chart frames of the same runs), 3 rounds of 10 frames each in
    turns, so a burst of load from other processes hits both alike."""
    app = create_app(experiment, steps=max(steps, 1000))
    times: dict[str, list[float]] = {"tab-state": [], "tab-loss": []}
    async with app.run_test(size=size) as pilot:
        app.show_tab("tab-state")
        await pilot.pause()
        app.session.race.step(steps)
        for _ in range(3):
            for tab in times:
                app.show_tab(tab)
                await pilot.pause()
                panel = app.query_one(ChartPanel)
                panel.redraw(force=True)
                await pilot.pause()
                await pilot.pause()
                chart = panel.active_chart()
                strips = chart.chart if isinstance(chart, StateTab) else chart
                for _ in range(10):
                    t0 = time.perf_counter()
                    chart.draw(panel.view)
                    if strips.display:
                        strips.build_strips()
                    times[tab].append(time.perf_counter() - t0)
    return times["tab-state"], times["tab-loss"]


def main() -> None:
    print("State tab frame time in ms (draw + the α chart's build_strips): "
          "median / 2nd worst / worst of 30")  # fmt: skip
    for label, experiment in CASES.items():
        for steps in (1_000, 20_000):
            cells = []
            for size in ((80, 24), (120, 40)):
                t, ref = asyncio.run(frame_times(experiment, steps, size))
                cells.append(
                    f"{size[0]}x{size[1]} {statistics.median(t) * 1e3:5.1f}/"
                    f"{sorted(t)[-2] * 1e3:5.1f}/{max(t) * 1e3:5.1f}"
                    f" ({statistics.median(t) / statistics.median(ref):3.1f}x loss)"
                )
            print(f"  {label:22} {steps:>6,} steps   " + "   ".join(cells))


if __name__ == "__main__":
    main()
