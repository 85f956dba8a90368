"""`SteadyFooter`: Textual's Footer, its keys in place and laid out again only when they must.

Textual's Footer removes and mounts all its keys whenever the screen's bindings are updated,
and they are updated on every focus change: in the race setup screen (about 200 widgets)
one Tab cost two extra layouts of the whole screen, most of the time it took to answer the
key. Moving between two fields rarely changes the keys shown, so this footer compares what
it would show with what it shows and does nothing when they match.

When only labels change (escape is "Leave form" in a form field, "Dismiss menu" in an open
drop-down, "Cancel" elsewhere), the keys on screen take the new labels in place, without a
layout of the screen:
- a key keeps its place: keys are shown in the order the screen binds them (a key a focused
  widget binds anew, escape in a field, stays where the screen shows it), not in Textual's
  order, which puts the focused widget's keys first and so moved every key when the focus
  entered a field;
- the last key keeps its width: it is as wide as the widest label it has shown in this
  footer, so a shorter label is drawn in the same cells (padded, blank at the row's end)
  and only a longer one than ever before lays the screen out again, once. (Escape, whose
  label changes with the focus, is the setup screens' last key.) Any other key takes the
  width of its label, a gap never opens between two keys.
Anything else (keys added or removed, groups) is rebuilt by `compose`, which draws what
Textual's Footer draws, in this order and at these widths.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

#: A shown binding: (binding, enabled, tooltip).
Shown = tuple[Binding, bool, str]


class SteadyKey(FooterKey):
    """A footer key; the last one is no narrower than the widest label its key has shown in
    its footer."""

    def __init__(self, *args: Any, widest: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._widest = widest  # the footer's: key -> widest content width shown

    def label_width(self) -> int:
        """Cells its current label takes (key, description and their padding)."""
        return self.render().cell_len

    def is_last(self) -> bool:
        """Whether it is the row's last key (the command palette's, docked right, aside)."""
        keys = [key for key in self.parent.children if isinstance(key, FooterKey)
                and not key.has_class("-command-palette")] if self.parent else []  # fmt: skip
        return bool(keys) and keys[-1] is self

    def get_content_width(self, container: Size, viewport: Size) -> int:
        width = super().get_content_width(container, viewport)
        if not self.is_last():
            return width
        width = max(width, self._widest.get(self.key, 0))
        self._widest[self.key] = width
        return width


class SteadyFooter(Footer):
    """A Footer whose keys stay in place: rebuilt only when the shown keys change, relabelled
    in place (and at the same width) when only their labels or states change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None  # the keys composed last
        self._widest: dict[str, int] = {}  # key -> widest content width it has shown

    def _ordered(self) -> list[Shown]:
        """The shown bindings, in the order the screen binds their keys: keys only focused
        widgets bind first (as Textual's Footer does), then the screen's, then the app's."""
        screen = self.screen
        screen_keys = {key: i for i, key in enumerate(screen._bindings.key_to_bindings)}
        app_keys = self.app._bindings.key_to_bindings
        shown = [
            (key, (binding, enabled, tooltip))
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
            if binding.show
        ]

        def place(item: tuple[int, tuple[str, Shown]]) -> tuple[int, int]:
            index, (key, _) = item
            if key in screen_keys:
                return 1, screen_keys[key]
            return (2 if key in app_keys else 0), index

        return [entry for _, (_, entry) in sorted(enumerate(shown), key=place)]

    def _keys(self) -> tuple:
        """What `compose` builds from: the shown bindings with their enabled state and
        tooltip, in order, and the command palette's entry."""
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return tuple(self._ordered()), palette[1:] if palette else None, self.show_command_palette

    def compose(self) -> ComposeResult:
        """Textual's `Footer.compose` (8.2), with the keys in `_ordered`'s order and built
        as `SteadyKey`s."""
        if not self._bindings_ready:
            self._shown = None
            return
        self._shown = self._keys()
        action_to_bindings: defaultdict[str, list[Shown]] = defaultdict(list)
        for binding, enabled, tooltip in self._ordered():
            action_to_bindings[binding.action].append((binding, enabled, tooltip))
        self.styles.grid_size_columns = len(action_to_bindings)
        for group, multi_bindings_iterable in groupby(
            action_to_bindings.values(), lambda multi: multi[0][0].group
        ):
            multi_bindings = list(multi_bindings_iterable)
            if group is not None and len(multi_bindings) > 1:
                with KeyGroup(classes="-compact" if group.compact else ""):
                    for multi in multi_bindings:
                        binding, enabled, tooltip = multi[0]
                        yield SteadyKey(
                            binding.key,
                            self.app.get_key_display(binding),
                            "",
                            binding.action,
                            disabled=not enabled,
                            tooltip=tooltip or binding.description,
                            classes="-grouped",
                            widest=self._widest,
                        ).data_bind(compact=Footer.compact)
                yield FooterLabel(group.description)
            else:
                for multi in multi_bindings:
                    binding, enabled, tooltip = multi[0]
                    yield SteadyKey(
                        binding.key,
                        self.app.get_key_display(binding),
                        binding.description,
                        binding.action,
                        disabled=not enabled,
                        tooltip=tooltip,
                        widest=self._widest,
                    ).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            try:
                _, binding, enabled, tooltip = self.screen.active_bindings[
                    self.app.COMMAND_PALETTE_BINDING
                ]
            except KeyError:
                pass
            else:
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def bindings_changed(self, screen: Screen) -> None:
        if self._shown is not None and self.is_attached and screen is self.screen:
            keys = self._keys()
            if keys == self._shown:
                return  # the same keys: nothing to rebuild
            if self._relabel(keys):
                return
        super().bindings_changed(screen)

    def relabel_now(self, screen: Screen) -> None:
        """Show the keys of `screen`'s bindings now if that takes only new labels (called
        as the focus moves, so that the footer is drawn with it); a rebuild is left to
        `bindings_changed`, which Textual calls from this footer's queue."""
        if self._shown is not None and self.is_attached and screen is self.screen:
            keys = self._keys()
            if keys != self._shown:
                self._relabel(keys)

    def _relabel(self, keys: tuple) -> bool:
        """Give the keys on screen new labels, states and actions when the new bindings
        make as many keys, ungrouped, with the same command palette entry. False: rebuild."""
        new, palette, show_palette = keys
        _, old_palette, old_show_palette = self._shown or ((), None, None)
        if (palette, show_palette) != (old_palette, old_show_palette):
            return False
        if any(binding.group is not None for binding, _, _ in new):
            return False
        first: dict[str, Shown] = {}  # compose shows the first binding of each action
        for binding, enabled, tooltip in new:
            first.setdefault(binding.action, (binding, enabled, tooltip))
        shown = [key for key in self.query_children(FooterKey)
                 if not key.has_class("-command-palette")]  # fmt: skip
        with_palette = bool(palette and show_palette and self.app.ENABLE_COMMAND_PALETTE)
        if (
            not all(isinstance(key, SteadyKey) for key in shown)
            or len(shown) != len(first)
            or len(shown) != len(self.children) - with_palette
        ):
            return False
        for key, (binding, enabled, tooltip) in zip(shown, first.values(), strict=True):
            assert isinstance(key, SteadyKey)
            display = self.app.get_key_display(binding)
            relabelled = (key.key_display, key.description) != (display, binding.description)
            key.key, key.key_display, key.action = binding.key, display, binding.action
            key.description = binding.description
            key._disabled = not enabled
            key.set_class(not enabled, "-disabled")
            key.tooltip = tooltip or None
            # Wider than it has been, or narrower and not last (a gap would open): the row
            # is laid out again. Otherwise the label is drawn in the key's cells, the rest
            # of them blank.
            width, room = key.label_width(), key.content_region.width
            resized = relabelled and (width > room or (width < room and not key.is_last()))
            if relabelled:
                key.clear_cached_dimensions()
            key.refresh(layout=resized)
            # Told the screen now, not from the key's own queue once it is idle: that came
            # after the screen's next frame, and the key's new label took a frame of its own
            # after the rest of a Tab's answer.
            key._check_refresh()
        self._shown = keys
        return True
