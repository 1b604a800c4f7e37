"""SweepStore: sweeps in Redis — a sweep is a named set of ordinary jobs (its runs) plus its body.

The runs are plain jobs on the ordinary training queue; a sweep adds no scheduler of its
own. Its status and progress are derived from its runs' job records whenever it is read,
so nothing needs updating when a run ends and nothing can drift. Layout, beside JobStore's
keys under the same `mlpq:` prefix:
  sweep:<id>                hash  the record (JSON-encoded `body`, `runs`)
  sweeps                    zset  every sweep id in creation order; sweeps:owner:<o> likewise
  sweeps:counter            string the creation order counter
  sweep-runs:<owner>        hash  run digest -> the job that trained it, for `resume`
"""

from __future__ import annotations

import hashlib
import json

import redis

from worker.store.ids import is_valid_id, new_id
from worker.store.jobs import PREFIX, utc_now

_ALL = PREFIX + "sweeps"
_COUNTER = PREFIX + "sweeps:counter"
_JSON_FIELDS = ("body", "runs")


def _sweep_key(sweep_id: str) -> str:
    return f"{PREFIX}sweep:{sweep_id}"


def _owner_key(owner: str) -> str:
    return f"{PREFIX}sweeps:owner:{owner}"


def _digests_key(owner: str | None) -> str:
    return f"{PREFIX}sweep-runs:{owner or '-'}"


def run_digest(dataset: str, spec: dict) -> str:
    """Identifies a run by what it trains: the dataset and the validated spec, seed included."""
    text = json.dumps({"dataset": dataset, "spec": spec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class SweepStore:
    """Sweep records: what was asked for and which job trains each run."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def new_id(self) -> str:
        return new_id()

    def create(self, sweep_id: str, *, name: str, owner: str | None, body: dict,
               runs: list[dict]) -> dict:
        """Store a sweep whose runs (each with its `job_id` and `digest`) already exist."""
        order = int(self.redis.incr(_COUNTER))
        fields = {"id": sweep_id, "name": name, "owner": owner or "", "order": order,
                  "created_at": utc_now(), "cancel_requested": "0",
                  "body": json.dumps(body), "runs": json.dumps(runs)}
        pipe = self.redis.pipeline()
        pipe.hset(_sweep_key(sweep_id), mapping=fields)
        pipe.zadd(_ALL, {sweep_id: order})
        if owner:
            pipe.zadd(_owner_key(owner), {sweep_id: order})
        pipe.hset(_digests_key(owner), mapping={run["digest"]: run["job_id"] for run in runs})
        pipe.execute()
        return self.get(sweep_id)

    def get(self, sweep_id: str) -> dict | None:
        if not is_valid_id(sweep_id):
            return None
        return self._decode(self.redis.hgetall(_sweep_key(sweep_id)))

    def list(self, *, owner: str | None = None, limit: int = 20,
             offset: int = 0) -> tuple[list[dict], int]:
        """Sweeps newest first (of one owner when given) and the total."""
        key = _owner_key(owner) if owner else _ALL
        total = int(self.redis.zcard(key))
        ids = self.redis.zrevrange(key, offset, offset + limit - 1) if limit > 0 else []
        pipe = self.redis.pipeline(transaction=False)
        for sweep_id in ids:
            pipe.hgetall(_sweep_key(sweep_id))
        return [sweep for sweep in map(self._decode, pipe.execute()) if sweep], total

    def request_cancel(self, sweep_id: str) -> None:
        self.redis.hset(_sweep_key(sweep_id), "cancel_requested", "1")

    def trained_runs(self, owner: str | None, digests: list[str]) -> dict[str, str]:
        """digest -> id of the latest job that trained that run, for the digests known."""
        if not digests:
            return {}
        job_ids = self.redis.hmget(_digests_key(owner), digests)
        return {digest: job_id for digest, job_id in zip(digests, job_ids, strict=True) if job_id}

    @staticmethod
    def _decode(fields: dict) -> dict | None:
        if not fields:
            return None
        sweep = {"id": fields["id"], "name": fields["name"], "owner": fields["owner"] or None,
                 "created_at": fields["created_at"],
                 "cancel_requested": fields.get("cancel_requested") == "1"}
        for name in _JSON_FIELDS:
            sweep[name] = json.loads(fields[name])
        return sweep
