"""Declared hyperparameters and the validation that turns user input into typed values.

Every optimizer, schedule and task lists its knobs as `Hyper` specs. The UI builds its form
from them, the CLI parses `--set name=value` with them and experiment files are checked
against them, so there is exactly one place that decides what a valid value is and how a
bad one is reported: `<name> must be <what> in <range>, got <value>`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["float", "int", "bool", "choice", "ints"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _fmt_num(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def _show(raw: Any) -> str:
    """How a rejected input is echoed back: strings quoted, long ones cut."""
    if isinstance(raw, str):
        text = raw if len(raw) <= 40 else raw[:37] + "..."
        return repr(text)
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: its name, default, kind, bounds and a one-line help.

    Bounds are inclusive unless `low_open` / `high_open`; `None` means unbounded. `aliases`
    maps words a user may type to values (e.g. batch_size "full" -> 0, eps1 "auto" -> None).
    For kind "ints" (a comma-separated list, e.g. milestones) the bounds apply to each item.
    """

    name: str
    default: Any
    kind: Kind = "float"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    log: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "choice" and not self.choices:
            raise TypeError(f"Hyper {self.name!r}: kind 'choice' needs choices")
        if self.kind not in ("float", "int", "bool", "choice", "ints"):
            raise TypeError(f"Hyper {self.name!r}: unknown kind {self.kind!r}")

    # -- description ---------------------------------------------------------------------

    @property
    def range_text(self) -> str:
        """The allowed range as a reader sees it: `[0, 1)`, `(0, inf)`, `one of a, b`."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        left = "(" if (self.low_open or self.low is None) else "["
        right = ")" if (self.high_open or self.high is None) else "]"
        return f"{left}{_fmt_num(lo)}, {_fmt_num(hi)}{right}"

    @property
    def expected(self) -> str:
        """What a valid value is, as used in error messages."""
        words = {
            "float": "a number in ",
            "int": "an integer in ",
            "ints": "a comma-separated list of integers in ",
            "bool": "",
            "choice": "",
        }[self.kind]
        extra = ""
        if self.aliases:
            extra = " or " + " or ".join(repr(k) for k in self.aliases)
        return words + self.range_text + extra

    def format(self, value: Any) -> str:
        """Render a value the way a user would type it back into a form."""
        if value is None:
            for word, aliased in self.aliases.items():
                if aliased is None:
                    return word
            return ""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "ints":
            return ", ".join(str(int(v)) for v in value)
        if self.kind == "float":
            return repr(float(value)) if not float(value).is_integer() else _fmt_num(value)
        return str(value)

    # -- validation -----------------------------------------------------------------------

    def _fail(self, raw: Any) -> ValueError:
        return ValueError(f"{self.name} must be {self.expected}, got {_show(raw)}")

    def _in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        if self.high is not None and (x > self.high or (self.high_open and x == self.high)):
            return False
        return True

    def _number(self, raw: Any) -> float:
        if isinstance(raw, bool):
            raise self._fail(raw)
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                raise self._fail(raw)
            try:
                x = float(text)
            except ValueError:
                raise self._fail(raw) from None
        elif isinstance(raw, numbers.Real):
            try:
                x = float(raw)
            except (OverflowError, ValueError):
                raise self._fail(raw) from None
        else:
            raise self._fail(raw)
        if not math.isfinite(x):
            raise self._fail(raw)
        return x

    def _integer(self, raw: Any) -> int:
        if isinstance(raw, numbers.Integral) and not isinstance(raw, bool):
            return int(raw)
        if isinstance(raw, str):
            text = raw.strip()
            try:
                return int(text)
            except ValueError:
                pass
        x = self._number(raw)
        if not x.is_integer():
            raise self._fail(raw)
        return int(x)

    def validate(self, raw: Any) -> Any:
        """Turn `raw` (a typed value or a string from a form) into a valid typed value.

        Raises ValueError naming the field and its allowed range.
        """
        if isinstance(raw, str):
            key = raw.strip().lower()
            for word, aliased in self.aliases.items():
                if key == word.lower():
                    return aliased
        elif raw is None and None in self.aliases.values():
            return None

        if self.kind == "bool":
            if isinstance(raw, bool | int) and raw in (0, 1):
                return bool(raw)
            if isinstance(raw, str):
                key = raw.strip().lower()
                if key in _TRUE:
                    return True
                if key in _FALSE:
                    return False
            import numpy as np  # local: numpy bools are not Python bools

            if isinstance(raw, np.bool_):
                return bool(raw)
            raise self._fail(raw)

        if self.kind == "choice":
            if isinstance(raw, str):
                key = raw.strip().lower()
                for choice in self.choices:
                    if key == choice.lower():
                        return choice
            raise self._fail(raw)

        if self.kind == "ints":
            items: Iterable[Any]
            if isinstance(raw, str):
                text = raw.strip().strip("[]()")
                items = [part for part in text.replace(";", ",").split(",") if part.strip()]
                if not items:
                    raise self._fail(raw)
            elif isinstance(raw, list | tuple):
                items = raw
            else:
                raise self._fail(raw)
            out = []
            for item in items:
                try:
                    value = self._integer(item)
                except ValueError:
                    raise self._fail(raw) from None
                if not self._in_range(value):
                    raise self._fail(raw)
                out.append(value)
            return tuple(out)

        if self.kind == "int":
            value = self._integer(raw)
        else:
            value = self._number(raw)
        if not self._in_range(value):
            raise self._fail(raw)
        return value


def validate_all(
    owner: str, specs: Iterable[Hyper], given: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Validate `given` against `specs`, filling defaults; unknown names are an error.

    `owner` names what the knobs belong to (e.g. "optimizer adam") in the unknown-key message.
    With `partial`, missing knobs are left out instead of filled with defaults.
    """
    specs = list(specs)
    by_name = {h.name: h for h in specs}
    unknown = [k for k in given if k not in by_name]
    if unknown:
        allowed = ", ".join(by_name) or "none"
        raise ValueError(
            f"{unknown[0]} is not a hyperparameter of {owner} (expected one of: {allowed})"
        )
    out: dict[str, Any] = {}
    for h in specs:
        if h.name in given:
            out[h.name] = h.validate(given[h.name])
        elif not partial:
            out[h.name] = h.default
    return out
