"""What a dataset record says about its columns: per-column statistics, class balance, a preview.

Columns arrive as NumPy arrays of raw values: numeric ones as float64 with NaN where a value is
missing, the others as object arrays with None where a value is missing.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from engine.tables import NUMERIC, category_name

TOP_CATEGORIES = 20  # a category column's stats count its most frequent values, this many
PREVIEW_ROWS = 5


def plain(value):
    """A raw cell as JSON: NumPy scalars as Python ones, NaN (and pandas' NA) as null."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, bool | int | float | str) else None


def missing_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.array([value is None for value in values.tolist()], dtype=bool)


def numeric_stats(values: np.ndarray) -> dict:
    """count (present values), missing, min, max, mean, std (population) of a float column."""
    present = values[~np.isnan(values)]
    summary = {"count": int(present.size), "missing": int(values.size - present.size)}
    if present.size:
        summary.update(min=float(present.min()), max=float(present.max()),
                       mean=float(present.mean()), std=float(present.std()))
    else:
        summary.update(min=None, max=None, mean=None, std=None)
    return summary


def category_stats(values: np.ndarray) -> dict:
    """count, missing, distinct values, and the TOP_CATEGORIES most frequent with their counts."""
    counts = Counter(category_name(value) for value in values.tolist() if value is not None)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_CATEGORIES]
    present = sum(counts.values())
    return {"count": present, "missing": int(values.size - present), "distinct": len(counts),
            "counts": dict(top)}


def describe(name: str, kind: str, values: np.ndarray) -> dict:
    """One entry of a record's `features`."""
    stats = numeric_stats(values) if kind == NUMERIC else category_stats(values)
    return {"name": name, "type": kind, "stats": stats}


def class_balance(classes: list[str], splits: dict[str, np.ndarray]) -> dict:
    """{split: {class name: rows}} from encoded labels (class indices) per split."""
    return {split: dict(zip(classes, np.bincount(y, minlength=len(classes)).tolist(), strict=True))
            for split, y in splits.items()}


def preview(columns: dict[str, np.ndarray], rows: int = PREVIEW_ROWS) -> list[dict]:
    """The first rows as {column: raw value}, missing values as null."""
    count = min(rows, len(next(iter(columns.values()))) if columns else 0)
    return [{name: plain(values[row]) for name, values in columns.items()} for row in range(count)]
