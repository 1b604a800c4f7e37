"""/v1/datasets: the built-in datasets and the caller's uploaded tables; upload, read, delete.

An upload is streamed by Werkzeug into a temporary file, then copied, checked and parsed in
chunks (api.datasets.upload, api.datasets.ingest); the dataset is stored through the artifact
store only once everything about it is known, so a refused upload stores nothing.
"""

import hashlib
import json
import tempfile
import uuid
from pathlib import Path

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from api.core.blueprint import Blueprint
from api.core.body_parsing import StrictJSONParser
from api.core.errors import error_response, handle_http_exception, not_found_message
from api.core.ownership import current_owner, found_or_404, owner_filter, visible
from api.core.services import services
from api.datasets import builtins
from api.datasets.ingest import Options, prepare, read_table
from api.datasets.schemas import DatasetDetailSchema, DatasetSchema, DatasetUploadSchema
from api.datasets.upload import Limits, UploadError, receive
from engine.datasets import DATASETS
from worker.store.jobs import utc_now

MULTIPART = "multipart/form-data"
FORM_ALLOWANCE = 1 << 20  # the form fields and multipart framing beside the two files
ACTIVE_STATUSES = ("queued", "running")
JOB_PAGE = 500


class UploadParser(StrictJSONParser):
    """Adds the location "multipart": a multipart body's files and form fields, in one schema."""

    __location_map__ = {**StrictJSONParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema):
        if req.mimetype != MULTIPART:
            abort(415, message=f"Content-Type must be {MULTIPART} (a file upload), got "
                               f"{req.mimetype or 'none'}.")
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class DatasetBlueprint(Blueprint):
    ARGUMENTS_PARSER = UploadParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": MULTIPART}


blp = DatasetBlueprint(
    "datasets", __name__, url_prefix="/v1/datasets",
    description="Datasets: the built-ins and your uploaded tables (CSV), their columns, "
                "statistics, splits and preprocessing.",
)


def limits() -> Limits:
    return Limits.from_config(current_app.config)


@blp.before_request
def allow_dataset_bodies():
    """An upload may be a file and a test file of MLPQ_MAX_DATASET_BYTES each (413 beyond)."""
    request.max_content_length = 2 * limits().max_bytes + FORM_ALLOWANCE


@blp.errorhandler(RequestEntityTooLarge)
def body_too_large(error):
    """Werkzeug's 413 for the whole body, saying which setting sets the limit (a 413 of ours,
    about one file, already says so)."""
    if (getattr(error, "data", None) or {}).get("message"):
        return handle_http_exception(error)
    most = limits().max_bytes
    return error_response(413, f"The request body is larger than {request.max_content_length} "
                               f"bytes: a dataset file may have {most} bytes "
                               "(MLPQ_MAX_DATASET_BYTES), a test file as many.")


def find_dataset(dataset_id: str) -> dict:
    """A built-in's record, or the caller's uploaded dataset's; 404 otherwise."""
    if dataset_id in DATASETS:
        return builtins.detail(dataset_id)
    return found_or_404(services().artifacts.get_dataset(dataset_id), "dataset", dataset_id)


@blp.route("")
class Datasets(MethodView):
    @blp.response(200, DatasetSchema(many=True))
    def get(self):
        """List the datasets a job can train on: the built-ins, then your uploads, newest first.

        `id` is what a job's `dataset` names; image datasets can be drawn on and predicted.
        """
        uploaded = services().artifacts.list_datasets(owner=owner_filter())
        return [builtins.summary(info) for info in DATASETS.values()] + uploaded

    @blp.arguments(DatasetUploadSchema, location="multipart")
    @blp.response(201, DatasetDetailSchema)
    @blp.alt_response(200, description="the same file(s) with the same options were uploaded "
                                       "before: the stored dataset, in the 201 answer's shape")
    @blp.alt_response(409, response="DEFAULT_ERROR",
                      description="the key keeps MLPQ_MAX_DATASETS_PER_KEY datasets already")
    @blp.alt_response(413, response="DEFAULT_ERROR",
                      description="more bytes, rows or columns than the limits")
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    def post(self, form):
        """Upload a table: a CSV file (plain or gzip), with the target column and options.

        Numeric columns are standardised with the training split's mean and std; text columns
        become one-hot categories. The task is classification when the target is text or a few
        distinct integers, else regression (`task` overrides). Missing cells are refused,
        naming the line and column, unless `missing` says what to do. The rows are split with
        `test_fraction` and `seed` (stratified for classification), or `test_file` is the test
        split. The same file with the same options is stored once (200 the second time).
        """
        owner, store, bounds = current_owner(), services().artifacts, limits()
        with tempfile.TemporaryDirectory(prefix="mlpq-upload-") as workdir:
            try:
                main = receive(form["file"], "file", Path(workdir), bounds)
                test = (receive(form["test_file"], "test_file", Path(workdir), bounds)
                        if form.get("test_file") else None)
                options = Options(
                    name=form.get("name") or main.filename or "dataset", target=form.get("target"),
                    task=form.get("task"), test_fraction=form["test_fraction"],
                    seed=form["seed"], missing=form.get("missing"))
                dataset_id = derive_id(owner, main.sha256, test and test.sha256, options)
                existing = store.get_dataset(dataset_id)
                if existing is not None:
                    return existing, 200
                if len(store.list_datasets(owner=owner)) >= bounds.max_datasets:
                    abort(409, message=f"This API key keeps {bounds.max_datasets} datasets "
                                       "already (MLPQ_MAX_DATASETS_PER_KEY); delete one first.")
                record, arrays = prepare(read_table(main), test and read_table(test), options,
                                         bounds)
            except UploadError as error:
                abort(error.status, message=error.message, errors={error.field: [error.message]})
        record.update(owner=owner, created_at=utc_now())
        return store.save_dataset(dataset_id, record, arrays)


def derive_id(owner, file_sha256: str, test_sha256: str | None, options: Options) -> str:
    """The dataset's id: the same key, file(s) and options give the same id (stored once).
    uuid4-shaped, like every id the stores accept; the name is a label, not part of it."""
    identity = json.dumps([owner, file_sha256, test_sha256, options.target, options.task,
                           options.test_fraction, options.seed, options.missing])
    digest = hashlib.sha256(b"mlpq-dataset:" + identity.encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4).hex


@blp.route("/<dataset_id>")
class DatasetById(MethodView):
    @blp.response(200, DatasetDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, dataset_id):
        """Read one dataset: columns with their types and statistics, class balance, split sizes,
        a preview of the first rows, and the preprocessing a model trained on it will carry."""
        return find_dataset(dataset_id)

    @blp.response(204)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="DEFAULT_ERROR",
                      description="a queued or running job trains on it")
    def delete(self, dataset_id):
        """Delete an uploaded dataset (not while a queued or running job uses it; models
        trained on it stay)."""
        if dataset_id in DATASETS:
            abort(400, message=f"{dataset_id!r} is a built-in dataset; only uploaded datasets "
                               "can be deleted.")
        find_dataset(dataset_id)
        users = jobs_using(dataset_id)
        if users:
            mine = [job["id"] for job in users if visible(job)]
            named = f" ({', '.join(mine)})" if mine else ""
            abort(409, message=f"{len(users)} queued or running job(s){named} train on dataset "
                               f"{dataset_id}; cancel them or wait for them to end, then delete.")
        if not services().artifacts.delete_dataset(dataset_id):
            abort(404, message=not_found_message("dataset", dataset_id))


def jobs_using(dataset_id: str) -> list[dict]:
    """The queued and running jobs, of any owner, that name the dataset."""
    jobs, found = services().jobs, []
    for status in ACTIVE_STATUSES:
        offset = 0
        while True:
            page, total = jobs.list(status=status, limit=JOB_PAGE, offset=offset)
            found += [job for job in page if job["dataset"] == dataset_id]
            offset += JOB_PAGE
            if offset >= total:
                break
    return found
