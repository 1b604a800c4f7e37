"""Preallocated scratch arrays for one batch size, so a training step allocates (almost) nothing."""

import numpy as np


class Workspace:
    """Buffers for a batch of n rows through layers of `sizes` = [input, units_1, ..., units_L].

    Named by what they hold once a forward pass is done (l counts layers from 0):
    x: (n, input) the batch; a[l]: (n, units_l), hidden layer l's activation (the layer's z is
    computed in this buffer and turned into a in place: backprop reads σ' from a, never z);
    z_out: (n, units_L), the output layer's pre-activation (the loss needs it);
    output: (n, units_L), the output activation; delta[l]: (n, units_l), δ = ∂C/∂z of layer l;
    inputs[l]: what layer l read (x, an activation, or its dropped-out copy); masks[l]: the
    inverted-dropout mask applied after hidden layer l in the last training pass;
    ones: (n,), for the bias gradient as one matrix product.
    """

    def __init__(self, n, sizes, dropout, dtype):
        self.n = n
        self.x = np.empty((n, sizes[0]), dtype=dtype)
        self.a = [np.empty((n, units), dtype=dtype) for units in sizes[1:-1]]
        self.z_out = np.empty((n, sizes[-1]), dtype=dtype)
        self.output = np.empty((n, sizes[-1]), dtype=dtype)
        self.delta = [np.empty((n, units), dtype=dtype) for units in sizes[1:]]
        self.ones = np.ones(n, dtype=dtype)
        self.inputs = [None] * (len(sizes) - 1)
        self.masks = {}
        hidden = range(len(sizes) - 2)
        self._mask = {i: np.empty((n, sizes[i + 1]), dtype=dtype) for i in hidden if dropout[i]}
        self._dropped = {i: np.empty_like(mask) for i, mask in self._mask.items()}

    def drop(self, index, a, rng, rate):
        """a times `textbook.dropout_mask`'s mask (the same numbers from the same `rng`), with
        the mask and the product written into buffers kept for this batch size."""
        mask = self._mask[index]
        rng.random(out=mask, dtype=mask.dtype)
        np.greater_equal(mask, rate, out=mask)
        mask *= 1.0 / (1.0 - rate)
        self.masks[index] = mask
        return np.multiply(a, mask, out=self._dropped[index])
