"""Table models on V2: one named input tensor per feature column, made into the model's inputs.

The convention of MLServer's pandas codec (a DataFrame is one input per column, shape [n, 1] or
[n]): FP32 for a numeric column (FP64 and the integer types are also accepted, as pandas sends
integer columns), BYTES for a category column (BOOL too). The columns then go through the
model's own preprocessing (engine.tables' `encode_columns`), as V1's rows do.
"""

import difflib

import numpy as np

from api.models.v2_tensors import bad_request, json_object
from engine.table_encoding import listing
from engine.tables import NUMERIC, RowError

NUMBER_DTYPES = {name: np.dtype(code) for name, code in (
    ("FP32", "<f4"), ("FP64", "<f8"), ("INT8", "i1"), ("INT16", "<i2"), ("INT32", "<i4"),
    ("INT64", "<i8"), ("UINT8", "u1"), ("UINT16", "<u2"), ("UINT32", "<u4"), ("UINT64", "<u8"))}
CATEGORY_DATATYPES = ("BYTES", "BOOL")
ADVERTISED = {NUMERIC: "FP32"}  # what the model metadata says; categories are BYTES
LENGTH_PREFIX = np.dtype("<u4")  # a binary BYTES element: its length, then its bytes


def column_inputs(table) -> list[dict]:
    """The model metadata's inputs: one per column, in the model's order."""
    return [{"name": column.name, "datatype": ADVERTISED.get(column.type, "BYTES"),
             "shape": [-1, 1]} for column in table.columns]


def columns_batch(inputs, binary: memoryview, model, max_inputs: int) -> np.ndarray:
    """The request's input tensors -> (n, input_size) in the model's dtype, or a 4xx naming the
    tensor, column or row."""
    table = model.table
    types = {column.name: column.type for column in table.columns}
    expected = f"the inputs are the columns {listing(table.column_names)}"
    if not isinstance(inputs, list) or not inputs:
        raise bad_request(f'"inputs" must be a list of tensors, one per column: {expected}')
    columns, positions, offset, rows = {}, {}, 0, None
    for index, tensor in enumerate(inputs):
        where = f"inputs[{index}]"
        name = tensor.get("name") if isinstance(tensor, dict) else None
        if name not in types:
            close = difflib.get_close_matches(str(name), table.column_names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise bad_request(f"{where}.name is {name!r}, not a column of the model{hint}; {expected}")
        if name in columns:
            raise bad_request(f"{where}: column {name!r} is sent twice")
        values, used = _column(tensor, where, binary[offset:], types[name], max_inputs)
        if rows is not None and len(values) != rows:
            raise bad_request(f"{where} ({name!r}) holds {len(values)} rows; the inputs before "
                              f"it hold {rows}: every column needs one value per row")
        columns[name], positions[name], offset, rows = values, where, offset + used, len(values)
    if offset != len(binary):
        raise bad_request(f"{len(binary) - offset} bytes follow the JSON header beyond what the "
                          "inputs' parameters.binary_data_size declare")
    missing = [name for name in table.column_names if name not in columns]
    if missing:
        raise bad_request(f"no input for column {missing[0]!r}; {expected}")
    try:
        X = table.encode_columns(columns)
    except RowError as error:
        raise bad_request(f"{positions[error.column]} ({error.column!r}), row {error.row}: "
                          f"{error.message}") from None
    return X if X.dtype == model.dtype else X.astype(model.dtype)


def _column(tensor: dict, where: str, binary: memoryview, kind: str, max_inputs: int):
    """One column's values (float numbers, or str categories) and the binary bytes it used."""
    datatype = tensor.get("datatype")
    accepted = list(NUMBER_DTYPES) if kind == NUMERIC else list(CATEGORY_DATATYPES)
    if datatype not in accepted:
        raise bad_request(f"{where}.datatype is {datatype!r}; a {kind} column takes "
                          f"{accepted[0]}" + (f" (also {', '.join(accepted[1:])})"))
    shape = tensor.get("shape")
    if not (isinstance(shape, list) and shape and len(shape) <= 2 and shape[1:] in ([], [1])
            and all(isinstance(size, int) and not isinstance(size, bool) for size in shape)
            and shape[0] >= 1):
        raise bad_request(f"{where}.shape must be [rows, 1] (or [rows]) with at least one row, "
                          f"got {shape!r}")
    if shape[0] > max_inputs:
        raise bad_request(f"{where}.shape asks for {shape[0]} rows; at most {max_inputs} per "
                          "request (MLPQ_PREDICT_MAX_INPUTS)", 413)
    size = json_object(tensor.get("parameters"), f"{where}.parameters").get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(binary):
            raise bad_request(f"{where}.parameters.binary_data_size must be an integer within "
                              f"the {len(binary)} bytes left after the JSON header")
        values = _binary_values(binary[:size], datatype, shape[0], where)
    else:
        values = _json_values(tensor.get("data"), datatype, shape[0], where)
    return values, size or 0


def _json_values(data, datatype: str, count: int, where: str) -> np.ndarray:
    flat = _flatten(data, where)
    if len(flat) != count:
        raise bad_request(f"{where}.data holds {len(flat)} values; its shape needs {count}")
    if datatype in NUMBER_DTYPES:
        if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in flat):
            raise bad_request(f"{where}.data must hold JSON numbers only")
        return np.array(flat, dtype=np.float64)
    wanted = bool if datatype == "BOOL" else str
    if not all(isinstance(value, wanted) for value in flat):
        raise bad_request(f"{where}.data must hold JSON {'booleans' if wanted is bool else 'strings'}")
    return np.array(flat, dtype=object)


def _flatten(data, where: str) -> list:
    """[v, ...] or [[v], ...] -> [v, ...]."""
    if not isinstance(data, list):
        raise bad_request(f"{where}.data must be a list unless the tensor is sent as binary data")
    if all(isinstance(item, list) for item in data) and data:
        if any(len(item) != 1 for item in data):
            raise bad_request(f"{where}.data: nested rows must each hold one value")
        return [item[0] for item in data]
    return data


def _binary_values(blob: memoryview, datatype: str, count: int, where: str) -> np.ndarray:
    if datatype == "BYTES":
        return _binary_strings(blob, count, where)
    dtype = np.dtype(np.bool_) if datatype == "BOOL" else NUMBER_DTYPES[datatype]
    if len(blob) != count * dtype.itemsize:
        raise bad_request(f"{where}.parameters.binary_data_size is {len(blob)} bytes; its shape "
                          f"and datatype need {count * dtype.itemsize}")
    values = np.frombuffer(blob, dtype=dtype)
    return values.astype(object) if datatype == "BOOL" else values


def _binary_strings(blob: memoryview, count: int, where: str) -> np.ndarray:
    """BYTES elements, each a 4-byte little-endian length and that many UTF-8 bytes."""
    values, position = [], 0
    for _ in range(count):
        if position + LENGTH_PREFIX.itemsize > len(blob):
            raise bad_request(f"{where}: the binary data ends before its {count} strings do")
        length = int(np.frombuffer(blob, LENGTH_PREFIX, 1, position)[0])
        position += LENGTH_PREFIX.itemsize
        if position + length > len(blob):
            raise bad_request(f"{where}: a string runs past the end of its binary data")
        try:
            values.append(bytes(blob[position:position + length]).decode("utf-8"))
        except UnicodeDecodeError:
            raise bad_request(f"{where}: string {len(values)} is not UTF-8 text") from None
        position += length
    if position != len(blob):
        raise bad_request(f"{where}.parameters.binary_data_size is {len(blob)} bytes; its "
                          f"{count} strings take {position}")
    return np.array(values, dtype=object)
