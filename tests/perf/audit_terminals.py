"""Audit optplay in real terminals: every CLI command's text and the app's race view, in tmux.

Not a test: a tool a developer runs before a release (issue 25's acceptance: "in tmux, 80x24
and 200x50, NO_COLOR=1, LC_ALL=C: every lane distinguishable in charts and tables, no line
wider than the terminal from any CLI command, no name cut mid-word"). It needs tmux, starts
its own tmux server (`tmux -L optplay-audit-<pid>`, killed at the end) and writes only into a
temporary folder (the run store and settings too). Run from the checkout's root:

    PYTHONPATH=$PWD python tests/perf/audit_terminals.py            # everything
    PYTHONPATH=$PWD python tests/perf/audit_terminals.py --cli      # the commands only
    PYTHONPATH=$PWD python tests/perf/audit_terminals.py --app      # the app only
    PYTHONPATH=$PWD python tests/perf/audit_terminals.py --show run # print what `run` printed

The commands: every `optplay` command (run, bench, list and each kind, lesson, sweep with its
terminal chart, theory, runs, plot, code, serve's help) and every command's --help, with small
step counts, each in a fresh tmux session of 80x24 and of 200x50 with NO_COLOR=1 and LC_ALL=C.
What each printed is read back with `tmux capture-pane -J` (lines the terminal wrapped are
joined again) and checked for:

- wide: a line wider than the terminal (the terminal wraps it: a table breaks apart);
- cut: a known name (task, optimizer, knob, schedule, lesson, preset) split over two lines
  (`linear-regressi` / `on`, also at a hyphen: `linear-` / `regression`) or cut short where a
  column ends without an ellipsis (`initial_accumu0`);
- non-ascii: a character outside ASCII although LC_ALL=C asks for ASCII.

The app: `optplay --preset linreg-optimizers` (a race of three) and `sam-flat-minimum` (four)
at 80x24 and 200x50, with NO_COLOR=1 (and once more with LC_ALL=C too), run to the end; the
Loss chart must carry every lane's marker on its curves (not only in the legend), and the
race panel and the results table (`t`) must give every lane a swatch of its own ("1━ SGD",
"2━ Momentum"; "1- SGD" in ASCII).

Prints one line per finding and a summary ("N findings in M captures"); exit status 1 when
anything was found. Takes a few minutes (each command starts Python; the lessons train).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SIZES = ((80, 24), (200, 50))
#: The commands, with small step counts; {tmp} is the audit's folder.
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("list",),
    ("list", "optimizers", "--flavours"),
    ("list", "schedules"),
    ("list", "tasks"),
    ("list", "presets"),
    ("list", "lessons"),
    ("run", "--task", "rosenbrock", "--optimizer", "adam", "--steps", "60",
     "--out", "{tmp}/rosenbrock.csv"),
    ("run", "--task", "linear-regression", "--optimizer", "adagrad", "--steps", "40",
     "--set", "optimizer.initial_accumulator_value=0.1"),
    ("run", "--preset", "linreg-optimizers", "--steps", "30", "--entry", "2"),
    ("bench", "--tasks", "rosenbrock", "linear-regression", "--optimizers", "sgd", "adam",
     "--steps", "40", "--seeds", "2", "--workers", "1"),
    ("sweep", "--task", "rosenbrock", "--optimizers", "sgd", "momentum", "adam",
     "--lr", "1e-4:1:5", "--steps", "40", "--workers", "1"),
    ("sweep", "--task", "linear-regression", "--optimizers", "adagrad", "--lr", "0.01,0.1",
     "--grid", "initial_accumulator_value=0,0.1", "--steps", "10", "--seeds", "2",
     "--workers", "1"),
    ("lesson", "momentum-ravine", "--seed", "0"),
    ("theory", "--task", "ill-conditioned", "--optimizer", "momentum", "--steps", "50"),
    ("theory", "--task", "linear-regression"),
    ("runs",),
    ("runs", "show", "1"),
    ("plot", "{tmp}/rosenbrock.csv", "--out", "{tmp}/rosenbrock.txt"),
    ("code", "--task", "rosenbrock", "--optimizer", "adam", "--out", "{tmp}/script.py"),
)  # fmt: skip
HELPS = ("run", "bench", "list", "lesson", "sweep", "theory", "serve", "plot", "runs", "code")
#: Race presets opened in the app.
APP_PRESETS = ("linreg-optimizers", "sam-flat-minimum")
#: Words of English prose that are also the start of a name (not a name cut short).
PROSE = {"moment", "moments", "linear", "weight", "initial", "schedule", "schedules",
         "warmup", "nesterov", "cosine", "lookahead"}  # fmt: skip


@dataclass
class Finding:
    where: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.detail}"


# -- tmux -------------------------------------------------------------------------------------


class Tmux:
    """A tmux server of our own; each capture runs in a fresh detached session."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"optplay-audit-{os.getpid()}"
        self.env = env
        self.count = 0
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "base", "-x", "80", "-y", "24")
        self.tmux("set-option", "-g", "history-limit", "100000")
        self.tmux("set-option", "-g", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        return done.stdout

    def start(self, command: str, size: tuple[int, int], extra_env: dict[str, str]) -> str:
        self.count += 1
        name = f"s{self.count}"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**self.env, **extra_env}.items())
        width, height = size
        self.tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                  f"env {env} {command}")  # fmt: skip
        return name

    def dead(self, name: str) -> bool:
        return self.tmux("display-message", "-p", "-t", name, "#{pane_dead}").strip() == "1"

    def capture(self, name: str, history: bool = True) -> str:
        args = ["capture-pane", "-p", "-J", "-t", name]
        if history:
            args += ["-S", "-"]
        text = self.tmux(*args).rstrip("\n")
        # tmux's own line under a finished command (remain-on-exit), not the command's
        return re.sub(r"\n*Pane is dead \(.*\)\s*$", "", text)

    def keys(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", name, *keys)

    def close(self, name: str) -> None:
        self.tmux("kill-session", "-t", name)

    def stop(self) -> None:
        self.tmux("kill-server")


def wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.25)
    return False


# -- the checks ---------------------------------------------------------------------------------


def known_names() -> set[str]:
    """Every name a user types or reads in a table: tasks, optimizers, knobs, schedules,
    lessons, presets (longer than four letters: shorter ones are ordinary words)."""
    from engine import lessons, optimizers, presets, schedules, tasks

    found = set(tasks.names()) | set(optimizers.names()) | set(lessons.names())
    found |= set(schedules.names()) | set(presets.names())
    for name in optimizers.names():
        found |= {h.name for h in optimizers.specs(name)}
    for name in tasks.names():
        found |= {h.name for h in tasks.specs(name)}
    for name in schedules.names():
        found |= {h.name for h in schedules.specs(name)}
    return {n for n in found if len(n) > 4}


WORD = re.compile(r"[A-Za-z0-9_.-]+")


def check_text(where: str, text: str, width: int, names: set[str]) -> list[Finding]:
    found: list[Finding] = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if len(line.rstrip()) > width:
            found.append(Finding(where, "wide", f"line {n} is {len(line.rstrip())} > {width}: "
                                 f"{line.strip()[:60]!r}"))  # fmt: skip
        odd = sorted({c for c in line if ord(c) > 127})
        if odd:
            found.append(Finding(where, "non-ascii", f"line {n}: {''.join(odd)!r} in "
                                 f"{line.strip()[:60]!r}"))  # fmt: skip
    # A name split over two lines: the last word of a line and the first of the next.
    for n, (line, after) in enumerate(itertools.pairwise(lines), 1):
        ends = WORD.findall(line.rstrip())
        starts = WORD.findall(after.lstrip())
        if not ends or not starts or not line.rstrip().endswith(ends[-1]):
            continue
        if not after.lstrip().startswith(starts[0]):
            continue
        head, tail = ends[-1], starts[0]
        if not (head[-1].isalnum() or head[-1] in "-_") or head in names:
            continue
        for joined in (head + tail, head.rstrip(".") + tail):
            if joined in names:
                found.append(Finding(where, "cut", f"lines {n}-{n + 1}: {head!r} / {tail!r}"))
                break
    # A name cut short where a column ends, without an ellipsis: a word that is a name's
    # start cut inside a run of letters (at least two letters short: not a plural), alone
    # or run into the next column's digits (`initial_accumu0`); not a name itself.
    for n, line in enumerate(lines, 1):
        for m in WORD.finditer(line + " "):
            word = m.group()
            if word.endswith(".") or line[m.end() : m.end() + 1] == "…":
                continue  # cut with an ellipsis ("…", "." in ASCII), or a sentence's end
            if len(word) < 6 or word in names or word.lower() in PROSE:
                continue
            for name in names:
                k = _common(word, name)
                if k < 6 or len(name) - k < 2 or not (name[k - 1] + name[k]).isalnum():
                    continue
                if k == len(word) or word[k].isdigit():
                    found.append(Finding(where, "cut", f"line {n}: {word!r} (of {name!r})"))
                    break
    return found


def _common(a: str, b: str) -> int:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


# -- the CLI ------------------------------------------------------------------------------------


def audit_cli(tmux: Tmux, python: str, tmp: Path, names: set[str], show: str | None) -> tuple:
    findings: list[Finding] = []
    captures = 0
    argvs = list(COMMANDS) + [(name, "--help") for name in HELPS]
    for argv in argvs:
        args = [a.format(tmp=tmp) for a in argv]
        for size in SIZES:
            where = f"optplay {' '.join(argv)} @{size[0]}x{size[1]}".replace(str(tmp), "TMP")
            command = f"{shlex.quote(python)} -m tui {' '.join(shlex.quote(a) for a in args)}"
            session = tmux.start(command, size, {"NO_COLOR": "1", "LC_ALL": "C"})
            if not wait(lambda s=session: tmux.dead(s), 600):
                findings.append(Finding(where, "timeout", "still running after 600 s"))
            text = tmux.capture(session)
            tmux.close(session)
            captures += 1
            if show is not None and argv[0] == show:
                print(f"--- {where}\n{text}\n---")
            findings += check_text(where, text, size[0], names)
    return findings, captures


# -- the app ------------------------------------------------------------------------------------

FRAME = re.compile(r"[│|┤+](.*)[│|]\s*$")


def data_rows(screen: str) -> list[str]:
    """The Loss chart's data rows: between its frame's left and right edges."""
    rows = []
    for line in screen.splitlines():
        body = line.split("▕", 1)[-1]  # right of the sidebar, when shown
        m = FRAME.search(body)
        if m and not set(m.group(1)) <= set("─-+┬┴└┘┌┐ "):
            rows.append(m.group(1))
    return rows


def lane_problems(
    screen: str, table: str, lanes: list[str], ascii_only: bool, sidebar: bool
) -> list[str]:
    """What keeps a lane from being told apart without colour: no marker on its curve, or a
    swatch shared with another lane (or missing) in the panel or the results table."""
    problems = []
    # Inside the frame at the end of a race there is no text but the legend ("1 SGD"): a
    # lane's digit anywhere else is its marker on its curve.
    rows = data_rows(screen)
    for i, name in enumerate(lanes):
        rows = [row.replace(f"{i + 1} {name}", "") for row in rows]
    for i, name in enumerate(lanes, 1):
        if not any(str(i) in row for row in rows):
            problems.append(f"lane {i} ({name}): no marker {str(i)!r} on its curve")
    line = "-" if ascii_only else "━"
    views = [("panel", screen)] if sidebar else []  # the sidebar hides below 90 columns
    for where, text in [*views, ("results table", table)]:
        swatches = []
        for i, name in enumerate(lanes, 1):
            m = re.search(rf"(\S\S) {re.escape(name)}(?!\w)", text)
            if m is None:
                problems.append(f"{where}: lane {i} ({name}) not found")
                continue
            swatches.append(m.group(1))
            if m.group(1) != f"{i}{line}":
                problems.append(f"{where}: lane {i} ({name}) swatch {m.group(1)!r}")
        if len(set(swatches)) != len(swatches):
            problems.append(f"{where}: swatches not distinct: {swatches}")
    return problems


def results_shown(tmux: Tmux, session: str) -> bool:
    return "race results" in tmux.capture(session, False)


def audit_app(tmux: Tmux, python: str, show: bool) -> tuple:
    from engine import presets

    findings: list[Finding] = []
    captures = 0
    for preset in APP_PRESETS:
        lanes = [entry.name for entry in presets.load(preset).race]
        for size in SIZES:
            for extra in ({"NO_COLOR": "1"}, {"NO_COLOR": "1", "LC_ALL": "C"}):
                tag = " LC_ALL=C" if "LC_ALL" in extra else ""
                where = f"app --preset {preset} @{size[0]}x{size[1]} NO_COLOR=1{tag}"
                session = tmux.start(f"{shlex.quote(python)} -m tui --preset {preset}", size, extra)
                ready = wait(lambda s=session: "space" in tmux.capture(s, False), 60)
                tmux.keys(session, "space")
                ended = wait(lambda s=session: "finished" in tmux.capture(s, False), 300)
                if not (ready and ended):
                    findings.append(Finding(where, "timeout", "the race did not finish"))
                # A race that ends opens its results table (`t` opens it otherwise).
                shown = functools.partial(results_shown, tmux, session)
                if not wait(shown, 5):
                    tmux.keys(session, "t")
                    wait(shown, 20)
                time.sleep(0.5)
                table = tmux.capture(session, False)
                tmux.keys(session, "Escape")
                wait(lambda s=session: not results_shown(tmux, s), 20)
                time.sleep(0.5)
                screen = tmux.capture(session, False)
                tmux.keys(session, "q")
                tmux.close(session)
                captures += 1
                if show:
                    print(f"--- {where}\n{screen}\n{table}\n---")
                ascii_only = "LC_ALL" in extra
                for problem in lane_problems(screen, table, lanes, ascii_only, size[0] >= 90):
                    findings.append(Finding(where, "lanes", problem))
                width = size[0]
                for n, line in enumerate(screen.splitlines(), 1):
                    if len(line.rstrip()) > width:
                        findings.append(Finding(where, "wide", f"row {n}"))
                if ascii_only and any(ord(c) > 127 for c in screen + table):
                    odd = sorted({c for c in screen + table if ord(c) > 127})
                    findings.append(Finding(where, "non-ascii", "".join(odd)))
    return findings, captures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", action="store_true", help="the commands only")
    parser.add_argument("--app", action="store_true", help="the app only")
    parser.add_argument("--show", metavar="COMMAND", help="print what COMMAND printed")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("audit_terminals: tmux is needed", file=sys.stderr)
        return 2
    both = not args.cli and not args.app
    root = Path(__file__).resolve().parents[2]
    names = known_names()
    with tempfile.TemporaryDirectory(prefix="optplay-audit-") as folder:
        tmp = Path(folder)
        env = {
            "PYTHONPATH": str(root),
            "OPTPLAY_CONFIG_DIR": str(tmp / "config"),
            "OPTPLAY_DATA_DIR": str(tmp / "data"),
            "HOME": str(tmp),
            "TERM": "xterm",
        }
        os.chdir(tmp)
        tmux = Tmux(env)
        findings: list[Finding] = []
        captures = 0
        started = time.perf_counter()
        try:
            if args.cli or both:
                found, n = audit_cli(tmux, sys.executable, tmp, names, args.show)
                findings += found
                captures += n
            if args.app or both:
                found, n = audit_app(tmux, sys.executable, args.show == "app")
                findings += found
                captures += n
        finally:
            tmux.stop()
    for finding in findings:
        print(finding)
    seconds = time.perf_counter() - started
    print(f"{len(findings)} findings in {captures} captures ({seconds:.0f} s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
