"""The settings file read as experiment files are (issue 26): whatever is in its place, the
app starts with the defaults and one warning naming the file, and leaves the file alone."""

from __future__ import annotations

import os
import random
import stat
import threading
from pathlib import Path

import pytest

from tui.app import create_app
from tui.settings import settings_path

SMALL = (80, 24)


def _text(body: str):
    return lambda path: path.write_text(body)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _zero_link(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _random_link(path: Path) -> None:
    path.symlink_to("/dev/urandom")


def _huge(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(100 << 20)  # 100 MB (sparse: nothing is written to the disk)


def _garbage(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(4096))


HOSTILE = {
    "arrays-5000": (_text("speed = " + "[" * 5000 + "]" * 5000 + "\n"), "nested more than"),
    "tables-2000": (_text("[" + ".".join(["t"] * 2000) + "]\nx = 1\n"), "nested more than"),
    "speed-inf": (_text('speed = inf\nsidebar = "shown"\n'), "speed must be"),
    "speed-nan": (_text("speed = -nan\n"), "speed must be"),
    "fifo": (_fifo, "not a regular file (a FIFO)"),
    "dev-zero": (_zero_link, "not a regular file (a character device)"),
    "dev-urandom": (_random_link, "not a regular file (a character device)"),
    "100-MB": (_huge, "larger than 1 MiB"),
    "binary-garbage": (_garbage, "not UTF-8 text"),
}


def _fingerprint(path: Path) -> tuple:
    """What the user would see of the file: its kind, where a link points, its bytes."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if not stat.S_ISREG(st.st_mode):
        return ("special", stat.S_IFMT(st.st_mode))
    with path.open("rb") as fh:
        return ("file", st.st_size, fh.read(1 << 16))


def _unblock_later(path: Path) -> threading.Timer:
    """A hang guard for the FIFO case (not a speed target): a reader stuck opening the FIFO
    (the bug) gets end-of-file after a minute, so a failing test fails instead of hanging."""

    def unblock() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody is reading it

    timer = threading.Timer(60, unblock)
    timer.daemon = True
    timer.start()
    return timer


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_the_app_starts_whatever_is_in_the_settings_place(name: str) -> None:
    make, reason = HOSTILE[name]
    path = settings_path()
    path.unlink()
    make(path)
    before = _fingerprint(path)
    guard = _unblock_later(path)
    try:
        app = create_app()
    finally:
        guard.cancel()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.pause()
        warnings = [n.message for n in app._notifications if n.severity == "warning"]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith(f"settings ignored: {path}: ") and reason in warnings[0]
        assert app.session.speed == 200 and app.settings.sidebar == "auto"  # the defaults
        assert app.query_one("#charts").display  # the playground is up
    # No setting changed: the file is left as it was (it is written only after a change).
    assert _fingerprint(path) == before
