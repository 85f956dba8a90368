"""Names from files made safe for the terminal and for spreadsheets (issue 18, 12 and 13)."""

import csv

import pytest

from engine.compare import Race
from engine.history import export_history
from engine.run import RunConfig
from engine.textsafe import for_spreadsheet, for_terminal, shortened

PWNED = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"


def test_control_characters_are_escaped_for_the_terminal():
    shown = for_terminal(f"name {PWNED} end")
    assert shown == "name \\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m end"
    assert shown.isprintable()
    for sneaky in ("\u202e", "\u200b", "\u2028", "\u2029", "\u0085", "\n", "\r", "\t", "\x7f"):
        assert for_terminal(f"a{sneaky}b").isprintable()
    for fine in ("adam", "Adam (β₁ = 0.9) ✓", "学習率", "café", "x = 1; y = -2"):
        assert for_terminal(fine) == fine


@pytest.mark.parametrize("name", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_formula_like_names_are_quoted_for_spreadsheets(name):
    assert for_spreadsheet(name) == "'" + name


@pytest.mark.parametrize("name", ["sgd", "adam #2", "1e-3 lr", "", "'already"])
def test_plain_names_are_left_alone(name):
    assert for_spreadsheet(name) == name


def test_exported_csv_cells_cannot_be_formulas(tmp_path):
    base = RunConfig(task="quadratic", optimizer="sgd")
    race = Race.of(base, [{"optimizer": "sgd", "name": '=HYPERLINK("http://x","y")'},
                          {"optimizer": "adam", "name": "-1"}])  # fmt: skip
    race.step(2)
    path = tmp_path / "race.csv"
    export_history(race.lanes, path)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert {r[0] for r in rows[1:]} == {'\'=HYPERLINK("http://x","y")', "'-1"}
    assert all(not cell.startswith(("=", "+", "@")) for r in rows[1:] for cell in r)


def test_a_long_name_is_shortened_with_an_ellipsis():
    assert shortened("L" * 300, 10) == "L" * 9 + "…"
    assert shortened("adam", 10) == "adam"
    assert shortened("abcdefghij", 10) == "abcdefghij"
