"""An uploaded CSV made safe to parse: copied to disk in chunks while hashed, gzip inflated within
the byte limit, checked to be UTF-8 text, its delimiter sniffed, and every row counted against
the header, so that pandas (api.datasets.ingest) only ever reads a rectangular table within the
limits. Never more than a chunk of the file is in memory here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
NEWLINE = b"\n"
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
SNIFF_LINES = 20
csv.field_size_limit(1 << 24)  # a cell may be long text; the byte limit bounds it anyway


@dataclass(frozen=True)
class Limits:
    """The upload limits (worker.store.settings: MLPQ_MAX_DATASET_*), read from the app config."""

    max_bytes: int
    max_rows: int
    max_columns: int
    max_classes: int
    max_datasets: int

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(config["MAX_DATASET_BYTES"], config["MAX_DATASET_ROWS"],
                   config["MAX_DATASET_COLUMNS"], config["MAX_DATASET_CLASSES"],
                   config["MAX_DATASETS_PER_KEY"])


class UploadError(Exception):
    """An upload the service refuses: `status` (413 for a limit, else 422), a message naming the
    file, line, column or limit, and the request `field` it concerns."""

    def __init__(self, status: int, message: str, field: str = "file"):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class CsvFile:
    """A received CSV: where its text is, what it is, and the file line of each data row."""

    field: str  # the request field: "file" or "test_file"
    filename: str | None  # as the client named it
    label: str  # how messages name it: "file 'titanic.csv'"
    path: Path  # the CSV text on disk (inflated when the upload was gzip)
    sha256: str  # of the bytes uploaded
    size_bytes: int
    compressed: bool
    delimiter: str
    header: list[str]
    lines: np.ndarray  # lines[i]: the line of the file holding data row i

    @property
    def rows(self) -> int:
        return len(self.lines)

    def line(self, row: int) -> int:
        return int(self.lines[row])


def receive(upload, field: str, workdir: Path, limits: Limits) -> CsvFile:
    """Read the werkzeug FileStorage `upload` into `workdir`; UploadError for anything wrong."""
    label = f"{field} {upload.filename!r}" if upload.filename else field
    raw = workdir / f"{field}.upload"
    digest, size, head = _copy(upload.stream, raw, limits, label, field)
    if size == 0:
        raise UploadError(422, f"{label} is empty.", field)
    text = raw
    if head.startswith(GZIP_MAGIC):
        text = _inflate(raw, workdir / f"{field}.csv", limits, label, field)
    _check_text(text, label, field)
    delimiter = _sniff(text)
    header, lines = _scan(text, delimiter, limits, label, field)
    return CsvFile(field, upload.filename or None, label, text, digest, size, text is not raw, delimiter, header, lines)


def _copy(stream, target: Path, limits: Limits, label: str, field: str):
    digest, size, head = hashlib.sha256(), 0, b""
    with open(target, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limits.max_bytes:
                raise UploadError(413, f"{label} is larger than {limits.max_bytes} bytes "
                                       "(MLPQ_MAX_DATASET_BYTES).", field)
            head = head or chunk[:2]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size, head


def _inflate(source: Path, target: Path, limits: Limits, label: str, field: str) -> Path:
    """Decompress a gzip upload chunk by chunk, stopping once it exceeds the byte limit."""
    size = 0
    try:
        with gzip.open(source, "rb") as compressed, open(target, "wb") as out:
            while chunk := compressed.read(CHUNK):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise UploadError(413, f"{label} inflates to more than {limits.max_bytes} "
                                           "bytes (MLPQ_MAX_DATASET_BYTES).", field)
                out.write(chunk)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise UploadError(422, f"{label} is not a complete gzip file ({error}).", field) from None
    if size == 0:
        raise UploadError(422, f"{label} is empty once decompressed.", field)
    return target


def _check_text(path: Path, label: str, field: str) -> None:
    """UTF-8 (a BOM allowed) with no NUL byte; the error names the line of the first bad byte."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            nul = chunk.find(b"\x00")
            data = chunk[:nul] if nul >= 0 else chunk
            try:
                decoder.decode(data)
            except UnicodeDecodeError as error:
                before = max(error.start - (len(error.object) - len(data)), 0)  # bytes held over
                bad = error.object[error.start:error.start + 1].hex()
                raise UploadError(422, f"{label}: line {line + data[:before].count(NEWLINE)} is "
                                       f"not UTF-8 text (byte 0x{bad}); save the file as UTF-8.",
                                  field) from None
            if nul >= 0:
                raise UploadError(422, f"{label}: line {line + data.count(NEWLINE)} holds a NUL "
                                       "byte: this is not a CSV text file.", field)
            line += chunk.count(NEWLINE)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UploadError(422, f"{label}: the last line ends inside a UTF-8 character; save "
                               "the file as UTF-8.", field) from None


def _open(path: Path):
    return open(path, encoding="utf-8-sig", newline="")


def _sniff(path: Path) -> str:
    """Comma, semicolon or tab: the one that splits the first lines into the most fields, the
    same number on each line (a tie, or none fitting, is a comma)."""
    with _open(path) as text:
        sample = [line for _, line in zip(range(SNIFF_LINES), text, strict=False)]
    best, widest = ",", 1
    for delimiter in DELIMITERS:
        rows = [row for row in csv.reader(sample[:-1] or sample, delimiter=delimiter,
                                          skipinitialspace=True) if row]
        widths = {len(row) for row in rows}
        if len(widths) == 1 and (width := widths.pop()) > widest:
            best, widest = delimiter, width
    return best


def _scan(path: Path, delimiter: str, limits: Limits, label: str, field: str):
    """The header, checked, and the line of each data row; every row must have the header's
    number of fields. Blank lines are skipped, as pandas skips them."""
    lines = array("q")
    with _open(path) as text:
        reader = csv.reader(text, delimiter=delimiter, skipinitialspace=True)
        try:
            header = next((row for row in reader if row), None)
            if header is None:
                raise UploadError(422, f"{label} is empty: no header row.", field)
            _check_header(header, limits, label, field)
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise UploadError(422, f"{label}: line {reader.line_num} has {len(row)} "
                                           f"field(s), the header has {len(header)} (ragged "
                                           "rows; is a comma or quote missing?)", field)
                lines.append(reader.line_num)
                if len(lines) > limits.max_rows:
                    raise UploadError(413, f"{label} has more than {limits.max_rows} rows "
                                           "(MLPQ_MAX_DATASET_ROWS).", field)
        except csv.Error as error:
            raise UploadError(422, f"{label}: line {reader.line_num} is not valid CSV "
                                   f"({error}).", field) from None
    if not lines:
        raise UploadError(422, f"{label} has a header but no data rows.", field)
    return header, np.frombuffer(lines, dtype=np.int64)


def _check_header(header: list[str], limits: Limits, label: str, field: str) -> None:
    if len(header) > limits.max_columns:
        raise UploadError(413, f"{label} has {len(header)} columns, more than "
                               f"{limits.max_columns} (MLPQ_MAX_DATASET_COLUMNS).", field)
    for position, name in enumerate(header, 1):
        if not name.strip():
            raise UploadError(422, f"{label}: column {position} of the header has no name; "
                                   "every column needs one.", field)
    seen = set()
    for name in header:
        if name in seen:
            raise UploadError(422, f"{label}: the header names column {name!r} twice; column "
                                   "names must be unique.", field)
        seen.add(name)
