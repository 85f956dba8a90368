"""`optplay serve` without a browser: where it listens, what it refuses, and that no app
process outlives its tab or its server (Ctrl+C, SIGTERM, even SIGKILL).

A "tab" here is the page's websocket opened by aiohttp's client: the server cannot tell it
from a browser's. The real browser is in test_serve_browser.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from serve_helpers import (
    cpu_seconds,
    listening_addresses,
    process_ended,
    wait_until,
    write_long_run,
)

from tui import __main__ as cli_main


@pytest.fixture
def serve_extra() -> None:
    pytest.importorskip("textual_serve", reason="needs the serve extra: pip install -e '.[serve]'")


class SocketTab:
    """A browser tab's end of the websocket, without a browser: it keeps reading the screen
    updates (as a page does) so the app never waits on a full pipe."""

    def __init__(self, session, websocket) -> None:
        self.session = session
        self.websocket = websocket
        self.screen_text = ""  # the latest output, enough to see what was drawn
        self.received = 0  # characters of output so far
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, width: int = 100, height: int = 30) -> SocketTab:
        import aiohttp

        session = aiohttp.ClientSession()
        websocket = await session.ws_connect(f"{url}ws?width={width}&height={height}")
        return cls(session, websocket)

    async def _read(self) -> None:
        async for message in self.websocket:
            if isinstance(message.data, bytes):
                text = message.data.decode("utf-8", "replace")
                self.screen_text = (self.screen_text + text)[-200_000:]
                self.received += len(text)

    def output_since(self, since: int) -> str:
        """The output after its first `since` characters (as much as is kept)."""
        new = self.received - since
        return self.screen_text[-new:] if new > 0 else ""

    async def wait_for_text(self, text: str, since: int = 0, timeout: float = 90.0) -> None:
        """Until the output after the first `since` characters shows `text`."""
        deadline = time.monotonic() + timeout
        while text.lower() not in self.output_since(since).lower():
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not show {text!r} within {timeout:g} s")
            await asyncio.sleep(0.05)

    async def wait_drawn(self, timeout: float = 90.0) -> None:
        """Until the app has drawn its footer (keys sent before that could be lost)."""
        await self.wait_for_text("Quit", timeout=timeout)

    async def press(self, keys: str) -> None:
        await self.websocket.send_json(["stdin", keys])

    async def close(self) -> None:
        await self.websocket.close()
        await self.session.close()
        await self._reader


async def _start_training(tab: SocketTab, pid: int) -> None:
    """Press space in the tab and wait until its app process is busy training."""
    await tab.wait_drawn()
    before = cpu_seconds(pid)
    await tab.press(" ")
    await asyncio.to_thread(
        wait_until, lambda: cpu_seconds(pid) > before + 0.5, 60, f"app {pid} training"
    )


# -- bad arguments: one line, exit status 2, nothing served -------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be an integer in [0, 65535]"),
        (["--port", "-1"], "--port must be an integer in [0, 65535]"),
        (["--port", "eighty"], "got 'eighty'"),
        (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid': unknown host"),
        (["--host", " "], "--host must name an address or host name"),
        (["--public-url", "ftp://example.org"], "--public-url must be an http:// or https://"),
        (["--config", "missing.toml"], "missing.toml"),
        (["--preset", "no-such-preset"], "no-such-preset"),
        (["--preset", "benchmark"], "run it with `optplay bench --preset benchmark`"),
        (["--max-tabs", "0"], "--max-tabs must be an integer in [1, 256], got '0'"),
        (["--max-tabs", "many"], "--max-tabs must be an integer in [1, 256], got 'many'"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_status_2(args, message, capsys) -> None:
    assert cli_main.main(["serve", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("optplay serve: error: ") and message in line


def test_a_bad_experiment_file_is_refused_before_serving(capsys, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('task = "beale"\noptimizer = "adam"\nsteps = -3\n')
    assert cli_main.main(["serve", "--config", "bad.toml"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("optplay serve: error: bad.toml") and "steps" in line


def test_without_the_serve_extra_it_says_how_to_install_it(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import textual_serve fails
    monkeypatch.delitem(sys.modules, "tui.serve.server", raising=False)
    assert cli_main.main(["serve", "--port", "0"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("optplay serve: error: serving needs the serve extra (")
    assert line.endswith(" is not installed): pip install 'optplay[serve]'")


def test_a_port_in_use_exits_2_with_a_clear_message(serve_extra, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tui", "serve", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"optplay serve: error: port {port} on 127.0.0.1 is already in use: "
        "stop what uses it or pick another with --port"
    ]


# -- where it listens ---------------------------------------------------------------------


def _page(url: str, host: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def _other_addresses_of_this_machine() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({info[4][0] for info in infos if not info[4][0].startswith("127.")})


@pytest.mark.parametrize("host_args", [[], ["--host", "localhost"]], ids=["default", "localhost"])
def test_by_default_it_listens_on_this_machine_only(serve_extra, serve, host_args) -> None:
    server = serve(*host_args)
    url = server.url()
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert url.startswith(("http://127.0.0.1:", "http://[::1]:"))
    assert "textual-terminal" in _page(url)  # the page, with its terminal
    listening = listening_addresses(port)
    if listening is not None:
        assert listening and all(a in ("127.0.0.1", "::1") for a in listening), listening
    for address in _other_addresses_of_this_machine():
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=5):
            pass
    working = server.wait_for_line(r"working folder: (.+) \(saves and exports are written here\)")
    assert Path(working.group(1)) == Path.cwd()
    assert server.stop() == 0
    assert server.err == []  # no warning (nor anything else) on stderr


def test_another_host_must_be_asked_for_and_warns(serve_extra, serve, tmp_path: Path) -> None:
    server = serve("--host", "0.0.0.0")
    url = server.url()
    port = int(url.rsplit(":", 1)[1].strip("/"))
    warning = server.wait_for_line("warning", stderr=True).string
    assert [line for line in server.err if "warning" in line] == [warning]
    assert warning.startswith(f"optplay serve: warning: listening on 0.0.0.0 port {port}")
    assert "anyone who can reach this port can run the app" in warning
    assert str(tmp_path) in warning  # which folder it can write in
    assert "textual-terminal" in _page(url)
    listening = listening_addresses(port)
    if listening is not None:
        assert listening == {"0.0.0.0"}
    # The page's websocket goes back to the address the browser used, whichever it was.
    assert f"ws://machine.example:{port}/ws" in _page(url, host=f"machine.example:{port}")


def test_behind_a_proxy_the_page_uses_the_public_url(serve_extra, serve) -> None:
    server = serve("--public-url", "https://example.org/optplay/")
    url = server.url()
    server.wait_for_line(r"public address: https://example\.org/optplay/$")
    page = _page(url)
    assert "wss://example.org/optplay/ws" in page
    assert "https://example.org/optplay/static/" in page


async def test_an_export_from_the_page_lands_in_the_working_folder(
    serve_extra, serve, tmp_path: Path
) -> None:
    server = serve()
    url = await asyncio.to_thread(server.url)
    tab = await SocketTab.open(url)
    await tab.wait_drawn()
    await tab.press("n")  # one step, so there is a history to export
    mark = tab.received
    await tab.press("e")  # the export dialog, with a default file name
    await tab.wait_for_text("csv", since=mark)
    await tab.press("\r")

    def exported() -> list[Path]:  # CSV first, then JSON: both there means both written
        return [p for p in tmp_path.glob("*.csv") if p.with_suffix(".json").exists()]

    await asyncio.to_thread(wait_until, exported, 60, "CSV and JSON in the working folder")
    (csv,) = exported()
    assert csv.read_text().startswith("step,")
    await tab.close()


# -- no app process outlives its tab or its server ----------------------------------------


async def test_closing_a_tab_ends_its_app_process(serve_extra, serve) -> None:
    server = serve()
    url = await asyncio.to_thread(server.url)
    first, second = await SocketTab.open(url), await SocketTab.open(url)
    pids = await asyncio.to_thread(server.wait_for_tabs, 2)
    assert len(set(pids)) == 2 and not any(process_ended(pid) for pid in pids)
    await first.wait_drawn()
    await first.close()
    ended = await asyncio.to_thread(server.wait_for_line, r"tab closed: app process (\d+) ended")
    closed_pid = int(ended.group(1))
    await asyncio.to_thread(wait_until, lambda: process_ended(closed_pid), 10, "app ended")
    (still_open,) = set(pids) - {closed_pid}
    assert not process_ended(still_open)  # the other tab's app goes on
    await second.close()
    await asyncio.to_thread(wait_until, lambda: process_ended(still_open), 15, "app ended")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_stopping_the_server_ends_every_app_process(
    serve_extra, serve, signum, tmp_path: Path
) -> None:
    server = serve("--config", str(write_long_run(tmp_path)))
    url = await asyncio.to_thread(server.url)
    tabs = [await SocketTab.open(url), await SocketTab.open(url)]
    pids = await asyncio.to_thread(server.wait_for_tabs, 2)
    await _start_training(tabs[0], pids[0])  # one app busy training, one idle
    server.interrupt(signum)  # to the server's process group, as a terminal's Ctrl+C
    assert await asyncio.to_thread(server.wait, 30) == 0
    assert all(process_ended(pid) for pid in pids), [pid for pid in pids if not process_ended(pid)]
    assert server.out[-1] == "optplay serve: stopped"
    assert f"optplay serve: {signal.Signals(signum).name} received, stopping" in server.out
    for tab in tabs:
        await tab.close()


async def test_a_killed_server_leaves_no_app_running(serve_extra, serve, tmp_path: Path) -> None:
    # The case that left a textual-serve app training at ~80% CPU: the server killed with
    # SIGKILL (no chance to clean up) while a run is going.
    server = serve("--config", str(write_long_run(tmp_path)))
    url = await asyncio.to_thread(server.url)
    tab = await SocketTab.open(url)
    (pid,) = await asyncio.to_thread(server.wait_for_tabs, 1)
    await _start_training(tab, pid)
    server.process.kill()
    await asyncio.to_thread(wait_until, lambda: process_ended(pid), 20, "orphaned app ended")
    await tab.close()


async def test_an_app_that_does_not_quit_is_ended(serve_extra, serve) -> None:
    # A frozen app (stopped with SIGSTOP: it can neither quit nor take SIGTERM) is killed
    # after the grace periods, and the server still stops.
    server = serve()
    url = await asyncio.to_thread(server.url)
    tab = await SocketTab.open(url)
    (pid,) = await asyncio.to_thread(server.wait_for_tabs, 1)
    await tab.wait_drawn()
    os.kill(pid, signal.SIGSTOP)
    server.interrupt(signal.SIGINT)
    assert await asyncio.to_thread(server.wait, 60) == 0
    assert process_ended(pid)
    assert f"optplay serve: tab closed: app process {pid} ended (exit status -9; 0 running)" in (
        server.out
    )
    await tab.close()


# -- bounded tabs: the terminal's size and their number ---------------------------------------


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def _rows_drawn(text: str) -> set[int]:
    """The rows the app's output moved the cursor to (ESC [ row ; column H)."""
    import re

    return {int(row) for row in re.findall(r"\x1b\[(\d+);\d+H", text)}


async def test_a_huge_terminal_is_clamped_and_extra_tabs_get_the_full_page(
    serve_extra, serve
) -> None:
    import aiohttp

    server = serve("--max-tabs", "2")
    url = await asyncio.to_thread(server.url)
    huge = await SocketTab.open(url, width=100_000, height=100_000)
    (pid,) = await asyncio.to_thread(server.wait_for_tabs, 1)
    await asyncio.to_thread(
        server.wait_for_line, "tab asked for a 100000x100000 terminal: given 500x200"
    )
    assert (_environ(pid)["COLUMNS"], _environ(pid)["ROWS"]) == ("500", "200")
    await huge.wait_drawn()
    assert max(_rows_drawn(huge.screen_text)) == 200
    # a resize message asking for more gets the same bound
    small = await SocketTab.open(url, width=80, height=24)
    await small.wait_drawn()
    since = small.received
    await small.websocket.send_json(["resize", {"width": 100_000, "height": 100_000}])
    await small.wait_for_text("Quit", since=since)
    await asyncio.to_thread(
        wait_until,
        lambda: 200 in _rows_drawn(small.output_since(since)),
        60,
        "the tab redrawn at 200 rows",
    )
    assert max(_rows_drawn(small.output_since(since))) == 200
    # a third tab: the server is full (the page and its websocket)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as page:
            assert page.status == 503
            assert "This optplay server is full" in await page.text()
            assert "at most 2 browser tabs" in await page.text()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(f"{url}ws?width=80&height=24")
    await asyncio.to_thread(server.wait_for_line, r"tab refused from \S+: 2 tabs open")
    assert len(server.app_pids()) == 2
    await huge.close()
    await small.close()
