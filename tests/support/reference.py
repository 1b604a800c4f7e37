"""A deliberately plain float64 reference of the engine's maths, written from the formulas
(no in-place tricks, no fusing), used as an oracle by the engine tests."""

import numpy as np


def activation(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "step":
        return np.where(z >= 0, 1.0, 0.0)
    raise KeyError(name)


def loss(name, a, y, units):
    """Mean over samples: cross-entropy -log a[y]; log loss summed over units; ½‖a - t‖² (mse);
    regression: ‖a - t‖₁ (mae), and huber (δ = 1) summed over units.

    t is the label itself for one output unit, else onehot(y); (n, units) float y are the
    target values themselves (regression)."""
    n = len(y)
    if y.ndim == 2:
        target = y
    else:
        target = y.reshape(-1, 1).astype(float) if units == 1 else np.eye(units)[y]
    if name == "mae":
        return np.sum(np.abs(a - target)) / n
    if name == "huber":
        r = np.abs(a - target)
        return np.sum(np.where(r <= 1.0, 0.5 * r**2, r - 0.5)) / n
    if name == "cross_entropy":
        return -np.mean(np.log(a[np.arange(n), y]))
    if name == "binary_cross_entropy":
        return -np.sum(target * np.log(a) + (1 - target) * np.log(1 - a)) / n
    if name == "mse":
        return 0.5 * np.sum((a - target) ** 2) / n
    raise KeyError(name)


def forward(params, activations, X, masks=None):
    """masks: {hidden layer index: array multiplied into its output} (dropout), optional."""
    a = np.asarray(X, dtype=np.float64)
    for index, (layer, name) in enumerate(zip(params, activations, strict=True)):
        a = activation(name, a @ layer["W"] + layer["b"])
        if masks and index in masks:
            a = a * masks[index]
    return a


def total_loss(params, activations, loss_name, X, y, weight_decay=0.0, masks=None):
    a = forward(params, activations, X, masks)
    penalty = 0.5 * weight_decay * sum(np.sum(layer["W"] ** 2) for layer in params)
    return loss(loss_name, a, y, a.shape[1]) + penalty


def numeric_gradients(params, activations, loss_name, X, y, weight_decay=0.0, eps=1e-6,
                      masks=None):
    """Central differences of `total_loss` with respect to every parameter."""
    params = [{key: value.astype(np.float64).copy() for key, value in layer.items()}
              for layer in params]
    grads = []
    for layer in params:
        layer_grads = {}
        for key, value in layer.items():
            grad = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                original = value[index]
                value[index] = original + eps
                plus = total_loss(params, activations, loss_name, X, y, weight_decay, masks)
                value[index] = original - eps
                minus = total_loss(params, activations, loss_name, X, y, weight_decay, masks)
                value[index] = original
                grad[index] = (plus - minus) / (2 * eps)
            layer_grads[key] = grad
        grads.append(layer_grads)
    return grads
