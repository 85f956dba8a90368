"""`SteadyFooter`: Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer removes and mounts all its keys whenever the screen's bindings are updated,
and they are updated on every focus change: in the race setup screen (about 200 widgets)
one Tab cost two extra layouts of the whole screen, most of the time it took to answer the
key. Moving between two fields rarely changes the keys shown, so this footer compares what
it would show with what it shows and does nothing when they match. When only labels change
(escape is "Leave form" in a form field, "Cancel" elsewhere), the keys on screen take the new
labels in place; anything else (keys added or removed, groups) is rebuilt by Textual's own
`compose`, so what is drawn is what Textual's Footer draws.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class SteadyFooter(Footer):
    """A Footer that recomposes only when the shown keys (or their state) changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None  # the keys composed last

    def _keys(self) -> tuple:
        """What `compose` builds from: the shown bindings with their enabled state and
        tooltip, in order, and the command palette's entry."""
        active = self.screen.active_bindings
        keys = tuple(
            (binding, enabled, tooltip)
            for (_, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        return keys, palette[1:] if palette else None, self.show_command_palette

    def compose(self) -> ComposeResult:
        self._shown = self._keys() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if self._shown is not None and self.is_attached and screen is self.screen:
            keys = self._keys()
            if keys == self._shown:
                return  # the same keys: nothing to rebuild
            if self._relabel(keys):
                return
        super().bindings_changed(screen)

    def _relabel(self, keys: tuple) -> bool:
        """Give the keys on screen new labels, states and actions when the new bindings
        make as many keys, ungrouped, with the same command palette entry. False: rebuild."""
        new, palette, show_palette = keys
        _, old_palette, old_show_palette = self._shown or ((), None, None)
        if (palette, show_palette) != (old_palette, old_show_palette):
            return False
        if any(binding.group is not None for binding, _, _ in new):
            return False
        first: dict[str, tuple] = {}  # compose shows the first binding of each action
        for binding, enabled, tooltip in new:
            first.setdefault(binding.action, (binding, enabled, tooltip))
        shown = [key for key in self.query_children(FooterKey)
                 if not key.has_class("-command-palette")]  # fmt: skip
        if len(shown) != len(first) or len(shown) != len(list(self.children)) - bool(
            palette and show_palette and self.app.ENABLE_COMMAND_PALETTE
        ):
            return False
        resized = False
        for key, (binding, enabled, tooltip) in zip(shown, first.values(), strict=True):
            display = self.app.get_key_display(binding)
            width_changed = (key.key_display, key.description) != (display, binding.description)
            resized = resized or width_changed
            key.key, key.key_display, key.action = binding.key, display, binding.action
            key.description = binding.description
            key._disabled = not enabled
            key.set_class(not enabled, "-disabled")
            key.tooltip = tooltip or None
            key.refresh(layout=width_changed)
        if resized:  # the keys moved: repaint the whole row, or a shorter label leaves the old
            self.refresh()  # one's last letters on the terminal ("Leave formd^g", issue 25)
        self._shown = keys
        return True
