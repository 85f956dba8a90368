"""TOML text checked before and after parsing: size, nesting, and lines for messages.

Experiment and bench files are parsed by `tomllib`, which recurses once per nested array or
inline table (a file of 500 nested arrays raised RecursionError), and our own code then walks
what it returns (a key dotted 1,000 levels deep made a 1,000-deep dict whose repr recursed).
So, before parsing, `nesting_line` finds brackets nested deeper than MAX_DEPTH, and after
parsing, `depth` measures the data without recursion; both are linear in the text.

Messages name lines. `code_lines` numbers the lines the way TOML does (only "\\n" ends a
line: U+2028, U+2029, U+0085 and the other separators `str.splitlines()` breaks on are
ordinary characters inside strings and comments), leaves out the lines inside multi-line
strings (they hold text, not keys), and cuts each line to MAX_SCANNED_LINE characters, so the
patterns that look for a key on a line never scan more than that.

The scanner here is a bound and a locator, not a validator: tomllib still decides what is
valid TOML; on text that is not, these functions give an answer, never an error.
"""

from __future__ import annotations

import re
from typing import Any

#: Deepest nesting of arrays, inline tables and tables accepted (real files use 5 at most).
MAX_DEPTH = 32
#: Longest text parsed (experiment and bench files are a few KB).
MAX_TEXT_CHARS = 1 << 20
#: Characters of a line that the key-locating patterns look at.
MAX_SCANNED_LINE = 4096

_SPECIAL = re.compile(r"[\"'#\[\]{}\n]")


def _string_end(text: str, start: int, quote: str, multiline: bool) -> int:
    """Index just after the string whose body starts at `start` (or where an unterminated one
    gives up: the end of the line for a one-line string, the end of the text otherwise)."""
    delim = quote * 3 if multiline else quote
    limit = len(text)
    if not multiline:  # a one-line string ends at its line's end at the latest
        newline = text.find("\n", start)
        limit = limit if newline == -1 else newline
    pos = start
    while True:
        end = text.find(delim, pos, limit)
        if end == -1:
            return limit  # unterminated (tomllib will say so)
        if quote == '"':  # basic strings: a quote after an odd run of backslashes is escaped
            run = 0
            while end - run - 1 >= start and text[end - run - 1] == "\\":
                run += 1
            if run % 2:
                pos = end + 1
                continue
        end += len(delim)
        if multiline:  # up to two more quotes belong to the string's content
            extra = 0
            while extra < 2 and text.startswith(quote, end):
                end += 1
                extra += 1
        return end


def _scan(text: str, max_depth: int | None) -> tuple[int | None, list[tuple[int, int]]]:
    """One linear pass: (the line where brackets first nest deeper than `max_depth`, or
    None; the (first, last) line ranges inside multi-line strings)."""
    depth = 0
    line = 1
    inside: list[tuple[int, int]] = []
    i = 0
    n = len(text)
    while True:
        m = _SPECIAL.search(text, i)
        if m is None:
            return None, inside
        j = m.start()
        c = text[j]
        if c == "\n":
            line += 1
            i = j + 1
        elif c == "#":
            end = text.find("\n", j)
            i = n if end == -1 else end
        elif c in "[{":
            depth += 1
            if max_depth is not None and depth > max_depth:
                return line, inside
            i = j + 1
        elif c in "]}":
            depth = max(0, depth - 1)
            i = j + 1
        else:
            multiline = text.startswith(c * 3, j)
            end = _string_end(text, j + (3 if multiline else 1), c, multiline)
            newlines = text.count("\n", j, end)
            if newlines:
                inside.append((line + 1, line + newlines))
                line += newlines
            i = end


def nesting_line(text: str, max_depth: int = MAX_DEPTH) -> int | None:
    """The line where arrays or inline tables (or a table header's brackets) first nest
    deeper than `max_depth`, or None."""
    return _scan(text, max_depth)[0]


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside multi-line strings, numbered as TOML does
    and cut to MAX_SCANNED_LINE characters."""
    inside = _scan(text, None)[1]
    skip: set[int] = set()
    for first, last in inside:
        skip.update(range(first, last + 1))
    return [
        (number, raw[:MAX_SCANNED_LINE])
        for number, raw in enumerate(text.split("\n"), start=1)
        if number not in skip
    ]


def line_count(text: str) -> int:
    """Lines in `text` as TOML counts them (at least 1)."""
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


def depth(value: Any) -> int:
    """How deeply tables and arrays nest in parsed TOML data (a scalar is 0), without
    recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def deep_key_line(text: str, max_depth: int = MAX_DEPTH) -> int | None:
    """The first line whose key (or table header) has `max_depth` dots or more: where a
    too-deep table made of dotted keys comes from. Best effort, for messages."""
    for number, raw in code_lines(text):
        key = raw.split("=", 1)[0]
        if key.count(".") >= max_depth:
            return number
    return None
