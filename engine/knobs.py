"""The one override grammar: which knob `NAME=VALUE` sets, and the messages when it cannot.

Used by `optplay run/bench/sweep/lesson --set`, sweep grids, lesson flips and
`RunConfig.with_knobs`, so a name means the same thing everywhere and a bad one gets the same
message from every command. The forms of NAME:

    knob              every owner that has it: `lr` is the optimizer's (in a bench or a sweep,
                      every optimizer's that has one); refused when owners of different kinds
                      have it (`period`: the task's and the optimizer's)
    kind.knob         that kind's owners: `task.hidden`, `optimizer.period`, `schedule.period`
    owner.knob        one task, optimizer or schedule by name: `adam.lr`, `digits-mlp.hidden`
    lane.knob         one lane of a race or lesson: `fast.lr` (also `lane.kind.knob` and
                      `lane.owner.knob`); a lane's name is tried before the other prefixes

An owner is a task, optimizer or schedule (and the lane it belongs to, in a race):

    owners = owners_of(cfg)                       # a RunConfig's three
    for owner, knob in route("adam.lr", owners):  # KnobError naming the override
        value = check("adam.lr", owner, knob, "0.01")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine import schedules
from engine.kinds import KINDS, registry


class KnobError(ValueError):
    """An override names no knob, several kinds' knobs, or a value its knob refuses.

    `name` is the override as written ("adam.lr"), `key` the knob when it was found ("lr")
    or else `name`; `str(err)` is the whole message, led by the override ("adam.nope: unknown
    knob ...", "adam.lr must be ..."), `detail` the message without a "NAME: " lead."""

    field = "knobs"

    def __init__(self, name: str, detail: str, key: str | None = None) -> None:
        super().__init__(detail if detail.startswith(f"{name} ") else f"{name}: {detail}")
        self.name = name
        self.detail = detail
        self.key = key or name


@dataclass(frozen=True)
class Owner:
    """A task, optimizer or schedule whose knobs an override may set (in `lane`, for races)."""

    kind: str
    name: str
    lane: str | None = None

    def knobs(self) -> list[str]:
        return [h.name for h in registry(self.kind).specs(self.name)]

    def spec(self, knob: str) -> Any:
        return next(h for h in registry(self.kind).specs(self.name) if h.name == knob)

    @property
    def label(self) -> str:
        """ "optimizer adam" (the same in a race: a message does not depend on the lanes)."""
        return f"{self.kind} {self.name}"


def owners_of(config: Any, lane: str | None = None) -> list[Owner]:
    """The task, optimizer and schedule of a RunConfig (of `lane`, in a race)."""
    return [Owner(kind, getattr(config, kind), lane) for kind in KINDS]


def _listing(owners: Sequence[Owner]) -> str:
    """ "its knobs: a, b" for one item, "task t: a, b; optimizer o: c" for several (each item
    once, whatever the lanes)."""
    items = list(dict.fromkeys((o.kind, o.name) for o in owners))
    knobs = {item: ", ".join(Owner(*item).knobs()) or "none" for item in items}
    if len(items) == 1:
        return f"its knobs: {knobs[items[0]]}"
    return "; ".join(f"{kind} {name}: {knobs[kind, name]}" for kind, name in items)


def _names(owners: Sequence[Owner]) -> str:
    """ "task rosenbrock", "optimizer sgd or adam"."""
    kinds = list(dict.fromkeys(o.kind for o in owners))
    return " or ".join(
        f"{k} {' or '.join(dict.fromkeys(o.name for o in owners if o.kind == k))}" for k in kinds
    )


def route(name: str, owners: Sequence[Owner]) -> list[tuple[Owner, str]]:
    """The (owner, knob) pairs that override `name` sets among `owners` (see the module
    docstring); KnobError when it sets none, or knobs of several kinds."""
    parts = name.split(".")
    scope = list(owners)
    lanes = list(dict.fromkeys(o.lane for o in owners if o.lane))
    if len(parts) > 1 and parts[0] in lanes:
        scope = [o for o in owners if o.lane == parts[0]]
        parts = parts[1:]
    if len(parts) > 2 or not all(parts):
        raise KnobError(name, "expected knob, kind.knob, name.knob or lane.knob")
    prefix, knob = (None, parts[0]) if len(parts) == 1 else parts
    if prefix is None:
        candidates = scope
    elif prefix in KINDS:
        candidates = [o for o in scope if o.kind == prefix]
    else:
        candidates = [o for o in scope if o.name == prefix]
        if not candidates:
            items = ", ".join(f"{n}." for n in dict.fromkeys(o.name for o in scope))
            lanes_text = f" or a lane ({', '.join(f'{n}.' for n in lanes)})" if lanes else ""
            raise KnobError(
                name,
                f"unknown prefix {prefix!r} (expected task., optimizer., schedule., "
                f"a name ({items}){lanes_text})",
            )
    found = [(o, knob) for o in candidates if knob in o.knobs()]
    if not found:
        where = "" if prefix is None else f" for {_names(candidates)}"
        raise KnobError(name, f"unknown knob {knob!r}{where} ({_listing(candidates)})")
    kinds = list(dict.fromkeys(o.kind for o, _ in found))
    if len(kinds) > 1:
        where = " and ".join(
            f"the {k} ({', '.join(dict.fromkeys(o.name for o, _ in found if o.kind == k))})"
            for k in kinds
        )
        forms = " or ".join(f"{k}.{knob}=..." for k in kinds)
        raise KnobError(name, f"{knob!r} is a knob of {where}: write {forms}", knob)
    return found


def _validate(owner: Owner, knob: str, raw: Any) -> Any:
    """The knob's value; a schedule's step knob given in epochs stays text ("3 epochs"): the
    RunConfig converts it with its task's steps per epoch."""
    if owner.kind == "schedule" and schedules.is_epochs(knob, raw):
        schedules.epochs(knob, raw)  # the numbers checked here, the steps by the RunConfig
        return raw.strip()
    return owner.spec(knob).validate(raw)


def check(name: str, owner: Owner, knob: str, raw: Any) -> Any:
    """`raw` (text as typed, or a typed value) checked by the knob's spec; KnobError
    "NAME must be ... (optimizer adam)" naming the override as written."""
    try:
        return _validate(owner, knob, raw)
    except ValueError as err:
        detail = str(err)
        if detail.startswith(f"{knob} "):  # the spec's message starts with the knob's name
            detail = detail[len(knob) + 1 :]
            raise KnobError(name, f"{name} {detail} ({owner.label})", knob) from None
        raise KnobError(name, f"{detail} ({owner.label})", knob) from None


def resolve(
    overrides: Mapping[str, Any] | Iterable[tuple[str, Any]], owners: Sequence[Owner]
) -> list[tuple[Owner, str, Any]]:
    """Every (owner, knob, raw value) the overrides set, each value checked (later overrides
    win, in order); KnobError for the first bad one."""
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    out = []
    for name, raw in items:
        for owner, knob in route(str(name), owners):
            check(str(name), owner, knob, raw)
            out.append((owner, knob, raw))
    return out


def apply_overrides(config: Any, overrides: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Any:
    """A RunConfig with the overrides set (values checked; the copy validated as a whole, so
    a rule between knobs raises RunConfigError)."""
    return apply_lanes([(None, config)], overrides)[0]


def apply_lanes(
    lanes: Sequence[tuple[str | None, Any]],
    overrides: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> list[Any]:
    """The RunConfigs of a race's lanes [(lane name, config), ...] with the overrides set:
    `lr` on every lane, `fast.lr` on lane fast (see the module docstring)."""
    owners = [o for lane, cfg in lanes for o in owners_of(cfg, lane)]
    changes: dict[tuple[str | None, str], dict[str, Any]] = {}
    for owner, knob, raw in resolve(overrides, owners):
        changes.setdefault((owner.lane, owner.kind), {})[knob] = _validate(owner, knob, raw)
    out = []
    for lane, cfg in lanes:
        merged = {
            f"{kind}_hypers": {**getattr(cfg, f"{kind}_hypers"), **changes[lane, kind]}
            for kind in KINDS
            if (lane, kind) in changes
        }
        out.append(cfg.replace(**merged) if merged else cfg)
    return out
