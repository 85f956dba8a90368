"""The race setup screen: 2 to 6 optimizers, each with its own knobs, on one task.

At the top the settings every racer shares: the task (picker and its knobs) and the race's
own knobs (steps, seed, dtype, target loss). Below, one box per racer: an optional name, the
optimizer and schedule pickers and the form of their knobs, generated from the specs by the
same `HyperForm` as the main screen (validated inline the same way).

Keys: ctrl+n adds a racer (up to 6; a copy of the task with the next optimizer not racing
yet), ctrl+r removes the racer holding the focus (or the last; down to 2), ctrl+g or enter in
a text field starts, escape leaves a field and then cancels. The screen returns a
`RaceSetup` (the racers as `RaceEntry`s, the steps, the target loss) or None; the app builds
and runs the `Race`.

Messages from the pickers and forms inside stop here: they are about this screen's racers,
not the app's run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalGroup, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from engine import optimizers, schedules, tasks
from engine.config import MAX_RACE, MIN_RACE, RaceEntry
from engine.hyper import Hyper
from engine.kinds import registry as registry_of
from engine.run import RunConfig
from engine.session import carried_knobs, next_optimizer, unasked_lr
from tui.dialogs import Dialog
from tui.widgets.footer import SteadyFooter
from tui.widgets.hyper_form import FormSection, HyperForm
from tui.widgets.pickers import Picker

#: The race's own knobs (steps, seed, dtype are shared by every racer).
RACE_HYPERS: tuple[Hyper, ...] = (
    Hyper("steps", 1000, kind="int", low=1, high=10**9,
          help="race length: every racer does this many steps"),
    Hyper("seed", 0, kind="int", low=0, high=2**63 - 1,
          help="one seed for all: same start point and batch order"),
    Hyper("dtype", "float64", kind="choice", choices=("float64", "float32"),
          help="floating type of params, data and gradients"),
    Hyper("target", None, kind="float", low=0, aliases={"auto": None},
          help="loss for the 'steps to target' column; auto: the slowest survivor's best"),
)  # fmt: skip


@dataclass(frozen=True)
class RaceSetup:
    """What the setup screen returns: the racers, the race length and the target loss."""

    entries: tuple[RaceEntry, ...]
    steps: int
    target: float | None = None


def registry_section(key: str, kind: str, config: RunConfig, title: str = "") -> FormSection:
    """The form section editing `config`'s task, optimizer or schedule knobs."""
    registry = registry_of(kind)
    name = getattr(config, kind)
    note = ""
    if kind == "schedule" and config.lr is None:
        note = "the optimizer sets its own step size: no schedule applies"
    return FormSection(
        key,
        title or f"{kind} · {name}",
        tuple(registry.specs(name)),
        getattr(config, f"{kind}_hypers"),
        check=lambda v, registry=registry, name=name: registry.validate(name, v),
        note=note,
    )


class RacerEditor(VerticalGroup):
    """One racer: optional name, optimizer and schedule pickers, and their knobs."""

    def __init__(self, uid: int, config: RunConfig, name: str | None = None) -> None:
        super().__init__(id=f"racer-{uid}", classes="racer")
        self.uid = uid
        self.config = config  # always valid: edits that fail validation are not applied
        self._given_name = name or ""

    def compose(self) -> ComposeResult:
        cfg, uid = self.config, self.uid
        yield Label("", classes="racer-title")
        yield Input(
            self._given_name,
            placeholder="name (optional)",
            compact=True,
            id=f"r{uid}-name",
            classes="racer-name",
        )
        yield Picker(
            "optimizer",
            optimizers.names(),
            cfg.optimizer,
            optimizers.summary,
            select_id=f"r{uid}-optimizer-select",
        )
        yield Picker(
            "schedule",
            schedules.names(),
            cfg.schedule,
            schedules.summary,
            select_id=f"r{uid}-schedule-select",
        )
        yield HyperForm(
            [
                registry_section(f"r{uid}-optimizer", "optimizer", cfg),
                registry_section(f"r{uid}-schedule", "schedule", cfg),
            ],
            reserve_help=True,
        )

    @property
    def racer_name(self) -> str | None:
        """The name typed for the legend, or None (the optimizer's name is used)."""
        return self.query_one(f"#r{self.uid}-name", Input).value.strip() or None

    def errors(self) -> dict[str, str]:
        return self.query_one(HyperForm).errors()

    @on(Picker.Changed)
    async def _picked(self, message: Picker.Changed) -> None:
        message.stop()
        # The playground's rule: a new optimizer keeps a weight decay that was set; its lr is
        # its own for the task.
        kept = carried_knobs(self.config, message.name) if message.kind == "optimizer" else {}
        self.config = self.config.replace(
            **{message.kind: message.name, f"{message.kind}_hypers": kept}
        )
        form = self.query_one(HyperForm)
        await form.replace_section(
            registry_section(f"r{self.uid}-{message.kind}", message.kind, self.config)
        )
        if message.kind == "optimizer":  # an optimizer without lr turns the schedule off
            await form.replace_section(
                registry_section(f"r{self.uid}-schedule", "schedule", self.config)
            )

    async def follow_task(self, old: str, new: str) -> None:
        """The race's task changed from `old` to `new`: a rate the user did not type (the
        one `old` suggested for this optimizer) becomes the one `new` suggests."""
        self.commit()
        cfg = self.config
        hypers = dict(cfg.optimizer_hypers)
        retune = "lr" in hypers and hypers["lr"] == unasked_lr(old, cfg.optimizer)
        if retune:
            hypers["lr"] = unasked_lr(new, cfg.optimizer)
        # The racer's own task (the shared one replaces it at the start) is what a new
        # racer copied from this one is suggested rates for.
        self.config = cfg.replace(task=new, task_hypers={}, optimizer_hypers=hypers)
        if retune:
            await self.query_one(HyperForm).replace_section(
                registry_section(f"r{self.uid}-optimizer", "optimizer", self.config)
            )

    @on(HyperForm.Changed)
    def _edited(self, message: HyperForm.Changed) -> None:
        message.stop()
        self._apply(message.section, message.values)

    def _apply(self, section: str, values: dict) -> None:
        kind = section.split("-", 1)[1]
        self.config = self.config.replace(**{f"{kind}_hypers": values})

    def commit(self) -> None:
        """Take the form's values as they stand, typed but not committed ones included (an
        Enter that starts the race may arrive before the form's own message)."""
        for section, values in self.query_one(HyperForm).committed().items():
            self._apply(section, values)


class RaceSetupScreen(Dialog[RaceSetup | None]):
    """Choose the racers and their knobs; returns a RaceSetup (or None on cancel).

    Modal (it covers the whole screen): the app's keys (n, r, ...) stay out of it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "start", "Start race", priority=True,
                tooltip="start the race with these settings"),
        Binding("ctrl+n", "add", "Add racer", priority=True, tooltip="add a racer (up to 6)"),
        Binding("ctrl+r", "remove", "Remove racer", priority=True,
                tooltip="remove the racer holding the focus (down to 2)"),
        Binding("escape", "cancel", "Cancel", tooltip="back without starting"),
    ]  # fmt: skip

    def __init__(
        self, entries: Sequence[RaceEntry], steps: int, target: float | None = None
    ) -> None:
        super().__init__()
        if not MIN_RACE <= len(entries) <= MAX_RACE:
            raise ValueError(f"a race needs {MIN_RACE} to {MAX_RACE} racers, got {len(entries)}")
        self.base = entries[0].config  # holds the shared settings (task, seed, dtype, ...)
        self.initial = list(entries)
        self.steps = steps
        self.target = target
        self._uids = iter(range(1, 10**9))

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        base = self.base
        with VerticalScroll(id="setup-scroll"):
            yield Static(
                "Race 2–6 optimizers on the same task, seed and data order.",
                id="setup-intro",
                markup=False,
            )
            with Horizontal(id="setup-shared"):
                with VerticalGroup(id="setup-task"):
                    yield Picker(
                        "task",
                        tasks.names(),
                        base.task,
                        tasks.summary,
                        select_id="race-task-select",
                    )
                    yield HyperForm(
                        [registry_section("race-task", "task", base)],
                        id="race-task-form",
                        reserve_help=True,
                    )
                yield HyperForm(
                    [
                        FormSection(
                            "race-run",
                            "race",
                            RACE_HYPERS,
                            {
                                "steps": self.steps,
                                "seed": base.seed,
                                "dtype": base.dtype,
                                "target": self.target,
                            },
                        )
                    ],
                    id="race-run-form",
                    reserve_help=True,
                )
            with Grid(id="racers"):
                for entry in self.initial:
                    yield RacerEditor(next(self._uids), entry.config, entry.name)
            with Horizontal(id="setup-buttons"):
                yield Button("Start race", variant="primary", id="setup-start")
                yield Button("Cancel", id="setup-cancel")
            yield Static("", id="setup-error", markup=False)
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self._renumber()
        self.query_one("#race-task-select").focus()

    def on_resize(self) -> None:
        # As many racer columns as fit at ~40 cells each (one column at 80x24).
        columns = max(1, min(3, self.size.width // 40))
        self.query_one("#racers", Grid).styles.grid_size_columns = columns

    @property
    def editors(self) -> list[RacerEditor]:
        return list(self.query(RacerEditor))

    def _renumber(self) -> None:
        for k, editor in enumerate(self.editors, start=1):
            editor.query_one(".racer-title", Label).update(f"racer {k}")

    # -- shared settings -----------------------------------------------------------------

    @on(Picker.Changed)
    async def _task_picked(self, message: Picker.Changed) -> None:
        message.stop()  # the racers' pickers stop their own: this is the task picker
        old = self.base.task
        self.base = self.base.replace(task=message.name)
        await self.query_one("#race-task-form", HyperForm).replace_section(
            registry_section("race-task", "task", self.base)
        )
        if message.name != old:
            for editor in self.editors:  # rates suggested for the old task follow the new one
                await editor.follow_task(old, message.name)

    @on(HyperForm.Changed)
    def _shared_edited(self, message: HyperForm.Changed) -> None:
        message.stop()  # the racers' forms stop their own: task knobs or the race's
        self._apply_shared(message.section, message.values)

    def _apply_shared(self, section: str, values: dict) -> None:
        if section == "race-task":
            self.base = self.base.replace(task_hypers=values)
        elif section == "race-run":
            self.steps, self.target = int(values["steps"]), values["target"]
            self.base = self.base.replace(seed=values["seed"], dtype=values["dtype"])

    # -- actions ---------------------------------------------------------------------------

    async def action_add(self) -> None:
        editors = self.editors
        if len(editors) >= MAX_RACE:
            self.notify(f"a race has at most {MAX_RACE} racers", severity="warning")
            return
        last = editors[-1].config
        name = next_optimizer([e.config.optimizer for e in editors])
        config = last.replace(optimizer=name, optimizer_hypers={})
        editor = RacerEditor(next(self._uids), config)
        await self.query_one("#racers", Grid).mount(editor)
        self._renumber()
        editor.query_one(Picker).query_one("Select").focus()
        self.call_after_refresh(editor.scroll_visible)

    async def action_remove(self) -> None:
        editors = self.editors
        if len(editors) <= MIN_RACE:
            self.notify(f"a race needs at least {MIN_RACE} racers", severity="warning")
            return
        focused = self.focused
        target = next(
            (e for e in editors if focused is not None and e in focused.ancestors), editors[-1]
        )
        await target.remove()
        self._renumber()

    def action_start(self) -> None:
        setup = self.setup()
        if setup is not None:
            self.dismiss(setup)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#setup-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#setup-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    def _fail(self, message: str) -> None:
        self.query_one("#setup-error", Static).update(message)
        self.notify(message, title="Cannot start the race", severity="error", markup=False)

    def setup(self) -> RaceSetup | None:
        """The race as set up now, or None (and the problem shown) when it can't start."""
        for form_id in ("#race-task-form", "#race-run-form"):  # typed but not committed yet
            for section, values in self.query_one(form_id, HyperForm).committed().items():
                self._apply_shared(section, values)
        for editor in self.editors:
            editor.commit()
        forms = [("task", self.query_one("#race-task-form", HyperForm))]
        forms.append(("race", self.query_one("#race-run-form", HyperForm)))
        for k, editor in enumerate(self.editors, start=1):
            forms.append((f"racer {k}", editor.query_one(HyperForm)))
        for where, form in forms:
            errors = form.errors()
            if errors:
                message = next(iter(errors.values()))
                self._fail(f"{where}: {message}")
                return None
        names = [e.racer_name for e in self.editors]
        given = [n for n in names if n is not None]
        dupes = sorted({n for n in given if given.count(n) > 1})
        if dupes:
            self._fail(f"two racers are called {dupes[0]!r}: names must differ")
            return None
        base = self.base
        shared = {
            "task": base.task,
            "task_hypers": base.task_hypers,
            "seed": base.seed,
            "dtype": base.dtype,
            "eval_every": base.eval_every,
        }
        try:
            entries = tuple(
                RaceEntry(editor.config.replace(**shared), name)
                for editor, name in zip(self.editors, names, strict=True)
            )
        except ValueError as error:
            self._fail(str(error))
            return None
        self.query_one("#setup-error", Static).update("")
        return RaceSetup(entries, self.steps, self.target)
