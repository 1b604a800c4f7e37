"""`Client`: the mlpq service's /v1 API from Python (httpx), with typed errors."""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from mlpq.errors import ConnectionError, ServerError, Timeout, error_from_response
from mlpq.job import Event, Job, stream_events
from mlpq.predictions import Predictions, open_file, read_answer, request_options
from worker.store import environment
from worker.store.settings import SETTINGS

URL_VARIABLE, KEY_VARIABLE = "MLPQ_URL", "MLPQ_API_KEY"
DEFAULT_URL = SETTINGS[URL_VARIABLE].default


class Client:
    """A connection to one mlpq server.

    `url` defaults to $MLPQ_URL, else http://127.0.0.1:8000; `api_key` to $MLPQ_API_KEY (sent
    as `Authorization: Bearer`). Every method raises a subclass of `mlpq.MlpqError`.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *,
                 timeout: float = 30.0):
        self.url = (url or environment.value(URL_VARIABLE)).rstrip("/")
        self.api_key = api_key if api_key is not None else environment.value(KEY_VARIABLE) or None
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **options) -> httpx.Response:
        """Send one request; a non-2xx answer raises its typed error, a dead server ConnectionError."""
        try:
            response = self.http.request(method, path, **options)
        except httpx.TimeoutException as error:
            raise Timeout(f"{method} {self.url}{path} took longer than allowed: {error}") from error
        except httpx.TransportError as error:
            raise ConnectionError(self.url, str(error) or type(error).__name__) from error
        if response.is_error:
            raise error_from_response(response)
        return response

    def get(self, path: str, **params) -> Any:
        params = {name: value for name, value in params.items() if value is not None}
        return _json(self.request("GET", path, params=params))

    def post(self, path: str, body: Any = None) -> Any:
        response = self.request("POST", path, json=body)
        return _json(response) if response.content else None

    # --- service ------------------------------------------------------------------------------

    def health(self) -> dict:
        """GET /healthz: the API process answers."""
        return self.get("/healthz")

    def ready(self) -> dict:
        """GET /readyz: Redis and a worker answer; `auth` says whether keys are required.

        Raises ServerError (503, `errors` naming what is missing) when not ready."""
        return self.get("/readyz")

    # --- jobs -------------------------------------------------------------------------------

    def train(self, spec: dict, *, wait: bool = False, timeout: float | None = None) -> Job:
        """POST /v1/jobs with `spec` ({name?, dataset, model, training?}); the Job, maybe finished."""
        job = Job(self, self.post("/v1/jobs", spec))
        return job.wait(timeout=timeout) if wait else job

    def job(self, job_id: str) -> Job:
        return Job(self, self.get(f"/v1/jobs/{job_id}"))

    def jobs(self, status: str | None = None, *, page: int | None = None,
             page_size: int | None = None) -> list[Job]:
        """Newest first; `status` filters (queued, running, succeeded, failed, cancelled)."""
        records = self.get("/v1/jobs", status=status, page=page, page_size=page_size)
        return [Job(self, record) for record in records]

    def cancel(self, job_id: str) -> dict:
        """A queued job ends now; a running one within a batch. Conflict if already finished."""
        return self.post(f"/v1/jobs/{job_id}/cancel")

    def stop(self, job_id: str) -> dict:
        """Stop a running job and keep what it has learned: it ends `succeeded` with
        `stop_reason: "stopped"` and a model. Conflict if queued or already finished."""
        return self.post(f"/v1/jobs/{job_id}/stop")

    def plan(self, spec: dict) -> dict:
        """POST /v1/plans: parameters, memory, FLOPs, time and teaching warnings of `spec`
        (the body `train` takes), with nothing queued."""
        return self.post("/v1/plans", spec)

    def examples(self) -> list[dict]:
        """The built-in examples: name, title, description, idea, expect and a ready `spec`."""
        return self.get("/v1/examples")

    def example(self, name: str) -> dict:
        return self.get(f"/v1/examples/{name}")

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[Event]:
        """The job's Server-Sent Events from the start (or after `last_event_id`) until it ends,
        reconnecting with Last-Event-ID whenever the stream is cut."""
        return stream_events(self, job_id, last_event_id)

    # --- models -------------------------------------------------------------------------------

    def models(self, dataset: str | None = None, *, page: int | None = None,
               page_size: int | None = None) -> list[dict]:
        return self.get("/v1/models", dataset=dataset, page=page, page_size=page_size)

    def model(self, model_ref: str, dataset: str | None = None) -> dict:
        """A model by id, by the id of its job, or `latest` (newest, optionally of `dataset`)."""
        return self.get(f"/v1/models/{model_ref}", dataset=dataset)

    def delete_model(self, model_id: str) -> None:
        self.request("DELETE", f"/v1/models/{model_id}")

    def download(self, model_ref: str, directory: str | os.PathLike) -> Path:
        """Save the model's manifest.json and weights.npz into `directory` (created); its path.

        `engine.load(directory)` loads it; `mlpq predict --local DIR` predicts with it."""
        archive = zipfile.ZipFile(io.BytesIO(self.request("GET", f"/v1/models/{model_ref}/download").content))
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for member in archive.infolist():
            name = Path(member.filename).name  # never a path outside `directory`
            if name and not member.is_dir():
                (target / name).write_bytes(archive.read(member))
        return target

    def predict(self, model_ref: str, images: Iterable | None = None, *,
                inputs: Iterable | None = None, rows: Iterable[dict] | None = None,
                csv: str | os.PathLike | IO[bytes] | None = None, top_k: int | None = None,
                dataset: str | None = None, explain: bool = False) -> Predictions:
        """Predict with a model, given exactly one of:

        - `images`: file paths, PIL images or uint8 arrays (preprocessed like MNIST);
        - `inputs`: rows of numbers the model takes as they are (e.g. 784 floats in 0..1);
        - `rows`: a table model's rows by column name, raw values as in its CSV
          (`[{"age": 22, "sex": "male"}]`, or a pandas DataFrame);
        - `csv`: a CSV file of such rows (a path or a binary file), streamed to the server.

        One dict per sample, in order. Classification: `label`, `class` (its name),
        `probabilities` (one per class), `top_k` ([{label, probability}]), and with
        `explain=True` a saliency map; the list's `.classes` names every class. Regression:
        `value`, in the target's units."""
        return self._predict(f"/v1/models/{model_ref}/predict",
                             {"images": images, "inputs": inputs, "rows": rows, "csv": csv},
                             {"top_k": top_k, "dataset": dataset, "explain": explain or None})

    def predict_job(self, job_id: str, images: Iterable | None = None, *,
                    inputs: Iterable | None = None, top_k: int | None = None) -> Predictions:
        """Like `predict`, with a job's latest weights: its last checkpoint while it trains.
        `.header` holds the answer's `epoch`, `status` and `weights` (checkpoint or model)."""
        return self._predict(f"/v1/jobs/{job_id}/predict", {"images": images, "inputs": inputs},
                             {"top_k": top_k})

    def _predict(self, path: str, sources: dict, params: dict) -> Predictions:
        params = {name: str(value).lower() if isinstance(value, bool) else value
                  for name, value in params.items() if value is not None}
        with contextlib.ExitStack() as stack:
            body = request_options(stack, **sources)
            return read_answer(_json(self.request("POST", path, params=params, **body)))

    # --- looking inside models ------------------------------------------------------------------

    def card(self, model_ref: str) -> str:
        """The model card in Markdown: what it is, how it was trained, how well it does."""
        return self.request("GET", f"/v1/models/{model_ref}/card").text

    def mistakes(self, model_ref: str, *, true: int | None = None, predicted: int | None = None,
                 limit: int | None = None, offset: int | None = None, order: str | None = None) -> dict:
        """Misclassified test examples, most confidently wrong first (`true`/`predicted` pick a
        confusion-matrix cell); each with its probabilities and, for images, a PNG data URL."""
        return self.get(f"/v1/models/{model_ref}/mistakes", true=true, predicted=predicted,
                        limit=limit, offset=offset, order=order)

    def weights_png(self, model_ref: str, layer: int) -> bytes:
        """A PNG picture of one layer's weights (first layer of an image model: 28x28 tiles)."""
        return self.request("GET", f"/v1/models/{model_ref}/weights/{layer}.png").content

    def trace(self, model: dict, inputs: list, labels: list, *, optimizer: dict | None = None,
              weights: list | None = None) -> dict:
        """POST /v1/trace: one training step of a small network, every z, a, δ and gradient."""
        body = {"model": model, "inputs": inputs, "labels": labels}
        body.update({key: value for key, value in {"optimizer": optimizer, "weights": weights}.items()
                     if value is not None})
        return self.post("/v1/trace", body)

    # --- datasets -----------------------------------------------------------------------------

    def datasets(self) -> list[dict]:
        """The built-in datasets, then your uploaded tables (newest first): id, kind, task,
        input size, classes, split sizes."""
        return self.get("/v1/datasets")

    def dataset(self, dataset_id: str) -> dict:
        """One dataset: its columns with types and statistics, class balance, split sizes, a
        preview of the first rows and the preprocessing a model trained on it carries."""
        return self.get(f"/v1/datasets/{dataset_id}")

    def upload_dataset(self, path: str | os.PathLike, *, target: str | None = None,
                       task: str | None = None, name: str | None = None,
                       test_fraction: float | None = None, seed: int | None = None,
                       missing: str | None = None,
                       test_file: str | os.PathLike | None = None) -> dict:
        """POST /v1/datasets: upload a CSV table (plain or gzip), streamed from disk; its record.

        `target` is the label column (default: the last), `task` classification or regression
        (default: inferred), `missing` mean, most_frequent or drop (default: refused), and
        `test_file` a test split of its own instead of `test_fraction`. The same file with the
        same options is stored once: uploading it again gives the stored record."""
        fields = {"target": target, "task": task, "name": name, "test_fraction": test_fraction,
                  "seed": seed, "missing": missing}
        with contextlib.ExitStack() as stack:
            files = [("file", open_file(stack, path))]
            if test_file is not None:
                files.append(("test_file", open_file(stack, test_file)))
            return _json(self.request(
                "POST", "/v1/datasets", files=files,
                data={key: str(value) for key, value in fields.items() if value is not None}))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete an uploaded dataset (Conflict while a queued or running job trains on it)."""
        self.request("DELETE", f"/v1/datasets/{dataset_id}")

    # --- sweeps -------------------------------------------------------------------------------

    def create_sweep(self, body: dict) -> dict:
        """POST /v1/sweeps: a grid or random sample of job specs, run as ordinary jobs."""
        return self.post("/v1/sweeps", body)

    def sweeps(self) -> list[dict]:
        return self.get("/v1/sweeps")

    def sweep(self, sweep_id: str) -> dict:
        """Status, progress and the results table of a sweep."""
        return self.get(f"/v1/sweeps/{sweep_id}")

    def sweep_csv(self, sweep_id: str) -> str:
        """The results table as CSV text (`?format=csv`)."""
        return self.request("GET", f"/v1/sweeps/{sweep_id}", params={"format": "csv"}).text

    def cancel_sweep(self, sweep_id: str) -> dict:
        return self.post(f"/v1/sweeps/{sweep_id}/cancel")


def _json(response: httpx.Response) -> Any:
    """The answer's JSON; anything else means the URL is not an mlpq server."""
    try:
        return response.json()
    except ValueError:
        raise ServerError(response.status_code, f"{response.request.url} answered "
                          f"{response.headers.get('content-type', 'something')} instead of JSON: "
                          "is this an mlpq server?", response=response) from None
