"""Live charts of runs, one module per chart (loss, lr, norms, path), drawn with plotext.

`ChartPanel` (panel.py) holds the tabs; `ChartView` (base.py) is what they draw. The data is
rasterised with NumPy (braille.py); plotext draws the axes through plotext_adapter.py, the only
module that touches plotext's internals.
"""

from tui.charts.base import ChartView, RunChart
from tui.charts.loss import LossChart
from tui.charts.lr import LrChart
from tui.charts.norms import NormsChart
from tui.charts.panel import ChartPanel
from tui.charts.path import PathChart

__all__ = ["ChartPanel", "ChartView", "LossChart", "LrChart", "NormsChart", "PathChart", "RunChart"]
