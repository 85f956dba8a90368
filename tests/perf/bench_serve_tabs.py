"""Memory of `optplay serve` with tabs that ask for a 100000x100000 terminal.

Run from the repository root (prints figures; exit 1 if the total passes the bound):
    python tests/perf/bench_serve_tabs.py                   # 20 tabs, --max-tabs 20
    python tests/perf/bench_serve_tabs.py --max-tabs 8      # the default cap: 12 refused

Measured on 2 shared cores (load ~8): an app process at the 500x200 clamp holds ~110 MiB RSS.
20 tabs with the default cap of 8: 8 served, 12 refused (503), 926 MiB RSS / 760 MiB PSS in
all. 20 tabs all served (--max-tabs 20): 2252 MiB RSS (RSS counts the shared pages once per
process).

It starts `optplay serve --port 0 --max-tabs M` in a temporary folder, opens `--tabs` page
websockets asking for 100000x100000 (in the query), waits until each served tab's app has drawn
its screen, then sends each a resize message asking for 100000x100000 again and waits for the
redraw. Then it sums the resident memory (RSS) of the server and every process under it
(psutil; and the PSS, which counts the pages the app processes share once), and prints the
largest app process. Tabs beyond the cap must be refused (HTTP 503).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[2]
HUGE = 100_000
BOUND = 2 << 30  # 2 GiB for the whole tree


async def _tab(url: str, served: list, refused: list) -> None:
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(f"{url}ws?width={HUGE}&height={HUGE}")
    except aiohttp.WSServerHandshakeError as err:
        refused.append(err.status)
        await session.close()
        return
    served.append((session, ws, {"text": ""}))


async def _read(ws, box) -> None:
    async for message in ws:
        if isinstance(message.data, bytes):
            box["text"] = (box["text"] + message.data.decode("utf-8", "replace"))[-400_000:]


async def _until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--port", "0", "--max-tabs", str(args.max_tabs)],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        try:
            for line in server.stdout:
                if found := re.search(r"serving the app on (http://\S+/)", line):
                    url = found.group(1)
                    break
            else:
                print("the server did not start")
                return 1
            asyncio.get_running_loop().run_in_executor(None, server.stdout.read)  # drain
            served: list = []
            refused: list = []
            for _ in range(args.tabs):
                await _tab(url, served, refused)
            readers = [asyncio.create_task(_read(ws, box)) for _, ws, box in served]
            drawn = await _until(lambda: all("Quit" in b["text"] for *_, b in served), 600)
            for _, ws, box in served:
                box["text"] = ""
                await ws.send_json(["resize", {"width": HUGE, "height": HUGE}])
            redrawn = await _until(lambda: all("Quit" in b["text"] for *_, b in served), 600)
            await asyncio.sleep(2.0)  # let the apps settle after the redraw
            tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]
            rss = {p.pid: p.memory_info().rss for p in tree if p.is_running()}
            pss = sum(p.memory_full_info().pss for p in tree if p.is_running())
            apps = [rss[p.pid] for p in tree[1:] if p.pid in rss]
            total = sum(rss.values())
            mib = 1 << 20
            print(
                f"tabs asked: {args.tabs}, served: {len(served)} (--max-tabs {args.max_tabs}), "
                f"refused: {len(refused)} (HTTP {sorted(set(refused))})"
            )
            print(f"all drawn: {drawn}, all redrawn after the resize: {redrawn}")
            print(f"server process: {rss[server.pid] / mib:.0f} MiB RSS")
            if apps:
                print(
                    f"app processes: {len(apps)}, largest {max(apps) / mib:.0f} MiB, "
                    f"mean {sum(apps) / len(apps) / mib:.0f} MiB RSS"
                )
            print(
                f"total over the tree: {total / mib:.0f} MiB RSS (bound {BOUND / mib:.0f} MiB); "
                f"{pss / mib:.0f} MiB PSS (shared pages counted once)"
            )
            for session, ws, _ in served:
                await ws.close()
                await session.close()
            for task in readers:
                task.cancel()
            ok = total < BOUND and len(refused) == max(0, args.tabs - args.max_tabs)
            return 0 if ok and drawn else 1
        finally:
            server.terminate()
            server.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--max-tabs", type=int, default=20)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
