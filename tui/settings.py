"""What the app remembers between runs: theme, speed, sidebar, smoothing and where jobs run.

Kept as a small TOML file in the platform's config folder (`platformdirs.user_config_dir`,
e.g. ~/.config/optplay/settings.toml on Linux; `OPTPLAY_CONFIG_DIR` overrides the folder, as
the tests do). Written atomically (engine.history.write_text_atomic), so a crash never leaves
half a file. A file that cannot be read or holds bad values is ignored with a one-line
warning, and the defaults are used: settings never stop the app from starting.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from engine.history import write_text_atomic

FILE_NAME = "settings.toml"
SIDEBAR_MODES = ("auto", "shown", "hidden")


@dataclass(frozen=True)
class Settings:
    theme: str = "textual-dark"
    speed: float | None = 200.0  # steps per second (None: max)
    sidebar: str = "auto"  # auto: hidden below 90 columns, shown above
    smoothing: bool = False  # EMA of the training loss on the Loss chart
    dask: str = ""  # where sweeps and lesson seeds run: "" this machine's pool, "local" or an
    # address (a Dask scheduler); `optplay --dask` overrides it for one session

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
    """Settings from a parsed file; ValueError naming the first bad key."""
    defaults = Settings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "theme":
            if not isinstance(value, str) or not value:
                raise ValueError("theme must be a theme name")
        elif key == "speed":
            if value == "max":
                value = None
            elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError('speed must be a number of steps per second > 0, or "max"')
            else:
                value = float(value)
        elif key == "sidebar":
            if value not in SIDEBAR_MODES:
                raise ValueError(f"sidebar must be one of {', '.join(SIDEBAR_MODES)}")
        elif key == "smoothing":
            if not isinstance(value, bool):
                raise ValueError("smoothing must be true or false")
        elif key == "dask":
            if not isinstance(value, str) or value != value.strip():
                raise ValueError('dask must be "" (this machine), "local" or a scheduler address')
        else:
            continue  # a key of a newer version: ignored
        values[key] = value
    return replace(defaults, **values)


def load(path: Path | None = None) -> tuple[Settings, str | None]:
    """The saved settings and a warning (None when all was well). A missing file is no
    warning: the defaults apply."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(), None
    except (OSError, UnicodeDecodeError) as err:
        return Settings(), f"settings ignored: cannot read {path} ({err})"
    try:
        return _checked(tomllib.loads(text)), None
    except (tomllib.TOMLDecodeError, ValueError) as err:
        return Settings(), f"settings ignored: {path}: {err}"


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
