"""What the State tab computes, without Textual: the coordinate table against the run's own
state, the histogram and the race band against the recorded quantiles, the layout, and the
Path chart's arrow cells."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import optimizers
from engine.run import Run, RunConfig
from tui.charts.axes import one_tick_per_row
from tui.charts.braille import Frame
from tui.charts.state import MIN_CHART_ROWS, ROOMY_CHART_ROWS, Layout, plan_layout
from tui.charts.state_data import (
    coordinate_rows,
    lanes_alpha_band,
    log_histogram,
    log_range,
    positive_log10,
    shade_levels,
    small_problem,
)
from tui.charts.step_arrows import arrow_cells, line_glyph


def rosenbrock(optimizer: str, **knobs) -> Run:
    knobs.setdefault("lr", 0.01)
    return Run(RunConfig(task="rosenbrock", optimizer=optimizer, optimizer_hypers=knobs))


def test_the_table_holds_each_coordinates_state_under_the_optimizers_names():
    run = rosenbrock("adam", amsgrad=True)
    run.step(7)
    rows = coordinate_rows(run.inspect())
    assert [(r.symbol, r.key) for r in rows] == [
        ("g", "grad"),
        ("m", "exp_avg"),
        ("v", "exp_avg_sq"),
        ("v̄", "max_exp_avg_sq"),
        ("m̂", "exp_avg_hat"),
        ("v̂", "exp_avg_sq_hat"),
        ("√v̂", "rms"),
        ("α", "effective_lr"),
        ("Δθ", "update"),
    ]
    by_key = {r.key: r.values for r in rows}
    state = run.optimizer_state()
    for i, coord in enumerate(("x", "y")):
        assert by_key["exp_avg"][i] == float(state[coord]["exp_avg"])
        # The table's α and m̂ give the step the optimizer took: Δθ = −α·m̂.
        step = -by_key["effective_lr"][i] * by_key["exp_avg_hat"][i]
        assert step == pytest.approx(by_key["update"][i], rel=1e-12)
    # the first step's g and Δθ, by hand: Adam's first step is −η·sign(g) (up to ε)
    first = rosenbrock("adam", lr=0.5)
    first.step(1)
    rows = {r.key: r.values for r in coordinate_rows(first.inspect())}
    for g, d in zip(rows["grad"], rows["update"], strict=True):
        assert d == pytest.approx(-0.5 * math.copysign(1.0, g), rel=1e-6)


def test_the_table_shows_only_what_exists_under_the_knobs():
    plain = rosenbrock("sgd")
    plain.step(3)
    assert [r.key for r in coordinate_rows(plain.inspect())] == ["grad", "effective_lr", "update"]
    heavy = rosenbrock("sgd", momentum=0.9)
    heavy.step(3)
    keys = [r.key for r in coordinate_rows(heavy.inspect())]
    assert keys == ["grad", "momentum_buffer", "effective_lr", "update"]
    nadam = rosenbrock("nadam")
    nadam.step(3)
    # NAdam's mu_product is one number for all coordinates: a per-step scalar, not a row.
    assert "mu_product" not in [r.key for r in coordinate_rows(nadam.inspect())]


def test_small_problems_get_the_table_networks_the_histograms():
    def shapes(run: Run) -> dict[str, tuple[int, ...]]:
        return {n: p.shape for n, p in run.inspect().params.items()}

    for task, table in (("rosenbrock", True), ("quadratic", True), ("digits-mlp", False)):
        run = Run(RunConfig(task=task, optimizer="adam"))
        found = shapes(run)
        assert small_problem(tuple(found), found) is table, task


def test_histogram_counts_every_positive_value_once():
    values = np.array([1e-4, 1e-3, 1e-3, 1e-2, 0.0, -1.0, np.nan, np.inf])
    logs, dropped = positive_log10(values)
    assert dropped == 4
    lo, hi = log_range([logs])
    assert lo < -4 and hi > -2
    counts = log_histogram(logs, lo, hi, 10)
    assert counts.sum() == 4 and counts.max() == 2
    assert counts[0] == 1 and counts[-1] == 1  # the ends land in the edge bins
    assert shade_levels(counts).tolist() == [{0: 0, 1: 2, 2: 4}[c] for c in counts.tolist()]
    assert log_range([np.array([-3.0])]) == (-3.25, -2.75)  # one value: half a decade


def test_the_race_band_covers_every_groups_10_to_90_percent_range():
    run = Run(RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 8}))
    run.set_state_every(5)
    run.step(30)
    steps, low, high = lanes_alpha_band(run.state_summaries)
    bands = [run.state_summaries.band(g, "effective_lr") for g in run.state_summaries.groups]
    assert steps.tolist() == [5, 10, 15, 20, 25, 30]
    assert np.array_equal(low, np.min([b.q10 for b in bands], axis=0))
    assert np.array_equal(high, np.max([b.q90 for b in bands], axis=0))
    assert (
        lanes_alpha_band(Run(RunConfig(task="quadratic", optimizer="sgd")).state_summaries) is None
    )


def test_layout_gives_the_chart_what_the_rows_leave():
    assert plan_layout(20, 0, 6, 2) == Layout(0, 12, 6, 2, 1)
    roomy = plan_layout(36, 0, 6, 2)
    assert roomy.rows_each == 2 and roomy.chart == 26 >= ROOMY_CHART_ROWS
    # No room for a readable chart: it goes, the curves stay as far as they fit.
    tight = plan_layout(14, 10, 0, 6)
    assert tight.chart == 0 and tight.curves == 4
    assert plan_layout(10 + MIN_CHART_ROWS + 2, 10, 0, 2).chart == MIN_CHART_ROWS


@pytest.mark.parametrize(
    ("dx", "dy", "glyph"),
    [(1, 0, "-"), (-1, 0, "-"), (0, 1, "|"), (0, -1, "|"), (1, 0.5, "/"), (-1, 0.5, "\\")],
)
def test_arrow_glyphs_follow_the_direction_on_screen(dx, dy, glyph):
    assert line_glyph(dx, dy) == glyph


def test_arrow_cells_start_next_to_the_point_and_stay_in_the_frame():
    frame = Frame(21, 11, -1.0, 1.0, -1.0, 1.0)  # a cell: 0.1 wide, 0.2 tall
    right = arrow_cells(frame, 0.0, 0.0, 1.0, 0.0, 4)
    assert right == [(11, 5), (12, 5), (13, 5), (14, 5)]
    up = arrow_cells(frame, 0.0, 0.0, 0.0, 3.0, 4)  # 4 cell widths up: 2 rows
    assert up == [(10, 4), (10, 3)]
    assert arrow_cells(frame, 0.95, 0.0, 1.0, 0.0, 4) == []  # leaves at once: nothing
    assert arrow_cells(frame, 0.0, 0.0, 0.0, 0.0, 4) == []
    assert arrow_cells(frame, 0.0, 0.0, math.nan, 1.0, 4) == []


@pytest.mark.parametrize("optimizer", optimizers.names())
def test_every_optimizer_reads_on_a_one_number_parameter(optimizer):
    # The quadratic's one parameter is 0-d: Adafactor's derived arrays once came back as
    # NumPy scalars there and the State tab (inspect and summaries) crashed.
    run = Run(RunConfig(task="quadratic", optimizer=optimizer, state_every=1))
    run.step(5)
    assert len(run.state_summaries) == 5
    rows = {r.key: r.values for r in coordinate_rows(run.inspect())}
    (alpha,) = rows["effective_lr"]
    assert alpha is not None and math.isfinite(alpha) and alpha > 0
    assert rows["update"][0] is not None


def test_a_small_chart_gets_one_y_tick_per_row():
    # Five ticks on four rows: two shared a row and plotext's choice of label changed with
    # the interpreter's hash seed (a flaky snapshot of the State tab's small α chart).
    ticks = [0.0005, 0.0010, 0.0015, 0.0020, 0.0025]
    labels = [f"{t:.4f}" for t in ticks]
    kept, shown = one_tick_per_row(ticks, labels, 0.0004, 0.0026, 4)
    # rows 0, 1, 2, 2, 3 (as plotext maps them): the second tick on row 2 goes
    assert kept == [0.0005, 0.0010, 0.0015, 0.0025]
    assert shown == ["0.0005", "0.0010", "0.0015", "0.0025"]
    assert one_tick_per_row(ticks, labels, 0.0004, 0.0026, 40) == (ticks, labels)
