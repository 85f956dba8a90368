"""`optplay run`: train one run headless and write its history.

    optplay run --task T --optimizer O [--schedule S] [--set NAME=VALUE ...] [--steps N]
                [--seed K] [--config exp.toml | --preset NAME] [--out h.csv|h.json ...]
                [--state-out s.csv|s.json ...] [--state-every N] [--sharpness-every K]

Exit status: 0 success; 1 the run diverged (a non-finite value, or the loss past
divergence_factor times its start); 2 bad arguments, a bad experiment file (the message names
the field or knob) or an output file that could not be written; 128 + the signal when a
signal ended the run: 130 Ctrl+C (SIGINT), 143 SIGTERM, 129 SIGHUP (a closed terminal or SSH
session). Whatever ended the run, what was trained is written to the --out files first, then
summarised.

Faults it survives: output files are checked before training (name length, folder,
permissions) and written before anything is printed; a closed stdout (`optplay run ... | head`)
or a vanished terminal loses no file and prints no traceback; further signals while the
history is being written wait for it; names from files are printed with control characters
escaped (`engine.textsafe.for_terminal`); `--config` reads regular files of at most 1 MiB.

`--set NAME=VALUE` is the override grammar of engine/knobs.py: `lr`, `task.period`,
`adam.beta1`. Values are checked by the knob's spec ("beta1 must be a number in [0, 1), got
'1.5'").
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from tui.commands.common import (
    INT_LIMIT,
    ProgressBar,
    StopSignals,
    UsageError,
    add_set_arg,
    add_source_args,
    bounded_int,
    check_outputs,
    factor,
    fail,
    finish_outputs,
    load_source,
    nonneg_int,
    note,
    output_width,
    parse_sets,
    positive_int,
    refuse_source,
    say,
    set_error,
    train,
    wrap_row,
    write_outputs,
)

NAME = "run"
DEFAULT_RUN_STEPS = 1000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`optplay run` and its flags."""
    run = subparsers.add_parser(
        "run",
        help="train one run without the UI and write its history",
        description="Train one run headless: a progress bar on a terminal (none when piped), "
        "a summary at the end, the history written with --out. Exit status 0 on success, "
        "1 if the run diverged, 2 for bad arguments or a bad experiment file.",
    )
    add_source_args(run, "experiment")
    run.add_argument("--task", metavar="T", help="task name (see `optplay list tasks`)")
    run.add_argument("--optimizer", metavar="O", help="optimizer name")
    run.add_argument(
        "--optimizer-file",
        metavar="PATH.py",
        help="load your own optimizer class from a Python file (contract: README, "
        "engine/optimizer_file.py); this RUNS THE FILE'S CODE, so use only files you trust. "
        "--optimizer then defaults to its name",
    )
    run.add_argument("--schedule", metavar="S", help="learning-rate schedule (default constant)")
    add_set_arg(run, "set a knob, e.g. lr=0.01 or task.batch_size=64")
    run.add_argument(
        "--steps", type=positive_int, metavar="N", help=f"updates (default {DEFAULT_RUN_STEPS})"
    )
    run.add_argument("--seed", type=nonneg_int, metavar="K", help="seed (init and data order)")
    run.add_argument("--dtype", choices=("float64", "float32"), help="computation dtype")
    run.add_argument(
        "--eval-every", type=nonneg_int, metavar="N", help="evaluate every N steps (0 = never)"
    )
    run.add_argument(
        "--divergence-factor",
        type=factor,
        metavar="F",
        help="the run diverged once its loss passes the starting loss + F x max(|start|, 1) "
        "(default 1e6; inf = only non-finite values)",
    )
    run.add_argument(
        "--entry",
        metavar="NAME|K",
        help="for a race file or preset: which racer to run (name or 1-based index; default 1)",
    )
    run.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="FILE",
        help="write the history, one row per step: .csv or .json (repeatable)",
    )
    run.add_argument(
        "--state-out",
        action="append",
        default=[],
        metavar="FILE",
        help="write the optimizer-state summaries (quantiles of the effective lr, |m|, √v̂ "
        "... per parameter, bias corrections ...): .csv or .json (repeatable)",
    )
    run.add_argument(
        "--state-every",
        type=_at_least_one,  # its upper bound is checked with the outputs: one line
        metavar="N",
        help="record the state summaries every N steps (default 1; needs --state-out)",
    )
    run.add_argument(
        "--sharpness-every",
        type=_at_least_one,
        metavar="K",
        help="measure the sharpness (top Hessian eigenvalue; λ_max(P⁻¹H) too for adaptive "
        "optimizers) every K steps into the history and --out files",
    )
    run.add_argument(
        "--save", metavar="FILE", help="write the resolved experiment (TOML) before training"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--no-record", action="store_true", help="don't keep this run in the run store"
    )
    return run


def _record(args: argparse.Namespace, run: Any, started: float, steps: int, name: Any) -> None:
    """Keep the run in the local run store (engine/store.py) unless the settings say not
    to; a store that cannot be written costs a note, never the run."""
    from tui.settings import load as load_settings

    if not load_settings()[0].record_runs:
        return
    from engine.store import record_runs, snapshot

    row = snapshot(run, started=started, planned_steps=steps, name=name, source="cli")
    warning = record_runs([row])
    if warning:
        note(args, warning)


def pick_entry(args: argparse.Namespace, experiment: Any, label: str) -> tuple[Any, str | None]:
    """The RunConfig (and name) to run from an experiment; races use --entry (default 1)."""
    if not experiment.race:
        if args.entry is not None:
            raise UsageError(f"--entry: {label} is a single run, not a race")
        return experiment.config, experiment.name
    entries = experiment.race
    names = [e.name or e.config.optimizer for e in entries]
    if args.entry is None:
        index = 0
        note(
            args,
            f"{label} is a race of {len(entries)} ({', '.join(names)}); running entry 1 "
            f"({names[0]}). Pick another with --entry; race them all in the app.",
        )
    elif re.fullmatch(r"[0-9]{1,9}", args.entry) and 1 <= int(args.entry) <= len(entries):
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses
        index = int(args.entry) - 1
    elif args.entry in names:
        index = names.index(args.entry)
    else:
        raise UsageError(
            f"--entry: no racer {args.entry!r} in {label} (racers: {', '.join(names)}, "
            f"or 1-{len(entries)})"
        )
    return entries[index].config, entries[index].name or experiment.name


def apply_sets(cfg: Any, sets: list[tuple[str, str]]) -> Any:
    """`cfg` with the --set values applied (engine/knobs.py routes and checks them);
    UsageError with the knob's message, e.g. "--set beta1 must be a number in [0, 1), got
    '1.5' (optimizer adam)"."""
    from engine.run import KnobError, RunConfigError

    try:
        return cfg.with_knobs(sets)
    except KnobError as err:
        raise set_error(err) from None
    except RunConfigError as err:  # a rule between knobs (e.g. warmup_steps < total_steps)
        raise UsageError(err.detail) from None


def _at_least_one(text: str) -> int:
    """An integer >= 1, however large (`check_state_outputs` refuses a huge one in one line)."""
    return bounded_int(text, 1, bounded=False)


def check_state_outputs(args: argparse.Namespace) -> None:
    """--state-out paths as --out's (a .csv/.json name where a file can be written), before
    training; --state-every needs one."""
    from engine.state_history import state_export_format

    if args.state_every is not None and not args.state_out:
        raise UsageError("--state-every needs --state-out FILE (where to write the summaries)")
    if args.state_every is not None and args.state_every >= INT_LIMIT:
        raise UsageError(f"--state-every must be an integer in [1, 2^63), got {args.state_every}")
    check_outputs(args.state_out, "--state-out", state_export_format)


def _no_state_note(args: argparse.Namespace, run: Any) -> None:
    """Why no --state-out file is written: the run ended before its first state summary."""
    if run.diverged_at is not None:
        why = f"the run diverged at step {run.diverged_at}"
    else:
        why = f"the run stopped at step {run.steps_done}"
    files = ", ".join(args.state_out)
    note(
        args,
        f"--state-out {files}: not written: {why}, before its first state summary "
        f"(one every {run.config.state_every} steps); nothing was recorded",
    )


def check_names(args: argparse.Namespace) -> None:
    """UsageError for a --task or --optimizer name that no registry knows (the registry's own
    message: what was given and the names allowed)."""
    from engine import optimizers, tasks

    for key, registry in (("task", tasks), ("optimizer", optimizers)):
        name = getattr(args, key)
        if isinstance(name, str) and name not in registry.names():
            try:
                registry.get(name)
            except (KeyError, ValueError) as err:
                raise UsageError(f"{key}: {err.args[0] if err.args else err}") from None


def resolve_run(args: argparse.Namespace) -> tuple[Any, int, str | None]:
    """(RunConfig, steps, name) from --config/--preset, then the flags, then --set."""
    from engine.run import RunConfig, RunConfigError

    if args.optimizer_file is not None:
        from engine.optimizer_file import OptimizerFileError, load_optimizer_file

        try:
            loaded = load_optimizer_file(args.optimizer_file)
        except OptimizerFileError as err:
            raise UsageError(str(err)) from None
        if args.optimizer is None:
            args.optimizer = loaded
    source = load_source(args.config, args.preset)
    refuse_source(args, source, "Experiment")
    label = f"preset {args.preset}" if args.preset else args.config
    steps = None
    name = None
    try:
        if source is None:
            check_names(args)  # a misspelt name first: it is what the user just typed
            missing = [f"--{k}" for k in ("task", "optimizer") if getattr(args, k) is None]
            if missing:
                raise UsageError(
                    f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                    "(or start from --config FILE / --preset NAME)"
                )
            if args.entry is not None:
                raise UsageError("--entry picks a racer of a race file (--config or --preset)")
            cfg = RunConfig(task=args.task, optimizer=args.optimizer)
        else:
            cfg, name = pick_entry(args, source, label)
            steps = source.steps
        changes: dict[str, Any] = {}
        for key in (
            "task",
            "optimizer",
            "schedule",
            "seed",
            "dtype",
            "eval_every",
            "divergence_factor",
        ):
            value = getattr(args, key)
            if value is not None:
                changes[key] = value
        if "schedule" in changes and changes["schedule"] != cfg.schedule:
            changes["schedule_hypers"] = {}
        if changes:
            cfg = cfg.replace(**changes)
    except RunConfigError as err:
        raise UsageError(str(err)) from None
    cfg = apply_sets(cfg, parse_sets(args.sets))
    return cfg, args.steps or steps or DEFAULT_RUN_STEPS, name


def knobs_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items())


def summary_lines(run: Any, steps: int, stopped: str = "") -> list[str]:
    """The final summary of a headless run. Each loss says which series it is (see "Loss
    series" in the README): the last training batch loss and the latest evaluation. `stopped`
    says what ended the run early ("interrupted (SIGINT)"), if something did."""
    from engine.compare import Lane, format_number, format_seconds, result_of

    cfg = run.config
    r = result_of(Lane(cfg.optimizer, run))
    rows = [
        ("task", f"{cfg.task} ({knobs_text(cfg.task_hypers)})"),
        ("optimizer", f"{cfg.optimizer} ({knobs_text(cfg.optimizer_hypers)})"),
        (
            "schedule",
            cfg.schedule + (f" ({knobs_text(cfg.schedule_hypers)})" if cfg.schedule_hypers else ""),
        ),
        ("seed", f"{cfg.seed} ({cfg.dtype})"),
        ("steps", f"{r.steps} of {steps}"),
    ]
    if getattr(run.optimizer, "needs_closure", False):  # L-BFGS: several per step
        rows.append(("function evals", f"{run.function_evals} (loss and gradient evaluations)"))
    if r.steps:
        rows += [
            (
                "last batch loss",
                f"{format_number(r.final_loss, 6)} "
                f"(training loss of update {r.steps}, on its batch)",
            ),
            ("best batch loss", f"{format_number(r.best_loss, 6)} at step {r.best_step}"),
        ]
    m = run.metrics()
    step = run.history.last_step("eval_loss")
    if m["eval_loss"] is not None and step is not None:
        held_out = getattr(run.task, "X_test", None) is not None
        where = "held-out data" if held_out else "the whole objective"
        when = " (before training)" if step == 0 else ""
        rows.append(
            ("eval loss", f"{format_number(m['eval_loss'], 6)} at step {step}{when} ({where})")
        )
        if m["eval_accuracy"] is not None:
            rows.append(("eval accuracy", f"{100 * m['eval_accuracy']:.2f}%"))
    fit = run.task.fit_summary(run.params)  # e.g. linear regression's w, b vs least squares
    if fit is not None:
        rows.append(("final fit", fit))
    sharpness = run.history.last("sharpness")
    if sharpness is not None:
        rows.append(("sharpness", sharpness_text(run)))
    rows.append(("time/step", format_seconds(r.seconds_per_step)))
    rows.append(("optimizer state", f"{run.state_bytes:,} bytes (its state arrays, measured)"))
    if r.diverged:
        state = (
            f"diverged at step {r.diverged_at} ({run.divergence}; "
            f"the params are those of step {r.diverged_at - 1})"
        )
    elif stopped:
        state = f"{stopped} at step {r.steps}"
    else:
        state = "finished"
    rows.append(("state", state))
    width = max(len(k) for k, _ in rows)
    # Wrapped to the terminal between words, each value's next lines under its first (a
    # knob list or a fit is wider than 80 columns; issue 25).
    columns = output_width()
    return [line for k, v in rows for line in wrap_row(f"{k:<{width}}  ", v, columns)]


def sharpness_text(run: Any) -> str:
    """The last sharpness with its error, against GD's 2/lr, and its cost."""
    h = run.history
    step = h.last_step("sharpness")
    text = f"λ_max {h.last('sharpness'):.6g} ± {h.last('sharpness_error'):.2g} at step {step}"
    lr = h.last("lr")
    if lr:
        text += f" (2/lr = {2.0 / lr:.6g})"
    pre = h.last("preconditioned_sharpness")
    if pre is not None:
        text += f"; preconditioned λ_max(P⁻¹H) {pre:.6g}"
    if run.train_seconds:
        text += f"; cost {100 * run.sharpness_seconds / run.train_seconds:.0f}% of training time"
    return text


def handle(args: argparse.Namespace) -> int:
    """`optplay run`: train one run headless. The history is written to the --out files
    before anything is printed; exit status in the module docstring."""
    from engine import config
    from engine.history import export_history
    from engine.run import Run
    from engine.state_history import export_state

    try:
        cfg, steps, name = resolve_run(args)
        check_outputs(args.out)
        check_state_outputs(args)
        if args.state_out:
            cfg = cfg.replace(state_every=args.state_every or cfg.state_every or 1)
        if args.sharpness_every is not None:
            if args.sharpness_every >= INT_LIMIT:
                raise UsageError(
                    f"--sharpness-every must be an integer in [1, 2^63), got {args.sharpness_every}"
                )
            cfg = cfg.replace(sharpness_every=args.sharpness_every)
        if args.save:
            try:
                config.save(args.save, cfg, steps=steps, name=name)
            except OSError as err:
                raise UsageError(f"--save {args.save}: {err.strerror or err}") from None
    except UsageError as err:
        return fail(args, str(err))

    # Full resolution only when the history or the state is written (one row per step).
    run = Run(cfg, history_capacity=None if args.out or args.state_out else 4096)
    bar = ProgressBar(sys.stderr, enabled=not args.no_progress)

    def show() -> None:
        loss = run.history.last("loss")
        rate = f"{1 / run.seconds_per_step:,.0f} steps/s" if run.seconds_per_step else ""
        bar.show(
            run.steps_done / steps,
            f"step {run.steps_done}/{steps}  loss {loss:.5g}  {rate}" if loss is not None else "",
        )

    # The signal handlers stay until the command is done: a second Ctrl+C (or a SIGTERM, a
    # SIGHUP) during the export or the summary is counted, and the export finishes.
    with StopSignals() as stop:
        started = time.time()
        try:
            train(run, steps, stop, show if bar.enabled else None)
        finally:
            bar.done()
        if stop.hit and (args.out or args.state_out):
            note(
                args,
                f"{stop.word} at step {run.steps_done}: saving the history first "
                "(further signals wait for the save)",
            )
        lane = [(name or cfg.optimizer, run)]
        written, errors = write_outputs(args, args.out, lambda path: export_history(lane, path))
        state_out = args.state_out if run.state_summaries else []
        if args.state_out and not state_out:
            _no_state_note(args, run)
        states, state_errors = write_outputs(
            args, state_out, lambda path: export_state(lane, path), "--state-out"
        )
        written, errors = written + states, errors + state_errors
        if not args.no_record:  # after the files: the store never costs a history
            _record(args, run, started, steps, name)
        early = stop.word if run.steps_done < steps and run.diverged_at is None else ""
        for line in summary_lines(run, steps, early):
            say(line)
        status = finish_outputs(args, written, errors)
    if status:
        return status
    if run.diverged_at is not None:
        return 1
    return 128 + stop.signum if stop.signum is not None else 0
