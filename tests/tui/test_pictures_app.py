"""Pictures from the app: `E` exports the chart in view (PNG, SVG) and the whole screen
(SVG) into the working folder, asking before it overwrites; the Bench screen draws final loss
against problem size."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import screen_text, wait_for
from PIL import Image

from engine.bench import BenchSpec
from engine.run import RunConfig
from tui.app import create_app
from tui.screens.bench import BenchChart, BenchScreen
from tui.screens.confirm import ConfirmOverwriteScreen
from tui.screens.prompt import PromptScreen

SIZE = (100, 30)


def _svg_ids(path: Path) -> list[str]:
    ns = "{http://www.w3.org/2000/svg}"
    return [g.get("id") or "" for g in ET.parse(path).getroot().iter(f"{ns}g")]


async def test_the_chart_in_view_and_the_screen_are_exported(tmp_path: Path) -> None:
    app = create_app(RunConfig(task="rosenbrock", optimizer="adam", seed=1), steps=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(lambda: app.session.run.steps_done == 60)
        await pilot.press("2")  # the LR tab
        await pilot.press("E")
        await wait_for(lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"fig", "enter")
        png, svg, screen = (tmp_path / n for n in ("fig-lr.png", "fig-lr.svg", "fig-screen.svg"))
        await wait_for(lambda: png.exists() and svg.exists() and screen.exists())
        image = Image.open(png)
        assert image.format == "PNG" and image.size == (800, 500)
        assert "lane-0" in _svg_ids(svg)
        screen_svg = screen.read_text()
        assert screen_svg.startswith("<svg") and "rosenbrock" in screen_svg
        # Again, with the same name: asked first; "keep" writes nothing.
        before = png.stat().st_mtime_ns, screen.read_text()
        await pilot.press("E")
        await wait_for(lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"fig", "enter")
        await wait_for(lambda: isinstance(app.screen, ConfirmOverwriteScreen))
        assert "fig-lr.png" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert (png.stat().st_mtime_ns, screen.read_text()) == before


async def test_the_bench_screen_draws_final_loss_against_size() -> None:
    spec = BenchSpec(tasks=("digits-mlp",), optimizers=("sgd", "adam"), sizes=(8, 16),
                     steps=20, seeds=1)  # fmt: skip
    app = create_app()
    async with app.run_test(size=(120, 44)) as pilot:
        app.push_screen(BenchScreen(spec))
        screen = app.screen
        await wait_for(lambda: screen.report is not None, timeout=120)
        await pilot.pause()
        chart = screen.query_one(BenchChart)
        await wait_for(lambda: "problem size" in screen_text(app))
        text = screen_text(app)
        assert "final loss (mean over seeds) against problem size" in text
        assert "sgd" in text and "adam" in text
        assert chart.region.height == 16
