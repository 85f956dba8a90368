"""Races, overlays, the results table, race experiment files and history export."""

import asyncio
import csv
import math

import numpy as np
import pytest

from engine import config
from engine.compare import TARGET_SERIES, Lane, Overlay, Race, format_results, pin, results
from engine.config import ConfigError, Experiment, RaceEntry
from engine.history import SERIES, STEP_SERIES, History, export_history, load_history_json
from engine.outcome import first_step_at_most
from engine.run import Run, RunConfig

ROSEN = RunConfig(task="rosenbrock", optimizer="sgd", seed=11)
RACERS = [
    {"optimizer": "sgd", "optimizer_hypers": {"lr": 1e-3}},
    {"optimizer": "momentum", "optimizer_hypers": {"lr": 1e-3}},
    {"optimizer": "adam", "optimizer_hypers": {"lr": 0.05}},
]


async def drain(stream) -> list:
    return [p async for p in stream]


def same_history(a: Run, b: Run) -> bool:
    for name in SERIES:
        for x, y in zip(a.history.buckets(name), b.history.buckets(name), strict=True):
            if x.tobytes() != y.tobytes():
                return False
    for x, y in zip(a.history.trajectory(), b.history.trajectory(), strict=True):
        if x.tobytes() != y.tobytes():
            return False
    return True


# -- the race ---------------------------------------------------------------------------------


def test_race_of_three_on_rosenbrock_shares_seed_and_start_and_the_table_is_right():
    race = Race.of(ROSEN, RACERS, history_capacity=None)
    assert race.names == ["sgd", "momentum", "adam"]
    starts = [run.params["xy"].copy() for run in race.runs]
    assert {run.config.seed for run in race.runs} == {11}
    assert all(np.array_equal(s, starts[0]) for s in starts)
    assert starts[0].tolist() == [-1.5, 2.0]  # rosenbrock's start point
    race.step(300)
    race.step(200)  # chunking does not matter

    for run in race.runs:
        path = run.history.trajectory()
        assert path.steps[0] == 0 and [path.xs[0], path.ys[0]] == [-1.5, 2.0]
        assert run.steps_done == 500
    # The first batch loss is the loss at the shared start: equal for every racer.
    assert len({run.history.buckets("loss").lasts[0] for run in race.runs}) == 1

    target = 1.0
    table = race.results(target_loss=target)
    assert [r.name for r in table] == race.names
    for row, run in zip(table, race.runs, strict=True):
        steps = run.history.buckets("loss").steps
        losses = run.history.buckets("loss").lasts
        assert len(losses) == 500 and steps.tolist() == list(range(1, 501))
        assert row.steps == 500
        assert row.final_loss == losses[-1]
        assert row.best_loss == losses.min()
        assert row.best_step == steps[int(np.argmin(losses))]
        evals = run.history.buckets("eval_loss")  # steps to target: on the eval series
        hits = np.flatnonzero(evals.lasts <= target)
        assert row.steps_to_target == (int(evals.steps[hits[0]]) if len(hits) else None)
        assert row.target_series == "eval_loss"
        assert row.best_eval_loss == evals.lasts[1:].min()
        assert row.seconds_per_step is not None and row.seconds_per_step > 0
        assert not row.diverged and row.diverged_at is None
        assert row.eval_step == 500 and row.eval_loss == run.history.last("eval_loss")
        assert row.optimizer == run.config.optimizer and row.task == "rosenbrock"
    # momentum reaches loss 1 within 500 steps here, plain SGD at the same lr does not.
    by_name = {r.name: r for r in table}
    assert by_name["momentum"].steps_to_target is not None
    assert by_name["sgd"].steps_to_target is None
    text = format_results(table, target)
    assert "steps to eval loss ≤ 1" in text and "never" in text
    assert "last batch loss" in text and "best batch loss" in text
    assert all(name in text for name in race.names)


def test_identical_racers_get_identical_data_and_histories():
    base = RunConfig(task="digits-mlp", optimizer="adam", seed=4, eval_every=10)
    race = Race([(base, "a"), (base, "b")])
    race.step(40)
    assert race.names == ["a", "b"]
    assert same_history(*race.runs)
    for k in race.runs[0].params:
        assert race.runs[0].params[k].tobytes() == race.runs[1].params[k].tobytes()


def test_a_diverging_racer_stops_and_the_others_go_on():
    race = Race.of(ROSEN, ["adam", {"optimizer": "sgd", "optimizer_hypers": {"lr": 1e6}}])
    race.step(10)
    adam, sgd = race.results()
    # Update 2's loss is already past 1e6 x the start (before: non-finite at update 4).
    assert sgd.diverged and sgd.diverged_at == 2 and sgd.steps == 1
    assert not adam.diverged and adam.steps == 10
    assert "at step 2" in format_results([adam, sgd])


def test_default_names_disambiguate_the_same_optimizer():
    race = Race.of(
        ROSEN,
        [
            {"optimizer": "adam", "schedule": "constant"},
            {"optimizer": "adam", "schedule": "cosine"},
            {"optimizer": "sgd"},
            {"optimizer": "sgd"},
        ],
    )
    assert race.names == ["adam constant", "adam cosine", "sgd", "sgd #2"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "1 to 6"),
        ([ROSEN] * 7, "1 to 6"),
        ([ROSEN, ROSEN.replace(seed=1)], "seed differs"),
        ([ROSEN, ROSEN.replace(task_hypers={"x0": 0.5})], "task_hypers differs"),
        ([ROSEN, ROSEN.replace(task="beale")], "task differs"),
        ([(ROSEN, "x"), (ROSEN, "x")], "'x' is used twice"),
    ],
)
def test_race_validation(entries, message):
    with pytest.raises(ValueError, match=message):
        Race(entries)


def test_race_of_rejects_shared_fields_per_racer():
    with pytest.raises(ValueError, match="seed is shared"):
        Race.of(ROSEN, ["adam", {"optimizer": "sgd", "seed": 3}])


# -- streaming --------------------------------------------------------------------------------


async def test_stream_runs_in_lockstep_and_matches_step():
    streamed = Race.of(ROSEN, RACERS)
    snaps = [p async for p in streamed.stream(max_steps=257)]
    assert snaps[-1].state == "finished" and streamed.state == "finished"
    assert snaps[-1].step == 257 and [p.step for p in snaps[-1].lanes] == [257] * 3
    assert snaps[-1].names == ("sgd", "momentum", "adam")
    assert all(all(p.step == s.step for p in s.lanes) for s in snaps)  # lockstep
    stepped = Race.of(ROSEN, RACERS)
    stepped.step(257)
    for a, b in zip(streamed.runs, stepped.runs, strict=True):
        assert same_history(a, b)


async def test_a_hold_stops_the_stream_in_lockstep_until_released_and_changes_nothing():
    held = Race.of(ROSEN, RACERS)
    states, steps_while_held = [], []
    async for p in held.stream(max_steps=20_000):
        if len(states) == 2:
            held.hold()  # as the app does when a key arrives
            await asyncio.sleep(0.02)  # the worker thread ends its lockstep slice
            before = held.steps_done
            await asyncio.sleep(0.02)  # ... and does nothing more while held
            steps_while_held.append(held.steps_done - before)
            assert all(run.steps_done == held.steps_done for run in held.runs)
            held.release()
        states.append(p.state)
    assert steps_while_held == [0] and not held.held
    assert states[-1] == "finished" and held.steps_done == 20_000
    stepped = Race.of(ROSEN, RACERS)
    stepped.step(20_000)
    for a, b in zip(held.runs, stepped.runs, strict=True):
        assert same_history(a, b)


async def test_a_hold_nobody_releases_lapses():
    from engine.stepping import HOLD_SECONDS

    race = Race.of(ROSEN, RACERS)
    race.hold()
    assert not race.held  # not streaming: nothing to hold
    consumer = asyncio.create_task(drain(race.stream(max_steps=10**9)))
    while race.steps_done == 0:
        await asyncio.sleep(0.01)
    race.hold()
    await asyncio.sleep(HOLD_SECONDS + 0.2)
    assert not race.held  # lapsed: the stream went on by itself
    before = race.steps_done
    await asyncio.sleep(0.1)
    assert race.steps_done > before
    race.cancel()
    await consumer


async def test_stream_pause_resume_cancel():
    race = Race.of(RunConfig(task="quadratic", optimizer="sgd"), ["sgd", "adam"])
    phase, paused_at, seen = "run", -1, []
    async for p in race.stream(steps_per_second=300):
        seen.append(p.state)
        if phase == "run" and len(seen) >= 2:
            race.pause()
            phase = "pausing"
        elif phase == "pausing" and p.state == "paused":
            paused_at = p.step
            race.step(1)  # a single step while paused is reported
            phase = "stepped"
        elif phase == "stepped":
            assert p.state == "paused" and p.step == paused_at + 1
            race.resume()
            phase = "resumed"
        elif phase == "resumed" and p.state == "running" and p.step > paused_at + 3:
            race.cancel()
            phase = "cancelled"
    assert phase == "cancelled" and race.state == "ready"
    assert all(run.steps_done == race.steps_done for run in race.runs)


async def test_stream_ends_when_every_racer_diverged():
    boom = {"optimizer": "sgd", "optimizer_hypers": {"lr": 1e6}}
    race = Race.of(ROSEN, [boom, {**boom, "name": "again"}])
    snaps = await asyncio.wait_for(_drain(race.stream()), 10)
    assert snaps[-1].state == "finished"
    assert [p.state for p in snaps[-1].lanes] == ["diverged", "diverged"]
    assert [p.diverged_at for p in snaps[-1].lanes] == [2, 2]


async def _drain(stream):
    return [p async for p in stream]


# -- overlays ---------------------------------------------------------------------------------


def test_pinned_overlays_join_the_lanes_and_the_table(tmp_path):
    solo = Run(ROSEN.replace(optimizer="nesterov", optimizer_hypers={"lr": 1e-3}))
    solo.step(50)
    overlay = pin(solo, "nesterov, earlier")
    assert overlay == Overlay("nesterov, earlier", solo)
    race = Race.of(ROSEN, RACERS[:2])
    race.step(20)
    lanes = [*race.lanes, Lane(overlay.name, overlay.run, pinned=True)]
    assert solo.steps_done == 50  # overlays are not stepped
    rows = results(lanes)
    assert rows[-1].pinned and rows[-1].steps == 50
    assert "(pinned)" in format_results(rows)
    export_history(lanes, tmp_path / "shown.csv")  # the app's "export every run shown"
    names = [r[0] for r in csv.reader((tmp_path / "shown.csv").open())][1:]
    assert names == ["sgd"] * 20 + ["momentum"] * 20 + ["nesterov, earlier"] * 50
    # results() takes any lanes: Runs, (name, Run) pairs, Lanes and Overlays.
    rows = results([solo, ("named", solo), Lane("lane", solo), overlay])
    assert [r.name for r in rows] == ["nesterov", "named", "lane", "nesterov, earlier"]


def test_a_single_run_is_a_race_of_one_lane():
    race = Race([ROSEN])
    race.step(30)
    run = Run(ROSEN)
    run.step(30)
    assert race.names == ["sgd"]
    assert race.runs[0].history.last("loss") == run.history.last("loss")


async def test_cannot_pin_a_running_run():
    run = Run(ROSEN)
    async for _ in run.stream(max_steps=100_000, steps_per_second=100):
        with pytest.raises(ValueError, match="pause or cancel"):
            pin(run)
        run.cancel()
    pin(run)


# -- race experiment files --------------------------------------------------------------------


def test_race_experiment_round_trip_reproduces_histories(tmp_path):
    race = Race.of(
        RunConfig(task="digits-mlp", optimizer="sgd", seed=2, eval_every=7),
        [
            {"optimizer": "adam", "optimizer_hypers": {"lr": 0.1 + 0.2}, "name": "Adam ✓"},
            {"optimizer": "sgd", "schedule": "cosine", "schedule_hypers": {"total_steps": 30}},
        ],
        history_capacity=None,
    )
    race.step(30)
    path = tmp_path / "race.toml"
    config.save(path, race.experiment(steps=30, name="two racers"))
    exp = config.load(path)
    assert exp.steps == 30 and exp.name == "two racers" and len(exp.race) == 2
    assert exp.race[0].name == "Adam ✓" and exp.race[1].name is None
    assert exp.config == exp.race[0].config
    again = Race.from_experiment(exp, history_capacity=None)
    assert again.names == race.names == ["Adam ✓", "sgd"]
    again.step(30)
    for a, b in zip(race.runs, again.runs, strict=True):
        assert same_history(a, b)
    assert config.loads(config.dumps(exp)) == exp


RACE_FILE = """\
task = "rosenbrock"
seed = 3
steps = 100

[[race]]
name = "SGD"
optimizer = "sgd"
[race.optimizer_hypers]
lr = 0.001

[[race]]
optimizer = "adam"
[race.optimizer_hypers]
lr = 0.01
beta1 = 0.5
"""


def test_race_file_reads_entries():
    exp = config.loads(RACE_FILE)
    assert [e.name for e in exp.race] == ["SGD", None]
    assert [e.config.optimizer for e in exp.race] == ["sgd", "adam"]
    assert all(e.config.seed == 3 for e in exp.race)
    assert exp.race[1].config.optimizer_hypers["beta1"] == 0.5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("beta1 = 0.5", "beta1 = 1.5"),
            "[[race]] #2: [race.optimizer_hypers] beta1 must be a "
            "number in [0, 1), got 1.5 (line 15)",
        ),
        (('optimizer = "adam"', 'optimizer = "adm"'), "[[race]] #2: optimizer: unknown optimizer"),
        (('name = "SGD"', 'name = "SGD"\nfoo = 1'), "[[race]] #1: unknown key 'foo'"),
        (
            ('task = "rosenbrock"', 'task = "rosenbrock"\noptimizer = "sgd"'),
            "optimizer belongs in each [[race]] entry",
        ),
        (('optimizer = "adam"', 'schedule = "cosine"'), "[[race]] #2: missing key 'optimizer'"),
    ],
)
def test_race_file_errors_name_the_entry_and_key(edit, message):
    with pytest.raises(ConfigError) as err:
        config.loads(RACE_FILE.replace(*edit, 1), "r.toml")
    assert message in str(err.value)


def test_race_file_needs_two_to_six_entries():
    one = RACE_FILE.split("[[race]]\noptimizer")[0]
    with pytest.raises(ConfigError, match="2 to 6"):
        config.loads(one, "r.toml")
    with pytest.raises(ValueError, match="2 to 6"):
        Experiment.of_race([ROSEN])
    with pytest.raises(ValueError, match="first race entry"):
        Experiment(ROSEN.replace(seed=1), race=(RaceEntry(ROSEN), RaceEntry(ROSEN)))


# -- full-resolution histories, timing and export ---------------------------------------------


def test_full_resolution_history_never_folds():
    h = History(capacity=None)
    n = 10_000
    for step in range(1, n + 1):
        h.record(step, float(step), 0.1, 1.0, 0.1, 0.1)
    assert h.width("loss") == 1 and len(h) == n
    assert h.buckets("loss").lasts.tolist() == [float(s) for s in range(1, n + 1)]
    assert first_step_at_most(h, "loss", 0.5) is None
    assert first_step_at_most(h, "loss", 1.0) == 1
    bounded = History(capacity=64)
    for step in range(1, 1001):
        bounded.record(step, 1000.0 - step, 0.1, 1.0, 0.1, 0.1)
    assert bounded.width("loss") > 1
    hit = first_step_at_most(bounded, "loss", 500.0)  # exact step is 500; at most a bucket late
    assert 500 <= hit < 500 + bounded.width("loss")
    with pytest.raises(ValueError, match="capacity"):
        History(capacity=1)


def test_run_measures_update_time_and_keeps_every_step_on_request():
    run = Run(RunConfig(task="digits-mlp", optimizer="adam", eval_every=1), history_capacity=None)
    run.step(5)
    assert run.seconds_per_step is not None and 0 < run.train_seconds
    assert run.seconds_per_step == run.train_seconds / 5
    run.reset()
    assert run.seconds_per_step is None and run.train_seconds == 0
    long = Run(RunConfig(task="quadratic", optimizer="sgd"), history_capacity=None)
    long.step(5000)
    assert long.history.width("loss") == 1 and len(long.history.buckets("loss").steps) == 5000


def test_export_csv_has_one_row_per_step_and_exact_values(tmp_path):
    run = Run(RunConfig(task="digits-mlp", optimizer="adam", eval_every=10), history_capacity=None)
    run.step(25)
    path = tmp_path / "h.csv"
    export_history(run, path)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["step", *STEP_SERIES, "eval_loss", "eval_accuracy"]
    assert len(rows) - 1 == 25
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 26))
    loss = run.history.buckets("loss").lasts
    assert [float(r[1]) for r in rows[1:]] == loss.tolist()
    evals = {int(r[0]): float(r[6]) for r in rows[1:] if r[6]}
    ev = run.history.buckets("eval_loss")
    assert evals == {
        s: v for s, v in zip(ev.steps.tolist(), ev.lasts.tolist(), strict=True) if s > 0
    }
    assert sorted(evals) == [10, 20]


def test_export_json_round_trips_and_keeps_eval_and_trajectory(tmp_path):
    run = Run(RunConfig(task="rosenbrock", optimizer="adam", eval_every=5), history_capacity=None)
    run.step(12)
    path = tmp_path / "h.json"
    export_history([("mine", run)], path)
    (rec,) = load_history_json(path)
    assert rec["name"] == "mine" and rec["task"] == "rosenbrock" and rec["resolution"] == 1
    assert rec["optimizer_hypers"] == run.config.optimizer_hypers
    assert rec["step"].tolist() == list(range(1, 13))
    for series in STEP_SERIES:
        assert rec[series].tobytes() == run.history.buckets(series).lasts.tobytes()
    assert rec["eval"]["step"].tolist() == [0, 5, 10]
    assert rec["trajectory"]["step"].tolist() == list(range(13))
    assert rec["trajectory"]["x"][-1] == run.params["xy"][0]


def test_export_nan_and_several_runs(tmp_path):
    # quadratic from x0 = 0: the gradient is exactly zero, so update_grad_ratio is NaN.
    flat = Run(RunConfig(task="quadratic", optimizer="sgd", task_hypers={"x0": 0.0}))
    flat.step(3)
    other = Run(RunConfig(task="quadratic", optimizer="adam"))
    other.step(2)
    path = tmp_path / "two.json"
    export_history([flat, other], path)
    a, b = load_history_json(path)
    assert np.isnan(a["update_grad_ratio"]).all() and a["name"] == "sgd" and b["name"] == "adam"
    csv_path = tmp_path / "two.csv"
    export_history({"flat": flat, "other": other}, csv_path)
    rows = list(csv.reader(csv_path.open()))
    assert rows[0][:2] == ["run", "step"] and len(rows) == 1 + 3 + 2
    assert rows[1][0] == "flat" and math.isnan(float(rows[1][6]))
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        export_history(flat, tmp_path / "h.txt")


# -- which loss (issue 18) --------------------------------------------------------------------


def test_races_and_bench_measure_steps_to_target_on_the_same_series():
    """Races used the noisy batch loss, bench the eval loss; both now use the eval loss, so
    the same runs give the same steps to the same target."""
    from engine.bench import BenchSpec, run_bench

    spec = BenchSpec(
        tasks=("digits-mlp",), optimizers=("sgd", "adam"), seeds=1, steps=300, check_every=20,
        task_hypers={"digits-mlp": {"hidden": 16}}, target=0.5,
        optimizer_hypers={"sgd": {"lr": 0.2}, "adam": {"lr": 0.01}},
    )  # fmt: skip
    report = run_bench(spec)
    race = Race([cfg for _, _, _, cfg in spec.configs(seed=0)])
    race.step(300)
    rows = race.results(target_loss=0.5)
    assert [r.target_series for r in rows] == [TARGET_SERIES] * 2 == ["eval_loss"] * 2
    bench_steps = [run.steps_to(0.5) for run in report.runs]
    assert [r.steps_to_target for r in rows] == bench_steps
    assert all(s is not None and s % 20 == 0 for s in bench_steps)
    # The batch-loss series would answer differently (sgd: a lucky mini-batch at step 92,
    # long before its eval loss gets there at 120): not what the table says.
    on_batches = [first_step_at_most(run.history, "loss", 0.5) for run in race.runs]
    assert on_batches != bench_steps and on_batches[0] < bench_steps[0]
    # The default target is the worst racer's best eval loss: everyone reached it.
    target = race.default_target()
    assert target == max(r.best_eval_loss for r in rows)
    assert all(r.steps_to_target is not None for r in race.results(target))


def test_a_lane_goes_on_by_itself_as_a_one_lane_race() -> None:
    base = RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.02})
    race = Race.of(base, ["adam", "sgd"])
    race.step(10)
    lane = race.runs[1]
    before = lane.history.buckets("loss").lasts.copy()
    solo = Race.continuing(lane, step=race.steps_done, name="sgd alone")
    assert solo.runs == [lane] and solo.steps_done == 10 and solo.names == ["sgd alone"]
    solo.step(5)  # the same run goes on: its history grows from where the race left it
    assert solo.steps_done == 15 and lane.steps_done == 15
    after = lane.history.buckets("loss").lasts
    assert np.array_equal(after[:10], before) and len(after) == 15
    fresh = Race([lane.config])
    fresh.step(15)  # and it is the run a single run of 15 steps would be
    assert np.array_equal(fresh.runs[0].history.buckets("loss").lasts, after)
