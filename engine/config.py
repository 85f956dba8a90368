"""Experiment files: a `RunConfig` (plus an optional name and step count) as TOML.

Layout (flat: top-level keys, then one table per hypers group)::

    # optplay experiment
    name = "adam on digits"       # optional
    task = "digits-mlp"           # required
    optimizer = "adam"            # required
    schedule = "cosine"           # default "constant"
    seed = 0                      # default 0
    dtype = "float64"             # "float64" (default) or "float32"
    eval_every = 100              # default 100; 0 = evaluate only at step 0
    divergence_factor = 1e6       # default 1e6: diverged when the loss passes
                                  # L0 + factor * max(|L0|, 1); inf = only non-finite values
    steps = 2000                  # optional: how many steps `optplay run` trains

    [task_hypers]
    hidden = 128
    batch_size = 32

    [optimizer_hypers]
    lr = 0.001
    beta1 = 0.9

    [schedule_hypers]
    total_steps = 2000

Races (several optimizers on the same task, seed and data order) replace the top-level
`optimizer`, `schedule` and their hypers tables by 2 to 6 `[[race]]` entries::

    task = "rosenbrock"
    seed = 0
    steps = 500

    [[race]]
    name = "SGD"                  # optional; default: the optimizer's name
    optimizer = "sgd"             # required
    schedule = "constant"         # default "constant"
    [race.optimizer_hypers]
    lr = 0.001

    [[race]]
    optimizer = "adam"

Such a file loads as an `Experiment` whose `race` holds one `RaceEntry(config, name)` per
entry and whose `config` is the first entry's (so a consumer of single runs still gets one).

Missing knobs take their defaults; `save` writes every knob, so a file records the run fully.
Floats are written with `repr`, so load(save(x)) gives the same floats bit for bit. A knob whose
value is None (an alias such as eps1 = "auto") is written as that alias word.

Errors are `ConfigError` (a ValueError) naming the file, and the line or key:
  "exp.toml: line 3: Invalid value (column 7)"                           (TOML syntax)
  "exp.toml: [optimizer_hypers] beta1 must be a number in [0, 1), got 1.5 (line 9)"
  "exp.toml: unknown key 'foo' (expected one of: name, task, ...) (line 4)"
Unknown keys are always reported, never dropped.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from engine import optimizers, schedules, specfile, tasks
from engine.files import write_text_atomic
from engine.hyper import _show
from engine.run import RunConfig, RunConfigError
from engine.specfile import MAX_DEPTH as MAX_DEPTH  # the limits, for the file's users
from engine.specfile import MAX_TEXT_CHARS as MAX_TEXT_CHARS
from engine.specfile import ConfigError, SpecFile, at, kind_of
from engine.specfile import names as _names

HYPER_TABLES = ("task_hypers", "optimizer_hypers", "schedule_hypers")
TOP_KEYS = (
    "name",
    "task",
    "optimizer",
    "schedule",
    "seed",
    "dtype",
    "eval_every",
    "divergence_factor",
    "steps",
)
RACE_KEY = "race"
ALL_KEYS = (*TOP_KEYS, *HYPER_TABLES, RACE_KEY)
#: Keys of one [[race]] entry.
RACE_ENTRY_KEYS = ("name", "optimizer", "schedule", "optimizer_hypers", "schedule_hypers")
#: Top-level keys a file with [[race]] entries must not set (each entry sets its own).
_PER_ENTRY = ("optimizer", "schedule", "optimizer_hypers", "schedule_hypers")
#: Fields every racer shares: the task, everything that fixes init and data order, and the
#: rule that calls a run diverged.
SHARED_FIELDS = ("task", "task_hypers", "seed", "dtype", "eval_every", "divergence_factor")
MIN_RACE, MAX_RACE = 2, 6
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class RaceEntry(NamedTuple):
    """One racer of an experiment: its full config and an optional display name."""

    config: RunConfig
    name: str | None = None


@dataclass(frozen=True)
class Experiment:
    """What an experiment file holds: the run's config, and optionally a name and the number
    of steps to train (used by the headless `optplay run`).

    `race` is empty for a single run; for a race it holds 2 to 6 entries sharing the task,
    task hypers, seed, dtype and eval_every, and `config` is the first entry's config (build
    one with `Experiment.of_race`)."""

    config: RunConfig
    steps: int | None = None
    name: str | None = None
    race: tuple[RaceEntry, ...] = ()

    def __post_init__(self) -> None:
        race = tuple(e if isinstance(e, RaceEntry) else RaceEntry(*e) for e in self.race)
        object.__setattr__(self, "race", race)
        if not race:
            return
        if not MIN_RACE <= len(race) <= MAX_RACE:
            raise ValueError(f"race must have {MIN_RACE} to {MAX_RACE} entries, got {len(race)}")
        first = race[0].config
        if self.config != first:
            raise ValueError("config must be the first race entry's config")
        for i, entry in enumerate(race[1:], start=2):
            for name in SHARED_FIELDS:
                if getattr(entry.config, name) != getattr(first, name):
                    raise ValueError(
                        f"race entry {i}: {name} differs from entry 1's "
                        "(racers share the task, its knobs, the seed, dtype, eval_every and "
                        "divergence_factor)"
                    )
        names = [e.name for e in race if e.name is not None]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"race entry name {_show(name)} is used twice")

    @classmethod
    def of_race(
        cls,
        entries: Sequence[RaceEntry | RunConfig | tuple[RunConfig, str | None]],
        steps: int | None = None,
        name: str | None = None,
    ) -> Experiment:
        """An experiment racing `entries` (RunConfigs or RaceEntry / (config, name) pairs)."""
        race = tuple(
            e
            if isinstance(e, RaceEntry)
            else RaceEntry(e)
            if isinstance(e, RunConfig)
            else RaceEntry(*e)
            for e in entries
        )
        if not race:
            raise ValueError(f"race must have {MIN_RACE} to {MAX_RACE} entries, got 0")
        return cls(race[0].config, steps=steps, name=name, race=race)


# -- reading --------------------------------------------------------------------------------


def loads(text: str | SpecFile, source: str = "<string>") -> Experiment:
    """Parse experiment TOML `text` (or a file `engine.specfile` parsed already, as
    `optplay --config` does to tell experiments from specs); `source` names it in error
    messages (a SpecFile names itself)."""
    spec = text if isinstance(text, SpecFile) else specfile.parse(text, source)
    data, source = spec.data, spec.source
    unknown = [k for k in data if k not in ALL_KEYS]
    if unknown:
        line = spec.line(None, unknown[0])
        names = _names(unknown)
        word = "key" if len(unknown) == 1 else "keys"
        raise ConfigError(
            source,
            f"unknown {word} {names} (expected one of: {', '.join(ALL_KEYS)}){at(line)}",
            line,
            unknown[0],
        )

    def fail(key: str, expected: str) -> ConfigError:
        line = spec.line(None, key)
        return ConfigError(
            source, f"{key} must be {expected}, got {kind_of(data[key])}{at(line)}", line, key
        )

    race = data.get(RACE_KEY)
    if race is not None:
        if not isinstance(race, list) or not all(isinstance(e, dict) for e in race):
            raise fail(RACE_KEY, "an array of tables ([[race]] entries)")
        for key in _PER_ENTRY:
            if key in data:
                line = spec.line(None, key)
                raise ConfigError(
                    source,
                    f"{key} belongs in each [[race]] entry in a file with [[race]] entries"
                    f"{at(line)}",
                    line,
                    key,
                )
        if not MIN_RACE <= len(race) <= MAX_RACE:
            line = spec.line(RACE_KEY, entry=0)
            raise ConfigError(
                source,
                f"a race needs {MIN_RACE} to {MAX_RACE} [[race]] entries, got {len(race)}"
                f"{at(line)}",
                line,
                RACE_KEY,
            )
    for key in ("task", "optimizer"):
        if key == "optimizer" and race is not None:
            continue
        if key not in data:
            raise ConfigError(source, f"missing key {key!r} (the {key} name)", None, key)
    for key in ("task", "optimizer", "schedule", "dtype", "name"):
        if key in data and not isinstance(data[key], str):
            raise fail(key, "a string")
    for key, low in (("seed", 0), ("eval_every", 0), ("steps", 1)):
        if key in data:
            value = data[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise fail(key, f"an integer >= {low}")
            if value > 2**63 - 1:  # TOML integers are 64-bit; tomllib does not check
                raise fail(key, f"an integer in [{low}, 2^63)")
    for key in HYPER_TABLES:
        if key in data and not isinstance(data[key], dict):
            raise fail(key, f"a table ([{key}])")

    kwargs = {k: data[k] for k in RunConfig.__dataclass_fields__ if k in data}
    if race is None:
        try:
            config = RunConfig(**kwargs)
        except RunConfigError as err:
            raise _top_error(spec, err) from None
        return Experiment(config=config, steps=data.get("steps"), name=data.get("name"))

    entries = []
    names: dict[str, int] = {}
    for i, entry in enumerate(race):
        entries.append(_race_entry(spec, i, entry, kwargs))
        name = entries[-1].name
        if name is not None:
            if name in names:
                line = spec.line(RACE_KEY, entry=i, key="name")
                raise ConfigError(
                    source,
                    f"[[race]] #{i + 1}: name {_show(name)} is already used by entry "
                    f"#{names[name] + 1}{at(line)}",
                    line,
                    "name",
                )
            names[name] = i
    return Experiment.of_race(entries, steps=data.get("steps"), name=data.get("name"))


def _top_error(spec: SpecFile, err: RunConfigError) -> ConfigError:
    """A RunConfig error on a top-level field, located in the text."""
    source = spec.source
    if err.field in HYPER_TABLES:
        line = spec.line(err.field, err.key) if err.key else None
        if line is None:
            line = spec.line(err.field, None)
        return ConfigError(
            source, f"[{err.field}] {err.detail}{at(line)}", line, err.key or err.field
        )
    line = spec.line(None, err.field)
    sep = " " if err.detail.startswith("must") else ": "
    return ConfigError(source, f"{err.field}{sep}{err.detail}{at(line)}", line, err.field)


def _race_entry(
    spec: SpecFile, index: int, entry: dict[str, Any], shared: dict[str, Any]
) -> RaceEntry:
    """Validate the `index`-th [[race]] table into a RaceEntry (errors name '[[race]] #k')."""
    source = spec.source
    where = f"[[race]] #{index + 1}"
    unknown = [k for k in entry if k not in RACE_ENTRY_KEYS]
    if unknown:
        line = spec.line(RACE_KEY, entry=index, key=unknown[0])
        word = "key" if len(unknown) == 1 else "keys"
        names = _names(unknown)
        raise ConfigError(
            source,
            f"{where}: unknown {word} {names} (expected one of: {', '.join(RACE_ENTRY_KEYS)})"
            f"{at(line)}",
            line,
            unknown[0],
        )
    if "optimizer" not in entry:
        line = spec.line(RACE_KEY, entry=index)
        raise ConfigError(
            source,
            f"{where}: missing key 'optimizer' (the optimizer name){at(line)}",
            line,
            "optimizer",
        )
    for key in ("name", "optimizer", "schedule"):
        if key in entry and not isinstance(entry[key], str):
            line = spec.line(RACE_KEY, entry=index, key=key)
            raise ConfigError(
                source,
                f"{where}: {key} must be a string, got {kind_of(entry[key])}{at(line)}",
                line,
                key,
            )
    for key in ("optimizer_hypers", "schedule_hypers"):
        if key in entry and not isinstance(entry[key], dict):
            line = spec.line(RACE_KEY, entry=index, key=key)
            raise ConfigError(
                source,
                f"{where}: {key} must be a table ([race.{key}]), got {kind_of(entry[key])}"
                f"{at(line)}",
                line,
                key,
            )
    kwargs = dict(shared)
    kwargs.update({k: v for k, v in entry.items() if k != "name"})
    try:
        config = RunConfig(**kwargs)
    except RunConfigError as err:
        if err.field in ("optimizer", "schedule"):
            line = spec.line(RACE_KEY, entry=index, key=err.field)
            sep = " " if err.detail.startswith("must") else ": "
            raise ConfigError(
                source, f"{where}: {err.field}{sep}{err.detail}{at(line)}", line, err.field
            ) from None
        if err.field in ("optimizer_hypers", "schedule_hypers"):
            line = spec.line(f"race.{err.field}", entry=index, key=err.key) if err.key else None
            if line is None:
                line = spec.line(f"race.{err.field}", entry=index)
            raise ConfigError(
                source,
                f"{where}: [race.{err.field}] {err.detail}{at(line)}",
                line,
                err.key or err.field,
            ) from None
        raise _top_error(spec, err) from None
    return RaceEntry(config, entry.get("name"))


def load(path: str | os.PathLike[str]) -> Experiment:
    """Read an experiment file. ConfigError names the file (as given) on any problem."""
    return loads(specfile.read(path, "experiment"))


# -- writing --------------------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "nan"
        return repr(x)  # shortest repr that round-trips; "inf"/"-inf" are TOML too
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ValueError(f"{where}: cannot write {value!r} to TOML")


def _table_lines(header: str, registry: Any, kind: str, values: dict[str, Any]) -> list[str]:
    """A `[header]` table with every knob of `values`."""
    specs = {h.name: h for h in registry.specs(kind)}
    lines = ["", f"[{header}]"]
    for key, value in values.items():
        if value is None:
            spec = specs.get(key)
            word = spec.format(None) if spec is not None else ""
            if not word:
                raise ValueError(f"[{header}] {key}: None has no TOML spelling")
            value = word  # the alias the knob accepts back, e.g. "auto"
        lines.append(f"{_toml_key(key)} = {_toml_value(value, f'[{header}] {key}')}")
    return lines


def dumps(experiment: Experiment | RunConfig) -> str:
    """The TOML text of an experiment (or a bare RunConfig), every knob written out."""
    exp = experiment if isinstance(experiment, Experiment) else Experiment(experiment)
    cfg = exp.config
    lines = ["# optplay experiment"]
    if exp.name is not None:
        lines.append(f"name = {_toml_string(exp.name)}")
    lines.append(f"task = {_toml_string(cfg.task)}")
    if not exp.race:
        lines += [
            f"optimizer = {_toml_string(cfg.optimizer)}",
            f"schedule = {_toml_string(cfg.schedule)}",
        ]
    lines += [
        f"seed = {cfg.seed}",
        f"dtype = {_toml_string(cfg.dtype)}",
        f"eval_every = {cfg.eval_every}",
        f"divergence_factor = {_toml_value(cfg.divergence_factor, 'divergence_factor')}",
    ]
    if exp.steps is not None:
        lines.append(f"steps = {int(exp.steps)}")
    lines += _table_lines("task_hypers", tasks, cfg.task, cfg.task_hypers)
    if not exp.race:
        lines += _table_lines("optimizer_hypers", optimizers, cfg.optimizer, cfg.optimizer_hypers)
        lines += _table_lines("schedule_hypers", schedules, cfg.schedule, cfg.schedule_hypers)
    for entry in exp.race:
        c = entry.config
        lines += ["", "[[race]]"]
        if entry.name is not None:
            lines.append(f"name = {_toml_string(entry.name)}")
        lines += [
            f"optimizer = {_toml_string(c.optimizer)}",
            f"schedule = {_toml_string(c.schedule)}",
        ]
        lines += _table_lines("race.optimizer_hypers", optimizers, c.optimizer, c.optimizer_hypers)
        lines += _table_lines("race.schedule_hypers", schedules, c.schedule, c.schedule_hypers)
    return "\n".join(lines) + "\n"


def save(
    path: str | os.PathLike[str],
    experiment: Experiment | RunConfig,
    *,
    steps: int | None = None,
    name: str | None = None,
) -> None:
    """Write an experiment file atomically (`engine.files.write_text_atomic`: a crash never
    leaves a half-written file; symlinks, modes and owners are kept). `steps`/`name` apply
    when a bare RunConfig is given."""
    if isinstance(experiment, RunConfig):
        experiment = Experiment(experiment, steps=steps, name=name)
    write_text_atomic(path, dumps(experiment))
