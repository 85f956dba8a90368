"""A model view's default pixel grid: a 120 x 40 cell chart at two pixels per cell.

Its own module so that `engine.tasks.base` (every task's defaults) and `engine.tasks.views`
(the pictures, loaded with the first task that draws one) share it without importing each
other."""

DEFAULT_WIDTH = 120
DEFAULT_HEIGHT = 80
