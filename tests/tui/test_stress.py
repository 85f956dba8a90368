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
- `q` quits the app when no text field (or open dropdown) has the focus. There it is sent
  as a quit attempt,
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
from conftest import screen_text, wait_for
from textual import events
from textual.command import CommandList, CommandPalette
from textual.geometry import Size
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.widgets import Input, Label, OptionList, Select

from engine import optimizers, schedules
from engine.run import RunConfig
from tui.app import OptplayApp, create_app
from tui.charts import ChartPanel
from tui.screens.confirm import ConfirmQuitScreen
from tui.screens.prompt import PromptScreen
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

    kind: str  # "keys", "type", "command", "quit", "resize", "pick", "pause", "fix"
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
            out.append(Action("type", tuple(text)))
        elif kind == "palette":
            if rng.random() < 0.5:
                text = "".join(rng.choice(TYPED) for _ in range(rng.randint(1, 8)))
                moves = tuple(rng.choice(("up", "down")) for _ in range(rng.randint(0, 2)))
                out.append(Action("keys", ("ctrl+p", *text, *moves, "escape")))
            else:
                out.append(Action("command", (rng.choice(SAFE_COMMANDS),)))
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
    """A text field, or an open dropdown (typing searches it), takes `q` as a letter."""
    return isinstance(app.focused, Input | OptionList)


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


def _busy(app: OptplayApp) -> bool:
    """True while the app or a widget of the current screen has messages waiting."""
    nodes = [app, *app.screen.walk_children(with_self=True)]
    return any(not node._message_queue.empty() for node in nodes)


async def settled(pilot: Any, thorough: bool = False) -> None:
    """Wait until the app, the screen and its widgets handled what was queued so far.

    `Pilot.press` waits for the *process* to go idle after every key, which never happens
    while training runs at full speed (it then waits its 1 s maximum, twice per key). This
    waits for the message queues instead: until they stay empty for a few turns of the
    event loop (a key bubbles from the focused widget up to the app, and may push a screen
    or post a Changed message), so the next key goes where a user would see it go.
    `thorough` adds Textual's own round trip through every widget of the screen (slower)."""
    app = pilot.app
    quiet = 0
    for _ in range(5000):
        await asyncio.sleep(0)
        if not app.is_running:
            return
        quiet = 0 if _busy(app) else quiet + 1
        if quiet >= 3:
            break
    if thorough and app.is_running:
        await pilot._wait_for_screen()


async def press(pilot: Any, *keys: str) -> None:
    """Press keys one by one like `Pilot.press`, waiting for the queues, not for CPU idle.
    An "unsaved changes" dialog that something opened (the palette's Quit) is cancelled
    first: its `d` would end the storm."""
    app = pilot.app
    for key in keys:
        if isinstance(app.screen, ConfirmQuitScreen):
            await send_key(pilot, "escape")
        await send_key(pilot, key)


def post_key(app: OptplayApp, key: str) -> None:
    """Hand a key to the app as the terminal driver does."""
    event = key_event(key)
    event.set_sender(app)
    app._driver.send_message(event)


async def send_key(pilot: Any, key: str) -> None:
    post_key(pilot.app, key)
    await settled(pilot)


async def palette_command(pilot: Any, text: str) -> None:
    """Open the command palette, search `text`, wait for the hits, run the first."""
    app = pilot.app
    await press(pilot, "ctrl+p", *text)
    for _ in range(100):  # the palette searches in a worker
        if not isinstance(app.screen, CommandPalette) or app.screen._hit_count:
            break
        await asyncio.sleep(0.01)
    await press(pilot, "enter")


async def send(pilot: Any, app: OptplayApp, action: Action, burst: bool = False) -> None:
    """Play one action (applying the harness rules from the module docstring)."""
    if action.kind == "type" and burst:
        if isinstance(app.screen, ConfirmQuitScreen):
            await send_key(pilot, "escape")
        for key in action.args:  # all at once, as a fast typist's keys arrive
            if not key.isdigit():  # (where they land is not known when they are sent)
                post_key(app, key)
        await settled(pilot)
    elif action.kind in ("keys", "type"):
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
        if not app.session.dirty or not (on_main or key == "ctrl+q"):
            return  # a clean quit exits (tests/tui/test_quit.py); q in a dialog is its key
        if isinstance(app.screen, ConfirmQuitScreen):
            return
        await send_key(pilot, key)
        await settled(pilot, thorough=True)
        if not isinstance(app.screen, ConfirmQuitScreen):
            raise AssertionError(
                f"{key} with unsaved changes did not ask first "
                f"(screen {app.screen!r}, focus {app.focused!r})"
            )
        await send_key(pilot, "escape")
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
    elif action.kind == "command":
        await palette_command(pilot, action.args[0])
    elif action.kind == "fix":
        await fix_form(pilot, app)
    else:
        await asyncio.sleep(action.args[0])  # let training and the chart timer run
        await settled(pilot)


async def fix_form(pilot: Any, app: OptplayApp) -> None:
    """What a user does about red fields: retype each invalid section's fields with their
    last valid values (so training can start again and the storm keeps a run going)."""
    if app.screen is not app.screen_stack[0] or app.session.racing:
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


#: Settings that only a fresh run can take (everything else applies to the next step).
RESET_FIELDS = ("task", "optimizer", "schedule", "task_hypers", "seed", "dtype")


def consistency_errors(app: OptplayApp) -> list[str]:
    """Disagreements between what the screen says and the app's state (a quiet app)."""
    errors = []
    stepper = app.session.race  # the run, or the race during a race
    status = app.query_one(StatusLine)
    view = status.status
    shown_state = "paused" if stepper.state == "ready" and stepper.steps_done else stepper.state
    if (view.state, view.step) != (shown_state, stepper.steps_done):
        errors.append(
            f"status line says {view.state} at step {view.step}, "
            f"the {type(stepper).__name__} is {stepper.state} at step {stepper.steps_done}"
        )
    text = str(status.render())
    if f"step {stepper.steps_done:,}" not in text:
        errors.append(f"status line text {text!r} lacks step {stepper.steps_done:,}")
    speed = app.session.speed
    if view.speed != speed or stepper.steps_per_second != speed:
        errors.append(f"speed: app {speed}, status {view.speed}, race {stepper.steps_per_second}")
    if app.session.racing:
        return errors  # the pickers and the form are hidden during a race
    run, config = app.session.run, app.session.config
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
    if differs and not app.session.pending:
        errors.append(f"config differs from the run in {differs} but no reset is pending")
    if not differs:
        for f in ("optimizer_hypers", "schedule_hypers"):
            if getattr(config, f) != getattr(run.config, f):
                errors.append(f"{f}: form {getattr(config, f)} != run {getattr(run.config, f)}")
    return errors


def status_step(app: OptplayApp) -> int:
    return app.query_one(StatusLine).status.step


async def settle(pilot: Any, app: OptplayApp) -> None:
    """Close dialogs, pause training and let the last reports arrive."""
    for _ in range(10):
        if app.screen is app.screen_stack[0]:
            break
        await press(pilot, "escape")
    app.set_focus(None)
    await settled(pilot)
    if app.session.race.state == "running":
        await press(pilot, "space")
    for _ in range(300):  # the stream reports the pause after the chunk in progress
        await asyncio.sleep(0.01)
        await settled(pilot)
        stepper = app.session.race
        if stepper.state != "running" and status_step(app) == stepper.steps_done:
            break
    await asyncio.sleep(0.05)
    await settled(pilot, thorough=True)


async def play_storm(seed: int, count: int, tmp_path: Any, burst: bool = False) -> None:
    """Play a storm on a training app and check it afterwards; fail naming seed and index.
    With `burst`, typed text arrives all at once instead of key by key."""
    actions = storm(seed, count)
    # A long planned run so training goes on through the storm.
    config = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    app = create_app(config, steps=10**9, save_path=str(tmp_path / "storm.toml"))
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
            f"STORM_BURST={int(burst)} python -m pytest tests/tui/test_stress.py -k replay",
            pytrace=False,
        )

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.set_focus(None)
            await press(pilot, "space")  # training starts, and goes on through the storm
            index = -1
            try:
                for index, action in enumerate(actions):
                    await send(pilot, app, action, burst)
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
            except Exception as error:  # a check or a Pilot call raised mid-action
                fail(index, f"{type(error).__name__}: {error}")
    finally:
        root.removeHandler(handler)
    if watch.failures or watch.records:
        pytest.fail(f"storm seed={seed}: errors {watch.failures} {watch.records}")


#: The default run: one storm key by key, one with typing in bursts (about 2000 keys in all).
DEFAULT_STORMS = [
    pytest.param(1, 700, False, id="seed1-keys"),
    pytest.param(2, 350, True, id="seed2-bursts"),
]


@pytest.mark.parametrize(("seed", "count", "burst"), DEFAULT_STORMS)
async def test_storm(
    seed: int, count: int, burst: bool, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # files written from the dialogs (save, export) land here
    await play_storm(seed, count, tmp_path, burst)


@pytest.mark.long
@pytest.mark.parametrize("burst", [False, True], ids=["keys", "bursts"])
@pytest.mark.parametrize("seed", range(100, 110))
async def test_storm_long(
    seed: int, burst: bool, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await play_storm(seed, 3000, tmp_path, burst)


@pytest.mark.skipif("STORM_SEED" not in os.environ, reason="set STORM_SEED to replay a storm")
async def test_storm_replay(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay one storm: STORM_SEED, STORM_COUNT (default 1000), STORM_BURST=1 for bursts."""
    monkeypatch.chdir(tmp_path)
    count = int(os.environ.get("STORM_COUNT", 1000))
    burst = os.environ.get("STORM_BURST", "") == "1"
    await play_storm(int(os.environ["STORM_SEED"]), count, tmp_path, burst)


# -- long runs ---------------------------------------------------------------------------------


async def test_history_stays_bounded_over_a_long_run_in_the_app() -> None:
    """200,000 steps in the app (stepped in big chunks, charts redrawn in between): the
    history's memory stops growing once its buckets are full, and every chart still draws
    the whole run."""
    config = RunConfig(task="beale", optimizer="adam", optimizer_hypers={"lr": 1e-3})
    app = create_app(config, steps=10**6)
    sizes = {}
    async with app.run_test(size=(100, 30)) as pilot:
        run = app.session.run
        panel = app.query_one(ChartPanel)
        for target in (10_000, 50_000, 100_000, 150_000, 200_000):
            app.session.race.step(target - run.steps_done)
            panel.redraw(force=True)
            sizes[target] = run.history.nbytes
        app.render_view()
        for tab in ("tab-lr", "tab-norms", "tab-path"):
            app.show_tab(tab)
            await pilot.pause()
            panel.redraw(force=True)
        assert "step 200,000" in str(app.query_one(StatusLine).render())
        assert run.history.trajectory().xs.size <= run.history.capacity
        chart = panel.active_chart()
        assert chart is not None and chart.drawn_key is not None
        assert chart.drawn_key[2] == 200_000  # the path chart drew all 200k steps
    # Full at 10k steps (4096 buckets per series); from there on it only folds: no growth.
    assert max(sizes.values()) < 2 * 2**20, sizes
    assert sizes[200_000] <= 1.1 * sizes[10_000], sizes


# -- what the storms found (each once a crash of the whole app) --------------------------------


async def test_page_keys_in_a_fresh_command_palette() -> None:
    """ctrl+p then pagedown, before the palette's list is laid out (the next frame),
    crashed: KeyError in OptionList."""
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "ctrl+p", "pagedown", "pageup", "s", "pagedown")
        assert app_alive(app) is None and isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_a_double_enter_answers_a_dialog_once(tmp_path: Any) -> None:
    """Two enters in one burst dismissed a dialog twice: ScreenStackError, or a command
    from the palette run twice."""
    app = create_app(save_path=str(tmp_path / "exp.toml"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        post_key(app, "enter")
        post_key(app, "enter")
        await settled(pilot, thorough=True)
        assert app_alive(app) is None and app.screen is app.screen_stack[0]
        assert (tmp_path / "exp.toml").exists() and not app.session.dirty
        await palette_command_burst(pilot, "step once", ["enter", "enter"])
        assert app_alive(app) is None and app.screen is app.screen_stack[0]
        assert app.session.run.steps_done == 1  # once, not twice


async def palette_command_burst(pilot: Any, text: str, keys: list[str]) -> None:
    app = pilot.app
    await pilot.press("ctrl+p", *text)
    for _ in range(100):
        if app.screen._hit_count:
            break
        await asyncio.sleep(0.01)
    for key in keys:
        post_key(app, key)
    await settled(pilot, thorough=True)


async def test_brackets_in_typed_text_are_shown_not_parsed(tmp_path: Any) -> None:
    """Text with `[` typed into a field or a file name went into markup (notifications,
    the quit dialog): MarkupError ended the app."""
    app = create_app(save_path=str(tmp_path / "a[x=.toml"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.query_one("#optimizer-lr", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *"x/", "space")  # refused as typed: says why
        assert app_alive(app) is None
        text = screen_text(app)  # ([ and ] switch tabs from a knob's field)
        assert "lr takes a number: '/'" in text and "Fix optimizer.lr first" in text
        await pilot.press("ctrl+a", "ctrl+k", *"0.01", "enter", "e")
        await wait_for(lambda: isinstance(app.screen, PromptScreen))  # the export prompt
        await pilot.press("ctrl+a", "ctrl+k", *"h[/b]", "enter")  # a name with brackets
        await wait_for(lambda: app_alive(app) is not None or "h[/b].csv" in screen_text(app))
        assert app_alive(app) is None
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuitScreen)
        assert "a[x=.toml)" in str(app.screen.query_one("#confirm-ask", Label).render())
        await pilot.press("s", "enter")  # save (to the bracketed name) and quit
        await asyncio.sleep(0.2)
    assert app._exception is None and (tmp_path / "a[x=.toml").exists()


async def test_a_search_finishing_after_the_palette_closed_is_dropped() -> None:
    """A palette search still running when escape closed the palette refreshed a list that
    was gone: NoMatches in a worker ended the app (keys typed fast: ctrl+p, x, escape)."""
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", "x")
        palette = app.screen
        command_list = palette.query_one(CommandList)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]
        palette._refresh_command_list(command_list, [], True)  # the late search result
        await pilot.pause()
        assert app_alive(app) is None
