"""Headless `optplay` commands that live in their own modules (registered in tui/cli.py)."""
