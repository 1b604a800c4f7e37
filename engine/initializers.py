"""Weight initializers in a registry keyed by name.

Each is `initializer(rng, fan_in, fan_out) -> (W, b)` in float64 (the network casts once), with
W of shape (fan_in, fan_out) and b of shape (fan_out,), drawn from a `numpy.random.Generator`
so a seed fixes every weight.
"""

import numpy as np


def he(rng, fan_in, fan_out):
    """He et al. 2015: N(0, 2/fan_in), keeps the variance of relu layers constant."""
    weights = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    return weights, np.zeros(fan_out)


def xavier(rng, fan_in, fan_out):
    """Glorot & Bengio 2010 (uniform, Keras's default): U(±sqrt(6 / (fan_in + fan_out)))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)), np.zeros(fan_out)


def normal(rng, fan_in, fan_out):
    """Nielsen's network.py: weights and biases from the standard normal N(0, 1)."""
    return rng.standard_normal((fan_in, fan_out)), rng.standard_normal(fan_out)


INITIALIZERS = {"he": he, "xavier": xavier, "normal": normal}
