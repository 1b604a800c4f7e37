"""Per-layer health after every epoch: norms, the last step's update ratio, activation statistics.

Measured on a fixed sample of the training rows (the same rows every epoch, so the curves are
comparable), in inference mode (no dropout), with the sample's own forward and backward pass:
  weight_norm        ‖Wˡ‖ (Frobenius; biases left out)
  grad_norm          ‖∂C/∂Wˡ‖ of the mean loss over the sample
  update_ratio       ‖ΔWˡ‖ / ‖Wˡ‖ of the epoch's last optimizer step (healthy: around 1e-3)
  activation_mean    mean of aˡ over the sample's rows and the layer's units
  activation_std     its standard deviation
  dead_fraction      layers whose units can die (Activation.can_die: the relu family): share
                     of units never active (a > 0) on the sample
  saturated_fraction layers that saturate (Activation.saturates: sigmoid, tanh): share of
                     activations within ε of the range's ends
Fields that do not apply to a layer's activation are None. Everything is plain Python floats,
ready for JSON (a non-finite value becomes None).
"""

from __future__ import annotations

import math

import numpy as np

from engine import textbook

SAMPLE_ROWS = 256  # two MNIST batches' worth of extra work per epoch: well under 1%
SATURATION_EPSILON = 0.01  # as a share of the activation's range: σ' < 0.01 at either end
FIELDS = ("layer", "units", "activation", "weight_norm", "grad_norm", "update_ratio",
          "activation_mean", "activation_std", "dead_fraction", "saturated_fraction")


def sample_rows(n: int, size: int = SAMPLE_ROWS) -> np.ndarray:
    """`size` row indices spread evenly over n rows (all of them when n <= size); no RNG, so
    training stays bit-identical with or without diagnostics."""
    if n <= size:
        return np.arange(n)
    return np.linspace(0, n - 1, size).round().astype(np.intp)


class Diagnostics:
    """Measures a network's layers after each epoch on a fixed sample of (X, y).

    Training calls `before_last_step(network)` just before the epoch's last optimizer step
    (to know that step's update) and `measure(network)` when the epoch is complete."""

    def __init__(self, X, y, size: int = SAMPLE_ROWS):
        rows = sample_rows(len(X), size)
        self.X, self.y = X[rows], y[rows]
        self._before = None

    def before_last_step(self, network) -> None:
        if self._before is None or self._before.shape != network.weights.shape:
            self._before = np.empty_like(network.weights)
        np.copyto(self._before, network.weights)

    def measure(self, network) -> list[dict]:
        before = self._before
        self._before = None
        return layer_health(network, self.X, self.y, weights_before=before)


def layer_health(network, X, y, *, weights_before=None) -> list[dict]:
    """One entry per layer (see the module docstring); `weights_before` is the flat weight
    vector before the last step (None: update_ratio is None)."""
    X = np.asarray(X, dtype=network.dtype)
    targets = network.loss.targets(y, network.sizes[-1], network.dtype)
    step = textbook.backprop(network, X, targets)  # the reference pass: every aˡ and ∂C/∂Wˡ kept
    activations = step.forward.activations
    entries, offset = [], 0
    for j, (layer, activation) in enumerate(zip(network.params, network.activations, strict=True)):
        W, a = layer["W"], activations[j]
        weight_norm = _norm(W)
        update_ratio = None
        if weights_before is not None:
            previous = weights_before[offset:offset + W.size].reshape(W.shape)
            update_ratio = _ratio(_norm(W - previous), _norm(previous))
        offset += W.size
        entries.append({
            "layer": j, "units": int(W.shape[1]), "activation": activation.name,
            "weight_norm": weight_norm, "grad_norm": _norm(step.grads[j]["W"]),
            "update_ratio": update_ratio,
            "activation_mean": _float(np.mean(a, dtype=np.float64)) if a.size else None,
            "activation_std": _float(np.std(a, dtype=np.float64)) if a.size else None,
            "dead_fraction": _dead(a) if activation.can_die else None,
            "saturated_fraction": (_saturated(a, activation.range)
                                   if activation.saturates else None),
        })
    return entries


def _dead(a) -> float | None:
    if not len(a):
        return None
    return float(np.mean(~(a > 0).any(axis=0)))


def _saturated(a, value_range) -> float | None:
    if not a.size:
        return None
    low, high = value_range
    margin = SATURATION_EPSILON * (high - low)
    return float(np.mean((a <= low + margin) | (a >= high - margin)))


def _norm(array) -> float | None:
    flat = np.asarray(array, dtype=np.float64).ravel()
    return _float(math.sqrt(float(np.dot(flat, flat))))


def _ratio(numerator, denominator) -> float | None:
    if numerator is None or not denominator:
        return None
    return _float(numerator / denominator)


def _float(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
