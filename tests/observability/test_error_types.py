"""docs/errors.md's error types against the types that real requests and real jobs produce."""

from __future__ import annotations

import copy
import io
import re
from dataclasses import replace

import numpy as np

from api.core.services import services
from api.models.serving import PredictionError
from mlpq.redis_server import free_port
from tests.support.api import make_app
from tests.support.bad_requests import SAMPLE, V1_CASES
from tests.support.environment import REPO_ROOT
from tests.support.images import b64, encode
from tests.support.models import corrupt_weights
from tests.support.specs import HANG_JOB_NAME, HANGING_XOR_SPEC, XOR_JOB
from tests.support.waiting import wait_for_job
from worker.runner import ERROR_TYPES, Outcome, error_type, run_training_job
from worker.store.celery_app import enqueue_training
from worker.store.config import Settings
from worker.store.ids import new_id

DOCS = REPO_ROOT / "docs" / "errors.md"
STALL_SECONDS = 2.0
XOR_TRAINING = {"model": XOR_JOB["model"], "training": {**XOR_JOB["training"], "epochs": 5}}

# The only documented types no cheap real request or job can produce. For these alone the test
# falls back to the source: the type must still be one the code can return.
NOT_PROVOKED = {
    "out_of_memory": "needs a worker to really exhaust its memory (MemoryError)",
    "internal_error": "needs a bug: every known failure has its own type",
    "model_file_error": "needs a model write or read-back that fails on a healthy disk",
}


def documented_types() -> set[str]:
    """The first column of every `| type | ...` table in docs/errors.md."""
    found, in_table = set(), False
    for line in DOCS.read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
        elif line.startswith("| type |"):
            in_table = True
        elif in_table and (match := re.match(r"\| `([a-z0-9_]+)` \|", line)):
            found.add(match[1])
    return found


def source_types() -> set[str]:
    """The types the worker's exception mapping can return (for NOT_PROVOKED only)."""
    return set(ERROR_TYPES.values()) | {error_type(RuntimeError("a bug"))}


def watch_v2_types(app) -> list[str]:
    """V2 answers in the protocol's shape, without `type`: record the type its handler sees."""
    seen = []
    handlers = app.error_handler_spec["v2"][None]
    original = handlers[PredictionError]

    def recording(error):
        seen.append(error.error_type)
        return original(error)

    handlers[PredictionError] = recording
    return seen


def prediction_types(client, idle_client, model_id, model_dir, model_copy, xor_model_id,
                     worker_settings):
    """Types from real prediction requests (the cases of tests/predict/test_errors.py and more)."""
    seen = []

    def post(url, client=client, **kwargs):
        body = client.post(url, **kwargs).get_json()
        assert 400 <= body["code"] < 500, body
        seen.append(body["type"])

    for _case, query, kwargs, *_ in V1_CASES:
        # a copy: the uploads are file objects that a request reads and closes, and
        # tests/predict sends the same cases again
        post(f"/v1/models/{model_id}/predict{query}", **copy.deepcopy(kwargs))
    post(f"/v1/models/{model_id}/predict?top_k=0", json={"inputs": [SAMPLE]})
    post(f"/v1/models/{model_id}/predict", json={"images": [""]})
    post(f"/v1/models/{new_id()}/predict", json={"inputs": [SAMPLE]})
    post(f"/v1/models/{xor_model_id}/predict", json={"images": [b64(encode(np.eye(28)))]})
    post(f"/v1/models/{xor_model_id}/predict?explain=true", json={"inputs": [[0, 1]]})
    post(f"/v1/jobs/{new_id()}/predict", json={"inputs": [SAMPLE]})
    queued = idle_client.post("/v1/jobs", json=XOR_JOB).get_json()["id"]
    post(f"/v1/models/{queued}/predict", client=idle_client, json={"inputs": [[0, 1]]})
    post(f"/v1/jobs/{queued}/predict", client=idle_client, json={"inputs": [[0, 1]]})
    broken = model_copy()
    corrupt_weights(model_dir.parent / broken)
    post(f"/v1/models/{broken}/predict", json={"inputs": [SAMPLE]})
    small = make_app(worker_settings, PREDICT_MAX_IMAGE_BYTES=500).test_client()
    image = b64(encode(np.random.default_rng(0).random((40, 40))))
    post(f"/v1/models/{model_id}/predict", client=small, json={"images": [image]})
    return seen


def table_types(client, table_model_id, xor_model_id):
    """Types from rows by column name: to a table model, and to a model of another kind."""
    seen = []
    for model, kwargs in ((table_model_id, {"json": {"rows": [{"petal colour": "blue"}]}}),
                          (table_model_id, {"content_type": "multipart/form-data",
                                            "data": {"rows": (io.BytesIO(b""), "rows.csv")}}),
                          (xor_model_id, {"json": {"rows": [{"a": 0, "b": 1}]}})):
        body = client.post(f"/v1/models/{model}/predict", **kwargs).get_json()
        assert body["code"] == 422, body
        seen.append(body["type"])
    return seen



def v2_types(app, model_id):
    """Types from real V2 inference requests (cases of tests/predict/test_errors.py's V2 table)."""
    seen = watch_v2_types(app)
    client = app.test_client()
    for body in ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 784], "data": SAMPLE}]},
                 {"inputs": [{"name": "input", "datatype": "INT32", "shape": [1, 784],
                              "data": SAMPLE}]}):
        assert client.post(f"/v2/models/{model_id}/infer", json=body).status_code == 400
    return seen


def job_types(worker_settings, celery_app, job_store, tmp_path):
    """Types of jobs that really failed: on the session's Celery worker, or in the runner."""
    client = make_app(worker_settings).test_client()
    diverges = client.post("/v1/jobs", json={  # a huge learning rate: the loss becomes NaN
        "name": "diverges", "dataset": "xor",
        "model": {"layers": [{"units": 8, "activation": "relu"},
                             {"units": 1, "activation": "sigmoid"}], "loss": "mse"},
        "training": {"epochs": 50, "batch_size": 4,
                     "optimizer": {"name": "sgd", "learning_rate": 1e30}}})
    ids = [diverges.get_json()["id"]]
    # The API refuses these specs, so they go to the store and the queue directly (as the
    # worker would see them after the API's limits changed or the data vanished).
    # new_id(): an uploaded dataset's id with no dataset behind it, as after a delete.
    for dataset, spec in (("no-such-data", XOR_TRAINING), (new_id(), XOR_TRAINING), ("xor", {
            "model": {"layers": [{"units": 3, "activation": "softmax"},
                                 {"units": 2, "activation": "softmax"}]}, "training": {}})):
        ids.append(job_store.create(name="error-type", dataset=dataset, spec=spec)["id"])
        enqueue_training(celery_app, ids[-1])
    # The queue is down but the job store is up: the API stores the job, fails it, answers 503.
    app = make_app(worker_settings)
    services(app).celery.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    services(app).celery.conf.broker_connection_max_retries = 0
    name = f"unqueued-{new_id()}"
    response = app.test_client().post("/v1/jobs", json={**XOR_JOB, "name": name})
    assert response.status_code == 503, response.get_json()
    failed, _total = job_store.list(status="failed", limit=100)  # newest first
    seen = [job["error"]["type"] for job in failed if job["name"] == name]
    assert len(seen) == 1, "the API should keep the job it could not queue, failed"
    # A bucket that does not exist on a real S3-compatible server (moto): the real runner, run
    # in this process as tests/storage/test_s3_errors.py does, fails the job.
    settings = replace(Settings.from_env({"REDIS_URL": worker_settings.redis_url,
                                          "MLPQ_ARTIFACT_DIR": str(tmp_path)}),
                       artifact_url=f"s3://no-such-bucket-{new_id()}/mlpq", checkpoint_seconds=0)
    job = job_store.create(name="no-store", dataset="xor", spec=XOR_TRAINING)
    assert run_training_job(job["id"], settings=settings, store=job_store) is Outcome.FAILED
    ids.append(job["id"])
    for job_id in ids:
        job = wait_for_job(job_store, job_id)
        assert job["status"] == "failed", job
        seen.append(job["error"]["type"])
    return seen


def stalled_type(service) -> str:
    """A job that hangs with a live heartbeat on a worker with a short stall limit (as in
    tests/faults/test_stall_and_handback.py, which checks what happens next)."""
    service.start_worker(env_overrides={"MLPQ_JOB_STALL_SECONDS": str(STALL_SECONDS)},
                         extra_args=("--include", "tests.support.hanging"))
    hung = service.submit(HANGING_XOR_SPEC, name=HANG_JOB_NAME)
    job = wait_for_job(service.jobs, hung, "failed", timeout=60 + STALL_SECONDS * 10)
    return job["error"]["type"]


def test_every_documented_type_is_produced_and_every_produced_type_documented(
        app, idle_client, trained_model, model_copy, xor_model, worker_settings, celery_worker,
        celery_app, job_store, s3_env, isolated_service, tmp_path, iris_model):
    observed = set(prediction_types(app.test_client(), idle_client, trained_model.model_id,
                                    trained_model.directory, model_copy, xor_model,
                                    worker_settings))
    observed |= set(table_types(app.test_client(), iris_model.model_id, xor_model))
    observed |= set(v2_types(app, trained_model.model_id))
    observed |= set(job_types(worker_settings, celery_app, job_store, tmp_path))
    observed.add(stalled_type(isolated_service))
    documented = documented_types()
    assert observed - documented == set(), "produced but missing from docs/errors.md"
    assert documented - NOT_PROVOKED.keys() - observed == set(), "documented but never produced"


# ---- the few types no cheap request or job can produce: checked against the source only -----

def test_types_that_are_not_provoked_are_documented_and_still_in_the_code():
    assert NOT_PROVOKED.keys() <= documented_types()
    assert NOT_PROVOKED.keys() <= source_types()
