"""Charts drawn with plotext, one module per chart; each draws on a plotext-like object (the
`plotext` module for the terminal, a textual-plotext widget's `plt` in the app)."""
