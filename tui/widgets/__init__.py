"""Widgets of the optplay screen: pickers, the hyperparameter form, charts, the status line."""
