"""The multilayer perceptron: parameters, fast feedforward and backprop, predictions.

engine.textbook is the algorithm as the textbook writes it; `feedforward` and `backprop` here
compute the same numbers in preallocated buffers (engine.workspace). All weights live in one
contiguous vector and all biases in another (`net.params` holds views into them), so an
optimizer updates the whole network with a handful of NumPy calls and checkpoints copy two arrays.
"""

import threading
from types import MappingProxyType

import numpy as np

from engine import metrics, serialization, training
from engine import spec as specs
from engine import trace as tracing
from engine.activations import ACTIVATIONS
from engine.evaluation import evaluate
from engine.initializers import INITIALIZERS
from engine.losses import loss_for
from engine.regularization import add_l2_gradient, l2_penalty
from engine.tasks import DEFAULT_TASK, TargetScale, check_values
from engine.workspace import Workspace

INFERENCE_CHUNK = 4096  # rows per feedforward call in predict/evaluate: bounds scratch memory


class Network:
    """A stack of fully connected layers built from a validated model spec."""

    def __init__(self, spec, input_size, *, seed=0, dtype=np.float32):
        self.spec = spec
        self.input_size = int(input_size)
        self.dtype = np.dtype(dtype)
        self.sizes = [self.input_size] + [layer["units"] for layer in spec["layers"]]
        self.activations = [ACTIVATIONS[layer["activation"]] for layer in spec["layers"]]
        self.dropout = [float(layer.get("dropout", 0.0)) for layer in spec["layers"]]
        self.task = spec.get("task", DEFAULT_TASK)
        self.loss = loss_for(spec)
        # a regression network's outputs are values (engine.tasks), it has no classes
        self.num_classes = None if self.task == "regression" else max(self.sizes[-1], 2)
        self._target_scale = None
        self.shapes = shapes = list(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        self.weights = np.zeros(sum(i * o for i, o in shapes), dtype=self.dtype)
        self.biases = np.zeros(sum(o for _, o in shapes), dtype=self.dtype)
        self.weight_grads = np.zeros_like(self.weights)
        self.bias_grads = np.zeros_like(self.biases)
        self._params = _layer_views(self.weights, self.biases, shapes)
        self._grads = _layer_views(self.weight_grads, self.bias_grads, shapes)
        self._local = threading.local()
        self.history = []
        self.training_config = None
        self._training = None  # the loop's resumable state after an epoch (see training.py)
        self.initialize(seed)

    @classmethod
    def from_spec(cls, spec, *, input_size=None, num_classes=None, seed=0, dtype=np.float32):
        """Validate `spec` (engine.spec) and build a network with freshly initialised weights."""
        validated = specs.validate_model_spec(spec, input_size=input_size, num_classes=num_classes)
        if "input_size" not in validated:
            raise specs.SpecError([specs.Violation(
                "input_size", "required", "input_size is required (pass it or put it in the spec)")])
        return cls(validated, validated["input_size"], seed=seed, dtype=dtype)

    def initialize(self, seed=0):
        """Draw every weight and bias with the spec's initializer from a Generator(seed)."""
        rng = np.random.default_rng(seed)
        initializer = INITIALIZERS[self.spec["init"]]
        for layer, (fan_in, fan_out) in zip(self._params, self.shapes, strict=True):
            weights, biases = initializer(rng, fan_in, fan_out)
            layer["W"][...] = weights
            layer["b"][...] = biases

    # -- parameters --------------------------------------------------------------------------

    @property
    def params(self):
        """[{"W": (fan_in, fan_out), "b": (fan_out,)}, ...], views into the network's storage."""
        return self._params

    @params.setter
    def params(self, values):
        """Copy new values in, checking every shape (the storage itself never moves)."""
        if len(values) != len(self._params):
            raise ValueError(f"expected {len(self._params)} layers of parameters, got {len(values)}")
        for index, (layer, new) in enumerate(zip(self._params, values, strict=True)):
            for key in ("W", "b"):
                value = np.asarray(new[key])
                if value.shape != layer[key].shape:
                    raise ValueError(f"params[{index}][{key!r}] has shape {value.shape}, "
                                     f"expected {layer[key].shape}")
                layer[key][...] = value

    @property
    def target_scale(self):
        """Regression: how the target was standardised for training (engine.tasks.TargetScale),
        so predictions and metrics come back in its units; None keeps the units trained on."""
        return self._target_scale

    @target_scale.setter
    def target_scale(self, value):
        """Set from a TargetScale, a (mean, std) pair or {"mean", "std"} (one value per
        output unit, or numbers for one unit), or None."""
        scale = TargetScale.of(value)
        if scale is not None and self.task != "regression":
            raise ValueError("only a regression network has a target scale")
        if scale is not None and scale.outputs != self.sizes[-1]:
            raise ValueError(f"the target scale has {scale.outputs} columns for "
                             f"{self.sizes[-1]} output units")
        self._target_scale = scale

    @property
    def parameter_count(self):
        return self.weights.size + self.biases.size

    def workspace(self, n):
        """Scratch arrays for a batch of n rows, kept for the few batch sizes in use.

        Each thread has its own, so one network can serve predictions from many threads."""
        workspaces = self._local.__dict__.setdefault("workspaces", {})
        workspace = workspaces.get(n)
        if workspace is None:
            if len(workspaces) >= 4:
                workspaces.pop(next(iter(workspaces)))
            workspace = workspaces[n] = Workspace(n, self.sizes, self.dropout, self.dtype)
        return workspace

    # -- the algorithm: engine.textbook's feedforward and backprop, made fast -----------------

    def feedforward(self, x, workspace, rng=None):
        """Forward pass of x (n, input_size) into `workspace`; dropout only when `rng` is given.

        The same numbers as `textbook.feedforward` (zˡ = aˡ⁻¹ Wˡ + bˡ, aˡ = σ(zˡ)), without
        keeping them: returns the output activations (n, units_out), and workspace.z_out keeps
        the output pre-activation for the loss. What each difference saves is commented."""
        a = workspace.inputs[0] = x
        workspace.masks.clear()
        last = len(self._params) - 1
        for index, (layer, activation) in enumerate(zip(self._params, self.activations, strict=True)):
            # zˡ is built in the buffer that will hold aˡ (hidden layers keep only aˡ, as σ' is
            # read from it): one (n, units) array per layer instead of two, allocated once per
            # batch size by the workspace instead of once per step
            z = workspace.z_out if index == last else workspace.a[index]
            np.matmul(a, layer["W"], out=z)
            z += layer["b"]  # in place: no temporary for aˡ⁻¹ Wˡ + bˡ
            if index == last:
                return activation.forward(z, out=workspace.output)
            a = activation.forward(z, out=z)  # aˡ = σ(zˡ), in place: this buffer now holds aˡ
            if rng is not None and self.dropout[index]:
                # textbook.dropout_mask's numbers, drawn into a buffer kept for the batch size
                a = workspace.drop(index, a, rng, self.dropout[index])
            workspace.inputs[index + 1] = a

    def backprop(self, targets, workspace):
        """Gradients of the mean loss over the batch into self.weight_grads / bias_grads.

        Call right after `feedforward(x, workspace, ...)`; targets are `loss.targets(...)`
        for the batch's labels. `textbook.backprop`'s four equations (Nielsen, ch. 2), with
        rows as samples, so δˡ is (n, units_l) and Wˡ is (units_l-1, units_l); each gradient is
        written straight into its view of the flat gradient vectors."""
        last = len(self._params) - 1
        # BP1: δᴸ = ∂C/∂zᴸ, from the loss (a - y when fused with softmax or sigmoid), already / n
        delta = self.loss.delta(workspace.z_out, workspace.output, targets,
                                self.activations[last], out=workspace.delta[last])
        for index in range(last, -1, -1):
            grads = self._grads[index]
            # BP4: ∂C/∂Wˡ = (aˡ⁻¹)ᵀ δˡ, summed over the batch by the product, (units_l-1, units_l)
            np.matmul(workspace.inputs[index].T, delta, out=grads["W"])
            # BP3: ∂C/∂bˡ = Σ over the batch of δˡ, (units_l,). Written as ones(n) @ δˡ for speed:
            # one BLAS call instead of NumPy's column-by-column reduction delta.sum(axis=0).
            np.matmul(workspace.ones, delta, out=grads["b"])
            if index == 0:
                break  # δ¹ (W¹)ᵀ, the gradient for the input, is never needed: its product saved
            # BP2: δˡ⁻¹ = (δˡ (Wˡ)ᵀ) ⊙ σ'(zˡ⁻¹); σ' is read from aˡ⁻¹ (its buffer), times the
            # dropout mask when that layer's outputs were dropped; all in one buffer, in place
            below = workspace.delta[index - 1]
            np.matmul(delta, self._params[index]["W"].T, out=below)
            if index - 1 in workspace.masks:
                below *= workspace.masks[index - 1]
            delta = self.activations[index - 1].backward(below, workspace.a[index - 1], out=below)

    def forward_all(self, X, callback):
        """Feed X through in chunks; `callback(start, stop, workspace, output)` per chunk."""
        X = np.asarray(X)
        for start in range(0, len(X), INFERENCE_CHUNK):
            chunk = X[start:start + INFERENCE_CHUNK]
            workspace = self.workspace(len(chunk))
            np.copyto(workspace.x, chunk, casting="unsafe")
            callback(start, start + len(chunk), workspace, self.feedforward(workspace.x, workspace))

    # -- predictions -------------------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities, (n, num_classes), rows sum to 1."""
        if self.task == "regression":
            raise ValueError("a regression network predicts values, not class probabilities: "
                             "use predict_values")
        X = self._check_inputs(X)
        result = np.empty((len(X), self.num_classes), dtype=self.dtype)

        def collect(start, stop, workspace, output):
            result[start:stop] = self.probabilities(output)

        self.forward_all(X, collect)
        return result

    def probabilities(self, output):
        """Output activations (n, units) as class probabilities (n, num_classes).

        One unit is P(class 1); softmax outputs already are probabilities; other outputs
        (sigmoid units trained with binary_cross_entropy, mse outputs) are normalised to sum to
        1, so the predicted class is the unit with the largest output."""
        if output.shape[1] == 1:  # one unit in [0, 1] is P(class 1)
            return np.hstack([1.0 - output, output])
        if self.activations[-1].name == "softmax":
            return output.copy()
        scores = np.maximum(output, 0.0)  # mse outputs: normalised, uniform where all are <= 0
        totals = scores.sum(axis=1, keepdims=True)
        empty = totals[:, 0] <= 0
        scores[empty], totals[empty] = 1.0, scores.shape[1]
        return scores / totals

    def predict(self, X):
        """Predicted labels, (n,) int64; regression: `predict_values`."""
        if self.task == "regression":
            return self.predict_values(X)
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def predict_values(self, X):
        """Regression: predictions in the target's units (see `target_scale`), float64,
        (n,) for one output unit, else (n, outputs)."""
        if self.task != "regression":
            raise ValueError("a classification network predicts classes: use predict or "
                             "predict_proba")
        X = self._check_inputs(X)
        result = np.empty((len(X), self.sizes[-1]), dtype=np.float64)

        def collect(start, stop, workspace, output):
            result[start:stop] = output

        self.forward_all(X, collect)
        if self.target_scale is not None:
            result = self.target_scale.decode(result)
        return result[:, 0] if self.sizes[-1] == 1 else result

    def compute_loss(self, X, y, weight_decay=0.0):
        """Mean loss over (X, y) in inference mode, plus λ/2 ‖W‖² when weight_decay is λ."""
        X, y = self._check_inputs(X), self._check_labels(y, len(X))
        total = [0.0]

        def accumulate(start, stop, workspace, output):
            targets = self.loss.targets(y[start:stop], self.sizes[-1], self.dtype)
            total[0] += self.loss.value(workspace.z_out, output, targets) * (stop - start)

        self.forward_all(X, accumulate)
        return total[0] / max(len(X), 1) + l2_penalty(self.weights, weight_decay)

    def evaluate(self, X, y):
        """{"accuracy", "loss", "precision", "recall", "confusion_matrix"} on (X, y);
        regression: {"loss", "rmse", "mae", "r2"} (engine.metrics), y as trained on
        (standardised) and the metrics in the target's units."""
        y = self._check_labels(y, len(X))
        if self.task == "regression":
            return metrics.measure(self, self._check_inputs(X), y)
        return evaluate(self.predict_proba(X), y, self.num_classes, self.compute_loss(X, y))

    def gradients(self, X, y, weight_decay=0.0):
        """[{"W": dW, "b": db}, ...] of the mean loss over (X, y) (+ λ/2 ‖W‖²), no dropout."""
        X, y = self._check_inputs(X), self._check_labels(y, len(X))
        workspace = self.workspace(len(X))
        np.copyto(workspace.x, X, casting="unsafe")
        self.feedforward(workspace.x, workspace)
        self.backprop(self.loss.targets(y, self.sizes[-1], self.dtype), workspace)
        return [{"W": add_l2_gradient(layer["W"].copy(), param["W"], weight_decay),
                 "b": layer["b"].copy()}
                for layer, param in zip(self._grads, self._params, strict=True)]

    # -- seeing inside ------------------------------------------------------------------------

    def trace(self, X, y, optimizer=None, *, seed=0):
        """Every intermediate of one training step on (X, y) by textbook name: inputs, z, a,
        the loss, δᴸ and each δˡ, ∂C/∂W, ∂C/∂b, weights before and after (engine.trace).
        The network itself is not changed."""
        return tracing.trace(self, X, y, optimizer, seed=seed)

    def input_gradients(self, X, target):
        """∂(probability of class `target`)/∂x for each row of X, (n, input_size): saliency.
        Regression: ∂(value of output unit `target`, in the target's units)/∂x."""
        return tracing.input_gradients(self, X, target)

    # -- training ----------------------------------------------------------------------------

    def fit(self, X, y, *, callbacks=(), resume_from=None, validation_data=None,
            diagnostics=True, **config):
        """Train with mini-batch gradient descent; returns a `History` (see engine.training).

        Each epoch's entry carries `layers`, per-layer health (engine.diagnostics), unless
        `diagnostics=False`."""
        return training.train(self, X, y, config, callbacks=callbacks, resume_from=resume_from,
                     validation_data=validation_data, diagnostics=diagnostics)

    def checkpoint(self):
        """Resumable training state after the last complete epoch (see engine.training)."""
        return training.checkpoint(self)

    # -- files -------------------------------------------------------------------------------

    def save(self, path, **kwargs):
        """Write this network to the directory `path` (engine.serialization.save)."""
        return serialization.save(self, path, **kwargs)

    @classmethod
    def load(cls, path):
        """Read a model directory written by `save`; raises ModelFileError (engine.serialization)."""
        model = serialization.read_model(path)
        net = cls(model["spec"], model["input_size"], dtype=model["dtype"])
        if len(model["classes"]) != (net.num_classes or 0):
            raise serialization.ModelFileError(
                f"{path}/{serialization.MANIFEST}: {len(model['classes'])} class names for "
                f"{net.num_classes or 0} classes")
        net.target_scale = model["target_scale"]  # checked against the outputs by read_model
        net.params = model["params"]
        net.history = model["history"]
        net.training_config = model["training_config"]
        return net

    # -- input checks ------------------------------------------------------------------------

    def _check_inputs(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.input_size:
            raise ValueError(f"X must have shape (n, {self.input_size}), got {X.shape}")
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
        return X

    def _check_labels(self, y, n):
        """Integer labels (n,); regression: target values as (n, outputs) (engine.tasks)."""
        if self.task == "regression":
            return check_values(y, n, self.sizes[-1], self.dtype)
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be ({n},) integer labels, got shape {y.shape} dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes - 1}]")
        return y

    def __repr__(self):
        layers = "-".join(str(size) for size in self.sizes)
        names = ",".join(activation.name for activation in self.activations)
        return f"<Network {layers} ({names}) loss={self.loss.name} {self.parameter_count} params>"


def _layer_views(weights, biases, shapes):
    """Per-layer {"W", "b"} views into the flat weight and bias vectors, as read-only mappings:
    `net.params[0]["W"] = new` would detach a layer from the storage training updates, so it
    raises; write values in place (`[...] =`) or assign `net.params` as a whole."""
    views, w_at, b_at = [], 0, 0
    for fan_in, fan_out in shapes:
        views.append(MappingProxyType({
            "W": weights[w_at:w_at + fan_in * fan_out].reshape(fan_in, fan_out),
            "b": biases[b_at:b_at + fan_out]}))
        w_at, b_at = w_at + fan_in * fan_out, b_at + fan_out
    return views
