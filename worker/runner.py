"""run_training_job: lease the job, load data, build the net, fit with callbacks, checkpoint, save, finish.

Celery delivers messages at least once, so this is written to be run again for the same job at
any moment: a finished job is skipped, a job leased by a live worker is left alone (Outcome.BUSY,
the task checks back later), a job whose worker died resumes from its last end-of-epoch
checkpoint, and the model id is derived from the job id, so there is never a second model.
"""

from __future__ import annotations

import contextvars
import enum
import functools
import logging
import os
import threading
import time

import redis

from engine.datasets import DatasetUnavailable
from engine.network import Network
from engine.serialization import ModelFileError
from engine.spec import SpecError, validate_job_work, validate_model_spec, validate_training_config
from engine.stopping import STOPPED
from engine.training import TrainingError
from worker.progress import JobCallback, retry_redis
from worker.store import training_data
from worker.store.artifacts import ArtifactStore
from worker.store.config import Settings
from worker.store.datasets import DatasetFileError
from worker.store.ids import model_id_for_job, new_id
from worker.store.job_scripts import TERMINAL_STATUSES
from worker.store.jobs import JobStateError, JobStore, utc_now
from worker.store.s3_artifacts import STORAGE_ERRORS
from worker.store.stores import open_artifact_store
from worker.store.training_data import DatasetDeleted

logger = logging.getLogger(__name__)
EXIT_STALLED = 70  # EX_SOFTWARE: what a pool process whose job stalled exits with


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # finished already (a duplicate delivery) or unknown
    BUSY = "busy"  # another live worker holds the lease
    LOST = "lost"  # our lease was taken over mid-training; the new holder finishes the job
    REQUEUED = "requeued"  # handed back on warm shutdown; another worker resumes it


# Stable `error.type` values users can act on, by exception class (most specific first wins).
ERROR_TYPES: dict[type[BaseException], str] = {
    SpecError: "invalid_spec",
    DatasetUnavailable: "dataset_unavailable",
    DatasetFileError: "dataset_unavailable",
    DatasetDeleted: "dataset_deleted",
    TrainingError: "training_diverged",
    ModelFileError: "model_file_error",
    MemoryError: "out_of_memory",
    **{error: "storage_unavailable" for error in STORAGE_ERRORS},
}


def error_type(error: BaseException) -> str:
    for cls in type(error).__mro__:
        if cls in ERROR_TYPES:
            return ERROR_TYPES[cls]
    return "internal_error"


@functools.cache
def job_store(redis_url: str) -> JobStore:
    """The process's JobStore on `redis_url` (one connection pool per process)."""
    return JobStore.from_url(redis_url)


@functools.cache
def artifact_store(settings: Settings) -> ArtifactStore:
    """The process's artifact store, as MLPQ_ARTIFACT_URL names it (one client per process)."""
    return open_artifact_store(settings)


def run_training_job(job_id: str, *, settings: Settings, store: JobStore | None = None,
                     artifacts: ArtifactStore | None = None, worker_name: str = "") -> Outcome:
    """Train job `job_id` unless it is finished or another worker holds it."""
    store = store or job_store(settings.redis_url)
    artifacts = artifacts or artifact_store(settings)
    job = store.get(job_id)
    if job is None or job["status"] in TERMINAL_STATUSES:
        return Outcome.SKIPPED
    token = new_id()
    if not store.acquire_lease(job_id, token, settings.lease_seconds):
        return Outcome.BUSY
    keeper = LeaseKeeper(store, job_id, token, settings.lease_seconds,
                         renew_seconds=settings.lease_renewal_seconds,
                         stall_seconds=settings.job_stall_seconds).start()
    try:
        return _run_leased(job_id, token, keeper, settings, store, artifacts, worker_name)
    finally:
        keeper.stop()
        try:
            store.release_lease(job_id, token)
        except redis.RedisError:
            logger.warning("job %s: could not release lease; it expires by itself", job_id)


def _run_leased(job_id, token, keeper, settings, store, artifacts, worker_name) -> Outcome:
    try:
        job = store.mark_running(job_id, lease_token=token, worker=worker_name)
    except JobStateError:
        return Outcome.SKIPPED  # cancelled or finished between our look and the lease
    if job["cancel_requested"]:
        return _finish(store, job_id, token, Outcome.CANCELLED)
    model_id = model_id_for_job(job_id)
    try:
        saved = artifacts.get_model(model_id)
    except Exception as error:  # noqa: BLE001 - e.g. the object store is unreachable
        return _failed(store, job_id, token, error)
    if saved is not None:
        # A previous attempt saved the model and died before recording it.
        artifacts.delete_checkpoint(job_id)
        return _finish(store, job_id, token, Outcome.SUCCEEDED, model_id=model_id,
                       stop_reason=saved.get("stop_reason"))
    try:
        return _train(job, model_id, token, keeper, settings, store, artifacts)
    except Exception as error:  # noqa: BLE001 - every failure must end the job, never leave it running
        return _failed(store, job_id, token, error)


def _failed(store, job_id, token, error) -> Outcome:
    """End the job `failed` with the stable type of `error` (its traceback logged if a bug)."""
    kind = error_type(error)
    if kind == "internal_error":
        logger.exception("job %s failed unexpectedly", job_id)
    message = str(error) if kind != "internal_error" else f"{type(error).__name__}: {error}"
    return _finish(store, job_id, token, Outcome.FAILED, error={"type": kind, "message": message})


def _train(job, model_id, token, keeper, settings, store, artifacts) -> Outcome:
    job_id, spec = job["id"], job["spec"]
    data = training_data.require(job["dataset"], artifacts)
    model_spec = validate_model_spec(spec["model"], limits=settings.limits, **data.spec_context())
    training = validate_training_config(spec["training"], limits=settings.limits,
                                        task=model_spec["task"])
    validate_job_work(model_spec, training, dataset_size=data.train_size, limits=settings.limits)
    (X_train, y_train), (X_test, y_test) = training_data.load(data, artifacts, settings.data_dir)
    net = Network.from_spec(model_spec, input_size=data.input_size, seed=training["seed"])
    # Regression trains on the standardised target; the scale brings predictions and metrics
    # back to its units. The checkpoint does not keep it: every attempt, resumed or not, sets it.
    net.target_scale = data.target_scale(net.task)
    checkpoint = artifacts.load_checkpoint(job_id)
    if checkpoint is not None:
        logger.info("job %s: resuming after epoch %s", job_id, checkpoint["epoch"])
    # The record's metrics become exactly the epochs this attempt starts from: an attempt that
    # died before its first checkpoint leaves entries for epochs that are about to be redone.
    history = checkpoint["history"] if checkpoint is not None else []
    if not retry_redis(lambda: store.replace_metrics(job_id, history, lease_token=token)):
        return Outcome.LOST
    callback = JobCallback(store, artifacts, job_id, token, keeper,
                           progress_interval=settings.progress_interval,
                           checkpoint_seconds=settings.checkpoint_seconds)
    history = net.fit(X_train, y_train, callbacks=[callback], resume_from=checkpoint, **training)
    # The lease may have lapsed and the job been requeued since the keeper's last renewal:
    # the refused sync says so before we save, checkpoint or finish anything of another attempt.
    if keeper.lost.is_set() or not callback.sync_metrics(net.history):
        return Outcome.LOST
    if callback.handed_back and not callback.cancelled:
        return _hand_back(store, job_id, token, callback)
    if callback.cancelled:
        artifacts.delete_checkpoint(job_id)
        return _finish(store, job_id, token, Outcome.CANCELLED)
    # whatever the fit's stop reason: a stop request keeps the model as it is after the
    # current batch, evaluated and saved like any other
    stop_reason = history.stop_reason
    evaluation = net.evaluate(X_test, y_test)
    artifacts.save_model(model_id, net, metadata={
        "job_id": job_id, "name": job["name"], **data.job_fields(), "task": net.task,
        "owner": job["owner"], "spec": {"model": net.spec, "training": training},
        "metrics": list(net.history), "evaluation": evaluation, "stop_reason": stop_reason,
        "created_at": utc_now()}, **data.model_manifest(net.task))
    callback.write_final_progress(complete=stop_reason != STOPPED)
    outcome = _finish(store, job_id, token, Outcome.SUCCEEDED, model_id=model_id,
                      stop_reason=stop_reason)
    artifacts.delete_checkpoint(job_id)
    return outcome


def _hand_back(store, job_id, token, callback) -> Outcome:
    """Warm shutdown: latest checkpoint written, job `queued` again (the task re-sends it)."""
    callback.save_latest_checkpoint()
    try:
        retry_redis(lambda: store.hand_back(job_id, lease_token=token))
    except JobStateError as error:
        logger.warning("job %s: not handed back: %s", job_id, error)
        return Outcome.LOST
    # Free the job before the task announces it, or the next worker would find it leased and wait.
    callback.keeper.stop()
    store.release_lease(job_id, token)
    logger.info("job %s: handed back to the queue (worker shutting down)", job_id)
    return Outcome.REQUEUED


def _finish(store, job_id, token, outcome: Outcome, **fields) -> Outcome:
    """Record the terminal status, riding out a Redis restart; LOST if the job moved on."""
    try:
        retry_redis(lambda: store.finish(job_id, outcome.value, lease_token=token, **fields))
    except JobStateError as error:
        logger.warning("job %s: not recorded as %s: %s", job_id, outcome.value, error)
        return Outcome.LOST
    return outcome


class LeaseKeeper:
    """Renews the job's lease every `renew_seconds` (Settings.lease_renewal_seconds) from a
    background thread, and watches that training makes progress.

    `lost` is set when another worker owns the job now; the training callback then stops.
    The heartbeat thread lives on even when training hangs (a stuck read, a deadlock), so it
    also checks the time since the last finished batch: after `stall_seconds` (0: never) the
    job fails with error type `stalled` and `on_stall` runs, by default ending this process:
    a hung thread cannot be stopped from outside, and Celery's pool replaces the process.
    """

    def __init__(self, store: JobStore, job_id: str, token: str, lease_seconds: float, *,
                 renew_seconds: float, stall_seconds: float = 0.0, on_stall=None):
        self.store, self.job_id, self.token = store, job_id, token
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.stall_seconds = stall_seconds
        self.on_stall = on_stall or _exit_stalled
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._last_progress: float | None = None  # None: not training batches (watchdog idle)
        # Run in a copy of the caller's context, so its log lines carry the job id too.
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                        name=f"lease-{job_id[:8]}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def progressed(self) -> None:
        """A batch (or the start of training) just finished: the job is alive."""
        self._last_progress = time.monotonic()

    def training_ended(self) -> None:
        self._last_progress = None

    def _interval(self) -> float:
        interval = self.renew_seconds
        return min(interval, self.stall_seconds / 4) if self.stall_seconds else interval

    def _run(self) -> None:
        while not self._stop.wait(self._interval()):
            if self._stalled():
                return
            try:
                if not self.store.renew_lease(self.job_id, self.token, self.lease_seconds):
                    logger.warning("job %s: lease taken over by another worker", self.job_id)
                    self.lost.set()
                    return
            except redis.RedisError:
                logger.warning("job %s: lease renewal failed; retrying", self.job_id)


    def _stalled(self) -> bool:
        since = self._last_progress
        if not self.stall_seconds or since is None:
            return False
        idle = time.monotonic() - since
        if idle < self.stall_seconds:
            return False
        logger.error("job %s: no batch finished for %.0f s (MLPQ_JOB_STALL_SECONDS=%g); failing "
                     "it as stalled", self.job_id, idle, self.stall_seconds)
        error = {"type": "stalled", "message": (
            f"no training batch finished for {idle:.0f} s (MLPQ_JOB_STALL_SECONDS="
            f"{self.stall_seconds:g}) while the worker was alive; its training process was "
            "stopped")}
        self.lost.set()  # should the hang end after all, the callback stops and writes nothing
        try:
            retry_redis(lambda: self.store.finish(self.job_id, "failed", error=error,
                                                  lease_token=self.token))
            self.store.release_lease(self.job_id, self.token)
        except (JobStateError, redis.RedisError) as failure:
            logger.warning("job %s: stall not recorded: %s", self.job_id, failure)
        self.on_stall(self.job_id)
        return True


def _exit_stalled(job_id: str) -> None:
    """End the training process: its main thread is stuck and holds the pool slot. Celery's
    pool starts a fresh process; the task's message, requeued, finds the job finished."""
    os._exit(EXIT_STALLED)

