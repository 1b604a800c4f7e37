"""Open Inference Protocol (KServe V2) REST endpoints, with the binary tensor data extension.

Spec: github.com/kserve/open-inference-protocol, specification/protocol/inference_rest.md, and
Triton's docs/protocol/extension_binary_data.md. A model has one input, `input` (FP32,
[-1, 784], or [-1, 28, 28] for image models), except a table model, which has one input per
feature column (api.models.v2_columns: FP32 numbers, BYTES categories, [-1, 1]) put through its
preprocessing. A classifier has two outputs, `probabilities` (FP32, [-1, classes]) and `label`
(INT64, [-1]); a regression model has `value` (FP32, [-1], in the target's units). A model's
name is its id, its job's id, or `latest`. Errors are `{"error": "..."}` as the protocol
requires, whatever raised them.
"""

import logging
import os
import time

import numpy as np
import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from api.core.services import services
from api.models.predict import server_timing
from api.models.serving import PredictionError, init_serving, resolve_model
from api.models.v2_columns import column_inputs, columns_batch
from api.models.v2_tensors import HEADER_LENGTH, decode_request, encode_response

logger = logging.getLogger(__name__)

# Plain Flask: the protocol has its own documents and error shape, outside our OpenAPI.
blp = Blueprint("v2", __name__, url_prefix="/v2")
blp.record_once(lambda state: init_serving(state.app))

SERVER_NAME = "mlpq"
EXTENSIONS = ["binary_tensor_data"]
PLATFORM = "mlpq_npz"  # "<project>_<format>", as the protocol names platforms
DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}


def v2_response(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def v2_error(status: int, message: str, headers=None) -> Response:
    response = v2_response({"error": message}, status)
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@blp.before_request
def allow_large_bodies():
    request.max_content_length = services().serving.max_body_bytes


@blp.errorhandler(PredictionError)
def prediction_error(error):
    # The protocol's failed requests are "typically 400": bad values included (V1 says 422).
    return v2_error(400 if error.status == 422 else error.status, error.message)


@blp.errorhandler(HTTPException)
def http_error(error):
    data = getattr(error, "data", None) or {}
    return v2_error(error.code, data.get("message") or error.description, error.get_headers())


@blp.errorhandler(Exception)
def unexpected_error(error):
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise error
    logger.exception("unhandled error in a V2 endpoint")
    return v2_error(500, "internal server error; the details are in the server log")


# ---- server -----------------------------------------------------------------------------------


@blp.get("")
def server_metadata():
    return v2_response({"name": SERVER_NAME, "version": current_app.config["API_VERSION"],
                        "extensions": EXTENSIONS})


@blp.get("/health/live")
def server_live():
    return v2_response({"live": True})


@blp.get("/health/ready")
def server_ready():
    """Ready unless the model store exists but cannot be read (models load from it on demand;
    before the first model is saved it may not exist yet, and every lookup is then a 404).

    The protocol's text gives this response as {"live": bool}; KServe's own servers and its
    gRPC message use {"ready": bool}. Both keys are sent so either reading finds its field.
    """
    root = services().serving.cache.artifacts.root
    ready = not os.path.exists(root) or os.access(root, os.R_OK | os.X_OK)
    return v2_response({"live": True, "ready": ready}, 200 if ready else 503)


# ---- models -----------------------------------------------------------------------------------


@blp.get("/models/<name>")
def model_metadata(name):
    model = resolve_model(name)
    datatype = DATATYPES[model.dtype]
    inputs = (column_inputs(model.table) if model.table is not None
              else [{"name": "input", "datatype": datatype, "shape": [-1, model.input_size]}])
    if model.regression:
        units = model.network.sizes[-1]
        outputs = [{"name": "value", "datatype": "FP32", "shape": [-1] if units == 1 else [-1, units]}]
    else:
        outputs = [
            {"name": "probabilities", "datatype": datatype, "shape": [-1, model.num_classes]},
            {"name": "label", "datatype": "INT64", "shape": [-1]},
        ]
    return v2_response({"name": model.model_id, "platform": PLATFORM, "inputs": inputs,
                        "outputs": outputs})


@blp.get("/models/<name>/ready")
def model_ready(name):
    """200 {"name", "ready": true} when it can serve; 503 with ready false when it cannot."""
    try:
        model = resolve_model(name)
    except PredictionError as error:
        if error.status != 409:  # unknown model: an error, not a readiness answer
            raise
        return v2_response({"name": name, "ready": False}, 503)
    return v2_response({"name": model.model_id, "ready": True})


@blp.post("/models/<name>/infer")
def infer(name):
    started = time.perf_counter()
    model = resolve_model(name)
    body = request.get_data(cache=False)
    received = time.perf_counter()
    inference = decode_request(body, request.headers.get(HEADER_LENGTH), model,
                               services().serving.max_inputs,
                               columns_batch if model.table is not None else None)
    decoded = time.perf_counter()
    if model.regression:
        outputs = {"value": model.predict_values(inference.inputs).astype(np.float32)}
    else:
        probabilities = model.predict_proba(inference.inputs)
        outputs = {"probabilities": probabilities,
                   "label": probabilities.argmax(axis=1).astype(np.int64)}
    inferred = time.perf_counter()
    body, json_length = encode_response(model.model_id, inference, outputs)
    finished = time.perf_counter()
    response = Response(body, mimetype="application/json")
    if json_length is not None:
        response.mimetype = "application/octet-stream"
        response.headers[HEADER_LENGTH] = str(json_length)
    response.headers["Server-Timing"] = server_timing(
        receive=received - started, decode=decoded - received, infer=inferred - decoded,
        encode=finished - inferred)
    return response


@blp.route("/models/<name>/versions/<version>", defaults={"action": ""})
@blp.route("/models/<name>/versions/<version>/<action>", methods=["GET", "POST"])
def versioned(name, version, action):
    raise NotFound(f"model {name!r} has no version {version!r}: mlpq models are not versioned; "
                   f"use /v2/models/{name}" + (f"/{action}" if action else ""))


# ---- anything else under /v2 ------------------------------------------------------------------


@blp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest):
    """Unknown paths get 404, known paths with the wrong method 405, both as {"error"}."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "v2.unknown":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(allowed, f"{request.method} is not allowed on {request.path}; "
                                        f"use {' or '.join(allowed)}")
    raise NotFound(f"no V2 endpoint at {request.path}")
