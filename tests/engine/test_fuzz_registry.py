"""Property tests for the registries: `validate(name, given)` of every optimizer, schedule and
task, with random mixes of known and unknown knobs and random values, returns every knob
validated (defaults filled) or raises a ValueError naming a knob. Valid knobs then build
objects that work: schedules give a rate for any step without a warning, optimizers step and
accept (or refuse, by name, keeping their knobs) edits.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_hyper import (
    NASTY,
    assert_typed_and_in_bounds,
    hostile_values,
    valid_values,
)

from engine import optimizers, schedules, tasks
from engine.kinds import registry
from engine.schedules import _BASE_LR

REGISTRIES = {kind: registry(kind) for kind in ("optimizer", "schedule", "task")}
ENTRIES = [(kind, name) for kind, reg in REGISTRIES.items() for name in reg.names()]
ENTRY_IDS = [f"{kind}.{name}" for kind, name in ENTRIES]


def knob_dicts(kind: str, name: str, *, unknown: bool = True) -> st.SearchStrategy[dict]:
    """Dicts of some of the entry's knobs, each valid or hostile, plus maybe unknown keys."""
    specs = REGISTRIES[kind].specs(name)
    known = st.fixed_dictionaries(
        {},
        optional={
            h.name: st.one_of(valid_values(h), valid_values(h), hostile_values()) for h in specs
        },
    )
    if not unknown:
        return known
    extra = st.dictionaries(
        st.one_of(st.text(max_size=12), st.sampled_from(["LR", "lr ", "betas", "beta_1", ""])),
        hostile_values(),
        max_size=2,
    )
    return st.tuples(known, extra).map(lambda kv: {**kv[1], **kv[0]})


def valid_knob_dicts(kind: str, name: str) -> st.SearchStrategy[dict]:
    """Knob dicts whose every value is in range (cross-knob rules may still refuse them)."""
    specs = REGISTRIES[kind].specs(name)
    return st.fixed_dictionaries({}, optional={h.name: valid_values(h) for h in specs})


def entry_and(make) -> st.SearchStrategy[tuple[str, str, dict]]:
    return st.sampled_from(ENTRIES).flatmap(
        lambda e: st.tuples(st.just(e[0]), st.just(e[1]), make(*e))
    )


def validated(kind: str, name: str, given_: dict) -> dict[str, Any] | None:
    """registry.validate: the full typed knob dict, or None after checking the error names a
    knob (a declared one, or the unknown key given)."""
    registry = REGISTRIES[kind]
    specs = {h.name: h for h in registry.specs(name)}
    try:
        values = registry.validate(name, given_)
    except ValueError as err:
        msg = str(err)
        named = [k for k in specs if msg.startswith(f"{k} ")]
        unknown = [k for k in given_ if k not in specs]
        assert named or (unknown and " is not a hyperparameter of " in msg), msg
        return None
    assert list(values) == list(specs)  # every knob, in declaration order
    for key, value in values.items():
        assert_typed_and_in_bounds(specs[key], value)
    assert not [k for k in given_ if k not in specs]
    return values


@given(entry=entry_and(knob_dicts))
def test_validate_gives_every_knob_typed_or_names_one(entry):
    kind, name, given_ = entry
    values = validated(kind, name, given_)
    if values is not None:
        # Validated knobs validate again to themselves (a stored config reloads the same).
        assert REGISTRIES[kind].validate(name, values) == values


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=ENTRY_IDS)
def test_each_entry_against_the_nasty_list(kind, name):
    registry = REGISTRIES[kind]
    for spec in registry.specs(name):
        for raw in NASTY:
            validated(kind, name, {spec.name: raw})


@pytest.mark.parametrize("kind", list(REGISTRIES))
@pytest.mark.parametrize(
    "bad_name", [None, 3, ["adam"], {"a": 1}, "", "ADAM ", "no-such-thing", "x" * 500]
)
def test_unknown_or_unhashable_names_are_value_errors(kind, bad_name):
    registry = REGISTRIES[kind]
    with pytest.raises(ValueError, match=rf"^unknown {kind} "):
        registry.validate(bad_name, {})
    with pytest.raises(ValueError, match=rf"^unknown {kind} "):
        registry.specs(bad_name)


@pytest.mark.parametrize("given_", [None, [("lr", 1)], "lr=1", 3, b"x"])
def test_knobs_must_be_a_mapping(given_):
    with pytest.raises(ValueError, match="must be a mapping"):
        optimizers.validate("adam", given_)


# -- valid knobs make working objects ------------------------------------------------------

STEPS = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=50_000),
    st.sampled_from([4095, 4096, 4097, 8191, 8192]),
)


@given(
    entry=st.sampled_from(schedules.names()).flatmap(
        lambda n: st.tuples(st.just(n), valid_knob_dicts("schedule", n))
    ),
    base_lr=valid_values(_BASE_LR),
    steps=st.lists(STEPS, min_size=1, max_size=4),
    n=st.integers(min_value=0, max_value=300),
)
def test_any_valid_schedule_gives_a_rate_for_any_step(entry, base_lr, steps, n):
    name, knobs = entry
    values = validated("schedule", name, knobs)
    if values is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning would print over the UI
        sch = schedules.create(name, base_lr, **knobs)
        for step in steps:
            lr = sch.lr(step)
            # Overflowing knobs may give ±inf/NaN (a run then stops as diverged); a finite
            # rate is never negative (the optimizer would refuse it mid-run).
            assert type(lr) is float and not (math.isfinite(lr) and lr < 0.0)
        curve = sch.curve(n)
        assert curve.dtype == np.float64 and curve.shape == (n,)
        # The preview and the rates a run uses are the same numbers (NaN where overflowed).
        expected = np.array([sch.lr(i) for i in range(n)], dtype=np.float64)
        assert np.array_equal(curve, expected, equal_nan=True)


@given(
    entry=st.sampled_from(optimizers.names()).flatmap(
        lambda n: st.tuples(st.just(n), valid_knob_dicts("optimizer", n))
    ),
    edits=knob_dicts("optimizer", "adam", unknown=True),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_any_valid_optimizer_steps_and_refuses_bad_edits_by_name(entry, edits, dtype):
    name, knobs = entry
    if validated("optimizer", name, knobs) is None:
        return
    opt = optimizers.create(name, **knobs)
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)).astype(dtype), "b": np.zeros(4, dtype)}
    grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
    extra = {}
    if opt.needs_closure:  # L-BFGS: the closure of a quadratic with these gradients
        fixed = {k: v.copy() for k, v in grads.items()}

        def closure() -> tuple[float, dict]:
            g = {k: fixed[k] + params[k] for k in params}
            return float(sum(np.sum(fixed[k] * v + v * v / 2) for k, v in params.items())), g

        extra = {"closure": closure}
    with np.errstate(all="ignore"):  # huge knobs may overflow: the run detects divergence
        for _ in range(3):
            opt.step(params, grads, **extra)
        opt.step(params, grads, lr=0.0, **extra)
    assert opt.steps == 4 and all(p.dtype == dtype for p in params.values())
    # Edits while paused: applied when valid, refused by name (knobs unchanged) when not.
    edits = {k: v for k, v in edits.items() if k in opt.hypers}
    before = dict(opt.hypers)
    try:
        opt.set_hypers(**edits)
    except ValueError as err:
        assert any(str(err).startswith(f"{k} ") for k in opt.hypers), str(err)
        assert opt.hypers == before
    else:
        assert opt.hypers == optimizers.validate(name, {**before, **edits})


@given(
    entry=st.sampled_from(tasks.names()).flatmap(
        lambda n: st.tuples(st.just(n), valid_knob_dicts("task", n))
    ),
)
def test_task_size_limits_are_checked_before_anything_is_allocated(entry):
    """Valid knobs never describe a task whose arrays exceed the memory budget."""
    from engine.tasks.base import MAX_ELEMENTS

    name, knobs = entry
    values = validated("task", name, knobs)
    if values is None:
        return
    v = values
    rows = (v.get("batch_size") or v.get("n_samples") or 0) if "batch_size" in v else 0
    if name in ("linear-regression", "blobs-mlp"):
        assert v["n_samples"] * v["n_features"] <= MAX_ELEMENTS
    if name in ("binary-mlp", "blobs-mlp"):
        assert rows * v["hidden"] <= MAX_ELEMENTS
    if name == "sine-rnn":
        n_windows = int(0.8 * v["n_points"]) - v["window"]
        assert n_windows * v["window"] <= MAX_ELEMENTS
        assert (v["window"] + 1) * (v["batch_size"] or n_windows) * v["hidden"] <= MAX_ELEMENTS


#: Upper limits for the size knobs in the build-and-step sweep (the sizes are tested above).
SMALL_TASK_CAPS = {"n_samples": 3000, "n_points": 5000, "n_features": 50, "hidden": 64}


def small_task_knobs(name: str) -> st.SearchStrategy[dict]:
    """Valid knob dicts of task `name`, with size knobs capped so a build takes milliseconds."""
    optional = {}
    for h in tasks.specs(name):
        cap = SMALL_TASK_CAPS.get(h.name)
        if cap is None or h.high is None:
            optional[h.name] = valid_values(h)
        else:
            optional[h.name] = st.integers(min_value=int(h.low), max_value=min(int(h.high), cap))
    return st.fixed_dictionaries({}, optional=optional)


@pytest.mark.long
@given(
    entry=st.sampled_from(tasks.names()).flatmap(
        lambda n: st.tuples(st.just(n), small_task_knobs(n))
    ),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_any_valid_task_builds_steps_and_evaluates_quietly(entry, dtype):
    name, knobs = entry
    if validated("task", name, knobs) is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = tasks.create(name, dtype=dtype, **knobs)
        rng = np.random.default_rng(0)
        params = task.init_params(rng)
        assert all(np.isfinite(p).all() for p in params.values())
        with np.errstate(all="ignore"):
            loss, grads = task.loss_and_grads(params, next(iter(task.batches(rng))))
            report = task.evaluate(params)
    assert isinstance(loss, float) and set(grads) == set(params)
    assert math.isfinite(report["loss"]) or not math.isfinite(loss)
