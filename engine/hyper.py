"""Declared hyperparameters and the validation that turns user input into typed values.

Every optimizer, schedule and task lists its knobs as `Hyper` specs. The UI builds its form
from them, the CLI parses `--set name=value` with them and experiment files are checked
against them, so there is exactly one place that decides what a valid value is and how a
bad one is reported: `<name> must be <what> in <range>, got <value>`.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["float", "int", "bool", "choice", "ints"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

#: Integer knobs are int64 (what numpy arrays and TOML files hold): a knob without a declared
#: `high` still stops below 2^63, so a typed 10**400 is a message, not an OverflowError later.
INT_LIMIT = 2**63 - 1


def _fmt_num(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def _show(raw: Any) -> str:
    """How a rejected input is echoed back: strings quoted, long ones cut. Never raises (the
    message must survive any input: ints past str()'s 4300-digit limit, a failing __repr__)."""
    if isinstance(raw, str):
        text = raw if len(raw) <= 40 else raw[:37] + "..."
        return repr(text)
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10**40:
        # ~digits from the bit length: str() of a huge int is slow or refused outright.
        digits = int(abs(raw).bit_length() * math.log10(2)) + 1
        return f"{'-' if raw < 0 else ''}an integer of about {digits} digits"
    try:
        text = repr(raw)
    except Exception:
        return f"a {type(raw).__name__} object"
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
            x = float(value)
            # Integral values below 1e15 print as integers; everything else as repr, the
            # shortest text that validates back to the same float (`:g` kept 6 digits only).
            return _fmt_num(x) if x.is_integer() and abs(x) < 1e15 else repr(x)
        return str(value)

    # -- validation -----------------------------------------------------------------------

    def _fail(self, raw: Any, why: str = "") -> ValueError:
        return ValueError(f"{self.name} must be {self.expected}, got {_show(raw)}{why}")

    def _check_int(self, value: int, raw: Any) -> int:
        if not -INT_LIMIT - 1 <= value <= INT_LIMIT:
            raise self._fail(raw, " (integers stop at 2^63 - 1)")
        if not self._in_range(value):
            raise self._fail(raw)
        return value

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
        elif isinstance(raw, numbers.Real | decimal.Decimal):
            try:
                x = float(raw)
            except Exception:  # OverflowError (10**400), a signalling NaN, a broken __float__
                raise self._fail(raw) from None
        else:
            raise self._fail(raw)
        if not math.isfinite(x):
            raise self._fail(raw)
        # -0.0 is 0.0: the same point of every range, and it should not print as "-0".
        return x + 0.0

    def _integer(self, raw: Any) -> int:
        if isinstance(raw, numbers.Integral) and not isinstance(raw, bool):
            try:
                return int(raw)
            except Exception:  # an Integral whose __int__ fails
                raise self._fail(raw) from None
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
            elif isinstance(raw, list | tuple) and raw:  # empty: rejected, as "" and "[]" are
                items = raw
            else:
                raise self._fail(raw)
            out = []
            for item in items:
                try:
                    value = self._integer(item)
                except ValueError:
                    raise self._fail(raw) from None
                out.append(self._check_int(value, raw))
            return tuple(out)

        if self.kind == "int":
            return self._check_int(self._integer(raw), raw)
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
    if not isinstance(given, Mapping):
        raise ValueError(
            f"hyperparameters of {owner} must be a mapping of names to values, got {_show(given)}"
        )
    unknown = [k for k in given if k not in by_name]
    if unknown:
        allowed = ", ".join(by_name) or "none"
        first = unknown[0]
        key = first if isinstance(first, str) and len(first) <= 40 else _show(first)
        raise ValueError(f"{key} is not a hyperparameter of {owner} (expected one of: {allowed})")
    out: dict[str, Any] = {}
    for h in specs:
        if h.name in given:
            out[h.name] = h.validate(given[h.name])
        elif not partial:
            out[h.name] = h.default
    return out
