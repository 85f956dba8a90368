"""optplay's terminal UI and command line."""
