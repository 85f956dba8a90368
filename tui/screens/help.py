"""The help screen: the selected optimizer's update rule, its defaults, the state it keeps
(its `state_doc`: each key, what it means, how its effective lr is defined) and its reference.

Also each flavour's rule (torch, optax, keras, paper) with the lines that differ from
torch's marked, the selected schedule's formula (when it declares one) and the keys. Opened
with `?`, closed with escape, `?` or `q`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from engine.flavours import flavour_rules
from engine.hyper import Hyper
from engine.optimizer_state import StateDoc
from tui.dialogs import Dialog
from tui.widgets.steady import SteadyScroll


def defaults_table(specs: Iterable[Hyper]) -> Table:
    """Knob, default, allowed range and help, one row per hyperparameter."""
    table = Table(box=None, pad_edge=False, show_edge=False, expand=True, header_style="bold")
    table.add_column("knob", no_wrap=True)
    table.add_column("default", no_wrap=True)
    table.add_column("range", no_wrap=True)
    table.add_column("meaning", ratio=1)
    for spec in specs:
        table.add_row(spec.name, spec.format(spec.default) or "—", spec.range_text, spec.help)
    return table


def state_table(doc: StateDoc) -> Table:
    """What the optimizer keeps (torch's key names), what it derives from that and its
    per-step scalars: key, symbol and meaning, one row each (from its `state_doc`)."""
    table = Table(box=None, pad_edge=False, show_edge=False, expand=True, header_style="bold")
    table.add_column("key", no_wrap=True)
    table.add_column("symbol", no_wrap=True)
    table.add_column("meaning", ratio=1)
    sections = (
        ("kept per parameter", doc.state),
        ("derived from it", doc.derived),
        ("per step", doc.scalars),
    )
    for title, items in sections:
        if items:
            table.add_row(Text(title, style="italic"), "", "")
        for q in items:
            when = f" (when {q.knob} is on)" if q.knob else ""
            table.add_row(f" {q.key}", q.symbol, f"{q.help}{when}")
    return table


def flavours_table(name: str, current: str) -> Table | None:
    """Each flavour's update rule of optimizer `name`, the lines that differ from torch's
    marked `*` (bold), the run's flavour labelled; None when it has no flavours. Two columns,
    so a long line wraps under its own text, not under the marks."""
    rules = flavour_rules(name)
    if not rules:
        return None
    table = Table(
        box=None, pad_edge=False, show_header=False, show_edge=False, expand=True, padding=(0, 1)
    )
    table.add_column("mark", no_wrap=True, width=1)
    table.add_column("rule", ratio=1)
    for rule in rules:
        title = Text(rule.flavour, style="bold")
        title.append(f"  {rule.source}", style="italic")
        if rule.flavour == current:
            title.append("  (this run)", style="bold")
        table.add_row("", title)
        for differs, row in rule.rows:
            style = "bold" if differs else ""
            table.add_row(Text("*" if differs else "", style=style), Text(row, style=style))
    return table


def keys_table(keys: Iterable[tuple[str, str]]) -> Table:
    table = Table(box=None, pad_edge=False, show_header=False, expand=True)
    table.add_column("key", no_wrap=True, style="bold")
    table.add_column("action", ratio=1)
    for key, action in keys:
        table.add_row(key, action)
    return table


class HelpScreen(Dialog[None]):
    """What the selected optimizer does, in its own notation."""

    takes_space = False  # read-only: space still starts and pauses the run

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close help"),
    ]

    def __init__(
        self,
        optimizer: type[Any],
        schedule: type[Any],
        keys: Iterable[tuple[str, str]],
        flavour: str = "torch",
    ) -> None:
        super().__init__()
        self.optimizer = optimizer
        self.schedule = schedule
        self.keys = list(keys)
        self.flavour = flavour

    def compose(self) -> ComposeResult:
        opt, sch = self.optimizer, self.schedule
        with SteadyScroll(id="help-body") as body:
            body.border_title = f"{opt.name} — help"
            body.border_subtitle = "esc closes"
            yield Static(Text(opt.summary), classes="help-summary")
            yield Static("Update rule", classes="help-heading")
            equations = getattr(opt, "equations", "") or "(no formula declared)"
            yield Static(Text(equations.strip("\n")), id="help-equations", classes="help-math")
            yield Static("Defaults", classes="help-heading")
            yield Static(defaults_table(opt.specs), id="help-defaults")
            doc = getattr(opt, "state_doc", None)
            if doc is not None and (doc.state or doc.derived):
                yield Static(
                    "State it keeps (the State tab shows it)",
                    id="help-state-heading",
                    classes="help-heading",
                )
                yield Static(state_table(doc), id="help-state")
                if doc.effective_lr:
                    yield Static(Text(f"Effective lr: {doc.effective_lr}"), id="help-alpha")
            reference = getattr(opt, "reference", "")
            if reference:
                yield Static("Reference", classes="help-heading")
                yield Static(Text(reference.strip()), id="help-reference")
            flavours = flavours_table(opt.name, self.flavour)
            if flavours is not None:
                yield Static(
                    "Flavours (* = differs from torch's rule; set with flavour=NAME)",
                    id="help-flavours-heading",
                    classes="help-heading",
                )
                yield Static(flavours, id="help-flavours")
            yield Static(f"Schedule: {sch.name}", classes="help-heading")
            yield Static(Text(sch.summary))
            sch_equations = getattr(sch, "equations", "")
            if sch_equations:
                yield Static(Text(sch_equations.strip("\n")), classes="help-math")
            sch_reference = getattr(sch, "reference", "")
            if sch_reference:
                yield Static(Text(sch_reference.strip()))
            yield Static("Keys", classes="help-heading")
            yield Static(keys_table(self.keys), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
