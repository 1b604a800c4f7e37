"""Images in and out: client images decoded safely into MNIST-style 28x28 inputs; PNG data URLs.

MNIST was made by scaling each digit to fit a 20x20 box (keeping its aspect ratio, with
anti-aliasing) and pasting it into a 28x28 field so that its centre of mass sits at the
centre. `to_mnist` repeats those steps so that a photo or a drawing of a digit reaches the
model looking like the images it was trained on.
"""

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("PNG", "JPEG")
FIELD = 28  # MNIST's image side
BOX = 20  # MNIST's digits were scaled to fit this box
CENTRE = 14.0  # centre of mass of MNIST digits, in pixel-index coordinates (row, column)
# Images are worked on at most this many pixels a side (a JPEG is even decoded at a reduced
# scale, free in the DCT): the digit ends up 20 pixels tall, so more detail is only cost.
DRAFT_SIDE = 1024
# Pixels whose ink is below this fraction of the darkest stroke are left out of the bounding
# box: JPEG ringing and paper texture, not the digit.
BBOX_THRESHOLD = 0.05

# Pillow's own bomb check (a warning above the cap, an error above twice it) stays armed as a
# second line; `decode_greyscale` rejects anything above our configured cap before decoding.
Image.MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied to each image before any pixel is decoded."""

    max_bytes: int = 5 * 1024 * 1024
    max_pixels: int = 12_000_000  # a 12-megapixel phone photo


class ImageError(ValueError):
    """An image that cannot be used; `rule` names what was wrong."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def preprocess_image(data: bytes, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """PNG/JPEG bytes -> (28, 28) float32 in [0, 1], white digit on black, MNIST-centred."""
    return to_mnist(decode_greyscale(data, limits))


def decode_greyscale(data: bytes, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """PNG/JPEG bytes -> (height, width) float32 greyscale in [0, 255].

    The header is read first (`Image.open` is lazy), so oversized images are refused before a
    single pixel is decompressed.
    """
    if len(data) == 0:
        raise ImageError("empty", "image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageError(
            "too_large", f"image is {len(data)} bytes; the limit is {limits.max_bytes} bytes"
        )
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageError(
                    "too_many_pixels",
                    f"image is {width}x{height} = {width * height} pixels; the limit is "
                    f"{limits.max_pixels} pixels (decompression-bomb guard)",
                )
            if image.format == "JPEG" and max(width, height) > DRAFT_SIDE:
                scale = max(width, height) / DRAFT_SIDE
                image.draft("L", (int(width / scale), int(height / scale)))
            image = ImageOps.exif_transpose(image)
            return _greyscale(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("unsupported_format", "image is not a PNG or JPEG file") from None
    except Image.DecompressionBombError as error:
        raise ImageError("too_many_pixels", str(error)) from None
    except Exception as error:  # noqa: BLE001 - any decoder failure is the client's bad file
        raise ImageError(
            "undecodable", f"image could not be decoded (truncated or corrupt): {error}"
        ) from None


def _greyscale(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> float32 luminance in [0, 255], at most DRAFT_SIDE pixels a side.

    Transparency is flattened. Shrinking happens on 8-bit pixels before the float copy, so a
    12-megapixel PNG costs tens of megabytes, not hundreds, per request in flight.
    """
    if image.mode.startswith("I;16"):
        return np.asarray(_shrink(image.convert("I")), dtype=np.float32) / 257.0
    if image.mode in ("I", "F"):
        pixels = np.asarray(_shrink(image), dtype=np.float32)
        return pixels / 257.0 if pixels.max(initial=0) > 255 else pixels
    if image.has_transparency_data:
        return _flatten_alpha(np.asarray(_shrink(image.convert("RGBA")), dtype=np.float32))
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return np.asarray(_shrink(image.convert("L")), dtype=np.float32)


def _shrink(image: Image.Image) -> Image.Image:
    """Box-average by a whole factor until the longer side is at most DRAFT_SIDE."""
    factor = -(-max(image.size) // DRAFT_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) RGBA -> (h, w) luminance over a background that contrasts with the strokes.

    Drawing apps export strokes on a transparent canvas; the ink's colour is unknown, so the
    canvas is made white under dark strokes and black under light ones.
    """
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3] / 255.0
    if alpha.min() >= 1.0:
        return luminance
    ink = float((luminance * alpha).sum() / max(alpha.sum(), 1e-6))
    background = 255.0 if ink < 127.5 else 0.0
    return luminance * alpha + background * (1.0 - alpha)


def to_mnist(grey: np.ndarray) -> np.ndarray:
    """(h, w) greyscale in [0, 255] -> (28, 28) float32 in [0, 1] the way MNIST was made.

    Steps: invert when the background (the border pixels) is light; subtract the background
    and its noise; crop to the ink's bounding box; scale so the longer side is 20 (aspect kept,
    anti-aliased); paste into 28x28 with the centre of mass at (14, 14); scale to [0, 1].
    """
    ink = _ink(grey)
    peak = float(ink.max(initial=0.0))
    if peak < 1.0:
        raise ImageError("blank", "image has no visible digit: it is one flat colour")
    rows, cols = np.nonzero(ink >= BBOX_THRESHOLD * peak)
    digit = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] / peak
    patch = _fit_box(digit)
    return _centre_by_mass(patch)


def _ink(grey: np.ndarray) -> np.ndarray:
    """Greyscale -> ink intensity >= 0 on a zero background (light backgrounds inverted)."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    background = float(np.median(border))
    if background > 127.5:
        grey, border, background = 255.0 - grey, 255.0 - border, 255.0 - background
    noise = float(np.percentile(np.abs(border - background), 95))
    return np.clip(grey - (background + noise), 0.0, None)


def _fit_box(digit: np.ndarray) -> np.ndarray:
    """Scale (h, w) so its longer side is BOX pixels, keeping the aspect ratio."""
    height, width = digit.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(digit.astype(np.float32)).resize(
        size, Image.Resampling.LANCZOS
    )
    # Lanczos overshoots a little around sharp strokes.
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    """Paste (h, w) <= (20, 20) into a 28x28 field so its centre of mass is nearest (14, 14)."""
    height, width = patch.shape
    mass = float(patch.sum())
    if mass <= 0.0:
        raise ImageError("blank", "image has no visible digit after scaling to 20x20")
    row_centre = float((patch.sum(axis=1) * np.arange(height)).sum() / mass)
    col_centre = float((patch.sum(axis=0) * np.arange(width)).sum() / mass)
    top = min(max(round(CENTRE - row_centre), 0), FIELD - height)
    left = min(max(round(CENTRE - col_centre), 0), FIELD - width)
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = patch
    return field


# ---- pictures out -------------------------------------------------------------------------------

DIVERGING = "RdBu_r"  # the colour scale of every signed picture: red positive, blue negative


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
