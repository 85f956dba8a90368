"""Responsiveness of the app, measured end to end in a real terminal (tmux) and with Pilot.

Run from the repository root (prints figures; asserts nothing; ~5 minutes with defaults):
    python tests/perf/bench_latency.py [--rounds N] [--poll SECONDS] [--only PART,...]
        [--dialog TEXT,...] [--each]

Parts (`--only launch,keys,pilot,dialogs`; all by default):
- launch: launch to the first drawn screen (tmux, 120x40: from starting `optplay` until the
  key bar is on screen), median of 3.
- keys: key to screen in tmux, `-` / `+` alternately, until the new speed shows in the
  status line; idle (paused) and while training at full speed, for a single run (digits-mlp,
  rosenbrock) and a 6-lane race, at 80x24 and 200x50; p50/p90/max, by two methods side by
  side:
    capture-pane: `send-keys`, then `tmux capture-pane` every `--poll` seconds until the
      screen shows the new speed (a process per poll: on a 2-core machine the polling itself
      takes CPU from the app; the screen is tmux's after it parsed the output);
    control: one `tmux -C attach` client; keys are written to its stdin, the pane's output
      arrives on its stdout as `%output` lines the moment the app writes it (no polling, no
      process per look); the latency is the arrival of the output holding the new text.
  Then, with no key pressed, the training speed under the app: the step counter in the
  status line over a few seconds (from the control client's output), against headless
  `Run.step` / `Race.step` measured in this process right after the app closed.
- pilot: the same keys with Pilot (the key posted to the app until the session's speed
  changed): no terminal, no driver input thread, no output.
- dialogs: navigation keys in the race setup screen and in every dialog (tab / shift+tab
  between fields and buttons, up/down in lists, left/right in text fields, enter on a
  drop-down), key to screen through the control client: each answer's screen is compared,
  cell by cell (characters and styles, `capture-pane -e` sent on the same control
  connection), with the state the key leads to. That state is learned with training paused
  (the cells a key changes, once the screen is quiet); the same keys are then replayed with
  training running behind the dialog, where only those cells are compared (a toast still
  shown is waited out first: its leaving would count as a key's answer). `--dialog lessons,pin`
  times only the cases whose name holds one of those words (the steps between the cases, that
  train, race and export, still run: later cases need them); `--each` lists every key's
  latency in the order pressed, and where a key's answer never showed, the cells it lacked.

The machine may be shared: run it when it is quiet, and compare figures measured in the same
run.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import random
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.compare import Race  # noqa: E402
from engine.config import Experiment, RaceEntry, save  # noqa: E402
from engine.run import Run, RunConfig  # noqa: E402

DIGITS = RunConfig(task="digits-mlp", optimizer="adam")
ROSEN = RunConfig(task="rosenbrock", optimizer="adam")
RACERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")
SPEED = re.compile(r"speed (max|[0-9.]+/s)")
#: The status line's state label and step counter (` running   race of 6  step 1,234  `).
STEP = re.compile(r"(?:running|paused|ready|finished) +(?:race of \d+ +)?step ([0-9][0-9,]*) ")
#: Escape sequences (CSI, OSC, DCS... and two-byte ones), to read the text the app writes.
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*"
                  r"\x1b\\|[@-Z\\-_]|$)")  # fmt: skip
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OCTAL = re.compile(rb"\\([0-7]{3})")
KEY_BAR = "palette"  # on the first screen's key bar
DEFAULT_POLL = 0.0005
#: tmux on a server of its own: other tmux users on the machine neither see nor end it.
TMUX = ("tmux", "-L", f"optplay-bench-{os.getpid()}")
#: Seconds without output after which a dialog's answer to a key is complete (paused).
QUIET = 0.2


def race_of_six(task: str) -> Experiment:
    entries = [RaceEntry(RunConfig(task=task, optimizer=o)) for o in RACERS]
    return Experiment.of_race(entries, steps=10**9)


class Terminal:
    """`optplay` in a detached tmux session of a given size."""

    def __init__(
        self,
        experiment: Experiment,
        size: tuple[int, int],
        folder: Path,
        poll: float,
        extra_env: str = "",
    ) -> None:
        self.name = f"optplay-bench-{os.getpid()}-{size[0]}x{size[1]}"
        self.folder = folder
        self.poll = poll
        path = folder / "exp.toml"
        save(path, experiment.config if not experiment.race else experiment,
             steps=experiment.steps or 10**9)  # fmt: skip
        config = folder / "config"
        config.mkdir(exist_ok=True)
        (config / "settings.toml").write_text('speed = "max"\nsidebar = "shown"\n')
        # PYTHONPATH: the app of this checkout, whatever optplay is installed.
        data = folder / "data"  # the run store of this measurement, not the user's
        env = (
            f"OPTPLAY_CONFIG_DIR={config} OPTPLAY_DATA_DIR={data} TERM=xterm-256color "
            f"PYTHONPATH={ROOT} {extra_env}"
        )
        command = f"cd {folder} && {env} {sys.executable} -m tui --config {path}"
        subprocess.run([*TMUX, "kill-session", "-t", self.name], capture_output=True)
        self.started = time.perf_counter()
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y",
             str(size[1]), command],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        return subprocess.run(
            [*TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def send(self, key: str) -> None:
        subprocess.run([*TMUX, "send-keys", "-t", self.name, key], check=True)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30.0) -> float:
        """Seconds until `condition(screen)` holds (capture-pane every `poll` seconds)."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            screen = self.screen()
            if condition(screen):
                return time.perf_counter() - t0
            time.sleep(self.poll)
        last = ([line.strip() for line in screen.splitlines() if line.strip()] or ["(blank)"])[-1]
        raise TimeoutError(f"the screen did not change in {timeout:g} s; last row: {last[:60]!r}")

    def close(self) -> None:
        subprocess.run([*TMUX, "kill-session", "-t", self.name], capture_output=True)


# -- tmux control mode -------------------------------------------------------------------------

Cell = tuple[str, tuple]
Grid = list[list[Cell]]
BLANK: Cell = (" ", (None, None, frozenset()))


def sgr_state(params: str, state: tuple) -> tuple:
    """The (foreground, background, attributes) after one SGR sequence's parameters."""
    fg, bg, attrs = state
    attrs = set(attrs)
    codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            fg, bg, attrs = None, None, set()
        elif 1 <= c <= 9:
            attrs.add(c)
        elif c == 22:
            attrs -= {1, 2}
        elif 23 <= c <= 29:
            attrs.discard(c - 20)
        elif 30 <= c <= 37 or 90 <= c <= 97:
            fg = c
        elif 40 <= c <= 47 or 100 <= c <= 107:
            bg = c
        elif c == 39:
            fg = None
        elif c == 49:
            bg = None
        elif c in (38, 48, 58) and i + 1 < len(codes):
            n = 3 if codes[i + 1] == 5 else 5
            color = tuple(codes[i + 1 : i + n])
            if c == 38:
                fg = color
            elif c == 48:
                bg = color
            i += n - 1
        i += 1
    return fg, bg, frozenset(attrs)


def blank(cell: Cell) -> bool:
    """A space that shows nothing (no background, not reversed or underlined): tmux may
    leave such cells out at the end of a line."""
    char, (_, bg, attrs) = cell
    return char == " " and bg is None and not attrs & {4, 7}


def add_cells(row: list[Cell], text: str, style: tuple) -> None:
    """Append `text`'s cells: a combining mark joins the cell before it (m̂ is one cell), a
    wide character takes two."""
    for char in text:
        if row and unicodedata.combining(char):
            row[-1] = (row[-1][0] + char, row[-1][1])
            continue
        row.append((char, style))
        if unicodedata.east_asian_width(char) in "WF":
            row.append(("", style))


def parse_screen(lines: Sequence[str], width: int) -> Grid:
    """`capture-pane -p -e` lines as cells (character, style), blank-padded to `width`."""
    grid = []
    for line in lines:
        state: tuple = BLANK[1]
        row: list[Cell] = []
        pos = 0
        for m in SGR.finditer(line):
            add_cells(row, ANSI.sub("", line[pos : m.start()]), state)
            state = sgr_state(m.group(1), state)
            pos = m.end()
        add_cells(row, ANSI.sub("", line[pos:]), state)
        row.extend([BLANK] * (width - len(row)))
        grid.append([BLANK if blank(c) else c for c in row])
    return grid


def changed_cells(before: Grid, after: Grid) -> dict[tuple[int, int], Cell]:
    """The cells of `after` that differ from `before`, by (row, column)."""
    out = {}
    for r in range(max(len(before), len(after))):
        a = before[r] if r < len(before) else []
        b = after[r] if r < len(after) else []
        for c in range(max(len(a), len(b))):
            ca = a[c] if c < len(a) else BLANK
            cb = b[c] if c < len(b) else BLANK
            if ca != cb:
                out[(r, c)] = cb
    return out


def shows(grid: Grid, cells: dict[tuple[int, int], Cell]) -> bool:
    """Whether `grid` holds every one of `cells`."""
    for (r, c), cell in cells.items():
        have = grid[r][c] if r < len(grid) and c < len(grid[r]) else BLANK
        if have != cell:
            return False
    return True


class Control:
    """A tmux control-mode client attached to a session (`tmux -C attach`).

    Commands (send-keys, capture-pane) are written to its stdin; its stdout brings their
    answers (`%begin` ... `%end`) and the pane's output as it leaves the app (`%output %<pane>
    <data>`, bytes below 32 and backslash written as octal `\\ooo`). One process for the whole
    measurement: nothing is spawned per look."""

    def __init__(self, session: str, width: int) -> None:
        self.session = session
        self.width = width
        self.proc = subprocess.Popen(
            [*TMUX, "-C", "attach", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self._partial = b""
        self._block: list[bytes] | None = None  # a command's answer being read
        self._block_ours = False
        self.sent = 0  # commands written
        self.answered = 0  # answers read
        self._keep: dict[int, list[str] | None] = {}  # answers wanted, by command number
        self.tail = ""  # text written by the app since `mark()`, escape sequences removed
        self._raw_tail = ""
        self.outputs = 0  # %output lines read
        self.last_output = 0.0  # when the latest one arrived
        self.watch: Callable[[float, str], None] | None = None  # called per output, text
        self._wanted: str | None = None  # text `wait_text` waits for
        self.found_at: float | None = None  # when the output holding it arrived
        self.command("display-message -p ready")  # attached: the answers are in step

    # -- reading --------------------------------------------------------------------------

    def read(self, timeout: float) -> bool:
        """Read what arrived within `timeout` seconds; True if anything did."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        data = os.read(self.fd, 1 << 16)
        if not data:
            raise RuntimeError("the tmux control client ended")
        now = time.perf_counter()
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._line(line, now)
        return True

    def _line(self, line: bytes, now: float) -> None:
        if self._block is not None:
            if line.startswith((b"%end ", b"%error ")):
                if self._block_ours:
                    self.answered += 1
                    if self.answered in self._keep:
                        self._keep[self.answered] = [
                            b.decode("utf-8", "replace") for b in self._block
                        ]
                self._block = None
            else:
                self._block.append(line)
        elif line.startswith(b"%begin "):
            self._block = []
            self._block_ours = line.split(b" ")[3:4] == [b"1"]  # flag 1: from this client
        elif line.startswith(b"%output "):
            parts = line.split(b" ", 2)
            data = OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), parts[2] if len(parts) > 2
                             else b"").decode("utf-8", "replace")  # fmt: skip
            self.outputs += 1
            self.last_output = now
            self._raw_tail = (self._raw_tail + data)[-4096:]
            self.tail = ANSI.sub("", self._raw_tail)
            if self.watch is not None:
                self.watch(now, self.tail)
            if self._wanted is not None and self._wanted in self.tail:
                self._wanted, self.found_at = None, now

    def mark(self) -> None:
        """Forget the output so far: `tail` then holds what comes after this."""
        self._raw_tail = self.tail = ""

    # -- commands -------------------------------------------------------------------------

    def request(self, command: str, keep: bool = False) -> int:
        """Write a command; returns its number (for `answer`)."""
        self.proc.stdin.write(command.encode() + b"\n")  # type: ignore[union-attr]
        self.sent += 1
        if keep:
            self._keep[self.sent] = None
        return self.sent

    def answer(self, number: int) -> list[str] | None:
        """The answer of command `number` once read (None: not yet)."""
        if self.answered < number:
            return None
        return self._keep.pop(number) or []

    def command(self, command: str, timeout: float = 10.0) -> list[str]:
        number = self.request(command, keep=True)
        t0 = time.perf_counter()
        while self.answered < number:
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"tmux did not answer {command!r}")
            self.read(0.05)
        return self.answer(number) or []

    def key(self, key: str) -> float:
        """Send one key (tmux's name: Tab, BTab, Down, Enter, -, ...); returns when."""
        self.mark()
        t0 = time.perf_counter()
        self.request(f"send-keys -t {self.session} -- {key}")
        return t0

    def keys(self, keys: Sequence[str], pause: float = 0.3) -> None:
        """Send keys one after the other, each followed by `pause` seconds of reading."""
        for key in keys:
            self.key(key)
            self.drain(pause)

    def press(self, key: str, settle: float = 0.3, timeout: float = 5.0) -> None:
        """Send a key and read until the app answered and was quiet for `settle` seconds
        (or `timeout`)."""
        t0 = self.key(key)
        at_key = self.outputs
        while self.outputs == at_key and time.perf_counter() - t0 < timeout:
            self.read(0.05)
        self.quiet(settle, timeout)

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            self.read(left)

    def quiet(self, seconds: float = 0.15, timeout: float = 5.0) -> None:
        """Read until no output came for `seconds` (or `timeout`)."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if not self.read(seconds):
                return

    def grid(self) -> Grid:
        """The pane as tmux shows it now, cell by cell."""
        return parse_screen(self.command(f"capture-pane -p -e -t {self.session}"), self.width)

    def text(self) -> str:
        return "\n".join(self.command(f"capture-pane -p -t {self.session}"))

    def wait_text(self, text: str, timeout: float = 10.0) -> float:
        """When (perf_counter) the output that put `text` in `tail` arrived: the first
        output after the last `key()` / `mark()` that holds it."""
        if text in self.tail:
            return self.last_output
        # Looked for in each output line as it is read: one read may bring more output than
        # `tail` keeps (training at full speed), and the text would scroll out unseen.
        self._wanted, self.found_at = text, None
        t0 = time.perf_counter()
        try:
            while self.found_at is None:
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"{text!r} did not show in time")
                self.read(timeout)
        finally:
            self._wanted = None
        return self.found_at

    def close(self) -> None:
        try:
            self.request("detach-client")
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# -- key to screen: the speed keys ---------------------------------------------------------------


def speed_of(screen: str) -> str | None:
    m = SPEED.findall(screen)
    return m[-1] if m else None


def other_speed(before: str | None) -> tuple[str, str]:
    """The key that changes the speed shown and the text it then shows (max <-> 5000/s)."""
    return ("-", "speed 5000/s") if before == "max" else ("+", "speed max")


def polled_latencies(term: Terminal, rounds: int) -> list[float]:
    """`-` then `+`, `rounds` times each: send-keys until capture-pane shows the new speed."""
    out = []
    for _ in range(2 * rounds):
        before = speed_of(term.screen())
        key, _ = other_speed(before)
        t0 = time.perf_counter()
        term.send(key)
        term.wait_for(lambda s, before=before: speed_of(s) not in (None, before))
        out.append(time.perf_counter() - t0)
        time.sleep(0.05 + 0.05 * random.random())
    return out


def control_latencies(ctl: Control, rounds: int) -> list[float]:
    """`-` then `+`, `rounds` times each: the key written to the control client until the
    app's output holding the new speed arrived."""
    out = []
    before = speed_of(ctl.text())
    for _ in range(2 * rounds):
        key, text = other_speed(before)
        t0 = ctl.key(key)
        out.append(ctl.wait_text(text) - t0)
        before = text.removeprefix("speed ")
        ctl.drain(0.05 + 0.05 * random.random())
    return out


def app_rate(ctl: Control, seconds: float = 4.0) -> float:
    """Steps per second under the app: the status line's step counter (from the app's
    output) over `seconds` of full-speed training, no key pressed."""
    samples: list[tuple[float, int]] = []

    def watch(now: float, tail: str) -> None:
        found = STEP.findall(tail)
        if found:
            step = int(found[-1].replace(",", ""))
            if not samples or samples[-1][1] != step:
                samples.append((now, step))

    ctl.mark()
    ctl.watch = watch
    try:
        ctl.drain(seconds)
    finally:
        ctl.watch = None
    if len(samples) < 2:
        return float("nan")
    (t0, s0), (t1, s1) = samples[0], samples[-1]
    return (s1 - s0) / (t1 - t0)


def headless_rate(experiment: Experiment, seconds: float = 3.0) -> float:
    """Steps per second of headless `Run.step` / `Race.step`, chunks of 200."""
    stepper = Race(list(experiment.race)) if experiment.race else Run(experiment.config)
    stepper.step(50)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        stepper.step(200)
        n += 200
    return n / (time.perf_counter() - t0)


def summary(values: Sequence[float]) -> str:
    if not values:
        return "(none)"
    ms = sorted(v * 1e3 for v in values)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"p50 {statistics.median(ms):6.1f}  p90 {p90:6.1f}  max {ms[-1]:6.1f} ms"


def wait_first_screen(term: Terminal) -> None:
    term.wait_for(lambda s: KEY_BAR in s)


def launch_part(poll: float) -> None:
    """Launch to the first screen on each optimizer path, taking turns: the compiled path
    (numba installed, its cache warm as at a second launch) and OPTPLAY_COMPILED=0."""
    from engine.optimizers import compiled

    paths = {"NumPy path (OPTPLAY_COMPILED=0)": "OPTPLAY_COMPILED=0"}
    if compiled.available():
        compiled.wait()  # fills the user's numba cache: every launch below finds it warm
        paths[f"{compiled.describe()}, warm cache"] = "OPTPLAY_COMPILED=1"
    # Bytecode cached, as after any launch that could write it: where PYTHONDONTWRITEBYTECODE
    # is set, every launch would otherwise compile the project's ~120 modules anew.
    for package in ("engine", "tui"):
        compileall.compile_dir(ROOT / package, quiet=1)
    print("1. Launch to the first drawn screen (tmux, 120x40, capture-pane polling; bytecode "
          "cached)")  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label in paths}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(3):
            for label, env in paths.items():
                term = Terminal(Experiment(ROSEN, steps=10**9), (120, 40), Path(tmp), poll, env)
                try:
                    wait_first_screen(term)
                    times[label].append(time.perf_counter() - term.started)
                finally:
                    term.close()
                time.sleep(0.3)
    for label, values in times.items():
        print(f"   {statistics.median(values) * 1e3:.0f} ms (median of 3; "
              f"{min(values) * 1e3:.0f}-{max(values) * 1e3:.0f}): {label}")  # fmt: skip
    if len(times) == 2:
        numpy_path, compiled_path = (statistics.median(v) for v in times.values())
        print(f"   compiled - NumPy: {(compiled_path - numpy_path) * 1e3:+.0f} ms (target <= 50)")


def keys_part(rounds: int, poll: float) -> None:
    cases = {
        "digits-mlp": Experiment(DIGITS, steps=10**9),
        "rosenbrock": Experiment(ROSEN, steps=10**9),
        "6-lane race (digits)": race_of_six("digits-mlp"),
    }
    print(f"\n2. Key to screen in tmux (`-`/`+`, the speed in the status line; {2 * rounds} keys "
          f"per row), and steps/s under the app against headless")  # fmt: skip
    print(f"   capture-pane: polled every {poll * 1e3:g} ms; control: `tmux -C` output")
    gaps = []
    for size in ((80, 24), (200, 50)):
        for label, experiment in cases.items():
            with tempfile.TemporaryDirectory() as tmp:
                term = Terminal(experiment, size, Path(tmp), poll)
                ctl = None
                try:
                    wait_first_screen(term)
                    time.sleep(0.5)
                    rows = {}
                    for mode in ("idle", "training"):
                        if mode == "training":
                            term.send("Space")
                            term.wait_for(lambda s: "running" in s)
                            time.sleep(1.0)
                        rows[mode, "capture-pane"] = polled_latencies(term, rounds)
                        # Attached only now: a control client that is not read makes tmux
                        # stop reading the app's output (and the app stalls on its writes).
                        ctl = Control(term.name, size[0])
                        ctl.drain(0.2)
                        rows[mode, "control"] = control_latencies(ctl, rounds)
                        if mode == "training":
                            rate = app_rate(ctl)
                        ctl.close()
                        ctl = None
                except TimeoutError as error:
                    print(f"   {size[0]}x{size[1]} {label}: not measured ({error})")
                    continue
                finally:
                    if ctl is not None:
                        ctl.close()
                    term.close()
            headless = headless_rate(experiment)
            print(f"   {size[0]}x{size[1]} {label}")
            for (mode, method), values in rows.items():
                print(f"      {mode:9} {method:13} {summary(values)}")
            for mode in ("idle", "training"):
                gaps.append(
                    statistics.median(rows[mode, "capture-pane"])
                    - statistics.median(rows[mode, "control"])
                )
            print(f"      steps/s (step counter on screen): app {rate:,.0f} / headless "
                  f"{headless:,.0f} = {rate / headless:.2f} (target >= 0.85)")  # fmt: skip
    low, mid, high = (v * 1e3 for v in (min(gaps), statistics.median(gaps), max(gaps)))
    gap = f"{mid:+.1f} ms ({low:+.1f} to {high:+.1f})"
    print(f"   capture-pane minus control, p50 per row: median {gap}. Control mode times the")
    print("   bytes as they leave the app; capture-pane sees tmux's screen after it parsed them,")
    print("   plus the polling delay, with a process per poll competing for the 2 cores.")


# -- key to action with Pilot ---------------------------------------------------------------------


async def pilot_latency(experiment: Experiment, rounds: int, training: bool) -> list[float]:
    from textual import events

    from tui.app import create_app

    app = create_app(experiment)
    out = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)
        while app.session.speed is not None:
            app.action_faster()
        if training:
            app.action_toggle_run()
            await asyncio.sleep(1.0)
        for i in range(2 * rounds):
            before = app.session.speed
            key = "minus" if i % 2 == 0 else "plus"
            t0 = time.perf_counter()
            app.post_message(events.Key(key, "-" if key == "minus" else "+"))
            while app.session.speed == before:
                await asyncio.sleep(0.0002)
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        app.session.pause()
        await pilot.pause()
    return out


def pilot_part(rounds: int) -> None:
    print("\n3. Key to action with Pilot (the key posted, until the session changed), 120x40")
    for label, experiment in (
        ("digits-mlp", Experiment(DIGITS, steps=10**9)),
        ("6-lane race (digits)", race_of_six("digits-mlp")),
    ):
        idle = asyncio.run(pilot_latency(experiment, rounds, training=False))
        busy = asyncio.run(pilot_latency(experiment, rounds, training=True))
        print(f"   {label:22} idle     {summary(idle)}")
        print(f"   {'':22} training {summary(busy)}")


# -- dialogs: navigation keys ----------------------------------------------------------------------


@dataclass
class Dialog:
    """A dialog to open, the navigation keys to press in it, and how to leave it."""

    name: str
    open: tuple[str, ...]
    shown: str  # text on the dialog once it is drawn
    keys: tuple[str, ...]
    close: tuple[str, ...] = ("Escape",)
    #: Keys pressed before (the app's state the dialog needs, e.g. a lesson loaded).
    prepare: tuple[str, ...] = ()
    #: Opened and closed once before its keys are learned: a screen the app keeps (the
    #: sweep's) shows a settled state when opened again, the one training then sees.
    warm: bool = False
    #: Per key (in the order of `keys`): the cells it changes and what they then show,
    #: learned with training paused.
    expected: list[dict[tuple[int, int], Cell]] = field(default_factory=list)
    #: Each key's latency (ms) or what it lacked, in the order pressed (`--each`).
    log: list[str] = field(default_factory=list)
    #: Timed in this run (`--dialog` chooses by name).
    chosen: bool = True


def there_and_back(forward: str, back: str, n: int) -> tuple[str, ...]:
    return (forward,) * n + (back,) * n


def key_to_screen(
    ctl: Control, key: str, cells: dict, timeout: float
) -> tuple[float | None, Grid | None]:
    """Seconds from sending `key` until tmux's screen holds `cells` (None: not in time), and
    the last screen captured. The screen is captured after each output burst, one capture at
    a time; a match is dated by the latest output the capture includes."""
    t0 = ctl.key(key)
    pending: tuple[int, float] | None = None
    seen = ctl.outputs
    last: Grid | None = None
    while time.perf_counter() - t0 < timeout:
        ctl.read(0.002 if pending else 0.02)
        if pending is not None:
            lines = ctl.answer(pending[0])
            if lines is None:
                continue
            last = parse_screen(lines, ctl.width)
            if shows(last, cells):
                return pending[1] - t0, last
            pending = None
        if ctl.outputs != seen:
            seen = ctl.outputs
            pending = (ctl.request(f"capture-pane -p -e -t {ctl.session}", keep=True),
                       ctl.last_output)  # fmt: skip
    if pending is not None:  # let the last answer arrive before the next command
        while (lines := ctl.answer(pending[0])) is None:
            ctl.read(0.05)
        last = parse_screen(lines, ctl.width)
    return None, last


def lacking(grid: Grid | None, cells: dict[tuple[int, int], Cell]) -> str:
    """The cells `grid` lacks, row by row: "row 12, columns 40-47: 'Discard '"."""
    rows: dict[int, list[int]] = {}
    for (r, c), cell in sorted(cells.items()):
        have = grid[r][c] if grid is not None and r < len(grid) and c < len(grid[r]) else BLANK
        if have != cell:
            rows.setdefault(r, []).append(c)
    parts = []
    for r, columns in rows.items():
        text = "".join(cells[(r, c)][0] or "" for c in columns)
        parts.append(f"row {r}, columns {columns[0]}-{columns[-1]}: {text!r}")
    return "; ".join(parts) or "(none)"


def learn_and_time(ctl: Control, dialog: Dialog) -> tuple[list[float], int]:
    """Training paused: press the dialog's keys, learn what each one changes on the screen
    and when the screen first showed all of it. Returns (latencies, keys that changed
    nothing)."""
    dialog.expected = []
    out, unchanged = [], 0
    before = ctl.grid()
    for key in dialog.keys:
        bursts: list[tuple[float, Grid]] = []
        t0 = ctl.key(key)
        pending: tuple[int, float] | None = None
        at_key = seen = ctl.outputs
        while True:
            ctl.read(0.002 if pending else 0.02)
            now = time.perf_counter()
            if pending is not None:
                lines = ctl.answer(pending[0])
                if lines is not None:
                    bursts.append((pending[1], parse_screen(lines, ctl.width)))
                    pending = None
            if pending is None and ctl.outputs != seen:
                seen = ctl.outputs
                pending = (ctl.request(f"capture-pane -p -e -t {ctl.session}", keep=True),
                           ctl.last_output)  # fmt: skip
            if pending is not None:
                continue
            answered = ctl.outputs != at_key
            if (answered and now - ctl.last_output > QUIET) or (not answered and now - t0 > 1.0):
                break  # quiet again (or no answer at all)
        after = ctl.grid()
        cells = changed_cells(before, after)
        dialog.expected.append(cells)
        if not cells:
            unchanged += 1
            dialog.log.append(f"{key} changed nothing")
        else:
            first = next((t for t, grid in bursts if shows(grid, cells)), None)
            rows = sorted({r for r, _ in cells})
            if first is not None:
                out.append(first - t0)
                dialog.log.append(f"{key} {(first - t0) * 1e3:.1f} ({len(cells)} cells, rows "
                                  f"{rows[0]}-{rows[-1]})")  # fmt: skip
            else:
                dialog.log.append(f"{key}: its answer was never one output burst")
            if len(rows) > 1:  # more than a line: what changed, to tell a stray change
                dialog.log.append(f"   changed {lacking(None, cells)[:300]}")
        before = after
    return out, unchanged


def replay(ctl: Control, dialog: Dialog) -> tuple[list[float], int]:
    """The dialog's keys again (training running behind it): latency to the cells learned
    while paused. Returns (latencies, keys whose answer never showed within 3 s)."""
    if len(dialog.expected) != len(dialog.keys):
        raise RuntimeError("its keys were not learned (the paused round failed)")
    out, missed = [], 0
    for key, cells in zip(dialog.keys, dialog.expected, strict=True):
        if not cells:  # the key changed nothing while paused: nothing to wait for
            ctl.key(key)
            ctl.drain(0.2)
            continue
        latency, last = key_to_screen(ctl, key, cells, timeout=3.0)
        if latency is None:
            missed += 1
            dialog.log.append(f"{key} never showed; lacking {lacking(last, cells)}")
        else:
            out.append(latency)
            dialog.log.append(f"{key} {latency * 1e3:.1f}")
        ctl.drain(0.08 + 0.08 * random.random())
    return out, missed


def dialog_rounds(ctl: Control, dialogs: Sequence[Dialog], training: bool) -> dict[str, tuple]:
    """Open each dialog, time its keys (paused: learning what they change; training: against
    what was learned), close it. A dialog left out by `--dialog` is skipped (its prepare keys
    still pressed: the cases after it may need the state they lead to)."""
    results = {}
    for dialog in dialogs:
        if not dialog.chosen:
            prepare(ctl, dialog)
            continue
        try:
            results[dialog.name] = dialog_round(ctl, dialog, training)
        except (TimeoutError, RuntimeError) as error:
            results[dialog.name] = error
            ctl.keys(("Escape", "Escape", "Escape"), pause=0.5)
    return results


def dialog_round(ctl: Control, dialog: Dialog, training: bool) -> tuple[list[float], int]:
    prepare(ctl, dialog)
    if not training:
        ctl.quiet(0.3)
    main = None if training else ctl.grid()
    if dialog.warm and not training:
        open_dialog(ctl, dialog)
        close_dialog(ctl, dialog, main)
    open_dialog(ctl, dialog)
    if not training:
        # A toast still shown (an export's, "the single run is now adam..." after x) goes
        # after its timeout: while the keys are learned, its cells would count as the answer
        # of the key pressed then, an answer never seen again (a late "latency" paused, a key
        # "never shown" while training).
        wait_toasts_gone(ctl)
    dialog.log.append("training:" if training else "idle:")
    result = learn_and_time(ctl, dialog) if not training else replay(ctl, dialog)
    close_dialog(ctl, dialog, main)
    return result


def prepare(ctl: Control, dialog: Dialog) -> None:
    """Press the dialog's prepare keys; a question about unsaved changes that one of them
    raises (loading a lesson after a race) is answered: discard."""
    for key in dialog.prepare:
        ctl.press(key, settle=0.5)
        if "unsaved changes" in ctl.text():
            ctl.press("d", settle=0.5)


def toast_rows(grid: Grid) -> list[int]:
    """Rows showing a toast: Textual draws one at the bottom right, a `▌` on its left edge,
    then text on a background up to two cells from the right edge."""
    rows = []
    for r in range(len(grid) // 2, len(grid)):
        row = grid[r]
        edge = len(row) - 3
        if edge > 0 and row[edge][1][1] is None:
            continue
        for c in range(len(row) // 3, edge):
            if row[c][0] == "▌" and all(cell[1][1] is not None for cell in row[c + 1 : edge]):
                rows.append(r)
                break
    return rows


def wait_toasts_gone(ctl: Control, timeout: float = 12.0) -> None:
    """Wait until no toast shows (the app's last longer than 10 s), then for quiet."""
    t0 = time.perf_counter()
    while toast_rows(ctl.grid()) and time.perf_counter() - t0 < timeout:
        ctl.drain(0.25)
    ctl.quiet(0.3)


def open_dialog(ctl: Control, dialog: Dialog) -> None:
    for key in dialog.open:
        ctl.press(key, timeout=1.0)
    t0 = time.perf_counter()
    while dialog.shown not in ctl.text():
        if time.perf_counter() - t0 > 10:
            raise TimeoutError(f"the {dialog.name} dialog did not open")
        ctl.drain(0.05)
    ctl.quiet(0.4, timeout=0.6)  # training: never quiet, the dialog had 0.6 s to settle


def close_dialog(ctl: Control, dialog: Dialog, main: Grid | None) -> None:
    for key in dialog.close:
        ctl.press(key, timeout=1.0)
    for _ in range(3):  # a key that only left a field (escape in a form): once more
        if on_main(ctl, main):
            return
        ctl.press("Escape", timeout=1.0)
    raise RuntimeError(f"could not leave the {dialog.name} dialog")


def on_main(ctl: Control, main: Grid | None) -> bool:
    """Whether the main screen is back: the screen as it was before the dialog (a toast
    aside), or, while training, the key bar's first key on the last row."""
    if main is not None:
        return len(changed_cells(main, ctl.grid())) <= ctl.width * 4
    return "Run/pause" in ctl.text().rstrip().splitlines()[-1]


def run(ctl: Control) -> None:
    """Start the training (space) from the main screen: a dialog still open (an export prompt
    slow to close on a loaded machine) would take the space."""
    for _ in range(3):
        if "Run/pause" in ctl.text().rstrip().splitlines()[-1]:
            break
        ctl.press("Escape", timeout=1.0)
    toggle(ctl, "running")


def pause(ctl: Control) -> None:
    """Pause the training (space) and wait until the screen is quiet."""
    if "running" in ctl.text():
        toggle(ctl, "paused")
    ctl.quiet()


def toggle(ctl: Control, state: str, tries: int = 3) -> None:
    """Space until the status line says `state` (a space pressed while the app was busy, on
    a loaded machine, was sometimes not answered within 10 s)."""
    for _ in range(tries):
        ctl.key("Space")
        try:
            ctl.wait_text(state, timeout=5.0)
            return
        except TimeoutError:
            if state in ctl.text():  # shown, the output not seen as it came
                return
    raise TimeoutError(f"{state!r} did not show after {tries} spaces")


def dialogs_part(rounds: int, poll: float, names: Sequence[str] = (), each: bool = False) -> None:
    n = max(10, rounds)  # at least 20 keys per dialog
    single = [
        Dialog("race setup: tab", ("c",), "Race 2", there_and_back("Tab", "BTab", n)),
        Dialog(
            "race setup: drop-down",
            ("c",),
            "Race 2",
            ("Enter", "Down", "Up", "Enter") * max(5, n // 2),
        ),
        Dialog(
            "sweep setup: tab",
            ("s",),
            "Final loss against",
            there_and_back("Tab", "BTab", n),
            warm=True,
        ),
        Dialog("help: up/down", ("?",), "Update rule", there_and_back("Down", "Up", n)),
        Dialog("presets: up/down", ("o",), "enter opens", there_and_back("Down", "Up", n)),
        Dialog("lessons: up/down", ("L",), "enter loads", there_and_back("Down", "Up", n)),
        Dialog("save: left/right", ("C-s",), "save experiment", there_and_back("Left", "Right", n)),
        Dialog(
            "export prompt: left/right",
            ("e",),
            "export history",
            there_and_back("Left", "Right", n),
        ),
        Dialog("command palette: up/down", ("C-p",), "Search", there_and_back("Down", "Up", n)),
    ]
    raced = [
        Dialog("quit confirm: tab", ("q",), "unsaved changes", there_and_back("Tab", "BTab", n)),
        Dialog(
            "overwrite confirm: tab",
            ("e", "Enter"),
            "Overwrite?",
            there_and_back("Tab", "BTab", n),
            close=("n",),
        ),
        Dialog("race results (no navigation keys)", ("t",), "results", ("Down", "Up")),
    ]
    paused_only = [  # these pause the run, or end it, when they open
        Dialog("pin prompt: left/right", ("p",), "pin run", there_and_back("Left", "Right", n),
               prepare=("x",)),
        # The verdict before the run (a lesson loaded, unsaved changes discarded): its text
        # fits at 120x40, nothing to scroll; its keys h / d record a prediction in place.
        Dialog("verdict: h/d (prediction)", ("v",), "Verdict: not yet", ("h", "d") * n,
               prepare=("L", "Enter")),
    ]  # fmt: skip
    for dialog in single + raced + paused_only:
        dialog.chosen = not names or any(name in dialog.name for name in names)
    print("\n4. Navigation keys in dialogs, key to screen in tmux (control mode), 120x40, "
          "digits-mlp; target <= 30 ms")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        term = Terminal(Experiment(DIGITS, steps=10**9), (120, 40), Path(tmp), poll)
        ctl = None
        try:
            wait_first_screen(term)
            ctl = Control(term.name, 120)
            ctl.drain(0.5)
            idle = dialog_rounds(ctl, single, training=False)
            run(ctl)
            busy = dialog_rounds(ctl, single, training=True)
            # A race (started from the setup screen: the experiment now has unsaved changes),
            # paused: the quit question, the results table, an overwrite question (after a
            # first export wrote the files).
            ctl.keys(("c",), pause=1.0)
            ctl.keys(("C-g",), pause=1.5)
            pause(ctl)
            ctl.keys(("e", "Enter"), pause=0.5)
            idle |= dialog_rounds(ctl, raced, training=False)
            run(ctl)
            busy |= dialog_rounds(ctl, raced, training=True)
            pause(ctl)
            idle |= dialog_rounds(ctl, paused_only, training=False)
        finally:
            if ctl is not None:
                ctl.close()
            term.close()
    for dialog in single + raced + paused_only:
        if dialog.name not in idle:
            continue  # not chosen
        if isinstance(idle[dialog.name], Exception):
            print(f"   {dialog.name}: not measured ({idle[dialog.name]})")
            continue
        lat, unchanged = idle[dialog.name]
        note = f"  ({unchanged} of {len(dialog.keys)} keys changed nothing)" if unchanged else ""
        print(f"   {dialog.name}{note}")
        print(f"      idle     {summary(lat)}")
        if isinstance(busy.get(dialog.name), Exception):
            print(f"      training: not measured ({busy[dialog.name]})")
        elif dialog.name in busy:
            blat, missed = busy[dialog.name]
            late = f"  ({missed} never showed within 3 s)" if missed else ""
            print(f"      training {summary(blat)}{late}")
        if each:
            for line in dialog.log:
                print(f"      {line}" if line.endswith(":") else f"         {line}")


PARTS = ("launch", "keys", "pilot", "dialogs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="key pairs per case (default 10)")
    parser.add_argument(
        "--poll",
        type=float,
        default=DEFAULT_POLL,
        help=f"seconds between two capture-pane polls (default {DEFAULT_POLL})",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--dialog",
        default="",
        help="dialogs part: time only the cases whose name holds one of these comma-separated "
        "words (e.g. lessons,pin)",
    )
    parser.add_argument(
        "--each", action="store_true", help="dialogs part: every key's latency, in order"
    )
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}: choose from {', '.join(PARTS)}")
    os.environ.setdefault("OPTPLAY_CONFIG_DIR", tempfile.mkdtemp())
    os.environ.setdefault("OPTPLAY_DATA_DIR", tempfile.mkdtemp())
    tmux = shutil.which("tmux") is not None
    if not tmux and set(parts) - {"pilot"}:
        print("tmux is not installed: the terminal measurements are skipped")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    if tmux and "launch" in parts:
        launch_part(args.poll)
    if tmux and "keys" in parts:
        keys_part(args.rounds, args.poll)
    if "pilot" in parts:
        pilot_part(args.rounds)
    if tmux and "dialogs" in parts:
        names = [n.strip() for n in args.dialog.split(",") if n.strip()]
        dialogs_part(args.rounds, args.poll, names, args.each)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")


if __name__ == "__main__":
    main()
