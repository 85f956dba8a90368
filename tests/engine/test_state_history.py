"""A run's optimizer state per parameter, state summaries over time, and their export."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from engine import optimizers
from engine.history import (
    SERIES,
    SERIES_HELP,
    SHARPNESS_SERIES,
    STEP_SERIES,
    export_history,
    load_history_json,
)
from engine.optimizer_state import Quantity, Summary
from engine.run import Run, RunConfig, RunConfigError
from engine.state_history import (
    StateSummaries,
    export_state,
    load_state_json,
    quantiles_into,
)

SMALL = {"hidden": 6, "n_samples": 200, "n_features": 5, "batch_size": 16}


def blobs(optimizer: str, **kw) -> Run:
    knobs = kw.pop("optimizer_hypers", {})
    cfg = RunConfig(
        task="blobs-mlp", optimizer=optimizer, task_hypers=SMALL, optimizer_hypers=knobs, **kw
    )
    return Run(cfg)


def _history_bytes(run: Run) -> bytes:
    h = run.history
    parts = [h.buckets(s).lasts.tobytes() for s in (*STEP_SERIES, "eval_loss")]
    return b"".join(parts) + run._flat.tobytes()


# -- per-parameter views ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adadelta", "nadam", "momentum", "lion"])
def test_run_state_per_parameter_is_the_state_of_stepping_each_parameter_alone(name):
    """The run steps one flat buffer; its per-parameter state, derived quantities and params
    equal (bit for bit) an optimizer stepping each parameter on its own with the same
    gradients and rates."""
    knobs = {k: v for k, v in optimizers.validate(name, {}).items() if k != "lr"}
    if name == "rmsprop":
        knobs.update(centered=True, momentum=0.5, weight_decay=0.01)
    run = blobs(name, optimizer_hypers=knobs, eval_every=0, schedule="cosine")
    alone = optimizers.create(name, **optimizers.validate(name, knobs))
    params = {k: v.copy() for k, v in run.params.items()}
    for _ in range(25):
        before = {k: v.copy() for k, v in params.items()}
        run.step()
        view = run.inspect()
        grads = {k: p.grad.copy() for k, p in view.params.items()}
        alone.step(params, grads, lr=run.history.last("lr"))
        for key, p in view.params.items():
            assert params[key].tobytes() == run.params[key].tobytes()
            np.testing.assert_array_equal(p.update, run.params[key] - before[key])
            mine = alone.state(key)
            assert set(p.state) == set(mine)
            for k, v in mine.items():
                assert np.asarray(p.state[k]).tobytes() == np.asarray(v).tobytes(), (key, k)
            derived = alone.derived(key, grads[key], before[key])
            assert set(p.derived) == set(derived)
            for k, v in derived.items():
                assert p.derived[k].tobytes() == v.tobytes(), (key, k)
            assert p.scalars == alone.scalars(key)._asdict()
    state = run.optimizer_state()
    assert list(state) == ["W1", "b1", "W2", "b2"]
    flat = run.optimizer._state["flat"].bufs
    for key, arrays in state.items():
        for k, v in arrays.items():
            if isinstance(v, np.ndarray):
                assert not v.flags.writeable and np.shares_memory(v, flat[k])  # views
                assert v.shape == run.params[key].shape


def test_a_2d_task_shows_coordinates_x_and_y():
    run = Run(RunConfig(task="rosenbrock", optimizer="adam", optimizer_hypers={"lr": 0.01}))
    run.step(3)
    view = run.inspect()
    assert list(view.params) == ["x", "y"]
    x, y = view.params["x"], view.params["y"]
    assert x.shape == () and x.step == 3
    assert float(x.state["exp_avg"]) == run.optimizer.state("flat")["exp_avg"][0]
    assert float(y.derived["effective_lr"]) > 0 and float(x.grad) != float(y.grad)
    assert float(x.update) + float(y.update) != 0.0
    assert set(x.derived) == {"exp_avg_hat", "exp_avg_sq_hat", "rms", "effective_lr"}
    # Adafactor steps "xy" as one vector (not elementwise): the coordinates are its halves.
    run = Run(RunConfig(task="rosenbrock", optimizer="adafactor"))
    run.step(2)
    view = run.inspect()
    assert list(view.params) == ["x", "y"] and float(view.params["y"].state["variance"]) > 0


def test_non_elementwise_optimizer_keeps_state_per_parameter():
    run = blobs("adafactor", eval_every=0)
    run.step(4)
    state = run.optimizer_state()
    assert state["W1"]["row_var"].shape == (5, 1) and state["W1"]["col_var"].shape == (1, 6)
    assert state["b1"]["variance"].shape == (6,) and "row_var" not in state["b1"]
    view = run.inspect(["W1"])
    assert list(view.params) == ["W1"]
    assert view.params["W1"].derived["effective_lr"].shape == (5, 6)
    assert view.params["W1"].scalars["clip"] >= 1.0


def test_before_the_first_step_and_unknown_names():
    run = blobs("adam")
    view = run.inspect()
    assert view.step == 0 and list(view.params) == ["W1", "b1", "W2", "b2"]
    p = view.params["W1"]
    assert p.state == {} and p.derived == {} and p.update is None and p.scalars == {}
    assert run.optimizer_state()["b2"] == {}
    with pytest.raises(ValueError, match=r"unknown parameter 'W3' \(expected one of: W1, b1"):
        run.inspect(["W3"])
    with run._lock:  # a stream is stepping: no waiting, and the result says so
        assert run.inspect().live


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("adam", {}),
        ("momentum", {"weight_decay": 0.01}),
        ("adadelta", {"weight_decay": 0.01}),
        ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
        ("radam", {}),
        ("adafactor", {}),
        ("lion", {}),
        ("rmsprop", {"centered": True}),
    ],
)
def test_reading_state_and_summaries_never_changes_the_run(name, knobs):
    """Summaries every step plus inspect() and optimizer_state() after each step, against a
    plain run: bit-identical histories and parameters."""
    watched = blobs(name, optimizer_hypers=knobs, state_every=1, eval_every=10)
    plain = blobs(name, optimizer_hypers=knobs, eval_every=10)
    for _ in range(40):
        watched.step()
        watched.inspect().snapshot()
        watched.optimizer_state()
    plain.step(40)
    assert _history_bytes(watched) == _history_bytes(plain)
    assert len(watched.state_summaries) == 40 and plain.state_summaries is None


# -- summaries ------------------------------------------------------------------------------


def test_quantiles_are_numpy_lower_order_statistics():
    rng = np.random.default_rng(0)
    out = np.empty(5)
    for n in (1, 2, 3, 9, 10, 11, 100, 4095, 4096, 4097, 8192, 10_001):
        for data in (rng.normal(size=n), np.round(rng.random(n) * 3), np.ones(n)):
            quantiles_into(data.copy(), out)
            want = np.quantile(data, [0, 0.1, 0.5, 0.9, 1], method="lower")
            assert out.tolist() == want.tolist(), n
    with_nan = rng.normal(size=5000)
    with_nan[17] = math.nan
    quantiles_into(with_nan, out)
    assert np.isnan(out).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "name", ["adam", "nadam", "radam", "rmsprop", "adagrad", "adamax", "adadelta", "adafactor"]
)
def test_a_record_is_the_quantiles_of_the_inspected_state(name, dtype):
    """Every recorded statistic equals np.quantile(method="lower") of the array it
    summarises, read back with inspect() (α summarised through √v̂ included)."""
    knobs = {"centered": True} if name == "rmsprop" else {}
    run = blobs(name, state_every=3, eval_every=0, dtype=dtype, optimizer_hypers=knobs)
    run.step(9)
    s = run.state_summaries
    assert s.groups == ("W1", "b1", "W2", "b2")
    view = run.inspect()
    for group, p in view.params.items():
        for q in s.summaries:
            source = "effective_lr" if q.via else q.source
            values = p.derived.get(source, p.state.get(source))
            values = {"abs": np.abs, "sqrt": np.sqrt, "": np.asarray}[q.op](values)
            band = s.band(group, q.key)
            assert band.steps.tolist() == [3, 6, 9]
            want = np.quantile(values, [0, 0.1, 0.5, 0.9, 1], method="lower")
            got = [band.min[-1], band.q10[-1], band.median[-1], band.q90[-1], band.max[-1]]
            assert got == want.astype(np.float64).tolist(), (group, q.key)


def test_adam_summaries_and_scalars():
    run = blobs("adam", state_every=3, eval_every=0)
    run.step(9)
    s = run.state_summaries
    assert [q.key for q in s.summaries] == ["effective_lr", "abs_m", "rms"]
    assert [q.key for q in s.scalars] == ["bias_correction1", "bias_correction2"]
    bc1 = s.scalar("bias_correction1")
    np.testing.assert_allclose(bc1.values, [1 - 0.9**3, 1 - 0.9**6, 1 - 0.9**9], rtol=1e-15)
    assert s.latest()["W1.effective_lr.median"] == s.band("W1", "effective_lr").median[-1]
    with pytest.raises(ValueError, match=r"adam records no summary 'abs_b' \(it records: "):
        s.band("W1", "abs_b")
    with pytest.raises(ValueError, match=r"unknown parameter 'W9'"):
        s.band("W9", "effective_lr")
    with pytest.raises(ValueError, match=r"adam tracks no scalar 'mu'"):
        s.scalar("mu")


def test_summaries_follow_the_optimizer():
    radam = blobs("radam", state_every=1, eval_every=0, optimizer_hypers={"beta2": 0.9})
    radam.step(8)
    rect = radam.state_summaries.scalar("rectified").values
    assert rect.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]  # ρ_t > 5 from step 6 with β₂ = 0.9
    assert np.isnan(radam.state_summaries.scalar("rect").values[0])
    sgd = blobs("momentum", state_every=1, eval_every=0, optimizer_hypers={"lr": 0.05})
    sgd.step(2)
    band = sgd.state_summaries.band("W1", "effective_lr")
    assert band.min.tolist() == band.max.tolist() == [0.05, 0.05]  # SGD: α = η everywhere
    assert [q.key for q in sgd.state_summaries.summaries] == ["effective_lr", "abs_b"]
    plain = blobs("sgd", state_every=1)
    assert [q.key for q in plain.state_summaries.summaries] == ["effective_lr"]


def test_state_every_is_validated_and_can_be_switched_on_mid_run():
    with pytest.raises(RunConfigError, match=r"^state_every: must be an integer >= 0"):
        RunConfig(task="quadratic", optimizer="sgd", state_every=-1)
    with pytest.raises(RunConfigError, match=r"^state_every: must be an integer"):
        RunConfig(task="quadratic", optimizer="sgd", state_every="often")
    run = blobs("adam", eval_every=0)
    run.step(5)
    assert run.state_summaries is None
    run.set_state_every(2)
    run.step(5)
    assert run.state_summaries.band("b2", "abs_m").steps.tolist() == [6, 8, 10]
    run.set_state_every(0)
    run.step(4)
    assert len(run.state_summaries) == 3  # kept, no longer recording
    with pytest.raises(RunConfigError, match="state_every"):
        run.set_state_every(-3)
    run.set_state_every(1)
    run.reset()
    assert len(run.state_summaries) == 0
    run.step(2)
    assert len(run.state_summaries) == 2


def _store(capacity: int | None) -> StateSummaries:
    q = Summary("effective_lr", "α", "rate", "", "effective_lr", "")
    return StateSummaries("adam", ["W"], [q], [Quantity("bc", "b", "x")], 1, capacity)


def test_summaries_are_bounded_keep_spikes_and_do_not_depend_on_chunking():
    rows = [np.array([s, s + 1, s + 2, s + 3, s + 4, -s], float) for s in range(1, 1001)]
    rows[499][4] = 1e9  # a one-step spike of the max
    one, bulk = _store(16), _store(16)
    for step, row in enumerate(rows, start=1):
        one.record(step, row)
        one.band("W", "effective_lr")  # fold after every record
        bulk.record(step, row)
    a, b = one.band("W", "effective_lr"), bulk.band("W", "effective_lr")
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    assert len(a.steps) <= 16 and one.width == 64 and len(one) == 1000
    assert a.max.max() == 1e9 and a.min[0] == 1.0 and a.steps[-1] == 1000
    assert a.median[-1] == 1002.0  # the last record's value, exact
    assert len(one.band("W", "effective_lr", n_points=4).steps) == 4
    full = _store(None)
    for step, row in enumerate(rows, start=1):
        full.record(step, row)
    steps, values = full.table()
    assert steps.tolist() == list(range(1, 1001)) and values.shape == (1000, 6)
    assert full.scalar("bc").values[-1] == -1000.0


# -- export ---------------------------------------------------------------------------------


def test_export_state_csv_and_json(tmp_path):
    run = Run(
        RunConfig(task="rosenbrock", optimizer="nadam", state_every=2),
        history_capacity=None,
    )
    run.step(10)
    export_state(run, tmp_path / "s.csv")
    export_state(run, tmp_path / "s.json")
    with (tmp_path / "s.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    s = run.state_summaries
    assert rows[0] == ["step", *s.columns] and rows[0][1] == "x.effective_lr.min"
    assert "mu" in rows[0] and "y.rms.q90" in rows[0]
    steps, values = s.table()
    assert [int(r[0]) for r in rows[1:]] == steps.tolist() == [2, 4, 6, 8, 10]
    assert [[float(c) for c in r[1:]] for r in rows[1:]] == values.tolist()
    (rec,) = load_state_json(tmp_path / "s.json")
    assert rec["optimizer"] == "nadam" and rec["every"] == 2 and rec["groups"] == ["x", "y"]
    assert rec["step"].tolist() == [2, 4, 6, 8, 10]
    band = s.band("y", "effective_lr")
    assert rec["params"]["y"]["effective_lr"]["q90"].tolist() == band.q90.tolist()
    assert rec["scalar_values"]["mu"].tolist() == s.scalar("mu").values.tolist()
    assert [q["key"] for q in rec["summaries"]] == ["effective_lr", "abs_m", "rms"]
    # The history's JSON export carries them too.
    export_history(run, tmp_path / "h.json")
    (hist,) = load_history_json(tmp_path / "h.json")
    assert hist["state_summaries"]["step"] == [2, 4, 6, 8, 10]
    assert "update_grad_ratio" in hist


def test_export_state_of_a_race_and_bad_requests(tmp_path):
    runs = [
        ("adam", blobs("adam", state_every=5, eval_every=0)),
        ("sgd", blobs("momentum", state_every=5, eval_every=0)),
        ("off", blobs("adam", eval_every=0)),
    ]
    for _, r in runs:
        r.step(10)
    export_state(runs, tmp_path / "race.csv")
    with (tmp_path / "race.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run"] for r in rows] == ["adam", "adam", "sgd", "sgd"]  # "off" records none
    assert rows[0]["W1.abs_b.q10"] == "" and rows[2]["W1.abs_b.q10"] != ""
    assert rows[2]["bias_correction1"] == ""
    export_state(runs[:2], tmp_path / "race.json")
    doc = json.loads((tmp_path / "race.json").read_text())
    assert [r["name"] for r in doc["runs"]] == ["adam", "sgd"]
    with pytest.raises(ValueError, match="no state summaries to export"):
        export_state(runs[2][1], tmp_path / "x.csv")
    with pytest.raises(ValueError, match=r"must end in \.csv or \.json"):
        export_state(runs[0][1], tmp_path / "x.txt")
    old = {"format": "optplay-state", "version": 1, "runs": []}
    (tmp_path / "empty.json").write_text(json.dumps(old))
    assert load_state_json(tmp_path / "empty.json") == []
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not an optplay state summary file"):
        load_state_json(tmp_path / "other.json")


def test_every_history_series_has_help_and_the_ratio_is_not_called_a_rate():
    assert set(SERIES_HELP) == set(SERIES) | set(SHARPNESS_SERIES)
    assert "not a learning rate" in SERIES_HELP["update_grad_ratio"]
    assert "update_grad_ratio" in STEP_SERIES and "effective_step" not in STEP_SERIES


def test_history_still_reads_the_old_series_name(tmp_path):
    run = Run(RunConfig(task="quadratic", optimizer="sgd"))
    run.step(3)
    renamed = run.history.buckets("update_grad_ratio").lasts
    assert run.history.buckets("effective_step").lasts.tobytes() == renamed.tobytes()
    assert run.metrics()["update_grad_ratio"] == renamed[-1]
    export_history(run, tmp_path / "h.json")
    doc = json.loads((tmp_path / "h.json").read_text())
    doc["runs"][0]["effective_step"] = doc["runs"][0].pop("update_grad_ratio")
    (tmp_path / "old.json").write_text(json.dumps(doc))
    (rec,) = load_history_json(tmp_path / "old.json")
    assert rec["update_grad_ratio"].tobytes() == renamed.tobytes()
