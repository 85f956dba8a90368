"""The Textual driver of an app process served to a browser tab (`optplay serve`).

The server runs each tab's app with `TEXTUAL_DRIVER=tui.serve.driver:ServedDriver`.
"""

from __future__ import annotations

from textual import messages
from textual.drivers.web_driver import WebDriver


class ServedDriver(WebDriver):
    """Textual's web driver, except that the app quits when its server goes away.

    The server talks to the app over the app's standard input. Textual's web driver stops
    reading when that input closes (the server was killed, or crashed) but leaves the app
    running: unwatched, a training run goes on at full speed for nobody. Here the app is asked
    to exit instead, as when its tab closes."""

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:
            # `exit_event` is set when the app itself stops; otherwise the input ended under it.
            if not self.exit_event.is_set():
                self._app.post_message(messages.ExitApp())
