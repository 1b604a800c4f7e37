"""Classification metrics from predicted probabilities: accuracy, loss, precision, recall,
confusion matrix, as JSON-ready Python numbers; and which way each history metric improves."""

import numpy as np

# The metrics a training history records each epoch, with the way each improves: "max" (up)
# or "min" (down). Early stopping, sweeps and the API read the direction from here; which
# metrics a task records is engine.tasks' (classification: accuracy; regression: the rest).
GOALS = ("max", "min")
METRICS = {"loss": "min", "accuracy": "max", "rmse": "min", "mae": "min", "r2": "max"}
VALIDATION_PREFIX = "val_"  # the same metric measured on the held-out rows
HISTORY_METRICS = {**{VALIDATION_PREFIX + name: goal for name, goal in METRICS.items()}, **METRICS}


def confusion_matrix(y, predicted, num_classes):
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    flat = np.asarray(y, dtype=np.int64) * num_classes + predicted
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def log_loss(probabilities, y):
    """Mean -log p[y], with p clipped away from 0 so a confident mistake stays finite."""
    tiny = np.finfo(probabilities.dtype).tiny
    chosen = probabilities[np.arange(len(y)), y].astype(np.float64)
    return float(-np.mean(np.log(np.maximum(chosen, tiny))))


def _loss_from_probabilities(probabilities, y, loss):
    if loss in ("cross_entropy", "binary_cross_entropy"):
        return log_loss(probabilities, y)
    if loss == "mse":
        one_hot = np.eye(probabilities.shape[1])[y]
        return float(0.5 * np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))
    raise ValueError(f"unknown loss {loss!r}")


def _ratio(numerator, denominator):
    """numerator / denominator per class, 0.0 where the denominator is 0 (as scikit-learn's
    zero_division=0)."""
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, 0.0)


def evaluate(probabilities, y, num_classes, loss):
    """Metrics of `probabilities` (n, num_classes) against integer labels y (n,).

    `loss` is either the loss's name (then it is computed from the probabilities: log loss for
    cross_entropy and binary_cross_entropy, ½‖p - onehot‖² for mse) or a number the network
    already computed exactly from its logits.
    Returns {"accuracy", "loss", "precision": [per class], "recall": [per class],
    "confusion_matrix": [[row = true class, column = predicted]]}.
    """
    probabilities = np.asarray(probabilities)
    y = np.asarray(y, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y, predicted, num_classes)
    hits = np.diag(matrix).astype(np.float64)
    value = loss if not isinstance(loss, str) else _loss_from_probabilities(probabilities, y, loss)
    return {
        "accuracy": float(hits.sum() / max(len(y), 1)),
        "loss": float(value),
        "precision": _ratio(hits, matrix.sum(axis=0)).tolist(),
        "recall": _ratio(hits, matrix.sum(axis=1)).tolist(),
        "confusion_matrix": matrix.tolist(),
    }
