"""An uploaded table to a dataset: pandas reads the checked CSV, the task is inferred, missing values
handled, the rows split (seeded; stratified for classification), encoded with engine.tables, and
described. Everything is computed before anything is stored, so a refused upload leaves nothing.

Why pandas: its C parser turns text into typed columns fast, in chunks (api.datasets.columns),
and its nullable dtypes keep an integer column with gaps an integer column (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from api.datasets import stats
from api.datasets.columns import read_columns
from api.datasets.upload import DELIMITERS, CsvFile, Limits, UploadError
from engine.data_advice import profile
from engine.table_datasets import split_indices
from engine.tables import (
    CATEGORY,
    CLASSIFICATION,
    NUMERIC,
    REGRESSION,
    RowError,
    fit_table_preprocessing,
)

MISSING_POLICIES = ("mean", "most_frequent", "drop")
FEW_CLASSES = 20  # an integer target with at most this many distinct values is a class label
FLOAT_BYTES = 4


@dataclass(frozen=True)
class Options:
    """The upload's form fields (checked by DatasetUploadSchema)."""

    name: str
    target: str | None = None  # default: the last column
    task: str | None = None  # default: inferred
    test_fraction: float = 0.2
    seed: int = 0
    missing: str | None = None  # default: a missing value is refused


@dataclass
class Table:
    """One parsed file: raw columns (float64 with NaN, or objects with None) and their kinds."""

    source: CsvFile
    columns: dict[str, np.ndarray]
    kinds: dict[str, str]  # NUMERIC or CATEGORY
    integers: set[str]  # numeric columns pandas read as integers

    def refuse(self, row: int, column: str, message: str, status: int = 422):
        raise UploadError(status, f"{self.source.label}: line {self.source.line(row)}, column "
                                  f"{column!r}: {message}", self.source.field)


def read_table(source: CsvFile) -> Table:
    """The typed columns of a file `upload.receive` checked; NaN or infinity is refused."""
    try:
        read = read_columns(source.path, source.header, source.rows, source.delimiter)
    except (ValueError, pd.errors.ParserError) as error:
        raise UploadError(422, f"{source.label}: pandas could not read it as the CSV check did "
                               f"({error}); is a quote left open?", source.field) from None
    table = Table(source, {}, {}, set())
    for name, column in read.items():
        values = table.columns[name] = column.values()
        table.kinds[name] = NUMERIC if column.is_number else CATEGORY
        if column.is_number and column.integer:
            table.integers.add(name)
        if stats.missing_mask(values).all():
            raise UploadError(422, f"{source.label}: column {name!r} is empty in every row; "
                                   "remove it.", source.field)
        bad = (np.flatnonzero(np.isinf(values)) if column.is_number
               else [row] if (row := column.first_nonfinite_text()) is not None else [])
        if len(bad):
            value = values[bad[0]]
            shown = repr(float(value) if column.is_number else value)  # -inf, or the text 'NaN'
            table.refuse(int(bad[0]), name, f"{shown} is not a finite number; write a missing "
                         "value as an empty cell")
    return table


def prepare(train: Table, test: Table | None, options: Options, limits: Limits) -> tuple[dict, dict]:
    """(record, arrays) of the dataset, the record without id, owner or created_at."""
    header = train.source.header
    target = options.target if options.target is not None else header[-1]
    if target not in train.columns:
        raise UploadError(422, f"target column {target!r} is not in {train.source.label}; its "
                               f"columns are {', '.join(map(repr, header))}.", "target")
    features = [name for name in header if name != target]
    if not features:
        raise UploadError(422, f"{train.source.label} has only the target column {target!r}; "
                               "a dataset needs at least one input column.", "target")
    if test is not None:
        _same_columns(train, test)
    task = infer_task(train, target, options.task)
    kept = {"train": _policy_rows(train, options.missing, target),
            "test": None if test is None else _policy_rows(test, options.missing, target)}
    if task == CLASSIFICATION:
        _check_classes(train.columns[target][kept["train"]], target, limits)
    tables = {"train": train, "test": test or train}
    split = _split(train, kept, task, target, options)
    description = {  # of the whole file, before the columns are split (and let go)
        "features": [stats.describe(name, train.kinds[name], train.columns[name])
                     for name in features],
        "target_stats": (stats.numeric_stats(train.columns[target]) if task == REGRESSION
                         else None),
        "preview": stats.preview(train.columns)}
    return _encode(tables, split, features, target, task, options, limits, description)


def _same_columns(train: Table, test: Table) -> None:
    missing = [name for name in train.source.header if name not in test.columns]
    extra = [name for name in test.source.header if name not in train.columns]
    if missing or extra:
        problem = (f"lacks column {missing[0]!r}" if missing else f"has column {extra[0]!r}, "
                   "which the training file has not")
        raise UploadError(422, f"{test.source.label} {problem}; it needs the training file's "
                               f"columns: {', '.join(map(repr, train.source.header))}.", "test_file")


def infer_task(table: Table, target: str, asked: str | None) -> str:
    """Text (or True/False) or a few distinct integers: classification; other numbers:
    regression. `asked` overrides, except that text cannot be a regression target."""
    values, kind = table.columns[target], table.kinds[target]
    if asked == REGRESSION and kind == CATEGORY:
        raise UploadError(422, f"target column {target!r} holds text, so it cannot be a "
                               "regression target; use task=classification.", "task")
    if asked is not None:
        return asked
    present = values[~stats.missing_mask(values)]
    if kind == CATEGORY or (target in table.integers and len(np.unique(present)) <= FEW_CLASSES):
        return CLASSIFICATION
    return REGRESSION


def _policy_rows(table: Table, missing: str | None, target: str) -> np.ndarray:
    """The rows kept under the missing-value policy; a refusal names the first missing value."""
    masks = {name: stats.missing_mask(values) for name, values in table.columns.items()}
    any_missing = np.logical_or.reduce(list(masks.values()))
    if not any_missing.any():
        return np.arange(table.source.rows)
    if missing == "drop":
        kept = np.flatnonzero(~any_missing)
        if not kept.size:
            raise UploadError(422, f"{table.source.label}: every row has a missing value, so "
                                   "missing=drop leaves nothing.", table.source.field)
        return kept
    row = int(np.flatnonzero(any_missing)[0])
    column = next(name for name, mask in masks.items() if mask[row])
    if missing is None:
        table.refuse(row, column, "missing value; fill it in, or upload again with "
                     "missing=mean, most_frequent or drop")
    if masks[target].any():
        row = int(np.flatnonzero(masks[target])[0])
        table.refuse(row, target, f"the target is missing; a target cannot be filled by "
                     f"missing={missing}: use missing=drop to leave such rows out")
    return np.arange(table.source.rows)


def _split(train: Table, kept: dict, task: str, target: str, options: Options) -> dict:
    """Row indices of each split, into the table each comes from."""
    if kept["test"] is not None:
        return kept
    labels = None
    if task == CLASSIFICATION:
        labels = np.array([str(value) for value in train.columns[target][kept["train"]].tolist()])
    rows_train, rows_test = split_indices(len(kept["train"]), options.test_fraction, options.seed,
                                          labels)
    if not rows_test.size or not rows_train.size:
        raise UploadError(422, f"{train.source.label} has {len(kept['train'])} usable rows: too "
                               f"few for test_fraction={options.test_fraction}.", "test_fraction")
    return {"train": kept["train"][rows_train], "test": kept["train"][rows_test]}


def _encode(tables, split, features, target, task, options, limits, description):
    train, test = tables["train"], tables["test"]
    parts = {name: {column: table.columns[column][split[name]] for column in table.columns}
             for name, table in tables.items()}
    for table in tables.values():
        table.columns = {}  # from here on only the splits are needed: memory for the encoding
    kinds = {name: train.kinds[name] for name in features}
    _check_cardinality(train, features, parts["train"], limits)
    _impute(parts, kinds, options.missing)
    preprocessing = fit_table_preprocessing(parts["train"], kinds, target, task,
                                            parts["train"][target])
    width = preprocessing.input_size
    rows = sum(len(rows) for rows in split.values())
    if rows * width * FLOAT_BYTES > 2 * limits.max_bytes:
        raise UploadError(413, f"encoded, the table would take {rows} rows x {width} inputs x 4 "
                               f"bytes, more than twice MLPQ_MAX_DATASET_BYTES "
                               f"({limits.max_bytes}); a text column with many distinct values "
                               "(an id, free text) is the usual cause: remove it.")
    arrays = {}
    for name, table in (("train", train), ("test", test)):
        try:
            arrays[f"X_{name}"] = preprocessing.encode_columns(
                parts[name], unknown="error" if name == "train" else "ignore")
            arrays[f"y_{name}"] = preprocessing.encode_target(parts[name][target])
        except RowError as error:
            table.refuse(int(split[name][error.row]), error.column, error.message)
    record = _record(tables, split, options, preprocessing, arrays) | description
    return record, arrays


def _check_classes(labels: np.ndarray, target: str, limits: Limits) -> None:
    distinct = len({str(value) for value in labels.tolist()})
    if distinct < 2:
        raise UploadError(422, f"target column {target!r} has one class only: there is nothing "
                               "to tell apart.", "target")
    if distinct > limits.max_classes:
        raise UploadError(422, f"target column {target!r} has {distinct} classes, more than "
                               f"{limits.max_classes} (MLPQ_MAX_DATASET_CLASSES); for a number "
                               "to predict, use task=regression.", "target")


def _check_cardinality(train: Table, features, columns, limits) -> None:
    """A text column becomes one input per distinct value: refuse an id or free text."""
    for name in features:
        if train.kinds[name] == CATEGORY:
            distinct = len({value for value in columns[name].tolist() if value is not None})
            if distinct > limits.max_classes:
                raise UploadError(422, f"{train.source.label}: text column {name!r} has "
                                       f"{distinct} distinct values, more than "
                                       f"{limits.max_classes} (MLPQ_MAX_DATASET_CLASSES); an id "
                                       "or free text cannot be one-hot encoded: remove it.")


def _impute(parts: dict, kinds: dict, missing: str | None) -> None:
    """Fill missing feature values with the training split's mean or most frequent value."""
    if missing not in ("mean", "most_frequent"):
        return
    for name, kind in kinds.items():
        present = parts["train"][name][~stats.missing_mask(parts["train"][name])]
        if kind == NUMERIC and missing == "mean":
            fill = float(present.mean())
        else:
            values, counts = np.unique(present.astype(str if kind == CATEGORY else float),
                                       return_counts=True)
            fill = values[int(np.argmax(counts))].item()
        for columns in parts.values():
            mask = stats.missing_mask(columns[name])
            if mask.any():
                columns[name] = columns[name].copy()
                columns[name][mask] = fill


def _record(tables, split, options, preprocessing, arrays) -> dict:
    train, test = tables["train"], tables["test"]
    source = train.source
    classes = preprocessing.classes
    return {
        "name": options.name, "kind": "table", "task": preprocessing.task,
        "target": preprocessing.target.name,
        "input_size": preprocessing.input_size, "image_shape": None,
        "num_classes": len(classes) if classes else None, "classes": classes,
        "feature_names": preprocessing.feature_names,
        "class_balance": (stats.class_balance(classes, {"train": arrays["y_train"],
                                                        "test": arrays["y_test"]})
                          if classes else None),
        "train_size": len(split["train"]), "test_size": len(split["test"]),
        "rows_dropped": sum(table.source.rows for table in {id(train): train, id(test): test}.values())
                        - len(split["train"]) - len(split["test"]),
        "sha256": source.sha256, "size_bytes": source.size_bytes, "file_name": source.filename,
        "format": "csv+gzip" if source.compressed else "csv",
        "delimiter": DELIMITERS[source.delimiter],
        "test_file": None if test is train else {
            "file_name": test.source.filename, "sha256": test.source.sha256,
            "size_bytes": test.source.size_bytes, "rows": test.source.rows},
        "source": None, "licence": None,
        "options": _options(options),
        "preprocessing": preprocessing.to_dict(),
        # What the plan's warnings look at (constant columns, class imbalance), kept here so a
        # plan never reads the arrays; not part of the answer (DatasetDetailSchema).
        "profile": profile(arrays["X_train"], arrays["y_train"] if classes else None,
                           feature_names=preprocessing.feature_names, classes=classes),
    }


def _options(options: Options) -> dict:
    """The upload's choices, as asked (None: the default rule applied)."""
    chosen = asdict(options)
    chosen.pop("name")
    return chosen
