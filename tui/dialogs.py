"""`Dialog`: the base of optplay's modal screens, answering once.

Two keys that arrive in one burst (a double-tapped enter, enter then escape, key repeat) can
both reach a dialog before its first dismissal takes effect. Textual's `Screen.dismiss` pops
whatever screen is on top, so the second answer would pop the screen below it (on the main
screen: ScreenStackError, and the app ends with unsaved work lost; found by the key storm in
tests/tui/test_stress.py). A `Dialog` ignores a dismissal once it is no longer on top: the
first key already answered it. Only our own dialogs are guarded; Textual is not patched.

A focus move in a dialog costs only what it changes. Textual (8.2) restyles every widget
under the outermost ancestor of the old and the new focus that has a `:focus-within` rule:
in the race setup screen, each Tab inside a racer's box restyled its ~70 widgets, for the
handful whose style can depend on where the focus is. A `Dialog` restyles the same widgets
that could change: those with a `:focus-within` rule under an ancestor that gained or lost
the focus, within the same subtrees Textual looks at, so the styles come out the same
(tests/tui/test_dialog_focus.py compares them after every Tab). It also skips Textual's
repaint of the whole screen on a focus move: the widgets whose style or focus changed
repaint themselves, and the keys in its footer follow the focus in the same frame. The
restyle is Textual's own whenever `Screen._update_focus_styles` is
not the method this was written for (Textual 8.2.8, checked by its source like the guards
in tui/textual_fixes.py).

What changes behind a dialog reaches it less often. Textual repaints the top screen wherever
the screen below it changed; a dialog's dimmed backdrop is the whole screen below, tinted
cell by cell, so each status line or chart frame of a run training behind it cost a full
repaint (at 120x40 about 20 ms, 10-30 times a second: most of a core, and a key waited
for the frame in progress). A `Dialog` gathers those areas and repaints them together at
most BACKDROP_HZ times a second; one that hides the screen below (an opaque background, as
the race setup's) skips them. The dialog's own widgets repaint at once, as always.

A dialog's timers and workers die with it. Textual calls an interval timer's callback from
the timer's own task and a worker's `call_from_thread` callback from the app's loop, whatever
state the screen is in: when the app closes, an installed screen off the stack (the Sweep
screen left with its sweep) can lose its widgets before its timers stop, and a worker's result
can arrive after the screen's widgets are gone (the Sweep screen's timer failed so with
`NoMatches '#sweep-progress'`, a crash in the app). Timers made with `every` call back only
while the dialog is `alive` and stop when it is dismissed for good; a worker hands its result
back through `while_alive`, which drops it once the dialog is gone; its workers are cancelled
with it (a thread worker checks `alive`). An installed dialog lives on when dismissed: the
Sweep screen's sweep goes on while the user is away, until the screen is removed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.dom import DOMNode
from textual.geometry import Region
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget

from tui.textual_fixes import RegionCompositor, source_digest
from tui.widgets.footer import SteadyFooter

#: sha256 (first 16 hex digits) of the `Screen._update_focus_styles` that `Dialog` narrows.
FOCUS_STYLES_SOURCE = "cc50d6be558c8751"
#: Whether Textual's method is that one (else dialogs use Textual's own).
NARROW_FOCUS_STYLES = source_digest(Screen._update_focus_styles) == FOCUS_STYLES_SOURCE

#: How often what changed behind a dialog shows through its backdrop.
BACKDROP_HZ = 4

ResultType = TypeVar("ResultType")
Callback = TypeVar("Callback", bound=Callable[..., Any])


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose `dismiss` acts only while it is the screen on top."""

    #: While this dialog is open, space belongs to it (buttons, lists, fields), not to the
    #: app's run/pause. A read-only dialog (the help) leaves space to the app.
    takes_space = True

    #: Textual's screens repaint every widget when the focus moves (this reactive's default);
    #: the widgets that lost or got the focus, and those restyled by the move, repaint
    #: themselves, so a dialog leaves the rest as it is.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    _backdrop_due: set[Region] | None = None  # areas changed behind, not repainted yet

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A frame's changes drawn region by region (tui/textual_fixes.py): a Tab's few
        # changed cells, far apart, no longer render every widget between them.
        self._compositor = RegionCompositor()

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Dialog[ResultType]:
        # Textual refreshes the top screen with regions only for changes on the screens
        # below (Screen._compositor_refresh); everything else comes without regions.
        if regions and repaint and not layout and not recompose and self.is_current:
            if self.styles.background.a == 1:
                return self  # nothing below shows through
            if self._backdrop_due is None:
                self._backdrop_due = set()
                self.set_timer(
                    1 / BACKDROP_HZ, self.while_alive(self._repaint_backdrop), name="backdrop"
                )
            self._backdrop_due.update(regions)
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _repaint_backdrop(self) -> None:
        regions, self._backdrop_due = self._backdrop_due or set(), None
        if regions:
            super().refresh(*regions)

    @property
    def on_top(self) -> bool:
        try:
            return self.app.screen is self
        except Exception:  # no screens at all: the app is shutting down
            return False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.on_top:
            return AwaitComplete.nothing()  # already answered by an earlier key
        if not self.app.is_screen_installed(self):
            self.end()  # popped and removed: nothing of it runs on
        return super().dismiss(result)

    # -- lifetime of timers and workers ---------------------------------------------------------

    _gone = False  # dismissed for good
    _owned_timers: list[Timer] | None = None

    @property
    def alive(self) -> bool:
        """Whether this dialog still has its widgets: mounted, neither dismissed for good nor
        being removed, and the app not shutting down (when the app closes, an installed
        screen off the stack loses its widgets before its timers stop). Safe to read from a
        worker thread."""
        closing = self._gone or self._closing or self._closed or getattr(self, "_pruning", False)
        if closing or not self.is_attached:
            return False
        try:
            return self.app.is_running
        except Exception:  # no app any more
            return False

    def while_alive(self, callback: Callback) -> Callback:
        """`callback`, called only while this dialog is `alive` (timers, results from a
        worker: `self.app.call_from_thread(self.while_alive(self._done), report)`)."""

        @functools.wraps(callback)
        def call(*args: Any, **kwargs: Any) -> Any:
            return callback(*args, **kwargs) if self.alive else None

        return call  # type: ignore[return-value]

    def every(self, seconds: float, callback: Callable[[], object], *, name: str) -> Timer:
        """An interval timer that lives as long as this dialog."""
        timer = self.set_interval(seconds, self.while_alive(callback), name=name)
        if self._owned_timers is None:
            self._owned_timers = []
        self._owned_timers.append(timer)
        return timer

    def end(self) -> None:
        """Stop this dialog's timers and cancel its workers (it is going away)."""
        self._gone = True
        for timer in self._owned_timers or ():
            timer.stop()
        self.workers.cancel_node(self)

    def _on_unmount(self) -> None:  # Textual calls each class's own handler (no super())
        self.end()

    def set_focus(
        self, widget: Widget | None, scroll_visible: bool = True, from_app_focus: bool = False
    ) -> None:
        before = self.focused
        super().set_focus(widget, scroll_visible, from_app_focus)
        if self.focused is not before:
            self.relabel_footer()

    def relabel_footer(self) -> None:
        """The footer's keys follow the bindings now (the focus moved, a drop-down opened).
        Textual tells a footer about new keys from the footer's own queue, often after the
        next frame: the footer's escape ("Leave form" / "Cancel") came a frame after the
        focus. Told now, they are drawn together (Textual's own call finds nothing new)."""
        for footer in self.query_children(SteadyFooter):
            footer.relabel_now(self)
        self.refresh_bindings()

    def _update_focus_styles(
        self, focused: Widget | None = None, blurred: Widget | None = None
    ) -> None:
        """Restyle the widgets a focus move can change (see the module docstring)."""
        if not NARROW_FOCUS_STYLES:
            super()._update_focus_styles(focused, blurred)
            return
        moved = [w for w in (focused, blurred) if w is not None]
        # The ancestors whose focus-within state flipped (those of both keep the focus).
        flipped: set[DOMNode] = set()
        for widget in moved:
            flipped.symmetric_difference_update(widget.ancestors_with_self)
        nodes: set[DOMNode] = set()
        for widget in moved:
            # Textual's scope: the subtree of the outermost ancestor with a :focus-within rule.
            scope = next((a for a in reversed(widget.ancestors_with_self) if a._has_focus_within),
                         None)  # fmt: skip
            if scope is None:
                continue
            for node in scope.walk_children(with_self=True):
                if node._has_focus_within and not flipped.isdisjoint(node.ancestors_with_self):
                    nodes.add(node)
        if nodes:
            self.app.stylesheet.update_nodes(nodes, animate=True)
            # Those whose look changed (a racer's box taking its focus border) tell the screen
            # now, not from their own queues once idle, which came after the screen's next
            # frame: they were drawn a frame after the rest of the key's answer.
            for node in nodes:
                if isinstance(node, Widget):
                    node._check_refresh()
