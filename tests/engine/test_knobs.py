"""The override grammar (engine/knobs.py): which knob each form of NAME sets, and its messages."""

from __future__ import annotations

import pytest

from engine.knobs import KnobError, Owner, apply_lanes, owners_of, route
from engine.run import RunConfig


def routed(name: str, owners: list[Owner]) -> list[tuple[str, str, str | None, str]]:
    return [(o.kind, o.name, o.lane, knob) for o, knob in route(name, owners)]


BENCH = [Owner("task", "quadratic"), Owner("optimizer", "sgd"), Owner("optimizer", "adam")]


def test_a_bare_knob_reaches_every_owner_that_has_it():
    assert routed("lr", BENCH) == [
        ("optimizer", "sgd", None, "lr"),
        ("optimizer", "adam", None, "lr"),
    ]
    assert routed("beta1", BENCH) == [("optimizer", "adam", None, "beta1")]
    assert routed("x0", BENCH) == [("task", "quadratic", None, "x0")]


def test_kind_and_owner_prefixes_narrow_it():
    assert routed("optimizer.lr", BENCH) == routed("lr", BENCH)
    assert routed("adam.lr", BENCH) == [("optimizer", "adam", None, "lr")]
    assert routed("quadratic.x0", BENCH) == [("task", "quadratic", None, "x0")]


def test_lanes_qualify_a_knob_in_a_race():
    fast = RunConfig(task="quadratic", optimizer="sgd")
    slow = RunConfig(task="quadratic", optimizer="momentum")
    owners = owners_of(fast, "fast") + owners_of(slow, "slow")
    assert routed("slow.lr", owners) == [("optimizer", "momentum", "slow", "lr")]
    assert routed("slow.task.x0", owners) == [("task", "quadratic", "slow", "x0")]
    assert [lane for _, _, lane, _ in routed("lr", owners)] == ["fast", "slow"]
    a, b = apply_lanes([("fast", fast), ("slow", slow)], [("lr", "0.5"), ("slow.lr", "0.25")])
    assert (a.lr, b.lr) == (0.5, 0.25)  # later overrides win


def test_messages_name_the_override_as_written():
    cfg = RunConfig(task="sine-rnn", optimizer="adaptive-adam")
    with pytest.raises(KnobError) as err:
        cfg.with_knobs({"period": 3})
    assert str(err.value) == (
        "period: 'period' is a knob of the task (sine-rnn) and the optimizer (adaptive-adam): "
        "write task.period=... or optimizer.period=..."
    )
    with pytest.raises(KnobError) as err:
        route("adam.nope", BENCH)
    assert str(err.value).startswith(
        "adam.nope: unknown knob 'nope' for optimizer adam (its knobs:"
    )
    with pytest.raises(KnobError) as err:
        route("a.b.c", BENCH)
    assert str(err.value) == "a.b.c: expected knob, kind.knob, name.knob or lane.knob"
    with pytest.raises(KnobError) as err:
        RunConfig(task="quadratic", optimizer="adam").with_knobs({"adam.beta1": "2"})
    assert str(err.value) == "adam.beta1 must be a number in [0, 1), got '2' (optimizer adam)"
    assert err.value.key == "beta1"


def test_run_config_routes_through_the_grammar():
    cfg = RunConfig(task="quadratic", optimizer="adam", schedule="cosine")
    assert cfg.knob_owner("lr") == ("optimizer", "lr")
    assert cfg.knob_owner("cosine.min_lr") == ("schedule", "min_lr")
    assert cfg.with_knobs([("adam.lr", "0.5"), ("task.x0", 1)]).lr == 0.5
