"""Each flavour of an optimizer next to torch's rule, the lines that differ marked.

    for rule in flavour_rules("adam"):     # [] when the optimizer has no `flavour` knob
        rule.flavour, rule.source          # "keras", "keras.optimizers.Adam"
        for differs, line in rule.rows:    # differs: the line is not in torch's rule
            ...

Shared by `optplay list optimizers --flavours` and the app's help screen, so both mark the
same lines (a line "differs" when no line of torch's rule reads the same, spaces aside).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import optimizers


@dataclass(frozen=True)
class FlavourRule:
    """One flavour's update rule: whose it is, where it lives, its lines (differs, text)."""

    flavour: str
    source: str
    rows: tuple[tuple[bool, str], ...]


def _same(line: str) -> str:
    return " ".join(line.split())


def flavour_rules(name: str) -> list[FlavourRule]:
    """The rules of optimizer `name`'s flavours in the knob's order (torch's first, nothing
    marked in it); [] when it has no `flavour` knob."""
    knob = {h.name: h for h in optimizers.specs(name)}.get("flavour")
    if knob is None:
        return []
    cls = optimizers.get(name)
    torch_rule = cls.equations.splitlines()
    torch_lines = {_same(line) for line in torch_rule}
    where = getattr(cls, "frameworks", {})
    out = []
    for choice in knob.choices:
        if choice == "torch":
            rows = tuple((False, line) for line in torch_rule)
        else:
            rule = cls.flavour_equations[choice].splitlines()
            rows = tuple((_same(line) not in torch_lines, line) for line in rule)
        source = where.get(choice) or ("the paper" if choice == "paper" else choice)
        out.append(FlavourRule(choice, source, rows))
    return out
