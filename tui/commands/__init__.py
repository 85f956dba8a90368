"""Headless subcommands that live in their own modules (`optplay sweep`, `optplay lesson`),
registered by `tui.cli.add_commands`. Like tui/cli.py, they import no UI library at import
time."""
