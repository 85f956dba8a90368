"""Property tests for experiment files and RunConfig.

- Any valid RunConfig (random kinds, knobs, seed, dtype, eval_every, name, steps) survives
  save -> load bit for bit.
- Any corruption of a file (truncation, wrong types, unknown keys, duplicate keys, junk lines,
  non-UTF-8 bytes) loads fine or raises ConfigError naming the file and a line or key: never
  a traceback.
- RunConfig with random values in every field is built typed, or refused with a
  RunConfigError naming the field.
- Saving is atomic: a failure at any point of the write leaves the old file intact and no
  temporary files behind.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_hyper import NASTY, hostile_values, valid_values

from engine import config, presets
from engine.config import ConfigError, Experiment
from engine.kinds import registry
from engine.run import RunConfig, RunConfigError

KINDS = {kind: registry(kind) for kind in ("task", "optimizer", "schedule")}
FIELDS = (
    "task",
    "optimizer",
    "schedule",
    "seed",
    "task_hypers",
    "optimizer_hypers",
    "schedule_hypers",
    "dtype",
    "eval_every",
)


def bits(cfg: RunConfig) -> list:
    """Every value of a config, floats as their bit patterns (so -0.0 != 0.0)."""

    def b(v: Any) -> Any:
        if isinstance(v, float):
            return struct.pack("<d", v)
        if isinstance(v, tuple | list):
            return tuple(b(x) for x in v)
        return (type(v).__name__, v)

    out: list = [getattr(cfg, f) for f in ("task", "optimizer", "schedule", "seed", "dtype")]
    out.append(cfg.eval_every)
    for table in ("task_hypers", "optimizer_hypers", "schedule_hypers"):
        out += [(table, k, b(v)) for k, v in getattr(cfg, table).items()]
    return out


def _kind(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A random entry of registry `kind` with some knobs set (in any accepted spelling)."""
    registry = KINDS[kind]
    # Optimizers that refuse mini-batches (L-BFGS) would make most random tasks invalid; their
    # files round-trip in test_a_full_batch_optimizer_round_trips below.
    names = [n for n in registry.names() if not getattr(registry.get(n), "full_batch_only", 0)]
    name = draw(st.sampled_from(names))
    specs = registry.specs(name)
    knobs = draw(st.fixed_dictionaries({}, optional={h.name: valid_values(h) for h in specs}))
    try:
        registry.validate(name, knobs)
    except ValueError:
        knobs = {}  # a cross-knob rule refused the mix: defaults are valid
    return {kind: name, f"{kind}_hypers": knobs}


@st.composite
def run_configs(draw: st.DrawFn) -> RunConfig:
    """A random valid RunConfig: random kinds, some knobs set (in any accepted spelling)."""
    picked: dict[str, Any] = {}
    for kind in KINDS:
        picked.update(_kind(draw, kind))
    return RunConfig(
        **picked,
        seed=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        dtype=draw(st.sampled_from(["float64", "float32"])),
        eval_every=draw(st.one_of(st.integers(0, 1000), st.integers(0, 2**63 - 1))),
    )


NAMES = st.one_of(st.none(), st.text(max_size=40))
STEPS = st.one_of(st.none(), st.integers(min_value=1, max_value=2**63 - 1))


@st.composite
def experiments(draw: st.DrawFn) -> Experiment:
    """A single run or a race of 2-6 entries (shared task, seed, dtype, eval_every)."""
    first = draw(run_configs())
    steps, name = draw(STEPS), draw(NAMES)
    n = draw(st.sampled_from([0, 0, 2, 3, 6]))
    if not n:
        return Experiment(first, steps=steps, name=name)
    configs = [first] + [
        first.replace(**_kind(draw, "optimizer"), **_kind(draw, "schedule")) for _ in range(n - 1)
    ]
    labels: list[str | None] = []
    for _ in configs:
        label = draw(NAMES)
        labels.append(None if label in labels else label)  # racer names are unique
    return Experiment.of_race(list(zip(configs, labels, strict=True)), steps=steps, name=name)


def all_bits(exp: Experiment) -> list:
    return [bits(exp.config)] + [(bits(e.config), e.name) for e in exp.race]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exp=experiments())
def test_any_valid_experiment_round_trips_bit_for_bit(tmp_path, exp):
    back = config.loads(config.dumps(exp))
    assert back == exp and all_bits(back) == all_bits(exp)
    path = tmp_path / "exp.toml"
    config.save(path, exp)
    again = config.load(path)
    assert again == exp and all_bits(again) == all_bits(exp)
    assert os.listdir(tmp_path) == ["exp.toml"]  # no temp files left behind


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-wolfe"])
def test_a_full_batch_optimizer_round_trips(tmp_path, optimizer):
    exp = Experiment(
        RunConfig(
            task="digits-mlp",
            optimizer=optimizer,
            task_hypers={"batch_size": 0, "hidden": 16},
            optimizer_hypers={"lr": 0.5, "history_size": 7},
        ),
        steps=30,
    )
    config.save(tmp_path / "exp.toml", exp)
    again = config.load(tmp_path / "exp.toml")
    assert again == exp and all_bits(again) == all_bits(exp)


# -- corrupted files -----------------------------------------------------------------------

JUNK_LINES = [
    "= 1", '"', "'", "[", "]]", "[[task_hypers]]", "[task_hypers]", "[optimizer_hypers]",
    "lr = 1", 'lr = "x"', 'lr = [1, "a"]', "lr = nan", "lr = -inf", "lr = -0.0", "lr = {}",
    "x.y.z = 1", "[task_hypers.hidden]", "hidden = { a = 1 }", "hidden = 1e400",
    "seed = 1e400", "seed = -1", "seed = 99999999999999999999999", "steps = 0",
    "eval_every = 99999999999999999999999", "eval_every = true", "dtype = 3",
    'dtype = "float16"', "task = 1979-05-27", "lr = 1979-05-27T07:32:00Z", 'name = """',
    "name = '''a'''", "name = 7", "task_hypers = 3", "optimizer_hypers.lr = 1",
    "optimizer_hypers = []", 'schedule = "nope"', "milestones = [1, 2, 3]",
    "milestones = [3, 2]", 'eps1 = "auto"', 'eps1 = "manual"', '"" = 1', 'a."b".c = 2',
    "foo = 1", "[foo]", "batch_size = 0", "batch_size = 99999", "total_steps = 0",
    "lr = " + "9" * 5000, "seed = " + "9" * 5000, "hidden = 0x" + "f" * 4400, "\x00",
    "\ufeff", "# comment", "", "task = 'quadratic'", 'optimizer = "adam"', "[[race]]",
    '[[race]]\noptimizer = "sgd"', "[race.optimizer_hypers]", "[race.task_hypers]",
    'name = "SGD"', "race = 1", "race = []", "[[race.x]]",
]  # fmt: skip
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80"]


PRESET_TEXTS = [presets.text(n) for n in presets.names() if presets.kind(n) != "bench"]


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    """A valid experiment file (random, or a shipped preset), then a few random corruptions."""
    text = draw(st.one_of(experiments().map(config.dumps), st.sampled_from(PRESET_TEXTS)))
    data = text.encode("utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = data.split(b"\n")
        op = draw(st.sampled_from(["cut", "insert", "dup", "drop", "splice", "bytes", "type"]))
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        if op == "cut":  # truncated save
            data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
        elif op == "insert":
            lines.insert(at, draw(st.sampled_from(JUNK_LINES)).encode("utf-8"))
            data = b"\n".join(lines)
        elif op == "dup" and lines:  # duplicate key / table
            lines.insert(at, lines[draw(st.integers(0, len(lines) - 1))])
            data = b"\n".join(lines)
        elif op == "drop" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
            data = b"\n".join(lines)
        elif op == "splice":
            i = draw(st.integers(min_value=0, max_value=len(data)))
            junk = draw(st.one_of(st.sampled_from(JUNK_LINES), st.text(max_size=5)))
            data = data[:i] + junk.encode("utf-8", "surrogatepass") + data[i:]
        elif op == "bytes":
            i = draw(st.integers(min_value=0, max_value=len(data)))
            data = data[:i] + draw(st.sampled_from(BAD_BYTES)) + data[i:]
        elif op == "type" and lines:  # a value of the wrong type
            j = draw(st.integers(0, len(lines) - 1))
            key, sep, _ = lines[j].partition(b" = ")
            if sep:
                value = draw(st.sampled_from(['"text"', "[1, 2]", "{ a = 1 }", "true", "1.5"]))
                lines[j] = key + sep + value.encode()
            data = b"\n".join(lines)
    return data


def load_or_error(path) -> Experiment | ConfigError:
    try:
        return config.load(path)
    except ConfigError as err:
        assert str(err).startswith(f"{path}: "), str(err)
        assert err.line is not None or err.key is not None, f"no line or key: {err}"
        if err.line is not None:
            assert f"line {err.line}" in str(err)
        return err


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=corrupted())
def test_corrupted_files_load_or_name_the_file_and_line_or_key(tmp_path, data):
    path = tmp_path / "broken.toml"
    path.write_bytes(data)
    result = load_or_error(path)
    if isinstance(result, Experiment):
        # Whatever loaded is a complete, valid config that saves and reloads unchanged.
        assert config.loads(config.dumps(result)) == result


@pytest.mark.parametrize("line", JUNK_LINES, ids=range(len(JUNK_LINES)))
def test_every_junk_line_in_every_table(tmp_path, line):
    base = config.dumps(RunConfig(task="sine-rnn", optimizer="adafactor", schedule="multistep"))
    lines = base.split("\n")
    for at in range(len(lines) + 1):
        path = tmp_path / "exp.toml"
        path.write_text("\n".join([*lines[:at], line, *lines[at:]]), encoding="utf-8")
        load_or_error(path)


def test_duplicate_keys_and_tables_are_named(tmp_path):
    base = 'task = "quadratic"\noptimizer = "adam"\n[optimizer_hypers]\nlr = 0.1\n'
    path = tmp_path / "dup.toml"
    path.write_text(base + "lr = 0.2\n")
    err = load_or_error(path)
    assert isinstance(err, ConfigError) and err.line == 5
    path.write_text(base + "[optimizer_hypers]\nbeta1 = 0.5\n")
    err = load_or_error(path)
    assert isinstance(err, ConfigError) and err.line == 5


def test_numbers_too_long_for_python_are_a_message(tmp_path):
    path = tmp_path / "long.toml"
    path.write_text('task = "quadratic"\noptimizer = "sgd"\nseed = ' + "9" * 5000 + "\n")
    err = load_or_error(path)
    assert isinstance(err, ConfigError) and err.line == 3
    assert "a number is too long" in str(err)


@pytest.mark.parametrize("key", ["seed", "eval_every", "steps"])
def test_integers_beyond_toml_range_are_refused(tmp_path, key):
    path = tmp_path / "big.toml"
    path.write_text(f'task = "quadratic"\noptimizer = "sgd"\n{key} = {2**63}\n')
    err = load_or_error(path)
    assert isinstance(err, ConfigError) and (err.line, err.key) == (3, key)


# -- RunConfig fields ----------------------------------------------------------------------


@st.composite
def field_values(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(st.sampled_from(FIELDS))
    if field.endswith("_hypers"):
        value = draw(
            st.one_of(
                hostile_values(),
                st.dictionaries(
                    st.one_of(st.text(max_size=8), st.sampled_from(["lr", "hidden", "gamma"])),
                    hostile_values(),
                    max_size=3,
                ),
            )
        )
    else:
        value = draw(hostile_values())
    return field, value


def build(field: str, value: Any) -> RunConfig | None:
    kw: dict[str, Any] = {"task": "digits-mlp", "optimizer": "adam", "schedule": "step"}
    kw[field] = value
    try:
        cfg = RunConfig(**kw)
    except RunConfigError as err:
        assert err.field == field, (err.field, str(err))
        assert str(err).startswith(f"{field}: "), str(err)
        return None
    assert type(cfg.seed) is int and 0 <= cfg.seed < 2**63
    assert type(cfg.eval_every) is int and 0 <= cfg.eval_every < 2**63
    assert type(cfg.dtype) is str and cfg.dtype in ("float64", "float32")
    for kind in KINDS:
        assert type(getattr(cfg, kind)) is str
    # A config that was built can be written and read back.
    assert config.loads(config.dumps(cfg)).config == cfg
    return cfg


@given(fv=field_values())
def test_any_field_value_is_typed_or_refused_by_field(fv):
    build(*fv)


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_against_the_nasty_list(field):
    for value in NASTY:
        build(field, value)


def test_dtype_objects_are_refused_not_stored():
    """np.dtype("float64") == "float64" is True, but only the name can be saved."""
    with pytest.raises(RunConfigError, match=r"^dtype: must be one of float64, float32"):
        RunConfig(task="quadratic", optimizer="sgd", dtype=np.dtype("float64"))
    cfg = RunConfig(task="quadratic", optimizer="sgd", dtype=np.str_("float32"))
    assert type(cfg.dtype) is str


@pytest.mark.parametrize(
    "changes",
    [{"task": ["x"]}, {"optimizer": {"a": 1}}, {"schedule": None}, {"seed": "x"}, {"nope": 1}],
)
def test_replace_with_junk_is_a_named_error(changes):
    cfg = RunConfig(task="quadratic", optimizer="adam")
    with pytest.raises(RunConfigError) as info:
        cfg.replace(**changes)
    assert info.value.field == next(iter(changes))


# -- atomic saves --------------------------------------------------------------------------

OLD = RunConfig(task="rosenbrock", optimizer="sgd", optimizer_hypers={"lr": 0.01})
NEW = RunConfig(task="digits-mlp", optimizer="adam", schedule="cosine", seed=9)


def failing_write(keep: int, exc: BaseException) -> Any:
    """`os.write` that writes the first `keep` bytes of the temp file, then fails like a full
    disk (or an interrupt, or memory running out)."""
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        real_write(fd, bytes(data)[:keep])
        raise exc

    return write


@pytest.mark.parametrize(
    "exc", [OSError(28, "No space left on device"), KeyboardInterrupt(), MemoryError()]
)
@pytest.mark.parametrize("keep", [0, 1, 100])
@pytest.mark.parametrize("existing", [True, False])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temp_files(
    tmp_path, monkeypatch, exc, keep, existing
):
    path = tmp_path / "exp.toml"
    if existing:
        config.save(path, OLD, steps=5, name="old")
    before = path.read_bytes() if existing else None
    monkeypatch.setattr(os, "write", failing_write(keep, exc))
    with pytest.raises(type(exc)):
        config.save(path, NEW, steps=7, name="new")
    monkeypatch.undo()
    if existing:
        assert path.read_bytes() == before
        assert config.load(path) == Experiment(OLD, steps=5, name="old")
        assert os.listdir(tmp_path) == ["exp.toml"]
    else:
        assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("step", ["fsync", "fchmod", "fchown", "replace"])
def test_a_save_that_fails_after_writing_leaves_the_old_file(tmp_path, monkeypatch, step):
    path = tmp_path / "exp.toml"
    config.save(path, OLD)
    before = path.read_bytes()

    def boom(*_args, **_kwargs):
        raise OSError(5, f"{step} failed")

    monkeypatch.setattr(os, step, boom)
    with pytest.raises(OSError, match=f"{step} failed"):
        config.save(path, NEW)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["exp.toml"]


def test_a_save_that_cannot_serialise_touches_nothing(tmp_path):
    """Errors found while building the text come before any file is opened."""
    path = tmp_path / "exp.toml"
    config.save(path, OLD)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        config.save(path, Experiment(OLD, name="\ud800"))  # a lone surrogate: not UTF-8
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["exp.toml"]
