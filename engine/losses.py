"""Loss functions, each beside its gradient with respect to the output layer's pre-activation.

Every loss is a mean over the n samples of a batch. `targets(y, units, dtype)` encodes integer
labels once per dataset; `value(z, a, targets)` is the mean loss from the output layer's
pre-activation z and activation a (both (n, units)); `delta(z, a, targets, activation)` is
dL/dz, shape (n, units), already divided by n. Losses fused with their output activation
(cross-entropy with softmax, log loss with sigmoid) take the loss from z with log-sum-exp, so
no input overflows, and their delta is simply a - y.

Integer labels (n,) are classes; float targets (n, units) are values to regress on, one column
per output unit (a regression network hands its targets over in that shape). Each loss names
the `tasks` it serves and its own `parameters` (spec field -> default), e.g. huber's threshold.
"""

import numpy as np

from engine.activations import ACTIVATIONS

CLASSIFIES = frozenset({"classification"})  # task names: engine.tasks (which imports this)
REGRESSES = frozenset({"regression"})


class Loss:
    """Base class. `output_activations`: activations allowed on the output layer; `tasks`: the
    tasks (engine.tasks) it trains; `parameters`: its model-spec fields and their defaults."""

    name = ""
    output_activations: frozenset[str] = frozenset()
    tasks: frozenset[str] = CLASSIFIES
    parameters: dict[str, float] = {}

    def __init__(self, **parameters):
        for key, default in self.parameters.items():
            setattr(self, key, float(parameters.pop(key, default)))
        if parameters:
            raise TypeError(f"the {self.name} loss takes no parameter {sorted(parameters)}")

    def targets(self, y, units, dtype):
        raise NotImplementedError

    def value(self, z, a, targets):
        raise NotImplementedError

    def delta(self, z, a, targets, activation, out=None):
        raise NotImplementedError

    def __repr__(self):
        return f"<loss {self.name}>"


def _paired_with(loss_name):
    """The activations that declare `loss_name` as the only loss they work with."""
    return frozenset(name for name, activation in ACTIVATIONS.items()
                     if activation.requires_loss == loss_name)


def _values(y, units, dtype):
    """Regression targets as (n, units) values: a (n,) vector is one output's column."""
    return np.asarray(y, dtype=dtype).reshape(len(y), units)


def _one_hot(y, units, dtype):
    encoded = np.zeros((len(y), units), dtype=dtype)
    encoded[np.arange(len(y)), y] = 1.0
    return encoded


class CrossEntropy(Loss):
    """-log softmax(z)[y] = logsumexp(z) - z[y]; targets are the integer labels."""

    name = "cross_entropy"
    output_activations = _paired_with(name)  # softmax, whose gradient is taken fused with this loss

    def targets(self, y, units, dtype):
        return np.asarray(y, dtype=np.intp)

    def value(self, z, a, targets):
        rows = np.arange(len(targets))
        picked = a[rows, targets]
        if picked.min() > 1e-30:
            # the common case, cheap: softmax already normalised a, and a float32 probability
            # this far from 0 keeps its 7 significant digits, so -log a[y] is exact to ~1e-7
            return float(-np.add.reduce(np.log(picked)) / len(targets))
        top = z.max(axis=1)
        log_sum = np.log(np.exp(z - top[:, None]).sum(axis=1)) + top
        return float(np.mean(log_sum - z[rows, targets]))

    def delta(self, z, a, targets, activation, out=None):
        # d/dz of logsumexp(z) - z[y] is softmax(z) - onehot(y)
        n = len(targets)
        if out is None:
            out = a.copy()
        else:
            np.copyto(out, a)
        out[np.arange(n), targets] -= 1.0
        out *= 1.0 / n
        return out


class BinaryCrossEntropy(Loss):
    """Log loss of every sigmoid output unit, summed over the units, averaged over samples:

        L = (1/n) Σ_samples Σ_units [-y log σ(z) - (1-y) log(1-σ(z))]

    taken from z as max(z, 0) - z y + log(1 + e^-|z|), so that ±1000 gives finite values.
    With one unit, y is the 0/1 label (σ(z) is P(class 1)); with k units, y is the one-hot
    label, each unit an independent yes/no (the multi-label loss of Keras `binary_crossentropy`
    and PyTorch `BCEWithLogitsLoss`, which average over units where this sums: summing keeps
    each unit's δ = a - y, as in Nielsen's cross-entropy network, whatever the width).
    """

    name = "binary_cross_entropy"
    output_activations = frozenset({"sigmoid"})

    def targets(self, y, units, dtype):
        if units == 1:
            return np.asarray(y, dtype=dtype).reshape(-1, 1)
        return _one_hot(np.asarray(y, dtype=np.intp), units, dtype)

    def value(self, z, a, targets):
        losses = np.maximum(z, 0.0) - z * targets + np.log1p(np.exp(-np.abs(z)))
        return float(np.sum(losses) / len(targets))

    def delta(self, z, a, targets, activation, out=None):
        # d/dz of the log loss of σ(z) is σ(z) - y, unit by unit
        out = np.subtract(a, targets, out=out)
        out *= 1.0 / len(targets)
        return out


class MeanSquaredError(Loss):
    """The quadratic cost of Nielsen's network.py: ½‖a - y‖² summed over output units and
    averaged over samples. y is one-hot, or the label itself for a single output unit (so a
    `step` unit trained with SGD follows the perceptron rule exactly), or the target values
    (n, units) in regression."""

    name = "mse"
    # Any activation with a derivative of its own: every one not bound to a particular loss.
    output_activations = _paired_with(None)
    tasks = CLASSIFIES | REGRESSES

    def targets(self, y, units, dtype):
        if np.ndim(y) == 2:
            return _values(y, units, dtype)
        if units == 1:
            return np.asarray(y, dtype=dtype).reshape(-1, 1)
        return _one_hot(np.asarray(y, dtype=np.intp), units, dtype)

    def value(self, z, a, targets):
        difference = a - targets
        return float(0.5 * np.sum(difference * difference) / len(targets))

    def delta(self, z, a, targets, activation, out=None):
        # dL/da = (a - y) / n, then through the activation's own derivative
        out = np.subtract(a, targets, out=out)
        out *= 1.0 / len(targets)
        return activation.backward(out, a, out=out)


class MeanAbsoluteError(Loss):
    """‖a - y‖₁ summed over output units and averaged over samples: every error pulls with the
    same force whatever its size, so a few wild targets move the fit less than with mse."""

    name = "mae"
    output_activations = _paired_with(None)
    tasks = REGRESSES

    def targets(self, y, units, dtype):
        return _values(y, units, dtype)

    def value(self, z, a, targets):
        return float(np.sum(np.abs(a - targets)) / len(targets))

    def delta(self, z, a, targets, activation, out=None):
        # dL/da = sign(a - y) / n (0 exactly at a = y), then through the activation
        out = np.subtract(a, targets, out=out)
        np.sign(out, out=out)
        out *= 1.0 / len(targets)
        return activation.backward(out, a, out=out)


class Huber(Loss):
    """mse near the target, mae far from it: per output unit, with r = a - y and threshold
    δ = `huber_delta`,

        ½ r²             if |r| <= δ
        δ (|r| - ½ δ)    otherwise

    summed over output units and averaged over samples. Its slope is r clipped to [-δ, δ]:
    small errors are fitted as mse fits them, large ones pull no harder than δ. The targets are
    standardised in regression, so δ = 1 means "one standard deviation of the target"."""

    name = "huber"
    output_activations = _paired_with(None)
    tasks = REGRESSES
    parameters = {"huber_delta": 1.0}

    def targets(self, y, units, dtype):
        return _values(y, units, dtype)

    def value(self, z, a, targets):
        size = np.abs(a - targets)
        near = np.minimum(size, self.huber_delta)  # the quadratic part, the rest is linear
        return float(np.sum(near * (size - 0.5 * near)) / len(targets))

    def delta(self, z, a, targets, activation, out=None):
        # dL/da = clip(a - y, -δ, δ) / n, then through the activation
        out = np.subtract(a, targets, out=out)
        np.clip(out, -self.huber_delta, self.huber_delta, out=out)
        out *= 1.0 / len(targets)
        return activation.backward(out, a, out=out)


LOSSES: dict[str, Loss] = {
    loss.name: loss for loss in (CrossEntropy(), BinaryCrossEntropy(), MeanSquaredError(),
                                 MeanAbsoluteError(), Huber())
}


def loss_for(spec) -> Loss:
    """The loss a validated model spec trains with, its parameters (if any) taken from the spec."""
    loss = LOSSES[spec["loss"]]
    given = {key: spec[key] for key in loss.parameters if key in spec}
    return type(loss)(**given) if given else loss
