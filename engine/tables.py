"""Table preprocessing a model carries: standardised numbers, one-hot categories, the target's code.

A `TablePreprocessing` is fitted on a training split (`fit_table_preprocessing`) and saved as
plain JSON in the model's manifest (`to_dict` / `from_dict`, which refuses a tampered or
ill-formed dict), so a row is encoded the same way at training and at every prediction:

    numeric column    (value - mean) / std         one input unit
    category column   one-hot over its vocabulary  one unit per category: sex=female, sex=male
    target            class index (classification), or (value - mean) / std (regression)

Statistics come from the training split only; a constant column gets std 1 (so it encodes to
0); a category vocabulary is sorted, and classes given as numbers are in numeric order.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine import table_checks as checks
from engine import table_encoding as cells
from engine.table_encoding import RowError, category_name, listing

__all__ = ["TablePreprocessing", "Column", "Target", "RowError", "fit_table_preprocessing",
           "category_name", "KIND", "NUMERIC", "CATEGORY", "CLASSIFICATION", "REGRESSION"]

KIND = "table"
NUMERIC, CATEGORY = "numeric", "category"
COLUMN_TYPES = (NUMERIC, CATEGORY)
CLASSIFICATION, REGRESSION = "classification", "regression"
TASKS = (CLASSIFICATION, REGRESSION)


@dataclass(frozen=True)
class Column:
    """One raw input column: numeric (`mean`, `std`) or category (`categories`)."""

    name: str
    type: str
    mean: float = 0.0
    std: float = 1.0
    categories: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 1 if self.type == NUMERIC else len(self.categories)

    @property
    def unit_names(self) -> list[str]:
        if self.type == NUMERIC:
            return [self.name]
        return [f"{self.name}={category}" for category in self.categories]

    def to_dict(self) -> dict:
        if self.type == NUMERIC:
            return {"name": self.name, "type": NUMERIC, "mean": self.mean, "std": self.std}
        return {"name": self.name, "type": CATEGORY, "categories": list(self.categories)}


@dataclass(frozen=True)
class Target:
    """The label column: class names (classification) or its mean and std (regression)."""

    name: str
    task: str
    classes: tuple[str, ...] = ()
    mean: float = 0.0
    std: float = 1.0

    def to_dict(self) -> dict:
        if self.task == CLASSIFICATION:
            return {"name": self.name, "task": CLASSIFICATION, "classes": list(self.classes)}
        return {"name": self.name, "task": REGRESSION, "mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class TablePreprocessing:
    """What happens to a row before the first layer, and how the target is coded."""

    columns: tuple[Column, ...]
    target: Target

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def feature_names(self) -> list[str]:
        """One name per input unit: "age", "sex=female", "sex=male"."""
        return [name for column in self.columns for name in column.unit_names]

    @property
    def input_size(self) -> int:
        return sum(column.width for column in self.columns)

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def classes(self) -> list[str] | None:
        """Class names by index (classification), None for regression."""
        return list(self.target.classes) if self.task == CLASSIFICATION else None

    @property
    def output_size(self) -> int:
        """Output units: one per class, or one value for regression."""
        return len(self.target.classes) if self.task == CLASSIFICATION else 1

    def to_dict(self) -> dict:
        return {"kind": KIND, "columns": [column.to_dict() for column in self.columns],
                "target": self.target.to_dict()}

    @classmethod
    def from_dict(cls, document) -> TablePreprocessing:
        """Read `to_dict`'s output back; ValueError naming the key when anything is off."""
        return _read(document)

    # ---- inputs ----------------------------------------------------------------------------------

    def encode_columns(self, columns: Mapping[str, np.ndarray], *, unknown: str = "error") -> np.ndarray:
        """Whole columns ({name: array of raw values}) -> X, float32 (n, input_size).

        `unknown="ignore"` encodes a category outside the vocabulary as all zeros (a rare value
        only the test split holds); "error" raises RowError for it, as for a missing value.
        """
        if unknown not in ("error", "ignore"):
            raise ValueError('unknown must be "error" or "ignore"')
        absent = [name for name in self.column_names if name not in columns]
        if absent:
            raise RowError(0, absent[0], f"missing; expected columns: {listing(self.column_names)}")
        rows = len(columns[self.columns[0].name]) if self.columns else 0
        X = np.zeros((rows, self.input_size), dtype=np.float32)
        start = 0
        for column in self.columns:
            values = np.asarray(columns[column.name])
            if len(values) != rows:
                raise ValueError(f"column {column.name!r} has {len(values)} values, expected {rows}")
            block = X[:, start:start + column.width]
            if column.type == NUMERIC:
                block[:, 0] = cells.standardised(cells.numbers(values, column.name),
                                                 column.mean, column.std, column.name)
            else:
                cells.one_hot(block, cells.codes(values, column.name, column.categories,
                                                 strict=unknown == "error"))
            start += column.width
        return X

    def encode_rows(self, rows: Sequence[Mapping]) -> np.ndarray:
        """Rows, each a dict of raw values by column name -> X, float32 (n, input_size).

        A row may also hold the target column (ignored), nothing else: a missing, extra or
        misspelled column, a value that is not a finite number in a numeric column, or an
        unknown category raises RowError naming the row and column and listing what is expected.
        """
        expected = set(self.column_names)
        X = np.zeros((len(rows), self.input_size), dtype=np.float32)
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise RowError(index, None, "must be an object of values by column name")
            extra = [str(name) for name in row if name not in expected and name != self.target.name]
            if extra:
                raise RowError(index, extra[0], self._unknown_column(extra[0]))
            start = 0
            for column in self.columns:
                if column.name not in row:
                    raise RowError(index, column.name,
                                   f"missing; expected columns: {listing(self.column_names)}")
                value = row[column.name]
                if column.type == NUMERIC:
                    X[index, start] = cells.standardised_cell(
                        cells.number(value, index, column.name), column.mean, column.std,
                        index, column.name)
                else:
                    X[index, start + cells.category_index(value, index, column.name,
                                                          column.categories)] = 1.0
                start += column.width
        return X

    def _unknown_column(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.column_names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown column{hint}; expected columns: {listing(self.column_names)}"

    # ---- the target ------------------------------------------------------------------------------

    def encode_target(self, values) -> np.ndarray:
        """Raw target values -> y: int64 class indices, or float32 standardised (regression)."""
        values = np.asarray(values)
        target = self.target
        if target.task == REGRESSION:
            return cells.standardised(cells.numbers(values, target.name), target.mean, target.std)
        return cells.codes(values, target.name, target.classes, strict=True, what="class")

    def decode_values(self, z) -> np.ndarray:
        """Regression outputs (standardised) -> values in the target's own units, float64."""
        if self.task != REGRESSION:
            raise ValueError("decode_values is for regression targets; a classifier's outputs "
                             "are class probabilities")
        return np.asarray(z, dtype=np.float64) * self.target.std + self.target.mean


def fit_table_preprocessing(columns: Mapping[str, np.ndarray], types: Mapping[str, str],
                            target_name: str, task: str, target_values) -> TablePreprocessing:
    """Fit on the training split: each numeric column's mean and std (std 0 -> 1), each category
    column's sorted vocabulary, the target's classes or its mean and std. `types` gives each
    feature column's type, in input order; missing values (NaN, None) are left out."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    fitted = []
    for name, kind in types.items():
        values = np.asarray(columns[name])
        if kind == NUMERIC:
            mean, std = _moments(values.astype(np.float64))
            fitted.append(Column(name, NUMERIC, mean=mean, std=std))
        elif kind == CATEGORY:
            fitted.append(Column(name, CATEGORY, categories=_vocabulary(values)))
        else:
            raise ValueError(f"column {name!r}: type must be one of {', '.join(COLUMN_TYPES)}")
    target_values = np.asarray(target_values)
    if task == CLASSIFICATION:
        target = Target(target_name, task, classes=_vocabulary(target_values, numeric_order=True))
    else:
        mean, std = _moments(target_values.astype(np.float64))
        target = Target(target_name, task, mean=mean, std=std)
    return TablePreprocessing(tuple(fitted), target)


def _moments(values: np.ndarray) -> tuple[float, float]:
    """Mean and population std of the finite values; std 1 when it would be 0."""
    present = values[np.isfinite(values)]
    if not present.size:
        return 0.0, 1.0
    mean, std = float(present.mean()), float(present.std())
    return mean, (std if std > 0 and math.isfinite(std) else 1.0)


def _vocabulary(values: np.ndarray, numeric_order: bool = False) -> tuple[str, ...]:
    """Distinct names of the present values, sorted; numbers in numeric order when asked
    (classes 0, 1, 2, ..., 10 rather than "0", "1", "10", "2")."""
    distinct = {value for value in values.tolist() if not cells.is_missing(value)}
    if numeric_order and all(isinstance(value, int | float) and not isinstance(value, bool)
                             for value in distinct):
        return tuple(dict.fromkeys(category_name(value) for value in sorted(distinct)))
    return tuple(sorted({category_name(value) for value in distinct}))


# ---- reading a dict back ----------------------------------------------------------------------


def _read(document) -> TablePreprocessing:
    checks.keys(document, "preprocessing", {"kind", "columns", "target"})
    if document["kind"] != KIND:
        raise ValueError(f"preprocessing.kind must be {KIND!r}, got {document['kind']!r}")
    raw_columns = document["columns"]
    if not isinstance(raw_columns, list) or not raw_columns:
        raise ValueError("preprocessing.columns must be a non-empty list")
    columns = tuple(_read_column(column, f"columns[{index}]")
                    for index, column in enumerate(raw_columns))
    names = [column.name for column in columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"preprocessing.columns: column {duplicated[0]!r} appears twice")
    target = _read_target(document["target"])
    if target.name in names:
        raise ValueError(f"target.name {target.name!r} is also an input column")
    return TablePreprocessing(columns, target)


def _read_column(column, where: str) -> Column:
    if not isinstance(column, dict) or column.get("type") not in COLUMN_TYPES:
        raise ValueError(f"{where}.type must be one of {', '.join(COLUMN_TYPES)}")
    if column["type"] == NUMERIC:
        checks.keys(column, where, {"name", "type", "mean", "std"})
        return Column(checks.name(column, where), NUMERIC, mean=checks.finite(column, "mean", where),
                      std=checks.finite(column, "std", where, positive=True))
    checks.keys(column, where, {"name", "type", "categories"})
    return Column(checks.name(column, where), CATEGORY,
                  categories=checks.distinct_names(column["categories"], f"{where}.categories", 1))


def _read_target(target) -> Target:
    if not isinstance(target, dict) or target.get("task") not in TASKS:
        raise ValueError(f"target.task must be one of {', '.join(TASKS)}")
    if target["task"] == CLASSIFICATION:
        checks.keys(target, "target", {"name", "task", "classes"})
        return Target(checks.name(target, "target"), CLASSIFICATION,
                      classes=checks.distinct_names(target["classes"], "target.classes", 2))
    checks.keys(target, "target", {"name", "task", "mean", "std"})
    return Target(checks.name(target, "target"), REGRESSION, mean=checks.finite(target, "mean", "target"),
                  std=checks.finite(target, "std", "target", positive=True))
