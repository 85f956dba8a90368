"""Every chart tab of the app, declared once: one `Tab` row each in `TABS`.

The chart panel (its panes, which ones a task shows, which one a new task opens on, which
have a log scale), the command palette's "Show ... chart" entries, the digit keys and the
labels lesson texts use all come from this table. Adding a view is one chart module and one
row here.

A tab names its chart's class ("module:Class"), loaded when the chart is first built: the
launcher's first screen builds only the chart it shows (tui/charts/panel.py), so the other
tabs' modules load after the first frame.

A tab's `id` is also how a lesson file names it (`[watch] tab = "path"`): the engine keeps
those plain strings (engine/lessons/lesson.py `TABS`) and the app maps them through `by_id`.
The digit keys pick the n-th tab *shown* for the task (1 is always Loss), so they follow the
rows' order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widget import Widget


def every_task(task: object) -> bool:
    return True


def landscapes(task: object) -> bool:
    """2-D loss landscapes (the tasks whose parameters are a point on a picture)."""
    return bool(getattr(task, "is_landscape", False))


def models_without_exact_theory(task: object) -> bool:
    """Networks and other models whose curvature changes as they train (not the 2-D
    landscapes, not the tasks whose loss is exactly quadratic): where sharpness tells."""
    if getattr(task, "is_landscape", False):
        return False
    quadratic = getattr(task, "quadratic_loss", None)
    return quadratic is None or quadratic() is None


def tasks_with_exact_theory(task: object) -> bool:
    """Tasks whose loss is exactly quadratic (engine/theory.py): limits, optima and the
    predicted run are exact there."""
    quadratic = getattr(task, "quadratic_loss", None)
    return quadratic is not None and quadratic() is not None


def tasks_with_a_model_view(task: object) -> bool:
    """Tasks that can show what the network or the fitted line learned."""
    return bool(getattr(task, "has_model_view", False))


@dataclass(frozen=True)
class Tab:
    """One chart tab. `chart` is a RunChart or a widget that draws like one (data_key,
    drawn_key, draw, log_y, color: StateTab), named by `chart_class` ("module:Class")."""

    id: str  # "loss": lesson files' `[watch] tab`; the pane is "tab-loss"
    label: str  # the tab's title, and how lesson texts name it ("the Path tab")
    palette: str  # the palette entry "Show <palette> chart"
    chart_class: str  # "tui.charts.loss:LossChart"
    applies: Callable[[object], bool] = every_task  # given the run's task: is the tab shown
    opens: bool = False  # a new task this tab applies to opens on it
    log_scale: bool = True  # `l` flips its y axis between linear and log
    watches_state: bool = False  # showing it starts optimizer-state summaries (watch_state)
    watches_sharpness: bool = False  # showing it starts measuring sharpness (watch_sharpness)

    @property
    def chart(self) -> type[Widget]:
        """The chart's class (its module imported now if it was not yet)."""
        module, name = self.chart_class.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def pane(self) -> str:
        """The TabPane's id ("tab-loss")."""
        return f"tab-{self.id}"

    @property
    def chart_id(self) -> str:
        """The chart widget's id ("loss-chart")."""
        return f"{self.id}-chart"


#: The tabs, in the order shown (and numbered by the digit keys).
TABS: tuple[Tab, ...] = (
    Tab("loss", "Loss", "loss", "tui.charts.loss:LossChart"),
    Tab("lr", "LR", "learning rate", "tui.charts.lr:LrChart"),
    Tab("norms", "Norms", "norms", "tui.charts.norms:NormsChart"),
    Tab(
        "path",
        "Path",
        "path",
        "tui.charts.path:PathChart",
        applies=landscapes,
        opens=True,
        log_scale=False,
    ),
    Tab(
        "model",
        "Model",
        "model",
        "tui.charts.model:ModelChart",
        applies=tasks_with_a_model_view,
        log_scale=False,
    ),
    Tab("state", "State", "optimizer state", "tui.charts.state:StateTab", watches_state=True),
    Tab(
        "sharpness",
        "Sharpness",
        "sharpness",
        "tui.charts.sharpness:SharpnessChart",
        applies=models_without_exact_theory,
        watches_sharpness=True,
    ),
    Tab(
        "theory",
        "Theory",
        "theory",
        "tui.charts.theory:TheoryTab",
        applies=tasks_with_exact_theory,
        log_scale=False,
    ),
)


def by_id(tab_id: str) -> Tab | None:
    """The tab a lesson (or anything holding a plain id) names, or None."""
    return next((tab for tab in TABS if tab.id == tab_id), None)


def by_pane(pane: str | None) -> Tab | None:
    """The tab of a TabPane id ("tab-loss"), or None."""
    return next((tab for tab in TABS if tab.pane == pane), None)


def label_of(tab_id: str) -> str:
    """The label of the tab a lesson names ("path" -> "Path"); an unknown id as written."""
    tab = by_id(tab_id)
    return tab.label if tab is not None else tab_id


def shown_for(task: object) -> list[Tab]:
    """The tabs shown for a run of `task`, in order."""
    return [tab for tab in TABS if tab.applies(task)]


def opening_for(task: object) -> Tab:
    """The tab a run of `task` opens on: the first shown declared `opens`, else the first
    shown (Loss)."""
    shown = shown_for(task)
    return next((tab for tab in shown if tab.opens), shown[0])


#: The digit keys: one per tab (the n-th tab shown).
DIGIT_KEYS: tuple[str, ...] = tuple(str(n) for n in range(1, min(len(TABS), 9) + 1))
