"""A table model's rows on the command line: `--row` text, CSV files of rows, predictions as CSV."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path
from typing import IO

from worker.store.spreadsheet import is_number, write_csv

QUOTES = "\"'"
INTEGER = re.compile(r"[+-]?\d+")
DELIMITERS = ",;\t"  # what the server accepts (api.datasets.upload sniffs the same three)
SNIFF_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class RowError(ValueError):
    """A --row that cannot be read, or a CSV file whose rows do not match its predictions."""


def parse_row(text: str) -> dict:
    """`age=22, sex=male, name="Smith, J"` -> {"age": 22, "sex": "male", "name": "Smith, J"}.

    Pairs are separated by commas outside quotes; a name or value may be quoted ("..." or
    '...', opening at its start only, so O'Brien needs none). An unquoted value that looks
    like a number is one (22, -5, 1.5e3); anything else, and any quoted value, is text
    ("02134" stays text); an empty unquoted value is missing (null)."""
    row, at = {}, 0
    while True:
        name, _, at = _token(text, at, "=,")
        if at >= len(text) or text[at] != "=":
            raise RowError(f"{text!r}: {name or 'an empty pair'!r} has no value; write "
                           "COLUMN=VALUE pairs separated by commas")
        if not name:
            raise RowError(f"{text!r}: a column name is empty (character {at + 1})")
        value, quoted, at = _token(text, at + 1, ",")
        if name in row:
            raise RowError(f"{text!r}: column {name!r} is given twice")
        row[name] = value if quoted else number_or_text(value)
        if at >= len(text):
            return row
        at += 1  # past the comma


def _token(text: str, at: int, stops: str) -> tuple[str, bool, int]:
    """One name or value from text[at:]: (its text, whether it was quoted, the index after it)."""
    while at < len(text) and text[at] == " ":
        at += 1
    if at < len(text) and text[at] in QUOTES:
        end = text.find(text[at], at + 1)
        if end < 0:
            raise RowError(f"{text!r}: the quote at character {at + 1} is never closed")
        value, after = text[at + 1:end], end + 1
        while after < len(text) and text[after] == " ":
            after += 1
        if after < len(text) and text[after] not in stops:
            raise RowError(f"{text!r}: {text[after]!r} after the closing quote at character "
                           f"{end + 1}; put the whole value in the quotes")
        return value, True, after
    end = at
    while end < len(text) and text[end] not in stops:
        end += 1
    return text[at:end].strip(), False, end


def number_or_text(value: str):
    """22 -> int, -5.5 or 1e3 -> float (the one test of "looks like a number":
    worker.store.spreadsheet.is_number), "" -> None, anything else as it is."""
    if value == "":
        return None
    if is_number(value):
        return int(value) if INTEGER.fullmatch(value) else float(value)
    return value


def read_csv(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text cells) of a CSV file as the server reads one: plain or gzip,
    UTF-8 with or without BOM, comma, semicolon or tab; blank lines skipped."""
    raw = Path(path).read_bytes()
    if raw.startswith(GZIP_MAGIC):
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RowError(f"{path}: not UTF-8 text (byte {error.start + 1})") from None
    try:
        dialect = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:  # one column, or too little text to tell: the comma
        delimiter = ","
    lines = [line for line in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
             if line]
    if not lines:
        raise RowError(f"{path} is empty; it needs a header row and rows")
    return lines[0], lines[1:]


def prediction_columns(classes: list[str], taken: list[str]) -> list[str]:
    """The columns added after the input columns: `label` and one `probability_<class>` per
    class, or `value` for regression (each prefixed with predicted_ if an input has its name)."""
    names = ["label", *(f"probability_{name}" for name in classes)] if classes else ["value"]
    return [_free(name, set(taken)) for name in names]


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"predicted_{name}"
    return name


def prediction_cells(prediction: dict, classes: list[str]) -> list:
    if classes:
        return [prediction["class"], *prediction["probabilities"]]
    return [prediction["value"]]


def write_predictions(file: IO[str], header: list[str], rows: list[list], predictions,
                      classes: list[str]) -> None:
    """The input columns and cells, then each row's prediction, as CSV to `file`."""
    if len(rows) != len(predictions):
        raise RowError(f"{len(rows)} rows were read but {len(predictions)} predictions came back")
    write_csv(file, [*header, *prediction_columns(classes, header)],
              ([*cells, *prediction_cells(prediction, classes)]
               for cells, prediction in zip(rows, predictions, strict=True)))


def table_of(rows: list[dict]) -> tuple[list[str], list[list]]:
    """(header, cells) of --row dicts: every column named, in order of first appearance."""
    header = list(dict.fromkeys(name for row in rows for name in row))
    return header, [[row.get(name, "") for name in header] for row in rows]
