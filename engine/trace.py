"""One training step laid out for a learner (`trace`), and input gradients (`input_gradients`).

Both are the reference passes of engine.textbook (every intermediate kept, by textbook name)
put to use: `trace` adds the loss and one optimizer step, `input_gradients` runs BP2 from the
predicted probability instead of the loss. Layer `j` in the results is `spec["layers"][j]`;
the textbook's l is j + 1 (a⁰ is the input).
"""

import numpy as np

from engine import textbook
from engine.optimizers import make_optimizer
from engine.regularization import add_l2_gradient, l2_penalty
from engine.spec import validate_training_config

SYMBOLS = {  # result key -> the textbook's symbol, for labels in a UI
    "inputs": "a⁰", "z": "zˡ", "a": "aˡ", "delta": "δˡ", "output_error": "δᴸ", "output": "aᴸ",
    "dC_dW": "∂C/∂Wˡ", "dC_db": "∂C/∂bˡ", "W": "Wˡ", "b": "bˡ", "W_after": "Wˡ′", "b_after": "bˡ′",
    "loss": "C",
}


def trace(network, X, y, optimizer=None, *, seed=0):
    """Every intermediate of one training step on the batch (X, y); the network is not changed.

    `optimizer` is a training config's optimizer object ({"name": "sgd", "learning_rate": 0.1});
    None takes the training defaults. `seed` draws the dropout masks, if any layer has dropout.
    Returns a dict of NumPy arrays and plain values:
      inputs (n, input_size) = a⁰, labels (n,), targets (what the loss compares with),
      loss (the batch's mean loss), weight_penalty (λ/2 ‖W‖², 0 without weight decay),
      output = aᴸ (n, units_L), output_error = δᴸ, optimizer (the config used), and
      symbols (key -> textbook symbol), layers: per layer j {layer, l, activation, units, fan_in, W, b (before the step), z, a,
      dropout_mask (or None), delta, dC_dW (fan_in, units), dC_db (units,), W_after, b_after}.
    ∂C/∂W includes the weight decay term λW when the optimizer has one, as the update uses it.
    """
    X, y = network._check_inputs(X), network._check_labels(y, len(X))
    X = np.asarray(X, dtype=network.dtype)
    config = validate_training_config({"optimizer": optimizer or {}})["optimizer"]
    targets = network.loss.targets(y, network.sizes[-1], network.dtype)
    rng = np.random.default_rng(seed) if any(network.dropout) else None
    step = textbook.backprop(network, X, targets, rng)
    forward, raw = step.forward, step.grads
    loss = network.loss.value(forward.zs[-1], forward.activations[-1], targets)
    stepper = make_optimizer(config)
    decay = stepper.weight_decay
    after = [{"W": layer["W"].copy(), "b": layer["b"].copy()} for layer in network.params]
    stepper.step(after, [{key: g.copy() for key, g in grad.items()} for grad in raw])  # adds λW
    layers = []
    for j, layer in enumerate(network.params):
        layers.append({
            "layer": j, "l": j + 1, "activation": network.activations[j].name,
            "units": network.sizes[j + 1], "fan_in": network.sizes[j],
            "W": layer["W"].copy(), "b": layer["b"].copy(), "z": forward.zs[j],
            "a": forward.activations[j], "dropout_mask": forward.masks[j], "delta": step.deltas[j],
            "dC_dW": add_l2_gradient(raw[j]["W"].copy(), layer["W"], decay), "dC_db": raw[j]["b"],
            "W_after": after[j]["W"], "b_after": after[j]["b"]})
    return {"inputs": X, "labels": y, "targets": targets, "loss": float(loss),
            "weight_penalty": l2_penalty(network.weights, decay),
            "output": forward.activations[-1], "output_error": step.deltas[-1],
            "optimizer": config, "layers": layers, "symbols": SYMBOLS}


def input_gradients(network, X, target):
    """∂(probability of class `target`)/∂input for each row of X: (n, input_size).

    `target` is one class for every row or (n,) classes. This is the saliency of each input
    value: how much nudging it would raise that class's probability. Inference mode (no
    dropout). A `step` unit passes gradients straight through, as in training. Regression:
    `target` is an output unit, and the gradient is of its value in the target's units."""
    X = network._check_inputs(X)
    n = len(X)
    target = np.broadcast_to(np.asarray(target), (n,))
    regression = network.task == "regression"
    if not regression:
        network._check_labels(target, n)
    forward = textbook.feedforward(network, X)
    output = forward.activations[-1]
    gradient = _value_gradient if regression else _probability_gradient
    grad_output = gradient(network, output, target)  # ∂p_t/∂aᴸ, or ∂value_t/∂aᴸ
    # BP1 with p_t in place of the cost, then BP2 down to the input
    delta_out = network.activations[-1].backward(grad_output, output)
    return textbook.input_gradient(network, textbook.backward(network, forward, delta_out))


def _value_gradient(network, output, target):
    """∂(value of output unit t in the target's units)/∂aᴸ (n, units): value = mean + std · a,
    so the target scale's std in column t (1 without a scale), 0 elsewhere."""
    n, units = output.shape
    if not np.issubdtype(target.dtype, np.integer) or (n and not 0 <= target.min() <= target.max() < units):
        raise ValueError(f"target must be an output unit in [0, {units - 1}]")
    scale = network.target_scale
    std = np.ones(units) if scale is None else scale.std
    grad = np.zeros_like(output)
    grad[np.arange(n), target] = std[target]
    return grad


def _probability_gradient(network, output, target):
    """∂p_t/∂aᴸ (n, units) for `Network.probabilities`' reading of the output layer."""
    n, units = output.shape
    rows = np.arange(n)
    if units == 1:  # p = [1 - a, a]
        return np.where(target == 1, 1.0, -1.0).astype(output.dtype).reshape(n, 1)
    if network.activations[-1].name == "softmax":  # p = a
        grad = np.zeros_like(output)
        grad[rows, target] = 1.0
        return grad
    # p = max(a, 0) / Σ max(a, 0): ∂p_t/∂a_k = [k > 0 active] (δ_tk S - s_t) / S², 0 when S = 0
    scores = np.maximum(output, 0.0)
    totals = scores.sum(axis=1)
    safe = np.where(totals > 0, totals, 1.0)
    grad = -(scores[rows, target] / safe**2)[:, None] * np.ones_like(output)
    grad[rows, target] += 1.0 / safe
    grad *= (output > 0) & (totals > 0)[:, None]
    return grad
