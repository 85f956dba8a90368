"""The one spec-file reader (issues 22 and 26): files parsed once, within bounds, and every
message naming the file, the table, the key and the line."""

from __future__ import annotations

import os
import random
import tomllib
from pathlib import Path

import pytest
from conftest import finishes

from engine import config, lessons, presets, sweep_io
from engine.bench import BenchError, BenchSpec
from engine.bench import loads_spec as loads_bench
from engine.config import MAX_DEPTH, ConfigError
from engine.lessons import LessonError
from engine.sweep import SweepError, SweepSpec
from engine.tomltext import depth, scan
from tui.commands.common import load_source

EXPERIMENT = 'task = "quadratic"\noptimizer = "sgd"\nsteps = 5\n'
BENCH = '[bench]\ntasks = ["quadratic"]\noptimizers = ["sgd"]\nsteps = 5\n'
SWEEP = '[sweep]\ntask = "quadratic"\noptimizers = ["sgd"]\n[sweep.grid]\nlr = [0.1, 0.2]\n'


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text tomllib parses from now on."""
    seen: list[str] = []
    real = tomllib.loads

    def counted(text: str, **kwargs):
        seen.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(tomllib, "loads", counted)
    return seen


@pytest.mark.parametrize("text", [EXPERIMENT, BENCH, SWEEP], ids=["experiment", "bench", "sweep"])
def test_a_config_file_is_parsed_once(tmp_path: Path, parses: list[str], text: str) -> None:
    path = tmp_path / "f.toml"
    path.write_text(text)
    assert load_source(str(path)) is not None
    assert len(parses) == 1


def test_a_preset_is_parsed_once(parses: list[str]) -> None:
    for name in presets.names():
        parses.clear()
        presets.load(name)
        assert len(parses) == 1, name


def test_a_sweep_spec_file_is_read_within_bounds(tmp_path: Path) -> None:
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    try:
        kind, err = finishes(lambda: sweep_io.load_spec(fifo))
    finally:
        try:  # a reader stuck on the FIFO (the bug) gets end-of-file
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert kind == "error" and str(err) == f"{fifo}: not a regular file (a FIFO)"


def test_arrays_of_tables_nested_too_deep_name_their_line() -> None:
    # [[a]], [[a.a]], ...: each level is a list and a table (depth 2 per header).
    text = EXPERIMENT + "".join("[[" + ".".join(["a"] * k) + "]]\n" for k in range(1, 20))
    with pytest.raises(ConfigError) as err:
        config.loads(text, "aot.toml")
    assert str(err.value) == f"aot.toml: line 19: nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize(
    "text",
    [
        EXPERIMENT + "x = " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n",
        EXPERIMENT + "[" + ".".join(["t"] * (MAX_DEPTH - 1)) + "]\n",
        EXPERIMENT + ".".join(["t"] * MAX_DEPTH) + " = 1\n",
        EXPERIMENT + 'x = {a = [{b."c.d" = [1, {e = 2}]}]}\n',
    ],
    ids=["arrays", "header", "dotted", "mixed"],
)
def test_nesting_up_to_the_limit_reaches_the_validator(text: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown key '[xt]'"):
        config.loads(text, "ok.toml")


def test_an_unknown_table_in_a_bench_file_names_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        loads_bench(BENCH + "[extra]\nx = 1\n", "b.toml")
    assert str(err.value) == (
        "b.toml: unknown key 'extra' in a bench file (expected: name, [bench]) (line 5)"
    )


def test_lesson_messages_name_the_line() -> None:
    folder = Path(lessons.__file__).parent / "library"
    experiment = (folder / "momentum-ravine.toml").read_text()
    lesson = (folder / "momentum-ravine.lesson.toml").read_text()
    broken = lesson.replace('tab = "path"', 'tab = "graph"', 1)
    line = broken.split("\n").index('tab = "graph"') + 1
    with pytest.raises(LessonError) as err:
        lessons.loads("broken", experiment, broken)
    assert str(err.value).endswith(f"got 'graph' (line {line})")
    assert str(err.value).startswith("lessons/broken.lesson.toml: [watch] tab must be one of")


# -- the fields bench and sweep specs share -------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizers": []},
        {"optimizers": ["sgd", "sgd"]},
        {"optimizers": ["nope"]},
        {"seeds": 0},
        {"steps": 1.5},
        {"check_every": 0},
        {"target": "low"},
        {"target": float("inf")},
        {"target_fraction": 1.0},
        {"dtype": "float16"},
        {"optimizer_hypers": {"adam": {"lr": 0.1}}},
        {"optimizer_hypers": {"sgd": 3}},
    ],
    ids=str,
)
def test_bench_and_sweep_say_the_same_of_a_shared_field(bad: dict) -> None:
    common = {"optimizers": ["sgd"], "steps": 5} | bad
    with pytest.raises(BenchError) as bench_err:
        BenchSpec(tasks=("quadratic",), **common)
    with pytest.raises(SweepError) as sweep_err:
        SweepSpec(task="quadratic", grid={"lr": [0.1, 0.2]}, **common)
    said = str(bench_err.value).replace("benchmarked", "swept")
    assert said.split(": ")[-1] == str(sweep_err.value).split(": ")[-1]
    assert said.split(" ")[0].rstrip(":") == sweep_err.value.field


# -- the depth scan measures what tomllib would build ----------------------------------------


def _value(rng: random.Random, room: int) -> str:
    pick = rng.randrange(5 if room > 0 else 2)
    if pick == 0:
        return rng.choice(["1", "1.5", "'a.b'", '"x[{"', "true"])
    if pick == 1:
        return "[]"
    if pick == 2:
        return "[" + ", ".join(_value(rng, room - 1) for _ in range(rng.randrange(1, 3))) + "]"
    if pick == 3:
        keys = ["k", "'q.r'", "m.n", "p"][: rng.randrange(1, 4)]
        return "{" + ", ".join(f"{k} = {_value(rng, room - 1)}" for k in keys) + "}"
    return "[\n  " + _value(rng, room - 1) + ",\n]"


def _document(rng: random.Random) -> str:
    lines = []
    for n in range(rng.randrange(1, 5)):
        parts = [f"t{n}", *rng.sample(["u", "v", '"w.x"'], rng.randrange(0, 3))]
        lines.append(("[[{}]]" if rng.random() < 0.4 else "[{}]").format(".".join(parts)))
        for k in range(rng.randrange(1, 3)):
            key = ".".join([f"k{k}", *["d"] * rng.randrange(0, 3)])
            lines.append(f"{key} = {_value(rng, 3)}  # a comment with [ and {{")
    return "\n".join(lines) + "\n"


def test_the_scan_measures_the_depth_tomllib_builds() -> None:
    rng = random.Random(0)
    checked = 0
    for _ in range(400):
        text = _document(rng)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue  # the scan bounds what tomllib accepts
        built = depth(data)
        for limit in range(1, 10):
            assert (scan(text, limit).deep_line is not None) == (built > limit), (text, limit)
        checked += 1
    assert checked > 300
