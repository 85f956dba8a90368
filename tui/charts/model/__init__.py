"""The Model tab's chart (chart.py) and its painters: decision regions (regions.py), the digits'
confusion matrix and misclassified images (confusion.py), fitted lines, coefficients, the
parabola and the RNN's predictions (fits.py); shared colours and glyphs in ink.py."""

from __future__ import annotations

from tui.charts.model.chart import ModelChart

__all__ = ["ModelChart"]
