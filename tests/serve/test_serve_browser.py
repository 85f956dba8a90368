"""`optplay serve` in a real browser: Debian's Chromium, headless, driven by Playwright's
Python API with the system browser (Playwright's own browser downloads are never used).

One test walks through it: the page draws the app (task picker, footer), a larger window
gets a redraw at the new width, ctrl+p opens the command palette, space starts the run and
the status line's step count rises, a screenshot is saved under the test's tmp_path, q quits
and the tab's app process ends; then a second tab is closed by the browser and its app
process ends too. Its timings are printed at the end of the test run.

The page draws the app's terminal on a canvas, so its text is read from the page's terminal
(xterm.js) buffer: a script added before the page loads keeps a reference to the terminal
textual-serve's page creates, and notes the times of the first key press and of the first
render that shows the step count above 0 (both in the page's own clock).

Skipped, saying how to install it, when Chromium is not installed. The only test that needs
Chromium.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import process_ended, wait_until, write_long_run

# As the machine's notes say: root needs --no-sandbox; the rest keep Chromium off the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DRAW_TIMEOUT_MS = 120_000  # a loaded 2-core machine can take long to start an app
KEY_TIMEOUT_MS = 60_000

PAGE_PROBE = """
(() => {
  const probe = {terminal: null, keyAt: null, stepAt: null};
  probe.rows = () => {
    const t = probe.terminal;
    if (!t) return [];
    const rows = [];
    for (let y = 0; y < t.rows; y++) {
      const line = t.buffer.active.getLine(y);
      rows.push(line ? line.translateToString(true) : '');
    }
    return rows;
  };
  // The status line's step count ("step 1,234"), or null before the app drew it.
  probe.step = () => {
    let step = null;
    for (const row of probe.rows()) {
      const found = /\\bstep\\s+([\\d,]+)/.exec(row);
      if (found) step = Number(found[1].replaceAll(',', ''));
    }
    return step;
  };
  // Drawn: the task picker and the footer's keys are on the screen.
  probe.drawn = () => {
    const rows = probe.rows().filter(r => r.trim());
    return rows.some(r => /\\btask\\b/i.test(r))
      && rows.length > 0 && /\\bquit\\b/i.test(rows[rows.length - 1]);
  };
  probe.widest = () => Math.max(0, ...probe.rows().map(r => r.trimEnd().length));
  window.addEventListener('keydown', () => {
    if (probe.keyAt === null) probe.keyAt = performance.now();
  }, true);
  // textual-serve's page keeps its xterm.js Terminal in a property named `terminal`.
  Object.defineProperty(Object.prototype, 'terminal', {
    configurable: true,
    set(value) {
      Object.defineProperty(this, 'terminal',
        {value, writable: true, configurable: true, enumerable: true});
      if (value && value.buffer && typeof value.onRender === 'function' && !probe.terminal) {
        probe.terminal = value;
        value.onRender(() => {
          if (probe.stepAt === null && probe.keyAt !== null && probe.step() > 0) {
            probe.stepAt = performance.now();
          }
        });
      }
    },
  });
  window.__optplay = probe;
})();
"""


def _chromium() -> str | None:
    return (
        os.environ.get("OPTPLAY_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture
def browser() -> Iterator[object]:
    pytest.importorskip("textual_serve", reason="needs the serve extra: pip install -e '.[serve]'")
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "Chromium is not installed: `sudo apt-get install chromium` on Debian or Ubuntu "
            "(.ci/install-chromium does it), or set OPTPLAY_CHROMIUM to a Chromium binary"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Playwright (Python): pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, url: str, width: int = 1280, height: int = 800):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.add_init_script(PAGE_PROBE)
    page.goto(url)
    page.wait_for_function("() => window.__optplay.drawn()", timeout=DRAW_TIMEOUT_MS)
    return page


def test_the_app_in_a_real_browser(browser, serve, summary, tmp_path: Path) -> None:
    started = time.perf_counter()
    server = serve("--config", str(write_long_run(tmp_path)))
    url = server.url()
    listening = time.perf_counter() - started

    page = _open(browser, url, width=1000, height=640)
    first_drawn = time.perf_counter() - started
    (pid,) = server.wait_for_tabs(1)
    assert page.evaluate("() => window.__optplay.step()") == 0

    # A larger window: the app redraws to the new width (rows reach past the old one).
    columns = page.evaluate("() => window.__optplay.terminal.cols")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function(
        f"() => window.__optplay.terminal.cols > {columns} "
        f"&& window.__optplay.widest() > {columns} && window.__optplay.drawn()",
        timeout=KEY_TIMEOUT_MS,
    )

    page.focus(".xterm-helper-textarea")  # where the page's terminal takes keys
    page.keyboard.press("Control+p")  # the command palette opens in the page too
    page.wait_for_function(
        "() => window.__optplay.rows().some(r => r.includes('Search for commands'))",
        timeout=KEY_TIMEOUT_MS,
    )
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => !window.__optplay.rows().some(r => r.includes('Search for commands'))",
        timeout=KEY_TIMEOUT_MS,
    )

    page.evaluate("() => { window.__optplay.keyAt = null; }")  # time the next key
    page.keyboard.press("Space")
    page.wait_for_function("() => window.__optplay.stepAt !== null", timeout=KEY_TIMEOUT_MS)
    key_to_screen_ms = page.evaluate("() => window.__optplay.stepAt - window.__optplay.keyAt")
    risen = page.evaluate("() => window.__optplay.step()")
    page.wait_for_function(f"() => window.__optplay.step() > {risen}", timeout=KEY_TIMEOUT_MS)
    screenshot = tmp_path / "optplay-serve-chromium.png"
    page.screenshot(path=screenshot)
    assert screenshot.stat().st_size > 10_000  # a drawn page, not a blank one

    page.keyboard.press("q")
    page.wait_for_function(
        "() => document.body.classList.contains('-closed')", timeout=KEY_TIMEOUT_MS
    )  # the app quit and its server closed the page's connection
    server.wait_for_line(rf"tab closed: app process {pid} ended \(exit status 0;")
    wait_until(lambda: process_ended(pid), 10, f"app process {pid} ended")

    # A second tab, closed by the browser: its app process ends within a few seconds.
    tab = _open(browser, url)
    (_, tab_pid) = server.wait_for_tabs(2)
    closed_at = time.perf_counter()
    tab.close()
    tab_ended = wait_until(lambda: process_ended(tab_pid), 15, f"app process {tab_pid} ended")
    page.close()

    summary(f"server start to listening {listening:.2f} s, to first drawn page {first_drawn:.2f} s")
    summary(f"key to screen (space until the step count shows > 0): {key_to_screen_ms:.0f} ms")
    summary(f"tab closed to its app process ended: {time.perf_counter() - closed_at:.2f} s")
    summary(f"screenshot: {screenshot}")
    assert tab_ended <= 15
