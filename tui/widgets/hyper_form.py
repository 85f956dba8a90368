"""The hyperparameter form, generated from `Hyper` specs.

One `HyperSection` per thing being configured (optimizer, schedule, task, run), one
`HyperField` per knob: a compact Input (numbers, lists, aliases), Checkbox (bool) or Select
(choice). Every keystroke is validated with the spec itself (`Hyper.validate`), then the
section's cross-knob rule (the registry's `validate`, e.g. warmup_steps < total_steps); a
failure is shown under the field it names at once.

An edit is committed when it is complete: Enter in a text field, focus leaving it, or a
checkbox / choice changed. Escape leaves a field without committing: the field shows the
committed value again. A character that can't be part of a number is refused in a numeric
field (with a message under it), so a key meant for the app never changes a number.
A valid commit posts `HyperForm.Changed(section, values)` with the whole section's typed
values, so the app never sees a bad or half-typed value (typing `600` never applies `6`
first) and the form never needs to know what the values are for. `commit()` applies what was
typed but not committed yet (space to run right after typing a value).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalGroup, VerticalGroup
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine.hyper import Hyper
from tui.widgets.choice import Choice


@dataclass(frozen=True)
class FormSection:
    """What one section of the form edits.

    `check` runs the cross-knob rules on a complete set of typed values and raises
    ValueError whose message starts with the offending knob's name.
    """

    key: str
    title: str
    specs: tuple[Hyper, ...]
    values: Mapping[str, Any]
    check: Callable[[dict[str, Any]], Any] | None = None
    note: str = ""


def control_id(section: str, name: str) -> str:
    """DOM id of the control editing `name` in `section` (stable, for tests and focus)."""
    return f"{section}-{name}"


#: The sidebar's help line while no knob has the focus.
FORM_HINT = "tab: the next knob; the focused knob's help shows here"

#: What a number can be typed with (1e-3, -2, 1_000); a list of them adds its separators.
NUMBER_CHARACTERS = frozenset("0123456789.eE+-_")
LIST_CHARACTERS = frozenset(",; ()")


def typeable(spec: Hyper) -> frozenset[str] | None:
    """The characters a text field for `spec` accepts (None: any, for non-numeric kinds)."""
    if spec.kind not in ("float", "int", "ints"):
        return None
    alias_letters = {c for word in spec.aliases for c in (word.lower() + word.upper())}
    extra = LIST_CHARACTERS if spec.kind == "ints" else frozenset()
    return NUMBER_CHARACTERS | extra | alias_letters


class HyperInput(Input):
    """A compact text field for one knob. It leaves `space` (run/pause) and `[` `]` (chart tabs)
    to the app: knob values never contain them, and a habit should not corrupt a number. A
    numeric field refuses characters no number has (`Refused`: its field says so)."""

    class Refused(Message):
        """A typed or pasted character was refused (it can't be part of a number)."""

        def __init__(self, field: HyperInput, character: str) -> None:
            super().__init__()
            self.field = field
            self.character = character

        @property
        def control(self) -> HyperInput:
            return self.field

    def __init__(self, *args: Any, allowed: frozenset[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = allowed

    def replace(self, text: str, start: int, end: int) -> None:
        if self.allowed is not None:
            bad = next((c for c in text if c not in self.allowed), None)
            if bad is not None:
                self.post_message(self.Refused(self, bad))
                return
        super().replace(text, start, end)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character in (" ", "[", "]"):  # run/pause and the chart tabs, from any field
            return False
        if key in ("plus", "minus"):
            return True  # typed into the field (1e-3); Textual gives these keys no character
        return super().check_consume_key(key, character)


class HyperCheckbox(Checkbox):
    """A checkbox whose state reads without colour: `[x]` on, `[ ]` off (Textual's `▐X▌`
    looks the same both ways once colour is gone). Enter toggles it; space stays the app's
    run/pause key everywhere, so a habit never changes a knob by accident."""

    @property
    def _button(self) -> Content:
        # Textual draws the ends in the button's background colour (its half-block look):
        # here the whole "[x]" takes the button's own style, set in app.tcss.
        style = self.get_visual_style("toggle--button")
        return Content.assemble(("[", style), ("x" if self.value else " ", style), ("]", style))


class HyperField(HorizontalGroup):
    """One knob's line: name and control (its help shows under its section while it is
    focused; its error, `error`, under it: the section places that line). The focused
    field's name is drawn reversed: it reads without colour, at a glance. (A class on the
    name itself, not `:focus-within`: Textual caches a label's style without its ancestors'
    focus, so one label of many could keep the look of another; and not on the field, whose
    whole subtree a class change restyles on every Tab.)

    The field is the row itself, one widget: a field in a box of its own (name and control
    in a row, the error under it) was one more widget per knob for the screen to lay out and
    for every repaint over it to draw (in the race setup ~30 of ~180)."""

    DEFAULT_CSS = """
    HyperField .hyper-name.-focused {
        text-style: reverse bold;
    }
    """

    def __init__(self, section: str, spec: Hyper, value: Any) -> None:
        super().__init__(classes="hyper-field hyper-row")
        self.section = section
        self.spec = spec
        self.value = value
        self.parse_error: str | None = None
        self._error_shown: str | None = None  # the message under the field now
        #: The line under the field for its error (hidden while there is none).
        self.error = Static("", classes="hyper-error", markup=False)

    def compose(self) -> ComposeResult:
        spec, ident = self.spec, control_id(self.section, self.spec.name)
        yield Label(spec.name, classes="hyper-name")
        if spec.kind == "bool":
            yield HyperCheckbox("", bool(self.value), compact=True, id=ident)
        elif spec.kind == "choice":
            yield Choice(
                [(c, c) for c in spec.choices],
                value=self.value,
                allow_blank=False,
                compact=True,
                id=ident,
            )
        else:
            yield HyperInput(
                spec.format(self.value),
                compact=True,
                id=ident,
                select_on_focus=False,
                allowed=typeable(spec),
            )

    @property
    def help_text(self) -> str:
        return self.help_of(self.spec)

    @staticmethod
    def help_of(spec: Hyper) -> str:
        return f"{spec.help} {spec.range_text}" if spec.help else spec.range_text

    def show_focus(self, focused: bool) -> None:
        """Draw the name as the focused field's (called by the form as the focus moves)."""
        self.query_one(".hyper-name").set_class(focused, "-focused")

    @property
    def control(self) -> Widget:
        return self.query_one(f"#{control_id(self.section, self.spec.name)}")

    def raw(self) -> Any:
        """What the user entered, as the control holds it."""
        control = self.control
        if isinstance(control, Input | Checkbox):
            return control.value
        assert isinstance(control, Select)
        return control.value

    def revert(self) -> None:
        """Show the committed value again in a text field (what was typed is dropped)."""
        control = self.control
        if isinstance(control, Input):
            control.value = self.spec.format(self.value)

    def show_error(self, message: str | None) -> None:
        self.set_class(message is not None, "-invalid")
        if message != self._error_shown:  # every field is re-checked on each commit: an
            self._error_shown = message  # unchanged message costs no layout of the screen
            self.error.update(message or "")
            self.error.set_class(message is not None, "-shown")


class HelpLine(Static):
    """The help of the focused field of a section, under its fields.

    `reserved`: always on screen, as tall as the longest help of the section's fields at its
    width (blank while no field of the section has the focus), so that a focus move changes
    its text only and never the layout of the screen; else shown only while a field of the
    section has the focus, as tall as its text.

    A form's own line (`HyperForm(help_line=...)`, the sidebar's) is reserved with a height
    its CSS sets, and shows `idle` while no field has the focus."""

    def __init__(
        self, helps: Iterable[str], reserved: bool, *, idle: str = "", id: str | None = None
    ) -> None:
        super().__init__(idle, classes="hyper-help" + (" -reserved" if reserved else ""),
                         markup=False, id=id)  # fmt: skip
        self.helps = tuple(helps)
        self.reserved = reserved
        self.idle = idle

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.reserved:
            return super().get_content_height(container, viewport, width)
        return max((Content(text).get_height(self.styles, width) for text in self.helps),
                   default=0)  # fmt: skip

    def show(self, text: str) -> None:
        if self.reserved:
            self.update(text, layout=False)  # the same cells, new text
            return
        width = self.content_region.width
        same_height = (
            self.display
            and width > 0
            and Content(text).get_height(self.styles, width) == self.content_region.height
        )
        self.update(text, layout=not same_height)
        self.display = True

    def hide(self) -> None:
        if self.reserved:
            self.update(self.idle, layout=False)
        else:
            self.display = False


class HyperSection(VerticalGroup):
    """The fields of one configured thing, validated together, committed together."""

    def __init__(self, section: FormSection, reserve_help: bool | None = False) -> None:
        """`reserve_help`: see `HelpLine.reserved`; None: no help line (the form has one)."""
        super().__init__(id=f"section-{section.key}", classes="hyper-section")
        self.section = section
        self.reserve_help = reserve_help
        self.values: dict[str, Any] = dict(section.values)
        self._check_error: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.section.title, classes="section-title", markup=False)
        if self.section.note:
            yield Static(self.section.note, classes="section-note", markup=False)
        for spec in self.section.specs:
            field = HyperField(self.section.key, spec, self.values[spec.name])
            yield field
            yield field.error
        # One help line per section, under its fields, for the field in focus: a line per
        # field shown on focus made every Tab a layout of the whole screen (~2/3 of a key's
        # time in a setup screen). Reserved (the setup screens), it is never laid out again.
        # A form with a help line of its own (the sidebar's) has none per section.
        if self.reserve_help is not None:
            helps = (HyperField.help_of(spec) for spec in self.section.specs)
            yield HelpLine(helps, self.reserve_help)

    @property
    def fields(self) -> list[HyperField]:
        return list(self.query(HyperField))

    def errors(self) -> dict[str, str]:
        """Knob name -> message for every knob that currently blocks starting."""
        out = {f.spec.name: f.parse_error for f in self.fields if f.parse_error}
        if self._check_error and self._check_error[0] not in out:
            out[self._check_error[0]] = self._check_error[1]
        return out

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        """A keystroke: check the text and show any error, but commit nothing yet."""
        event.stop()
        self._check(event.control)

    @on(Input.Submitted)
    @on(Input.Blurred)
    def _finished(self, event: Input.Submitted | Input.Blurred) -> None:
        if isinstance(event, Input.Blurred):
            event.stop()  # Submitted goes on up: a dialog may act on Enter too
        self._check(event.control)
        self._post_commit()

    @on(HyperInput.Refused)
    def _refused(self, event: HyperInput.Refused) -> None:
        event.stop()
        target = next((a for a in event.field.ancestors if isinstance(a, HyperField)), None)
        if target is not None:
            target.show_error(f"{target.spec.name} takes a number: {event.character!r} refused")

    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _switched(self, event: Checkbox.Changed | Select.Changed) -> None:
        event.stop()
        self._check(event.control)
        self._post_commit()

    def _check(self, control: Widget) -> None:
        target = next((a for a in control.ancestors if isinstance(a, HyperField)), None)
        if target is None:
            return
        try:
            target.value = target.spec.validate(target.raw())
            target.parse_error = None
        except ValueError as error:
            target.parse_error = str(error)
        self._revalidate()

    def _post_commit(self) -> None:
        values = self.commit()
        if values is not None:
            self.post_message(HyperForm.Changed(self.section.key, values))

    def commit(self) -> dict[str, Any] | None:
        """Take the fields' values if they are all valid and differ from the last commit;
        returns them (None: nothing new to commit, or something invalid)."""
        fields = self.fields
        if self._check_error or any(f.parse_error for f in fields):
            return None
        candidate = {f.spec.name: f.value for f in fields}
        if candidate == self.values:
            return None
        self.values = candidate
        return dict(candidate)

    def _revalidate(self) -> None:
        fields = self.fields
        self._check_error = None
        if all(f.parse_error is None for f in fields):
            candidate = {f.spec.name: f.value for f in fields}
            try:
                if self.section.check is not None:
                    self.section.check(dict(candidate))
            except ValueError as error:
                message = str(error)
                names = [f.spec.name for f in fields]
                first_word = message.split(" ", 1)[0]
                self._check_error = (first_word if first_word in names else names[0], message)
        for f in fields:
            shown = f.parse_error
            if shown is None and self._check_error and self._check_error[0] == f.spec.name:
                shown = self._check_error[1]
            f.show_error(shown)


class HyperForm(VerticalGroup):
    """All sections of the form. Escape hands the keyboard back to the app's keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave form", tooltip="Give the keys back to the app")
    ]

    class Changed(Message):
        """A section now holds a complete, valid set of values that differs from before."""

        def __init__(self, section: str, values: dict[str, Any]) -> None:
            super().__init__()
            self.section = section
            self.values = values

    def __init__(
        self,
        sections: Iterable[FormSection],
        *,
        id: str | None = None,
        reserve_help: bool = False,
        help_line: str | None = None,
    ) -> None:
        """`reserve_help`: each section keeps the room of its help line while its fields do
        not have the focus (`HelpLine`): a Tab never lays the screen out again (the setup
        screens, whose layouts cost most). `help_line`: the selector of a `HelpLine` on the
        same screen that shows the focused field's help for every section instead (the
        sidebar's, docked under it: the sections' own lines would take a row or three each)."""
        super().__init__(id=id)
        self.reserve_help: bool | None = None if help_line else reserve_help
        self.help_line = help_line
        self._initial = list(sections)
        self._wanted: dict[str, FormSection] = {sec.key: sec for sec in self._initial}
        self._replacing = False

    def compose(self) -> ComposeResult:
        for section in self._initial:
            yield HyperSection(section, self.reserve_help)

    def on_mount(self) -> None:
        # The focused field's name and help change in the same call as the screen's focus
        # (`Screen.set_focus`), so they are drawn in the same frame as the field's own focus.
        # A handler of DescendantFocus ran later, in the field's and the section's message
        # queues: the screen often drew the key's answer in two frames (a frame later).
        self.watch(self.screen, "focused", self._focus_moved, init=False)

    def _field_of(self, widget: Widget | None) -> HyperField | None:
        if widget is None or self not in widget.ancestors:
            return None
        return next((a for a in widget.ancestors if isinstance(a, HyperField)), None)

    def _focus_moved(self, old: Widget | None, new: Widget | None) -> None:
        if not self.is_attached:
            return
        before, after = self._field_of(old), self._field_of(new)
        if before is after:
            return
        if before is not None and before.is_attached:
            before.show_focus(False)
        if after is not None:
            after.show_focus(True)
        if self.help_line is not None:
            line = self.screen.query_one(self.help_line, HelpLine)
            if after is None:
                line.hide()
            else:
                line.show(after.help_text)
            return
        # Each field's own section: a form may have several, each with its help line.
        # Each field's own section: a form may have several, each with its help line (the
        # line of the form's first section showed every field's help before).
        section_before = before.parent if before is not None else None
        section_after = after.parent if after is not None else None
        if isinstance(section_before, HyperSection) and section_before is not section_after:
            if section_before.is_attached and section_before.reserve_help is not None:
                section_before.query_one(HelpLine).hide()
        if after is not None and isinstance(section_after, HyperSection):
            if section_after.reserve_help is not None:
                section_after.query_one(HelpLine).show(after.help_text)

    def section(self, key: str) -> HyperSection:
        return self.query_one(f"#section-{key}", HyperSection)

    async def replace_section(self, section: FormSection) -> None:
        """Show new specs/values for one section (another optimizer was picked, a reset...)."""
        old = self.section(section.key)
        index = self.children.index(old)
        await old.remove()  # first: the new section reuses the old one's id
        await self.mount(HyperSection(section, self.reserve_help), before=index)

    def show(self, sections: Iterable[FormSection]) -> None:
        """Show these sections: those whose specs or committed values differ from what is
        on screen are rebuilt, after the current message (the user's own commits match, so
        the field they are in keeps its focus). Called as often as the app renders; only the
        latest sections asked for are built."""
        for section in sections:
            self._wanted[section.key] = section
        if not self._replacing and self._stale():
            self._replacing = True
            self.call_later(self._replace_stale)

    def _stale(self) -> list[FormSection]:
        shown = {sec.section.key: sec for sec in self.query(HyperSection)}
        out = []
        for key, wanted in self._wanted.items():
            sec = shown.get(key)
            if sec is None:
                continue
            if (
                sec.section.title != wanted.title
                or sec.section.specs != wanted.specs
                or sec.section.note != wanted.note
                or sec.values != dict(wanted.values)
            ):
                out.append(wanted)
        return out

    async def _replace_stale(self) -> None:
        try:
            for _ in range(4):  # the sections may change again while these are built
                stale = self._stale()
                if not stale:
                    break
                for section in stale:
                    await self.replace_section(section)
        finally:
            self._replacing = False

    def commit(self) -> list[tuple[str, dict[str, Any]]]:
        """Commit what was typed but not committed yet: (section, values) per section with
        new valid values (the app applies them at once, no message is posted)."""
        out = []
        for sec in self.query(HyperSection):
            values = sec.commit()
            if values is not None:
                out.append((sec.section.key, values))
        return out

    def committed(self) -> dict[str, dict[str, Any]]:
        """Every section's committed values (after committing what was typed), by key."""
        self.commit()
        return {sec.section.key: dict(sec.values) for sec in self.query(HyperSection)}

    def errors(self) -> dict[str, str]:
        """`section.knob` -> message for every invalid field, in screen order."""
        out: dict[str, str] = {}
        for sec in self.query(HyperSection):
            for name, message in sec.errors().items():
                out[f"{sec.section.key}.{name}"] = message
        return out

    def action_leave(self) -> None:
        """Leave the field without committing what was typed in it."""
        focused = self.screen.focused
        field = next((a for a in focused.ancestors if isinstance(a, HyperField)), None) \
            if focused is not None else None  # fmt: skip
        if field is not None and isinstance(focused, Input):
            section = next(a for a in field.ancestors if isinstance(a, HyperSection))
            field.value = section.values[field.spec.name]
            field.parse_error = None
            field.revert()
        self.screen.set_focus(None)
