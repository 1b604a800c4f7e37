"""Built-in tables (iris, wine, breast-cancer, diabetes) read from engine/data/, and the split rule.

The data files are scikit-learn's own (sklearn/datasets/data/, BSD-3-Clause), copied unchanged
so that no scikit-learn is needed at run time; engine/data/README.md says where each comes from.
Every table is split once, with `split_indices` (the rule uploaded tables are split by too), and
standardised with engine.tables on its training split.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
from pathlib import Path

import numpy as np

from engine.tables import (
    CLASSIFICATION,
    NUMERIC,
    TablePreprocessing,
    Target,
    fit_table_preprocessing,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
TEST_FRACTION = 0.2
SPLIT_SEED = 0
SCIKIT_LEARN = "scikit-learn's sklearn/datasets/data (BSD-3-Clause, engine/data/COPYING-scikit-learn)"
UCI_LICENCE = "CC BY 4.0, as the UCI Machine Learning Repository licenses it"


def split_indices(rows: int, test_fraction: float, seed: int,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, each ascending: a seeded shuffle sends round(n x fraction) rows
    to the test split; with `labels`, per class (stratified), each class keeping a row for
    training. The same arguments always give the same split."""
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [np.arange(rows)]
    else:
        classes, inverse = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inverse == index) for index in range(len(classes))]
    test = []
    for group in groups:
        count = min(int(np.floor(len(group) * test_fraction + 0.5)), len(group) - 1)
        if labels is None and test_fraction > 0 and len(group) > 1:
            count = max(count, 1)
        test.append(rng.permutation(group)[:max(count, 0)])
    test_rows = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train_rows = np.setdiff1d(np.arange(rows), test_rows)
    return train_rows, test_rows


class TableFileError(ValueError):
    """A packaged data file is missing, altered or not the table it should be."""


def read_raw(info) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The table's raw features by column name and its raw targets (class names or numbers),
    from the packaged files, each checked against its recorded SHA-256."""
    blobs = {}
    for file in info.files:
        blob = (DATA_DIR / file).read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if digest != info.sha256[file]:
            raise TableFileError(f"{DATA_DIR / file}: SHA-256 {digest} is not the recorded "
                                 f"{info.sha256[file]}; reinstall mlpq")
        blobs[file] = gzip.decompress(blob) if file.endswith(".gz") else blob
    if info.task == CLASSIFICATION:  # scikit-learn's layout: a header "n,features,class names"
        text = blobs[info.files[0]].decode()
        header, _, body = text.partition("\n")
        table = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
        features, targets = table[:, :-1], np.array(info.classes)[table[:, -1].astype(np.int64)]
        rows, width = (int(value) for value in header.split(",")[:2])
        if features.shape != (rows, width):
            raise TableFileError(f"{info.files[0]}: {features.shape} values, header says "
                                 f"{(rows, width)}")
    else:  # diabetes: space-separated features, and the targets in a file of their own
        features = np.loadtxt(io.BytesIO(blobs[info.files[0]]), ndmin=2)
        targets = np.loadtxt(io.BytesIO(blobs[info.files[1]]))
    return dict(zip(info.feature_names, features.T, strict=True)), targets


_prepared: dict[str, tuple] = {}
_lock = threading.Lock()


def prepared(info) -> tuple[TablePreprocessing, tuple]:
    """(preprocessing, ((X_train, y_train), (X_test, y_test))) of a built-in table, read-only
    and made once per process."""
    with _lock:
        if info.name not in _prepared:
            _prepared[info.name] = _prepare(info)
        return _prepared[info.name]


def _prepare(info):
    columns, targets = read_raw(info)
    labels = targets if info.task == CLASSIFICATION else None
    train, test = split_indices(len(targets), TEST_FRACTION, SPLIT_SEED, labels)
    preprocessing = fit_table_preprocessing(
        {name: values[train] for name, values in columns.items()},
        dict.fromkeys(info.feature_names, NUMERIC), info.target, info.task, targets[train])
    if info.task == CLASSIFICATION:  # scikit-learn's label order (0 = malignant), not sorted
        preprocessing = TablePreprocessing(preprocessing.columns,
                                           Target(info.target, CLASSIFICATION, classes=info.classes))
    splits = []
    for rows in (train, test):
        X = preprocessing.encode_columns({name: values[rows] for name, values in columns.items()})
        y = preprocessing.encode_target(targets[rows])
        X.flags.writeable = y.flags.writeable = False
        splits.append((X, y))
    return preprocessing, (splits[0], splits[1])


BREAST_CANCER_FEATURES = tuple(
    f"{prefix}{name}{suffix}"
    for prefix, suffix in (("mean ", ""), ("", " error"), ("worst ", ""))
    for name in ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                 "concavity", "concave points", "symmetry", "fractal dimension"))

# name -> the DatasetInfo fields of a built-in table (engine.datasets registers them)
TABLES = {
    "iris": dict(
        classes=("setosa", "versicolor", "virginica"), target="species",
        feature_names=("sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                       "petal width (cm)"),
        files=("iris.csv",), train_size=120, test_size=30,
        sha256={"iris.csv": "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"},
        source="Iris plants (R. A. Fisher, 1936; as in Fisher's paper, which corrects two values "
               "of the UCI copy), from " + SCIKIT_LEARN,
        licence=UCI_LICENCE),
    "wine": dict(
        classes=("class_0", "class_1", "class_2"), target="cultivar",
        feature_names=("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                       "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
                       "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline"),
        files=("wine_data.csv",), train_size=142, test_size=36,
        sha256={"wine_data.csv": "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede"},
        source="UCI Wine recognition data (M. Forina et al., PARVUS, Genoa), from " + SCIKIT_LEARN,
        licence=UCI_LICENCE),
    "breast-cancer": dict(
        classes=("malignant", "benign"), target="diagnosis", feature_names=BREAST_CANCER_FEATURES,
        files=("breast_cancer.csv",), train_size=456, test_size=113,
        sha256={"breast_cancer.csv":
                "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed"},
        source="UCI Breast Cancer Wisconsin (Diagnostic) (W. H. Wolberg, W. N. Street and "
               "O. L. Mangasarian, 1995), from " + SCIKIT_LEARN,
        licence=UCI_LICENCE),
    "diabetes": dict(
        task="regression", classes=(), target="progression",
        feature_names=("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
        files=("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz"), train_size=354,
        test_size=88,
        sha256={"diabetes_data_raw.csv.gz":
                "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009",
                "diabetes_target.csv.gz":
                "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803"},
        source="Diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), \"Least Angle "
               "Regression\", Annals of Statistics 32(2); raw units (age in years, sex 1/2, "
               "...), target: disease progression one year after baseline; "
               "https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html; from " + SCIKIT_LEARN,
        licence="no licence stated by its source; redistributed in scikit-learn (BSD-3-Clause)"),
}
