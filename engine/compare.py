"""Compare optimizers: races run in lockstep, pinned overlays and the results table.

A `Race` trains 1 to 6 runs that share the task, its knobs, the seed, the dtype and
eval_every, so every racer starts from the same parameters and sees the same batches in the
same order; only the optimizer, its knobs and the schedule differ. The racers advance
together: `step(n)` gives each of them n updates, and `stream()` (the app's live view) steps
all of them in lockstep chunks on a worker thread, with pause / resume / cancel / speed like
`Run.stream`. A racer that diverges stops; the others go on.

Pinning keeps a run on the charts as a named, frozen overlay: `pin(run, name)` returns an
`Overlay`. The pinned Run object is the overlay: it must not be stepped or reset afterwards;
a fresh `Run(config)` takes its live slot (a RunConfig is immutable, so that is cheap). The
playground session (engine/session.py) keeps the overlays and draws them after the racers.
A single run is a race of one lane.

The results table (`results(lanes, target_loss)`, `Race.results`) has per lane, each number
named by the series it comes from (see "Loss series" in the README):

- `final_loss`, `best_loss`: the training loss ("loss" series: the mini-batch loss of an
  update, measured before it) of the last update, and the lowest one;
- `eval_loss`, `eval_accuracy`, `eval_step`: the newest evaluation ("eval_loss" series: the
  loss on held-out data where the task has them, the whole objective otherwise), and
  `best_eval_loss`, the lowest evaluation after step 0;
- `steps_to_target`: the first evaluation step whose eval loss is <= the target (step 0 is
  the evaluation before training; None if never). Steps to target is measured on the eval
  series, as `optplay bench` measures it (TARGET_SERIES), not on the noisy batch loss: a
  lucky mini-batch does not count as reaching it. It is a multiple of eval_every;
- wall time per update (evaluation excluded) and divergence.

Every number is the lane's `engine.outcome.Outcome` (the one definition bench, sweeps and
lessons use too): the eval numbers and steps to target are exact however far the history has
been downsampled; the best batch loss's step is the end of its bucket once the "loss" series
has folded (the first 4096 steps by default are exact).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.config import MAX_RACE, SHARED_FIELDS, Experiment, RaceEntry
from engine.numbers import format_number, format_seconds
from engine.outcome import TARGET_SERIES, outcome_of
from engine.run import Progress, Run, RunConfig
from engine.stepping import Stepper

RACE_STATES = ("ready", "running", "paused", "finished")
#: A single run is a race of one lane (experiment files race 2 to 6: engine.config.MIN_RACE).
MIN_LANES = 1
#: A streamed chunk is stepped in this many lockstep slices (where a hold can end it).
_HOLD_SLICES = 8


@dataclass(frozen=True)
class Overlay:
    """A pinned run: a name for the legend and the (no longer stepped) Run it shows."""

    name: str
    run: Run


@dataclass(frozen=True)
class Lane:
    """One curve on the shared charts: a racer (`pinned` False) or an overlay."""

    name: str
    run: Run
    pinned: bool = False


def pin(run: Run, name: str | None = None) -> Overlay:
    """Keep `run` as a named overlay. Its stream must not be running (pause or cancel it
    first); afterwards, don't step or reset it: start a new Run for further training."""
    if not isinstance(run, Run):
        raise TypeError(f"pin needs a Run, got {type(run).__name__}")
    if run.state == "running":
        raise ValueError("pause or cancel the run before pinning it")
    if name is None:
        name = run.config.optimizer
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"an overlay needs a non-empty name, got {name!r}")
    return Overlay(name.strip(), run)


@dataclass(frozen=True)
class RaceProgress:
    """A snapshot of a race, as `Race.stream()` yields it. `lanes[i]` is racer i's Progress
    (its state is "diverged" once it diverged, otherwise the race's state); `step` is the
    number of lockstep steps done."""

    step: int
    state: str
    names: tuple[str, ...]
    lanes: tuple[Progress, ...]
    steps_per_second: float = 0.0
    max_steps: int | None = None


@dataclass(frozen=True)
class Result:
    """One row of the comparison table."""

    name: str
    task: str
    optimizer: str
    schedule: str
    steps: int  # updates done
    final_loss: float | None  # "loss" series: the last update's training (batch) loss
    best_loss: float | None  # the lowest training (batch) loss
    best_step: int | None
    steps_to_target: int | None  # first evaluation with eval_loss <= target (None: never)
    seconds_per_step: float | None  # wall time per update, evaluation excluded
    diverged_at: int | None
    eval_loss: float | None  # the newest evaluation after step 0 (held-out / full-data loss)
    eval_accuracy: float | None
    eval_step: int | None  # the step of that evaluation (None: none since the start)
    pinned: bool = False
    best_eval_loss: float | None = None  # the lowest eval_loss after step 0
    target_series: str = TARGET_SERIES  # what steps_to_target is measured on

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "diverged": self.diverged}


def _as_lanes(items: Iterable[Any]) -> list[Lane]:
    lanes = []
    for item in items:
        if isinstance(item, Lane):
            lanes.append(item)
        elif isinstance(item, Overlay):
            lanes.append(Lane(item.name, item.run, pinned=True))
        elif isinstance(item, Run):
            lanes.append(Lane(item.config.optimizer, item))
        else:
            name, run = item
            lanes.append(Lane(str(name), run))
    return lanes


def result_of(lane: Lane, target_loss: float | None = None) -> Result:
    """The table row of one lane: its `engine.outcome` as the run stands now."""
    o = outcome_of(lane.run)
    cfg = lane.run.config
    return Result(
        name=lane.name,
        task=cfg.task,
        optimizer=cfg.optimizer,
        schedule=cfg.schedule,
        steps=o.steps,
        final_loss=o.batch_loss,
        best_loss=o.best_batch_loss,
        best_step=o.best_batch_step,
        steps_to_target=o.steps_to(target_loss),
        seconds_per_step=o.seconds_per_step,
        diverged_at=o.diverged_at,
        eval_loss=o.eval_loss,
        eval_accuracy=o.eval_accuracy,
        eval_step=o.eval_step,
        pinned=lane.pinned,
        best_eval_loss=o.best_eval_loss,
    )


def results(lanes: Iterable[Any], target_loss: float | None = None) -> list[Result]:
    """Table rows for any lanes: Lanes, Overlays, Runs or (name, Run) pairs."""
    return [result_of(lane, target_loss) for lane in _as_lanes(lanes)]


def default_target(rows: Iterable[Result]) -> float | None:
    """The highest best eval loss among rows that did not diverge: every survivor reached it
    (see `Race.default_target`); None when no such row has an evaluation after step 0."""
    bests = [r.best_eval_loss for r in rows if not r.diverged and r.best_eval_loss is not None]
    return max(bests) if bests else None


# -- ranking: what "best", "leads" and the order of lanes mean ------------------------------

#: The series races rank by, best first: the newest evaluation after step 0 (held-out loss, or
#: the whole objective where the task has no held-out data); the last batch loss only when no
#: ranked lane has an evaluation after step 0 (eval_every = 0, or before the first one).
RANK_SERIES = ("eval_loss", "loss")
RANK_LABELS = {"eval_loss": "eval loss", "loss": "batch loss"}


@dataclass(frozen=True)
class Standing:
    """What one lane is ranked on: its newest evaluation after step 0 and its last batch
    loss; `ranked` is False for lanes that do not compete (pinned overlays, diverged)."""

    eval_loss: float | None
    batch_loss: float | None
    ranked: bool = True


@dataclass(frozen=True)
class Ranking:
    """Lanes in rank order, on one series for all of them."""

    series: str  # "eval_loss" or "loss" (see RANK_SERIES)
    values: tuple[float | None, ...]  # each lane's value on that series (None: not ranked)
    order: tuple[int, ...]  # every lane: the ranked ones best first, then the rest as given

    @property
    def label(self) -> str:
        """The series as the screens name it ("eval loss" / "batch loss")."""
        return RANK_LABELS[self.series]

    @property
    def leader(self) -> int | None:
        """The best lane's index (None: no lane has a finite value)."""
        first = self.order[0] if self.order else None
        return first if first is not None and self.values[first] is not None else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def rank(standings: Sequence[Standing]) -> Ranking:
    """The one ranking rule: every competing lane by its newest eval loss when all of them
    have one (else all by their last batch loss: one series for all, never mixed), lowest
    first; lanes without a finite value, pins and diverged lanes after them, in entry order."""
    competing = [s for s in standings if s.ranked]
    on_eval = bool(competing) and all(_finite(s.eval_loss) is not None for s in competing)
    series = "eval_loss" if on_eval else "loss"
    values = tuple(
        _finite(s.eval_loss if on_eval else s.batch_loss) if s.ranked else None for s in standings
    )
    ranked = sorted((v, i) for i, v in enumerate(values) if v is not None)
    rest = [i for i, v in enumerate(values) if v is None]
    return Ranking(series, values, tuple([i for _, i in ranked] + rest))


def standing_of_run(run: Run, pinned: bool = False) -> Standing:
    """A run's standing from its history: the two numbers `engine.outcome.Outcome` calls
    eval_loss and batch_loss, read without the rest of the outcome (the status line asks for
    them every frame)."""
    h = run.history
    eval_loss = h.last("eval_loss") if h.last_step("eval_loss") else None
    batch = h.last("loss") if len(h) else None
    return Standing(eval_loss, batch, ranked=not pinned and run.diverged_at is None)


def rank_results(rows: Sequence[Result]) -> Ranking:
    """The ranking of table rows (the same rule as the status line and the race panel)."""
    return rank([Standing(r.eval_loss, r.final_loss, not (r.pinned or r.diverged)) for r in rows])


# -- text tables (shared with the bench) ----------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """An aligned plain-text table: the first `left` columns left-aligned, the rest right."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def ellipsize(text: str, width: int) -> str:
    """`text` in at most `width` characters: cut with an ellipsis, never into the next column."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    left: int = 1,
    width: int | None = None,
    drop: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """`format_table` in at most `width` characters a line (None: whole). To fit, headers
    wider than their cells are cut with an ellipsis (the widest first, to 10 characters at
    least), then the left-aligned names (to 10), then the columns named in `drop` are left
    out, in that order. Returns the table and the headers it left out."""
    names = list(headers)  # the columns' own names, for `drop` and the note
    shown, body = list(headers), [list(r) for r in rows]

    def cells(i: int) -> int:
        return max((len(r[i]) for r in body), default=0)

    def excess() -> int:
        widths = [max(len(h), cells(i)) for i, h in enumerate(shown)]
        return sum(widths) + 2 * (len(widths) - 1) - (width or 0)

    if width is None or excess() <= 0:
        return format_table(shown, body, left), []
    # Long headers over short cells, the widest overhang first.
    for i in sorted(range(len(shown)), key=lambda i: cells(i) - len(shown[i])):
        over = excess()
        room = len(shown[i]) - max(cells(i), MIN_CUT)
        if over > 0 and room > 0:
            shown[i] = ellipsize(shown[i], len(shown[i]) - min(room, over))
    for i in range(left):  # then the names
        over = excess()
        room = max(len(shown[i]), cells(i)) - MIN_CUT
        if over > 0 and room > 0:
            cut = max(len(shown[i]), cells(i)) - min(room, over)
            shown[i] = ellipsize(shown[i], cut)
            for r in body:
                r[i] = ellipsize(r[i], cut)
    left_out: list[str] = []
    for name in drop:
        if excess() <= 0:
            break
        if name in names:
            i = names.index(name)
            left_out.append(name)
            for column in (names, shown, *body):
                del column[i]
    return format_table(shown, body, left), left_out


#: `fit_table` cuts no header or name to fewer characters than this.
MIN_CUT = 10


def target_header(target_loss: float | None) -> str:
    """The steps-to-target column's title, naming the series it is measured on."""
    if target_loss is None:
        return "steps to target (eval loss)"
    return f"steps to eval loss ≤ {target_loss:.4g}"


def format_results(rows: Sequence[Result], target_loss: float | None = None) -> str:
    """The comparison table as text (what the CLI prints; the app may draw its own), rows in
    rank order (`rank_results`)."""
    target = target_header(target_loss)
    headers = [
        "run",
        "steps",
        "last batch loss",
        "best batch loss",
        target,
        "time/step",
        "diverged",
    ]
    has_eval = any(r.eval_loss is not None for r in rows)
    has_acc = any(r.eval_accuracy is not None for r in rows)
    if has_eval:
        headers.insert(4, "eval loss")
    if has_acc:
        headers.insert(5, "eval acc")
    body = []
    for r in (rows[i] for i in rank_results(rows).order):
        cells = [
            r.name + (" (pinned)" if r.pinned else ""),
            str(r.steps),
            format_number(r.final_loss, 6),
            format_number(r.best_loss, 6),
            "never"
            if target_loss is not None and r.steps_to_target is None
            else (str(r.steps_to_target) if r.steps_to_target is not None else "-"),
            format_seconds(r.seconds_per_step),
            f"at step {r.diverged_at}" if r.diverged else "no",
        ]
        if has_eval:
            cells.insert(4, format_number(r.eval_loss, 6))
        if has_acc:
            acc = r.eval_accuracy
            cells.insert(5, "-" if acc is None else f"{100 * acc:.1f}%")
        body.append(cells)
    return format_table(headers, body)


# -- races ----------------------------------------------------------------------------------


def _default_names(configs: Sequence[RunConfig], given: Sequence[str | None]) -> list[str]:
    """Legend names: the given ones, else the optimizer (plus the schedule when the same
    optimizer races itself), made unique with " #2", " #3"..."""
    names: list[str] = []
    for cfg, name in zip(configs, given, strict=True):
        if name is None:
            same = [c for c in configs if c.optimizer == cfg.optimizer]
            name = cfg.optimizer
            if len(same) > 1 and len({c.schedule for c in same}) > 1:
                name = f"{cfg.optimizer} {cfg.schedule}"
        names.append(name)
    out: list[str] = []
    for name in names:
        unique, k = name, 1
        while unique in out:
            k += 1
            unique = f"{name} #{k}"
        out.append(unique)
    return out


class Race(Stepper[RaceProgress]):
    """1 to 6 runs (one: a single run) on the same task, seed, dtype and data order, in lockstep.

    Build it from RunConfigs (or `RaceEntry(config, name)` / (config, name) pairs), from an
    experiment file (`Race.from_experiment`) or from a base config and the racers' optimizers
    (`Race.of`). States: "ready", "running" (a stream is stepping), "paused", "finished" (a
    stream reached max_steps, or every racer diverged)."""

    def __init__(
        self,
        entries: Sequence[RunConfig | RaceEntry | tuple[RunConfig, str | None]],
        *,
        history_capacity: int | None = 4096,
    ) -> None:
        pairs: list[tuple[RunConfig, str | None]] = []
        for e in entries:
            if isinstance(e, RunConfig):
                pairs.append((e, None))
            else:
                cfg, name = e
                pairs.append((cfg, name))
        if not MIN_LANES <= len(pairs) <= MAX_RACE:
            raise ValueError(f"a race needs {MIN_LANES} to {MAX_RACE} runs, got {len(pairs)}")
        first = pairs[0][0]
        for i, (cfg, name) in enumerate(pairs, start=1):
            if not isinstance(cfg, RunConfig):
                raise TypeError(f"race entry {i}: expected a RunConfig, got {type(cfg).__name__}")
            for f in SHARED_FIELDS:
                if getattr(cfg, f) != getattr(first, f):
                    raise ValueError(
                        f"race entry {i}: {f} differs from entry 1's (racers share the task, "
                        "its knobs, the seed, dtype, eval_every and divergence_factor)"
                    )
            if name is not None and (not isinstance(name, str) or not name.strip()):
                raise ValueError(f"race entry {i}: a name must be a non-empty string")
        given = [None if n is None else n.strip() for _, n in pairs]
        dupes = [n for n in given if n is not None and given.count(n) > 1]
        if dupes:
            raise ValueError(f"race entry name {dupes[0]!r} is used twice")
        self._given_names = given
        self.names: list[str] = _default_names([c for c, _ in pairs], given)
        self.runs: list[Run] = [Run(cfg, history_capacity=history_capacity) for cfg, _ in pairs]
        super().__init__()  # stream controls; state "ready"
        self._lock = threading.Lock()  # one lockstep chunk at a time (stream worker or step())
        self._step = 0

    # -- construction helpers ----------------------------------------------------------------

    @classmethod
    def from_experiment(cls, experiment: Experiment, history_capacity: int | None = 4096) -> Race:
        """The race of an experiment with [[race]] entries."""
        if not experiment.race:
            raise ValueError("this experiment is a single run, not a race")
        return cls(list(experiment.race), history_capacity=history_capacity)

    @classmethod
    def of(
        cls,
        base: RunConfig,
        racers: Sequence[str | Mapping[str, Any]],
        history_capacity: int | None = 4096,
    ) -> Race:
        """Racers on `base`'s task, seed and data: each racer is an optimizer name (its default
        knobs, base's schedule) or a mapping of RunConfig changes (optimizer, optimizer_hypers,
        schedule, schedule_hypers) plus an optional "name"."""
        entries: list[tuple[RunConfig, str | None]] = []
        for i, racer in enumerate(racers, start=1):
            if isinstance(racer, str):
                changes: dict[str, Any] = {"optimizer": racer, "optimizer_hypers": {}}
                name = None
            else:
                changes = dict(racer)
                name = changes.pop("name", None)
                shared = [k for k in changes if k in SHARED_FIELDS]
                if shared:
                    raise ValueError(
                        f"racer {i}: {shared[0]} is shared by the whole race (set it on the base)"
                    )
                if "optimizer" in changes and "optimizer_hypers" not in changes:
                    changes["optimizer_hypers"] = {}
                if "schedule" in changes and "schedule_hypers" not in changes:
                    changes["schedule_hypers"] = {}
            entries.append((base.replace(**changes), name))
        return cls(entries, history_capacity=history_capacity)

    @classmethod
    def continuing(
        cls,
        run: Run,
        *,
        step: int | None = None,
        name: str | None = None,
        history_capacity: int | None = 4096,
    ) -> Race:
        """A one-lane race that goes on with `run` as it is (its settings, history, optimizer
        state), at `step` (default: the run's own steps done): a race's lane, by itself."""
        race = cls([(run.config, name)], history_capacity=history_capacity)
        race.runs[0] = run
        race._step = run.steps_done if step is None else step
        return race

    def experiment(self, steps: int | None = None, name: str | None = None) -> Experiment:
        """The race as an experiment (for `engine.config.save`)."""
        entries = [
            RaceEntry(run.config, given)
            for run, given in zip(self.runs, self._given_names, strict=True)
        ]
        return Experiment.of_race(entries, steps=steps, name=name)

    # -- what the charts show ----------------------------------------------------------------

    @property
    def lanes(self) -> list[Lane]:
        """The racers, in entry order: what the shared charts and legend show."""
        return [Lane(n, r) for n, r in zip(self.names, self.runs, strict=True)]

    def run(self, name_or_index: str | int) -> Run:
        """A racer by name or position."""
        if isinstance(name_or_index, int):
            return self.runs[name_or_index]
        try:
            return self.runs[self.names.index(name_or_index)]
        except ValueError:
            raise ValueError(
                f"no racer named {name_or_index!r} (racers: {', '.join(self.names)})"
            ) from None

    # -- results -------------------------------------------------------------------------------

    def results(self, target_loss: float | None = None) -> list[Result]:
        """The comparison table: one Result per racer."""
        return results(self.lanes, target_loss)

    def default_target(self) -> float | None:
        """A target every surviving racer reached: the highest best eval loss (after step 0)
        among the racers that did not diverge (None before any evaluation, or if all
        diverged). With it, steps to target ranks the racers by how fast they got to the
        loser's best, on the series steps to target is measured on."""
        return default_target(self.results())

    # -- synchronous stepping ------------------------------------------------------------------

    @property
    def steps_done(self) -> int:
        """Lockstep steps done (every racer that has not diverged is at this step)."""
        return self._step

    @property
    def all_diverged(self) -> bool:
        return all(r.diverged_at is not None for r in self.runs)

    def _advance(self, n: int) -> None:
        # Each racer does its n updates (a diverged one does nothing); same n for all keeps
        # them in lockstep.
        with self._lock:
            for run in self.runs:
                if run.diverged_at is None:
                    run._step_now(n)
            self._step += n

    def step(self, n: int = 1) -> list[dict[str, Any]]:
        """Give every racer `n` updates now (blocking); returns each racer's metrics."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self._advance(n)
        if self._state == "finished":
            self._state = "ready"
        self._notify()
        return [run.metrics() for run in self.runs]

    def reset(self) -> None:
        """Every racer back to step 0 (same start, same data order)."""
        self._stop_for_reset()
        with self._lock:
            for run in self.runs:
                run.reset()
            self._step = 0
        self._state = "ready"
        self._rate_window.clear()
        self._notify()

    def set_hypers(
        self,
        racer: str | int,
        optimizer: Mapping[str, Any] | None = None,
        schedule: Mapping[str, Any] | None = None,
    ) -> None:
        """Change one racer's optimizer / schedule knobs (see `Run.set_hypers`)."""
        self.run(racer).set_hypers(optimizer=optimizer, schedule=schedule)

    # -- asynchronous stepping (the controls and the loop are in engine.stepping.Stepper) -----

    _noun = "race"
    _first_chunk = 1

    def _run_chunk(self, n: int) -> int:
        # Pause and cancel land between lockstep chunks, so the racers always stay at the
        # same step. A hold ends the chunk early, between lockstep slices (every racer did
        # the same updates), so a UI waits about a slice, not a whole chunk.
        size = max(1, -(-n // _HOLD_SLICES))
        done = 0
        while done < n:
            self._advance(min(size, n - done))
            done += min(size, n - done)
            if self._held:
                break
        return done

    def _end_state(self, max_steps: int | None) -> str | None:
        if self.all_diverged or (max_steps is not None and self._step >= max_steps):
            return "finished"
        return None

    def progress(self, max_steps: int | None = None) -> RaceProgress:
        """A snapshot of the race now."""
        lanes = []
        for run in self.runs:
            p = run.progress(max_steps)
            state = "diverged" if run.diverged_at is not None else self._state
            lanes.append(dataclasses.replace(p, state=state, steps_per_second=0.0))
        return RaceProgress(
            step=self._step,
            state=self._state,
            names=tuple(self.names),
            lanes=tuple(lanes),
            steps_per_second=self._measured_rate(),
            max_steps=max_steps,
        )

    def stream(
        self, max_steps: int | None = None, steps_per_second: float | None = None
    ) -> AsyncIterator[RaceProgress]:
        """Step all racers in lockstep chunks on a worker thread, yielding a RaceProgress
        after each chunk (chunks take about 1/30 s for all racers together).

        `max_steps` ends the race ("finished") when the lockstep count reaches it (None =
        until cancelled or every racer diverged). `steps_per_second` limits the rate
        (changeable with `set_speed`). pause() yields one "paused" snapshot and waits (single
        steps with `step(1)` while paused are reported); resume() continues; cancel() ends
        the iterator after the chunk in progress. The numbers are those of `step(n)` whatever
        the chunking."""
        return self._stream(max_steps, steps_per_second)
