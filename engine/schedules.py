"""Learning-rate schedules in a registry keyed by name.

A schedule is called once per epoch as `schedule(base_lr, epoch_index, epochs, **params) -> lr`
with `epoch_index` counted from 0; its parameters and their rules are declared as data in
`schedule.parameters`, checked by `engine.spec`.
"""

import math
from dataclasses import dataclass, field

from engine.optimizers import Hyperparameter


@dataclass(frozen=True)
class Schedule:
    name: str
    function: object
    parameters: dict = field(default_factory=dict)

    def __call__(self, base_lr, epoch_index, epochs, **params):
        return float(self.function(base_lr, epoch_index, epochs, **params))


def constant(base_lr, epoch_index, epochs):
    return base_lr


def step(base_lr, epoch_index, epochs, step_size=10, gamma=0.5):
    """Multiply the rate by `gamma` every `step_size` epochs."""
    return base_lr * gamma ** (epoch_index // step_size)


def cosine(base_lr, epoch_index, epochs, min_learning_rate=0.0):
    """Half a cosine from `base_lr` at the first epoch towards `min_learning_rate`."""
    progress = epoch_index / max(epochs, 1)
    return min_learning_rate + (base_lr - min_learning_rate) * 0.5 * (1 + math.cos(math.pi * progress))


SCHEDULES: dict[str, Schedule] = {
    schedule.name: schedule for schedule in (
        Schedule("constant", constant),
        Schedule("step", step, {
            "step_size": Hyperparameter(10, kind="integer", minimum=1,
                                        description="epochs between two decays"),
            "gamma": Hyperparameter(0.5, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                                    description="factor applied at each decay"),
        }),
        Schedule("cosine", cosine, {
            "min_learning_rate": Hyperparameter(0.0, minimum=0.0,
                                                description="rate the curve ends at"),
        }),
    )
}
