"""The playground session: every verb and every rule, without the UI.

The first three tests reproduce the bugs the app had before the session existed (task knobs
leaking between tasks, a pin surviving a change of task, a planned length applied per
keystroke); the rest cover each verb.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import math

import pytest
from conftest import shipped_verdict

from engine import lessons, optimizers, presets, schedules, tasks
from engine.compare import Race
from engine.config import Experiment, RaceEntry
from engine.config import load as load_experiment
from engine.run import RunConfig
from engine.session import (
    DEFAULT_SPEED,
    RUN_SPECS,
    SPEEDS,
    Change,
    Session,
    clamp_to_spec,
    lr_reset_notice,
    next_optimizer,
    planned_steps_for,
    unasked_lr,
)


def defaults(kind, name):
    from engine.kinds import registry

    return registry(kind).validate(name, {})


def solo(**changes) -> Session:
    """A session on one run of `changes` (rosenbrock + adam by default)."""
    config = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    if changes:
        config = config.replace(**changes)
    return Session(Experiment(config))


def texts(change: Change) -> str:
    return " | ".join(n.text for n in change.notices)


# -- the three bugs -----------------------------------------------------------------------------


def test_switching_task_resets_every_task_knob_to_the_new_tasks_defaults():
    s = Session()
    s.pick("task", "quadratic")
    s.edit("task", {**s.config.task_hypers, "x0": 2.0})
    s.pick("task", "rosenbrock")
    assert s.config.task_hypers == defaults("task", "rosenbrock")
    assert s.run.params["xy"].tolist() == [-1.5, 2.0]  # Rosenbrock's own start, not (2, 2)
    s.pick("task", "saddle")
    assert s.config.task_hypers["y0"] == 0.001  # the saddle keeps its escape direction
    s.pick("task", "blobs-mlp")
    s.edit("task", {**s.config.task_hypers, "hidden": 8, "batch_size": 10})
    s.pick("task", "digits-mlp")
    assert s.config.task_hypers == defaults("task", "digits-mlp")


def test_a_pin_is_dropped_when_a_preset_of_another_task_loads():
    s = Session()
    s.step()
    s.step()
    assert s.pin("rosenbrock run").ok
    assert [p.name for p in s.pins] == ["rosenbrock run"]
    change = s.load(presets.load("schedules"))  # a race on linear regression
    assert s.pins == []
    assert "unpinned 'rosenbrock run'" in texts(change)
    view = s.view()
    assert len(view.lanes) == len(s.race.runs) == view.status.racers  # 4 lanes, "race of 4"
    rows, *_ = s.results()
    assert {r.task for r in rows} == {"linear-regression"}


async def test_raising_the_planned_length_while_paused_keeps_the_run_paused():
    s = solo()
    s.edit("run", {"steps": 50, "seed": 0, "dtype": "float64"})
    slow_down(s, 50)  # steps per second: slow enough to pause mid-run
    assert s.toggle().start
    consumer = asyncio.create_task(_consume(s))
    while s.race.steps_done < 7:
        await asyncio.sleep(0.001)
    s.toggle()  # pause: lands after the lockstep chunk in progress
    await asyncio.sleep(0.2)
    paused_at = s.race.steps_done
    s.edit("run", {"steps": 600, "seed": 0, "dtype": "float64"})  # committed once, on Enter
    for _ in range(50):
        await asyncio.sleep(0.005)
    assert s.race.state == "paused" and s.race.steps_done == paused_at
    assert s.planned_steps == 600
    while s.speed is not None:
        s.faster()
    s.toggle()  # resume: runs on to 600
    await asyncio.wait_for(consumer, 30)
    assert s.race.steps_done == 600 and s.status().state == "finished"


def slow_down(session: Session, steps_per_second: float) -> None:
    while session.speed is None or session.speed > steps_per_second:
        session.slower()


async def _consume(session: Session) -> None:
    async for _ in session.stream():
        pass


# -- pick ---------------------------------------------------------------------------------------


def test_switching_optimizer_resets_a_typed_lr_to_the_new_ones_rate_and_says_so():
    s = solo()  # adam on rosenbrock at its suggested 0.02
    s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 1000.0, "beta1": 0.5})
    change = s.pick("optimizer", "sgd")
    assert s.config.optimizer_hypers == defaults("optimizer", "sgd")  # lr 0.001, not 1000
    assert "lr reset to 0.001 for sgd on rosenbrock" in texts(change)
    s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 0.5})
    change = s.pick("optimizer", "adagrad")  # rosenbrock suggests 0.3 for adagrad
    assert s.config.lr == 0.3 and "lr reset to 0.3 for adagrad on rosenbrock" in texts(change)


def test_switching_optimizer_from_its_own_rate_takes_the_new_ones_silently():
    s = solo()
    change = s.pick("optimizer", "adagrad")  # adam's 0.02 was rosenbrock's suggestion
    assert s.config.lr == 0.3 and "lr" not in texts(change)
    assert lr_reset_notice(s.config, "sgd") is None  # adagrad's own rate: nothing to say
    assert unasked_lr("rosenbrock", "adam") == 0.02 and unasked_lr("digits-mlp", "adam") == 0.001


def test_switching_optimizer_carries_weight_decay_where_both_have_it():
    s = solo()
    s.edit("optimizer", {**s.config.optimizer_hypers, "weight_decay": 0.01})
    change = s.pick("optimizer", "adamw")
    assert s.config.optimizer_hypers["weight_decay"] == 0.01
    assert s.config.optimizer_hypers["lr"] == 0.02
    assert "weight_decay 0.01" in texts(change)
    s.edit("optimizer", {**s.config.optimizer_hypers, "weight_decay": 0.05})
    s.pick("optimizer", "lion")  # lion has weight_decay too
    assert s.config.optimizer_hypers["weight_decay"] == 0.05
    fresh = solo()
    fresh.pick("optimizer", "adamw")  # adam's default 0 was never set: adamw keeps its own
    assert fresh.config.optimizer_hypers == {**defaults("optimizer", "adamw"), "lr": 0.02}


def test_carried_values_are_clamped_to_the_new_range():
    spec = next(h for h in optimizers.specs("adam") if h.name == "beta1")
    assert clamp_to_spec(spec, 1.5) < 1.0 and clamp_to_spec(spec, -3) == 0.0
    lr = next(h for h in optimizers.specs("sgd") if h.name == "lr")
    assert clamp_to_spec(lr, 0.0) > 0.0  # open at 0


def test_switching_schedule_starts_from_its_defaults_over_the_planned_length():
    s = solo()
    s.edit("run", {"steps": 2000, "seed": 0, "dtype": "float64"})
    s.pick("schedule", "cosine")
    assert s.config.schedule_hypers == {**defaults("schedule", "cosine"), "total_steps": 2000}
    s.pick("schedule", "step")
    assert s.config.schedule_hypers == defaults("schedule", "step")


def test_a_pick_at_step_zero_applies_at_once():
    s = solo()
    change = s.pick("optimizer", "momentum")
    assert s.run.config.optimizer == "momentum" and not s.pending
    assert change.ok and not change.start


def test_a_pick_after_steps_waits_for_reset():
    s = solo()
    s.step()
    change = s.pick("task", "beale")
    assert s.pending == ["task"] and s.run.config.task == "rosenbrock"
    assert "task changed: r resets the run to apply it" in texts(change)
    assert s.pick("optimizer", "sgd").notices[-1].topic == "pending"
    assert s.view().pending == ("task", "optimizer")
    s.reset()
    assert s.run.config.task == "beale" and s.run.config.optimizer == "sgd"
    assert s.pending == [] and s.run.steps_done == 0


def test_pick_rejects_an_unknown_kind_and_name():
    s = solo()
    with pytest.raises(ValueError):
        s.pick("colour", "red")
    change = s.pick("optimizer", "nope")
    assert not change.ok and "unknown optimizer" in texts(change)
    assert s.config.optimizer == "adam"


# -- edit ---------------------------------------------------------------------------------------


def test_optimizer_knobs_apply_from_the_next_step_and_keep_the_state():
    s = solo()
    s.step()
    s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 0.5})
    assert not s.pending and s.run.config.lr == 0.5
    assert s.status().lr == 0.5  # the next update's rate shows at once
    s.step()
    assert s.run.steps_done == 2 and s.run.history.last("lr") == 0.5


def test_an_invalid_value_never_reaches_the_run():
    s = solo()
    before = s.config
    change = s.edit("optimizer", {**before.optimizer_hypers, "beta1": 1.5})
    assert not change.ok and "beta1 must be a number in [0, 1)" in texts(change)
    assert s.config == before and s.run.config.replace(state_every=0) == before
    change = s.edit("schedule", {"nope": 1})
    assert not change.ok and s.config == before


def test_task_knobs_seed_and_dtype_need_a_reset_once_started():
    s = solo()
    s.step()
    s.edit("task", {**s.config.task_hypers, "x0": 0.5})
    s.edit("run", {"steps": 1000, "seed": 3, "dtype": "float32"})
    assert s.pending == ["task knobs", "seed and dtype"]
    s.reset()
    assert s.run.config.seed == 3 and s.run.config.dtype == "float32"
    assert s.run.config.task_hypers["x0"] == 0.5


def test_run_steps_are_the_planned_length_and_need_no_reset():
    s = solo()
    s.step()
    s.edit("run", {"steps": 40, "seed": 0, "dtype": "float64"})
    assert s.planned_steps == 40 and not s.pending
    assert [h.name for h in RUN_SPECS] == ["steps", "seed", "dtype"]


# -- run control --------------------------------------------------------------------------------


async def test_toggle_starts_pauses_and_resumes():
    s = solo()
    slow_down(s, 100)
    assert s.toggle().start
    consumer = asyncio.create_task(_consume(s))
    while s.race.steps_done < 3:
        await asyncio.sleep(0.001)
    assert s.status().state == "running"
    assert not s.toggle().start  # pause: lands after the lockstep chunk in progress
    await asyncio.sleep(0.2)
    paused = s.race.steps_done
    await asyncio.sleep(0.1)
    assert s.race.steps_done == paused and s.status().state == "paused"
    assert not s.toggle().start  # resume the same stream
    while s.race.steps_done < paused + 3:
        await asyncio.sleep(0.001)
    s.reset()
    await asyncio.wait_for(consumer, 10)
    assert s.race.steps_done == 0 and s.status().state == "ready"


def test_step_does_one_update_and_stops_at_divergence():
    s = solo(optimizer="sgd", optimizer_hypers={"lr": 1e6})
    for _ in range(10):
        s.step()
    assert s.status().state == "diverged"
    at = s.run.diverged_at
    change = s.toggle()
    assert not change.start and f"diverged at step {at}: r resets" in texts(change)
    assert f"diverged at step {at}" in texts(s.stream_ended(s.race))
    s.reset()
    assert s.status().state == "ready" and s.run.diverged_at is None


def test_toggle_refuses_past_the_planned_length():
    s = solo()
    s.edit("run", {"steps": 2, "seed": 0, "dtype": "float64"})
    s.step()
    s.step()
    change = s.toggle()
    assert not change.start and "finished 2 steps" in texts(change)


def test_faster_and_slower_walk_the_speed_limits():
    s = solo()
    assert s.speed == DEFAULT_SPEED == 200  # a default run of 1000 steps takes 5 s to watch
    s.faster()
    assert s.speed == 500 and s.race.steps_per_second == 500
    for _ in range(30):
        s.slower()
    assert s.speed == SPEEDS[0]
    for _ in range(30):
        s.faster()
    assert s.speed is None and s.status().speed is None
    assert Session(speed=None).speed is None and Session(speed=190).speed == 200


def test_status_shows_the_next_rate_and_both_losses():
    s = solo(task="digits-mlp", schedule="step", eval_every=2)
    assert s.status().lr == s.config.lr and s.status().loss is None
    s.step()
    s.step()
    status = s.status()
    assert status.step == 2 and status.loss == s.run.history.last("loss")
    assert status.eval_loss == s.run.history.last("eval_loss")
    assert status.state == "paused"


# -- pins ---------------------------------------------------------------------------------------


def test_pin_keeps_the_run_and_the_live_run_starts_over():
    s = solo()
    assert "nothing to pin" in texts(s.pin("x"))
    for _ in range(5):
        s.step()
    name = s.pin_name()
    assert name == "adam lr=0.02"
    change = s.pin(name)
    assert change.ok and s.run.steps_done == 0
    assert [lane.name for lane in s.view().lanes] == ["adam", name]
    assert s.view().overlaid and "table" in s.view().available
    assert s.pin_problem(name) == f"{name!r} is already pinned"
    for _ in range(5):
        s.step()
    assert s.pin_name() == "adam lr=0.02 #2"
    s.unpin(name)
    assert s.pins == [] and not s.view().overlaid


def test_pins_stay_for_the_same_task_and_go_with_another():
    s = solo()
    s.step()
    s.pin("first")
    s.pick("optimizer", "sgd")  # at step 0: applies now, same task
    assert [p.name for p in s.pins] == ["first"]
    s.step()
    s.pick("task", "beale")  # pending: the pin stays until the task really changes
    assert [p.name for p in s.pins] == ["first"]
    change = s.reset()
    assert s.pins == [] and "unpinned 'first'" in texts(change)


def test_at_most_five_pins():
    s = solo()
    for k in range(5):
        s.step()
        assert s.pin(f"p{k}").ok
    s.step()
    assert "at most 5 pins" in texts(s.pin("p5"))


# -- a sweep's points: open one, pin one ----------------------------------------------------------


def sweep_row(optimizer: str = "sgd", lr: float = 0.1):
    """The row of a one-point sweep on digits (a small net, 40 steps)."""
    from engine.sweep import Sweep, SweepSpec

    spec = SweepSpec(
        task="digits-mlp",
        optimizers=(optimizer,),
        grid={"lr": [lr]},
        steps=40,
        task_hypers={"hidden": 8},
        check_every=10,
    )
    (row,) = Sweep(spec).run().rows
    return spec, row


def test_a_sweep_point_opens_as_the_single_run_with_its_numbers():
    spec, row = sweep_row()
    s = solo()
    s.step()
    s.pin("rosenbrock pin")
    change = s.open_run(row.config, spec.steps, name="sgd at lr=0.1", go=True)
    assert change.start and not s.racing
    assert s.config == row.config and s.run.config.replace(state_every=0) == row.config
    assert s.planned_steps == 40 and s.name == "sgd at lr=0.1"
    assert s.run.steps_done == 0 and s.pins == []  # the rosenbrock pin went with its task
    assert "unpinned 'rosenbrock pin'" in texts(change)
    assert s.unsaved_changes() == []  # opened, like a file: nothing to lose yet
    s.run.step(40)
    assert s.run.history.last("eval_loss") == row.score.final_loss  # same run, same numbers
    assert not s.open_run(row.config, 40).start  # without go: shown, paused at step 0


def test_a_sweep_point_pins_next_to_a_run_of_its_task():
    spec, row = sweep_row(lr=0.5)
    s = Session(Experiment(row.config.replace(optimizer="adam", optimizer_hypers={})))
    assert s.can_pin_config(row.config) is None
    run = s.trained_copy(row.config, spec.steps)
    assert run.steps_done == 40 and run.history.last("eval_loss") == row.score.final_loss
    change = s.pin_run(run, "sgd lr=0.5")
    assert change.ok and "pinned 'sgd lr=0.5' (40 steps)" in texts(change)
    assert [lane.name for lane in s.view().lanes] == ["adam", "sgd lr=0.5"]
    assert s.run.steps_done == 0  # the single run goes on as it was
    again = s.pin_run(s.trained_copy(row.config, spec.steps), "sgd lr=0.5")
    assert [p.name for p in s.pins] == ["sgd lr=0.5", "sgd lr=0.5 #2"] and again.ok


def test_a_sweep_point_of_another_task_is_not_pinned():
    _, row = sweep_row()
    s = solo()  # rosenbrock
    refused = s.can_pin_config(row.config)
    assert refused is not None and "task (rosenbrock)" in texts(refused)
    change = s.pin_run(s.trained_copy(row.config, 5), "x")
    assert "open it instead" in texts(change) and s.pins == []
    other = Session(Experiment(row.config.replace(task_hypers={"hidden": 16})))
    assert "other task knobs" in texts(other.can_pin_config(row.config))
    racing = solo()
    racing.start_race(*racing.race_draft()[:2], go=False)
    assert "x leaves the race" in texts(racing.can_pin_config(racing.config))


# -- races --------------------------------------------------------------------------------------


def test_start_race_trains_every_lane_and_leave_race_returns_to_the_run():
    s = solo()
    s.step()
    s.step()
    entries, steps, target = s.race_draft()
    assert [e.config.optimizer for e in entries] == ["adam", next_optimizer(["adam"])]
    assert steps == s.planned_steps and target is None
    change = s.start_race([*entries, RaceEntry(entries[0].config.replace(optimizer="sgd"))], 30)
    assert change.start and s.racing and s.planned_steps == 30
    view = s.view()
    assert view.racing and len(view.lanes) == 3 and "leave_race" in view.available
    assert "pin" not in view.available
    s.race.step(30)
    assert s.status().racers == 3 and s.status().leader in s.race.names
    assert s.stream_ended(s.race).open_table
    leader = s.race.lanes[s.view().leader_lane]
    change = s.leave_race()  # to the leading lane's run, as it is
    assert not s.racing and s.run is leader.run and s.run.steps_done == 30
    assert s.config.optimizer == leader.run.config.optimizer and s.planned_steps == 30
    assert f"the single run is now {leader.name}, the race's leader at step 30" in texts(change)


def test_leaving_a_race_with_no_leader_returns_to_the_run_from_before():
    s = solo()
    s.step()
    entries, _, _ = s.race_draft()
    s.start_race(entries, 30, go=False)
    assert texts(s.leave_race()) == ""  # nothing trained: no leader
    assert not s.racing and s.run.steps_done == 1 and s.planned_steps == 1000


def test_start_race_refuses_bad_entries():
    s = solo()
    a = RunConfig(task="rosenbrock", optimizer="sgd")
    change = s.start_race([a, a.replace(seed=1)], 10)
    assert not change.ok and "seed differs" in texts(change) and not s.racing
    assert not s.start_race([a], 10).ok


def test_race_results_rank_against_the_slowest_survivors_best():
    s = solo()
    entries, _, _ = s.race_draft()  # the draft evaluates about 100 times per race
    s.edit("run", {"steps": 200, "seed": 0, "dtype": "float64"})
    entries, steps, _ = s.race_draft()
    assert entries[0].config.eval_every == 2
    s.start_race(entries, steps)
    s.race.step(200)
    rows, target, title, note = s.results()
    assert target == max(r.best_eval_loss for r in rows)  # measured on the eval series
    assert all(r.steps_to_target is not None for r in rows)
    assert title.startswith("race results · rosenbrock") and "every 2 steps" in note


# -- experiments --------------------------------------------------------------------------------


def test_load_a_run_replaces_the_settings_and_is_clean(tmp_path):
    s = solo()
    exp = Experiment(RunConfig(task="quadratic", optimizer="sgd"), steps=77, name="q")
    s.load(exp)
    assert s.config == exp.config and s.planned_steps == 77 and s.name == "q"
    assert not s.dirty and s.unsaved_changes() == []
    s.pick("optimizer", "adam")
    assert s.dirty and s.unsaved_changes() == ["optimizer", "optimizer knobs"]


def test_save_writes_a_file_that_loads_back(tmp_path):
    s = solo()
    s.pick("schedule", "cosine")
    path = tmp_path / "exp.toml"
    assert s.save(str(path)).ok and not s.dirty and s.save_path == str(path)
    assert load_experiment(path) == s.experiment()
    bad = s.save(str(tmp_path / "missing" / "exp.toml"))
    assert not bad.ok and bad.notices[0].severity == "error"


def test_a_race_saves_as_a_race_file(tmp_path):
    s = solo()
    cfg = s.config
    s.start_race([RaceEntry(cfg, "A"), RaceEntry(cfg.replace(optimizer="sgd"), "B")], 50)
    path = tmp_path / "race.toml"
    s.save(str(path))
    loaded = load_experiment(path)
    assert [e.name for e in loaded.race] == ["A", "B"] and loaded.steps == 50
    t = Session()
    t.load(loaded)
    assert t.racing and t.race.names == ["A", "B"] and not t.dirty


def test_export_writes_every_lane_shown(tmp_path):
    s = solo()
    for _ in range(3):
        s.step()
    s.pin("old")
    s.step()
    assert s.export(str(tmp_path / "h.csv")).ok
    rows = list(csv.reader((tmp_path / "h.csv").open()))[1:]
    assert [r[0] for r in rows] == ["adam"] + ["old"] * 3
    assert (tmp_path / "h.json").exists()


def test_defaults_and_planned_length():
    s = Session()
    assert s.config.task == "rosenbrock" and s.config.lr == 0.02 and s.planned_steps == 1000
    cfg = RunConfig(task="quadratic", optimizer="sgd", schedule="cosine",
                    schedule_hypers={"total_steps": 300})  # fmt: skip
    assert planned_steps_for(cfg) == 300
    assert Session(Experiment(cfg)).planned_steps == 300


def test_view_describes_the_form_and_the_pickers():
    s = solo(schedule="cosine")
    view = s.view()
    assert view.picks == {"task": "rosenbrock", "optimizer": "adam", "schedule": "cosine"}
    keys = [sec.key for sec in view.sections]
    assert keys == ["optimizer", "schedule", "task", "run"]
    sched = view.sections[1]
    assert [h.name for h in sched.specs] == [h.name for h in schedules.specs("cosine")]
    assert sched.check(dict(sched.values)) == sched.values
    with pytest.raises(ValueError):
        view.sections[2].check({**view.sections[2].values, "x0": math.inf})
    assert not view.racing and not view.overlaid and view.run is s.run


def test_a_race_experiment_opens_as_a_race():
    race_exp = presets.load("linreg-optimizers")
    s = Session(race_exp)
    assert s.racing and isinstance(s.race, Race) and not s.dirty
    assert s.view().panel_title == f"race · {race_exp.config.task}"
    assert tasks.get(race_exp.config.task)


# -- lessons --------------------------------------------------------------------------------------

# A single-run lesson (the shipped ones are all races): plain SGD down the quadratic bowl.
SOLO_LESSON_EXPERIMENT = """
task = "quadratic"
seed = 0
steps = 40
optimizer = "sgd"
[optimizer_hypers]
lr = 0.1
"""
SOLO_LESSON = """
title = "SGD down a bowl"
topic = "basics"
order = 1
claim = "SGD at lr 0.1 reaches loss 0.001 within 40 steps."
source = "a test"
why = "Each step shrinks x by 1 - 2 lr."
expect = "holds"
[watch]
tab = "loss"
what = "the loss falls straight on a log scale"
[measure]
kind = "steps_to"
target = 1e-3
subject = "sgd"
compare = "value"
at_most = 40
"""


def solo_lesson():
    return lessons.loads("sgd-bowl", SOLO_LESSON_EXPERIMENT, SOLO_LESSON)


@pytest.mark.parametrize("name", lessons.names())
async def test_a_finished_lessons_verdict_is_the_headless_one(name):
    """Trained the app's way (the session's chunked stream at full speed), every shipped
    lesson opens as its experiment and ends with the verdict `optplay lesson NAME` prints."""
    lesson = lessons.load(name)
    s = Session()
    change = s.open_lesson(name)
    assert change.ok and not change.start  # loaded, not started: space runs it
    assert s.lesson is lesson and s.verdict is None
    assert s.racing == lesson.is_race and s.planned_steps == lesson.steps
    assert s.race.names == list(lesson.lanes)
    assert f"Watch the {lesson.watch.tab} tab" in texts(change)
    assert not s.dirty  # just opened: nothing to lose on quit

    assert s.toggle().start
    await asyncio.wait_for(_consume(s), 60)
    ended = s.stream_ended(s.race)
    assert ended.open_verdict and not ended.open_table  # the verdict replaces the race table
    headless = shipped_verdict(name)
    assert s.verdict == headless
    assert s.verdict.summary == headless.summary and s.verdict.table() == headless.table()
    view = s.view()
    assert view.lesson is lesson and view.verdict == headless and "verdict" in view.available


def test_a_lesson_keeps_every_step_so_its_verdict_is_exact():
    # adagrad-decay runs 5,000 steps: the default 4,096-bucket history would merge steps and
    # make "steps to loss 0.01" one step late. The lesson's runs keep every step; the next
    # experiment gets the bounded history again.
    s = Session()
    s.open_lesson("adagrad-decay")
    assert all(run.history.full_resolution for run in s.race.runs)
    s.race.step(4999)
    assert s.step().open_verdict
    assert s.verdict.values == {"AdaGrad": 3490, "RMSprop": 1952}
    assert s.verdict == shipped_verdict("adagrad-decay")
    s.load(presets.load("linreg-optimizers"))
    assert not any(run.history.full_resolution for run in s.race.runs)


def test_stepping_a_lesson_to_its_end_judges_it_once():
    s = Session()
    s.open_lesson("adam-bias-correction")  # 50 steps
    s.race.step(40)
    for _ in range(9):
        assert not s.step().open_verdict
    assert s.verdict is None and "verdict" not in s.view().available
    assert s.step().open_verdict
    verdict = s.verdict
    assert verdict.outcome == "holds" and verdict == shipped_verdict("adam-bias-correction")
    assert "Adam, uncorrected had a highest update norm of 0.09061 in steps 1–10" in (
        verdict.summary
    )
    assert not s.step().open_verdict  # judged already: no second verdict
    assert s.verdict is verdict


def test_reset_clears_the_verdict_and_the_next_finish_judges_again():
    s = Session()
    s.open_lesson("adam-bias-correction")
    s.race.step(50)
    assert s.stream_ended(s.race).open_verdict
    first = s.verdict
    s.reset()
    assert s.lesson is not None and s.verdict is None  # the lesson stays, its verdict goes
    s.race.step(49)
    assert s.step().open_verdict and s.verdict == first


def test_a_lesson_lasts_until_another_experiment_is_loaded():
    s = Session()
    s.open_lesson("momentum-ravine")
    s.race.step(600)
    s.stream_ended(s.race)
    assert s.verdict is not None
    s.load(presets.load("schedules"))
    assert s.lesson is None and s.verdict is None and "verdict" not in s.view().available
    assert s.view().lesson is None

    s.open_lesson("momentum-ravine")
    entries, steps, _ = s.race_draft()
    s.start_race(entries[::-1], steps, go=False)  # the lanes in another order: another race
    assert s.lesson is None
    s.open_lesson("momentum-ravine")
    renamed = [RaceEntry(e.config, f"{e.name}!") for e in entries]
    s.start_race(renamed, steps, go=False)  # other lanes: not the lesson's measurement
    assert s.lesson is None
    s.open_lesson("momentum-ravine")
    other_task = [RaceEntry(e.config.replace(task="quadratic", task_hypers={}), e.name)
                  for e in entries]  # fmt: skip
    s.start_race(other_task, steps, go=False)
    assert s.lesson is None

    s.open_lesson("momentum-ravine")
    s.leave_race()
    assert s.lesson is None and not s.racing

    s.open_lesson("adam-bias-correction")
    s.open_lesson("nadam-quadratic")  # one lesson replaces another
    assert s.lesson.name == "nadam-quadratic" and len(s.race.runs) == 3


def test_a_single_run_lesson_loads_as_the_single_run_and_an_edit_is_your_variant():
    lesson = solo_lesson()
    s = solo()
    s.open_lesson(lesson)
    assert not s.racing and s.config == lesson.experiment.config and s.planned_steps == 40
    assert s.lesson is lesson
    s.race.step(39)
    assert s.step().open_verdict
    assert s.verdict == lesson.run()[1] and s.verdict.outcome == "holds"
    change = s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 0.01})
    # Not applied halfway: the variant is judged on a run with its knobs from step 0.
    assert "r resets the run to apply it" in texts(change)
    assert s.run.config.lr == 0.1 and s.lesson is lesson and s.verdict is not None
    s.reset()
    variant = s.lesson
    assert variant.label == "your variant" and variant.experiment.config.lr == 0.01
    assert s.verdict is None
    s.race.step(39)
    assert s.step().open_verdict
    assert s.verdict == lesson.with_knobs({"lr": 0.01}).run()[1]
    assert s.verdict.outcome == "fails"  # at lr 0.01 the bowl takes longer than 40 steps
    s.pick("optimizer", "adam")
    s.reset()
    assert s.lesson is None  # another optimizer: the lesson's lane is gone


def test_a_lesson_that_reads_the_optimizers_state_records_it_in_the_app_too():
    s = Session()
    s.open_lesson("amsgrad-step")
    assert {run.config.state_every for run in s.race.runs} == {10}
    s.race.step(2999)
    assert s.step().open_verdict
    assert s.verdict == shipped_verdict("amsgrad-step")
    entries, steps, _ = s.race_draft()
    s.start_race([RaceEntry(e.config.with_knobs({"lr": 0.05}), e.name) for e in entries], steps)
    assert s.lesson.label == "your variant"
    assert {run.config.state_every for run in s.race.runs} == {10}


def test_a_lesson_that_reads_the_sharpness_measures_it_in_the_app_too():
    """edge-of-stability judges λ_max × lr/2: the app's run measures the sharpness every 10
    steps as `optplay lesson` does, so it reaches the same verdict, and a variant does too."""
    s = Session()
    s.open_lesson("edge-of-stability")
    assert {run.config.sharpness_every for run in s.race.runs} == {10}
    assert not s.dirty  # measuring is how the lesson is watched, not an edit
    s.race.step(299)
    assert s.step().open_verdict
    assert s.verdict == shipped_verdict("edge-of-stability")
    assert s.verdict.outcome == "holds"
    s.edit("optimizer", {**s.config.optimizer_hypers, "lr": 0.03})
    s.reset()
    assert s.lesson.label == "your variant"
    assert {run.config.sharpness_every for run in s.race.runs} == {10}
    s.race.step(299)
    assert s.step().open_verdict
    assert s.verdict.outcome == "fails"  # 2/η ten times higher: the sharpness ends far below


def test_a_race_lessons_lanes_edited_are_your_variant_judged_as_the_cli_judges_it():
    """momentum-ravine with Momentum at momentum 0.5 and 700 steps, from the race setup's
    draft: the lesson stays, labelled, and its verdict is `optplay lesson --set` 's."""
    s = Session()
    s.open_lesson("momentum-ravine")
    shipped = s.lesson
    entries, _, target = s.race_draft()
    entries[1] = RaceEntry(entries[1].config.with_knobs({"momentum": 0.5}), entries[1].name)
    s.start_race(entries, 700, target, go=False)
    variant = s.lesson
    assert variant.label == "your variant" and variant.name == shipped.name
    assert variant.steps == 700 and variant.flips == ()
    assert "Momentum: momentum (lr 0.01, momentum 0.5)" in variant.setup()
    s.race.step(699)
    assert s.step().open_verdict
    headless = shipped.with_knobs({}, {"Momentum": {"momentum": 0.5}})
    headless = dataclasses.replace(
        headless, experiment=dataclasses.replace(headless.experiment, steps=700)
    )
    assert s.verdict == headless.run()[1]
    assert s.view().lesson == variant and s.view().verdict == s.verdict
    s.start_race(shipped.experiment.race, shipped.steps, go=False)  # edited back
    assert s.lesson == shipped and s.lesson.label is None and s.verdict is None


def test_a_single_run_lesson_that_diverges_is_judged_when_it_stops():
    diverging = lessons.loads(
        "sgd-bowl", SOLO_LESSON_EXPERIMENT.replace("lr = 0.1", "lr = 1e10"), SOLO_LESSON
    )
    s = Session()
    s.open_lesson(diverging)
    while s.run.diverged_at is None:
        s.race.step(1)  # as the stream steps: it stops at the divergence, before step 40
    assert s.race.steps_done < diverging.steps
    at = s.run.diverged_at
    ended = s.stream_ended(s.race)
    assert ended.open_verdict and f"diverged at step {at}" in texts(ended)
    assert s.verdict.outcome == "fails" and s.verdict == diverging.run()[1]
    assert f"sgd did not reach loss 0.001 in {at - 1} steps" in s.verdict.summary.lower()


def test_an_unknown_lesson_is_an_error_naming_the_lessons():
    s = Session()
    change = s.open_lesson("momentum-rav")
    assert not change.ok and change.notices[0].severity == "error"
    assert "unknown lesson 'momentum-rav'" in texts(change) and "momentum-ravine" in texts(change)
    assert s.lesson is None and not s.racing


# -- the Model tab: its lane, its keys, the fit in the status -----------------------------------


def model_race(s: Session, *optimizers_lr: tuple[str, float]) -> None:
    base = RunConfig(task="binary-mlp", optimizer="adam", task_hypers={"dataset": "xor"})
    entries = [RaceEntry(base.replace(optimizer=o, optimizer_hypers={"lr": lr}))
               for o, lr in optimizers_lr]  # fmt: skip
    assert s.start_race(entries, 100, go=False).ok


def test_model_tab_shows_the_leader_until_a_lane_is_chosen_and_cycles_through_every_lane():
    s = solo(task="binary-mlp", task_hypers={"dataset": "xor"})
    view = s.view()
    assert view.model_lane == 0 and view.leader_lane is None  # a single run: its own lane
    assert "model_lane" not in view.available and "model_points" in view.available
    model_race(s, ("sgd", 1e-4), ("adam", 0.05), ("momentum", 1e-4))
    s.race.step(40)
    view = s.view()
    losses = [lane.loss for lane in view.lanes]
    assert view.leader_lane == losses.index(min(losses)) == 1  # adam at 0.05 leads
    assert view.model_lane == view.leader_lane and "model_lane" in view.available
    shown = []
    for _ in range(4):
        s.next_model_lane()
        shown.append(s.view().model_lane)
    assert shown == [2, 0, 1, 2]  # from the leader on, wrapping around
    s.race.step(5)  # the choice holds while the race goes on
    assert s.view().model_lane == 2
    s.leave_race()  # what is trained changed: the single run's own lane again
    assert s.view().model_lane == 0
    model_race(s, ("sgd", 1e-4), ("adam", 0.05))
    s.race.step(20)
    assert s.view().model_lane == s.view().leader_lane == 1  # a new race: the leader again


def test_model_keys_apply_only_to_tasks_with_a_view():
    s = solo()  # rosenbrock: the Path tab is its picture
    view = s.view()
    assert not {"model_lane", "model_points"} & view.available
    assert s.next_model_lane() == Change() and s.view().model_lane == 0
    s.pick("task", "digits-mlp")
    assert "model_points" not in s.view().available  # no points on a confusion matrix
    s.pick("task", "linear-regression")
    s.step()
    s.pin("first")  # a run and a pin: two lanes to choose from
    assert "model_lane" in s.view().available
    s.next_model_lane()
    view = s.view()
    assert view.model_lane == 1 and view.lanes[1].name == "first"


def test_status_shows_the_fit_next_to_least_squares_once_the_run_stops():
    s = solo(task="linear-regression", optimizer="sgd", optimizer_hypers={"lr": 0.1})
    assert s.status().fit is None  # nothing trained yet
    for _ in range(3):
        s.step()
    run = s.run
    fit = s.status().fit
    assert fit == run.task.fit_summary(run.params)
    assert fit.startswith(f"w = {float(run.params['w'][0]):.6g}, b = ") and "least squares" in fit
    s.pick("task", "quadratic")
    s.reset()
    s.step()
    assert s.status().fit is None  # no exact solution to compare with


# -- one ranking: eval loss everywhere ----------------------------------------------------------

#: A spiral race whose last batch losses and eval losses order the racers differently at step
#: 100: adam has the lowest batch loss, sgd the lowest eval loss.
RANKED_BY_EVAL = (("sgd", 0.1), ("adam", 0.01), ("momentum", 0.05))


def ranked_race(s: Session, steps: int = 100) -> None:
    base = RunConfig(
        task="binary-mlp", optimizer="adam", task_hypers={"dataset": "spiral"}, eval_every=50
    )
    entries = [RaceEntry(base.replace(optimizer=o, optimizer_hypers={"lr": lr}))
               for o, lr in RANKED_BY_EVAL]  # fmt: skip
    assert s.start_race(entries, 300, go=False).ok
    s.race.step(steps)


def test_a_race_is_ranked_by_eval_loss_in_the_status_panel_model_tab_and_table():
    from engine.compare import rank_results

    s = Session()
    ranked_race(s)
    runs = s.race.runs
    batch = [run.history.last("loss") for run in runs]
    evals = [run.history.last("eval_loss") for run in runs]
    by_batch = sorted(range(3), key=batch.__getitem__)
    by_eval = sorted(range(3), key=evals.__getitem__)
    assert by_batch != by_eval and by_batch[0] != by_eval[0]  # the two orders differ
    status, view = s.status(), s.view()
    assert status.leader == s.race.names[by_eval[0]] == "sgd" and status.rank_by == "eval loss"
    assert status.loss == evals[by_eval[0]]
    assert view.leader_lane == by_eval[0] and view.model_lane == by_eval[0]
    assert view.ranking is not None and list(view.ranking.order) == by_eval
    rows, _, _, note = s.results()
    assert [rows[i].name for i in rank_results(rows).order] == [s.race.names[i] for i in by_eval]
    assert note.startswith("ranked by eval loss")
    assert "every one of them reached it" in note
    assert all(r.steps_to_target is not None for r in rows)  # every survivor is comparable


def test_before_any_evaluation_a_race_is_ranked_by_batch_loss_and_says_so():
    s = Session()
    ranked_race(s, steps=20)  # eval every 50: only the step-0 evaluation so far
    batch = [run.history.last("loss") for run in s.race.runs]
    status = s.status()
    assert status.rank_by == "batch loss" and status.loss == min(batch)
    assert s.results()[3].startswith("ranked by batch loss (no evaluation after step 0)")
