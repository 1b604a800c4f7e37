"""CSV that a spreadsheet opens as data: the one rule for every CSV mlpq writes (API and CLI).

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and Excel drops
a leading tab or carriage return before looking), so a text cell from an uploaded table or a
job's name could call out to the network or the shell when the file is opened ("CSV
injection"). As OWASP recommends, such a text cell is written with a leading single quote,
which spreadsheets show as text. A number stays a number: -5 (or the text "-5", as the csv
module reads it back) is a negative number, not a formula, so it is left as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
# A plain decimal number, as a spreadsheet reads one: no spaces, no "inf" or "nan", no "1_000".
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def is_number(text: str) -> bool:
    """`text` is a plain decimal number ("22", "-5", "+1.5e3", ".5")."""
    return NUMBER.fullmatch(text) is not None


def safe_cell(value):
    """`value` as a cell no spreadsheet runs: text that starts like a formula gets a leading
    single quote; numbers, booleans, None and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not is_number(value):
        return ESCAPE + value
    return value


def write_csv(file: IO[str], header: Iterable, rows: Iterable[Iterable]) -> None:
    """A header row and the rows to `file` (opened with newline=""), every cell made safe."""
    writer = csv.writer(file)
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)


def csv_text(header: Iterable, rows: Iterable[Iterable]) -> str:
    """The CSV `write_csv` writes, as a string."""
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue()
