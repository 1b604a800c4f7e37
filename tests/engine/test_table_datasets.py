"""Built-in tables: scikit-learn's files read without scikit-learn, split and standardised."""

import hashlib

import numpy as np
import pytest

from engine import datasets, serialization, table_datasets
from engine.datasets import DATASETS, CorruptDatasetFile
from engine.network import Network
from engine.table_datasets import DATA_DIR, split_indices
from engine.tables import TablePreprocessing

# Published facts: rows per class (or rows), and columns.
FACTS = {"iris": (4, [50, 50, 50]), "wine": (13, [59, 71, 48]),
         "breast-cancer": (30, [212, 357]), "diabetes": (10, 442)}


@pytest.mark.parametrize("name", list(FACTS))
def test_each_table_has_its_published_shape_and_a_fixed_stratified_split(name):
    info = DATASETS[name]
    width, counts = FACTS[name]
    (X, y), (X_test, y_test) = datasets.load(name)
    assert info.kind == "table" and info.input_size == width == X.shape[1] == len(info.feature_names)
    assert (len(X), len(X_test)) == (info.train_size, info.test_size)
    assert X.dtype == X_test.dtype == np.float32 and not X.flags.writeable
    if info.task == "classification":
        assert y.dtype == np.int64 and info.output_size == info.num_classes == len(counts)
        total = np.bincount(y) + np.bincount(y_test)
        assert total.tolist() == counts
        # stratified: each class is 20% of the test split's share, to within one row
        np.testing.assert_allclose(np.bincount(y_test), np.array(counts) * 0.2, atol=0.5)
    else:
        assert y.dtype == np.float32 and info.num_classes == 0 and info.output_size == 1
        assert len(X) + len(X_test) == counts and info.classes == ()
    # standardised with the training split's statistics
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-4)
    assert info.source and info.licence
    assert datasets.load(name) is datasets.load(name)  # made once per process


def test_the_encoding_is_the_preprocessing_applied_to_the_raw_file():
    info = DATASETS["iris"]
    columns, targets = table_datasets.read_raw(info)
    assert targets[0] == "setosa" and columns["sepal length (cm)"][0] == 5.1  # line 2 of iris.csv
    prep = datasets.preprocessing_for("iris")
    assert isinstance(prep, TablePreprocessing)
    assert prep.feature_names == list(info.feature_names) and prep.classes == list(info.classes)
    train, test = split_indices(150, 0.2, table_datasets.SPLIT_SEED, targets)
    raw_rows = [{name: values[row] for name, values in columns.items()} for row in test[:5]]
    _, (X_test, y_test) = datasets.load("iris")
    np.testing.assert_array_equal(prep.encode_rows(raw_rows), X_test[:5])
    assert prep.encode_target(targets[test]).tolist() == y_test.tolist()
    mean = columns["sepal length (cm)"][train].mean()
    assert prep.columns[0].mean == pytest.approx(mean)


def test_breast_cancer_keeps_scikit_learns_label_order():
    assert DATASETS["breast-cancer"].classes == ("malignant", "benign")
    assert datasets.preprocessing_for("breast-cancer").classes == ["malignant", "benign"]
    (_, y), _ = datasets.load("breast-cancer")
    assert np.bincount(y).tolist() == [170, 286]  # malignant is the minority, label 0


def test_diabetes_is_in_raw_units_and_decodes_back():
    columns, targets = table_datasets.read_raw(DATASETS["diabetes"])
    assert columns["age"][0] == 59 and columns["sex"][0] == 2 and targets[0] == 151
    prep = datasets.preprocessing_for("diabetes")
    assert prep.task == "regression" and prep.classes is None
    (_, y), _ = datasets.load("diabetes")
    train, _ = split_indices(442, 0.2, table_datasets.SPLIT_SEED)
    np.testing.assert_allclose(prep.decode_values(y), targets[train], rtol=1e-5)


def test_the_packaged_files_are_scikit_learns_bytes():
    for info in DATASETS.values():
        for file in info.files:
            assert hashlib.sha256((DATA_DIR / file).read_bytes()).hexdigest() == info.sha256[file]
    assert (DATA_DIR / "COPYING-scikit-learn").read_text().startswith("BSD 3-Clause License")


def test_an_altered_file_is_refused(monkeypatch, tmp_path):
    for file in DATASETS["wine"].files:
        (tmp_path / file).write_bytes((DATA_DIR / file).read_bytes().replace(b"14.23", b"14.24"))
    monkeypatch.setattr(table_datasets, "DATA_DIR", tmp_path)
    monkeypatch.setattr(table_datasets, "_prepared", {})
    with pytest.raises(CorruptDatasetFile, match="wine_data.csv: SHA-256"):
        datasets.load("wine")


def test_split_rule_by_hand():
    train, test = split_indices(10, 0.2, 3)
    assert len(test) == 2 and sorted({*train, *test}) == list(range(10))
    assert np.array_equal(split_indices(10, 0.2, 3)[1], test)  # seeded
    labels = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    train, test = split_indices(10, 0.5, 1, labels)
    assert sorted(labels[test].tolist()) == ["a", "a", "a", "b", "b"]  # round(1.5) = 2; "c" keeps its row
    assert "c" in labels[train]


def test_a_model_trained_on_a_table_carries_its_preprocessing(tmp_path):
    (X, y), _ = datasets.load("iris")
    net = Network.from_spec({"layers": [{"units": 3, "activation": "softmax"}]}, input_size=4)
    path = serialization.save(net, tmp_path / "model", dataset="iris")
    manifest = serialization.read_manifest(path)
    assert manifest["preprocessing"] == datasets.preprocessing_for("iris").to_dict()
    assert manifest["classes"] == ["setosa", "versicolor", "virginica"]
    assert TablePreprocessing.from_dict(manifest["preprocessing"]).input_size == 4
