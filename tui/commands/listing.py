"""`optplay list [optimizers|schedules|tasks|presets|lessons]`: every item with its knobs
(default, allowed range, meaning); `list presets` (= `list --presets`) the shipped presets,
`list lessons` the lessons by topic."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from tui.commands.common import fail, output_width, say, wrap_line, wrap_row
from tui.commands.lesson import list_lines as lesson_lines

NAME = "list"

#: A width no line reaches: rows as they are, unwrapped.
UNWRAPPED = 10**6


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay list` and its arguments."""
    listing = subparsers.add_parser(
        "list",
        help="list optimizers, schedules and tasks with their knobs",
        description="Every optimizer, schedule and task with its knobs: default, allowed "
        "range and meaning. `list presets` (or --presets: the same) lists only the shipped "
        "presets.",
    )
    listing.add_argument(
        "kind",
        nargs="?",
        choices=("optimizers", "schedules", "tasks", "presets", "lessons"),
        help="only this kind",
    )
    listing.add_argument(
        "--presets", action="store_true", help="list only the shipped presets (= list presets)"
    )
    listing.add_argument(
        "--flavours",
        action="store_true",
        help="with optimizers: each flavour's update rule (torch, optax, keras, paper), the "
        "lines that differ from torch's marked with *",
    )
    return listing


def hyper_rows(hypers: Sequence[Any], width: int = UNWRAPPED) -> list[str]:
    """One row per knob: name, default, allowed range, meaning (wrapped under itself)."""
    if not hypers:
        return ["      (no knobs)"]
    cells = [(h.name, h.format(h.default) or "-", h.range_text, h.help) for h in hypers]
    w0 = max(len(c[0]) for c in cells)
    w1 = max(len(c[1]) for c in cells)
    # A long range (a wrapper's list of inner optimizers) goes on its own lines after the
    # help instead of widening the range column of every row.
    wide = 40
    w2 = max((len(c[2]) for c in cells if len(c[2]) <= wide), default=0)
    rows: list[str] = []
    for a, b, c, d in cells:
        if len(c) > wide:
            rows += wrap_row(f"      {a:<{w0}}  {b:<{w1}}  ", d, width)
            rows += wrap_row(f"      {'':<{w0}}  {'':<{w1}}  ", c, width)
        else:
            rows += wrap_row(f"      {a:<{w0}}  {b:<{w1}}  {c:<{w2}}  ", d, width)
    return rows


def list_lines(kind: str | None = None, width: int = UNWRAPPED) -> list[str]:
    """What `optplay list` prints: every item with its summary and knobs (name, default,
    range, help); presets with their kind and title; lessons by topic; every line at most
    `width` cells, wrapped between words under the text it continues."""
    from engine import optimizers, presets, schedules, tasks

    registries = {"optimizers": optimizers, "schedules": schedules, "tasks": tasks}
    kinds = [kind] if kind else list(registries)
    lines: list[str] = []
    for k in kinds:
        if lines:
            lines.append("")
        if k == "lessons":
            lines += lesson_lines(width)
            continue
        lines.append(k)
        if k == "presets":
            names = presets.names()
            name_width = max(len(n) for n in names)
            for n in names:
                lines += wrap_row(f"  {n:<{name_width}}  {presets.kind(n):<5}  ", presets.title(n),
                                  width)  # fmt: skip
            continue
        registry = registries[k]
        for name in registry.names():
            lines += wrap_row(f"  {name}  ", registry.summary(name), width)
            if k == "optimizers":
                lines += wrap_row("      source: ", optimizers.source_of(name), width)
            lines += hyper_rows(registry.specs(name), width)
            if k == "optimizers":
                lines += state_rows(optimizers.get(name).state_doc, width)
                lines += framework_rows(optimizers.get(name), width)
            if k == "tasks" and tasks.get(name).suggested_lr:
                lr = ", ".join(f"{o} {v:g}" for o, v in tasks.get(name).suggested_lr.items())
                lines += wrap_row("      suggested lr: ", f"{lr} (when a run sets no lr)", width)
    return lines


def state_rows(doc: Any, width: int = UNWRAPPED) -> list[str]:
    """What an optimizer keeps and how its effective lr is defined (under its knobs)."""
    kept = [f"{q.key} ({q.symbol}{'; when ' + q.knob if q.knob else ''})" for q in doc.state]
    return [
        *wrap_row("      state: ", ", ".join(kept), width),
        *wrap_row("      effective lr: ", doc.effective_lr, width),
    ]


def framework_rows(cls: Any, width: int = UNWRAPPED) -> list[str]:
    """Where the optimizer lives in torch, optax and Keras, and where it does not."""
    where = getattr(cls, "frameworks", None)
    if not where:
        return []
    cells = [f"{fw}: {name or 'none (no such optimizer)'}" for fw, name in where.items()]
    return wrap_row("      in: ", "; ".join(cells), width)


def flavour_lines() -> list[str]:
    """What `optplay list optimizers --flavours` prints: for every optimizer with a
    `flavour` knob, each flavour's update rule, lines not in torch's rule marked with *."""
    from engine import optimizers
    from engine.flavours import flavour_rules

    lines = ["optimizer flavours (* = differs from torch's rule; set with flavour=NAME)"]
    for name in optimizers.names():
        rules = flavour_rules(name)
        if not rules:
            continue
        lines.append(f"  {name}")
        for rule in rules:
            lines.append(f"    {rule.flavour}  ({rule.source})")
            lines += [f"     {'*' if differs else ' '} {row}" for differs, row in rule.rows]
    return lines


def handle(args: argparse.Namespace) -> int:
    """`optplay list`: every optimizer, schedule and task with knobs, defaults and ranges;
    `list presets` and `list --presets` alike: the presets only; `list optimizers
    --flavours` the flavours' update rules."""
    if args.presets and args.kind not in (None, "presets"):
        return fail(args, f"--presets lists only presets: drop it, or `{args.kind}`")
    if args.flavours:
        if args.kind not in (None, "optimizers"):
            return fail(args, f"--flavours lists optimizers: drop it, or `{args.kind}`")
        width = output_width()
        for line in flavour_lines():
            for part in wrap_line(line, width, hang=4):
                say(part)
        return 0
    for line in list_lines("presets" if args.presets else args.kind, output_width()):
        say(line)
    return 0
