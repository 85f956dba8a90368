"""Pilot tests of the Sharpness tab: shown for networks only, it switches sharpness on when
shown (the session's watch_sharpness) and draws λ_max against 2/lr with the numbers the run
recorded."""

from __future__ import annotations

from conftest import wait_for

from engine.run import RunConfig
from engine.session import SHARPNESS_EVERY
from tui.app import create_app
from tui.charts import ChartPanel
from tui.charts.axes import value_label
from tui.charts.sharpness import SharpnessChart
from tui.charts.tabs import shown_for

DIGITS = RunConfig(task="digits-mlp", optimizer="sgd", task_hypers={"hidden": 8},
                   optimizer_hypers={"lr": 0.1}, eval_every=0)  # fmt: skip


def test_the_tab_is_for_networks_only():
    from engine import tasks

    ids = {name: [t.id for t in shown_for(tasks.create(name))] for name in
           ("digits-mlp", "sine-rnn", "rosenbrock", "quadratic", "ill-conditioned")}  # fmt: skip
    assert "sharpness" in ids["digits-mlp"] and "sharpness" in ids["sine-rnn"]
    assert all("sharpness" not in ids[n] for n in ("rosenbrock", "quadratic", "ill-conditioned"))


async def test_showing_the_tab_measures_sharpness_and_draws_it() -> None:
    app = create_app(DIGITS)
    async with app.run_test(size=(100, 30)) as pilot:
        app.session.race.step(SHARPNESS_EVERY)
        assert app.session.run.history.count("sharpness") == 0  # not shown: nothing paid
        app.set_focus(None)
        app.show_tab("tab-sharpness")
        await pilot.pause()
        assert app.session.sharpness_every == SHARPNESS_EVERY
        app.session.race.step(3 * SHARPNESS_EVERY)
        history = app.session.run.history
        assert history.count("sharpness") == 3
        chart = app.query_one(SharpnessChart)
        panel = app.query_one(ChartPanel)

        def drawn() -> bool:
            panel.redraw()
            return chart.drawn_key is not None and chart.frame is not None

        await wait_for(drawn)
        text = "\n".join(strip.text for strip in chart.build_strips())
        # the title names the newest value and the limit at the current lr
        assert f"λ_max {value_label(history.last('sharpness'))}" in text
        assert f"2/lr {value_label(2.0 / 0.1)}" in text


async def test_o_sets_the_theorys_optimum_and_says_what_it_set() -> None:
    ravine = RunConfig(task="ill-conditioned", optimizer="momentum",
                       task_hypers={"condition": 100.0}, optimizer_hypers={"lr": 0.01})  # fmt: skip
    app = create_app(ravine)
    told = []
    app.tell = lambda text, *args, **kwargs: told.append(text)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_focus(None)
        assert "optimum" in app.session.view().available
        await pilot.press("O")
        await pilot.pause()
        hypers = app.session.config.optimizer_hypers
        assert round(hypers["lr"], 7) == 0.0330579 and round(hypers["momentum"], 6) == 0.669421
        assert told[-1].startswith("set lr 0.0330579 and momentum 0.669421: Polyak's optimum")
        app.session.pick("optimizer", "adam")
        assert "optimum" not in app.session.view().available  # the theory has no Adam optimum
