"""`optplay plot`: pictures of histories, stored runs, presets, lessons, sweeps and benches
(tui/figures.py), checked as a user would: the PNG has the size asked and one colour per lane,
the SVG one path per lane, the GIF as many frames as asked, the text chart reads as text."""

from __future__ import annotations

import builtins
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import store
from engine.history import export_history
from engine.run import Run, RunConfig
from tui import figures
from tui.cli import main
from tui.commands import plot as plot_command


def _history(path: str, *optimizers: str, task: str = "rosenbrock", steps: int = 120) -> None:
    runs = []
    for opt in optimizers:
        run = Run(RunConfig(task=task, optimizer=opt, seed=1, eval_every=20))
        run.step(steps)
        runs.append((opt, run))
    export_history(runs, path)


def _plot(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["plot", *argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


def _lane_pixels(path: Path, theme: str = "light") -> list[int]:
    """How many pixels have exactly each lane colour of the theme."""
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    return [
        int(np.all(pixels == _rgb(colour), axis=1).sum())
        for colour in figures.THEMES[theme]["lanes"]
    ]


def _svg_lanes(path: Path) -> dict[str, int]:
    """Paths per lane group (`<g id="lane-i">`) of an SVG."""
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.parse(path).getroot()
    return {
        g.get("id"): len(g.findall(f".//{ns}path"))
        for g in root.iter(f"{ns}g")
        if (g.get("id") or "").startswith("lane-")
    }


def test_a_png_of_two_histories_has_the_size_asked_and_two_lane_colours(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _history("a.json", "adam")
    _history("b.csv", "sgd")
    code, out, err = _plot(capsys, "a.json", "b.csv", "--out", "loss.png", "--size", "640x400")
    assert (code, out.strip(), err) == (0, "wrote loss.png", "")
    image = Image.open(tmp_path / "loss.png")
    assert image.format == "PNG" and image.size == (640, 400)
    counts = _lane_pixels(tmp_path / "loss.png")
    assert counts[0] > 100 and counts[1] > 100  # adam, sgd
    assert counts[2] == counts[3] == 0  # no third or fourth lane


def test_an_svg_has_one_path_per_lane(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _history("race.json", "adam", "sgd", "momentum")
    assert _plot(capsys, "race.json", "--chart", "lr", "--out", "lr.svg", "--log")[0] == 0
    assert _svg_lanes(tmp_path / "lr.svg") == {"lane-0": 1, "lane-1": 1, "lane-2": 1}
    assert _plot(capsys, "race.json", "--chart", "path", "--out", "path.svg")[0] == 0
    assert _svg_lanes(tmp_path / "path.svg") == {"lane-0": 1, "lane-1": 1, "lane-2": 1}


def test_a_gif_has_the_frames_asked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _history("race.json", "adam", "sgd")
    code, _, _ = _plot(capsys, "race.json", "--chart", "path", "--out", "race.gif",
                       "--frames", "7", "--fps", "5", "--size", "320x240")  # fmt: skip
    assert code == 0
    gif = Image.open(tmp_path / "race.gif")
    assert gif.format == "GIF" and gif.n_frames == 7 and gif.size == (320, 240)
    assert gif.info["duration"] == 200


def test_a_bench_result_gives_final_loss_against_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["bench", "--tasks", "digits-mlp", "--optimizers", "sgd", "adam", "--sizes",
                 "8", "16", "--steps", "20", "--seeds", "2", "--workers", "1", "--out", "b.json",
                 "--out", "b.csv", "--no-progress"])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    assert _plot(capsys, "b.json", "--out", "bench.svg")[0] == 0  # its own chart by default
    assert _svg_lanes(tmp_path / "bench.svg") == {"lane-0": 1, "lane-1": 1}
    assert _plot(capsys, "b.csv", "--chart", "bench", "--out", "bench.png")[0] == 0
    assert _lane_pixels(tmp_path / "bench.png")[:3] > [0, 0, -1]
    code, _, err = _plot(capsys, "b.json", "--chart", "loss", "--out", "x.png")
    assert code == 2 and "--chart loss needs a history (got a bench result" in err


def test_a_sweep_result_gives_final_loss_against_the_knob(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["sweep", "--task", "quadratic", "--optimizers", "sgd", "adam", "--lr",
                 "0.01:1:3", "--steps", "20", "--seeds", "1", "--workers", "1", "--yes",
                 "--out", "s.json", "--out", "s.csv", "--no-progress", "--no-chart"])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    assert _plot(capsys, "s.json", "--out", "sweep.svg", "--theme", "dark")[0] == 0
    assert _svg_lanes(tmp_path / "sweep.svg") == {"lane-0": 1, "lane-1": 1}
    assert (
        _plot(capsys, "s.csv", "--chart", "sweep", "--out", "sweep.png", "--theme", "dark")[0] == 0
    )
    counts = _lane_pixels(tmp_path / "sweep.png", "dark")
    assert counts[0] > 0 and counts[1] > 0


def test_a_preset_and_a_lesson_are_trained_then_drawn(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _plot(capsys, "nadam-vs-adam", "--out", "preset.svg")[0] == 0
    assert len(_svg_lanes(tmp_path / "preset.svg")) == 2
    assert _plot(capsys, "adam-bias-correction", "--out", "lesson.png")[0] == 0
    assert sum(c > 50 for c in _lane_pixels(tmp_path / "lesson.png")) >= 2


def test_a_stored_run_is_drawn_by_its_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = Run(RunConfig(task="rosenbrock", optimizer="adam", seed=2))
    run.step(80)
    with store.Store() as s:
        run_id = s.add(store.snapshot(run, started=0.0))
    assert _plot(capsys, str(run_id), "--chart", "norms", "--out", "n.svg")[0] == 0
    assert _svg_lanes(tmp_path / "n.svg") == {"lane-0": 1, "lane-0-update": 1}  # ‖g‖, ‖Δθ‖
    code, _, err = _plot(capsys, "999", "--out", "n.png")
    assert code == 2 and "no stored run with id 999" in err


def test_an_older_csv_still_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _history("new.csv", "sgd", task="quadratic", steps=30)
    text = (tmp_path / "new.csv").read_text().replace("update_grad_ratio", "effective_step")
    (tmp_path / "old.csv").write_text(text)
    assert _plot(capsys, "old.csv", "--out", "old.png", "--smooth", "5")[0] == 0
    assert _lane_pixels(tmp_path / "old.png")[0] > 100


def test_the_text_chart_is_plain_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _history("h.json", "adam", "sgd")
    assert _plot(capsys, "h.json", "--out", "loss.txt", "--size", "70x20")[0] == 0
    text = (tmp_path / "loss.txt").read_text()
    lines = text.splitlines()
    assert "\x1b" not in text and len(lines) == 20 and max(map(len, lines)) <= 70
    assert "loss" in lines[0] and "adam: training loss (batch)" in text


def test_without_the_plot_extra_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _history("h.json", "adam")
    real_import = builtins.__import__

    def blocked(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] in ("matplotlib", "PIL"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
    code, out, err = _plot(capsys, "h.json", "--out", "h.png")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "pip install 'optplay[plot]'" in err
    assert not Path("h.png").exists()
    assert _plot(capsys, "h.json", "--out", "h.txt")[0] == 0  # text needs no extra


def test_bad_arguments_name_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    _history("h.json", "adam")
    for argv, message in (
        (["h.json", "--size", "big"], "--size: must be WIDTHxHEIGHT"),
        (["h.json", "--frames", "0"], "--frames: must be an integer in [1, 1000]"),
        (["h.json", "--out", "h.jpg"], "--out h.jpg: must end in .png"),
        (["nothing-here"], "nothing-here: no such file, stored run id, preset or lesson"),
        (["h.json", "--chart", "bench"], "--chart bench needs a bench result"),
    ):
        code, _, err = _plot(capsys, *argv)
        assert code == 2 and message in err, (argv, err)


def test_the_command_offers_every_chart_the_figures_draw() -> None:
    assert plot_command.CHARTS == figures.CHARTS


def test_the_state_chart_draws_each_parameter_groups_effective_lr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", "--task", "digits-mlp", "--optimizer", "adam", "--steps", "30",
                 "--out", "h.json", "--state-out", "s.json", "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    assert _plot(capsys, "h.json", "--chart", "state", "--out", "state.svg")[0] == 0
    groups = {"lane-0-W1": 1, "lane-0-b1": 1, "lane-0-W2": 1, "lane-0-b2": 1}
    assert _svg_lanes(tmp_path / "state.svg") == groups
    _history("plain.json", "adam")
    code, _, err = _plot(capsys, "plain.json", "--chart", "state", "--out", "x.png")
    assert code == 2 and "needs optimizer-state summaries" in err


def test_a_gif_of_a_2d_race_animates_the_path_by_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _history("race.json", "adam", "sgd")
    assert _plot(capsys, "race.json", "--out", "race.gif", "--frames", "3")[0] == 0
    assert Image.open(tmp_path / "race.gif").n_frames == 3
    assert (
        _plot(capsys, "race.json", "--chart", "path", "--out", "path.gif", "--frames", "3")[0] == 0
    )
    assert (
        _plot(capsys, "race.json", "--chart", "loss", "--out", "loss.gif", "--frames", "3")[0] == 0
    )

    def last_frame(name: str) -> np.ndarray:
        gif = Image.open(tmp_path / name)
        gif.seek(2)
        return np.asarray(gif.convert("RGB"))

    assert np.array_equal(last_frame("race.gif"), last_frame("path.gif"))
    assert not np.array_equal(last_frame("race.gif"), last_frame("loss.gif"))


def test_an_experiment_file_is_trained_then_drawn(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "exp.toml").write_text(
        'task = "rosenbrock"\noptimizer = "adam"\nsteps = 50\n\n[optimizer_hypers]\nlr = 0.05\n'
    )
    assert _plot(capsys, "exp.toml", "--chart", "path", "--out", "exp.svg")[0] == 0
    assert _svg_lanes(tmp_path / "exp.svg") == {"lane-0": 1}
