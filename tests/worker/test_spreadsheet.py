"""The one rule for CSV that mlpq writes: text that a spreadsheet would run as a formula is
escaped with a leading single quote (OWASP's advice); numbers, even negative ones, stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from api.sweeps.results import to_csv
from worker.store.spreadsheet import csv_text, is_number, safe_cell


@pytest.mark.parametrize("text", [
    "=1+2", '=HYPERLINK("http://example.com","x")', "=cmd|' /C calc'!A0", "+1+2", "+hills",
    "-2+3", "-coast", "@SUM(A1:A9)", "@sea", "\t=1+2", "\tindented", "\r=1+2", "-", "+", "=",
    "-inf", "-nan", "+Infinity", "-1_000", "- 5", "-5 ", "-1e", "-.e3",
])
def test_text_that_starts_like_a_formula_is_escaped(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", [
    "north", "", " =1+2", "a=b", "e@mail", "1-2", "O'Brien", "'=already", "5", "3.25",
])
def test_other_text_is_left_alone(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize("number", ["-5", "+5", "-0.25", "-.5", "-5.", "+1.5e3", "-2E-7", "12"])
def test_a_number_read_back_as_text_stays_a_number(number):
    """`-5` in a numeric column is a negative number, whether it arrives as -5 or as the text
    "-5" (as the csv module reads a cell): a spreadsheet reads it as the number, runs nothing."""
    assert is_number(number) and safe_cell(number) == number


@pytest.mark.parametrize("value", [-5, -0.25, 0, 7, 1e-9, float("-inf"), True, False, None])
def test_non_text_values_are_unchanged(value):
    assert safe_cell(value) is value


def test_csv_text_escapes_header_and_cells_and_round_trips():
    text = csv_text(["=name", "balance", "port"],
                    [["=1+2", -5, '=HYPERLINK("http://x","go")'], ["ok", "-5", "@sea"]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["'=name", "balance", "port"],
        ["'=1+2", "-5", """'=HYPERLINK("http://x","go")"""],
        ["ok", "-5", "'@sea"]]


def test_the_sweep_results_csv_uses_the_same_rule():
    health = {"diverged": False, "dead_relu": None, "grad_norm_ratio": 0.5}
    rows = [{"rank": 1, "config": {"name": "=evil()", "training.optimizer.learning_rate": -0.1},
             "mean": 0.9, "std": None, "health": health,
             "runs": [{"seed": 0, "value": 0.9, "best_epoch": 3}]}]
    table = list(csv.reader(io.StringIO(to_csv(rows, "accuracy"))))
    assert table[0][:3] == ["rank", "name", "training.optimizer.learning_rate"]
    assert table[1][:3] == ["1", "'=evil()", "-0.1"]
