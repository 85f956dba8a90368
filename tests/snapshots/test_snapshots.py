"""Snapshot tests: the screen at 80x24 and 120x40, compared with SVGs in __snapshots__/.

Deterministic by construction: fixed configs and seeds, runs driven synchronously
(`run.step(n)`) or to a deterministic end (divergence), animations off, cursor blink off,
and the status line shows no steps/s unless running. Update with `pytest --snapshot-update`
after checking the new pictures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

import pytest
from conftest import SteadyExecutor, screen_text
from textual.pilot import Pilot
from textual.widgets import Input

from engine.config import Experiment, RaceEntry
from engine.run import RunConfig
from engine.sweep import SweepSpec
from tui.app import SWEEP_SCREEN, create_app
from tui.charts import ChartPanel
from tui.charts.model import ModelChart
from tui.screens.bench import BenchScreen
from tui.screens.confirm import ConfirmQuitScreen
from tui.screens.race_results import RaceResultsScreen
from tui.screens.verdict import VerdictScreen
from tui.settings import settings_path

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def hold_still(pilot: Pilot) -> None:
    """No animation, no blinking cursor: the same picture every time."""
    pilot.app.animation_level = "none"
    for field in pilot.app.query(Input):
        field.cursor_blink = False


async def stepped(pilot: Pilot, steps: int) -> None:
    """A run paused after `steps` updates: all but one synchronously, the last with `n`."""
    hold_still(pilot)
    pilot.app.set_focus(None)
    pilot.app.session.race.step(steps - 1)
    await pilot.press("n")
    await pilot.pause()


def no_color_app(*args: Any, **kwargs: Any) -> Any:
    """An app built as under NO_COLOR (Textual reads the variable when the app is made)."""
    saved = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        return create_app(*args, **kwargs)
    finally:
        if saved is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = saved


def rows_of(pilot: Pilot) -> list[str]:
    return screen_text(pilot.app).splitlines()


def no_word_cut(rows: list[str], *phrases: str) -> None:
    """The text check that goes with an 80x24 picture: each phrase is on screen whole."""
    text = "\n".join(rows)
    for phrase in phrases:
        assert phrase in text, phrase


@pytest.mark.parametrize("size", SIZES)
def test_start_screen(snap_compare, size: tuple[int, int]) -> None:
    """What a new user sees (the default settings): at 80x24 the chart takes the width (the
    settings column is one `b` away), a 2-D task on its Path tab, the key bar whole."""
    settings_path().unlink()

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        await pilot.pause()
        rows = rows_of(pilot)
        keys = rows[-1]
        assert keys.rstrip().endswith("^p palette") and "space Run/pause" in keys
        if size == (80, 24):
            assert "b Sidebar" in keys and "task" not in rows[1]
        no_word_cut(rows, "ready", "speed 200/s", "○ start · ✕ minimum")

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_paused_digits_run(snap_compare, size: tuple[int, int]) -> None:
    config = RunConfig(task="digits-mlp", optimizer="adam", seed=7, eval_every=20)

    async def run_before(pilot: Pilot) -> None:
        await stepped(pilot, 150)

    assert snap_compare(create_app(config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_validation_error(snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.query_one("#optimizer-lr", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *"-0.1")
        await pilot.pause()

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_diverged_run(snap_compare, size: tuple[int, int]) -> None:
    config = RunConfig(task="rosenbrock", optimizer="sgd", optimizer_hypers={"lr": 0.05})

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        await pilot.press("space")  # the real stream, to its deterministic end
        while pilot.app.session.status().state != "diverged":
            await pilot.pause(0.02)
        await pilot.press("l")  # log scale: the blow-up over 150 decades
        pilot.app.clear_notifications()  # a toast times out: keep the picture stable
        await pilot.pause()

    assert snap_compare(create_app(config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        await pilot.press("question_mark")

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_trajectory_view(snap_compare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await stepped(pilot, 400)
        pilot.app.show_tab("tab-path")
        await pilot.pause()

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("tab", ["tab-loss", "tab-path"])
def test_race_paused(snap_compare, tab: str) -> None:
    """A race of three on Rosenbrock paused at step 150: the race panel, the shared charts
    with one colour per racer and the legend line."""
    base = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    entries = [
        RaceEntry(base),
        RaceEntry(base.replace(optimizer="momentum", optimizer_hypers={"lr": 0.001})),
        RaceEntry(base.replace(optimizer="rmsprop", optimizer_hypers={"lr": 0.01}), "RMSprop"),
    ]
    experiment = Experiment.of_race(entries, steps=300, name="three on rosenbrock")

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        pilot.app.session.race.step(149)
        await pilot.press("n")  # the last step through the app: paused at 150
        pilot.app.show_tab(tab)
        await pilot.pause()

    app = create_app(experiment)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_race_of_hostile_names(snap_compare, size: tuple[int, int]) -> None:
    """Racer names read from a file with terminal escapes, Rich/Textual markup, bidi controls
    and a 300-character name: shown as text, their control characters escaped (the same names
    as tests/tui/test_hostile_names.py, which also checks the raw terminal output)."""
    hostile = [
        "\x1b]0;PWNED-TITLE\x07#0",
        "\x1b[2J\x1b[Hcleared#1",
        "[bold]BOLD[/]#2",
        "[@click=app.quit]QUIT-LINK[/]#3",
        "\u202eREVERSED#4",
        "L" * 300 + "#5",
    ]
    base = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    optimizers = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adagrad")
    entries = [
        RaceEntry(base.replace(optimizer=o, optimizer_hypers={}), name)
        for o, name in zip(optimizers, hostile, strict=True)
    ]

    async def run_before(pilot: Pilot) -> None:
        await stepped(pilot, 20)

    app = create_app(Experiment.of_race(entries, steps=50, name="[red]hostile[/] \x1b[2Jnames"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- lessons (issue 19) ---------------------------------------------------------------------------


def test_lessons_screen(snap_compare) -> None:
    """The Lessons screen at 80x24: the lessons by topic, the first one's card."""

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.set_focus(None)
        await pilot.press("L")
        await pilot.pause()

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


async def finished_lesson(pilot: Pilot, name: str) -> None:
    """Lesson `name` loaded and trained to its end: all steps but one synchronously, the last
    through the real stream, whose end computes the verdict and opens it."""
    app = pilot.app
    hold_still(pilot)
    app.set_focus(None)
    app.open_lesson(name)
    app.session.race.step(app.session.planned_steps - 1)
    await pilot.press("space")
    while not isinstance(app.screen, VerdictScreen):
        await pilot.pause(0.02)
    app.clear_notifications()  # a toast times out: keep the picture stable
    await pilot.pause()


def test_finished_lesson_verdict(snap_compare) -> None:
    """Momentum through a ravine, finished: the verdict with the numbers measured."""

    async def run_before(pilot: Pilot) -> None:
        await finished_lesson(pilot, "momentum-ravine")

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


def test_lesson_verdict_over_8_seeds(snap_compare) -> None:
    """The same verdict after `s`: judged over seeds 0-7, with the count, the median, the
    interval against the tie band and one dot per seed."""

    async def run_before(pilot: Pilot) -> None:
        await finished_lesson(pilot, "momentum-ravine")
        screen = pilot.app.screen
        await pilot.press("s")
        while screen.seeds_verdict is None:
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


def test_finished_lesson_line(snap_compare) -> None:
    """The same lesson after closing its verdict: the race on the Path tab, the lesson line
    with the verdict."""

    async def run_before(pilot: Pilot) -> None:
        await finished_lesson(pilot, "momentum-ravine")
        await pilot.press("escape")
        pilot.app.main.query_one(ChartPanel).redraw(force=True)
        await pilot.pause()

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


# -- the Model tab ------------------------------------------------------------------------------

#: (config, steps) per Model tab snapshot: each view mid-training.
MODEL_CASES = {
    "spiral": (
        RunConfig(task="binary-mlp", optimizer="adam", optimizer_hypers={"lr": 0.05},
                  task_hypers={"dataset": "spiral", "hidden": 24}),
        1000,
    ),
    "blobs-3": (RunConfig(task="blobs-mlp", optimizer="adam", task_hypers={"n_classes": 3}), 150),
    "linear-regression": (
        RunConfig(task="linear-regression", optimizer="sgd", optimizer_hypers={"lr": 0.05}),
        40,
    ),
    "digits": (RunConfig(task="digits-mlp", optimizer="adam", seed=7), 150),
    "sine-rnn": (RunConfig(task="sine-rnn", optimizer="adam", optimizer_hypers={"lr": 0.01}), 300),
}  # fmt: skip


async def model_tab(pilot: Pilot, steps: int) -> None:
    """The Model tab of a run paused after `steps`, once its view is computed and drawn."""
    await stepped(pilot, steps)
    pilot.app.show_tab("tab-model")
    chart = pilot.app.query_one(ModelChart)
    for _ in range(1000):
        await pilot.pause()
        if not chart.busy:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the model view was not drawn in time")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_tab(snap_compare, case: str, size: tuple[int, int]) -> None:
    """What the model learned: decision regions (spiral; 3 blobs on their PCA plane), the
    fitted line against the true and least-squares lines, the digits' confusion matrix and
    misclassified images, the RNN's predictions on held-out data."""
    config, steps = MODEL_CASES[case]

    async def run_before(pilot: Pilot) -> None:
        await model_tab(pilot, steps)

    assert snap_compare(create_app(config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_model_tab_without_colour(snap_compare, size: tuple[int, int]) -> None:
    """NO_COLOR: the spiral's regions as textures (· and -) thinning out where the network is
    unsure, classes as ● and ✕, wrong points reversed."""
    config, steps = MODEL_CASES["spiral"]
    saved = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"  # Textual reads it when the app is created
    try:
        app = create_app(config)
    finally:
        if saved is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = saved

    async def run_before(pilot: Pilot) -> None:
        await model_tab(pilot, steps)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- the Sweep screen: small sweeps run serially here, timings fixed, to their end -------------


async def swept(pilot: Pilot, spec: SweepSpec, *keys: str) -> None:
    """The Sweep screen after `spec` ran to its end (in this process, with fixed timings and
    a stopped clock), then `keys` pressed."""
    hold_still(pilot)
    app = pilot.app
    app.sweep_executor = lambda runs: SteadyExecutor()
    app.open_sweep(spec, start=True)
    screen = app.get_screen(SWEEP_SCREEN)
    screen.clock = lambda: 0.0  # elapsed "0 s": the same picture however long it took
    for _ in range(1000):
        if screen.is_mounted and screen.ended:
            break
        await asyncio.sleep(0.02)
    await pilot.press(*keys)
    screen.redraw()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_sweep_curves(snap_compare, size: tuple[int, int]) -> None:
    """Final loss against lr for SGD, momentum and Adam on Rosenbrock: divergence marked `x`
    at the top, each best `*`; the cursor on SGD at lr 0.01, where it breaks."""
    spec = SweepSpec(
        task="rosenbrock", optimizers=("sgd", "momentum", "adam"), grid={"lr": "1e-4:1:9"},
        steps=200,
    )  # fmt: skip

    async def run_before(pilot: Pilot) -> None:
        await swept(pilot, spec, "right", "right", "right", "right")

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_sweep_heatmap(snap_compare, size: tuple[int, int]) -> None:
    """Two knobs (lr x momentum) for momentum and Nesterov: a grid each; the cursor on
    Nesterov's best cell."""
    spec = SweepSpec(
        task="rosenbrock",
        optimizers=("momentum", "nesterov"),
        grid={"lr": "1e-4:1e-2:3", "momentum": "0.5,0.9,0.99"},
        steps=200,
    )

    async def run_before(pilot: Pilot) -> None:
        await swept(pilot, spec, "down", "down", "down", "down", "right")

    assert snap_compare(create_app(), terminal_size=size, run_before=run_before)


# -- every terminal (issue 12): 80x24 screens whole, no colour, a light theme, ASCII -------------

THREE = Experiment.of_race(
    [
        RaceEntry(RunConfig(task="rosenbrock", optimizer="adam", eval_every=10)),
        RaceEntry(RunConfig(task="rosenbrock", optimizer="momentum", eval_every=10)),
        RaceEntry(RunConfig(task="rosenbrock", optimizer="rmsprop", eval_every=10), "RMSprop"),
    ],
    steps=300,
)


async def raced(pilot: Pilot, steps: int = 150) -> None:
    hold_still(pilot)
    pilot.app.set_focus(None)
    pilot.app.session.race.step(steps - 1)
    await pilot.press("n")
    await pilot.pause()


def test_race_results_table_at_80x24(snap_compare) -> None:
    """The results of a race of three at 80 columns: the columns that decide a race (eval
    loss, steps to target, diverged) whole, the rest left out and named in the note."""

    async def run_before(pilot: Pilot) -> None:
        await raced(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RaceResultsScreen)
        no_word_cut(rows_of(pilot), "diverged", "eval loss", "steps to", "RMSprop", "Left out")

    assert snap_compare(create_app(THREE), terminal_size=(80, 24), run_before=run_before)


def test_race_at_80x24_without_colour(snap_compare) -> None:
    """NO_COLOR: the lanes differ by line style and carry their number, as in the legend."""

    async def run_before(pilot: Pilot) -> None:
        await raced(pilot)
        pilot.app.show_tab("tab-loss")
        await pilot.pause()
        no_word_cut(rows_of(pilot), "1 adam", "2 momentum", "3 RMSprop")

    assert snap_compare(no_color_app(THREE), terminal_size=(80, 24), run_before=run_before)


def test_quit_dialog_at_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.do(pilot.app.session.pick("optimizer", "sgd"))
        pilot.app.set_focus(None)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmQuitScreen)
        # The question wraps at the dialog's width, never cutting the file name.
        no_word_cut(rows_of(pilot), "(save offers", "optplay-experiment.toml)", "Discard")

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


def test_bench_screen_at_80x24(snap_compare, monkeypatch) -> None:
    """A small benchmark's table fitted to the dialog; timings fixed for the picture."""
    from engine import bench
    from tui.screens import bench as bench_screen

    def steady(spec: Any, progress: Any = None) -> Any:
        report = bench.run_bench(spec, progress)
        groups = [dataclasses.replace(g, seconds_per_step_mean=2.5e-5) for g in report.groups]
        return dataclasses.replace(report, groups=groups, seconds=1.0)

    monkeypatch.setattr(bench_screen, "run_bench", steady)
    spec = bench.BenchSpec(tasks=("quadratic", "rosenbrock"), optimizers=("sgd", "adam"),
                           steps=50, seeds=2)  # fmt: skip

    async def run_before(pilot: Pilot) -> None:
        hold_still(pilot)
        pilot.app.push_screen(BenchScreen(spec, "benchmark", "optplay bench"))
        screen = pilot.app.screen
        for _ in range(500):
            await pilot.pause(0.02)
            if screen.report is not None:
                break
        await pilot.pause()
        no_word_cut(rows_of(pilot), "eval loss (mean ± sd)", "steps to target", "rosenbrock")

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=run_before)


def test_light_theme(snap_compare) -> None:
    """textual-light: every cell painted, the charts' colours the theme's own."""

    async def run_before(pilot: Pilot) -> None:
        pilot.app.theme = "textual-light"
        await raced(pilot)

    assert snap_compare(create_app(THREE), terminal_size=(120, 40), run_before=run_before)


def test_ascii_terminal(snap_compare) -> None:
    """An ASCII-only terminal: braille, borders, markers and the form all in ASCII."""

    async def run_before(pilot: Pilot) -> None:
        await stepped(pilot, 150)
        assert screen_text(pilot.app).isascii()

    app = create_app(ascii_only=True)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


# -- theory (issue 24) ---------------------------------------------------------------------------

#: Full-batch GD on the sine RNN: λ_max rises to 2/lr = 4 and hovers there (edge of stability).
EDGE = RunConfig(task="sine-rnn", optimizer="sgd", task_hypers={"batch_size": 0},
                 optimizer_hypers={"lr": 0.5}, eval_every=0)  # fmt: skip


async def sharpness_tab(pilot: Pilot, steps: int) -> None:
    """The Sharpness tab shown from the start (it switches measuring on), then `steps`."""
    hold_still(pilot)
    pilot.app.set_focus(None)
    pilot.app.show_tab("tab-sharpness")
    await pilot.pause()
    await stepped(pilot, steps)
    no_word_cut(rows_of(pilot), "λ_max", "2/lr 4")


@pytest.mark.parametrize("size", SIZES)
def test_sharpness_tab(snap_compare, size: tuple[int, int]) -> None:
    """The edge of stability: λ_max (markers) climbs to the dashed 2/lr and stays there."""

    async def run_before(pilot: Pilot) -> None:
        await sharpness_tab(pilot, 300)

    assert snap_compare(create_app(EDGE), terminal_size=size, run_before=run_before)


def test_sharpness_tab_without_colour(snap_compare) -> None:
    """NO_COLOR: λ_max as ● markers over a dim line, 2/lr dashed: readable without colour."""

    async def run_before(pilot: Pilot) -> None:
        await sharpness_tab(pilot, 300)

    assert snap_compare(no_color_app(EDGE), terminal_size=(80, 24), run_before=run_before)


#: The κ = 100 ravine with heavy ball at lr 0.01, μ 0.9: exact theory, the run below the optimum.
RAVINE = RunConfig(task="ill-conditioned", optimizer="momentum", task_hypers={"condition": 100.0},
                   optimizer_hypers={"lr": 0.01}, eval_every=0)  # fmt: skip


async def theory_tab(pilot: Pilot) -> None:
    """The Theory tab of the ravine, after 100 steps (the figures do not move with steps)."""
    await stepped(pilot, 100)
    pilot.app.show_tab("tab-theory")
    await pilot.pause()
    no_word_cut(rows_of(pilot), "κ = λmax/λmin = 100", "heavy ball", "Polyak")


@pytest.mark.parametrize("size", SIZES)
def test_theory_tab(snap_compare, size: tuple[int, int]) -> None:
    """κ, the limits and optima of GD, heavy ball and Nesterov, the run's lr on its axis and
    heavy ball's rate phase diagram with the run (●) and Polyak's optimum (◆)."""
    assert snap_compare(create_app(RAVINE), terminal_size=size, run_before=theory_tab)


def test_theory_tab_without_colour(snap_compare) -> None:
    """NO_COLOR: shades and marks are glyphs; the phase diagram reads in monochrome."""
    assert snap_compare(no_color_app(RAVINE), terminal_size=(80, 24), run_before=theory_tab)


async def predicted_loss(pilot: Pilot) -> None:
    """The Loss tab of the ravine after 300 steps on a log axis: the observed loss and the
    dashed prediction over it."""
    await stepped(pilot, 300)
    pilot.app.show_tab("tab-loss")
    await pilot.press("l")
    await pilot.pause()
    no_word_cut(rows_of(pilot), "predicted (exact theory)", "theory: exact")


@pytest.mark.parametrize("size", SIZES)
def test_predicted_loss(snap_compare, size: tuple[int, int]) -> None:
    """The exact theory's loss (dashed, in the legend) on top of the observed one."""
    assert snap_compare(create_app(RAVINE), terminal_size=size, run_before=predicted_loss)


def test_predicted_loss_without_colour(snap_compare) -> None:
    """NO_COLOR: the prediction is a dashed line named in the legend."""
    assert snap_compare(no_color_app(RAVINE), terminal_size=(80, 24), run_before=predicted_loss)
