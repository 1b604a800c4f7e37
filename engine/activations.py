"""Activation functions, each beside its local gradient, in a registry keyed by name.

Every activation works on a 2-D batch `z` of shape (n, units). `forward(z, out=None)` returns
`a = f(z)`; it may write into `out` (which may be `z` itself, so hidden layers work in place).
`backward(grad_output, output, out=None)` returns dL/dz given dL/da and the layer's own output
`a`: every derivative here is written through the output (sigmoid a(1-a), tanh 1-a², relu from
the sign of a), so the pre-activation never has to be kept.
"""

import numpy as np


class Activation:
    """Base class: the registry entries below override `forward` and `backward`.

    `output_only`: may appear only on the last layer. `requires_loss`: the only loss it may be
    paired with (softmax's gradient is taken fused with cross-entropy); this is the one place
    that pairing is stated, and engine.losses derives each loss's output activations from it.
    `range`: bounds of `a`.
    `can_die`: a unit whose z is negative on every input stops learning (relu's slope is 0
    there); engine.diagnostics counts such units, engine.advice and sweeps read it from here.
    `saturates`: an elementwise squashing function whose slope vanishes at both ends of its
    `range`; diagnostics measure the share of activations stuck there.
    """

    name = ""
    output_only = False
    requires_loss: str | None = None
    range: tuple[float, float] = (-np.inf, np.inf)
    can_die = False
    saturates = False

    def forward(self, z, out=None):
        raise NotImplementedError

    def backward(self, grad_output, output, out=None):
        raise NotImplementedError

    def __repr__(self):
        return f"<activation {self.name}>"


class Identity(Activation):
    name = "identity"

    def forward(self, z, out=None):
        if out is None:
            return z.copy()
        np.copyto(out, z)
        return out

    def backward(self, grad_output, output, out=None):
        if out is None or out is grad_output:
            return grad_output
        np.copyto(out, grad_output)
        return out


class Sigmoid(Activation):
    """σ(z) = 1/(1 + e^-z) for z >= 0 and e^z/(1 + e^z) for z < 0: exp only ever sees -|z|,
    so nothing overflows at ±1000, and tiny outputs keep their relative precision."""

    name = "sigmoid"
    range = (0.0, 1.0)
    saturates = True

    def forward(self, z, out=None):
        negative = z < 0.0
        exp = np.exp(-np.abs(z))
        numerator = np.where(negative, exp, 1.0)
        exp += 1.0
        return np.divide(numerator, exp, out=out)

    def backward(self, grad_output, output, out=None):
        # dσ/dz = a(1 - a)
        slope = output * (1.0 - output)
        return np.multiply(grad_output, slope, out=out)


class Tanh(Activation):
    name = "tanh"
    range = (-1.0, 1.0)
    saturates = True

    def forward(self, z, out=None):
        return np.tanh(z, out=out)

    def backward(self, grad_output, output, out=None):
        # dtanh/dz = 1 - a²
        slope = np.square(output)
        np.subtract(1.0, slope, out=slope)
        return np.multiply(grad_output, slope, out=out)


class ReLU(Activation):
    name = "relu"
    range = (0.0, np.inf)
    can_die = True

    def forward(self, z, out=None):
        return np.maximum(z, 0.0, out=out)

    def backward(self, grad_output, output, out=None):
        # dσ/dz is 1 where a > 0, else 0 (the kink at 0 takes 0, as PyTorch does)
        return np.multiply(grad_output, output > 0.0, out=out)


class LeakyReLU(Activation):
    """max(z, αz) with α = 0.01: a small slope keeps units with z < 0 learning."""

    name = "leaky_relu"
    alpha = 0.01
    can_die = True  # a unit never positive learns only at α's slope: counted as dead, as relu's

    def forward(self, z, out=None):
        return np.maximum(z, z * self.alpha, out=out)

    def backward(self, grad_output, output, out=None):
        slope = np.where(output > 0.0, 1.0, self.alpha).astype(output.dtype, copy=False)
        return np.multiply(grad_output, slope, out=out)


class Softmax(Activation):
    """Row-wise softmax, max subtracted first so exp never overflows.

    Training always takes its gradient fused with cross-entropy (dL/dz = p - onehot), which
    is exact and cheap; `backward` is the general Jacobian-vector product, kept for learners
    and for the finite-difference tests.
    """

    name = "softmax"
    output_only = True
    requires_loss = "cross_entropy"
    range = (0.0, 1.0)
    # not `saturates`: it is not elementwise, each output's slope depends on the whole row

    def forward(self, z, out=None):
        out = np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def backward(self, grad_output, output, out=None):
        # J^T g = a ⊙ (g - <g, a>) for each row
        inner = np.sum(grad_output * output, axis=1, keepdims=True)
        result = np.subtract(grad_output, inner, out=out)
        result *= output
        return result


class Step(Activation):
    """Heaviside step of the perceptron: a = 1 if z >= 0 else 0.

    Its true derivative is 0 almost everywhere, so backward passes the gradient straight
    through (derivative taken as 1). With the `mse` loss (½‖a - y‖²) and plain SGD this is
    exactly the perceptron rule: Δw = η (y - prediction) x, averaged over the mini-batch.
    """

    name = "step"
    range = (0.0, 1.0)  # not `saturates`: its gradient passes straight through

    def forward(self, z, out=None):
        if out is None:
            return (z >= 0.0).astype(z.dtype)
        return np.greater_equal(z, 0.0, out=out)

    def backward(self, grad_output, output, out=None):
        if out is None or out is grad_output:
            return grad_output
        np.copyto(out, grad_output)
        return out


ACTIVATIONS: dict[str, Activation] = {
    activation.name: activation
    for activation in (Identity(), Sigmoid(), Tanh(), ReLU(), LeakyReLU(), Softmax(), Step())
}

OUTPUT_ONLY_ACTIVATIONS = frozenset(
    name for name, activation in ACTIVATIONS.items() if activation.output_only
)
# By name, for readers of specs and records (advice, sweeps) that hold names, not activations.
DYING_ACTIVATIONS = frozenset(
    name for name, activation in ACTIVATIONS.items() if activation.can_die
)
SATURATING_ACTIVATIONS = frozenset(
    name for name, activation in ACTIVATIONS.items() if activation.saturates
)
