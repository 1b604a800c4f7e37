"""The prediction answers as JSON bytes: class probabilities ranked, or regression values.

Written with orjson straight from NumPy (probabilities go out as float32 in their shortest
form); api.models.schemas documents them for OpenAPI.
"""

import numpy as np
import orjson

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def encode_predictions(model, probabilities, top_k, preprocessed, explanation=None,
                       header=None) -> bytes:
    """The response body; probabilities go out as float32 (shortest repr) straight from NumPy."""
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
    ranked_probabilities = -np.sort(-probabilities, axis=1)[:, :top_k]  # the same order
    predictions = []
    for row, labels in enumerate(ranked.tolist()):
        prediction = {
            "label": labels[0],
            "probabilities": probabilities[row],
            "top_k": [{"label": label, "probability": probability} for label, probability
                      in zip(labels, ranked_probabilities[row], strict=True)],
        }
        predictions.append(with_extras(prediction, row, model, preprocessed, explanation))
    return orjson.dumps({"model_id": model.model_id, **(header or {}), "classes": model.classes,
                         "predictions": predictions}, option=JSON_OPTIONS)


def encode_values(model, values, preprocessed, explanation=None, header=None) -> bytes:
    """A regression model's answer: a `value` per row in the target's units (`values` for a
    model of several output units), and the target's name for a table model."""
    key = "value" if values.ndim == 1 else "values"
    predictions = [with_extras({key: value}, row, model, preprocessed, explanation)
                   for row, value in enumerate(values.tolist())]
    target = {"target": model.table.target.name} if model.table is not None else {}
    return orjson.dumps({"model_id": model.model_id, **(header or {}), **target,
                         "predictions": predictions}, option=JSON_OPTIONS)


def with_extras(prediction: dict, row: int, model, preprocessed, explanation) -> dict:
    """What the query asked to add: the preprocessed input, the explanation."""
    if preprocessed is not None:
        prediction["preprocessed"] = preprocessed[row].reshape(model.image_shape or (-1,))
    if explanation is not None:
        prediction.update(explanation[row])
    return prediction
