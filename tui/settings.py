"""What the app remembers between runs: theme, speed, sidebar, smoothing, whether runs are
recorded (`record_runs = false`: no run is kept in the run store, engine/store.py), where
jobs run (`dask`: "" this machine's process pool, "local" or a Dask scheduler's address) and
whether the optimizers may run compiled (`compiled = false`: NumPy only; see
engine/optimizers/compiled.py) and the folder whose .py files "optimizer from file…" lists
(`optimizer_folder`: a folder, never a file loaded by itself).

Kept as a small TOML file in the platform's config folder (`platformdirs.user_config_dir`,
e.g. ~/.config/optplay/settings.toml on Linux; `OPTPLAY_CONFIG_DIR` overrides the folder, as
the tests do). Written atomically (engine.files.write_text_atomic), so a crash never leaves
half a file. A file that cannot be read or holds bad values is ignored with a one-line
warning naming the file and the field, and the defaults are used (the file is left as it is
until a setting changes): settings never stop the app from starting. It is read as
experiment files are (`engine.specfile`: a regular file within a size and depth limit).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from engine import specfile
from engine.files import write_text_atomic  # not engine.history's: that one loads NumPy
from engine.specfile import ConfigError, kind_of

FILE_NAME = "settings.toml"
SIDEBAR_MODES = ("auto", "shown", "hidden")
#: The fastest speed limit a file may ask for (steps per second; "max" means no limit).
MAX_SPEED = 1_000_000


@dataclass(frozen=True)
class Settings:
    theme: str = "textual-dark"
    speed: float | None = 200.0  # steps per second (None: max)
    sidebar: str = "auto"  # auto: hidden below 90 columns, shown above
    smoothing: bool = False  # EMA of the training loss on the Loss chart
    record_runs: bool = True  # keep every trained run in the run store (engine/store.py)
    dask: str = ""  # where sweeps and lesson seeds run: "" this machine's pool, "local" or an
    # address (a Dask scheduler); `optplay --dask` overrides it for one session
    compiled: bool = True  # the compiled path (numba) when installed; false: NumPy only
    # (the same numbers either way; OPTPLAY_COMPILED in the environment overrides it)
    optimizer_folder: str = ""  # where "optimizer from file…" lists .py files ("": the
    # working folder); only a folder is remembered, never a file to load by itself

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def settings_path() -> Path:
    """Where the settings live."""
    folder = os.environ.get("OPTPLAY_CONFIG_DIR")
    if not folder:
        from platformdirs import user_config_dir

        folder = user_config_dir("optplay", appauthor=False)
    return Path(folder) / FILE_NAME


def _checked(data: dict[str, Any]) -> Settings:
    """Settings from a parsed file; ValueError naming the first bad key and what it got."""
    defaults = Settings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "theme":
            if not isinstance(value, str) or not value:
                raise ValueError(f"theme must be a theme name, got {kind_of(value)}")
        elif key == "speed":
            if value == "max":
                value = None
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= MAX_SPEED  # false for nan too; inf is above the range
            ):
                raise ValueError(
                    f"speed must be a number of steps per second in (0, {MAX_SPEED}], "
                    f'or "max", got {kind_of(value)}'
                )
            else:
                value = float(value)
        elif key == "sidebar":
            if value not in SIDEBAR_MODES:
                raise ValueError(
                    f"sidebar must be one of {', '.join(SIDEBAR_MODES)}, got {kind_of(value)}"
                )
        elif key in ("smoothing", "record_runs", "compiled"):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, got {kind_of(value)}")
        elif key == "dask":
            if not isinstance(value, str) or value != value.strip():
                raise ValueError(
                    'dask must be "" (this machine), "local" or a scheduler address, '
                    f"got {kind_of(value)}"
                )
        elif key == "optimizer_folder":
            if not isinstance(value, str):
                raise ValueError(f"optimizer_folder must be a folder's path, got {kind_of(value)}")
        else:
            continue  # a key of a newer version: ignored
        values[key] = value
    return replace(defaults, **values)


def load(path: Path | None = None) -> tuple[Settings, str | None]:
    """The saved settings and a warning (None when all was well). A missing file is no
    warning: the defaults apply. Read as experiment files are (`engine.specfile`): a
    regular file of at most 1 MiB (a FIFO or a link to /dev/zero is refused unread), UTF-8,
    nested at most 32 levels deep (checked before parsing), every value in range. Any
    problem gives the defaults and one warning naming the file and the field; the file is
    left as it is (it is written only when a setting changes)."""
    path = path or settings_path()
    try:
        os.stat(path)
    except FileNotFoundError:
        return Settings(), None
    except (OSError, ValueError):
        pass  # read_toml says what is wrong
    try:
        data = specfile.read(path, "settings").data
    except ConfigError as err:
        return Settings(), f"settings ignored: {err}"
    try:
        return _checked(data), None
    except ValueError as err:
        return Settings(), f"settings ignored: {path}: {err}"


def apply_compiled(settings: Settings | None = None) -> None:
    """Apply the `compiled` setting (read from the file when not given): `compiled = false`
    runs the NumPy path here and in the worker processes started from here."""
    if settings is None:
        settings, _ = load()
    if not settings.compiled:
        from engine.optimizers import compiled

        compiled.turn_off_by_setting()


def dumps(settings: Settings) -> str:
    lines = ["# optplay settings (written by the app; safe to delete)"]
    for key, value in asdict(settings).items():
        if value is None:
            shown = '"max"'
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, str):
            shown = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            shown = repr(value)
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def save(settings: Settings, path: Path | None = None) -> str | None:
    """Write the settings atomically; a one-line warning when that fails (else None)."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, dumps(settings))
    except OSError as err:
        return f"settings not saved: {path} ({err.strerror or err})"
    return None
