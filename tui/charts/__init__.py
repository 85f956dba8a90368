"""Charts of runs drawn with plotext, one module per chart: loss, lr, norms, path (the app's
tabs, on `base.RunChart`), state (the State tab: a table, an α chart, histogram rows and
small curves) and sweep (a sweep's curves or heatmap, also printed by the CLI).

`panel.ChartPanel` holds the app's tabs and `base.ChartView` is what they draw. Data is
rasterised with NumPy (braille.py); plotext draws the axes through plotext_adapter.py, the only
module that touches plotext's internals. Names load lazily, so the CLI's `sweep` chart does
not import Textual.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ChartPanel": "tui.charts.panel",
    "ChartView": "tui.charts.base",
    "RunChart": "tui.charts.base",
    "LossChart": "tui.charts.loss",
    "LrChart": "tui.charts.lr",
    "NormsChart": "tui.charts.norms",
    "PathChart": "tui.charts.path",
    "ModelChart": "tui.charts.model",
    "StateTab": "tui.charts.state",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tui.charts' has no attribute {name!r}")
