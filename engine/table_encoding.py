"""Table cells to numbers: checked numeric values, category codes, one-hot blocks, RowError."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SHOWN_CHOICES = 20  # how many expected names or categories an error lists


class RowError(ValueError):
    """A row (0-based index) cannot be encoded: a column is missing, extra or misspelled, or a
    value is not a finite number or not a known category. `column` is None when the whole row
    is wrong (not an object)."""

    def __init__(self, row: int, column: str | None, message: str):
        self.row, self.column, self.message = row, column, message
        where = f"row {row}" + (f", column {column!r}" if column is not None else "")
        super().__init__(f"{where}: {message}")


def category_name(value) -> str:
    """The one spelling of a category or class value: text as it is, True/False, integral
    numbers without a decimal point (3.0 -> "3"), other numbers in their shortest form."""
    if isinstance(value, str):
        return str(value)  # a NumPy str_ too, as a plain str
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def is_missing(value) -> bool:
    """None or a float NaN: how a missing cell arrives from JSON or from a parsed CSV."""
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def listing(names: Sequence[str]) -> str:
    """Names quoted and comma-separated, the first SHOWN_CHOICES of them."""
    shown = ", ".join(repr(name) for name in list(names)[:SHOWN_CHOICES])
    more = len(names) - SHOWN_CHOICES
    return shown + (f" (and {more} more)" if more > 0 else "")


FLOAT32_MAX = float(np.finfo(np.float32).max)


def standardised(values: np.ndarray, mean: float, std: float, column: str = "") -> np.ndarray:
    """(values - mean) / std, computed in float64, as float32; RowError at the first value
    whose standardised form is too large for float32 (it would become infinity)."""
    result = (values - mean) / std
    too_large = np.flatnonzero(np.abs(result) > FLOAT32_MAX)
    if too_large.size:
        row = int(too_large[0])
        raise _too_large(values[row], row, column)
    return result.astype(np.float32)


def standardised_cell(value: float, mean: float, std: float, row: int, column: str) -> float:
    """One cell's (value - mean) / std; RowError when float32 cannot hold it."""
    result = (value - mean) / std
    if abs(result) > FLOAT32_MAX:
        raise _too_large(value, row, column)
    return result


def _too_large(value, row: int, column: str) -> RowError:
    return RowError(row, column, f"{float(value)!r} is too large for the model's float32 inputs")


def numbers(values: np.ndarray, column: str) -> np.ndarray:
    """A whole column as float64; RowError at the first value that is not a finite number."""
    try:
        result = values.astype(np.float64) if values.dtype.kind != "b" else None
    except (TypeError, ValueError):
        result = None
    if result is None:
        result = np.array([number(value, row, column) for row, value in enumerate(values.tolist())],
                          dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(result))
    if bad.size:
        row = int(bad[0])
        value = values[row]
        text = "missing" if is_missing(value) else f"{value!r} is not a finite number"
        raise RowError(row, column, text)
    return result


def number(value, row: int, column: str) -> float:
    """One numeric cell: a number or a numeric string, finite; never a boolean or null."""
    if is_missing(value):
        raise RowError(row, column, "missing (null); a number is expected")
    if isinstance(value, bool | np.bool_):
        raise RowError(row, column, f"{value!r} is not a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise RowError(row, column, f"{value!r} is not a number") from None
    if not math.isfinite(result):
        raise RowError(row, column, f"{value!r} is not a finite number")
    return result


def category_index(value, row: int, column: str, categories: Sequence[str]) -> int:
    """Position of one cell's value in `categories`; RowError if missing or unknown."""
    if is_missing(value):
        raise RowError(row, column, f"missing (null); expected one of {listing(categories)}")
    name = category_name(value)
    try:
        return categories.index(name)
    except ValueError:
        raise RowError(row, column, f"unknown category {name!r}; expected one of "
                       f"{listing(categories)}") from None


def codes(values: np.ndarray, column: str, categories: Sequence[str], *, strict: bool,
          what: str = "category") -> np.ndarray:
    """Index of each value in `categories` (int64); -1 for an unknown one, or RowError if
    `strict`. A missing value is always a RowError."""
    distinct, inverse = np.unique(names(values, column, categories), return_inverse=True)
    positions = {name: index for index, name in enumerate(categories)}
    lookup = np.array([positions.get(name, -1) for name in distinct.tolist()], dtype=np.int64)
    result = lookup[inverse.reshape(-1)] if distinct.size else np.zeros(0, dtype=np.int64)
    if strict and (result < 0).any():
        row = int(np.flatnonzero(result < 0)[0])
        raise RowError(row, column, f"unknown {what} {category_name(values[row])!r}; expected "
                       f"one of {listing(categories)}")
    return result


def names(values: np.ndarray, column: str, categories: Sequence[str] = ()) -> np.ndarray:
    """Each value's category_name, as a str array; RowError at the first missing value."""
    if values.dtype.kind == "U":
        return values
    spelled = [None if is_missing(value) else category_name(value) for value in values.tolist()]
    if None in spelled:
        raise RowError(spelled.index(None), column,
                       "missing" + (f"; expected one of {listing(categories)}" if categories else ""))
    return np.array(spelled, dtype=str)


def one_hot(block: np.ndarray, positions: np.ndarray) -> None:
    """Set block[i, positions[i]] = 1 wherever positions[i] >= 0 (the rest stay 0)."""
    rows = np.flatnonzero(positions >= 0)
    block[rows, positions[rows]] = 1.0
