"""Text from files and users made safe to show: on a terminal and in a spreadsheet.

- `for_terminal(text)`: every character that is not printable (control characters such as
  ESC and BEL, DEL and the C1 controls, Unicode format characters such as the bidi overrides
  and zero-width spaces, line and paragraph separators, unassigned code points) is written as
  a Python-style escape (\\x1b, \\u202e, \\U000e0001). A race entry name from a crafted file
  therefore cannot retitle the window, clear the screen or reorder the text around it, and
  the escape shows the reader what is there. Printable text, accents and any script pass
  unchanged.
- `shortened(text, width)`: a name cut to the room it has, with "…" saying it was cut.
- `for_spreadsheet(cell)`: a text cell starting with =, +, -, @, a tab or a carriage return
  gets a leading apostrophe, which spreadsheets read as "this is text", so an exported CSV
  cannot run a formula when it is opened (OWASP's advice on CSV injection). Only text cells
  (names) go through it; numbers are written as numbers.
"""

from __future__ import annotations

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def for_terminal(text: str) -> str:
    """`text` with every non-printable character escaped (see the module docstring)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def shortened(text: str, width: int) -> str:
    """`text` cut to `width` characters with an ellipsis where it was cut (a name never
    spills over into the next line or column)."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def for_spreadsheet(cell: str) -> str:
    """A text cell that a spreadsheet will not take for a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
