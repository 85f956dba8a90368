"""`optplay serve`: the app in a web browser, one app process per tab. The command lives with
its server in tui/serve/ (tui/serve/command.py: flags, checks; the web library loads only
when serving starts)."""

from __future__ import annotations

from tui.serve.command import add_serve_command as add_parser
from tui.serve.command import cmd_serve as handle

NAME = "serve"

__all__ = ["NAME", "add_parser", "handle"]
