"""Table preprocessing: hand-computed encodings, the JSON round trip, and every bad row named."""

import json

import numpy as np
import pytest

from engine.tables import RowError, TablePreprocessing, fit_table_preprocessing

# A small training split: numbers 1, 2, 3 (mean 2, population std sqrt(2/3)), a text column
# and a constant column.
AGE = np.array([1.0, 2.0, 3.0])
SEX = np.array(["male", "female", "male"], dtype=object)
ONES = np.array([5.0, 5.0, 5.0])
TYPES = {"age": "numeric", "sex": "category", "ones": "numeric"}
STD = np.sqrt(2 / 3)


@pytest.fixture
def fitted():
    return fit_table_preprocessing({"age": AGE, "sex": SEX, "ones": ONES}, TYPES, "survived",
                                   "classification", np.array(["yes", "no", "yes"], dtype=object))


def test_fitting_takes_the_training_statistics_and_sorted_vocabularies(fitted):
    assert fitted.to_dict() == {
        "kind": "table",
        "columns": [{"name": "age", "type": "numeric", "mean": 2.0, "std": pytest.approx(STD)},
                    {"name": "sex", "type": "category", "categories": ["female", "male"]},
                    {"name": "ones", "type": "numeric", "mean": 5.0, "std": 1.0}],
        "target": {"name": "survived", "task": "classification", "classes": ["no", "yes"]}}
    assert fitted.feature_names == ["age", "sex=female", "sex=male", "ones"]
    assert fitted.input_size == 4 and fitted.output_size == 2
    assert fitted.classes == ["no", "yes"] and fitted.task == "classification"


def test_columns_and_rows_encode_to_the_hand_computed_numbers(fitted):
    expected = np.array([[-1 / STD, 0, 1, 0], [0, 1, 0, 0], [1 / STD, 0, 1, 0]], dtype=np.float32)
    by_columns = fitted.encode_columns({"age": AGE, "sex": SEX, "ones": ONES})
    np.testing.assert_allclose(by_columns, expected, rtol=1e-6)
    assert by_columns.dtype == np.float32
    rows = [{"age": 1, "sex": "male", "ones": 5}, {"age": "2", "sex": "female", "ones": 5.0},
            {"ones": 5, "sex": "male", "age": 3.0, "survived": "yes"}]  # any order; target ignored
    np.testing.assert_allclose(fitted.encode_rows(rows), expected, rtol=1e-6)
    # the constant column encodes to 0 whatever it holds at prediction time: std 1, minus 5
    assert fitted.encode_rows([{"age": 2, "sex": "male", "ones": 7}])[0, 3] == 2.0


def test_the_target_encodes_to_class_indices_or_standardised_values(fitted):
    assert fitted.encode_target(["yes", "no", "no"]).tolist() == [1, 0, 0]
    assert fitted.encode_target(["yes"]).dtype == np.int64
    regression = fit_table_preprocessing({"age": AGE}, {"age": "numeric"}, "price", "regression",
                                         np.array([10.0, 20.0, 30.0]))
    assert regression.to_dict()["target"] == {"name": "price", "task": "regression",
                                              "mean": 20.0, "std": pytest.approx(10 * STD)}
    y = regression.encode_target([10.0, 20.0, 30.0])
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [-1 / STD, 0, 1 / STD], rtol=1e-6)
    np.testing.assert_allclose(regression.decode_values(y), [10.0, 20.0, 30.0], rtol=1e-6)
    assert regression.classes is None and regression.output_size == 1
    with pytest.raises(ValueError, match="regression"):
        fitted.decode_values([0.5])


def test_integer_classes_keep_numeric_order_and_spelling():
    prep = fit_table_preprocessing({"x": AGE}, {"x": "numeric"}, "digit", "classification",
                                   np.array([10, 2, 0]))
    assert prep.classes == ["0", "2", "10"]
    assert prep.encode_target(np.array([2, 10, 0])).tolist() == [1, 2, 0]
    assert prep.encode_target(np.array([2.0, 10.0])).tolist() == [1, 2]  # 2.0 is spelled "2"
    assert prep.encode_target(np.array(["10", "0"])).tolist() == [2, 0]


def test_round_trip_through_json_gives_the_same_encoding(fitted):
    document = json.loads(json.dumps(fitted.to_dict()))
    again = TablePreprocessing.from_dict(document)
    assert again == fitted and again.to_dict() == fitted.to_dict()
    row = [{"age": 2.5, "sex": "female", "ones": 5}]
    np.testing.assert_array_equal(again.encode_rows(row), fitted.encode_rows(row))


@pytest.mark.parametrize(("row", "column", "words"), [
    ({"sex": "male", "ones": 5}, "age", ["missing", "'age', 'sex', 'ones'"]),
    ({"age": 1, "sex": "male", "ones": 5, "fare": 3}, "fare", ["unknown column", "'age'"]),
    ({"agee": 1, "sex": "male", "ones": 5}, "agee", ["did you mean 'age'?", "'sex'"]),
    ({"age": 1, "sex": "other", "ones": 5}, "sex", ["unknown category 'other'",
                                                    "'female', 'male'"]),
    ({"age": None, "sex": "male", "ones": 5}, "age", ["missing"]),
    ({"age": "old", "sex": "male", "ones": 5}, "age", ["'old' is not a number"]),
    ({"age": float("inf"), "sex": "male", "ones": 5}, "age", ["not a finite number"]),
    ({"age": True, "sex": "male", "ones": 5}, "age", ["True is not a number"]),
    ({"age": 1, "sex": None, "ones": 5}, "sex", ["missing", "'female', 'male'"]),
])
def test_a_bad_row_names_its_index_and_column_and_what_is_expected(fitted, row, column, words):
    good = {"age": 1, "sex": "male", "ones": 5}
    with pytest.raises(RowError) as caught:
        fitted.encode_rows([good, good, row])
    error = caught.value
    assert (error.row, error.column) == (2, column)
    assert str(error).startswith(f"row 2, column {column!r}: ")
    for word in words:
        assert word in error.message


def test_a_row_that_is_not_an_object_is_named(fitted):
    with pytest.raises(RowError) as caught:
        fitted.encode_rows([[1, "male", 5]])
    assert (caught.value.row, caught.value.column) == (0, None)


def test_whole_columns_name_the_first_bad_row(fitted):
    with pytest.raises(RowError) as caught:
        fitted.encode_columns({"age": np.array([1.0, np.nan, 3.0]), "sex": SEX, "ones": ONES})
    assert (caught.value.row, caught.value.column) == (1, "age")
    with pytest.raises(RowError) as caught:
        fitted.encode_columns({"age": AGE, "sex": np.array(["male", "male", "x"], dtype=object),
                               "ones": ONES})
    assert (caught.value.row, caught.value.column) == (2, "sex") and "'x'" in caught.value.message
    with pytest.raises(RowError, match="unknown class 'maybe'"):
        fitted.encode_target(["yes", "maybe"])


def test_a_finite_number_too_large_for_float32_is_refused_naming_row_and_column(fitted):
    """Standardised, 1e300 would become infinity in the float32 inputs: no warning, no inf."""
    with pytest.raises(RowError) as caught:
        fitted.encode_rows([{"age": 2, "sex": "male", "ones": 5},
                            {"age": 1e300, "sex": "male", "ones": 5}])
    assert (caught.value.row, caught.value.column) == (1, "age")
    assert "too large for the model's float32 inputs" in caught.value.message
    with pytest.raises(RowError) as caught:
        fitted.encode_columns({"age": np.array([1.0, 2.0, -1e300]), "sex": SEX, "ones": ONES})
    assert (caught.value.row, caught.value.column) == (2, "age")
    assert fitted.encode_rows([{"age": 2e38, "sex": "male", "ones": 5}]).max() < np.inf  # 2.4e38 fits


def test_unknown_categories_can_encode_as_zeros(fitted):
    X = fitted.encode_columns({"age": AGE, "sex": np.array(["x", "male", "female"], dtype=object),
                               "ones": ONES}, unknown="ignore")
    assert X[:, 1:3].tolist() == [[0, 0], [0, 1], [1, 0]]


def test_fitting_ignores_missing_values():
    prep = fit_table_preprocessing(
        {"a": np.array([1.0, np.nan, 3.0]), "b": np.array(["x", None, np.nan], dtype=object)},
        {"a": "numeric", "b": "category"}, "t", "regression", np.array([1.0, 2.0, 3.0]))
    assert prep.columns[0].mean == 2.0 and prep.columns[0].std == 1.0
    assert prep.columns[1].categories == ("x",)


def tampered(fitted, path, value):
    document = json.loads(json.dumps(fitted.to_dict()))
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


DELETE = object()


@pytest.mark.parametrize(("path", "value", "named"), [
    (("kind",), "image", "preprocessing.kind"),
    (("extra",), 1, "preprocessing.extra"),
    (("columns",), [], "preprocessing.columns"),
    (("columns", 0, "std"), 0.0, "columns[0].std"),
    (("columns", 0, "std"), -1.0, "columns[0].std"),
    (("columns", 0, "mean"), "2", "columns[0].mean"),
    (("columns", 0, "mean"), DELETE, "columns[0].mean"),
    (("columns", 0, "type"), "date", "columns[0].type"),
    (("columns", 1, "categories"), [], "columns[1].categories"),
    (("columns", 1, "categories"), ["male", "male"], "columns[1].categories"),
    (("columns", 1, "categories"), ["male", 3], "columns[1].categories"),
    (("columns", 2, "name"), "age", "appears twice"),
    (("columns", 2, "name"), "", "columns[2].name"),
    (("columns", 0, "bias"), 1.0, "columns[0].bias"),
    (("target", "task"), "ranking", "target.task"),
    (("target", "classes"), ["only"], "target.classes"),
    (("target", "name"), "age", "also an input column"),
    (("target", "mean"), 1.0, "target.mean"),
])
def test_a_tampered_dict_is_refused_naming_the_key(fitted, path, value, named):
    with pytest.raises(ValueError) as caught:
        TablePreprocessing.from_dict(tampered(fitted, path, value))
    assert named in str(caught.value)


def test_a_regression_target_needs_a_positive_std():
    prep = fit_table_preprocessing({"a": AGE}, {"a": "numeric"}, "t", "regression", AGE)
    document = prep.to_dict()
    document["target"]["std"] = float("nan")
    with pytest.raises(ValueError, match="target.std"):
        TablePreprocessing.from_dict(document)
    with pytest.raises(ValueError, match="preprocessing must be an object"):
        TablePreprocessing.from_dict(["table"])
