"""Hyper validation: typed values in, field-named messages out."""

import math

import pytest

from engine.hyper import Hyper, validate_all

BETA1 = Hyper("beta1", 0.9, low=0.0, high=1.0, high_open=True, help="first-moment decay")
LR = Hyper("lr", 1e-3, low=0.0, low_open=True, log=True)
STEPS = Hyper("batch_size", 32, kind="int", low=0, aliases={"full": 0})
FLAG = Hyper("nesterov", False, kind="bool")
DATASET = Hyper("dataset", "circle", kind="choice", choices=("circle", "xor", "spiral"))
MILESTONES = Hyper("milestones", (30, 60), kind="ints", low=1)


def test_beta_message_names_field_and_range():
    with pytest.raises(ValueError, match=r"^beta1 must be a number in \[0, 1\), got 1\.0$"):
        BETA1.validate(1.0)


@pytest.mark.parametrize(
    "raw", ["nan", "inf", "-inf", "", "   ", "abc", math.nan, math.inf, None, [1]]
)
def test_bad_floats_are_rejected_with_field_name(raw):
    with pytest.raises(ValueError, match=r"^lr must be a number in \(0, inf\)"):
        LR.validate(raw)


def test_strings_from_forms_become_typed_values():
    assert LR.validate(" 0.01 ") == 0.01
    assert STEPS.validate("64") == 64
    assert STEPS.validate("64.0") == 64
    assert STEPS.validate("full") == 0
    assert FLAG.validate("yes") is True
    assert FLAG.validate("off") is False
    assert DATASET.validate("XOR") == "xor"
    assert MILESTONES.validate("10, 20,30") == (10, 20, 30)


def test_ints_reject_fractions_and_bools():
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        STEPS.validate("2.5")
    with pytest.raises(ValueError, match="batch_size"):
        STEPS.validate(True)
    with pytest.raises(ValueError, match="milestones"):
        MILESTONES.validate("10, x")


def test_negative_lr_rejected():
    with pytest.raises(ValueError, match="lr must be"):
        LR.validate(-0.1)
    with pytest.raises(ValueError, match="lr must be"):
        LR.validate(0)


def test_validate_all_fills_defaults_and_rejects_unknown():
    values = validate_all("optimizer adam", [LR, BETA1], {"lr": "0.1"})
    assert values == {"lr": 0.1, "beta1": 0.9}
    with pytest.raises(ValueError, match="betas is not a hyperparameter of optimizer adam"):
        validate_all("optimizer adam", [LR, BETA1], {"betas": 0.1})


def test_format_round_trips():
    for h, v in [(LR, 0.001), (STEPS, 0), (FLAG, True), (MILESTONES, (3, 5)), (DATASET, "xor")]:
        assert h.validate(h.format(v)) == v
