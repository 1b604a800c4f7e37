"""One training step laid out for a learner (`trace`), and input gradients (`input_gradients`).

Both walk the layers one by one with the registries' own forward/backward functions and keep
every intermediate, where training overwrites its buffers for speed. Row convention, as in the
rest of the engine: a batch is (n, features), layer l computes zˡ = aˡ⁻¹ Wˡ + bˡ with Wˡ of
shape (fan_in, units). The textbook's four equations (Nielsen, chapter 2) then read:

  BP1  δᴸ = ∂C/∂zᴸ = ∇ₐC ⊙ σ'(zᴸ)            (the loss's `delta`; a - y for fused pairs)
  BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)
  BP3  ∂C/∂bˡ = Σ over rows of δˡ
  BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ

C is the mean loss over the batch, so every δ already carries the 1/n.
Layer `j` in the results is `spec["layers"][j]`; the textbook's l is j + 1 (a⁰ is the input).
"""

import numpy as np

from engine.optimizers import make_optimizer
from engine.regularization import add_l2_gradient, l2_penalty
from engine.spec import validate_training_config

SYMBOLS = {  # result key -> the textbook's symbol, for labels in a UI
    "inputs": "a⁰", "z": "zˡ", "a": "aˡ", "delta": "δˡ", "output_error": "δᴸ", "output": "aᴸ",
    "dC_dW": "∂C/∂Wˡ", "dC_db": "∂C/∂bˡ", "W": "Wˡ", "b": "bˡ", "W_after": "Wˡ′", "b_after": "bˡ′",
    "loss": "C",
}


def forward_layers(network, X, rng=None):
    """The forward pass of X (n, input_size), keeping everything.

    Returns (zs, activations, masks): zs[j] and activations[j] are (n, units_j); masks[j] is
    the inverted-dropout mask applied after hidden layer j (only when `rng` is given), else
    None. What layer j + 1 reads is activations[j] * masks[j]."""
    a = np.asarray(X, dtype=network.dtype)
    zs, activations, masks = [], [], []
    last = len(network.params) - 1
    for j, (layer, activation) in enumerate(zip(network.params, network.activations, strict=True)):
        z = a @ layer["W"] + layer["b"]
        a = activation.forward(z)
        zs.append(z)
        activations.append(a)
        mask = None
        if rng is not None and j < last and network.dropout[j]:
            rate = network.dropout[j]
            mask = (rng.random(a.shape) >= rate).astype(network.dtype) / (1.0 - rate)
            a = a * mask
        masks.append(mask)
    return zs, activations, masks


def backward_layers(network, delta_out, activations, masks):
    """Back-propagate δᴸ (n, units_L) through the layers (BP2).

    Returns (deltas, grad_input): deltas[j] is δ of layer j, (n, units_j); grad_input is the
    gradient with respect to the network's input, (n, input_size)."""
    deltas = [None] * len(network.params)
    delta = delta_out
    for j in range(len(network.params) - 1, -1, -1):
        deltas[j] = delta
        below = delta @ network.params[j]["W"].T
        if j == 0:
            return deltas, below
        if masks[j - 1] is not None:
            below = below * masks[j - 1]
        delta = network.activations[j - 1].backward(below, activations[j - 1])
    return deltas, None


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
    zs, activations, masks = forward_layers(network, X, rng)
    output_activation = network.activations[-1]
    loss = network.loss.value(zs[-1], activations[-1], targets)
    delta_out = network.loss.delta(zs[-1], activations[-1], targets, output_activation)  # BP1
    deltas, _ = backward_layers(network, delta_out, activations, masks)  # BP2
    stepper = make_optimizer(config)
    decay = stepper.weight_decay
    inputs = [X] + [a if m is None else a * m for a, m in zip(activations, masks, strict=True)]
    raw = [{"W": inputs[j].T @ deltas[j], "b": deltas[j].sum(axis=0)}  # BP4, BP3
           for j in range(len(deltas))]
    after = [{"W": layer["W"].copy(), "b": layer["b"].copy()} for layer in network.params]
    stepper.step(after, [{key: g.copy() for key, g in grad.items()} for grad in raw])  # adds λW
    layers = []
    for j, layer in enumerate(network.params):
        layers.append({
            "layer": j, "l": j + 1, "activation": network.activations[j].name,
            "units": network.sizes[j + 1], "fan_in": network.sizes[j],
            "W": layer["W"].copy(), "b": layer["b"].copy(), "z": zs[j], "a": activations[j],
            "dropout_mask": masks[j], "delta": deltas[j],
            "dC_dW": add_l2_gradient(raw[j]["W"].copy(), layer["W"], decay), "dC_db": raw[j]["b"],
            "W_after": after[j]["W"], "b_after": after[j]["b"]})
    return {"inputs": X, "labels": y, "targets": targets, "loss": float(loss),
            "weight_penalty": l2_penalty(network.weights, decay),
            "output": activations[-1], "output_error": delta_out, "optimizer": config,
            "layers": layers, "symbols": SYMBOLS}


def input_gradients(network, X, target):
    """∂(probability of class `target`)/∂input for each row of X: (n, input_size).

    `target` is one class for every row or (n,) classes. This is the saliency of each input
    value: how much nudging it would raise that class's probability. Inference mode (no
    dropout). A `step` unit passes gradients straight through, as in training."""
    X = network._check_inputs(X)
    n = len(X)
    target = np.broadcast_to(np.asarray(target), (n,))
    network._check_labels(target, n)
    zs, activations, masks = forward_layers(network, X)
    output = activations[-1]
    grad_output = _probability_gradient(network, output, target)  # ∂p_t/∂aᴸ
    delta_out = network.activations[-1].backward(grad_output, output)
    _, grad_input = backward_layers(network, delta_out, activations, masks)
    return grad_input


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
