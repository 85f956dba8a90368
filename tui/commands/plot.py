"""`optplay plot`: pictures of runs (placeholder until the figures land)."""

from __future__ import annotations

from typing import Any


def add_command(subparsers: Any) -> None:
    """Add `plot` to an argparse subparsers object."""
