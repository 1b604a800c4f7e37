"""Learning-rate schedules in a registry keyed by name.

A schedule is called once per epoch as `schedule(base_lr, epoch_index, epochs, **params) -> lr`
with `epoch_index` counted from 0; the rules for each schedule's parameters live in
`engine.spec.SCHEDULE_RULES`.
"""

import math


def constant(base_lr, epoch_index, epochs):
    return base_lr


def step(base_lr, epoch_index, epochs, step_size=10, gamma=0.5):
    """Multiply the rate by `gamma` every `step_size` epochs."""
    return base_lr * gamma ** (epoch_index // step_size)


def cosine(base_lr, epoch_index, epochs, min_learning_rate=0.0):
    """Half a cosine from `base_lr` at the first epoch towards `min_learning_rate`."""
    progress = epoch_index / max(epochs, 1)
    return min_learning_rate + (base_lr - min_learning_rate) * 0.5 * (1 + math.cos(math.pi * progress))


SCHEDULES = {"constant": constant, "step": step, "cosine": cosine}
