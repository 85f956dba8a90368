"""`MainScreen`: the playground's screen (sidebar, charts, status and key bars).

Textual's screens repaint every widget on them when the focus moves (the `focused`
reactive's default): on this screen a Tab between two knobs of the sidebar repainted the
charts and every row, most of what the key cost. The widgets that lost or got the focus,
and those a focus move restyles, repaint themselves (as in a `Dialog`, tui/dialogs.py): the
rest stays as it is.
"""

from __future__ import annotations

from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget


class MainScreen(Screen):
    """The app's default screen; a focus move repaints only what it changes."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
