"""`optplay code`: the experiment as a standalone script in NumPy, torch, optax or Keras.

    optplay code [--config FILE | --preset NAME | --lesson NAME] [--task T --optimizer O
                 --schedule S --set NAME=VALUE ... --steps N --seed K --dtype D]
                 [--entry NAME|K] --framework numpy|torch|optax|keras [--out FILE]

Writes a readable script (no optplay import) reproducing the run: the same data and initial
parameters (saved beside it as FILE's name with .npz when the task has data), the same batch
order, optimizer and schedule; it prints the evaluation loss every eval step, as `optplay
run` records it (engine/codegen). Without --out the script goes to stdout (a task with data
needs --out: the .npz goes beside it). Exit status 0; 2 for bad arguments or an experiment
the generator does not cover (the message names the task, optimizer or schedule). Keras
scripts use keras.optimizers' classes, so they need the run's flavour to be keras.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.commands.common import (
    UsageError,
    add_set_arg,
    add_source_args,
    nonneg_int,
    parse_sets,
    positive_int,
    refuse_source,
    say,
)

NAME = "code"
DEFAULT_STEPS = 1000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay code` and its flags."""
    from engine.codegen import FRAMEWORKS

    parser = subparsers.add_parser(
        "code",
        help="write the experiment as a standalone numpy, torch, optax or keras script",
        description="Write a standalone script (no optplay import) that reproduces the "
        "experiment in the chosen framework: same data (saved beside it as .npz), initial "
        "parameters, batches, optimizer and schedule; it prints the eval loss every eval step.",
    )
    add_source_args(parser, "experiment")
    parser.add_argument("--lesson", metavar="NAME", help="start from a lesson's experiment")
    parser.add_argument("--task", metavar="T", help="task name")
    parser.add_argument("--optimizer", metavar="O", help="optimizer name")
    parser.add_argument("--schedule", metavar="S", help="learning-rate schedule")
    add_set_arg(parser, "set a knob, e.g. lr=0.01 or task.batch_size=64")
    parser.add_argument("--steps", type=positive_int, metavar="N", help="updates (default 1000)")
    parser.add_argument("--seed", type=nonneg_int, metavar="K", help="seed (init and data order)")
    parser.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")
    parser.add_argument(
        "--eval-every", type=nonneg_int, metavar="N", help="print the eval loss every N steps"
    )
    parser.add_argument(
        "--entry", metavar="NAME|K", help="for a race or a lesson: which racer (default 1)"
    )
    parser.add_argument("--framework", choices=FRAMEWORKS, help="the script's framework (required)")
    parser.add_argument(
        "--out", metavar="FILE", help="write the script here (.py; the data beside it as .npz)"
    )
    return parser


def _experiment(args: argparse.Namespace) -> tuple[Any, int | None, str]:
    """The RunConfig, its step count and a label, from the source and the flags."""
    from engine.config import Experiment
    from engine.run import RunConfig, RunConfigError
    from tui.commands.common import load_source
    from tui.commands.run import apply_sets, pick_entry

    if args.lesson is not None and (args.config or args.preset):
        raise UsageError("--lesson: give one of --config, --preset and --lesson")
    if args.lesson is not None:
        from engine import lessons

        try:
            experiment = lessons.load(args.lesson).experiment
        except ValueError as err:
            raise UsageError(f"--lesson: {err}") from None
        label = f"lesson {args.lesson}"
    else:
        experiment = load_source(args.config, args.preset)
        refuse_source(args, experiment, "Experiment")
        label = f"preset {args.preset}" if args.preset else str(args.config)
    changes: dict[str, Any] = {}
    for name in ("task", "optimizer", "schedule", "seed", "dtype", "eval_every"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    try:
        if experiment is None:
            if not (args.task and args.optimizer):
                raise UsageError(
                    "give --task and --optimizer, or --config FILE, --preset NAME or --lesson NAME"
                )
            config, steps = RunConfig(**changes), None
        else:
            if not isinstance(experiment, Experiment):
                raise UsageError(f"{label} is not an experiment")
            config, _ = pick_entry(args, experiment, label)
            steps = experiment.steps
            config = config.replace(**changes) if changes else config
    except RunConfigError as err:
        raise UsageError(str(err)) from None
    if args.sets:
        config = apply_sets(config, parse_sets(args.sets))
    return config, args.steps or steps, label


def handle(args: argparse.Namespace) -> int:
    """Write the script (and its data); 2 with a one-line message when that cannot be done."""
    import numpy as np

    from engine.codegen import CodegenError, generate
    from tui.commands.common import fail

    if args.framework is None:
        return fail(args, "--framework is required: numpy, torch, optax or keras")
    try:
        config, steps, _ = _experiment(args)
    except UsageError as err:
        return fail(args, str(err))
    steps = steps or DEFAULT_STEPS
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != ".py":
        return fail(args, f"--out must name a .py file, got {args.out!r}")
    data_name = (out.stem if out is not None else "experiment") + ".npz"
    try:
        script = generate(config, steps, args.framework, data_name)
    except CodegenError as err:
        return fail(args, str(err))
    if out is None:
        if script.data is not None:
            return fail(
                args,
                f"--out: task {config.task} has data (saved beside the script as .npz): "
                "give --out FILE.py",
            )
        sys.stdout.write(script.text)
        return 0
    try:
        out.write_text(script.text, encoding="utf-8")
        if script.data is not None:
            np.savez(out.with_name(data_name), **script.data)
    except OSError as err:
        return fail(args, f"--out: cannot write {args.out!r} ({err.strerror or err})")
    written = str(out) + (f" and {out.with_name(data_name)}" if script.data is not None else "")
    say(f"wrote {written}: run it with `python {out}`")
    return 0
