"""`?explain=true` on prediction: each input's saliency, ∂p(predicted class)/∂pixel.

The gradient comes from the engine (`Network.input_gradients`, checked against finite
differences there); here it becomes 784 numbers and a picture: the digit in grey under the
saliency on a diverging scale (red: brightening the pixel raises the predicted class's
probability, blue: lowers it).
"""

import numpy as np

from api.insight import pictures
from api.models.serving import PredictionError


def check_explainable(model) -> None:
    """Saliency maps are pictures of pixels: only image models have them."""
    if model.image_shape is None:
        raise PredictionError(
            422, "explain_not_supported",
            f"explain=true needs an image model; model {model.model_id} takes "
            f"{model.input_size} plain numbers. Leave explain out.", "explain")


def explain(model, batch: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(saliency (n, input_size) float32, PNG overlay data URLs) for the predicted classes."""
    predicted = probabilities.argmax(axis=1)
    gradients = model.network.input_gradients(batch, predicted).astype(np.float32)
    overlays = [pictures.data_url(pictures.saliency_overlay_png(
                    row.reshape(model.image_shape), gradient.reshape(model.image_shape)))
                for row, gradient in zip(batch, gradients, strict=True)]
    return gradients, overlays
