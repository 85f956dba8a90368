"""The web server of `optplay serve`: textual-serve's, with one app process per browser tab
that always ends.

textual-serve (its `Server` and `AppService`) serves the page and the terminal in it, and
relays a tab's keys and screen to and from an app process over the process's standard input
and output. Used as it is, it can leave app processes behind (seen: one training at ~80% CPU
after its server was killed):

- it starts the app through `/bin/sh -c`, and the process it holds is that shell, not the app;
- the app shares the server's process group, so only a Ctrl+C typed at the server's terminal
  reaches it; a SIGTERM or SIGKILL sent to the server does not;
- its server does nothing with open tabs when it stops: it waits for them (until aiohttp's
  shutdown timeout), a wait that invites a `kill -9`;
- a killed server closes the apps' input, and Textual's web driver then stops reading input
  but lets the app run on, unwatched.

Here each tab's app is started without a shell in a session of its own (`TabProcess`); on
stopping, the server asks every app to quit, waits a bounded time, then ends the app's whole
process group (SIGTERM, then SIGKILL); and the app's driver (tui/serve/driver.py) quits when
its input closes, which covers a server killed with SIGKILL.

Every use of textual-serve's internals (underscored names) is in this module; the tests in
tests/serve/ fail when a textual-serve release changes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from engine.textsafe import for_terminal
from tui.serve.options import ServeOptions

DRIVER = "tui.serve.driver:ServedDriver"
QUIT_GRACE = 3.0  # seconds an app gets to quit when asked, before its process group is ended
TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for an app that did not quit
OUTPUT_GRACE = 2.0  # seconds to read what an ended app still wrote
SHUTDOWN_TIMEOUT = 5.0  # aiohttp's wait for open requests once every app has ended
HEARTBEAT = 15.0  # seconds between websocket pings: a vanished browser is noticed in 2 of them
#: The largest terminal a tab gets, whatever its page asks (the app's memory grows with the
#: screen's cells: at this size an app process stays near 150 MB; unclamped, a page asking
#: for 100000x100000 drove one past 3.9 GiB).
MAX_COLUMNS = 500
MAX_ROWS = 200
FULL_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>optplay: server full</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>This optplay server is full</h1>
<p>It serves at most {max_tabs} browser tabs at once, and all of them are in use.
Close one of them, or try again later.</p>
</body></html>
"""


def clamp_size(width: Any, height: Any) -> tuple[int, int]:
    """A terminal size a page asked for, within 1..MAX_COLUMNS x 1..MAX_ROWS (80x24 for a
    value that is not a number)."""
    return (
        min(max(to_int(str(width), 80), 1), MAX_COLUMNS),
        min(max(to_int(str(height), 24), 1), MAX_ROWS),
    )


class CannotListen(Exception):
    """The server could not listen on its host and port; `cause` is the OSError."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class TabProcess(AppService):
    """The app process of one browser tab, which ends when the tab or the server does.

    Unlike textual-serve's AppService, the app runs without a shell (the process held is the
    app itself) in a session of its own: a signal to its process group reaches the app and
    anything it started, and a Ctrl+C typed at the server's terminal goes to the server alone,
    which ends the tabs in order. `stop()` asks the app to quit, then ends its process group if
    it has not quit in time; it may be called any number of times, from any task."""

    def __init__(self, app_argv: Sequence[str], working_folder: Path, **kwargs: Any) -> None:
        super().__init__(shlex.join(app_argv), **kwargs)
        self.app_argv = tuple(app_argv)
        self.working_folder = working_folder
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        """The app process's id (None before it starts)."""
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The app process's exit status (None while it runs)."""
        return None if self._process is None else self._process.returncode

    async def start(self, width: int, height: int) -> None:
        await super().start(*clamp_size(width, height))

    async def set_terminal_size(self, width: int, height: int) -> None:
        """A resize from the page, clamped (see MAX_COLUMNS)."""
        await super().set_terminal_size(*clamp_size(width, height))

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        environment["TEXTUAL_DRIVER"] = DRIVER
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        self._process = process = await asyncio.create_subprocess_exec(
            *self.app_argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            cwd=self.working_folder,
            start_new_session=True,
        )
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        """textual-serve's relay of the app's output; once that ends (the app quit, or
        crashed), the tab's connection closes too, so the page shows the session ended."""
        await super().run()
        await self.remote_close()

    async def stop(self) -> None:
        """End the app (see the class); returns once its process has exited."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    def kill(self) -> None:
        """End the app's process group at once (a second Ctrl+C)."""
        self._signal_group(signal.SIGKILL)

    async def _stop(self) -> None:
        process = self._process
        if process is not None:
            await self.send_meta({"type": "quit"})  # the app's own exit, as when it quits
            if not await _exited(process, QUIT_GRACE):
                self._signal_group(signal.SIGTERM)  # Textual exits on SIGTERM too
                if not await _exited(process, TERM_GRACE):
                    self._signal_group(signal.SIGKILL)
                    await process.wait()
        # textual-serve's stop: cancels the tab's downloads, reads the app's last output.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(super().stop(), OUTPUT_GRACE)
        await self.remote_close()

    def _signal_group(self, signum: int) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return  # no process group to signal (and its id may belong to another by now)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)  # its own session: group id = its pid


async def _exited(process: Any, timeout: float) -> bool:
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        return False
    return True


class OptplayServer(Server):
    """textual-serve's Server, with a `TabProcess` per websocket (browser tab), a line of log
    per tab opened and closed, and every tab's app ended when the server stops."""

    def __init__(self, options: ServeOptions, say: Callable[[str], None]) -> None:
        super().__init__(
            shlex.join(options.app_argv),
            host=options.host,
            port=options.port,
            title="optplay",
            public_url=options.public_url,
        )
        self.options = options
        self.say = say
        self.tabs: set[TabProcess] = set()
        self.stopping = False

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: `serve` prints its own banner once it listens (textual-serve prints a logo
        before it knows whether the port is free)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Before aiohttp waits for open requests: end every tab's app."""
        self.stopping = True
        if self.tabs:
            count = len(self.tabs)
            self.say(f"stopping: ending {count} app process{'es' if count > 1 else ''}")
        await asyncio.gather(*(tab.stop() for tab in list(self.tabs)))

    def kill_tabs(self) -> None:
        """End every tab's app at once."""
        for tab in list(self.tabs):
            tab.kill()

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page; its websocket address follows the address the browser used, unless
        --public-url fixed it."""
        if len(self.tabs) >= self.options.max_tabs:
            return self._full_page()
        if self.options.public_url is None:
            # No await between this and the page's rendering: safe with concurrent requests.
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    def _full_page(self) -> web.Response:
        return web.Response(
            status=503,
            text=FULL_PAGE.format(max_tabs=self.options.max_tabs),
            content_type="text/html",
            headers={"Retry-After": "60"},
        )

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        """One browser tab: its own app process, relayed until the tab or the app closes."""
        if len(self.tabs) >= self.options.max_tabs:  # a page opened before the others
            self.say(f"tab refused from {request.remote}: {len(self.tabs)} tabs open (--max-tabs)")
            return self._full_page()
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT)
        await websocket.prepare(request)
        if self.stopping:
            await websocket.close()
            return websocket
        tab = TabProcess(
            self.options.app_argv,
            self.options.working_folder,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.tabs.add(tab)
        try:
            asked = (request.query.get("width", "80"), request.query.get("height", "24"))
            width, height = clamp_size(*asked)
            if (str(width), str(height)) != asked:
                shown = for_terminal(f"{asked[0]:.12}x{asked[1]:.12}")  # the page's text
                self.say(f"tab asked for a {shown} terminal: given {width}x{height}")
            await tab.start(width, height)
            self.say(
                f"tab opened from {request.remote}: app process {tab.pid} "
                f"({len(self.tabs)} running)"
            )
            await self._process_messages(websocket, tab)
        except ConnectionError:
            pass
        except Exception as error:  # a malformed message: the tab ends, the server goes on
            self.say(f"tab error: {type(error).__name__}: {error}")
        finally:
            await tab.stop()
            self.tabs.discard(tab)
            if tab.pid is not None:
                self.say(
                    f"tab closed: app process {tab.pid} ended (exit status {tab.returncode}; "
                    f"{len(self.tabs)} running)"
                )
        return websocket


def serve(
    options: ServeOptions,
    on_ready: Callable[[list[tuple[str, int]]], None],
    say: Callable[[str], None],
) -> int:
    """Serve until SIGINT, SIGTERM or SIGHUP, then end every tab's app and return 0.

    `on_ready(addresses)` is called once the server listens ((host, port) pairs).
    Raises CannotListen when the host and port cannot be listened on."""
    return asyncio.run(_serve(options, on_ready, say))


async def _serve(
    options: ServeOptions,
    on_ready: Callable[[list[tuple[str, int]]], None],
    say: Callable[[str], None],
) -> int:
    server = OptplayServer(options, say)
    runner = web.AppRunner(
        await server._make_app(),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, options.host, options.port).start()
    except OSError as error:
        await runner.cleanup()
        raise CannotListen(error) from None

    stop = asyncio.Event()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if stop.is_set():  # asked again while ending the tabs: end them now
            server.kill_tabs()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    on_ready([(str(address[0]), int(address[1])) for address in runner.addresses])
    await stop.wait()
    say(f"{signal.Signals(signals[0]).name} received, stopping")
    await runner.cleanup()  # on_shutdown ends the tabs' apps first
    say("stopped")
    return 0
