"""The `optplay serve` command: the app in a web browser, one app process per browser tab.

    optplay serve [--host 127.0.0.1] [--port 8000] [--config FILE | --preset NAME]
                  [--public-url URL]

Safe by default: it listens on 127.0.0.1 (this machine only) unless `--host` names another
address, and then warns that anyone who can reach the port can run the app, which writes files
(saves, exports) in its working folder: the folder `optplay serve` was started in, printed at
start. Every tab runs `optplay [--config FILE | --preset NAME]` in that folder.

Exit status: 0 when stopped (Ctrl+C, SIGTERM or SIGHUP: the tabs' app processes are ended
first); 2 for a bad argument, a bad experiment file, a port in use, an unknown host, or the
`serve` extra not installed, with a one-line message; 130 for a Ctrl+C before it listens.

This module imports no web library: the server (tui/serve/server.py, which needs the extra)
loads only when serving starts. It lives with the other commands, and the server with its
options (tui/serve/options.py) in tui/serve/, so that neither package imports the other's
modules both ways.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from tui.commands.common import PROG, UsageError, load_source, refuse_source
from tui.serve.options import DEFAULT_MAX_TABS, MAX_TABS_LIMIT, ServeOptions

NAME = "serve"
COMMAND = f"{PROG} {NAME}"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_EXTRA_MODULES = {"textual_serve", "aiohttp", "aiohttp_jinja2", "jinja2"}
_EXTRA_HINT = "pip install 'optplay[serve]'"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `serve` to an argparse subparsers object (sets `handler` and `command_name`)."""
    serve = subparsers.add_parser(
        "serve",
        help="serve the app to web browsers (one app process per tab)",
        description="Serve the app to web browsers with textual-serve: each browser tab gets "
        "its own app process, working in the folder this command was started in (saves and "
        "exports are written there). Listens on 127.0.0.1 (this machine only) unless --host "
        "says otherwise. Ctrl+C stops the server and every tab's app. Needs the serve extra: "
        f"{_EXTRA_HINT}.",
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address or host name to listen on (default {DEFAULT_HOST}, this machine only; "
        "0.0.0.0 = every network: anyone who can reach the port can run the app)",
    )
    serve.add_argument(
        "--port",
        default=str(DEFAULT_PORT),
        metavar="PORT",
        help=f"port to listen on (default {DEFAULT_PORT}; 0 = any free port, printed at start)",
    )
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="every tab opens this experiment file")
    source.add_argument(
        "--preset", metavar="NAME", help="every tab opens this preset (see `optplay list presets`)"
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the server's address as browsers reach it, when behind a proxy "
        "(e.g. https://example.org/optplay); by default the address the browser used",
    )
    serve.add_argument(
        "--max-tabs",
        default=str(DEFAULT_MAX_TABS),
        metavar="N",
        help=f"browser tabs served at once, each its own app process (default "
        f"{DEFAULT_MAX_TABS}); a tab beyond them gets a page saying the server is full",
    )
    serve.set_defaults(handler=handle, command_name=NAME)
    return serve


def handle(args: argparse.Namespace) -> int:
    """Serve until stopped; 2 (with a one-line message) when it cannot start."""
    try:
        options = resolve_options(args)
        server = _import_server()
    except UsageError as error:
        print(f"{COMMAND}: error: {error}", file=sys.stderr)
        return 2
    try:
        return server.serve(options, on_ready=lambda found: _announce(options, found), say=say)
    except server.CannotListen as error:
        print(f"{COMMAND}: error: {describe_listen_error(error.cause, options)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C before it listened: no tab had opened yet
        print(f"{COMMAND}: interrupted", file=sys.stderr)
        return 130


def say(message: str) -> None:
    """One line of the server's log on stdout, shown at once even when piped."""
    print(f"{COMMAND}: {message}", flush=True)


def resolve_options(args: argparse.Namespace) -> ServeOptions:
    """Check every argument before anything listens; UsageError names the bad one."""
    port = parse_port(args.port)
    host = args.host.strip()
    if not host:
        raise UsageError("--host must name an address or host name, got ''")
    addresses = resolve_host(host)
    public_url = parse_public_url(args.public_url)
    app_argv = [sys.executable, "-m", "tui"]
    source = load_source(args.config, args.preset)  # a bad file fails here, not in every tab
    if source is not None:
        refuse_source(args, source, "Experiment")  # names the kind: a bench or a sweep spec
        app_argv += ["--config", args.config] if args.config else ["--preset", args.preset]
    return ServeOptions(
        host=host,
        port=port,
        app_argv=tuple(app_argv),
        working_folder=Path.cwd(),
        public_url=public_url,
        loopback_only=all(_is_loopback(address) for address in addresses),
        max_tabs=parse_max_tabs(args.max_tabs),
    )


def parse_max_tabs(text: str) -> int:
    """The --max-tabs value: an integer in [1, MAX_TABS_LIMIT]."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_TABS_LIMIT:
        raise UsageError(f"--max-tabs must be an integer in [1, {MAX_TABS_LIMIT}], got {text!r}")
    return count


def parse_port(text: str) -> int:
    """The --port value: an integer in [0, 65535] (0: the system picks a free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(
            f"--port must be an integer in [0, 65535] (0 = any free port), got {text!r}"
        )
    return port


def resolve_host(host: str) -> list[str]:
    """The addresses `host` stands for; UsageError when it names none."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise UsageError(f"--host {host!r}: unknown host ({reason})") from None
    return [str(info[4][0]) for info in infos]


def parse_public_url(text: str | None) -> str | None:
    """--public-url without a trailing slash; UsageError unless it is an http(s) URL."""
    if text is None:
        return None
    url = text.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        raise UsageError(f"--public-url must be an http:// or https:// URL, got {text!r}")
    return url


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _import_server() -> Any:
    """tui.serve.server, or UsageError saying how to install the extra it needs."""
    try:
        from tui.serve import server
    except ImportError as error:
        missing = (getattr(error, "name", None) or "").split(".")[0]
        if missing not in _EXTRA_MODULES:
            raise
        raise UsageError(
            f"serving needs the serve extra ({missing} is not installed): {_EXTRA_HINT}"
        ) from None
    return server


def describe_listen_error(error: OSError, options: ServeOptions) -> str:
    """A one-line reason why the server could not listen on host:port."""
    where = f"port {options.port} on {options.host}"
    if error.errno == errno.EADDRINUSE:
        return f"{where} is already in use: stop what uses it or pick another with --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {options.host}: it is not an address of this machine"
    if error.errno == errno.EACCES:
        return f"no permission to listen on {where} (ports below 1024 need privileges)"
    reason = (error.strerror or str(error)).rstrip(".")
    return f"cannot listen on {where}: {reason}"


def _url_host(address: str) -> str:
    """An address as written in a URL (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def local_urls(options: ServeOptions, addresses: list[tuple[str, int]]) -> list[str]:
    """The URLs to open, from the addresses the server listens on (a wildcard address is
    shown as this machine's loopback address)."""
    urls = []
    for host, port in addresses:
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        url = f"http://{_url_host(host)}:{port}/"
        if url not in urls:
            urls.append(url)
    return urls


def _announce(options: ServeOptions, addresses: list[tuple[str, int]]) -> None:
    """What a user needs once the server listens: where to open it, where files go, and (when
    it listens beyond this machine) the warning."""
    port = addresses[0][1] if addresses else options.port
    if not options.loopback_only:
        print(
            f"{COMMAND}: warning: listening on {options.host} port {port}, not only on this "
            "machine: anyone who can reach this port can run the app, which writes files in "
            f"{options.working_folder}. Without --host it listens on {DEFAULT_HOST} only.",
            file=sys.stderr,
            flush=True,
        )
    urls = local_urls(options, addresses)
    say(f"serving the app on {' and '.join(urls)} (open it in a web browser; Ctrl+C stops)")
    if any(host in ("0.0.0.0", "::") for host, _ in addresses):
        say(f"from other machines: http://{socket.gethostname()}:{port}/ or this machine's address")
    if options.public_url is not None:
        say(f"public address: {options.public_url}/")
    say(f"working folder: {options.working_folder} (saves and exports are written here)")
    say(f"each browser tab runs its own app: {shlex.join([PROG, *options.app_argv[3:]])}")
