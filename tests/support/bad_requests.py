"""Bad V1 prediction requests, each with the answer it must get: never a 500."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.support.images import b64, encode, png_header_only

SAMPLE = [0.5] * 784


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), 0).save(buffer, "GIF")
    return buffer.getvalue()


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000), 1).save(buffer, "PNG")
    return buffer.getvalue()


def with_value(value):
    sample = list(SAMPLE)
    sample[100] = value
    return {"json": {"inputs": [sample]}}


def raw(body: bytes, content_type="application/json"):
    return {"data": body, "content_type": content_type}


def upload(*files):
    return {"content_type": "multipart/form-data",
            "data": {"image": [(io.BytesIO(data), name) for name, data in files]}}


# (case, query, request keyword arguments, status, error type, text the message must contain)
V1_CASES = [
    ("malformed json", "", raw(b'{"inputs": [[0.5,'), 400, "invalid_json", "Malformed JSON"),
    ("NaN literal", "", raw(b'{"inputs": [[NaN]]}'), 400, "invalid_json", "NaN"),
    ("Infinity literal", "", raw(b'{"inputs": [[Infinity]]}'), 400, "invalid_json", "Infinity"),
    ("number beyond a double", "", raw(b'{"inputs": [[1e999]]}'), 400, "invalid_json", "infinity"),
    ("empty body", "", raw(b""), 400, "invalid_json", "empty"),
    ("text/plain", "", raw(b"0.5", "text/plain"), 415, "unsupported_media_type", "text/plain"),
    ("form urlencoded", "", raw(b"a=1", "application/x-www-form-urlencoded"), 415,
     "unsupported_media_type", "multipart/form-data"),
    ("top-level list", "", {"json": [SAMPLE]}, 422, "invalid_body", "exactly one key"),
    ("both inputs and images", "", {"json": {"inputs": [SAMPLE], "images": ["x"]}}, 422,
     "invalid_body", "exactly one key"),
    ("unknown key", "", {"json": {"instances": [SAMPLE]}}, 422, "invalid_body", "inputs"),
    ("inputs empty", "", {"json": {"inputs": []}}, 422, "invalid_body", "non-empty list"),
    ("inputs a number", "", {"json": {"inputs": 3}}, 422, "invalid_body", "non-empty list"),
    ("one flat sample", "", {"json": {"inputs": SAMPLE}}, 422, "invalid_shape", "wrap a single"),
    ("783 values", "", {"json": {"inputs": [SAMPLE[:-1]]}}, 422, "invalid_shape", "[783]"),
    ("28x27 image", "", {"json": {"inputs": [[[0.1] * 27] * 28]}}, 422, "invalid_shape", "28x28"),
    ("ragged samples", "", {"json": {"inputs": [SAMPLE, SAMPLE[:10]]}}, 422, "invalid_shape",
     "same shape"),
    ("strings", "", {"json": {"inputs": [["0.5"] * 784]}}, 422, "invalid_input", "numbers only"),
    ("booleans", "", {"json": {"inputs": [[True] * 784]}}, 422, "invalid_input", "numbers only"),
    ("null value", "", with_value(None), 422, "invalid_input", "numbers only"),
    ("pixel above 1", "", with_value(1.5), 422, "invalid_value", "inputs[0][100] = 1.5"),
    ("negative pixel", "", with_value(-0.25), 422, "invalid_value", "outside [0, 1]"),
    ("huge number", "", with_value(1e308), 422, "invalid_value", "outside [0, 1]"),
    ("image not a string", "", {"json": {"images": [42]}}, 422, "invalid_image", "base64 string"),
    ("image not base64", "", {"json": {"images": ["%%%"]}}, 422, "invalid_base64", "images[0]"),
    ("image not an image", "", {"json": {"images": [b64(b"hello" * 20)]}}, 422,
     "image_unsupported_format", "not a PNG or JPEG"),
    ("gif image", "", {"json": {"images": [b64(gif())]}}, 422, "image_unsupported_format", "PNG"),
    ("truncated png", "", {"json": {"images": [b64(encode(np.random.default_rng(0).random((64, 64)))[:300])]}}, 422,
     "image_undecodable", "truncated or corrupt"),
    ("blank image", "", {"json": {"images": [b64(encode(np.ones((40, 40))))]}}, 422,
     "image_blank", "no visible digit"),
    ("png bomb", "", {"json": {"images": [b64(bomb())]}}, 413, "image_too_many_pixels",
     "5000x5000"),
    ("header-only bomb upload", "", upload(("bomb.png", png_header_only(60_000, 60_000))), 413,
     "image_too_many_pixels", "bomb.png"),
    ("second upload broken", "", upload(("ok.png", encode(np.eye(28))), ("bad.png", b"nope")),
     422, "image_unsupported_format", "image[1] (bad.png)"),
    ("multipart without files", "", {"content_type": "multipart/form-data", "data": {"a": "b"}},
     422, "invalid_body", "-F image=@"),
    ("1025 inputs", "", {"json": {"inputs": [[0]] * 1025}}, 413, "too_many_inputs", "1024"),
]
