"""Rows by column name for table models, from JSON or an uploaded CSV, to the model's inputs.

Every row goes through the model's own preprocessing (engine.tables, saved in its manifest and
read once per loaded model by api.models.cache), so it is encoded exactly as the training rows
were. A row that cannot be (a missing, extra or misspelled column, an unknown category, a value
that is not a finite number) is a 422 keyed `rows[i].column` that lists what the model expects.
A CSV is read by the dataset upload's reader (api.datasets.upload and .columns), with its rules
and limits: comma, semicolon or tab, UTF-8 with or without a BOM, quoted fields, gzip.
"""

import tempfile
from pathlib import Path

import numpy as np
from flask import current_app

from api.datasets.columns import read_columns
from api.datasets.upload import Limits, UploadError, receive
from api.models.serving import PredictionError
from engine.tables import RowError

ROWS = "rows"  # the JSON key and the multipart file field


def check_table_model(model, field: str = ROWS) -> None:
    """Rows by column name need a model trained on a table; 422 for any other."""
    if model.table is None:
        takes = '"inputs" or "images"' if model.image_shape else '"inputs"'
        raise PredictionError(
            422, "rows_not_supported",
            f"Model {model.model_id} was not trained on a table: it takes {model.input_size} "
            f"numbers per sample as {takes}, not rows by column name.", field)


def rows_batch(model, rows: list, field: str = ROWS, lines=None) -> np.ndarray:
    """Row dicts -> (n, input_size) in the model's dtype; PredictionError naming the row and
    column. `lines(i)`, when given, is the file line of row i (for CSV uploads)."""
    try:
        X = model.table.encode_rows(rows)
    except RowError as error:
        raise row_error(error, field, lines) from None
    return X if X.dtype == model.dtype else X.astype(model.dtype)


def row_error(error: RowError, field: str, lines=None) -> PredictionError:
    """The one error shape for a row: 422, `errors` keyed `rows[i].column`."""
    key = f"{field}[{error.row}]" + (f".{error.column}" if error.column is not None else "")
    where = f" (line {lines(error.row)})" if lines is not None else ""
    return PredictionError(422, "invalid_row", f"{key}{where}: {error.message}.", key,
                           errors={key: [error.message + where]})


# ---- CSV uploads -------------------------------------------------------------------------------


def csv_rows(upload, check_count) -> tuple[list[dict], object]:
    """An uploaded CSV (a werkzeug FileStorage) -> (row dicts by column name, the CsvFile read).
    `check_count(rows)` runs once the rows are counted, before pandas reads them.

    Cells come as pandas reads them for a dataset upload: numbers as floats (NaN where empty),
    text as str (None where empty), so encode_rows judges them as it judges JSON rows.
    """
    limits = Limits.from_config(current_app.config)
    with tempfile.TemporaryDirectory(prefix="mlpq-predict-") as workdir:
        try:
            source = receive(upload, ROWS, Path(workdir), limits)
            check_count(source.rows)
            columns = read_columns(source.path, source.header, source.rows, source.delimiter)
        except UploadError as error:
            raise PredictionError(error.status, "invalid_csv", error.message, ROWS) from None
        except ValueError as error:  # pandas disagreed with the upload's own CSV check
            raise PredictionError(422, "invalid_csv", f"{ROWS}: pandas could not read the "
                                  f"CSV ({error}); is a quote left open?", ROWS) from None
        values = [column.values().tolist() for column in columns.values()]
    names = list(columns)
    return [dict(zip(names, cells, strict=True)) for cells in zip(*values, strict=True)], source

