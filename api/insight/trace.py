"""POST /v1/trace: one training step of a small network, every intermediate by its textbook name.

Nothing is queued or stored: the body holds the network, the batch and (optionally) the
weights, and the answer is `Network.trace` in float64, so a learner can redo the arithmetic
of backpropagation's four equations (BP1-BP4) by hand or in NumPy and get the same numbers.
"""

from dataclasses import replace

import numpy as np
from flask.views import MethodView
from flask_smorest import abort

from api.core.blueprint import Blueprint
from api.core.services import services
from api.insight.schemas import MAX_PARAMETERS, TraceRequestSchema, TraceSchema
from engine import spec as engine_spec
from engine.network import Network

blp = Blueprint(
    "trace", __name__, url_prefix="/v1/trace",
    description="One training step traced: z, a, the loss, every δ, ∂C/∂W, ∂C/∂b and the "
                "weights before and after, for a small network and batch.",
)

def _prefixed(error, prefix):
    errors = {}
    for violation in error.violations:
        path = f"{prefix}.{violation.path}" if violation.path else prefix
        errors.setdefault(path, []).append(violation.message)
    return errors


def build_network(body):
    """The float64 network to trace, or 422 naming every field at fault."""
    width = len(body["inputs"][0])
    limits = replace(services().settings.limits, max_parameters=MAX_PARAMETERS)
    errors = {}
    try:
        model = engine_spec.validate_model_spec(body["model"], input_size=width, limits=limits)
    except engine_spec.SpecError as error:
        errors.update(_prefixed(error, "model"))
    try:
        optimizer = engine_spec.validate_training_config(
            {"optimizer": body.get("optimizer") or {}})["optimizer"]
    except engine_spec.SpecError as error:
        errors.update(_prefixed(error, ""))
    if errors:
        refuse(errors)
    network = Network(model, width, seed=body["seed"], dtype=np.float64)
    for index, label in enumerate(body["labels"]):
        if label >= network.num_classes:
            errors[f"labels[{index}]"] = [f"must be a class below {network.num_classes}"]
    if "weights" in body:
        errors.update(check_weights(body["weights"], network))
    if errors:
        refuse(errors)
    if "weights" in body:
        network.params = body["weights"]
    return network, optimizer


def check_weights(weights, network):
    if len(weights) != len(network.shapes):
        return {"weights": [f"must hold one entry per layer ({len(network.shapes)})"]}
    errors = {}
    for index, (layer, (fan_in, units)) in enumerate(zip(weights, network.shapes, strict=True)):
        W = layer["W"]
        if len(W) != fan_in or any(len(row) != units for row in W):
            errors[f"weights[{index}].W"] = [f"must be {fan_in} rows of {units} numbers"]
        if len(layer["b"]) != units:
            errors[f"weights[{index}].b"] = [f"must hold {units} numbers"]
    return errors


def refuse(errors):
    first = next(iter(errors.items()))
    abort(422, message=f"Cannot trace: {first[0]}: {first[1][0]}", errors=errors)


def to_json(value):
    """NumPy arrays (at any depth) -> nested lists of Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


@blp.route("")
class Trace(MethodView):
    @blp.arguments(TraceRequestSchema, example={
        "model": {"layers": [{"units": 2, "activation": "sigmoid"},
                             {"units": 1, "activation": "sigmoid"}],
                  "loss": "binary_cross_entropy"},
        "inputs": [[0, 0], [0, 1], [1, 0], [1, 1]], "labels": [0, 1, 1, 0],
        "optimizer": {"name": "sgd", "learning_rate": 0.5}})
    @blp.response(200, TraceSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    def post(self, body):
        """Trace one training step: forward pass, loss, backpropagation, update.

        Send a small model, a small batch with its labels (the limits are in the body's
        schema), and optionally the optimizer and your own starting weights. The answer holds, per layer: W and b, z, a, δ, ∂C/∂W, ∂C/∂b and
        the weights after the step, in float64. Nothing is queued or stored.
        """
        network, optimizer = build_network(body)
        X = np.asarray(body["inputs"], dtype=np.float64)
        y = np.asarray(body["labels"], dtype=np.int64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = network.trace(X, y, optimizer=optimizer, seed=body["seed"])
        if not finite(result):
            message = "the step overflows float64 (a value became inf or NaN); use smaller numbers"
            refuse({field: [message] for field in ("inputs", "weights") if field in body})
        return {**to_json(result), "model": network.spec, "dtype": "float64"}


def finite(value):
    """True when every number in the trace (arrays at any depth, floats) is finite."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    if isinstance(value, float):
        return np.isfinite(value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(finite(item) for item in value)
    return True
