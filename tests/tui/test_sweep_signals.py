"""`optplay sweep` on the process pool ended by a signal at a random moment: SIGINT, SIGTERM and
SIGHUP keep every finished row in --out and exit 128 + the signal; after any signal (SIGKILL
too) no process the sweep started is alive 3 s later. Two trials per signal here; the
acceptance's 20 per signal: `python tests/perf/sweep_signals.py`."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

pytest.importorskip("psutil")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

from sweep_signals import run_trial


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_a_signalled_sweep_keeps_its_rows_and_leaves_no_process(tmp_path, signal_name):
    rng = random.Random(signal_name)
    for number, delay in enumerate((rng.uniform(0.3, 1.5), rng.uniform(1.5, 3.0))):
        folder = tmp_path / f"trial{number}"
        folder.mkdir()
        trial = run_trial(signal_name, delay, folder)
        assert not trial.problems, trial.line()
        if signal_name != "SIGKILL":
            assert trial.status != 0, f"the sweep ended before the signal: {trial.line()}"
