"""What loads when first used: the optimizer and task tables (`FAMILIES`), whose family
modules are imported when one of their entries is first used while `names()` lists the table's
order without importing anything, and a run's generators (`seeded_rngs`). The checks of what
is imported run a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> object:
    """What a fresh interpreter prints (one JSON value) after running `code`."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("package", ["engine.optimizers", "engine.tasks"])
def test_the_table_is_what_its_modules_register_in_that_order(package: str) -> None:
    """Importing every family module in the table's order registers exactly the table's
    names, in its order, each from the module the table names; none is hidden."""
    registered = run_fresh(f"""
        import importlib, json
        package = importlib.import_module("{package}")
        registry = package._REGISTRY if hasattr(package, "_REGISTRY") else package.REGISTRY
        before = list(registry._classes)
        registry.load_all()
        print(json.dumps({{
            "before": before,
            "table": list(package.FAMILIES.items()),
            "registered": [(n, c.__module__, c.hidden) for n, c in registry._classes.items()],
            "names": package.names(),
        }}))
    """)
    assert registered["before"] == []  # nothing registered until used
    table = [tuple(row) for row in registered["table"]]
    assert [(n, m, False) for n, m in table] == [tuple(r) for r in registered["registered"]]
    assert registered["names"] == [n for n, _ in table]


def test_names_import_no_family_and_one_entry_imports_its_own() -> None:
    loaded = run_fresh("""
        import json, sys
        from engine import optimizers, tasks
        optimizers.names(), tasks.names()
        named = sorted(m for m in sys.modules if m.count(".") == 2 and m.startswith(
            ("engine.optimizers.", "engine.tasks.")))
        optimizers.get("adam"), tasks.get("rosenbrock")
        used = sorted(m for m in sys.modules if m.count(".") == 2 and m.startswith(
            ("engine.optimizers.", "engine.tasks.")))
        print(json.dumps([named, used]))
    """)
    named, used = loaded
    assert named == [
        "engine.optimizers.base",
        "engine.optimizers.compiled",
        "engine.tasks.base",
        "engine.tasks.view_size",
    ]
    assert set(used) - set(named) == {"engine.optimizers.adam", "engine.tasks.landscapes"}


def test_classes_read_from_the_package_load_their_family() -> None:
    assert run_fresh("""
        import json
        from engine import optimizers
        from engine.optimizers import Lion
        sam = optimizers.get("sam")
        print(json.dumps([Lion.name, optimizers.AdamScalars.__module__, sam.name]))
    """) == ["lion", "engine.optimizers.adam", "sam"]


def test_a_class_named_like_an_unloaded_entry_is_refused() -> None:
    """A name the table gives to a module not imported yet cannot be taken by another class
    (it would be registered twice once the family loads)."""
    from engine.optimizers import base

    class Impostor(base.Optimizer):
        name = "lookahead"

    Impostor.__module__ = "somewhere.else"
    with pytest.raises(TypeError, match="registered twice"):
        base.register(Impostor)


@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_a_runs_generators_are_the_children_of_its_seed_sequence(seed: int) -> None:
    from engine.tasks.base import seeded_rngs

    lazy = seeded_rngs(seed)
    eager = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)]
    for made, expected in zip(lazy, eager, strict=True):
        assert made.standard_normal(4).tolist() == expected.standard_normal(4).tolist()
        assert made.permutation(9).tolist() == expected.permutation(9).tolist()
        assert made.integers(0, 10**6, 3).tolist() == expected.integers(0, 10**6, 3).tolist()


def test_a_run_that_draws_nothing_loads_no_numpy_random() -> None:
    assert (
        run_fresh("""
        import json, sys
        from engine.run import Run, RunConfig
        run = Run(RunConfig(task="rosenbrock", optimizer="adam"))
        run.step(5)
        print(json.dumps("numpy.random" in sys.modules))
    """)
        is False
    )
