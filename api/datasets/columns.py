"""pandas reads a checked CSV in chunks into compact columns: numbers as one float64 array (NaN where
missing), text as codes into a vocabulary (each distinct string kept once), so memory holds the
finished columns and one chunk, never a whole DataFrame of Python strings.

A column takes the type pandas infers, chunk by chunk: integers (with gaps, thanks to nullable
dtypes) and floats are numbers; text and True/False are categories. A column whose chunks
disagree (numbers, then text further down) is read again, alone, as text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MISSING_TEXTS = ("", "NA", "N/A", "n/a", "NULL", "null", "None", "#N/A", "<NA>")  # a missing cell
CHUNK_ROWS = 65_536
NUMBER, INTEGER, TEXT, BOOLEAN = "number", "integer", "text", "boolean"


class Column:
    """One column filled chunk by chunk; `conflict` once its chunks' types disagree."""

    def __init__(self, rows: int, forced_text: bool = False):
        self.rows, self.type, self.conflict = rows, TEXT if forced_text else None, False
        self.numbers: np.ndarray | None = None
        self.codes = np.full(rows, -1, dtype=np.int32)
        self.vocabulary: dict[str, int] = {}
        self.integer = True

    def add(self, series: pd.Series, start: int) -> None:
        present = series.notna()
        if not present.any() or self.conflict:
            return  # an empty stretch says nothing about the type
        kind = series.dtype.kind
        chunk_type = NUMBER if kind in "iuf" else BOOLEAN if kind == "b" else TEXT
        if self.type is None:
            self.type = chunk_type
        if chunk_type != self.type:
            self.conflict = True
            return
        stop = start + len(series)
        if chunk_type == NUMBER:
            if self.numbers is None:
                self.numbers = np.full(self.rows, np.nan)
            self.numbers[start:stop] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            self.integer &= kind in "iu"
        else:
            self._add_text(series, present.to_numpy(), start)

    def _add_text(self, series: pd.Series, present: np.ndarray, start: int) -> None:
        spelled = series.astype(object) if self.type == BOOLEAN else series
        distinct, inverse = np.unique(spelled[present].astype(str).to_numpy(dtype=object),
                                      return_inverse=True)
        lookup = np.array([self.vocabulary.setdefault(value, len(self.vocabulary))
                           for value in distinct.tolist()], dtype=np.int32)
        rows = start + np.flatnonzero(present)
        self.codes[rows] = lookup[inverse.reshape(-1)]

    @property
    def is_number(self) -> bool:
        return self.type == NUMBER

    def values(self) -> np.ndarray:
        """float64 with NaN where missing, or an object array of str with None where missing."""
        if self.type == NUMBER:
            return self.numbers
        if self.type is None:
            return np.full(self.rows, np.nan)  # empty in every row (refused by the caller)
        spelled = np.array([*self.vocabulary, None], dtype=object)
        return spelled[self.codes]  # code -1 is the None at the end

    def first_nonfinite_text(self) -> int | None:
        """For text that is all numbers but for NaN/inf spellings: the first such row."""
        if self.type != TEXT:
            return None
        bad = []
        for text, code in self.vocabulary.items():
            try:
                number = float(text)
            except ValueError:
                return None  # real text: a category column
            if not math.isfinite(number):
                bad.append(code)
        rows = np.flatnonzero(np.isin(self.codes, bad)) if bad else []
        return int(rows[0]) if len(rows) else None


def read_columns(path, header: list[str], rows: int, delimiter: str) -> dict[str, Column]:
    """Every column of the CSV at `path` (already checked: `rows` rows of `header`)."""
    columns = {name: Column(rows) for name in header}
    _fill(columns, path, delimiter, header, None)
    again = [name for name, column in columns.items() if column.conflict]
    if again:
        retyped = {name: Column(rows, forced_text=True) for name in again}
        _fill(retyped, path, delimiter, header, "string")
        columns.update(retyped)
    return columns


def _fill(columns: dict[str, Column], path, delimiter: str, header: list[str], dtype) -> None:
    options = {"usecols": list(columns), "dtype": dtype} if dtype else {}
    expected, start = [name for name in header if name in columns], 0
    with pd.read_csv(path, sep=delimiter, encoding="utf-8-sig", skipinitialspace=True,
                     keep_default_na=False, na_values=list(MISSING_TEXTS),
                     dtype_backend="numpy_nullable", engine="c", chunksize=CHUNK_ROWS,
                     **options) as chunks:
        for chunk in chunks:
            if list(chunk.columns) != expected:
                raise ValueError(f"pandas read the columns {list(chunk.columns)}")
            for name, column in columns.items():
                column.add(chunk.pop(name), start)
            start += len(chunk.index)
    if start != columns[next(iter(columns))].rows:
        raise ValueError(f"pandas read {start} rows")
