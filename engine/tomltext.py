"""TOML text scanned before parsing: nesting depth, and lines for messages.

Spec files (experiments, bench and sweep specs, lessons, the app's settings) are parsed by
`tomllib`, which has no depth limit: it recurses once per nested array or inline table (500
nested arrays raised RecursionError) and builds a key dotted 80,000 levels deep
(`a.a.a....= 1`, a 156 KiB file) into 80,000 nested dicts, which took the process past 24 GB.
So `scan` walks the text once, before tomllib sees it, and measures how deep the data would
nest (table headers and dotted keys included) without building anything: it stops at the
first line past MAX_DEPTH, so its memory is bounded whatever the file holds.

Messages name lines. `code_lines` numbers the lines the way TOML does (only "\\n" ends a
line: U+2028, U+2029, U+0085 and the other separators `str.splitlines()` breaks on are
ordinary characters inside strings and comments), leaves out the lines inside multi-line
strings (they hold text, not keys; `scan` finds them), and cuts each line to
MAX_SCANNED_LINE characters, so the patterns that look for a key on a line never scan more
than that.

The scanner is a bound and a locator, not a validator: tomllib still decides what is valid
TOML; on text that is not, these functions give an answer, never an error.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

#: Deepest nesting of arrays, inline tables and tables accepted (real files use 5 at most).
MAX_DEPTH = 32
#: Longest text parsed (experiment and bench files are a few KB).
MAX_TEXT_CHARS = 1 << 20
#: Characters of a line that the key-locating patterns look at.
MAX_SCANNED_LINE = 4096


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


_VALUE_SPECIAL = re.compile(r"[\"'#\[\]{}\n,]")
_KEY_SPECIAL = re.compile(r"[\"'#\[\]{}\n,.=]")
_HEADER_PART = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^.\"'\s\]]+")


class Scan(NamedTuple):
    """What one pass over a TOML text found: the first line whose tables, arrays or inline
    tables nest deeper than the limit (None: within it), and the (first, last) line ranges
    inside multi-line strings."""

    deep_line: int | None
    string_lines: list[tuple[int, int]]


def scan(text: str, max_depth: int | None = MAX_DEPTH) -> Scan:
    """One linear pass over `text`, in memory bounded by `max_depth` (see the module
    docstring). Depth counts as `depth` does on the parsed data: the document is 1, each
    table, array of tables, array and inline table one more, and a dotted key `a.b.c = 1`
    nests as deep as `[a.b]` then `c = 1`. Stops at the first line past `max_depth`."""
    limit = max_depth if max_depth is not None else math.inf
    line = 1
    inside: list[tuple[int, int]] = []
    table_depth = 1  # the table the current header opened (the document: 1)
    arrays: set[str] = set()  # names of arrays of tables seen ([[name]]), for their depth
    stack: list[tuple[str, int]] = []  # open '[' / '{' of a value, with their depth
    key_mode = True  # reading a key (line start, after '{' or ',' in an inline table)
    segments = 1  # parts of the key read so far
    line_start = True  # nothing but blanks read on this line yet (outside brackets)
    i = 0
    n = len(text)
    while True:
        m = (_KEY_SPECIAL if key_mode else _VALUE_SPECIAL).search(text, i)
        if m is None:
            return Scan(None, inside)
        j = m.start()
        c = text[j]
        if line_start and text[i:j].strip():
            line_start = False
        if c == "\n":
            line += 1
            i = j + 1
            if not stack:
                key_mode, segments, line_start = True, 1, True
            continue
        if c == "#":
            end = text.find("\n", j)
            i = n if end == -1 else end
            continue
        if c in "\"'":
            multiline = text.startswith(c * 3, j)
            end = _string_end(text, j + (3 if multiline else 1), c, multiline)
            newlines = text.count("\n", j, end)
            if newlines:
                inside.append((line + 1, line + newlines))
                line += newlines
            i = end
            line_start = False
            continue
        if c == "[" and key_mode and line_start and not stack:
            end = text.find("\n", j)
            end = n if end == -1 else end
            table_depth = _header_depth(text[j:end], arrays, limit)
            if table_depth > limit:
                return Scan(line, inside)
            i, line_start = end, False
            continue
        line_start = False
        base = stack[-1][1] if stack else table_depth  # the table or array being filled
        if key_mode and c == ".":
            segments += 1
            if base + segments - 1 > limit:  # the dotted key's own tables: stop at once
                return Scan(line, inside)
            i = j + 1
            continue
        if key_mode and c == "=":
            key_mode = False
            i = j + 1
            continue
        if c in "[{":
            inner = base + (segments - 1 if key_mode or not stack or stack[-1][0] == "{" else 0)
            level = max(inner, base) + 1
            if level > limit:
                return Scan(line, inside)
            stack.append((c, level))
            key_mode, segments = c == "{", 1
        elif c in "]}":
            if stack:
                stack.pop()
            key_mode = False
        elif c == ",":
            key_mode, segments = bool(stack) and stack[-1][0] == "{", 1
        i = j + 1


def _header_depth(raw: str, arrays: set[str], limit: float) -> int:
    """The depth of the table a header line `[a.b]` or `[[a.b]]` opens: 1 (the document) + a
    level per part + a level per array of tables on the way (recorded in `arrays`). Beyond
    `limit` the parts are only counted (a huge header costs no memory)."""
    double = raw.startswith("[[")
    body = raw[2 if double else 1 :]
    close = body.find("]")
    body = body if close == -1 else body[:close]
    if body.count(".") + 2 > limit:  # at least this deep, whatever is quoted
        return 1 + sum(1 for _ in _HEADER_PART.finditer(body)) + int(double)
    parts = [p[1:-1] if p[:1] in "\"'" else p for p in _HEADER_PART.findall(body)]
    depth = 1 + len(parts) + int(double)
    depth += sum(".".join(parts[:k]) in arrays for k in range(1, len(parts)))
    if double:
        arrays.add(".".join(parts))
    return depth


def code_lines(
    text: str, string_lines: list[tuple[int, int]] | None = None
) -> list[tuple[int, str]]:
    """(line number, line) for every line outside multi-line strings (`string_lines`, from a
    `scan` of `text`; scanned here when not given), numbered as TOML does and cut to
    MAX_SCANNED_LINE characters."""
    inside = scan(text, None).string_lines if string_lines is None else string_lines
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
