"""Image files for prediction tests: encoded arrays, MNIST digits as people draw them, bombs."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """A greyscale uint8 (h, w) or float [0, 1] image -> file bytes."""
    if pixels.dtype != np.uint8:
        pixels = np.round(pixels * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mnist_png(sample: np.ndarray) -> bytes:
    """One MNIST sample (784 floats in [0, 1]) as the PNG it came from: white on black, 28x28."""
    return encode(sample.reshape(28, 28))


def drawn_on_paper(sample: np.ndarray, size=200, canvas=(400, 300), at=(170, 60)) -> bytes:
    """An MNIST digit as if drawn dark on white paper: inverted, enlarged, off-centre, JPEG."""
    digit = Image.fromarray(255 - np.round(sample.reshape(28, 28) * 255).astype(np.uint8))
    digit = digit.resize((size, size), Image.Resampling.BICUBIC)
    page = Image.new("L", canvas, 255)
    page.paste(digit, at)
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_header_only(width, height):
    """A valid PNG signature and IHDR claiming width x height, with a tiny IDAT: a bomb's shape."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
