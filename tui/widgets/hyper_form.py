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


class HyperField(VerticalGroup):
    """One knob: name, control, inline error (its help shows under its section while it is
    focused). The focused field's name is drawn reversed: it reads without colour, at a
    glance. (A class on the name itself, not `:focus-within`: Textual caches a label's style
    without its ancestors' focus, so one label of many could keep the look of another; and
    not on the field, whose whole subtree a class change restyles, the Select's parts
    included, on every Tab.)"""

    DEFAULT_CSS = """
    HyperField .hyper-name.-focused {
        text-style: reverse bold;
    }
    """

    def __init__(self, section: str, spec: Hyper, value: Any) -> None:
        super().__init__(classes="hyper-field")
        self.section = section
        self.spec = spec
        self.value = value
        self.parse_error: str | None = None
        self._error_shown: str | None = None  # the message under the field now

    def compose(self) -> ComposeResult:
        spec, ident = self.spec, control_id(self.section, self.spec.name)
        with HorizontalGroup(classes="hyper-row"):
            yield Label(spec.name, classes="hyper-name")
            if spec.kind == "bool":
                yield HyperCheckbox("", bool(self.value), compact=True, id=ident)
            elif spec.kind == "choice":
                yield Select(
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
        yield Static("", classes="hyper-error", markup=False)

    @property
    def help_text(self) -> str:
        return self.help_of(self.spec)

    @staticmethod
    def help_of(spec: Hyper) -> str:
        return f"{spec.help} {spec.range_text}" if spec.help else spec.range_text

    def on_descendant_focus(self) -> None:
        self.query_one(".hyper-name").add_class("-focused")

    def on_descendant_blur(self) -> None:
        self.query_one(".hyper-name").remove_class("-focused")

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
            self.query_one(".hyper-error", Static).update(message or "")


class HelpLine(Static):
    """The help of the focused field of a section, under its fields.

    `reserved`: always on screen, as tall as the longest help of the section's fields at its
    width (blank while no field of the section has the focus), so that a focus move changes
    its text only and never the layout of the screen; else shown only while a field of the
    section has the focus, as tall as its text."""

    def __init__(self, helps: Iterable[str], reserved: bool) -> None:
        super().__init__("", classes="hyper-help" + (" -reserved" if reserved else ""),
                         markup=False)  # fmt: skip
        self.helps = tuple(helps)
        self.reserved = reserved

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
            self.update("", layout=False)
        else:
            self.display = False


class HyperSection(VerticalGroup):
    """The fields of one configured thing, validated together, committed together."""

    def __init__(self, section: FormSection, reserve_help: bool = False) -> None:
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
            yield HyperField(self.section.key, spec, self.values[spec.name])
        # One help line per section, under its fields, for the field in focus: a line per
        # field shown on focus made every Tab a layout of the whole screen (~2/3 of a key's
        # time in a setup screen). Not reserved, it is laid out again when it appears,
        # leaves or changes height; reserved (the setup screens), never.
        yield HelpLine((HyperField.help_of(spec) for spec in self.section.specs), self.reserve_help)

    def on_descendant_focus(self, event: Any) -> None:
        target = next((a for a in event.widget.ancestors if isinstance(a, HyperField)), None)
        if target is not None:
            self._show_help(target.help_text)

    def on_descendant_blur(self) -> None:
        # After the focus move: a Tab to the next field of this section keeps the line.
        self.call_later(self._hide_help_unless_focused)

    def _show_help(self, text: str) -> None:
        self.query_one(HelpLine).show(text)

    def _hide_help_unless_focused(self) -> None:
        focused = self.screen.focused if self.is_attached else None
        if focused is None or self not in focused.ancestors:
            self.query_one(HelpLine).hide()

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
        self, sections: Iterable[FormSection], *, id: str | None = None, reserve_help: bool = False
    ) -> None:
        """`reserve_help`: each section keeps the room of its help line while its fields do
        not have the focus (`HelpLine`): a Tab never lays the screen out again (the setup
        screens, whose layouts cost most)."""
        super().__init__(id=id)
        self.reserve_help = reserve_help
        self._initial = list(sections)
        self._wanted: dict[str, FormSection] = {sec.key: sec for sec in self._initial}
        self._replacing = False

    def compose(self) -> ComposeResult:
        for section in self._initial:
            yield HyperSection(section, self.reserve_help)

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
