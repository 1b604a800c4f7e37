"""POST /v1/models/{id}/predict: pixel arrays, PNG/JPEG images or table rows through a trained model.

Bodies are parsed here rather than through marshmallow: 1000 samples of 784 numbers are
784,000 JSON values, which orjson decodes about 4x faster than the standard library and
NumPy turns into one array in a single call. Schemas (api.models.schemas) document the
body for OpenAPI.
"""

import base64
import binascii
import time

import marshmallow as ma
import numpy as np
import orjson
from flask import Response, request
from flask.views import MethodView

from api.core.blueprint import Blueprint
from api.core.errors import error_response, flatten_messages, summarize
from api.core.services import services
from api.models.answers import encode_predictions, encode_values
from api.models.images import ImageError, preprocess_image
from api.models.rows import ROWS, check_table_model, csv_rows, rows_batch
from api.models.saliency import check_explainable, explain
from api.models.schemas import PredictArgsSchema, PredictRequestSchema, PredictResponseSchema
from api.models.serving import PredictionError, check_batch, init_serving, resolve_model

blp = Blueprint(
    "predict", __name__, url_prefix="/v1/models",
    description="Predict with a trained model: pixel arrays, base64 images or uploads, and "
                "table rows by column name (JSON or a CSV upload).",
)
blp.record_once(lambda state: init_serving(state.app))

IMAGE_STATUS = {"too_large": 413, "too_many_pixels": 413}  # other image problems are 422
BODY_KEYS = {"inputs", "images", ROWS}


ERROR_RESPONSES = {
    "400": "DEFAULT_ERROR",  # malformed JSON or an empty body
    "404": "NOT_FOUND",
    "409": "DEFAULT_ERROR",  # a job that has not succeeded, or a corrupt model
    "413": "DEFAULT_ERROR",  # too many inputs, body or image too large
    "415": "DEFAULT_ERROR",  # neither JSON nor multipart
    "422": "DEFAULT_ERROR",  # bad shape, value, image, row or query parameter
}
REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": PredictRequestSchema},
        "multipart/form-data": {"schema": {
            "type": "object",
            "properties": {
                "image": {"type": "array", "items": {"type": "string", "format": "binary"},
                          "description": "image files (image models)"},
                ROWS: {"type": "string", "format": "binary", "description":
                       "table models: a CSV of rows with a header row (comma, semicolon or "
                       "tab; UTF-8; gzip allowed), one prediction per data row"},
            },
        }},
    },
}


@blp.before_request
def allow_large_bodies():
    """Prediction batches are larger than job specs: their own cap (413 beyond it)."""
    request.max_content_length = services().serving.max_body_bytes


@blp.errorhandler(PredictionError)
def prediction_error(error):
    """The API's one error shape, plus a stable `type` clients can branch on."""
    errors = error.errors or ({error.field: [error.message]} if error.field else None)
    return error_response(error.status, error.message, errors, error_type=error.error_type)


ARGS_SCHEMA = PredictArgsSchema()
DEFAULT_ARGS = ARGS_SCHEMA.load({})


def query_arguments() -> dict:
    """`?top_k=&return_preprocessed=&dataset=`, checked by PredictArgsSchema.

    Not through `@blp.arguments`: webargs' machinery costs about as much as a whole
    single-sample inference, and most requests have no query string, so they take the
    defaults as they are. Unknown parameters are ignored, as webargs does for queries.
    """
    if not request.query_string:
        return DEFAULT_ARGS
    try:
        return ARGS_SCHEMA.load(request.args, unknown=ma.EXCLUDE)
    except ma.ValidationError as error:
        errors = flatten_messages(error.messages)
        raise PredictionError(422, "invalid_query", summarize(errors), errors=errors) from None


@blp.route("/<model_ref:model_id>/predict")
class Predict(MethodView):
    # Error responses are documented with @blp.doc rather than stacked @blp.alt_response:
    # each of those wraps the view once more, on the hot path of every prediction.
    @blp.doc(parameters=[{"in": "query", "schema": PredictArgsSchema}], requestBody=REQUEST_BODY,
             responses=ERROR_RESPONSES)
    @blp.response(200, PredictResponseSchema)
    def post(self, model_id):
        """Predict: JSON `inputs`, JSON base64 `images` or image uploads, JSON `rows` or a CSV.

        `{model_id}` is a model id, the id of the job that trained it, or `latest`
        (optionally with `?dataset=`). Images are made to look like MNIST first: greyscale,
        inverted if the background is light, cropped to the digit, scaled into 20x20 and
        centred by mass in 28x28. A table model takes `rows` of raw values by column name
        (or a CSV upload, field `rows`), put through the preprocessing saved with it; a
        missing, extra or misspelled column or an unknown category is a 422 keyed
        `rows[i].column`, listing what is expected. A regression model answers a `value` per
        row in the target's units. `?explain=true` adds each input's saliency (image models)
        or per-feature attribution, gradient × input (table models).
        The `Server-Timing` header gives the milliseconds spent receiving the body,
        decoding it, inferring (and explaining) and encoding the answer.
        """
        started = time.perf_counter()
        args = query_arguments()
        return respond(resolve_model(model_id, args.get("dataset")), args, started)


def respond(model, args: dict, started: float, header: dict | None = None) -> Response:
    """Read the body, predict with `model` (a LoadedModel) and answer, with timings.

    `header` adds top-level fields to the answer (job predictions say which epoch)."""
    if args["explain"]:
        check_explainable(model)
    payload = receive_body()
    received = time.perf_counter()
    batch = read_batch(model, payload)
    decoded = time.perf_counter()
    outputs = model.predict_values(batch) if model.regression else model.predict_proba(batch)
    explanation = explain(model, batch, outputs) if args["explain"] else None
    inferred = time.perf_counter()
    preprocessed = batch if args["return_preprocessed"] else None
    if model.regression:
        body = encode_values(model, outputs, preprocessed, explanation, header)
    else:
        body = encode_predictions(model, outputs, min(args["top_k"], model.num_classes),
                                  preprocessed, explanation, header)
    finished = time.perf_counter()
    response = Response(body, mimetype="application/json")
    response.headers["Server-Timing"] = server_timing(
        receive=received - started, decode=decoded - received, infer=inferred - decoded,
        encode=finished - inferred)
    return response


def receive_body():
    """JSON body bytes, (name, bytes) per uploaded image of a multipart body, or its CSV of
    rows (a FileStorage)."""
    if request.mimetype == "multipart/form-data":
        return uploaded_rows() if ROWS in request.files else uploaded_images()
    if not request.is_json:
        raise PredictionError(
            415, "unsupported_media_type",
            f"Content-Type must be application/json or multipart/form-data, "
            f"got {request.mimetype or 'none'}.")
    return request.get_data(cache=False)


def read_batch(model, payload) -> np.ndarray:
    """The request body -> (n, input_size) checked batch, whatever form it came in."""
    if isinstance(payload, list):
        return images_batch(model, payload, "image")
    if not isinstance(payload, bytes):  # a CSV of rows
        check_table_model(model)
        rows, source = csv_rows(payload, lambda count: check_count(count, ROWS))
        return rows_batch(model, rows, lines=source.line)
    body = parse_json(payload)
    if not isinstance(body, dict) or len(body) != 1 or not body.keys() <= BODY_KEYS:
        raise PredictionError(422, "invalid_body", 'Send a JSON object with exactly one key: '
                              '"inputs" (arrays of numbers), "images" (base64 PNG/JPEG) or '
                              '"rows" (table models: objects of values by column name).')
    field, items = next(iter(body.items()))
    if not isinstance(items, list) or not items:
        raise PredictionError(422, "invalid_body", f"{field} must be a non-empty list.", field)
    if field == ROWS:
        check_table_model(model)
        check_count(len(items), field)
        return rows_batch(model, items)
    check_count(len(items), field)
    if field == "images":
        return images_batch(model, [(f"images[{i}]", decode_base64(item, f"images[{i}]"))
                                    for i, item in enumerate(items)], field)
    return check_batch(to_array(items, field), model, field)


def parse_json(data: bytes):
    if not data.strip():
        raise PredictionError(400, "invalid_json", "The request body is empty; send a JSON object.")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        hint = ""
        if b"NaN" in data or b"Infinity" in data:
            hint = " (NaN and Infinity are not JSON numbers, and not valid inputs)"
        raise PredictionError(400, "invalid_json", f"Malformed JSON{hint}: {error}") from None


def to_array(items: list, field: str) -> np.ndarray:
    """Nested lists of numbers -> one ndarray; ragged or non-numeric data is a 422."""
    try:
        array = np.array(items)
    except (ValueError, TypeError):
        raise PredictionError(
            422, "invalid_shape",
            f"{field}: every sample must have the same shape (a list of numbers or a 28x28 "
            "list of lists); the samples differ.", field) from None
    if array.dtype.kind not in "fiu":
        raise PredictionError(
            422, "invalid_input",
            f"{field} must hold JSON numbers only (no strings, booleans or null).", field)
    if array.ndim < 2:
        raise PredictionError(
            422, "invalid_shape",
            f'{field} must be a list of samples; wrap a single sample in a list: '
            f'{{"{field}": [[...]]}}.', field)
    return array


def check_count(count: int, field: str) -> None:
    limit = services().serving.max_inputs
    if count > limit:
        raise PredictionError(
            413, "too_many_inputs",
            f"{field} holds {count} inputs; at most {limit} per request "
            "(MLPQ_PREDICT_MAX_INPUTS). Split the batch.", field)


def decode_base64(item, field: str) -> bytes:
    if not isinstance(item, str):
        raise PredictionError(422, "invalid_image", f"{field} must be a base64 string.", field)
    if item.startswith("data:"):
        item = item.partition(",")[2]  # data:image/png;base64,....
    limit = services().serving.image_limits.max_bytes
    if len(item) * 3 // 4 > limit + 3:
        raise PredictionError(413, "image_too_large",
                              f"{field} is larger than {limit} bytes once decoded.", field)
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError):
        raise PredictionError(422, "invalid_base64", f"{field} is not valid base64.",
                              field) from None


def uploaded_images() -> list[tuple[str, bytes]]:
    """Every file part of a multipart body, in order, whatever its field name."""
    limit = services().serving.image_limits.max_bytes
    files = list(request.files.items(multi=True))
    if not files:
        raise PredictionError(422, "invalid_body", "The multipart body has no files; send "
                              "images as file parts, e.g. curl -F image=@seven.png.", "image")
    check_count(len(files), "image")
    images = []
    for index, (name, upload) in enumerate(files):
        data = upload.read(limit + 1)
        images.append((f"{name}[{index}] ({upload.filename or 'unnamed'})", data))
    return images


def uploaded_rows():
    """The multipart body's CSV of rows: its one file part, named `rows`."""
    if len(request.files) > 1:
        raise PredictionError(422, "invalid_body", "Send the CSV of rows as the multipart "
                              "body's only file, e.g. curl -F rows=@rows.csv.", ROWS)
    return request.files[ROWS]


def images_batch(model, images: list[tuple[str, bytes]], field: str) -> np.ndarray:
    """Images -> MNIST-style (n, 784) batch; any bad image fails the request, named."""
    if model.image_shape != (28, 28):
        send = ('its rows by column name as "rows", or a CSV of them as the multipart file '
                '"rows" (curl -F rows=@rows.csv)') if model.table is not None else 'them as "inputs"'
        raise PredictionError(
            422, "images_not_supported",
            f"Model {model.model_id} takes {model.input_size} numbers, not images; send {send}.",
            field)
    limits = services().serving.image_limits
    batch = np.empty((len(images), model.input_size), dtype=model.dtype)
    for row, (name, data) in enumerate(images):
        try:
            batch[row] = preprocess_image(data, limits).ravel()
        except ImageError as error:
            status = IMAGE_STATUS.get(error.rule, 422)
            raise PredictionError(status, f"image_{error.rule}", f"{name}: {error.message}.",
                                  name.split(" ")[0]) from None
    return batch


def server_timing(**durations: float) -> str:
    """W3C Server-Timing in ms: e.g. `receive;dur=0.02, decode;dur=0.21, infer;dur=0.05`."""
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in durations.items())
