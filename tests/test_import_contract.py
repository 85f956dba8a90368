"""The import contract (.importlinter, checked by `lint-imports` in .ci/run): `engine` imports
nothing of the app (tui, Textual, Rich, plotext), the headless commands import no Textual, and
neither `engine` nor `tui` has an import cycle, imports inside functions included.

Each test copies the two packages and the contract into a temporary folder, plants a fault in
the copy and runs the checker there: the contract must catch it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports_command() -> list[str]:
    script = Path(sys.executable).with_name("lint-imports")
    found = str(script) if script.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    return [found, "--no-cache"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of engine/, tui/ and the contract."""
    for package in ("engine", "tui"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lint_imports_command(),
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )


def plant(path: Path, line: str, *, in_function: bool = False) -> None:
    """Add an import to a module: at the top, or inside a new function (a lazy import)."""
    text = path.read_text(encoding="utf-8")
    if in_function:
        text += f"\n\ndef _planted() -> None:\n    {line}\n"
    else:
        head, sep, rest = text.partition("from __future__ import annotations\n")
        text = head + sep + line + "\n" + rest if sep else line + "\n" + text
    path.write_text(text, encoding="utf-8")


def test_the_checkout_keeps_the_contract(tree: Path) -> None:
    done = check(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "in_function", "broken"),
    [
        ("engine/history.py", "import textual", False, "engine imports nothing of the app"),
        ("engine/numbers.py", "import rich.text", True, "engine imports nothing of the app"),
        ("engine/run.py", "from tui.charts import tabs", True, "engine imports nothing"),
        ("tui/commands/sweep.py", "from textual.app import App", True, "no Textual"),
        ("engine/textsafe.py", "import engine.run", True, "no import cycles"),
        ("tui/charts/axes.py", "import tui.charts.panel", True, "no import cycles"),
        ("tui/serve/server.py", "import tui.commands.serve", False, "no import cycles"),
    ],
)
def test_a_planted_import_breaks_the_contract(
    tree: Path, module: str, line: str, in_function: bool, broken: str
) -> None:
    plant(tree / module, line, in_function=in_function)
    done = check(tree)
    assert done.returncode != 0, done.stdout
    report = done.stdout.split("Broken contracts", 1)[-1]
    assert broken in report, done.stdout
