"""`optplay theory`: a task's exact (or local) quadratic theory, printed or as one JSON object.

    optplay theory --task T [--set NAME=VALUE ...] [--optimizer O] [--schedule S] [--seed K]
                   [--steps N] [--json]

Prints the Hessian's eigenvalues, κ, the stability limits and optimal rates of GD, heavy ball
and Nesterov (engine/theory.py), where they hold (exact, or "near the minimum"), how the given
optimizer's lr sits against its limit, and with --optimizer sgd / momentum / nesterov the exact
predicted loss of that run from its own start under its schedule. `--json` prints one object:
{"task", "exact", "local", "eigenvalues", "condition", "gd": {...}, "heavy_ball": {...},
"nesterov": {...}, "predicted": {"optimizer", "loss": [N + 1 values]}} ("predicted" only when
the theory predicts the optimizer; non-finite numbers are null). Limits are quoted at the
optimizer's momentum (0.9 when it has none). Exit status 0; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from tui.commands.common import (
    UsageError,
    add_set_arg,
    fail,
    nonneg_int,
    output_width,
    parse_sets,
    positive_int,
    say,
    wrap_row,
)

NAME = "theory"
DEFAULT_STEPS = 1000
MAX_STEPS = 1_000_000
#: The predicted errors are (steps + 1) × parameters values: at most this many.
MAX_VALUES = 2**25


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay theory` and its flags."""
    parser = subparsers.add_parser(
        "theory",
        help="a task's Hessian, stability limits, optimal rates and predicted loss",
        description="The quadratic theory of a task: eigenvalues, condition number, stability "
        "limits and optimal rates of GD, heavy ball and Nesterov; exact on quadratic, "
        "ill-conditioned and full-batch linear-regression, near the minimum on the other 2-D "
        "landscapes. With --optimizer sgd, momentum or nesterov also the exact predicted loss.",
    )
    parser.add_argument("--task", metavar="T", required=True, help="task name")
    parser.add_argument(
        "--optimizer", metavar="O", help="place its lr against the limits; predict its run"
    )
    parser.add_argument("--schedule", metavar="S", help="learning-rate schedule (default constant)")
    add_set_arg(parser, "set a knob, e.g. task.condition=100 or lr=0.01")
    parser.add_argument("--seed", type=nonneg_int, metavar="K", help="seed (the run's start)")
    parser.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help=f"updates to predict (default {DEFAULT_STEPS}, at most {MAX_STEPS:,})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def resolve(args: argparse.Namespace) -> Any:
    """The RunConfig the figures are for (sgd when no --optimizer: it routes `lr`)."""
    from engine.run import RunConfig, RunConfigError
    from tui.commands.run import apply_sets

    changes: dict[str, Any] = {}
    if args.schedule is not None:
        changes["schedule"] = args.schedule
    if args.seed is not None:
        changes["seed"] = args.seed
    try:
        cfg = RunConfig(task=args.task, optimizer=args.optimizer or "sgd", **changes)
    except RunConfigError as err:
        raise UsageError(str(err)) from None
    return apply_sets(cfg, parse_sets(args.sets))


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def text_lines(cfg: Any, ct: Any, optimizer_given: bool, sharpness: Any = None) -> list[str]:
    """What `optplay theory` prints without --json, from engine.theory.for_config (and, where
    there are no figures, the sharpness where the run starts)."""
    th, out = ct.theory, ct.figures
    knobs = ", ".join(f"{k}={v}" for k, v in cfg.task_hypers.items())
    rows = [("task", f"{cfg.task} ({knobs})"), ("theory", th.where)]
    if th.known:
        local = " (near the minimum)" if th.local else ""
        rows.append(("eigenvalues" + local, ", ".join(f"{v:.6g}" for v in th.eigenvalues)))
        kappa = out["condition"]
        rows.append(("condition κ", "inf (a flat direction)" if kappa is None else f"{kappa:.6g}"))
        gd, hb, nes = out["gd"], out["heavy_ball"], out["nesterov"]
        mu = ct.momentum
        rows += [
            (
                "GD",
                f"stable for lr < {_g(gd['lr_stable_max'])} (2/λmax); best lr {_g(gd['lr_opt'])} "
                f"= 2/(λmin+λmax), error × {_g(gd['rate_opt'])} per step",
            ),
            (
                "heavy ball",
                f"stable for lr < {_g(hb['lr_stable_max'])} at momentum {mu:g} (2(1+μ)/λmax); "
                f"Polyak: lr {_g(hb['lr_opt'])}, momentum {_g(hb['momentum_opt'])}, "
                f"rate {_g(hb['rate_opt'])}",
            ),
            (
                "Nesterov",
                f"stable for lr < {_g(nes['lr_stable_max'])} at momentum {mu:g} "
                f"(2(1+μ)/((1+2μ)λmax)); best: lr {_g(nes['lr_opt'])}, momentum "
                f"{_g(nes['momentum_opt'])}, rate {_g(nes['rate_opt'])}",
            ),
        ]
        pace = ct.rate_at_lr
        if optimizer_given and pace is not None:
            verdict = "converges" if pace < 1.0 else "diverges"
            rows.append(
                (
                    "this optimizer",
                    f"{cfg.optimizer} lr {ct.lr:g} = {ct.lr / ct.lr_limit:.3g} × its stability "
                    f"limit: {verdict}, error × {pace:.6g} per step at this lr",
                )
            )
    if sharpness is not None:
        text = f"λ_max {sharpness.value:.6g} ± {sharpness.error:.2g} on the first batch "
        text += f"({sharpness.method})"
        if sharpness.value > 0.0:
            text += f"; GD overshoots there for lr > 2/λ_max = {2.0 / sharpness.value:.6g}"
        rows.append(("sharpness at start", text))
    if optimizer_given:
        if ct.prediction is not None:
            loss = ct.prediction.loss
            n = len(loss) - 1
            marks = sorted({0, 1, 10, 100, n} & set(range(n + 1)))
            rows.append(
                (
                    "predicted loss",
                    ", ".join(f"step {k}: {loss[k]:.6g}" for k in marks)
                    + " (after k updates; exact)",
                )
            )
        else:
            rows.append(("predicted loss", f"none: {ct.why_not}"))
    width = max(len(k) for k, _ in rows)
    # Wrapped to the terminal between words, each value's next lines under its first (the
    # limits and predictions run past 80 columns; issue 25).
    columns = output_width()
    return [line for k, v in rows for line in wrap_row(f"{k:<{width}}  ", v, columns)]


def handle(args: argparse.Namespace) -> int:
    """`optplay theory`: the figures as text, or one JSON object with --json."""
    try:
        cfg = resolve(args)
    except UsageError as err:
        return fail(args, str(err))
    steps = args.steps or DEFAULT_STEPS
    if steps > MAX_STEPS:
        return fail(args, f"--steps must be an integer in [1, {MAX_STEPS:,}], got {steps}")
    from engine.theory import for_config

    given = args.optimizer is not None
    if given:
        from engine import tasks

        shapes = tasks.create(cfg.task, **cfg.task_hypers).param_shapes().values()
        size = sum(math.prod(shape) for shape in shapes)
        if (steps + 1) * size > MAX_VALUES:
            return fail(
                args,
                f"--steps {steps} is too many for {size:,} parameters: the predicted errors "
                f"(steps + 1) × parameters must be at most {MAX_VALUES:,} values",
            )
    ct = for_config(cfg, steps if given else 0)
    if args.json:
        report = ct.as_json()
        if not given:
            report.pop("predicted", None)  # predicted only for an optimizer asked about
        say(json.dumps(report, allow_nan=False))
        return 0
    from engine.theory import start_sharpness

    sharpness = None if ct.theory.known else start_sharpness(cfg)
    for line in text_lines(cfg, ct, given, sharpness):
        say(line)
    return 0
