"""POST /v1/jobs/{id}/predict: predict with a job's latest weights, while it is still training.

Same bodies and answers as model prediction (`api.models.predict.respond`), plus which weights were
used: `epoch` (complete epochs behind them) and `weights` (`checkpoint` while the job runs,
`model` once it has succeeded). A learner can draw a digit, or send a row of a table, and watch
the answer improve epoch by epoch: a checkpoint of a table job predicts with its dataset's
preprocessing, as the model will.
"""

import threading
import time
from collections import OrderedDict

from flask.views import MethodView

from api.core.blueprint import Blueprint
from api.core.errors import not_found_message
from api.core.ownership import visible
from api.core.services import services
from api.jobs.schemas import JobPredictResponseSchema
from api.models.cache import prepare
from api.models.predict import (
    ERROR_RESPONSES,
    REQUEST_BODY,
    allow_large_bodies,
    prediction_error,
    query_arguments,
    respond,
)
from api.models.schemas import PredictArgsSchema
from api.models.serving import PredictionError, resolve_model
from engine.datasets import DATASETS, preprocessing_for
from engine.tables import TablePreprocessing

blp = Blueprint(
    "job_predict", __name__, url_prefix="/v1/jobs",
    description="Predict with a job's latest weights while it trains.",
)
blp.register_error_handler(PredictionError, prediction_error)
blp.before_request(allow_large_bodies)
blp.record_once(lambda state: init_checkpoint_models(state.app))

NO_CHECKPOINT = {  # job status -> why it has no weights to predict with
    "queued": "it is queued; its first checkpoint is written after its first epoch",
    "running": "it is running; its first checkpoint is written after its first complete epoch",
    "cancelled": "it was cancelled, which keeps nothing",
    "failed": "it failed before saving a checkpoint",
}


class CheckpointModels:
    """Per API process: job id -> (epoch, LoadedModel) of its latest checkpoint, a few jobs."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job: dict):
        """The job's latest checkpoint as a LoadedModel and its epoch, or None if it has none.

        The job record's metrics say how many epochs are done: a cached checkpoint of that
        many epochs is the latest, anything else is read again from the artifact store.
        """
        done = len(job.get("metrics") or [])
        with self._lock:
            cached = self._entries.get(job["id"])
            if cached is not None and cached[0] == done:
                self._entries.move_to_end(job["id"])
                return cached
        loaded = services().artifacts.load_checkpoint_network(job["id"])
        if loaded is None:
            return None
        network, epoch = loaded
        model = prepare(job["id"], network, ("checkpoint", epoch),
                        checkpoint_manifest(job["dataset"]),
                        {"dataset": job["dataset"], "owner": job.get("owner")})
        if model.table is not None and model.regression:
            # A saved model's target scale is its table's target mean and std (engine.serialization).
            network.target_scale = (model.table.target.mean, model.table.target.std)
        with self._lock:
            self._entries[job["id"]] = (epoch, model)
            self._entries.move_to_end(job["id"])
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return epoch, model


def checkpoint_manifest(dataset: str) -> dict:
    """What the job's model manifest will say of its classes and preprocessing: a built-in
    table's, or the uploaded dataset's."""
    info = DATASETS.get(dataset)
    if info is not None and info.kind != "table":
        return {"classes": list(info.classes)}  # prepare() reads the rest from the dataset name
    if info is not None:
        table = preprocessing_for(dataset)
    else:
        record = services().artifacts.get_dataset(dataset)
        if record is None:
            raise PredictionError(409, "no_checkpoint", f"The job's dataset {dataset} has been "
                                  "deleted: its rows cannot be encoded.", "job_id")
        table = TablePreprocessing.from_dict(record["preprocessing"])
    return {"dataset": dataset, "classes": table.classes or [], "preprocessing": table.to_dict()}


def init_checkpoint_models(app) -> None:
    state = services(app)
    if state.checkpoint_models is None:
        state.checkpoint_models = CheckpointModels(app.config["MODEL_CACHE_SIZE"])


def job_weights(job_id: str):
    """(LoadedModel, answer header) for the job's latest weights, or PredictionError."""
    job = services().jobs.get(job_id)
    if job is None or not visible(job):
        raise PredictionError(404, "job_not_found", not_found_message("job", job_id), "job_id")
    header = {"model_id": None, "job_id": job_id, "status": job["status"],
              "epochs": (job.get("spec") or {}).get("training", {}).get("epochs")}
    if job["status"] == "succeeded" and job.get("model_id"):
        model = resolve_model(job["model_id"])
        epoch = len(model.record.get("metrics") or [])
        return model, {**header, "model_id": model.model_id, "epoch": epoch, "weights": "model"}
    # Cancelling keeps nothing: its checkpoint is deleted, whatever this process has cached.
    found = services().checkpoint_models.get(job) if job["status"] != "cancelled" else None
    if found is None:
        reason = NO_CHECKPOINT.get(job["status"], f"it is {job['status']}")
        raise PredictionError(409, "no_checkpoint",
                              f"Job {job_id} has no weights to predict with yet: {reason}.",
                              "job_id")
    epoch, model = found
    return model, {**header, "epoch": epoch, "weights": "checkpoint"}


@blp.route("/<id:job_id>/predict")
class JobPredict(MethodView):
    @blp.doc(parameters=[{"in": "query", "schema": PredictArgsSchema}], requestBody=REQUEST_BODY,
             responses=ERROR_RESPONSES)
    @blp.response(200, JobPredictResponseSchema)
    def post(self, job_id):
        """Predict with a job's latest weights: same bodies and answers as model predict
        (`inputs`, `images`, and for a table job `rows` or a CSV, encoded with its dataset's
        preprocessing).

        While the job trains, its latest end-of-epoch checkpoint answers; once it has
        succeeded, its model does. The answer adds `job_id`, `status`, `epoch` (complete
        epochs behind the weights), `epochs` (planned) and `weights` (`checkpoint` or
        `model`). A job with no checkpoint yet (queued, in its first epoch, cancelled) is a
        409 of type `no_checkpoint`.
        """
        started = time.perf_counter()
        args = query_arguments()
        model, header = job_weights(job_id)
        return respond(model, args, started, header)
