"""The one reader of spec files: experiments, bench and sweep specs, lessons (and the app's
settings, through `read_toml`).

A file is read within bounds (`engine.files.read_limited`: a regular file of at most 1 MiB,
never a FIFO or a device), decoded as UTF-8, scanned once for nesting deeper than MAX_DEPTH
(`engine.tomltext.scan`: dotted keys and table headers count, refused before `tomllib` builds
anything, in bounded memory) and parsed once. The result, a `SpecFile`, keeps the text so
that a validator can ask where a table or key is (`SpecFile.line`) and build its message
(`SpecFile.error`): every message names the file, the table, the key and the line:

    "exp.toml: line 3: Invalid value (column 7)"                           (TOML syntax)
    "exp.toml: [optimizer_hypers] beta1 must be a number in [0, 1), got 1.5 (line 9)"
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.files import ReadError, read_limited
from engine.hyper import _show
from engine.tomltext import (
    MAX_DEPTH,
    MAX_TEXT_CHARS,
    code_lines,
    depth,
    line_count,
    scan,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_TEXT_CHARS",
    "ConfigError",
    "SpecFile",
    "at",
    "kind_of",
    "names",
    "parse",
    "read",
    "read_toml",
]


class ConfigError(ValueError):
    """A bad spec file. `path` is the file as given, `line` (1-based) and `key` are set when
    known."""

    def __init__(
        self, path: str, message: str, line: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.line = line
        self.key = key


def at(line: int | None) -> str:
    """ " (line N)" for the end of a message, or nothing when the line is unknown."""
    return f" (line {line})" if line is not None else ""


def kind_of(value: Any) -> str:
    """A value as a message shows what it got: "a table", "an array", or the value cut short
    (never raises, even on a 4,000-digit integer)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return _show(value)


def names(keys: Sequence[str], most: int = 5) -> str:
    """Keys for a message: each cut short, at most `most` of them."""
    shown = ", ".join(_show(k) for k in keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


# -- locating keys in the text (for messages only) ----------------------------------------

# Linear-time patterns (each quantifier stops where the next part starts; an older header
# pattern, three overlapping \s* and [^\[\]]+? runs, was cubic on a long line of spaces).
_HEADER = re.compile(r"^[ \t]*(\[\[?)([^\[\]\n]*)\]\]?[ \t\r]*(?:#.*)?$")
_KEYLINE = re.compile(r"""^[ \t]*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)[ \t]*[=.]""")


def _unquote(key: str) -> str:
    return key[1:-1] if key[:1] in "\"'" else key


def _header(raw: str) -> tuple[str, bool] | None:
    """The table a `[table]` or `[[table]]` header line names (dotted parts unquoted) and
    whether it is an array of tables, or None."""
    m = _HEADER.match(raw)
    if m is None or not m.group(2).strip():
        return None
    name = ".".join(_unquote(p.strip()) for p in m.group(2).strip().split("."))
    return name, m.group(1) == "[["


@dataclass(frozen=True)
class SpecFile:
    """A parsed spec file: its name in messages (`source`), its text and its data."""

    source: str
    text: str
    data: dict[str, Any]
    string_lines: list[tuple[int, int]] = field(default_factory=list, repr=False)

    def has_table(self, table: str) -> bool:
        """Whether the file has a top-level `[table]` (what tells a bench or sweep spec from
        an experiment)."""
        return isinstance(self.data.get(table), dict)

    def line(
        self, table: str | None, key: str | None = None, entry: int | None = None
    ) -> int | None:
        """Line (1-based) where `key` is set in `table` (a dotted name; None = top level), or
        the table's header line when `key` is None. With `entry`, `table`'s first part names
        an array of tables and the `entry`-th (0-based) of its `[[...]]` entries is searched
        (`line("race.optimizer_hypers", "lr", entry=1)`); a key not found there gives the
        entry's header line. Finds inline and dotted spellings too (`optimizer_hypers = {...}`,
        `optimizer_hypers.lr = 1`), and a key spelled as a table (`[foo]` for key foo). Best
        effort: a layout it does not follow gives None."""
        target = table or ""
        array = target.split(".")[0] if entry is not None else None
        seen = -1  # entries of `array` met so far
        current = ""  # the table the lines being read belong to ("" = top level)
        entry_line: int | None = None
        table_line: int | None = None
        for number, raw in code_lines(self.text, self.string_lines):
            header = _header(raw)
            if header is not None:
                current, is_array = header
                if array is not None:
                    if is_array and current == array:
                        seen += 1
                        if seen == entry:
                            entry_line = number
                        elif seen > entry:
                            break
                    elif seen == entry and not _within(current, array):
                        break  # another table: the entry ended
                    if seen != entry:
                        continue
                if key is None and current == target and table is not None:
                    return number
                if key is not None and _within(current, _child(target, key)):
                    return number  # a key spelled as a [table]
                continue
            if array is not None and seen != entry:
                continue
            m = _KEYLINE.match(raw)
            if not m:
                continue
            name = _unquote(m.group(1))
            if key is not None and current == target and name == key:
                return number
            if table is not None and _child(current, name) == target:
                # `optimizer_hypers = {...}` or `optimizer_hypers.lr = ...` in the parent.
                table_line = table_line or number
                if key is None or re.search(rf"\b{re.escape(key)}[ \t]*=", raw):
                    return number
        return table_line or entry_line

    def error(self, message: str, line: int | None = None, key: str | None = None) -> ConfigError:
        """A ConfigError naming this file, with " (line N)" after `message` when known."""
        return ConfigError(self.source, f"{message}{at(line)}", line, key)


def _child(table: str, key: str) -> str:
    return f"{table}.{key}" if table else key


def _within(table: str, outer: str) -> bool:
    """Whether `table` is `outer` or a table inside it."""
    return table == outer or table.startswith(outer + ".")


# -- reading --------------------------------------------------------------------------------


def parse(text: str, source: str = "<string>") -> SpecFile:
    """TOML `text` parsed once, within bounds: text longer than MAX_TEXT_CHARS, or nested
    deeper than MAX_DEPTH (arrays, inline tables, tables, dotted keys), is refused before
    tomllib sees it. Every problem is a ConfigError that names `source` and, where known, the
    line ("exp.toml: line 3: Invalid value (column 7)")."""
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(source, f"the text is longer than {MAX_TEXT_CHARS} characters")
    found = scan(text)
    if found.deep_line is not None:
        line = found.deep_line
        raise ConfigError(source, f"line {line}: nested more than {MAX_DEPTH} levels deep", line)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
        if m:
            line = int(m.group(1))
            raise ConfigError(
                source, f"line {line}: {msg[: m.start()]} (column {m.group(2)})", line
            ) from None
        m = re.search(r"\s*\(at end of document\)$", msg)
        if m:
            line = line_count(text)
            raise ConfigError(
                source, f"line {line}: {msg[: m.start()]} (at the end of the file)", line
            ) from None
        raise ConfigError(source, msg) from None
    except ValueError:  # tomllib lets int()'s 4300-digit limit escape as a plain ValueError
        line = None
        for run in re.finditer(r"[0-9A-Fa-f_]+", text):  # linear, unlike {4300,}
            if len(run.group()) >= 4300:
                line = text.count("\n", 0, run.start()) + 1
                break
        where = f"line {line}: " if line else ""
        raise ConfigError(source, f"{where}a number is too long (over 4300 digits)", line) from None
    except RecursionError:  # a safety net: the scan above should make it impossible
        raise ConfigError(source, f"nested more than {MAX_DEPTH} levels deep") from None
    if depth(data) > MAX_DEPTH:  # a safety net too (linear, no recursion)
        raise ConfigError(source, f"nested more than {MAX_DEPTH} levels deep")
    return SpecFile(source, text, data, found.string_lines)


def read_toml(path: str | os.PathLike[str], what: str = "experiment") -> str:
    """The UTF-8 text of a spec file (`what` names its kind in messages), read within bounds
    (`engine.files.read_limited`: regular files only, at most 1 MiB). ConfigError names the
    file and, for bad bytes, the line."""
    source = os.fspath(path)
    try:
        raw = read_limited(path)
    except ReadError as err:
        raise ConfigError(source, str(err)) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark, as some editors write
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            source,
            f"line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x}); "
            f"{what} files must be UTF-8 TOML",
            line,
        ) from None


def read(path: str | os.PathLike[str], what: str = "experiment") -> SpecFile:
    """Read and parse a spec file once, within bounds (`read_toml`, then `parse`);
    ConfigError names the file (as given) on any problem."""
    return parse(read_toml(path, what), os.fspath(path))
