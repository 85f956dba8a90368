"""Limits before work (issue 26): a small file nested absurdly deep is refused while it is
read, in bounded memory, by every command that reads experiment and spec files."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import MAX_DEPTH

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30

DEEP_FILES = {
    # 156 KiB: drove `optplay run` past 24 GB before (tomllib has no depth limit).
    "dotted-key-80000": "a" + ".a" * 80_000 + " = 1\n",
    "table-header-2000": "[" + ".".join(["t"] * 2_000) + "]\nx = 1\n",
    "inline-tables-2000": "x = " + "{a = " * 2_000 + "1" + "}" * 2_000 + "\n",
    "arrays-5000": "x = " + "[" * 5_000 + "]" * 5_000 + "\n",
}


def _one_gib() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


@pytest.mark.parametrize("command", ["run", "bench", "sweep"])
@pytest.mark.parametrize("name", list(DEEP_FILES))
def test_a_deep_file_is_refused_in_bounded_memory(tmp_path: Path, name: str, command: str):
    path = tmp_path / f"{name}.toml"
    path.write_text('task = "quadratic"\noptimizer = "sgd"\n' + DEEP_FILES[name])
    done = subprocess.run(
        [sys.executable, "-m", "tui", command, "--config", str(path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, preexec_fn=_one_gib,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.stderr == (
        f"optplay {command}: error: {path}: line 3: nested more than {MAX_DEPTH} levels deep\n"
    )
    assert done.returncode == 2
