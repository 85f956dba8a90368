"""The Sweep chart's axes and marks (issue 25): round ticks instead of the grid's own values,
and each optimizer's diverged points on a row of their own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from engine.sweep import Axis
from tui.charts.sweep import DIVERGED_MARK, _ticks, draw_curves


def test_a_log_grid_gets_round_ticks_not_its_own_values() -> None:
    values = tuple(float(v) for v in np.geomspace(6.813e-4, 0.1, 8))  # 0.0006813, 0.001396...
    xs, labels = _ticks(Axis("lr", values, "log"), 8)
    assert labels == ["0.001", "0.01", "0.1"]
    assert np.allclose(xs, [-3, -2, -1])
    narrow = tuple(float(v) for v in np.geomspace(1.3e-3, 9e-3, 5))
    _, labels = _ticks(Axis("lr", narrow, "log"), 8)
    assert len(labels) >= 2 and all(len(label.strip("0.")) == 1 for label in labels), labels


def test_a_linear_grid_gets_round_ticks() -> None:
    _, labels = _ticks(Axis("momentum", (0.0, 0.1414, 0.2828, 0.4243, 0.5657), "linear"), 8)
    assert labels == ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5"]


class Recorder:
    """Stands in for plotext: keeps the scatter calls, ignores the rest."""

    def __init__(self) -> None:
        self.scatters: list[tuple[list[float], list[float], str, str | None]] = []

    def scatter(self, xs, ys, marker=None, color=None, label=None, style=None) -> None:
        self.scatters.append((list(xs), list(ys), marker, label))

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_each_optimizers_diverged_points_get_a_row_of_their_own() -> None:
    lrs = (0.01, 0.1, 1.0)
    spec = SimpleNamespace(axes=(Axis("lr", lrs, "log"),), optimizers=("sgd", "adam", "lion"),
                           task="rosenbrock", steps=100,
                           plan=lambda: [])  # no exact theory: no stability lines  # fmt: skip

    def point(opt: str, lr: float, loss: float | None) -> SimpleNamespace:
        return SimpleNamespace(optimizer=opt, point=(lr,), final_loss_mean=loss,
                               diverged=loss is None, best=False)  # fmt: skip

    points = [point("sgd", 0.01, 3.0), point("sgd", 0.1, None), point("sgd", 1.0, None),
              point("adam", 0.01, 1.0), point("adam", 0.1, 0.5), point("adam", 1.0, None),
              point("lion", 0.01, 2.0), point("lion", 0.1, None),
              point("lion", 1.0, None)]  # fmt: skip
    plt = Recorder()
    draw_curves(plt, spec, points)
    rows = [ys for _, ys, marker, _ in plt.scatters if marker == DIVERGED_MARK]
    assert len(rows) == 3 and all(len(set(ys)) == 1 for ys in rows)
    assert len({ys[0] for ys in rows}) == 3  # three rows: at lr 1 the three marks are apart
