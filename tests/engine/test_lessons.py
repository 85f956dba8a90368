"""Lessons: every shipped lesson gives the verdict it expects with the shipped seeds, every
flip condition flips it, tuned rates are the best of their grids, verdicts are computed from
the run, and bad lesson files get messages naming the file and the key.

An engine change that breaks a lesson's claim (or makes a stated condition false) fails here.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import pytest
from conftest import shipped_verdict

from engine import config, lessons
from engine.compare import Race
from engine.executors import ProcessExecutor
from engine.lessons import TABS, LessonError, seeds
from engine.lessons.measure import Metric, number
from engine.run import Run

NAMES = [
    "momentum-ravine",
    "noisy-momentum",
    "critical-damping",
    "adagrad-sparse",
    "adagrad-decay",
    "rmsprop-sine",
    "adam-bias-correction",
    "nadam-quadratic",
    "amsgrad-step",
    "adamw-decoupled",
    "adam-rnn-gradients",
    "adafactor-memory",
    "adaptive-adam-momentum",
    "warmup-adam",
    "cosine-restarts",
    "schedules-tuned",
    "keras-momentum-step",
    "noise-escape",
    "lr-overshoot",
    "rate-that-diverges",
    "edge-of-stability",
]
FLIPS = [(name, i) for name in NAMES for i in range(len(lessons.load(name).flips))]
TUNED = [(name, lane) for name in NAMES for lane in lessons.load(name).tuned]
LIBRARY = resources.files("engine.lessons").joinpath("library")


def lesson_texts(name: str) -> tuple[str, str]:
    folder = LIBRARY
    return (
        folder.joinpath(f"{name}.toml").read_text(encoding="utf-8"),
        folder.joinpath(f"{name}.lesson.toml").read_text(encoding="utf-8"),
    )


# -- the catalogue ----------------------------------------------------------------------------


def test_names_in_teaching_order_grouped_by_topic():
    assert lessons.names() == NAMES
    assert lessons.topics() == [
        "Momentum",
        "Adaptive rates",
        "Adam and its variants",
        "Schedules",
        "Noise and learning rates",
    ]
    groups = lessons.by_topic()
    assert [lesson.name for group in groups.values() for lesson in group] == NAMES
    assert all(lesson.topic == topic for topic, group in groups.items() for lesson in group)


def test_the_lessons_cover_the_issues_tasks_and_the_sparse_task():
    used = {lessons.load(name).experiment.config.task for name in NAMES}
    required = {"ill-conditioned", "saddle", "rosenbrock", "linear-regression", "quadratic"}
    required |= {"digits-mlp", "sine-rnn", "sparse-logistic"}
    assert required <= used


@pytest.mark.parametrize("name", NAMES)
def test_declarations_are_complete(name):
    lesson = lessons.load(name)
    for text in (lesson.title, lesson.claim, lesson.source, lesson.why, lesson.watch.what):
        assert text.strip() and "  " not in text
    assert lesson.watch.tab in TABS
    assert lesson.expect in ("holds", "fails", "undecided")
    assert lesson.flips, "every lesson states when its verdict would flip"
    assert lesson.measure.subject in lesson.lanes
    if lesson.is_race:
        assert len(lesson.lanes) == len(set(lesson.lanes)) >= 2
    assert lesson.steps <= 8000  # keeps the suite's time per lesson to a few seconds


@pytest.mark.parametrize("name", NAMES)
def test_experiment_file_is_a_plain_experiment_file(name):
    """The app, `optplay run --config` and the presets machinery can load it as it is."""
    with resources.as_file(LIBRARY.joinpath(f"{name}.toml")) as path:
        loaded = config.load(path)
    assert loaded == lessons.load(name).experiment
    assert config.loads(config.dumps(loaded)) == loaded


# -- verdicts with the shipped seeds ---------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    with ProcessExecutor(2) as executor:
        yield executor


@pytest.mark.parametrize("first", [0, pytest.param(100, marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", NAMES)
def test_verdict_over_8_seeds_is_what_the_lesson_expects(name, first, pool):
    """Every shipped lesson gives its verdict for seeds 0-7 and for seeds 100-107."""
    lesson = lessons.load(name)
    verdict = seeds.run_seeds(lesson, range(first, first + 8), executor=pool)
    assert verdict.outcome == lesson.expect, verdict.summary()
    # The text cites the numbers measured: seeds held, median and interval.
    text = verdict.summary()
    assert text.startswith(f"The claim holds on {verdict.held} of 8 seeds")
    assert f"median {number(verdict.median)}" in text
    assert f"[{number(verdict.interval[0])}, {number(verdict.interval[1])}]" in text
    assert len(verdict.dots()) == 8
    # It states the conditions under which it would come out otherwise.
    assert len(verdict.conditions) == len(lesson.flips)


@pytest.mark.parametrize(("name", "index"), FLIPS, ids=[f"{n}-{i}" for n, i in FLIPS])
def test_each_flip_condition_changes_the_verdict(name, index, pool):
    lesson = lessons.load(name)
    flipped = lesson.flipped(index)
    assert flipped.expect == lesson.flips[index].expect != lesson.expect
    verdict = seeds.run_seeds(flipped, range(8), executor=pool)
    assert verdict.outcome == flipped.expect, verdict.summary()


def test_seed_results_are_the_same_on_every_executor(pool):
    lesson = lessons.load("adagrad-sparse")
    serial = seeds.run_seeds(lesson, range(3))
    pooled = seeds.run_seeds(lesson, range(3), executor=pool)
    assert serial.results == pooled.results and serial.scores == pooled.scores
    assert serial.as_json() == pooled.as_json()


def test_seeds_share_data_across_lanes_and_change_it_between_seeds():
    lesson = lessons.load("rmsprop-sine").with_seed(5)
    assert {e.config.task_hypers["data_seed"] for e in lesson.entries} == {5}
    assert {e.config.seed for e in lesson.entries} == {5}
    one, two = (seeds.noise_floor(lessons.load("rmsprop-sine").with_seed(k)) for k in (0, 1))
    assert one != two and 0.001 < one < 0.003  # σ = 0.1 on a min-max scaled sine


def _variant(name: str, old: str, new: str, expect: str = "holds") -> lessons.Lesson:
    experiment, text = lesson_texts(name)
    text = text.replace(old, new, 1)
    text = re.sub(r'^expect = "\w+"', f'expect = "{expect}"', text, count=1, flags=re.M)
    text = text[: text.index("[[flips]]")] if "[[flips]]" in text else text
    return lessons.loads(name, experiment, text)


def test_a_lesson_against_itself_is_undecided():
    # The SGD lane given the Momentum lane's knobs: the same optimizer, rate and seeds.
    itself = lessons.load("momentum-ravine").with_knobs({}, {"SGD": {"momentum": 0.9}})
    verdict = seeds.run_seeds(itself, range(8))
    assert verdict.scores == (1.0,) * 8
    assert verdict.outcome == "undecided" and verdict.dots() == "········"


def test_a_rate_times_1_001_is_undecided_and_swapped_lanes_come_out_the_other_way():
    nudged = lessons.load("momentum-ravine").with_knobs(
        {}, {"SGD": {"lr": 0.01 * 1.001, "momentum": 0.9}}
    )
    verdict = seeds.run_seeds(nudged, range(8))
    assert verdict.outcome == "undecided", verdict.summary()
    assert 0.95 < verdict.median < 1.05
    swapped = _variant(
        "momentum-ravine",
        'subject = "Momentum"\ncompare = "ratio"\nbaseline = "SGD"',
        'subject = "SGD"\ncompare = "ratio"\nbaseline = "Momentum"',
    )
    original = seeds.run_seeds(lessons.load("momentum-ravine"), range(8))
    other_way = seeds.run_seeds(swapped, range(8))
    assert (original.outcome, other_way.outcome) == ("holds", "fails")
    assert other_way.median == pytest.approx(1 / original.median)


SEED_LUCK = """
title = "RMSprop at a high rate beats AdaGrad on the sine RNN"
topic = "x"
order = 1
claim = "RMSprop at lr 0.003 ends below AdaGrad."
source = "a lesson written to be seed luck"
why = "The gap is smaller than the seed spread."
expect = "holds"
[watch]
tab = "loss"
what = "w"
[measure]
kind = "final"
series = "eval_loss"
subject = "RMSprop"
compare = "ratio"
baseline = "AdaGrad"
below = 1.0
tie = [1.0, 1.0]
"""


@pytest.mark.parametrize("first", [0, 100])
def test_a_claim_that_is_seed_luck_is_undecided(first, pool):
    experiment, _ = lesson_texts("rmsprop-sine")
    experiment = experiment.replace("lr = 0.0003", "lr = 0.003")
    lesson = lessons.loads("luck", experiment, SEED_LUCK)
    verdict = seeds.run_seeds(lesson, range(first, first + 8), executor=pool)
    assert verdict.outcome == "undecided", verdict.summary()
    assert 0 < verdict.held < 8  # some seeds hold, others do not: luck


@pytest.mark.slow
@pytest.mark.parametrize(("name", "lane"), TUNED, ids=[f"{n}-{lane}" for n, lane in TUNED])
def test_tuned_rates_are_the_best_of_their_grids(name, lane):
    """A lesson that says "each at its best rate" must not have rigged the race."""
    lesson = lessons.load(name)
    metric = lesson.measure.metric
    index = lesson.lanes.index(lane)
    declared = lesson.entries[index].config.lr
    scores = {}
    for lr in lesson.tuned[lane]:
        cfg = lesson.with_lane_lr(lane, lr).entries[index].config
        run = Run(cfg, history_capacity=None)
        run.step(lesson.steps)
        value = metric.value(run)
        if value is None or math.isnan(value):
            value = math.inf  # never reached, or diverged before measuring
        scores[lr] = value if metric.better == "lower" else -value
    best = min(scores, key=scores.get)
    assert math.isclose(best, declared), f"{lane}: {scores}"


# -- verdicts are computed from the run --------------------------------------------------------


def test_a_shorter_run_gets_its_own_numbers():
    lesson = lessons.load("momentum-ravine")
    race = lesson.start()
    race.step(5)  # nobody is at loss 0.001 yet
    early = lesson.verdict(race)
    assert early.outcome == "undecided"
    assert early.values == {"SGD": None, "Momentum": None}
    assert "did not reach loss 0.001 in 5 steps" in early.summary
    race.step(195)  # step 200: Momentum has arrived, SGD has not
    middle = lesson.verdict(race)
    assert middle.outcome == "holds"
    assert middle.values["SGD"] is None and middle.values["Momentum"] == 98
    assert "SGD did not reach loss 0.001 in 200 steps" in middle.summary
    assert "counts as 0" in middle.summary


def test_verdict_takes_a_race_a_mapping_of_lanes_or_a_single_run():
    lesson = lessons.load("adam-bias-correction")
    race = lesson.start()
    assert isinstance(race, Race)
    race.step(lesson.steps)
    by_race = lesson.verdict(race)
    lanes = dict(zip(race.names, race.runs, strict=True))
    by_mapping = lessons.verdict("adam-bias-correction", lanes)
    assert by_race == by_mapping
    with pytest.raises(ValueError, match="no lane named 'Adam, uncorrected'"):
        lesson.verdict({"Adam": race.runs[0]})
    single = lessons.loads("one", 'task = "quadratic"\noptimizer = "adam"\nsteps = 5\n', ONE)
    run = single.start()
    assert isinstance(run, Run) and single.lanes == ("adam",)
    run.step(5)
    assert single.verdict(run).outcome == "holds"


def test_another_seed_is_another_run():
    lesson = lessons.load("adam-bias-correction").with_seed(3)  # the seed draws the start
    assert {e.config.seed for e in lesson.entries} == {3}
    _, verdict = lesson.run()
    assert verdict.values != shipped_verdict("adam-bias-correction").values


# -- lesson files: clear errors -----------------------------------------------------------------

ONE = """
title = "t"
topic = "x"
order = 1
claim = "c"
source = "s"
why = "w"
expect = "holds"
[watch]
tab = "loss"
what = "the loss"
[measure]
kind = "final"
subject = "adam"
compare = "value"
below = 100.0
[[flips]]
when = "never"
expect = "fails"
"""


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('title = "Momentum', 'titel = "Momentum', r"unknown key 'titel'"),
        ('tab = "path"', 'tab = "graph"', r"\[watch\] tab must be one of loss, lr, norms, path"),
        ('kind = "steps_to"', 'kind = "speed"', r"\[measure\] kind must be one of steps_to"),
        ("target = 1e-3\n", "", r"\[measure\] missing key 'target'"),
        ('subject = "Momentum"', 'subject = "Adam"', r"subject must be one of SGD, Momentum"),
        ('baseline = "SGD"', 'baseline = "Momentum"', r"baseline must be one of SGD, got"),
        ("at_most = 0.5", "at_most = 0.5\nat_least = 0.1", r"exactly one threshold"),
        ("at_most = 0.5", 'at_most = "half"', r"at_most must be a finite number, got 'half'"),
        ('expect = "holds"', 'expect = "maybe"', r"expect must be one of holds, fails"),
        ('expect = "fails"', 'expect = "holds"', r"\[\[flips\]\] #1 expect must differ"),
        ('"task.condition" = 2.0', '"task.condition" = 0.5', r"condition must be a number"),
        ("lr = 0.5 }", "eta = 0.5 }", r"unknown knob 'eta'"),
        ('series = "loss"\ntarget', 'series = "eval_loss"\ntarget', r"must evaluate: eval_every"),
        ("order = 10", "order = -1", r"order must be an integer >= 0"),
        ("[[also]]\nkind", "[[also]]\nstart = 5\nkind", r"start does not apply to kind final"),
        ("[watch]", "[tuned]\nSGD = [0.1, 0.3]\n[watch]", r"SGD's lr 0.01 is not in its grid"),
        ("= 1e-3", "= [1]", r"target must be a finite number, got an array"),
        ("TOML", "TOML\n= oops", r"line \d+: "),
        ('tab = "path"', 'tab = "path"\nseries = "update"', r"series: the path tab has one view"),
        ('tab = "path"', 'tab = "norms"\nseries = "speed"', r"series must be one of grad, update"),
    ],
)
def test_bad_lesson_files_are_named(old, new, message):
    experiment, lesson = lesson_texts("momentum-ravine")
    if old == "TOML":
        lesson = lesson + "\n= oops\n"
    else:
        lesson = edited(lesson, old, new)
    with pytest.raises(LessonError, match=message) as err:
        lessons.loads("broken", experiment, lesson)
    assert str(err.value).startswith("lessons/broken.lesson.toml: ")


def test_bad_experiment_files_are_named_too():
    experiment, lesson = lesson_texts("momentum-ravine")
    with pytest.raises(LessonError, match=r"^lessons/broken.toml: .*lr must be a number"):
        lessons.loads("broken", edited(experiment, "lr = 0.01", "lr = -1"), lesson)
    with pytest.raises(LessonError, match=r"must set `steps`"):
        lessons.loads("broken", edited(experiment, "steps = 600\n", ""), lesson)
    unnamed = re.sub(r'name = "SGD"\n', "", experiment)
    with pytest.raises(LessonError, match=r"every \[\[race\]\] entry .* needs a name"):
        lessons.loads("broken", unnamed, lesson)


def test_unknown_lesson_lists_the_lessons():
    with pytest.raises(LessonError, match=r"^unknown lesson 'momentum' \(expected one of: "):
        lessons.load("momentum")


def test_readme_lists_every_lesson_once():
    readme = Path(__file__).resolve().parents[2] / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not next to the tests (installed package)")
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Lessons", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([a-z0-9-]+)`", section, flags=re.M)
    assert listed == NAMES


def test_the_mean_metric_averages_the_series_over_its_window():
    from engine.run import RunConfig

    cfg = RunConfig(
        task="ill-conditioned",
        optimizer="sgd",
        task_hypers={"grad_noise": 2.0},
        optimizer_hypers={"lr": 0.05},
    )
    run = Run(cfg, history_capacity=None)
    losses = []
    for _ in range(40):
        run.step(1)
        losses.append(float(run.history.buckets("loss").lasts[-1]))
    metric = Metric("mean", series="loss", start=21, stop=30)
    assert metric.value(run) == pytest.approx(sum(losses[20:30]) / 10)
    assert metric.label == "mean training loss in steps 21–30"
    assert metric.phrase(metric.value(run), run).startswith("had a mean training loss of ")


def test_a_lessons_tie_band_is_read_and_checked():
    experiment, text = lesson_texts("momentum-ravine")
    banded = lessons.loads(
        "t", experiment, text.replace("at_most = 0.5", "at_most = 0.5\ntie = [0.9, 1.1]")
    )
    assert banded.measure.tie_band == (0.9, 1.1)
    assert lessons.load("momentum-ravine").measure.tie_band is None  # the default: ±5%
    with pytest.raises(LessonError, match=r"\[measure\] tie must be \[lo, hi\].*got \[2.0, 1.0\]"):
        lessons.loads(
            "t", experiment, text.replace("at_most = 0.5", "at_most = 0.5\ntie = [2.0, 1.0]")
        )


def test_state_bytes_is_the_optimizers_measured_state():
    """Adam keeps m and v (two parameter-sized float64 arrays); Adafactor a row and a column
    per matrix and a full v per vector; nothing before the first step."""
    lesson = lessons.load("adafactor-memory")
    metric = lesson.measure.metric
    adam, adafactor = (Run(entry.config) for entry in lesson.entries)
    assert adam.state_bytes == 0
    adam.step(1)
    adafactor.step(1)
    sizes = {name: a.shape for name, a in adam.params.items()}
    n = sum(math.prod(shape) for shape in sizes.values())
    assert metric.value(adam) == adam.state_bytes == 2 * n * 8
    factored = sum(sum(shape) if len(shape) == 2 else math.prod(shape) for shape in sizes.values())
    assert metric.value(adafactor) == factored * 8
    assert metric.label == "bytes of optimizer state"


def test_lessons_that_measure_update_norms_watch_that_series():
    for name in ("adam-bias-correction", "adagrad-decay"):
        watch = lessons.load(name).watch
        assert watch.view == "norms:update" and watch.series_label == "update norm"
    assert lessons.load("momentum-ravine").watch.view == "path"
    # amsgrad-step measures the effective rate, from the optimizer's state: the State tab.
    assert lessons.load("amsgrad-step").watch.view == "state"


def test_the_effective_rate_is_read_from_the_state_summaries_every_10_steps():
    """amsgrad-step's lanes record their state every 10 steps (the app's too), and the rise of
    AMSGrad's effective rate from step 1,000 is its bias correction's growth, exactly."""
    lesson = lessons.load("amsgrad-step")
    assert lesson.records_state and not lessons.load("momentum-ravine").records_state
    race, verdict = lesson.run()
    assert {run.config.state_every for run in race.runs} == {10}
    beta2 = 0.999
    corrected = math.sqrt((1 - beta2**3000) / (1 - beta2**1000))
    assert math.isclose(verdict.values["AMSGrad"], corrected, rel_tol=1e-6)
    assert verdict.values["AMSGrad, tutorial's formula"] is None  # it records no such summary
    summaries = race.runs[1].state_summaries
    band = summaries.band("x", "effective_lr")
    assert list(band.steps) == list(range(10, lesson.steps + 1, 10))


def test_the_sharpness_is_measured_every_10_steps_and_judged_against_2_over_lr():
    """edge-of-stability's run measures λ_max every 10 steps; its measure is the mean of
    λ_max × lr/2 over steps 151-300, each λ_max with the lr of its own step (a schedule's)."""
    lesson = lessons.load("edge-of-stability")
    assert lesson.records_sharpness and not lesson.records_state
    assert not lessons.load("amsgrad-step").records_sharpness
    run, verdict = lesson.run()
    assert run.config.sharpness_every == 10
    sharp = run.history.buckets("sharpness")
    assert list(sharp.steps) == list(range(10, 301, 10))
    late = [v for step, v in zip(sharp.steps, sharp.lasts, strict=True) if step > 150]
    assert verdict.values["sgd"] == pytest.approx(sum(late) / len(late) * 0.3 / 2, rel=1e-12)
    assert 0.8 < verdict.values["sgd"] < 1.2  # at the edge: λ_max near 2/lr
    scheduled = lesson.experiment.config.replace(
        schedule="step", schedule_hypers={"step_size": 30}, sharpness_every=10
    )
    run = Run(scheduled, history_capacity=None)
    run.step(100)
    lrs = dict(zip(run.history.buckets("lr").steps, run.history.buckets("lr").lasts, strict=True))
    sharp = run.history.buckets("sharpness")
    assert len(set(lrs.values())) > 1  # the schedule changed the rate within the run
    expected = [v * lrs[step] / 2 for step, v in zip(sharp.steps, sharp.lasts, strict=True)]
    metric = Metric("mean", series="sharpness_lr")
    assert metric.value(run) == pytest.approx(sum(expected) / len(expected), rel=1e-12)
    assert metric.label == "mean sharpness × lr/2"


def test_the_setup_lists_the_knobs_a_lesson_is_about_at_their_defaults_too():
    """momentum 0.9 and AdamW's λ 0.01 are the defaults, and the very knobs the lessons are
    about: the setup names them (and the value they are compared with on the other lanes)."""
    ravine = lessons.load("momentum-ravine").setup()
    assert "SGD: sgd (lr 0.01, momentum 0); Momentum: momentum (lr 0.01, momentum 0.9)" in ravine
    adamw = lessons.load("adamw-decoupled").setup()
    assert "AdamW: adamw (lr 0.001, weight_decay 0.01)" in adamw
    assert "Adam, no decay: adam (lr 0.001, weight_decay 0)" in adamw
    # A knob a flip changes is shown at its shipped value: beta2 for the bias correction.
    bias = lessons.load("adam-bias-correction")
    flipped = {k.split(".")[-1] for f in bias.flips for k in f.knobs}
    assert flipped <= bias.about()
    for key in flipped - {"lr"}:
        assert f"{key} " in bias.setup()


def test_a_variant_and_a_flip_are_labelled_and_judged_by_the_same_measurement():
    lesson = lessons.load("momentum-ravine")
    assert lesson.label is None and lesson.flipped(0).label == "flip 1"
    configs = [e.config.with_knobs({"momentum": 0.5}) if e.name == "Momentum" else e.config
               for e in lesson.entries]  # fmt: skip
    variant = lesson.variant(configs, 600)
    assert variant.label == "your variant" and variant.measure == lesson.measure
    assert variant.lanes == lesson.lanes and variant.flips == ()
    assert variant.run()[1] == lesson.with_knobs({}, {"Momentum": {"momentum": 0.5}}).run()[1]
    with pytest.raises(ValueError, match="2 lanes, got 1"):
        lesson.variant(configs[:1], 600)
