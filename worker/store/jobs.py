"""JobStore: training jobs in Redis — records, status changes, progress, metrics, leases, events.

This module knows every Redis key name of jobs (the Celery queue's name included); sweeps keep
theirs in api/sweeps/store.py.
Layout, all under the `mlpq:` prefix:
  job:<id>           hash   the record (JSON-encoded `spec`, `progress`, `error`)
  job:<id>:metrics   list   per-epoch history entries (JSON)
  job:<id>:events    stream "status" / "progress" / "epoch" events for SSE, replayable by id
  job:<id>:lease     string token of the worker training it, with a TTL renewed by heartbeats
  jobs               zset   every job id in creation order; jobs:status:<s>, jobs:owner:<o> likewise
  jobs:counter       string the creation order counter (the zsets' scores)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain

import redis

from engine.stopping import STOP_REASONS as FIT_STOP_REASONS
from engine.tasks import DEFAULT_TASK
from worker.store import job_scripts
from worker.store.ids import is_valid_id, new_id, validate_id
from worker.store.job_scripts import STATUSES, TERMINAL_STATUSES

TRAINING_QUEUE = "mlpq.training"  # the Celery queue: a Redis list with this name
TRAIN_TASK = "mlpq.train"  # the Celery task that trains one job; its only argument is the job id
PREFIX = "mlpq:"  # every key of the job and sweep stores starts with it
_ALL_JOBS = PREFIX + "jobs"
_JOB_COUNTER = PREFIX + "jobs:counter"
EVENTS_MAXLEN = 10_000  # per job; progress events are throttled, so this is hours of history
_JSON_FIELDS = ("spec", "progress", "error", "plan")
_WORKER_SPEEDS = PREFIX + "workers:speed"  # hash: worker name -> its measured speed (JSON)
# What a user asked of a running job, as the worker learns it from its progress writes.
CANCEL, STOP = "cancel", "stop"
_REQUESTS = {1: CANCEL, 2: STOP}
# A job that did not succeed ended for the reason its status names; a succeeded one for the
# reason its fit gave (engine.stopping). Each with the sentence a reader of its record is shown.
_UNSUCCESSFUL = {
    "failed": "failed before it finished: nothing was kept",
    "cancelled": "cancelled by a user: nothing was kept",
}
STOP_REASONS = {**FIT_STOP_REASONS, **_UNSUCCESSFUL}
_STREAM_ID = re.compile(r"\d+(-\d+)?")


class JobNotFound(LookupError):
    """No job has this id."""


class ActiveJobLimit(RuntimeError):
    """The owner already has its allowed number of queued + running jobs; nothing was created."""

    def __init__(self, owner: str, active: int, limit: int):
        super().__init__(f"{owner} already has {active} queued or running job(s) (limit {limit})")
        self.owner, self.active, self.limit = owner, active, limit


class JobStateError(RuntimeError):
    """The job's status does not allow the requested change (e.g. cancelling a finished job)."""

    def __init__(self, job_id: str, status: str, message: str):
        super().__init__(message)
        self.job_id, self.status = job_id, status


def _dumps(value) -> str:
    """JSON text; NumPy scalars and arrays (anything with .tolist()) become plain numbers/lists."""
    return json.dumps(value, default=_plain)


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2024-05-01T12:00:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def _status_key(status: str) -> str:
    return f"{PREFIX}jobs:status:{status}"


def _owner_key(owner: str) -> str:
    return f"{PREFIX}jobs:owner:{owner}"


def _status_keys(job_id: str) -> list[str]:
    """KEYS of the status scripts: the status indexes start at job_scripts.FIRST_STATUS_KEY."""
    keys = [_job_key(job_id), _job_key(job_id) + ":events", _job_key(job_id) + ":lease"]
    assert len(keys) + 1 == job_scripts.FIRST_STATUS_KEY
    return [*keys, *(_status_key(status) for status in STATUSES)]


class JobStore:
    """Everything the API and the workers record about training jobs."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._create = client.register_script(job_scripts.CREATE)
        self._transition = client.register_script(job_scripts.TRANSITION)
        self._cancel = client.register_script(job_scripts.CANCEL)
        self._stop = client.register_script(job_scripts.STOP)
        self._requeue = client.register_script(job_scripts.REQUEUE_ORPHAN)
        self._record = client.register_script(job_scripts.RECORD_PROGRESS)
        self._replace_metrics = client.register_script(job_scripts.REPLACE_METRICS)
        self._renew = client.register_script(job_scripts.RENEW_LEASE)
        self._release = client.register_script(job_scripts.RELEASE_LEASE)

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5,
                                      health_check_interval=30)
        return cls(client)

    def close(self) -> None:
        self.redis.close()

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    def queue_depth(self) -> int:
        """Messages waiting in the Celery training queue (not counting ones a worker holds)."""
        return int(self.redis.llen(TRAINING_QUEUE))

    # --- records -------------------------------------------------------------------------

    def create(self, *, name: str, dataset: str, spec: dict, owner: str | None = None,
               max_active: int = 0, sweep_id: str | None = None, plan: dict | None = None,
               dataset_name: str | None = None, dataset_sha256: str | None = None) -> dict:
        """Store a new `queued` job; `spec` is {"model": ..., "training": ...}, already validated.
        `dataset` is a built-in's name or an uploaded dataset's id (worker.store.training_data),
        `dataset_name` and `dataset_sha256` what a person reads of it (default: `dataset`).

        With an `owner` and `max_active` > 0, raises ActiveJobLimit instead when that owner
        already has `max_active` queued or running jobs; counting and creating are one atomic
        step, so simultaneous submissions never get past the limit together. A run of a sweep
        names its sweep.
        """
        job_id, now = new_id(), utc_now()
        progress = {"epoch": 0, "epochs": spec.get("training", {}).get("epochs"), "batch": 0,
                    "batches": None, "fraction": 0.0, "eta_seconds": None}
        fields = {"id": job_id, "name": name, "owner": owner or "", "dataset": dataset,
                  "status": "queued", "spec": _dumps(spec), "progress": _dumps(progress),
                  "created_at": now, "cancel_requested": "0", "attempts": 0,
                  "sweep_id": sweep_id or "", "plan": _dumps(plan) if plan else "",
                  "dataset_name": dataset_name or "", "dataset_sha256": dataset_sha256 or ""}
        keys = [_job_key(job_id), _job_key(job_id) + ":events", _ALL_JOBS, _status_key("queued"),
                _status_key("running"), _owner_key(owner or ""), _JOB_COUNTER]
        args = [max(int(max_active), 0), EVENTS_MAXLEN, _dumps({"status": "queued"}), job_id,
                owner or "", *chain.from_iterable(fields.items())]
        outcome, count = self._create(keys=keys, args=args)
        if outcome == "limited":
            raise ActiveJobLimit(owner, int(count), max_active)
        return self.get(job_id)

    def get(self, job_id: str) -> dict | None:
        if not is_valid_id(job_id):
            return None
        return self._get_many([job_id])[0]

    def list(self, *, status: str | None = None, owner: str | None = None,
             limit: int = 20, offset: int = 0) -> tuple[list[dict], int]:
        """Jobs newest first, optionally of one status and/or owner, and the total matching."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        keys = [_status_key(status)] if status else []
        keys += [_owner_key(owner)] if owner else []
        if len(keys) == 2:
            ids = [job_id for job_id, _ in self.redis.zinter(keys, aggregate="MAX", withscores=True)]
            ids.reverse()
            total, page = len(ids), ids[offset:offset + limit]
        else:
            key = keys[0] if keys else _ALL_JOBS
            total = int(self.redis.zcard(key))
            page = self.redis.zrevrange(key, offset, offset + limit - 1) if limit > 0 else []
        return [job for job in self._get_many(page) if job is not None], total

    def get_many(self, job_ids: list[str]) -> list[dict | None]:
        """Job records in the order asked for (None where a job does not exist), in one round trip."""
        return self._get_many([job_id if is_valid_id(job_id) else "-" for job_id in job_ids])

    def count_active(self, owner: str) -> int:
        """Queued plus running jobs of one owner (for per-owner concurrency limits)."""
        return sum(int(self.redis.zintercard(2, [_owner_key(owner), _status_key(status)]))
                   for status in ("queued", "running"))

    def running_job_ids(self) -> list[str]:
        return list(self.redis.zrange(_status_key("running"), 0, -1))

    def _get_many(self, job_ids: list[str]) -> list[dict | None]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(_job_key(job_id))
            pipe.lrange(_job_key(job_id) + ":metrics", 0, -1)
        replies = pipe.execute()
        return [self._decode(fields, metrics)
                for fields, metrics in zip(replies[::2], replies[1::2], strict=True)]

    @staticmethod
    def _decode(fields: dict, metrics: list[str]) -> dict | None:
        if not fields:
            return None
        job = {"id": fields["id"], "name": fields["name"], "owner": fields["owner"] or None,
               "status": fields["status"], "dataset": fields["dataset"],
               "dataset_name": fields.get("dataset_name") or fields["dataset"],
               "dataset_sha256": fields.get("dataset_sha256") or None,
               "model_id": fields.get("model_id") or None,
               "sweep_id": fields.get("sweep_id") or None,
               "metrics": [json.loads(entry) for entry in metrics],
               "created_at": fields["created_at"],
               "started_at": fields.get("started_at"), "finished_at": fields.get("finished_at"),
               "cancel_requested": fields.get("cancel_requested") == "1",
               "stop_requested": fields.get("stop_requested") == "1",
               "stop_reason": fields.get("stop_reason") or (
                   fields["status"] if fields["status"] in _UNSUCCESSFUL else None),
               "attempts": int(fields.get("attempts", 0))}
        for name in _JSON_FIELDS:
            job[name] = json.loads(fields[name]) if fields.get(name) else None
        job["task"] = ((job["spec"] or {}).get("model") or {}).get("task", DEFAULT_TASK)
        return job

    # --- status changes ------------------------------------------------------------------

    def request_cancel(self, job_id: str) -> dict:
        """Queued -> cancelled now; running -> flag the worker honours at its next batch."""
        if not is_valid_id(job_id):
            raise JobNotFound(job_id)
        now = utc_now()
        data = _dumps({"status": "cancelled", "finished_at": now})
        outcome, status = self._cancel(keys=_status_keys(job_id), args=[EVENTS_MAXLEN, data, now])
        if outcome == "missing":
            raise JobNotFound(job_id)
        if outcome == "refused":
            raise JobStateError(job_id, status, f"job {job_id} is already {status}")
        return self.get(job_id)

    def request_stop(self, job_id: str) -> dict:
        """Running -> flag the worker honours after its current batch: it evaluates and saves
        the model as it is, and the job succeeds with stop_reason "stopped". JobStateError
        for a job that is not running (a queued one has nothing to keep: cancel it)."""
        if not is_valid_id(job_id):
            raise JobNotFound(job_id)
        outcome, status = self._stop(keys=[_job_key(job_id)])
        if outcome == "missing":
            raise JobNotFound(job_id)
        if outcome == "refused":
            hint = ("it has not started training, so there is nothing to keep; cancel it instead"
                    if status == "queued" else f"it is already {status}")
            raise JobStateError(job_id, status, f"job {job_id} cannot be stopped: {hint}")
        return self.get(job_id)

    def mark_running(self, job_id: str, *, lease_token: str = "", worker: str = "") -> dict:
        """Queued (or running again, after its worker died) -> running."""
        now = utc_now()
        self._change_status(job_id, "queued running", "running", lease_token,
                            {"status": "running", "started_at": now},
                            ["?started_at", now, "worker", worker])
        return self.get(job_id)

    def finish(self, job_id: str, status: str, *, model_id: str | None = None,
               error: dict | None = None, lease_token: str = "",
               stop_reason: str | None = None) -> dict:
        """Running -> succeeded | failed | cancelled. Raises JobStateError if already finished or
        if `lease_token` is given and that lease is not alive and ours: a worker ends only the
        `running` attempt it holds (a queued job is the sweeper's requeue, another attempt's to
        run). Without a token (the API failing a job it could not enqueue) queued may end too.
        A succeeded job says why training ended: `stop_reason`, one of engine.stopping's
        STOP_REASONS (a failed or cancelled job's reason is its status)."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish status must be one of {sorted(TERMINAL_STATUSES)}")
        now = utc_now()
        data = {"status": status, "finished_at": now, "model_id": model_id, "error": error,
                "stop_reason": stop_reason or (status if status in _UNSUCCESSFUL else None)}
        fields = ["finished_at", now]
        fields += ["stop_reason", stop_reason] if stop_reason else []
        fields += ["model_id", model_id] if model_id else []
        fields += ["error", _dumps(error)] if error else []
        allowed_from = "running" if lease_token else "queued running"
        self._change_status(job_id, allowed_from, status, lease_token, data, fields)
        return self.get(job_id)

    def hand_back(self, job_id: str, *, lease_token: str) -> dict:
        """Running -> queued by the worker holding the lease (it is shutting down); the job keeps
        its checkpoint and is resumed by whichever worker takes it next."""
        self._change_status(job_id, "running", "queued", lease_token,
                            {"status": "queued", "reason": "worker shutting down; handed back"},
                            [])
        return self.get(job_id)

    def requeue_if_orphaned(self, job_id: str) -> bool:
        """Running with no live lease (its worker died) -> queued. True if this call did it."""
        data = _dumps({"status": "queued", "reason": "worker lost; requeued"})
        return bool(self._requeue(keys=_status_keys(job_id), args=[EVENTS_MAXLEN, data]))

    def _change_status(self, job_id, allowed_from, status, lease_token, event_data, fields):
        validate_id(job_id, "job id")
        args = [allowed_from, status, EVENTS_MAXLEN, _dumps(event_data), lease_token, *fields]
        outcome, current = self._transition(keys=_status_keys(job_id), args=args)
        if outcome == "missing":
            raise JobNotFound(job_id)
        if outcome == "lease_lost":
            raise JobStateError(job_id, current, f"job {job_id} is leased by another worker")
        if outcome == "refused":
            raise JobStateError(job_id, current, f"job {job_id} is {current}, cannot become {status}")

    # --- worker-side writes ----------------------------------------------------------------

    def update_progress(self, job_id: str, progress: dict, *, lease_token: str = "") -> str | None:
        """Record progress; returns CANCEL or STOP when the user asked for one, else None."""
        return self._record_progress(job_id, lease_token, "progress", progress, progress, None)

    def append_metrics(self, job_id: str, entry: dict, *, progress: dict | None = None,
                       lease_token: str = "") -> str | None:
        """Append one epoch's history entry (and publish it); returns CANCEL, STOP or None."""
        return self._record_progress(job_id, lease_token, "epoch", entry, progress, entry)

    def replace_metrics(self, job_id: str, history: list[dict], *, lease_token: str = "") -> bool:
        """On resume: the metrics become exactly the checkpoint's history (no duplicated epochs).
        Under `lease_token`, only while the job is `running` under that live lease; False if
        refused (the job moved on to another attempt)."""
        key = _job_key(validate_id(job_id, "job id"))
        keys = [key, key + ":lease", key + ":metrics"]
        args = [lease_token, *(_dumps(entry) for entry in history)]
        return self._replace_metrics(keys=keys, args=args) == 1

    def _record_progress(self, job_id, lease_token, event_name, data, progress, metric):
        keys = [*_status_keys(job_id)[:3], _job_key(job_id) + ":metrics"]
        args = [lease_token, EVENTS_MAXLEN, event_name, _dumps(data),
                _dumps(progress) if progress is not None else "",
                _dumps(metric) if metric is not None else ""]
        return _REQUESTS.get(self._record(keys=keys, args=args))

    def cancel_requested(self, job_id: str) -> bool:
        return self.redis.hget(_job_key(job_id), "cancel_requested") == "1"

    def pending_request(self, job_id: str) -> str | None:
        """CANCEL, STOP or None: what the user has asked of the job (a cancel wins)."""
        cancel, stop = self.redis.hmget(_job_key(job_id), "cancel_requested", "stop_requested")
        return CANCEL if cancel == "1" else STOP if stop == "1" else None

    # --- worker speeds, measured at start, for plans' time estimates -------------------------

    def record_worker_speed(self, worker: str, speed: dict) -> dict:
        """Store `worker`'s measured speed (engine.calibration.measure_speed() plus anything
        describing the worker) with the time it was measured; returns the record."""
        record = {**speed, "worker": worker, "measured_at": utc_now()}
        self.redis.hset(_WORKER_SPEEDS, worker, _dumps(record))
        return record

    def worker_speeds(self) -> list[dict]:
        """Every worker's latest measured speed, newest first."""
        records = [json.loads(value) for value in self.redis.hvals(_WORKER_SPEEDS)]
        return sorted(records, key=lambda record: record.get("measured_at", ""), reverse=True)

    def worker_speed(self) -> dict | None:
        """The most recently measured worker speed (what plans use), or None if none is known."""
        speeds = self.worker_speeds()
        return speeds[0] if speeds else None

    # --- leases: one worker trains a job at a time ------------------------------------------

    def acquire_lease(self, job_id: str, token: str, ttl_seconds: float) -> bool:
        key = _job_key(validate_id(job_id, "job id")) + ":lease"
        return bool(self.redis.set(key, token, nx=True, px=int(ttl_seconds * 1000)))

    def renew_lease(self, job_id: str, token: str, ttl_seconds: float) -> bool:
        keys = [_job_key(job_id) + ":lease", _job_key(job_id)]
        return self._renew(keys=keys, args=[token, int(ttl_seconds * 1000)]) == 1

    def release_lease(self, job_id: str, token: str) -> bool:
        return self._release(keys=[_job_key(job_id) + ":lease"], args=[token]) == 1

    def lease_holder(self, job_id: str) -> str | None:
        return self.redis.get(_job_key(job_id) + ":lease")

    # --- events for Server-Sent Events ------------------------------------------------------

    def events(self, job_id: str, last_event_id: str | None = None, block_ms: int = 15_000,
               keepalive: bool = False) -> Iterator[tuple[str | None, str, dict]]:
        """Yield (event_id, event_name, data) after `last_event_id`, live, until the terminal
        "status" event. With `keepalive=True`, yields (None, "keepalive", {}) after each
        `block_ms` without news, so a relay can notice a gone client. A malformed
        `last_event_id` replays from the start; an unknown job yields nothing."""
        if not is_valid_id(job_id):
            return
        key = _job_key(job_id) + ":events"
        cursor = last_event_id if last_event_id and _STREAM_ID.fullmatch(last_event_id) else "0-0"
        while True:
            status = self._status(job_id)
            if status is None:
                return
            finished = status in TERMINAL_STATUSES
            reply = self.redis.xread({key: cursor}, count=200, block=None if finished else block_ms)
            for _stream, entries in reply or []:
                for cursor, fields in entries:
                    data = json.loads(fields["data"])
                    yield cursor, fields["event"], data
                    if fields["event"] == "status" and data.get("status") in TERMINAL_STATUSES:
                        return
            if finished and not reply:
                return  # the terminal event was before `last_event_id` or trimmed away
            if not reply and keepalive:
                yield None, "keepalive", {}

    def _status(self, job_id: str) -> str | None:
        return self.redis.hget(_job_key(job_id), "status")

    @staticmethod
    def _event(name: str, data: dict) -> dict:
        return {"event": name, "data": _dumps(data)}
