"""The session and optimizer-state summaries: on from step 0 for small problems (under
SMALL_STATE_PARAMS parameters); for big ones off until the State tab is shown, then on for
every run trained (also after a reset, a new race or a preset), never part of the experiment
that is saved, and written by export next to the history."""

from __future__ import annotations

import csv
import json

import numpy as np

from engine.config import Experiment, RaceEntry
from engine.history import SERIES
from engine.run import Run, RunConfig
from engine.session import SMALL_STATE_PARAMS, STATE_EVERY, Session, parameter_count

ADAM = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
DIGITS = RunConfig(task="digits-mlp", optimizer="adam", task_hypers={"hidden": 8}, seed=3)
#: 64·2048 + 2048 + 2048·10 + 10 = 153,610 parameters: records only once watched.
BIG = DIGITS.replace(task_hypers={"hidden": 2048})


def race_of(base: RunConfig, *others: RunConfig) -> Experiment:
    return Experiment.of_race([RaceEntry(c) for c in (base, *others)], steps=100)


def test_small_problems_record_from_the_start_big_ones_once_watched():
    for config, recorded in ((ADAM, True), (DIGITS, True), (BIG, False)):
        s = Session(Experiment(config))
        assert (s.run.state_summaries is not None) == recorded, config.task_hypers
        assert parameter_count(s.run) < SMALL_STATE_PARAMS or not recorded
        assert s.experiment().config.state_every == 0  # never part of what is saved


def test_summaries_cost_nothing_until_the_state_tab_is_shown():
    s = Session(Experiment(BIG))
    s.race.step(40)
    assert s.run.state_summaries is None  # nothing recorded, nothing paid
    s.watch_state()
    assert s.run.state_summaries is not None
    s.race.step(40)
    steps, _ = s.run.state_summaries.table()
    # Recorded from where it was switched on, at the steps divisible by STATE_EVERY.
    assert steps.tolist() == [k for k in range(41, 81) if k % STATE_EVERY == 0]


def test_watched_sessions_record_in_every_run_they_make():
    s = Session(Experiment(ADAM))
    s.watch_state()
    s.race.step(20)
    s.pick("optimizer", "adagrad")  # a reset is pending
    s.reset()
    s.race.step(STATE_EVERY)
    assert s.run.config.optimizer == "adagrad"
    assert len(s.run.state_summaries) == 1
    s.start_race([RaceEntry(ADAM), RaceEntry(ADAM.replace(optimizer="rmsprop"))], 50, go=False)
    s.race.step(STATE_EVERY)
    assert [len(r.state_summaries) for r in s.race.runs] == [1, 1]
    s.leave_race()
    s.load(Experiment(DIGITS, steps=10))
    assert s.run.state_summaries is not None


def test_a_reset_keeps_the_run_and_its_recording():
    s = Session(Experiment(ADAM))
    s.watch_state()
    race = s.race
    s.race.step(STATE_EVERY)
    s.reset()
    assert s.race is race  # not rebuilt because the run records summaries
    assert s.run.state_summaries is not None and len(s.run.state_summaries) == 0
    s.race.step(STATE_EVERY)
    assert len(s.run.state_summaries) == 1


def test_watching_is_not_an_unsaved_change():
    s = Session(Experiment(ADAM))
    s.watch_state()
    assert not s.dirty and s.unsaved_changes() == []
    raced = Session(race_of(ADAM, ADAM.replace(optimizer="sgd")))
    raced.watch_state()
    assert [r.config.state_every for r in raced.race.runs] == [STATE_EVERY] * 2
    assert not raced.dirty
    assert all(e.config.state_every == 0 for e in raced.experiment().race)


def test_watching_changes_no_number_of_the_run():
    watched, plain = Session(Experiment(DIGITS)), Session(Experiment(DIGITS))
    watched.watch_state()
    for s in (watched, plain):
        s.race.step(3 * STATE_EVERY + 5)
    assert len(watched.run.state_summaries) == 3
    for name in SERIES:
        a, b = watched.run.history.buckets(name), plain.run.history.buckets(name)
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y, equal_nan=True), name
    for key, value in watched.run.params.items():
        assert np.array_equal(value, plain.run.params[key])


def test_export_writes_the_state_summaries_next_to_the_history(tmp_path):
    s = Session(race_of(DIGITS, DIGITS.replace(optimizer="sgd", optimizer_hypers={"lr": 0.1})))
    s.watch_state()
    s.race.step(2 * STATE_EVERY)
    change = s.export(str(tmp_path / "out.csv"))
    assert change.ok
    assert "out-state.csv" in change.notices[0].text
    with open(tmp_path / "out-state.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["run"], r["step"]) for r in rows] == [
        ("adam", "16"), ("adam", "32"), ("sgd", "16"), ("sgd", "32"),
    ]  # fmt: skip
    adam = s.race.runs[0]
    q10 = adam.state_summaries.band("W1", "effective_lr").q10
    assert [float(r["W1.effective_lr.q10"]) for r in rows[:2]] == q10.tolist()
    assert {float(r["W1.effective_lr.q10"]) for r in rows[2:]} == {0.1}  # SGD: α = η
    assert rows[0]["bias_correction1"] and rows[2]["bias_correction1"] == ""
    doc = json.loads((tmp_path / "out-state.json").read_text())
    assert doc["format"] == "optplay-state"
    assert [r["name"] for r in doc["runs"]] == ["adam", "sgd"]
    assert doc["runs"][0]["every"] == STATE_EVERY


def test_export_without_summaries_says_how_to_record_them(tmp_path):
    s = Session(Experiment(BIG))
    s.race.step(5)
    change = s.export(str(tmp_path / "h"))
    assert change.ok and (tmp_path / "h.csv").exists()
    assert not (tmp_path / "h-state.csv").exists()
    assert "the State tab records it" in change.notices[0].text


def test_a_run_of_its_own_records_as_often_as_it_was_told():
    # A config that records more often keeps its own rate when the tab is shown.
    s = Session(Experiment(ADAM.replace(state_every=2)))
    s.watch_state()
    s.race.step(4)
    assert s.run.state_summaries.every == 2 and len(s.run.state_summaries) == 2
    assert Run(ADAM).state_summaries is None
