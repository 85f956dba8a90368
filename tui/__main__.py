"""The `optplay` command. Until the app lands it lists what the engine offers."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from engine import optimizers

    for name in optimizers.names():
        print(f"{name:14} {optimizers.summary(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
