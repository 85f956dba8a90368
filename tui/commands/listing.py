"""`optplay list [optimizers|schedules|tasks|presets|lessons]`: every item with its knobs
(default, allowed range, meaning); `list presets` (= `list --presets`) the shipped presets,
`list lessons` the lessons by topic."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from tui.commands.common import fail, say
from tui.commands.lesson import list_lines as lesson_lines

NAME = "list"


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


def hyper_rows(hypers: Sequence[Any]) -> list[str]:
    if not hypers:
        return ["      (no knobs)"]
    cells = [(h.name, h.format(h.default) or "-", h.range_text, h.help) for h in hypers]
    w0 = max(len(c[0]) for c in cells)
    w1 = max(len(c[1]) for c in cells)
    # A long range (a wrapper's list of inner optimizers) goes on its own line after the
    # help instead of widening the range column of every row.
    wide = 40
    w2 = max((len(c[2]) for c in cells if len(c[2]) <= wide), default=0)
    rows = []
    for a, b, c, d in cells:
        if len(c) > wide:
            rows.append(f"      {a:<{w0}}  {b:<{w1}}  {d}".rstrip())
            rows.append(f"      {'':<{w0}}  {'':<{w1}}  {c}")
        else:
            rows.append(f"      {a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d}".rstrip())
    return rows


def list_lines(kind: str | None = None) -> list[str]:
    """What `optplay list` prints: every item with its summary and knobs (name, default,
    range, help); presets with their kind and title; lessons by topic."""
    from engine import optimizers, presets, schedules, tasks

    registries = {"optimizers": optimizers, "schedules": schedules, "tasks": tasks}
    kinds = [kind] if kind else list(registries)
    lines: list[str] = []
    for k in kinds:
        if lines:
            lines.append("")
        if k == "lessons":
            lines += lesson_lines()
            continue
        lines.append(k)
        if k == "presets":
            names = presets.names()
            width = max(len(n) for n in names)
            for n in names:
                lines.append(f"  {n:<{width}}  {presets.kind(n):<5}  {presets.title(n)}")
            continue
        registry = registries[k]
        for name in registry.names():
            lines.append(f"  {name}  {registry.summary(name)}")
            if k == "optimizers":
                lines.append(f"      source: {optimizers.source_of(name)}")
            lines += hyper_rows(registry.specs(name))
            if k == "optimizers":
                lines += state_rows(optimizers.get(name).state_doc)
                lines += framework_rows(optimizers.get(name))
            if k == "tasks" and tasks.get(name).suggested_lr:
                lr = ", ".join(f"{o} {v:g}" for o, v in tasks.get(name).suggested_lr.items())
                lines.append(f"      suggested lr: {lr} (when a run sets no lr)")
    return lines


def state_rows(doc: Any) -> list[str]:
    """What an optimizer keeps and how its effective lr is defined (under its knobs)."""
    kept = [f"{q.key} ({q.symbol}{'; when ' + q.knob if q.knob else ''})" for q in doc.state]
    return [f"      state: {', '.join(kept)}", f"      effective lr: {doc.effective_lr}"]


def framework_rows(cls: Any) -> list[str]:
    """Where the optimizer lives in torch, optax and Keras, and where it does not."""
    where = getattr(cls, "frameworks", None)
    if not where:
        return []
    cells = [f"{fw}: {name or 'none (no such optimizer)'}" for fw, name in where.items()]
    return [f"      in: {'; '.join(cells)}"]


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
        for line in flavour_lines():
            say(line)
        return 0
    for line in list_lines("presets" if args.presets else args.kind):
        say(line)
    return 0
