"""What the terminal can show, and ASCII for terminals that cannot show more.

On older servers the output encoding is ASCII (`LC_ALL=C`, or `PYTHONIOENCODING=ascii`): braille
charts, box-drawing borders and markers such as ● cannot be written there. Instead of each
widget knowing, one table maps every character optplay or Textual draws to ONE ASCII character
(so every cell keeps its width):

- braille cells by where their dots are: none " ", top only "'", bottom only ".", both ":",
  a full cell "#";
- box drawing and block elements to `- | + = _ #`, checkbox ends `▐ ▌` to `[ ]`;
- markers and arrows to letters (● @, ○ o, ✕ x, ▼ v, ▲ ^), dashes to "-";
- Greek letters and sub/superscripts of the help's formulas to their Latin look-alikes;
- letters with accents to their letter, combining accents (zero width) to nothing;
- anything else to "?".

`tui.ascii_filter.AsciiFilter` applies it to every line the app renders (a Textual line filter:
screenshots and snapshots see it too); `to_ascii` / `AsciiWriter` to what the command line
prints. `output_is_ascii()` decides, from the stream's encoding. This module imports no UI
library: the headless commands use it.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from typing import Any, TextIO

#: Characters optplay draws that tell whether an encoding can show its charts and borders.
PROBE = "⣿━│●▼"

_SINGLE: dict[str, str] = {}


def _add(chars: str, ascii_char: str) -> None:
    for ch in chars:
        _SINGLE[ch] = ascii_char


_add("─━┄┅┈┉╌╍═╴╶╸╺▔‐‑‒–—―−⁻₋", "-")
_add("│┃┆┇┊┋╎╏║╵╷╹╻▕▏▎▍", "|")
_add("┌┍┎┏┐┑┒┓└┕┖┗┘┙┚┛├┝┞┟┠┡┢┣┤┥┦┧┨┩┪┫┬┭┮┯┰┱┲┳┴┵┶┷┸┹┺┻┼┽┾┿╀╁╂╃╄╅╆╇╈╉╊╋", "+")
_add("╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬╭╮╯╰", "+")
_add("▁▂▃", "_")
_add("▄▅▆▇█▀▉▊▋", "#")
_add("░", ".")
_add("▒", ":")
_add("▓", "#")
_add("▐", "[")
_add("▌", "]")
_add("●◉◆■▪", "@")
_add("○◌◇□▫", "o")
_add("✕✖×", "x")
_add("▼▾↓", "v")
_add("▲▴↑", "^")
_add("►▶→⟶", ">")
_add("◄◀←", "<")
_add("⟳↻", "*")
_add("·•∙", ".")
_add("…", ".")
_add("±", "~")
_add("√∇", "V")
_add("‖", "|")
_add("≤≥≈≠", "=")
_add("‘’′", "'")
_add("“”″", '"')
_add("⁰₀", "0")
_add("¹₁", "1")
_add("²₂", "2")
_add("³₃", "3")
_add("⁴₄", "4")
_add("⁵₅", "5")
_add("⁶₆", "6")
_add("⁷₇", "7")
_add("⁸₈", "8")
_add("⁹₉", "9")
_add("ᵗₜ", "t")
_add("ᵢᵏₖ", "k")
_add("ⁱ", "i")
_add("ˣₓ", "x")
_add("α", "a")
_add("β", "b")
_add("γ", "g")
_add("δΔ", "d")
_add("ε", "e")
_add("η", "n")
_add("θ", "0")
_add("κ", "k")
_add("λ", "l")
_add("μ", "u")
_add("ν", "v")
_add("π", "p")
_add("ρ", "p")
_add("σΣ", "s")
_add("τ", "t")
_add("φψ", "f")
_add("ω", "w")
_add("Π", "P")
_add("⊙", "o")
_add("\u00a0", " ")


@functools.lru_cache(maxsize=4096)
def ascii_char(ch: str) -> str:
    """One printable ASCII character for `ch` (ASCII characters stay as they are)."""
    if ch < "\x80":
        return ch
    if "\u2800" <= ch <= "\u28ff":  # braille: where are the dots?
        bits = ord(ch) - 0x2800
        top = bits & 0b00011011  # dots 1, 2, 4, 5: the upper half of the cell
        bottom = bits & 0b11100100  # dots 3, 6, 7, 8: the lower half
        if bits == 0:
            return " "
        if bin(bits).count("1") >= 7:
            return "#"
        if top and bottom:
            return ":"
        return "'" if top else "."
    if ch in _SINGLE:
        return _SINGLE[ch]
    if unicodedata.combining(ch):
        return ""  # a combining accent (m̂) takes no cell of its own
    decomposed = unicodedata.normalize("NFKD", ch)  # ḡ -> g, ½ -> 1/2
    return next((c for c in decomposed if " " < c < "\x7f"), "?")


def to_ascii(text: str) -> str:
    """`text` with every character made ASCII, one for one (widths are kept: a zero-width
    combining accent becomes nothing)."""
    if text.isascii():
        return text
    return "".join(ascii_char(ch) for ch in text)


#: Greek letters spelled out where text may grow (`ascii_words`): one letter lost meaning
#: (α -> a, θ -> 0).
_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "ζ": "zeta",
    "η": "eta", "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
    "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi",
    "ω": "omega", "Σ": "sum", "Π": "prod", "Φ": "Phi", "Ω": "Omega",
}  # fmt: skip
_WORDS = {"≤": "<=", "≥": ">=", "≠": "!=", "≈": "~=", "←": "<-", "→": "->", "±": "+/-",
          "∞": "inf", "⊙": "*", "∇": "grad ", "⁻": "^-"}  # fmt: skip
_ACCENTS = {"\u0302": "_hat", "\u0304": "_bar", "\u0303": "_tilde", "\u0307": "_dot"}


def ascii_words(text: str) -> str:
    """`text` in ASCII that keeps its meaning where it may take more cells than it had (the
    CLI, labels measured after this): m̂ -> m_hat, √v̂ -> sqrt(v_hat), α -> alpha,
    Δθ -> dtheta, ≤ -> <=; what is left goes through `to_ascii`, one for one."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFD", text)  # ḡ -> g + a combining macron
    text = re.sub(
        "([A-Za-z\u0370-\u03ff])([\u0302\u0304\u0303\u0307])",
        lambda m: m[1] + _ACCENTS[m[2]], text,
    )  # fmt: skip
    text = re.sub("Δ([\u0370-\u03ff])", lambda m: "d" + _GREEK.get(m[1], m[1]), text)  # Δθ
    text = re.sub("(?<=[\\w)])·(?=[\\w(])", "*", text)  # η·g: a product
    # λmax, λmin: a name with its subscript, not a product (λ_max, as the theory writes it).
    text = re.sub("([\u03b1-\u03c9])(max|min)\\b", r"\1_\2", text)
    # Letters side by side are a product (λθ, μb): spelled out they need a sign between.
    text = re.sub("(?<=[\u03b1-\u03c9])(?=[A-Za-z\u03b1-\u03c9])", "*", text)
    text = re.sub("(?<=[A-Za-z])(?=[\u03b1-\u03c9])", "*", text)
    text = "".join(_GREEK.get(ch, _WORDS.get(ch, ch)) for ch in text)
    text = re.sub("√(\\w+)", r"sqrt(\1)", text).replace("√", "sqrt")
    return to_ascii(unicodedata.normalize("NFC", text))


def encoding_of(stream: Any) -> str:
    """The encoding a stream writes with ("utf-8" when it does not say)."""
    return getattr(stream, "encoding", None) or "utf-8"


def can_show(text: str, stream: Any = None) -> bool:
    """Whether `stream` (default: the process's stdout) can write `text`."""
    stream = sys.__stdout__ if stream is None else stream
    try:
        text.encode(encoding_of(stream))
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def c_locale() -> bool:
    """Whether the locale the terminal was given is C (or POSIX): ASCII only. Python writes
    UTF-8 there all the same (PEP 538, 540), so the stream's encoding does not tell."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return value.split(".")[0] in ("C", "POSIX") and "." not in value
    return False


def output_is_ascii(stream: Any = None) -> bool:
    """True when the terminal's encoding cannot show braille and box drawing, or its locale
    is C (`LC_ALL=C`), or OPTPLAY_ASCII=1 asks for ASCII."""
    if os.environ.get("OPTPLAY_ASCII", "").strip() not in ("", "0"):
        return True
    return c_locale() or not can_show(PROBE, stream)


class AsciiWriter:
    """A text stream that writes ASCII to the stream it wraps (for the command line)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(ascii_words(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def ascii_stdout_if_needed() -> bool:
    """Make sys.stdout and sys.stderr write ASCII when their encoding cannot show optplay's
    characters; True if it did."""
    changed = False
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, AsciiWriter) and output_is_ascii(stream):
            setattr(sys, name, AsciiWriter(stream))
            changed = True
    return changed
