"""The app under stress: a seeded storm of keys, resizes and picks while a run trains.

A storm is a list of actions drawn from `random.Random(seed)` alone (never from the app's
state), so a seed names one exact sequence of keys. While it plays, the app must stay up
and log nothing at ERROR level; afterwards the status line must agree with the run, the
pickers and the form with the config, and the `pending` note with what a reset would
change. A failure prints the seed, the index of the action that broke it and the actions
just before, and can be replayed alone:

    STORM_SEED=1234 python -m pytest tests/tui/test_stress.py -k storm_replay -s

The default run plays two storms of ~1000 actions; the long profile plays many more
(`--hypothesis-profile=long`).

Two harness rules keep a storm inside what the test is about (both apply at send time and
depend only on where the focus is, which the keys themselves decide):
- `q` quits the app when no text field has the focus. There it is sent as a quit attempt,
  which must bring up the "unsaved changes" dialog or quit a clean app; in the storm the
  experiment is made dirty first, so the dialog appears and the storm cancels it.
- Digits typed into a task's fields are dropped: they could ask for a data set of 10^10
  numbers (blobs-mlp allows 10^6 samples x 10^4 features), which is a memory test of the
  machine, not of the app. Letters and punctuation still go there (invalid input).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest
from textual import events
from textual.geometry import Size
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.widgets import Input, Select

from engine import optimizers, schedules
from engine.run import RunConfig
from tui.app import RESET_FIELDS, OptplayApp, create_app
from tui.screens.confirm import ConfirmQuitScreen
from tui.widgets.charts import ChartPanel
from tui.widgets.hyper_form import HyperForm, HyperSection
from tui.widgets.pickers import Picker
from tui.widgets.status import StatusLine

#: Keys of the app's own bindings (q is handled separately, see the module docstring).
BINDING_KEYS = ("space", "n", "r", "plus", "minus", "l", "question_mark", "ctrl+s")
NAVIGATION_KEYS = (
    "tab", "shift+tab", "up", "down", "left", "right", "home", "end", "enter", "escape",
    "backspace", "delete", "pageup", "pagedown", "ctrl+a", "ctrl+k",
)  # fmt: skip
#: Characters typed in bursts: no `/` (a path typed into the save dialog stays in the
#: test's temporary directory) and no `q` (see above).
TYPED = string.ascii_lowercase.replace("q", "") + string.digits + "._-+=,:;!?()[]e"
#: Command palette entries that are safe to run by name (none quits or writes files).
SAFE_COMMANDS = (
    "step once", "run / pause", "reset run", "faster", "slower", "toggle log",
    "show loss chart", "show lr", "show norms", "show path", "help",
)  # fmt: skip
#: Tasks the storm picks: the 2-D landscapes, plus two small models to switch the form.
STORM_TASKS = ("rosenbrock", "beale", "rastrigin", "ill-conditioned", "quadratic", "digits-mlp")

MIN_SIZE, MAX_SIZE = (40, 12), (200, 60)


@dataclass
class Action:
    """One step of a storm: keys to press, or a resize, a pick or a pause."""

    kind: str  # "keys", "quit", "resize", "pick", "pause", "fix"
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return f"{self.kind}{self.args}"


def storm(seed: int, count: int) -> list[Action]:
    """`count` actions drawn from `seed` alone."""
    rng = random.Random(seed)
    out: list[Action] = []
    kinds = ["binding", "nav", "type", "palette", "pick", "resize", "pause", "quit", "fix"]
    weights = [30, 30, 20, 3, 4, 4, 6, 1, 4]
    while len(out) < count:
        kind = rng.choices(kinds, weights)[0]
        if kind == "binding":
            out.append(Action("keys", (rng.choice(BINDING_KEYS),)))
        elif kind == "nav":
            out.append(Action("keys", (rng.choice(NAVIGATION_KEYS),)))
        elif kind == "type":
            text = "".join(rng.choice(TYPED) for _ in range(rng.randint(1, 6)))
            out.append(Action("keys", tuple(text)))
        elif kind == "palette":
            if rng.random() < 0.5:
                text = "".join(rng.choice(TYPED) for _ in range(rng.randint(1, 8)))
                moves = tuple(rng.choice(("up", "down")) for _ in range(rng.randint(0, 2)))
                out.append(Action("keys", ("ctrl+p", *text, *moves, "escape")))
            else:
                out.append(Action("keys", ("ctrl+p", *rng.choice(SAFE_COMMANDS), "enter")))
        elif kind == "pick":
            picker = rng.choice(("task", "optimizer", "schedule"))
            registry = {"task": STORM_TASKS, "optimizer": optimizers.names()}
            names = registry.get(picker) or schedules.names()
            how = rng.choice(("keyboard", "direct"))
            out.append(Action("pick", (picker, rng.choice(list(names)), how)))
        elif kind == "resize":
            w = rng.randint(MIN_SIZE[0], MAX_SIZE[0])
            h = rng.randint(MIN_SIZE[1], MAX_SIZE[1])
            out.append(Action("resize", (w, h)))
        elif kind == "pause":
            out.append(Action("pause", (rng.choice((0.0, 0.0, 0.02, 0.1)),)))
        elif kind == "quit":
            out.append(Action("quit", (rng.choice(("q", "ctrl+q")),)))
        else:
            out.append(Action("fix"))
    return out


@dataclass
class Watch:
    """What the app did that a storm must not cause: errors logged, training failures."""

    records: list[logging.LogRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self, watch: Watch) -> None:
        super().__init__(logging.ERROR)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        self.watch.records.append(record)


def watch_app(app: OptplayApp) -> Watch:
    """Record error notifications about training and ERROR log records (asyncio, textual)."""
    watch = Watch()
    notify = app.notify

    def recording_notify(message: str, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("title") == "training failed":
            watch.failures.append(str(message))
        notify(message, *args, **kwargs)

    app.notify = recording_notify  # type: ignore[method-assign]
    return watch


def text_has_focus(app: OptplayApp) -> bool:
    return isinstance(app.focused, Input)


def in_task_field(app: OptplayApp) -> bool:
    focused = app.focused
    return isinstance(focused, Input) and (focused.id or "").startswith("task-")


def key_event(key: str) -> events.Key:
    """The Key event a terminal sends for `key` (a key name or one character), as the
    Pilot builds it."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(
            _get_unicode_name_from_key(REPLACED_KEYS.get(key, key))
        )
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


async def settled(pilot: Any, rounds: int = 1) -> None:
    """Wait until the app, the screen and its widgets handled what was queued so far.

    `Pilot.press` waits for the *process* to go idle after every key, which never happens
    while training runs at full speed (it then waits its 1 s maximum, twice per key). This
    waits for the message queues instead. One round per key lets what a key causes (a
    widget's Changed message, a screen being pushed) overlap the next key, as with a fast
    typist; checks that need it all done wait a few rounds."""
    for _ in range(rounds):
        await pilot._wait_for_screen()


async def press(pilot: Any, *keys: str) -> None:
    """Press keys one by one like `Pilot.press`, waiting for the queues, not for CPU idle."""
    app = pilot.app
    for key in keys:
        event = key_event(key)
        event.set_sender(app)
        app._driver.send_message(event)
        await settled(pilot)


async def send(pilot: Any, app: OptplayApp, action: Action) -> None:
    """Play one action (applying the harness rules from the module docstring)."""
    if action.kind == "keys":
        for key in action.args:
            if key.isdigit() and in_task_field(app):
                continue
            await press(pilot, key)
    elif action.kind == "quit":
        key = action.args[0]
        if key == "q" and text_has_focus(app):
            await press(pilot, "q")  # a character in the field, not a quit
            return
        on_main = app.screen is app.screen_stack[0]
        if not app.dirty or not (on_main or key == "ctrl+q"):
            return  # a clean quit exits (tests/tui/test_quit.py); q in a dialog is its key
        if isinstance(app.screen, ConfirmQuitScreen):
            return
        await press(pilot, key)
        await settled(pilot, 3)  # the dialog is a new screen: let it mount
        if not isinstance(app.screen, ConfirmQuitScreen):
            raise AssertionError(f"{key} with unsaved changes did not ask first")
        await press(pilot, "escape")
    elif action.kind == "resize":
        size = Size(*action.args)
        app._driver._size = size  # what Pilot.resize_terminal does, without its idle wait
        app.post_message(events.Resize(size, size))
        await settled(pilot)
    elif action.kind == "pick":
        kind, name, how = action.args
        if app.screen is not app.screen_stack[0]:
            return  # a dialog is up: the pickers are not reachable
        select = app.query_one(f"#{kind}-select", Select)
        if how == "direct":
            select.value = name
            await settled(pilot)
        else:
            select.focus()
            await press(pilot, "enter", *name, "enter")
    elif action.kind == "fix":
        await fix_form(pilot, app)
    else:
        await asyncio.sleep(action.args[0])  # let training and the chart timer run
        await settled(pilot)


async def fix_form(pilot: Any, app: OptplayApp) -> None:
    """What a user does about red fields: retype each invalid section's fields with their
    last valid values (so training can start again and the storm keeps a run going)."""
    if app.screen is not app.screen_stack[0] or app.race is not None:
        return
    form = app.query_one(HyperForm)
    for section in form.query(HyperSection):
        if not section.errors():
            continue
        for field_ in section.fields:
            control = field_.control
            text = field_.spec.format(section.values[field_.spec.name])
            if isinstance(control, Input) and control.value != text:
                control.focus()
                await press(pilot, "ctrl+a", "ctrl+k", *text)
    app.set_focus(None)
    await settled(pilot)


def app_alive(app: OptplayApp) -> str | None:
    """Why the app is not alive, or None."""
    if app._exception is not None:
        return f"exception: {app._exception!r}"
    if not app.is_running:
        return f"the app exited (return code {app.return_code})"
    return None


def consistency_errors(app: OptplayApp) -> list[str]:
    """Disagreements between what the screen says and the app's state (a quiet app)."""
    errors = []
    stepper = app.stepper  # the run, or the race during a race
    status = app.query_one(StatusLine)
    view = status.view
    shown_state = "paused" if stepper.state == "ready" and stepper.steps_done else stepper.state
    if (view.state, view.step) != (shown_state, stepper.steps_done):
        errors.append(
            f"status line says {view.state} at step {view.step}, "
            f"the {type(stepper).__name__} is {stepper.state} at step {stepper.steps_done}"
        )
    text = str(status.render())
    if f"step {stepper.steps_done:,}" not in text:
        errors.append(f"status line text {text!r} lacks step {stepper.steps_done:,}")
    if view.speed != app.speed or stepper.steps_per_second != app.speed:
        errors.append(
            f"speed: app {app.speed}, status {view.speed}, stepper {stepper.steps_per_second}"
        )
    if app.race is not None:
        return errors  # the pickers and the form are hidden during a race
    run, config = app.current_run, app.config
    for kind in ("task", "optimizer", "schedule"):
        picker = app.query_one(f"#{kind}-picker", Picker)
        select = picker.query_one(Select)
        if not picker.value == select.value == getattr(config, kind):
            errors.append(
                f"{kind}: picker {picker.value}, select {select.value}, "
                f"config {getattr(config, kind)}"
            )
    form = app.query_one(HyperForm)
    for kind in ("task", "optimizer", "schedule"):
        section = form.section(kind)
        name, values = getattr(config, kind), getattr(config, f"{kind}_hypers")
        if section.section.title != f"{kind} · {name}":
            errors.append(f"form shows {section.section.title!r}, config has {kind} {name}")
        if section.values != values:
            errors.append(f"form {kind} values {section.values} != config {values}")
    differs = [f for f in RESET_FIELDS if getattr(config, f) != getattr(run.config, f)]
    if differs and not app.pending:
        errors.append(f"config differs from the run in {differs} but no reset is pending")
    if not differs:
        for f in ("optimizer_hypers", "schedule_hypers"):
            if getattr(config, f) != getattr(run.config, f):
                errors.append(f"{f}: form {getattr(config, f)} != run {getattr(run.config, f)}")
    return errors


def status_step(app: OptplayApp) -> int:
    return app.query_one(StatusLine).view.step


async def settle(pilot: Any, app: OptplayApp) -> None:
    """Close dialogs, pause training and let the last reports arrive."""
    for _ in range(10):
        if app.screen is app.screen_stack[0]:
            break
        await press(pilot, "escape")
    app.set_focus(None)
    await settled(pilot)
    if app.stepper.state == "running":
        await press(pilot, "space")
    for _ in range(300):  # the stream reports the pause after the chunk in progress
        await asyncio.sleep(0.01)
        await settled(pilot)
        stepper = app.stepper
        if stepper.state != "running" and status_step(app) == stepper.steps_done:
            break
    await asyncio.sleep(0.05)
    await settled(pilot, 3)


async def play_storm(seed: int, count: int, tmp_path: Any) -> None:
    """Play a storm on a training app and check it afterwards; fail naming seed and index."""
    actions = storm(seed, count)
    # A long planned run so training goes on through the storm.
    config = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    app = create_app(config, planned_steps=10**9, save_path=str(tmp_path / "storm.toml"))
    watch = watch_app(app)
    handler = _Collect(watch)
    root = logging.getLogger()
    root.addHandler(handler)

    def fail(index: int, why: str) -> None:
        recent = "\n  ".join(
            f"#{i}: {a}" for i, a in enumerate(actions) if index - 15 <= i <= index
        )
        pytest.fail(
            f"storm seed={seed} failed at action #{index} of {len(actions)}: {why}\n"
            f"  {recent}\nreplay: STORM_SEED={seed} STORM_COUNT={count} "
            "python -m pytest tests/tui/test_stress.py -k storm_replay",
            pytrace=False,
        )

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.set_focus(None)
            await pilot.press("space")
            index = -1
            try:
                for index, action in enumerate(actions):
                    await send(pilot, app, action)
                    dead = app_alive(app)
                    if dead:
                        fail(index, dead)
                    if watch.failures or watch.records:
                        fail(index, f"errors: {watch.failures} {watch.records}")
                await settle(pilot, app)
                dead = app_alive(app)
                if dead:
                    fail(index, dead)
                errors = consistency_errors(app)
                if errors:
                    fail(index, "inconsistent after the storm:\n    " + "\n    ".join(errors))
                # Charts still draw at the final size.
                panel = app.query_one(ChartPanel)
                panel.redraw(force=True)
                await pilot.pause()
            except AssertionError:
                raise
            except Exception as error:  # a Pilot call raised: the app broke mid-action
                fail(index, f"{type(error).__name__}: {error}")
    finally:
        root.removeHandler(handler)
    if watch.failures or watch.records:
        pytest.fail(f"storm seed={seed}: errors {watch.failures} {watch.records}")


DEFAULT_SEEDS = (1, 2)
DEFAULT_COUNT = 1000


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
async def test_storm(seed: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a file saved from the dialog lands here
    await play_storm(seed, DEFAULT_COUNT, tmp_path)


@pytest.mark.long
@pytest.mark.parametrize("seed", range(100, 120))
async def test_storm_long(seed: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    await play_storm(seed, 5000, tmp_path)


@pytest.mark.skipif("STORM_SEED" not in os.environ, reason="set STORM_SEED to replay a storm")
async def test_storm_replay(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    count = int(os.environ.get("STORM_COUNT", DEFAULT_COUNT))
    await play_storm(int(os.environ["STORM_SEED"]), count, tmp_path)
