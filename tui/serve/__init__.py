"""`optplay serve`: the app in a web browser, one app process per browser tab.

command.py holds the command (arguments, checks, messages; it imports no web library),
server.py the web server (textual-serve's, with tab processes that always end), driver.py
the Textual driver of a served app process.
"""

from tui.serve.command import add_serve_command, cmd_serve

__all__ = ["add_serve_command", "cmd_serve"]
