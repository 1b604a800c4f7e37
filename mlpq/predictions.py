"""The bodies the client sends to predict endpoints, and the `Predictions` it reads back."""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import IO, Any

SOURCES = ("images", "inputs", "rows", "csv")
ROWS_FIELD = "rows"  # the multipart field of a CSV file of rows, and the JSON key of rows


class Predictions(list):
    """A list of predictions (dicts) that also knows the `model_id`, the `classes` names (empty
    for regression) and the rest of the answer (`header`)."""

    def __init__(self, items=(), *, model_id: str | None = None, classes: list[str] = (),
                 header: dict | None = None):
        super().__init__(items)
        self.model_id, self.classes, self.header = model_id, list(classes), header or {}


def request_options(stack: contextlib.ExitStack, *, images=None, inputs=None, rows=None,
                    csv=None) -> dict[str, Any]:
    """httpx options (json= or files=) for exactly one of the four sources; a CSV file is
    opened in `stack` and streamed, never read whole."""
    given = {name: value for name, value in zip(SOURCES, (images, inputs, rows, csv), strict=True)
             if value is not None}
    if len(given) != 1:
        raise ValueError(f"pass exactly one of {', '.join(SOURCES)}; got {sorted(given) or 'none'}")
    if images is not None:
        return {"files": [("image", (name, data, "application/octet-stream"))
                          for name, data in map(image_bytes, images)]}
    if inputs is not None:
        return {"json": {"inputs": [row.tolist() if hasattr(row, "tolist") else row
                                    for row in inputs]}}
    if rows is not None:
        return {"json": {ROWS_FIELD: plain_rows(rows)}}
    name, file = open_file(stack, csv)
    return {"files": [(ROWS_FIELD, (name, file, "text/csv"))]}


def plain_rows(rows) -> list[dict]:
    """Rows as JSON can carry them: a DataFrame's records, NumPy scalars as Python numbers,
    NaN (how pandas shows an empty cell) as null."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict(orient="records")
    return [{str(name): _plain(value) for name, value in row.items()} for row in rows]


def _plain(value):
    if hasattr(value, "item"):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def open_file(stack: contextlib.ExitStack, source) -> tuple[str, IO[bytes]]:
    """(file name, binary file) of a path or an already open binary file."""
    if isinstance(source, str | os.PathLike):
        return Path(source).name, stack.enter_context(open(source, "rb"))
    return Path(getattr(source, "name", "rows.csv")).name, source


def read_answer(answer: dict) -> Predictions:
    """The predict endpoints' JSON as `Predictions`: a classification adds each row's `class`
    (the name of its `label`); a regression's rows hold `value`."""
    classes = answer.get("classes") or []
    header = {key: value for key, value in answer.items() if key not in ("predictions", "classes")}
    return Predictions((_named(prediction, classes) for prediction in answer["predictions"]),
                       model_id=answer.get("model_id"), classes=classes, header=header)


def _named(prediction: dict, classes: list[str]) -> dict:
    if "label" not in prediction:
        return prediction
    label = prediction["label"]
    return {"class": classes[label] if label < len(classes) else str(label), **prediction}


def image_bytes(image) -> tuple[str, bytes]:
    """(file name, encoded bytes) of a path, raw bytes, a PIL image or a uint8 array."""
    if isinstance(image, str | os.PathLike):
        return Path(image).name, Path(image).read_bytes()
    if isinstance(image, bytes):
        return "image", image
    from PIL import Image

    if not isinstance(image, Image.Image):
        import numpy as np

        array = np.asarray(image)
        if array.dtype != np.uint8:  # floats in 0..1, as the model's inputs are
            array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
        if array.ndim == 1 and array.size == 784:
            array = array.reshape(28, 28)
        image = Image.fromarray(array)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "image.png", buffer.getvalue()

