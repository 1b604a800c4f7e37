"""PNG pictures of what a model holds: digits, weight tiles and heatmaps.

Drawn server-side with matplotlib's object API (a `Figure` on the Agg canvas, no pyplot), so
figures share no global state between request threads.
"""

import io
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from api.models.images import DIVERGING

TILE_GAP = 1  # pixels of background between weight tiles
LABEL_TILES_UP_TO = 64  # unit numbers are drawn on the tiles of layers this small
NAME_ROWS_UP_TO = 120  # a heatmap's rows are named (table features) when there are this few
DPI = 100


def pixels_png(pixels: np.ndarray) -> bytes:
    """A greyscale image in [0, 1], (h, w), as an 8-bit PNG at its own size."""
    grey = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def tile_grid(columns_as_images: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(h*w, units) weights -> one mosaic, a tile per unit in reading order; NaN between tiles."""
    height, width = image_shape
    units = columns_as_images.shape[1]
    columns = math.ceil(math.sqrt(units))
    rows = math.ceil(units / columns)
    step_y, step_x = height + TILE_GAP, width + TILE_GAP
    mosaic = np.full((rows * step_y - TILE_GAP, columns * step_x - TILE_GAP), np.nan)
    for unit in range(units):
        row, column = divmod(unit, columns)
        mosaic[row * step_y:row * step_y + height, column * step_x:column * step_x + width] = (
            columns_as_images[:, unit].reshape(height, width))
    return mosaic


def _render(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _symmetric_limit(weights: np.ndarray) -> float:
    return float(np.abs(weights).max()) or 1.0


def weight_tiles_png(weights: np.ndarray, image_shape: tuple[int, int], title: str) -> bytes:
    """First layer of an image model: each unit's incoming weights as an image, one scale."""
    mosaic = tile_grid(weights, image_shape)
    limit = _symmetric_limit(weights)
    units = weights.shape[1]
    inches = min(10.0, max(4.0, mosaic.shape[1] / 40))
    figure = Figure(figsize=(inches + 1.4, inches * mosaic.shape[0] / mosaic.shape[1] + 0.8),
                    layout="constrained")
    axes = figure.add_subplot()
    cmap = colormaps[DIVERGING].with_extremes(bad="#d8d8d8")
    shown = axes.imshow(mosaic, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    if units <= LABEL_TILES_UP_TO:
        columns = math.ceil(math.sqrt(units))
        step_y, step_x = image_shape[0] + TILE_GAP, image_shape[1] + TILE_GAP
        for unit in range(units):
            row, column = divmod(unit, columns)
            axes.text(column * step_x + 1, row * step_y + 1, str(unit), fontsize=6,
                      va="top", ha="left", color="#333333")
    axes.set_axis_off()
    axes.set_title(title, fontsize=10)
    bar = figure.colorbar(shown, ax=axes, shrink=0.8)
    bar.set_label("weight (red: pixel excites the unit, blue: inhibits)", fontsize=8)
    return _render(figure)


def weight_heatmap_png(weights: np.ndarray, title: str, *, from_label: str, to_label: str,
                       to_ticks: list[str] | None = None,
                       from_ticks: list[str] | None = None) -> bytes:
    """Any layer as a (fan_in, fan_out) heatmap on a symmetric diverging scale; `from_ticks`
    names its rows (a table model's features), when there are at most NAME_ROWS_UP_TO."""
    fan_in, fan_out = weights.shape
    limit = _symmetric_limit(weights)
    named = from_ticks is not None and fan_in <= NAME_ROWS_UP_TO
    width = min(12.0, max(4.0, fan_out * 0.25 + 2.5)) + (2.0 if named else 0.0)
    height = (min(16.0, max(3.0, fan_in * 0.13 + 1.5)) if named
              else min(10.0, max(3.0, fan_in * 0.05 + 1.5)))
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(weights, cmap=DIVERGING, vmin=-limit, vmax=limit, aspect="auto",
                        interpolation="nearest")
    axes.set_xlabel(to_label)
    axes.set_ylabel(from_label)
    if to_ticks is not None and fan_out <= 20:
        axes.set_xticks(range(fan_out), to_ticks, rotation=45 if max(map(len, to_ticks)) > 2 else 0,
                        fontsize=7)
    if named:
        axes.set_yticks(range(fan_in), from_ticks, fontsize=7 if fan_in <= 60 else 5)
    axes.set_title(title, fontsize=10)
    bar = figure.colorbar(shown, ax=axes, shrink=0.8)
    bar.set_label("weight", fontsize=8)
    return _render(figure)
