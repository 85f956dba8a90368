"""What the server needs, resolved from `optplay serve`'s arguments (tui/commands/serve.py)
and read by the server (tui/serve/server.py). Its own module so that the command, which loads
the server only when serving starts, and the server do not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_TABS = 8  # app processes at once (~110 MB each): more tabs get a "full" page
#: The most tabs --max-tabs may allow.
MAX_TABS_LIMIT = 256


@dataclass(frozen=True)
class ServeOptions:
    """What the server needs: where to listen, what each tab runs, and where."""

    host: str
    port: int
    app_argv: tuple[str, ...]  # the command each browser tab's app process runs
    working_folder: Path  # the app processes' working folder (saves and exports land here)
    public_url: str | None  # the server's address as browsers see it (behind a proxy)
    loopback_only: bool  # every address of `host` is a loopback address
    max_tabs: int = DEFAULT_MAX_TABS  # tabs (app processes) at once; more get a "full" page
