"""Property tests for `Hyper.validate`: whatever is typed or passed in, every declared knob of
every optimizer, schedule and task gives back a valid typed value inside its bounds, or a
ValueError whose message starts with the knob's name. Never any other exception.

The strategies defined here (`hostile_values`, `valid_values`, `ALL_SPECS`) are shared by the
other test_fuzz_* modules.
"""

from __future__ import annotations

import decimal
import fractions
import math
import numbers
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.hyper import INT_LIMIT, Hyper
from engine.kinds import registry
from engine.schedules import _BASE_LR

# -- every declared knob -------------------------------------------------------------------


def _all_specs() -> list[tuple[str, Hyper]]:
    out = [("schedule.base_lr", _BASE_LR)]
    for kind in ("optimizer", "schedule", "task"):
        reg = registry(kind)
        for name in reg.names():
            out += [(f"{kind}.{name}.{h.name}", h) for h in reg.specs(name)]
    return out


ALL_SPECS = _all_specs()
SPEC_IDS = [label for label, _ in ALL_SPECS]
SPECS = [spec for _, spec in ALL_SPECS]


# -- hostile inputs ------------------------------------------------------------------------


class BrokenFloat:
    """A Real whose conversion to float fails, the way a buggy numeric type would."""

    def __float__(self) -> float:
        raise RuntimeError("__float__ exploded")

    def __repr__(self) -> str:
        return "BrokenFloat()"


class BrokenInt:
    """An Integral whose conversions fail."""

    def __int__(self) -> int:
        raise ArithmeticError("__int__ exploded")

    __index__ = __float__ = __int__


# Registered, not subclassed: isinstance(x, numbers.Real) is what validate checks.
numbers.Real.register(BrokenFloat)
numbers.Integral.register(BrokenInt)


class BrokenRepr:
    """An object that cannot even be shown in a message."""

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ exploded")

    def __float__(self) -> float:
        raise RuntimeError("__float__ exploded")


#: Inputs worth checking on every knob, whatever the strategy draws.
NASTY: list[Any] = [
    None, True, False, 0, 1, -1, 2, 0.5, -0.0, 0.0, 5e-324, -5e-324, 1e-308, 1e308,
    1.7976931348623157e308, math.nan, -math.nan, math.inf, -math.inf,
    2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**400, -(10**400), 10**5000,
    "", " ", "\t\n", "\u2003", "0", "-0", "+0.0", "-0.0", "1", "1.0", "1e3", "1e-3", " 2 ",
    "1e400", "-1e400", "1e-400", "nan", "NaN", "-nan", "inf", "+inf", "-Infinity", "infinity",
    "0x10", "1_000", "1__0", "_1", "١٢٣", "１２", "٣.٥", "1,5", "1.5.5", "--1", "1e", "e5",
    "true", "false", "yes", "off", "full", "auto", "None", "null", "[1, 2]", "(3,)", "[]", ",",
    "1, 2, 3", "3;1", "\x00", "1\x00", "\ud800", "9" * 5000, "1" + "0" * 400, "é" * 50,
    b"1", bytearray(b"2"), memoryview(b"3"), [1], [1, 2], (1, 2), [], (), [True], [1.5],
    [math.nan], [10**400], ["٣"], [None], {"a": 1}, {1, 2}, frozenset(), 1j, complex(1, 0),
    decimal.Decimal("0.5"), decimal.Decimal("-0"), decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"), decimal.Decimal("Infinity"), decimal.Decimal("1E+999999"),
    decimal.Decimal("1E-999999"), fractions.Fraction(1, 3), fractions.Fraction(10**400, 3),
    np.float64(0.25), np.float64(-0.0), np.float32(0.1), np.float32("nan"), np.float16(3),
    np.longdouble("1e400") if np.finfo(np.longdouble).max > 1e400 else np.longdouble(7),
    np.int64(3), np.int8(-1), np.uint64(2**64 - 1), np.bool_(True), np.bool_(False),
    np.array(1.0), np.array([1.0, 2.0]), np.array([]), np.datetime64("2020"),
    np.timedelta64(1, "s"), np.str_("0.5"), object(), BrokenFloat(), BrokenInt(),
    BrokenRepr(), Ellipsis, type, print, range(3),
]  # fmt: skip

_WHITESPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000"])
_DIGIT_SCRIPTS = [
    "0123456789",
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic
    "०१२३४५६७८९",  # Devanagari
    "０１２３４５６７８９",  # fullwidth
    "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",  # mathematical bold
]


def _respell(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", script))


def numeric_texts() -> st.SearchStrategy[str]:
    """Strings a person might type into a number field: numbers in any spelling, any script,
    with any padding, plus near-misses."""
    base = st.one_of(
        st.floats().map(repr),
        st.floats().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.3e}"),
        st.integers().map(str),
        st.integers(min_value=-(10**60), max_value=10**60).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from([s for s in NASTY if isinstance(s, str)]),
        st.from_regex(r"\A[+-]?[0-9_]{0,6}[.,]?[0-9]{0,6}([eE][+-]?[0-9]{1,4})?\Z"),
    )
    scripted = st.tuples(base, st.sampled_from(_DIGIT_SCRIPTS)).map(lambda p: _respell(*p))
    return st.tuples(_WHITESPACE, st.one_of(base, scripted), _WHITESPACE).map("".join)


def hostile_values() -> st.SearchStrategy[Any]:
    """Anything at all: typed numbers of every flavour and size, text, containers, objects."""
    scalars = st.one_of(
        st.floats(),
        st.floats(width=32).map(np.float32),
        st.floats().map(np.float64),
        st.integers(),
        st.integers(min_value=-(10**500), max_value=10**500),
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
        st.decimals(),
        st.fractions(),
        st.booleans(),
        st.complex_numbers(),
        st.none(),
    )
    texts = st.one_of(numeric_texts(), st.text(max_size=30), st.binary(max_size=8))
    containers = st.one_of(
        st.lists(st.one_of(st.integers(), st.floats(), numeric_texts()), max_size=4),
        st.lists(st.integers(min_value=-5, max_value=10**6), max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    return st.one_of(st.sampled_from(NASTY), scalars, texts, containers)


def valid_values(spec: Hyper) -> st.SearchStrategy[Any]:
    """Values `spec` must accept: in-range numbers (typed or as text), choices, aliases."""
    if spec.kind == "bool":
        out: st.SearchStrategy[Any] = st.one_of(
            st.booleans(), st.sampled_from(["true", "False", " yes", "off ", "1", "0"])
        )
    elif spec.kind == "choice":
        out = st.sampled_from(spec.choices).flatmap(
            lambda c: st.sampled_from([c, c.upper(), f" {c} "])
        )
    elif spec.kind in ("int", "ints"):
        lo = -INT_LIMIT - 1 if spec.low is None else math.ceil(spec.low)
        hi = INT_LIMIT if spec.high is None else math.floor(spec.high)
        ints = st.one_of(
            st.integers(min_value=lo, max_value=hi),
            st.integers(min_value=lo, max_value=min(hi, lo + 1000)),
        )
        if spec.kind == "int":
            out = st.one_of(ints, ints.map(str), ints.map(np.int64))
        else:
            out = st.lists(ints, min_size=1, max_size=6).flatmap(
                lambda xs: st.sampled_from([tuple(xs), list(xs), ", ".join(map(str, xs))])
            )
    else:
        floats = st.floats(
            min_value=spec.low,
            max_value=spec.high,
            exclude_min=spec.low is not None and spec.low_open,
            exclude_max=spec.high is not None and spec.high_open,
            allow_nan=False,
            allow_infinity=False,
        )
        out = st.one_of(floats, floats.map(repr), floats.map(np.float64))
    if spec.aliases:
        out = st.one_of(out, st.sampled_from(list(spec.aliases)))
    return out


def spec_and_valid() -> st.SearchStrategy[tuple[Hyper, Any]]:
    return st.sampled_from(SPECS).flatmap(lambda h: st.tuples(st.just(h), valid_values(h)))


# -- checks --------------------------------------------------------------------------------


def bits(x: Any) -> Any:
    """Floats by bit pattern (so -0.0 and 0.0 differ), tuples item by item."""
    if isinstance(x, float):
        return struct.pack("<d", x)
    if isinstance(x, tuple):
        return tuple(bits(v) for v in x)
    return x


def assert_typed_and_in_bounds(spec: Hyper, value: Any) -> None:
    """`value` is what `spec.validate` may return: a typed value inside the bounds."""
    if any(value is a or (value == a and type(value) is type(a)) for a in spec.aliases.values()):
        return
    if spec.kind == "bool":
        assert type(value) is bool
    elif spec.kind == "choice":
        assert type(value) is str and value in spec.choices
    elif spec.kind == "ints":
        assert type(value) is tuple and value
        for v in value:
            assert type(v) is int and -INT_LIMIT - 1 <= v <= INT_LIMIT and spec._in_range(v)
    elif spec.kind == "int":
        assert type(value) is int and -INT_LIMIT - 1 <= value <= INT_LIMIT
        assert spec._in_range(value)
    else:
        assert type(value) is float and math.isfinite(value) and spec._in_range(value)
        assert math.copysign(1.0, value) == 1.0 or value != 0.0, "-0.0 must come back as 0.0"


def check(spec: Hyper, raw: Any) -> Any:
    """Validate `raw`: either a typed in-bounds value (returned) or a ValueError naming the
    knob (None returned). Any other exception fails the test."""
    try:
        value = spec.validate(raw)
    except ValueError as err:
        assert str(err).startswith(f"{spec.name} must be "), str(err)
        return None
    assert_typed_and_in_bounds(spec, value)
    # A value once valid stays valid and unchanged: validating it again, or typing back what
    # the form shows for it, gives the same value bit for bit (no setting is lost).
    assert bits(spec.validate(value)) == bits(value)
    assert bits(spec.validate(spec.format(value))) == bits(value), spec.format(value)
    return value


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_knob_survives_the_nasty_list(spec):
    for raw in NASTY:
        check(spec, raw)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_default_is_valid_and_round_trips(spec):
    assert bits(check(spec, spec.default)) == bits(spec.default) or spec.default is None


@given(spec=st.sampled_from(SPECS), raw=hostile_values())
def test_any_input_is_a_typed_value_or_a_named_error(spec, raw):
    check(spec, raw)


@given(pair=spec_and_valid())
def test_in_range_input_is_accepted_in_any_form(pair):
    spec, raw = pair
    value = check(spec, raw)
    assert value is not None or None in spec.aliases.values(), f"{raw!r} was rejected"


@given(
    spec=st.sampled_from([h for h in SPECS if h.kind == "float"]),
    text=numeric_texts(),
)
def test_number_text_in_any_script_agrees_with_python(spec, text):
    """A typed number is read as Python reads it (any Unicode digits, any padding)."""
    value = check(spec, text)
    try:
        expected = float(text.strip()) + 0.0
    except ValueError:
        expected = None
    alias = text.strip().lower() in spec.aliases
    if value is not None and not alias:
        assert value == expected
    if expected is not None and math.isfinite(expected) and spec._in_range(expected):
        assert value == expected or alias


NEG_ZERO_CLOSED = Hyper("weight_decay", 0.0, low=0.0)
NEG_ZERO_OPEN = Hyper("lr", 1e-3, low=0.0, low_open=True)


@pytest.mark.parametrize("raw", [-0.0, "-0", " -0.0 ", np.float64(-0.0), decimal.Decimal("-0")])
def test_negative_zero_is_zero(raw):
    """-0.0 is 0.0: accepted (as +0.0) by [0, ...), rejected by (0, ...) like 0 itself."""
    value = NEG_ZERO_CLOSED.validate(raw)
    assert bits(value) == bits(0.0) and NEG_ZERO_CLOSED.format(value) == "0"
    with pytest.raises(ValueError, match=r"^lr must be a number in \(0, inf\)"):
        NEG_ZERO_OPEN.validate(raw)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (10**400, "got an integer of about 401 digits (integers stop at 2^63 - 1)"),
        (2**63, "got 9223372036854775808 (integers stop at 2^63 - 1)"),
        (1e300, "got 1e+300 (integers stop at 2^63 - 1)"),
        ("9" * 5000, "got '" + "9" * 37 + "...'"),
        (BrokenRepr(), "got a BrokenRepr object"),
        (BrokenFloat(), "got BrokenFloat()"),
    ],
    ids=["10**400", "2**63", "1e300", "5000 digits", "broken repr", "broken float"],
)
def test_messages_survive_monster_inputs(raw, shown):
    with pytest.raises(ValueError) as info:
        Hyper("total_steps", 1000, kind="int", low=1).validate(raw)
    assert str(info.value).startswith("total_steps must be an integer in [1, inf), ")
    assert str(info.value).endswith(shown)


def test_form_text_keeps_every_digit():
    """The form shows a float so that submitting it unchanged gives the same float back."""
    spec = Hyper("x0", 0.0)
    for x in (1.2345678901234567e300, 123456789012345678.0, 1e15 + 1, 0.1 + 0.2, 5e-324):
        assert spec.validate(spec.format(x)) == x


def test_decimals_and_fractions_are_numbers():
    spec = Hyper("beta1", 0.9, low=0.0, high=1.0, high_open=True)
    assert spec.validate(decimal.Decimal("0.5")) == 0.5
    assert spec.validate(fractions.Fraction(1, 4)) == 0.25
    for bad in (decimal.Decimal("sNaN"), fractions.Fraction(10**400, 3), np.float32("nan")):
        with pytest.raises(ValueError, match=r"^beta1 must be a number in \[0, 1\)"):
            spec.validate(bad)


@given(spec=st.sampled_from([h for h in SPECS if h.kind in ("int", "ints")]), raw=st.floats())
def test_float_input_to_integer_knobs(spec, raw):
    value = check(spec, raw)
    if value is not None and spec.kind == "int":
        assert value == raw  # only integral floats in range are taken
