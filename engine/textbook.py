"""The reference: feedforward and backpropagation written as the textbook writes them.

Start reading the engine here. Every array is made fresh and kept; nothing is fused or written
in place. `Network.feedforward` and `Network.backprop` compute the same numbers faster (each
optimisation is explained where it is made), and tests/engine/test_textbook.py holds them to
this module. Rows are samples: a batch X is (n, input_size); layer j (the textbook's
l = j + 1, with a⁰ = X) has Wˡ (fan_in, units) and bˡ (units,), so zˡ = aˡ⁻¹ Wˡ + bˡ is
(n, units). C is the mean loss over the batch, δˡ = ∂C/∂zˡ, and Nielsen's four equations
(chapter 2) are marked BP1-BP4 on the lines that compute them.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Forward:
    """What a forward pass computed, one entry per layer j, n rows:

    inputs[j]       (n, fan_in_j)  aˡ⁻¹, what layer j read: X, or the layer below's a times its mask
    zs[j]           (n, units_j)   zˡ = aˡ⁻¹ Wˡ + bˡ
    activations[j]  (n, units_j)   aˡ = σ(zˡ)
    masks[j]        (n, units_j)   the inverted-dropout mask applied to aˡ, or None
    """

    inputs: list
    zs: list
    activations: list
    masks: list


@dataclass
class Backprop:
    """One forward and backward pass: `forward`, deltas[j] = δˡ (n, units_j) with deltas[-1] = δᴸ,
    and grads[j] = {"W": ∂C/∂Wˡ (fan_in_j, units_j), "b": ∂C/∂bˡ (units_j,)}."""

    forward: Forward
    deltas: list
    grads: list


def feedforward(network, X, rng=None) -> Forward:
    """zˡ = aˡ⁻¹ Wˡ + bˡ and aˡ = σ(zˡ), layer after layer, from a⁰ = X (n, input_size).

    With a Generator `rng`, hidden layers that have dropout multiply aˡ by a fresh mask
    (training); without one, nothing is dropped (inference)."""
    forward = Forward(inputs=[], zs=[], activations=[], masks=[])
    a = np.asarray(X, dtype=network.dtype)
    last = len(network.params) - 1
    for j, (layer, activation) in enumerate(zip(network.params, network.activations, strict=True)):
        forward.inputs.append(a)
        z = a @ layer["W"] + layer["b"]
        a = activation.forward(z)
        mask = None
        if rng is not None and j < last and network.dropout[j]:
            mask = dropout_mask(rng, a.shape, network.dropout[j], network.dtype)
        forward.zs.append(z)
        forward.activations.append(a)
        forward.masks.append(mask)
        if mask is not None:
            a = a * mask
    return forward


def dropout_mask(rng, shape, rate, dtype):
    """Inverted dropout: each unit kept with probability 1 - rate and scaled by 1/(1 - rate),
    so the expected activation is unchanged and inference needs no rescaling."""
    dtype = np.dtype(dtype)
    return (rng.random(shape, dtype=dtype) >= rate) * dtype.type(1.0 / (1.0 - rate))


def output_error(network, forward, targets):
    """δᴸ = ∂C/∂zᴸ (n, units_L), for `targets` = `network.loss.targets(labels, units, dtype)`."""
    # BP1: δᴸ = ∇ₐC ⊙ σ'(zᴸ), which the loss computes (fused pairs simplify it to (aᴸ - y) / n)
    return network.loss.delta(forward.zs[-1], forward.activations[-1], targets,
                              network.activations[-1])


def backward(network, forward, delta_out) -> list:
    """From δᴸ (n, units_L) down to the first layer; returns [δ¹, ..., δᴸ], δˡ (n, units_l)."""
    deltas = [delta_out]
    for j in range(len(network.params) - 1, 0, -1):
        # BP2: δˡ = (δˡ⁺¹ (Wˡ⁺¹)ᵀ) ⊙ σ'(zˡ): the product is ∂C/∂(what layer l + 1 read), so
        # the dropout mask, where there was one, comes first; σ' is read from aˡ
        below = deltas[0] @ network.params[j]["W"].T
        if forward.masks[j - 1] is not None:
            below = below * forward.masks[j - 1]
        deltas.insert(0, network.activations[j - 1].backward(below, forward.activations[j - 1]))
    return deltas


def parameter_gradients(forward, deltas) -> list:
    """[{"W": ∂C/∂Wˡ (fan_in, units), "b": ∂C/∂bˡ (units,)}, ...] from each layer's δˡ."""
    grads = []
    for a_in, delta in zip(forward.inputs, deltas, strict=True):
        # BP4: ∂C/∂Wˡ = (aˡ⁻¹)ᵀ δˡ, the product summing over the rows
        # BP3: ∂C/∂bˡ = Σ over the rows of δˡ
        grads.append({"W": a_in.T @ delta, "b": delta.sum(axis=0)})
    return grads


def input_gradient(network, deltas):
    """∂C/∂a⁰ = δ¹ (W¹)ᵀ, (n, input_size): BP2's product once more, below the first layer."""
    return deltas[0] @ network.params[0]["W"].T


def backprop(network, X, targets, rng=None) -> Backprop:
    """The gradient of the mean loss over the batch (X, targets), as Nielsen's `backprop`:
    feedforward, then BP1, BP2, BP3 and BP4. `targets` is `network.loss.targets(labels, ...)`;
    `rng` draws dropout masks (training), None drops nothing."""
    forward = feedforward(network, X, rng)
    deltas = backward(network, forward, output_error(network, forward, targets))
    return Backprop(forward, deltas, parameter_gradients(forward, deltas))
