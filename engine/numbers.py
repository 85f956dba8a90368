"""How numbers are written for people: one formatter for the status line, the race panel, the
results tables, the CLI summaries and the bench output.

    format_number(0.0123456)    -> "0.01235"
    format_number(1000.0)       -> "1000"
    format_number(2.5e-05)      -> "2.5e-05"
    format_number(None)         -> "-"        (the value is unknown)
    format_seconds(3.1e-05)     -> "31.0 us"

Plain notation from 1e-3 up to 1e6 (so a learning rate of 1000 reads "1000", not "1e+03"),
scientific notation outside; `digits` significant digits, trailing zeros dropped. Pure
formatting: the engine's text tables and the app use it alike.
"""

from __future__ import annotations

import math

#: What an unknown value prints as.
MISSING = "-"


def format_number(x: float | int | None, digits: int = 4, missing: str = MISSING) -> str:
    """`x` with `digits` significant digits ("0.01235", "1000", "2.5e-05", "nan")."""
    if x is None:
        return missing
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0.0:
        return "0"
    magnitude = abs(x)
    if 1e-3 <= magnitude < 1e6:
        decimals = max(0, digits - 1 - math.floor(math.log10(magnitude)))
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    mantissa, exponent = f"{x:.{max(digits - 1, 0)}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def format_seconds(seconds: float | None, missing: str = MISSING) -> str:
    """A duration with a readable unit (ASCII: "us" for microseconds)."""
    if seconds is None:
        return missing
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_bytes(n: int | None, missing: str = MISSING) -> str:
    """A size in bytes with a binary unit: "468 B", "150.2 KiB", "3.1 MiB"."""
    if n is None:
        return missing
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} GiB"
