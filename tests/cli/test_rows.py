"""`--row 'age=22,sex=male'` parsing, CSV files of rows read as the server reads them, and the
predictions CSV's columns (no server needed)."""

from __future__ import annotations

import gzip
import io

import pytest

from mlpq.rows import (
    RowError,
    parse_row,
    prediction_columns,
    read_csv,
    table_of,
    write_predictions,
)


@pytest.mark.parametrize(("text", "row"), [
    ("age=22,sex=male", {"age": 22, "sex": "male"}),
    ("age = 22 , sex = male", {"age": 22, "sex": "male"}),
    ("balance=-5,fare=7.25,big=1e3,half=.5", {"balance": -5, "fare": 7.25, "big": 1000.0, "half": 0.5}),
    ('name="Smith, J",zip="02134"', {"name": "Smith, J", "zip": "02134"}),
    ("name='Smith, J', note=\"it's\"", {"name": "Smith, J", "note": "it's"}),
    ("name=O'Brien,age=3", {"name": "O'Brien", "age": 3}),
    ("formula==1+2,sign=-", {"formula": "=1+2", "sign": "-"}),
    ("'sepal length (cm)'=5.1,\"a=b\"=x", {"sepal length (cm)": 5.1, "a=b": "x"}),
    ("sepal length (cm)=5.1", {"sepal length (cm)": 5.1}),
    ("age=,sex=''", {"age": None, "sex": ""}),
    ("flag=true,n=nan", {"flag": "true", "n": "nan"}),
])
def test_parse_row(text, row):
    parsed = parse_row(text)
    assert parsed == row
    assert [type(value) for value in parsed.values()] == [type(value) for value in row.values()]


@pytest.mark.parametrize(("text", "message"), [
    ("age", "has no value"), ("age=1,", "has no value"), ("=3", "column name is empty"),
    ("age=1,age=2", "given twice"), ("name='Smith", "never closed"),
    ('name="Smith" J', "after the closing quote"),
])
def test_bad_rows_say_what_is_wrong(text, message):
    with pytest.raises(RowError, match=message):
        parse_row(text)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_read_csv_any_accepted_dialect(tmp_path, delimiter):
    text = delimiter.join(["age", "name"]) + "\n" + delimiter.join(["22", '"Smith, J"']) + "\n\n"
    plain = tmp_path / "rows.csv"
    plain.write_text("\ufeff" + text, encoding="utf-8")
    packed = tmp_path / "rows.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        assert read_csv(path) == (["age", "name"], [["22", "Smith, J"]])


def test_prediction_columns_never_shadow_an_input_column():
    assert prediction_columns(["no", "yes"], ["age"]) == ["label", "probability_no", "probability_yes"]
    assert prediction_columns([], ["value", "predicted_value"]) == ["predicted_predicted_value"]
    assert prediction_columns(["a"], ["label"])[0] == "predicted_label"


def test_predictions_csv_from_rows():
    header, cells = table_of([{"age": -5, "port": "@sea"}, {"port": "north", "age": 3}])
    out = io.StringIO()
    write_predictions(out, header, cells, [{"class": "yes", "probabilities": [0.25, 0.75]},
                                           {"class": "no", "probabilities": [0.5, 0.5]}],
                      ["no", "yes"])
    assert out.getvalue().splitlines() == [
        "age,port,label,probability_no,probability_yes", "-5,'@sea,yes,0.25,0.75",
        "3,north,no,0.5,0.5"]
    with pytest.raises(RowError, match="2 rows were read but 1 predictions"):
        write_predictions(io.StringIO(), header, cells, [{"value": 1.0}], [])
