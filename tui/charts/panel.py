"""The chart tabs: one chart per tab, the visible one redrawn when its data changed (new
steps, a log toggle, a resize, a reset): the app calls `redraw` on its frame timer.

The tabs are declared in tui/charts/tabs.py. Those that don't apply to the task are hidden
(Path for tasks that are not 2-D landscapes); a new task opens on a tab declared `opens` that
applies to it (a 2-D task on Path, the view that teaches there). `cycle` and `select` move
between the tabs shown (the app's `[` `]` and digit keys).

A panel made with `first` (the launcher's, for a first screen drawn sooner) composes only that
tab's chart; `build_charts` adds the others after the first frame, and `chart` builds one at
once if asked before then."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from tui.charts import tabs as declared
from tui.charts.base import ChartView, RunChart
from tui.charts.loss import LossChart


class ChartPanel(Vertical):
    """Tabs of charts; `redraw` draws the visible one when its data changed."""

    def __init__(self, *, id: str | None = None, first: str | None = None) -> None:
        super().__init__(id=id)
        self.view: ChartView | None = None
        self._task_key: tuple[object, ...] | None = None
        #: Compose only this tab's chart (a tab id); None: every tab's.
        self.first = first
        self._smoothing = (False, False)  # (smooth, chosen): a Loss chart built later gets it

    def compose(self) -> ComposeResult:
        first = declared.by_id(self.first) if self.first is not None else None
        with TabbedContent(id="chart-tabs", initial=first.pane if first is not None else ""):
            for tab in declared.TABS:
                with TabPane(tab.label, id=tab.pane):
                    if self.first is None or tab.id == self.first:
                        yield self._new_chart(tab)

    def _new_chart(self, tab: declared.Tab) -> Widget:
        chart = tab.chart(id=tab.chart_id)
        if isinstance(chart, LossChart):
            chart.smooth, chart.smooth_chosen = self._smoothing
        return chart

    def chart(self, tab_id: str) -> Any:
        """The chart of the tab `tab_id` ("norms"), built now if it was not yet (None while
        the app closes)."""
        tab = declared.by_id(tab_id)
        assert tab is not None, tab_id
        pane = self.query_one(f"#{tab.pane}", TabPane)
        if not pane.children and pane.is_attached and not pane._closing:
            pane.mount(self._new_chart(tab))
        return pane.children[0] if pane.children else None

    async def build_charts(self) -> None:
        """Build the charts `first` left out (after the first frame), then draw the one shown
        if it was among them."""
        panes = [(tab, self.query_one(f"#{tab.pane}", TabPane)) for tab in declared.TABS]
        mounts = [pane.mount(self._new_chart(tab)) for tab, pane in panes if not pane.children]
        for mounted in mounts:
            await mounted
        self.first = None
        self.call_after_refresh(self.redraw)

    def show(self, view: ChartView) -> None:
        """Chart this view from now on (a new run, new settings, a log toggle...): drawn now
        when what is charted changed, by the next frame when only the numbers moved (a key
        pressed while training then costs no chart frame)."""
        if view == self.view:
            return
        charted_changed = self.view is None or _charted(view) != _charted(self.view)
        self.view = view
        tabs = self.query_one(TabbedContent)
        cfg = view.run.config
        task_key = (cfg.task, tuple(sorted(cfg.task_hypers.items())))
        new_task, self._task_key = task_key != self._task_key, task_key
        shown = declared.shown_for(view.run.task)
        first = shown[0].pane
        for tab in declared.TABS:
            if tab in shown:
                tabs.show_tab(tab.pane)
            else:
                if tabs.active == tab.pane:
                    tabs.active = first
                tabs.hide_tab(tab.pane)
        opening = next((tab for tab in shown if tab.opens), None)
        if new_task and opening is not None:
            tabs.active = opening.pane  # e.g. a 2-D task opens on its path
        if charted_changed:
            self.redraw()

    def shown_tabs(self) -> list[str]:
        """The pane ids of the tabs shown now, in order."""
        tabs = self.query_one(TabbedContent)
        return [
            pane.id
            for pane in tabs.query(TabPane)
            if pane.id is not None and tabs.get_tab(pane.id).display
        ]

    def activate(self, pane: str) -> None:
        """Show the tab `pane` ("tab-loss"...: `Tab.pane`)."""
        self.query_one(TabbedContent).active = pane

    def cycle(self, delta: int) -> None:
        """The next (+1) or previous (-1) tab shown, wrapping around."""
        shown = self.shown_tabs()
        active = self.query_one(TabbedContent).active
        index = shown.index(active) if active in shown else 0
        self.activate(shown[(index + delta) % len(shown)])

    def select(self, index: int) -> None:
        """The `index`-th tab shown (0-based); nothing when there are fewer."""
        shown = self.shown_tabs()
        if 0 <= index < len(shown):
            self.activate(shown[index])

    def set_smoothing(self, smooth: bool, chosen: bool = False) -> None:
        """Smooth the training loss on the Loss chart (an EMA over the raw band); `chosen`:
        the user's say, which also ends the smoothing a noisy race gets by itself."""
        self._smoothing = (smooth, self._smoothing[1] or chosen)
        for chart in self.query(LossChart):
            chart.smooth = smooth
            chart.smooth_chosen = chart.smooth_chosen or chosen
        self.redraw()

    @property
    def components(self) -> bool:
        """Whether the Loss chart splits the predicted error into eigen-directions."""
        return any(chart.components for chart in self.query(LossChart))

    def set_components(self, on: bool) -> None:
        """Split the Loss chart's predicted error into eigen-directions (or not)."""
        self.chart("loss")
        for chart in self.query(LossChart):
            chart.components = on
        self.redraw()

    def smoothing_shown(self) -> bool:
        """Whether the Loss chart's last frame was smoothed (by choice or by itself)."""
        return any(chart.smoothed for chart in self.query(LossChart))

    def toggle_log(self) -> RunChart | None:
        """Flip the visible chart between linear and log y; returns that chart."""
        chart = self.active_chart()
        tab = declared.by_pane(self.query_one(TabbedContent).active)
        if chart is not None and tab is not None and tab.log_scale:
            chart.log_y = not chart.log_y
            self.redraw()
            return chart
        return None

    def active_chart(self) -> Any:
        """The visible tab's chart (a RunChart, or a widget drawing like one), or None."""
        pane = self.query_one(TabbedContent).active_pane
        tab = declared.by_pane(pane.id if pane is not None else None)
        if pane is None or tab is None:
            return None
        return self.chart(tab.id)

    def redraw(self, force: bool = False) -> None:
        """Redraw the visible chart if what it shows changed since its last frame."""
        chart = self.active_chart()
        if self.view is None or chart is None or not chart.size.area:
            return
        if force or chart.data_key(self.view) != chart.drawn_key:
            chart.draw(self.view)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self.redraw)

    def on_resize(self) -> None:
        self.call_after_refresh(self.redraw)


def _charted(view: ChartView) -> tuple[object, ...]:
    """What a view charts, without the numbers that move while training."""
    lanes = tuple(
        (lane.name, id(lane.run), lane.pinned, getattr(lane, "detail", "")) for lane in view.lanes
    )
    return (id(view.run), view.planned_steps, view.version, lanes, view.model_lane, view.measured)
