"""What the V1 and V2 prediction endpoints share: settings, model lookup and input checks.

Both endpoints resolve a model reference (an id, a job id, or `latest`) to a cached
`LoadedModel`, check a numeric batch against it, and raise `PredictionError` for anything a
client sent wrong; each blueprint renders that error in its own protocol's shape.
"""

import threading
from dataclasses import dataclass

import numpy as np
import redis
from threadpoolctl import threadpool_limits

from api.core.converters import LATEST, no_latest_model
from api.core.errors import not_found_message
from api.core.ownership import owner_filter, visible
from api.core.services import services
from api.models.cache import LoadedModel, ModelCache, ModelCorrupt
from api.models.images import ImageLimits
from worker.store.artifacts import ModelNotFound


class PredictionError(Exception):
    """A request the prediction endpoints refuse: HTTP status, stable type, message, field."""

    def __init__(self, status: int, error_type: str, message: str, field: str | None = None,
                 errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.field = field
        self.errors = errors  # {field path: [messages]} when several fields are wrong


@dataclass
class Serving:
    """Per-app prediction state: limits, the model cache, the cached `latest` answers."""

    max_inputs: int
    max_body_bytes: int
    image_limits: ImageLimits
    cache: ModelCache
    latest: dict
    latest_lock: threading.Lock


def init_serving(app) -> Serving:
    """The app's prediction state, made once from its config (both prediction blueprints ask)."""
    state = services(app)
    if state.serving is None:
        config = app.config
        # Process-wide. With requests in flight on every core, a second BLAS thread only waits
        # for one: bench/http.py times the 1000-input forward pass both ways (docs/benchmarks.md).
        threadpool_limits(limits=config["PREDICT_BLAS_THREADS"], user_api="blas")
        state.serving = Serving(
            max_inputs=config["PREDICT_MAX_INPUTS"],
            max_body_bytes=config["PREDICT_MAX_BODY_BYTES"],
            image_limits=ImageLimits(config["PREDICT_MAX_IMAGE_BYTES"],
                                     config["PREDICT_MAX_IMAGE_PIXELS"]),
            cache=ModelCache(state.artifacts, config["MODEL_CACHE_SIZE"]),
            latest={}, latest_lock=threading.Lock(),
        )
    return state.serving


# ---- model lookup -----------------------------------------------------------------------------


def resolve_model(reference: str, dataset: str | None = None) -> LoadedModel:
    """The loaded model for a model id, the id of the job that trained it, or `latest`.

    404: no such model (or not the caller's); 409: a job that has not produced one yet, or a
    model whose files are corrupt (the model is reported broken, others keep serving).
    """
    model_id = latest_model_id(dataset) if reference == LATEST else reference
    try:
        model = services().serving.cache.get(model_id)
    except ModelNotFound:
        if reference != LATEST:
            model = _model_of_job(reference)
        else:
            raise PredictionError(404, "model_not_found", not_found_message("model", model_id)) from None
    except ModelCorrupt as error:
        raise PredictionError(409, "model_corrupt", str(error)) from None
    except ValueError:
        raise PredictionError(404, "model_not_found", not_found_message("model", reference)) from None
    if not visible(model.record):
        raise PredictionError(404, "model_not_found", not_found_message("model", reference))
    return model


def _model_of_job(job_id: str) -> LoadedModel:
    """A job id stands for its model once the job succeeded; before that it is a 409."""
    not_found = PredictionError(404, "model_not_found", not_found_message("model", job_id))
    try:
        job = services().jobs.get(job_id)
    except redis.RedisError:
        job = None  # the model files decide; without Redis we only lose the job hint
    if job is None or not visible(job):
        raise not_found
    status = job.get("status")
    if status != "succeeded":
        hint = ("it will have a model once it succeeds" if status in ("queued", "running")
                else "it produced no model")
        raise PredictionError(
            409, "model_not_ready", f"{job_id} is a training job that is {status}; {hint}.")
    if not job.get("model_id"):
        raise not_found
    try:
        return services().serving.cache.get(job["model_id"])
    except ModelNotFound:
        raise PredictionError(
            404, "model_not_found",
            f"Job {job_id} succeeded but its model {job['model_id']} has been deleted.") from None
    except ModelCorrupt as error:
        raise PredictionError(409, "model_corrupt", str(error)) from None


def latest_model_id(dataset: str | None = None) -> str:
    """Id of the newest ready model (of `dataset`), re-listed only when the models dir changes.

    Saving, replacing or deleting a model changes `ArtifactStore.models_version()` (for files,
    the models directory's mtime: one `stat`), which tells whether the previous answer holds.
    """
    state, artifacts = services().serving, services().artifacts
    owner = owner_filter()
    version = artifacts.models_version()
    key = (owner, dataset)
    with state.latest_lock:
        cached = state.latest.get(key)
    if cached is None or cached[0] != version:
        latest = artifacts.latest_model(owner=owner, dataset=dataset) if version is not None else None
        cached = (version, latest["id"] if latest else None)
        with state.latest_lock:
            if len(state.latest) > 256:
                state.latest.clear()
            state.latest[key] = cached
    if cached[1] is None:
        raise PredictionError(404, "model_not_found", no_latest_model(dataset))
    return cached[1]


# ---- input checks -----------------------------------------------------------------------------


def check_batch(array: np.ndarray, model: LoadedModel, field: str) -> np.ndarray:
    """A numeric (n, ...) batch -> (n, input_size) in the model's dtype, or PredictionError.

    Each sample may be flat (input_size values) or, for image models, the image's 2-D shape
    (28x28). Values must be finite, and within [0, 1] for models trained on pixels scaled so.
    """
    if array.dtype.kind not in "fiu":
        raise PredictionError(422, "invalid_input", f"{field} must hold numbers only.", field)
    sample_shape = array.shape[1:]
    if sample_shape != (model.input_size,) and sample_shape != model.image_shape:
        raise PredictionError(422, "invalid_shape", _shape_message(array.shape, model, field), field)
    batch = array.reshape(len(array), model.input_size)
    if batch.dtype.kind != "f":
        batch = batch.astype(model.dtype)
    low, high = (0.0, 1.0) if model.unit_range else _finite_range(model.dtype)
    # min/max propagate NaN, so one pass each finds NaN, infinities and out-of-range values.
    smallest, largest = batch.min(), batch.max()
    if not (low <= smallest and largest <= high and np.isfinite(smallest) and np.isfinite(largest)):
        raise _value_error(array, field, low, high)
    return batch if batch.dtype == model.dtype else batch.astype(model.dtype)


def _finite_range(dtype: np.dtype) -> tuple[float, float]:
    """Values the model's float type holds without overflowing to infinity."""
    largest = float(np.finfo(dtype).max)
    return -largest, largest


def _shape_message(shape: tuple, model: LoadedModel, field: str) -> str:
    accepted = f"{model.input_size} values"
    if model.image_shape:
        accepted += " or a {}x{} array".format(*model.image_shape)
    return (f"{field}: each sample must be {accepted} for model {model.model_id}; "
            f"got {shape[0]} sample(s) of shape {list(shape[1:])}.")


def _value_error(array: np.ndarray, field: str, low: float, high: float) -> PredictionError:
    """Name the first offending element, e.g. inputs[3][27] = NaN."""
    values = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(values)
    if not bad.any():
        bad = (values < low) | (values > high)
    index = np.unravel_index(int(np.argmax(bad)), array.shape)
    where = field + "".join(f"[{i}]" for i in index)
    value = float(values[index])
    if not np.isfinite(value):
        rule = f"{where} is {value!r}: values must be finite numbers"
    else:
        scale = " (pixels are scaled to 0..1)" if (low, high) == (0.0, 1.0) else ""
        rule = f"{where} = {value!r} is outside [{low:g}, {high:g}]{scale}"
    return PredictionError(422, "invalid_value", rule + ".", where)
