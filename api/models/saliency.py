"""`?explain=true` on prediction: each input's saliency, ∂p(predicted class)/∂input.

The gradient comes from the engine (`Network.input_gradients`, checked against finite
differences there). For an image model it becomes 784 numbers and a picture: the digit in grey
under the saliency on a diverging scale (red: brightening the pixel raises the predicted class's
probability, blue: lowers it). For a table model it becomes a per-feature attribution, gradient
× input by feature name: inputs are standardised (0 is the training mean) or one-hot, so it
says how far each feature's value moves the answer from where the average row would put it,
to first order. A regression model's gradient is of its value, in the target's units.
"""

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from PIL import Image

from api.models.images import DIVERGING, data_url
from api.models.serving import PredictionError


def check_explainable(model) -> None:
    """Saliency is of pixels (a picture) or of named features: image and table models."""
    if model.image_shape is None and model.table is None:
        raise PredictionError(
            422, "explain_not_supported",
            f"explain=true needs an image or table model; model {model.model_id} takes "
            f"{model.input_size} plain numbers. Leave explain out.", "explain")


def explain(model, batch: np.ndarray, outputs: np.ndarray) -> list[dict]:
    """Per row, what `explain=true` adds to its prediction: `saliency` (float32, one per input
    value) and a PNG overlay (images) or the per-feature `attribution` (tables). `outputs` are
    the probabilities, or a regression model's values."""
    target = 0 if model.regression else outputs.argmax(axis=1)
    gradients = model.network.input_gradients(batch, target).astype(np.float32)
    if model.table is not None:
        names = model.table.feature_names
        return [{"saliency": gradient, "attribution": attribution(names, row, gradient)}
                for row, gradient in zip(batch, gradients, strict=True)]
    return [{"saliency": gradient,
             "saliency_overlay": data_url(saliency_overlay_png(row.reshape(model.image_shape),
                                                               gradient.reshape(model.image_shape)))}
            for row, gradient in zip(batch, gradients, strict=True)]


def attribution(names: list[str], inputs: np.ndarray, gradient: np.ndarray) -> list[dict]:
    """Gradient × input per input unit, with its feature name ("age", "sex=male")."""
    return [{"feature": name, "input": float(value), "gradient": float(slope),
             # + 0.0: an input of 0 attributes 0, never -0 (0 × a negative gradient)
             "attribution": float(value) * float(slope) + 0.0}
            for name, value, slope in zip(names, inputs.tolist(), gradient.tolist(), strict=True)]


def saliency_overlay_png(pixels: np.ndarray, saliency: np.ndarray, scale: int = 8) -> bytes:
    """The input in grey under its saliency in the diverging map (alpha = |saliency|), enlarged.

    Red pixels raise the predicted class's probability when brightened, blue ones lower it.
    """
    magnitude = np.abs(saliency)
    # The 99th percentile, not the maximum, sets full colour: one extreme pixel would fade the rest.
    limit = float(np.percentile(magnitude, 99)) or float(magnitude.max()) or 1.0
    colours = colormaps[DIVERGING](Normalize(-limit, limit)(saliency))  # (h, w, 4) in [0, 1]
    strength = np.clip(magnitude / limit, 0.0, 1.0)[..., None]
    grey = np.repeat(np.clip(pixels, 0.0, 1.0)[..., None], 3, axis=2) * 0.45  # dimmed input
    rgb = grey * (1 - strength) + colours[..., :3] * strength
    image = Image.fromarray(np.round(rgb * 255).astype(np.uint8), mode="RGB")
    image = image.resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
