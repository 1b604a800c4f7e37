"""Optimizers: objects that hold their own state and update parameters in place.

`step(params, grads)` takes the network's parameter list `[{"W": W, "b": b}, ...]` and the
matching gradient list, and updates every array in place. `weight_decay` is L2
regularisation, λ/2 ‖W‖² added to the loss, so λW is added to each weight gradient (biases are
not decayed). `learning_rate` is an attribute that a schedule may set between epochs. Each
class's `__init__` signature declares which hyperparameters it takes and their defaults;
`hyperparameters` is that signature read as data (a dict), and `engine.spec` holds the rule for
each value and checks the training JSON.
"""

import inspect

import numpy as np

from engine.regularization import add_l2_gradient

DEFAULT_OPTIMIZER = "adam"  # what a training config without an optimizer name gets


def _signature_defaults(init) -> dict:
    """{name: default} of an `__init__`'s keyword parameters: the hyperparameters it takes."""
    return {name: parameter.default
            for name, parameter in inspect.signature(init).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


class Optimizer:
    """Base class: plain SGD, W ← W - η (∇W + λW)."""

    name = "sgd"
    hyperparameters: dict  # {name: default}, read from __init__'s signature (__init_subclass__)

    SLOTS: tuple[str, ...] = ()  # names of per-parameter state arrays, e.g. Adam's m and v

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.hyperparameters = _signature_defaults(cls.__init__)

    def __init__(self, learning_rate=0.01, weight_decay=0.0):
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self.slots = None  # {slot name: [{"W": array, "b": array}, ...]}, made on first step
        self._scratch_arrays = {}

    def step(self, params, grads):
        """Update every array of `params` in place from `grads` (same structure).

        The gradient arrays are used as scratch space and hold garbage afterwards."""
        if self.slots is None and self.SLOTS:
            self.slots = {name: [{key: np.zeros_like(value) for key, value in layer.items()}
                                 for layer in params] for name in self.SLOTS}
        self.iterations += 1
        for index, (layer, layer_grads) in enumerate(zip(params, grads, strict=True)):
            for key, value in layer.items():
                self.update(value, self._decayed(key, value, layer_grads[key]), (index, key))

    def _decayed(self, key, value, grad):
        # L2 applies to weights only; the gradient buffer is scratch space, reused in place
        return add_l2_gradient(grad, value, self.weight_decay) if key == "W" else grad

    def update(self, value, grad, slot):
        grad *= self.learning_rate
        value -= grad

    def state_dict(self) -> dict:
        """Hyperparameters, step count and state arrays (nested lists of {"W", "b"})."""
        settings = {key: getattr(self, key) for key in self.hyperparameters}
        return {"name": self.name, **settings, "iterations": self.iterations}

    def load_state_dict(self, state: dict) -> None:
        for key in self.hyperparameters:
            setattr(self, key, state[key])
        self.iterations = int(state["iterations"])


Optimizer.hyperparameters = _signature_defaults(Optimizer.__init__)


class SGD(Optimizer):
    name = "sgd"


class _Slotted(Optimizer):
    """An optimizer with per-parameter state arrays ("slots"), saved in its state dict."""

    def slot(self, name, where):
        index, key = where
        return self.slots[name][index][key]

    def _scratch(self, where, like):
        """A reusable temporary per parameter array (never saved: it holds no state)."""
        scratch = self._scratch_arrays
        if where not in scratch or scratch[where].shape != like.shape:
            scratch[where] = np.empty_like(like)
        return scratch[where]

    def state_dict(self):
        state = super().state_dict()
        state["slots"] = self.slots
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        slots = state.get("slots")
        self.slots = None if slots is None else {
            name: [{key: np.array(value) for key, value in layer.items()} for layer in layers]
            for name, layers in slots.items()}


class Momentum(_Slotted):
    """Heavy-ball momentum, PyTorch's form: v ← μv + g; W ← W - η v.
    Nesterov: W ← W - η (g + μv) with the updated v."""

    name = "momentum"
    SLOTS = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def update(self, value, grad, slot):
        velocity = self.slot("velocity", slot)
        velocity *= self.momentum
        velocity += grad
        if self.nesterov:
            grad += self.momentum * velocity
            value -= self.learning_rate * grad
        else:
            value -= self.learning_rate * velocity


class Adam(_Slotted):
    """Kingma & Ba 2015 with bias correction (PyTorch's form):
    m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
    W ← W - η m̂ / (sqrt(v̂) + ε),  m̂ = m / (1-β1^t),  v̂ = v / (1-β2^t)."""

    name = "adam"
    SLOTS = ("m", "v")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def update(self, value, grad, slot):
        m, v = self.slot("m", slot), self.slot("v", slot)
        t = self.iterations
        m *= self.beta1
        m += np.multiply(grad, 1.0 - self.beta1, out=self._scratch(slot, grad))
        np.square(grad, out=grad)  # the gradient buffer is scratch from here on
        grad *= 1.0 - self.beta2
        v *= self.beta2
        v += grad
        # lr·m̂/(sqrt(v̂) + ε) = lr·c2/(1-β1^t) · m/(sqrt(v) + ε·c2) with c2 = sqrt(1-β2^t):
        # the bias corrections fold into two scalars, saving two passes over the arrays
        c2 = np.sqrt(1.0 - self.beta2 ** t)
        np.sqrt(v, out=grad)
        grad += self.epsilon * c2
        np.divide(m, grad, out=grad)
        grad *= self.learning_rate * c2 / (1.0 - self.beta1 ** t)
        value -= grad


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def make_optimizer(config: dict) -> Optimizer:
    """Build an optimizer from a training config's `optimizer` dict ({"name": ..., hyperparameters}).

    Keys that belong to other optimizers (the contract's JSON carries momentum and beta1 side
    by side) are ignored; `engine.spec.validate_training_config` has checked the values."""
    cls = OPTIMIZERS[config.get("name", DEFAULT_OPTIMIZER)]
    settings = {key: config[key] for key in cls.hyperparameters if key in config}
    return cls(**settings)
