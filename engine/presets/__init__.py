"""Presets: the tutorials' scenarios as experiment files shipped with the package.

    from engine import presets
    presets.names()                 # ["benchmark", "digits-adam", "linreg-optimizers", ...]
    presets.kind("schedules")       # "race" ("run", "race", "bench" or "sweep")
    presets.load("schedules")       # an engine.config.Experiment (or a BenchSpec, SweepSpec)
    presets.text("schedules")       # the TOML text (e.g. to save a copy and edit it)

Each preset is `engine/presets/<name>.toml`, read with importlib.resources so it works from a
wheel or a zip. Run and race presets are experiment files (engine.config); the benchmark is a
bench spec (engine.bench, a [bench] table); a sweep is a sweep spec (engine.sweep_io, a [sweep]
table).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

_SUFFIX = ".toml"


def _files() -> Any:
    return resources.files(__name__)


def names() -> list[str]:
    """Every shipped preset, sorted."""
    return sorted(
        entry.name[: -len(_SUFFIX)]
        for entry in _files().iterdir()
        if entry.name.endswith(_SUFFIX) and not entry.name.startswith(".")
    )


def text(name: str) -> str:
    """The TOML text of preset `name`; ValueError naming the known presets otherwise."""
    if name not in names():
        raise ValueError(f"unknown preset {name!r} (expected one of: {', '.join(names())})")
    return _files().joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def source(name: str) -> str:
    """How a preset is named in error messages."""
    return f"preset {name}"


def load(name: str) -> Any:
    """The preset as an `Experiment` (run or race), a `BenchSpec` (benchmark) or a
    `SweepSpec` (sweep)."""
    from engine import bench, config, specfile, sweep_io

    spec = specfile.parse(text(name), source(name))  # parsed once, whatever it holds
    if spec.has_table("bench"):
        return bench.loads_spec(spec)
    if spec.has_table("sweep"):
        return sweep_io.loads_spec(spec)
    return config.loads(spec)


def kind(name: str) -> str:
    """ "run" (one run), "race" (several optimizers), "bench" (a benchmark spec) or "sweep"."""
    from engine.bench import BenchSpec
    from engine.sweep import SweepSpec

    loaded = load(name)
    if isinstance(loaded, BenchSpec):
        return "bench"
    if isinstance(loaded, SweepSpec):
        return "sweep"
    return "race" if loaded.race else "run"


def title(name: str) -> str:
    """The preset's `name` field (a one-line title), or its file name."""
    loaded = load(name)
    return loaded.name or name
