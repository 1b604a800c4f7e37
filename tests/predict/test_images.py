"""api.models.images: safe decoding and MNIST-style preprocessing, on real MNIST digits and made-up files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from api.models.images import ImageError, ImageLimits, decode_greyscale, preprocess_image, to_mnist
from tests.support.images import encode, png_header_only

ROWS, COLS = np.mgrid[0:28, 0:28]


def centre_of_mass(image):
    mass = image.sum()
    return (ROWS * image).sum() / mass, (COLS * image).sum() / mass


def ink_box(image):
    rows, cols = np.nonzero(image > 0)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_an_mnist_png_comes_back_almost_unchanged(mnist_test):
    """MNIST digits already fill a 20x20 box centred by mass: preprocessing nearly keeps them."""
    X_test, _ = mnist_test
    for sample in X_test[:50]:
        seen = preprocess_image(encode(sample.reshape(28, 28)))
        assert centre_of_mass(seen) == pytest.approx((14, 14), abs=0.75)
        assert np.abs(seen - sample.reshape(28, 28)).mean() < 0.06


def test_dark_on_light_equals_light_on_dark(mnist_test):
    X_test, _ = mnist_test
    digit = X_test[0].reshape(28, 28)
    np.testing.assert_allclose(preprocess_image(encode(1 - digit)), preprocess_image(encode(digit)),
                               atol=1e-6)


@pytest.mark.parametrize("canvas,at,size", [((400, 300), (10, 10), 200), ((64, 500), (0, 300), 60),
                                            ((1000, 80), (900, 5), 70)])
def test_off_centre_large_digit_is_centred_and_fits_20x20(mnist_test, canvas, at, size):
    X_test, _ = mnist_test
    digit = Image.fromarray(np.round(X_test[7].reshape(28, 28) * 255).astype(np.uint8))
    page = Image.new("L", canvas, 0)
    page.paste(digit.resize((size, size), Image.Resampling.BICUBIC), at)
    seen = to_mnist(np.asarray(page, dtype=np.float32))
    assert seen.shape == (28, 28) and seen.dtype == np.float32
    assert 0 <= seen.min() and seen.max() <= 1
    assert centre_of_mass(seen) == pytest.approx((14, 14), abs=0.75)
    assert max(ink_box(seen)) == 20


def test_wide_strokes_keep_their_aspect_ratio():
    bar = np.zeros((100, 300), dtype=np.float32)
    bar[40:60, 50:250] = 255  # a 20x200 bar: 1:10
    seen = to_mnist(bar)
    assert ink_box(seen) == (2, 20)


def test_transparent_canvas_drawing_dark_or_light_strokes(mnist_test):
    """Drawing apps export strokes on a transparent background; the stroke colour is unknown."""
    X_test, _ = mnist_test
    alpha = np.round(X_test[3].reshape(28, 28) * 255).astype(np.uint8)
    expected = preprocess_image(encode(X_test[3].reshape(28, 28)))
    for colour in ((0, 0, 0), (255, 255, 255), (20, 40, 200)):
        rgba = np.zeros((28, 28, 4), dtype=np.uint8)
        rgba[..., :3], rgba[..., 3] = colour, alpha
        buffer = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
        np.testing.assert_allclose(preprocess_image(buffer.getvalue()), expected, atol=0.02)


def test_colour_sixteen_bit_and_palette_images(mnist_test):
    X_test, _ = mnist_test
    digit = X_test[5].reshape(28, 28)
    expected = preprocess_image(encode(digit))
    rgb = Image.fromarray(np.round(np.stack([digit] * 3, axis=-1) * 255).astype(np.uint8), "RGB")
    deep = Image.fromarray(np.round(digit * 65535).astype(np.uint16))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    for image in (rgb, deep, palette):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        np.testing.assert_allclose(preprocess_image(buffer.getvalue()), expected, atol=0.02)


def test_exif_orientation_is_applied(mnist_test):
    X_test, _ = mnist_test
    digit = np.round(X_test[9].reshape(28, 28) * 255).astype(np.uint8)
    upright = Image.fromarray(digit).resize((112, 112))
    stored = upright.rotate(90, expand=True)  # the camera stored it turned; EXIF says so
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    reference = io.BytesIO()
    upright.save(reference, "JPEG", quality=95)
    np.testing.assert_allclose(preprocess_image(buffer.getvalue()),
                               preprocess_image(reference.getvalue()), atol=0.08)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16"])
def test_a_large_png_is_shrunk_before_the_float_copy(mode):
    page = Image.new("L", (4000, 3000), 230)
    page.paste(Image.new("L", (300, 1500), 20), (2500, 900))
    if mode == "I;16":
        page = Image.fromarray(np.asarray(page, dtype=np.uint16) * 257)
    else:
        page = page.convert(mode)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    grey = decode_greyscale(buffer.getvalue())
    assert grey.shape == (750, 1000) and grey.dtype == np.float32
    assert grey.max() == pytest.approx(230, abs=1) and grey.min() == pytest.approx(20, abs=1)
    assert ink_box(to_mnist(grey))[0] == 20


def test_a_large_jpeg_photo_decodes_at_reduced_scale_quickly():
    page = Image.new("L", (4000, 3000), 235)
    page.paste(Image.new("L", (400, 1600), 30), (1800, 700))  # a dark "1" on light paper
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=85)
    grey = decode_greyscale(buffer.getvalue())
    assert max(grey.shape) <= 2048  # decoded through JPEG draft mode, not at 12 megapixels
    seen = to_mnist(grey)
    assert ink_box(seen)[0] == 20


REJECTED = [
    ("empty", b"", "empty"),
    ("not an image", b"hello, world" * 10, "unsupported_format"),
    ("gif", None, "unsupported_format"),
    ("truncated png", None, "undecodable"),
    ("blank page", None, "blank"),
    ("header claims 50000x50000", png_header_only(50_000, 50_000), "too_many_pixels"),
    ("header claims 1x20000000", png_header_only(1, 20_000_000), "too_many_pixels"),
]


@pytest.mark.parametrize("name,data,rule", REJECTED, ids=[case[0] for case in REJECTED])
def test_bad_images_are_rejected_with_a_rule(name, data, rule):
    if name == "gif":
        buffer = io.BytesIO()
        Image.new("L", (28, 28), 0).save(buffer, "GIF")
        data = buffer.getvalue()
    elif name == "truncated png":
        data = encode(np.random.default_rng(0).random((64, 64)))[:300]
    elif name == "blank page":
        data = encode(np.full((50, 50), 0.9))
    with pytest.raises(ImageError) as caught:
        preprocess_image(data)
    assert caught.value.rule == rule
    assert caught.value.message


def test_a_real_decompression_bomb_is_refused_before_decoding():
    """25 megapixels of white compress to ~25 KB: the header alone decides."""
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000), 1).save(buffer, "PNG", optimize=True)
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageError) as caught:
        decode_greyscale(buffer.getvalue(), ImageLimits(max_pixels=12_000_000))
    assert caught.value.rule == "too_many_pixels" and "5000x5000" in caught.value.message


def test_byte_limit():
    data = encode(np.random.default_rng(1).random((100, 100)))
    with pytest.raises(ImageError) as caught:
        decode_greyscale(data, ImageLimits(max_bytes=len(data) - 1))
    assert caught.value.rule == "too_large"
    assert decode_greyscale(data, ImageLimits(max_bytes=len(data))).shape == (100, 100)
