"""/v1/jobs: submit training jobs, list and read them, cancel them, stream their events."""

import json
import logging
import re
import threading
import time
from itertools import chain

import redis
from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import abort

from api.core.auth import active_jobs_limit, too_many_active_jobs
from api.core.blueprint import Blueprint
from api.core.ownership import current_owner, found_or_404, owner_filter
from api.core.services import services
from api.jobs.schemas import JobListArgsSchema, JobSchema
from api.plans.views import make_plan
from api.specs.schemas import JobCreateSchema
from worker.store.celery_app import enqueue_training
from worker.store.jobs import TERMINAL_STATUSES, ActiveJobLimit

logger = logging.getLogger(__name__)

blp = Blueprint(
    "jobs", __name__, url_prefix="/v1/jobs",
    description="Training jobs: submit a spec, follow its progress, cancel it.",
)

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
# Far beyond any real number of jobs, and inside the signed 64-bit range Redis indexes with.
MAX_OFFSET = 2**62
# A Redis stream id: milliseconds-sequence, each an unsigned 64-bit number.
EVENT_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
LARGEST_ID_PART = 2**64 - 1
RECONNECT_MILLISECONDS = 2000
SSE_EVENT_SCHEMA = {  # one event on the stream
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "send it back as Last-Event-ID to resume"},
        "event": {"type": "string", "enum": ["status", "progress", "epoch"]},
        "data": {"type": "string", "description": "a JSON object"},
        "retry": {"type": "integer", "description": "reconnection delay in milliseconds"},
    },
}
LAST_EVENT_ID_PARAMETER = {
    "in": "header", "name": "Last-Event-ID", "required": False,
    "schema": {"type": "string", "pattern": r"^(\d{1,20}-\d{1,20})?$"},
    "description": "resume after this event id (browsers send it when they reconnect); "
                   "`?last_event_id=` does the same",
}


@blp.record_once
def _create_stream_slots(state):
    # Each open stream holds a server thread; capping them keeps threads free for the rest.
    services(state.app).sse_slots = threading.BoundedSemaphore(state.app.config["SSE_MAX_STREAMS"])


def find_job(job_id):
    """The job record, or 404 when it does not exist or belongs to someone else."""
    return found_or_404(services().jobs.get(job_id), "job", job_id)


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobListArgsSchema, location="query")
    @blp.response(200, JobSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args, pagination_parameters):
        """List jobs, newest first.

        Filter with `status`; page with `page` and `page_size`. The `X-Pagination` header
        holds the total and the neighbouring page numbers.
        """
        jobs, total = services().jobs.list(
            status=args.get("status"), owner=owner_filter(),
            limit=pagination_parameters.page_size,
            offset=min(pagination_parameters.first_item, MAX_OFFSET))
        pagination_parameters.item_count = total
        return jobs

    @blp.arguments(JobCreateSchema, example={
        "name": "mnist-mlp", "dataset": "mnist",
        "model": {"layers": [{"units": 128, "activation": "relu"},
                             {"units": 10, "activation": "softmax"}]},
        "training": {"epochs": 5, "batch_size": 128, "validation_split": 0.1},
    })
    @blp.response(202, JobSchema, headers={"Location": {
        "description": "URL of the new job", "schema": {"type": "string"}}})
    @blp.queueing_errors()
    def post(self, new_job):
        """Submit a training job.

        Only `dataset` and `model.layers` are required; the job's `spec` comes back with
        every default filled in. The job starts `queued`; poll it at `Location` or follow
        `/v1/jobs/{id}/events`. An API key may have MLPQ_MAX_ACTIVE_JOBS_PER_KEY jobs
        queued or running; past that, 429 with Retry-After.
        """
        try:
            job = services().jobs.create(name=new_job["name"], spec=new_job["spec"],
                                         **new_job["data"].job_fields(), owner=current_owner(),
                                         max_active=active_jobs_limit(),
                                         plan=make_plan(new_job["data"], new_job["spec"]))
        except ActiveJobLimit as error:
            too_many_active_jobs(error)
        if not enqueue(job["id"]):
            abort(503, message="The job queue is unreachable; the job was not started. Retry later.",
                  headers={"Retry-After": "5"})
        return job, 202, {"Location": url_for("jobs.JobById", job_id=job["id"])}


def enqueue(job_id, what="job"):
    """Put a created job on the training queue; False when the broker is down, and then the job
    has failed (`enqueue_failed`) rather than stay queued forever."""
    try:
        enqueue_training(services().celery, job_id)
    except Exception as error:
        logger.warning("could not enqueue %s %s: %s", what, job_id, error, extra={"job_id": job_id})
        services().jobs.finish(job_id, "failed", error={
            "type": "enqueue_failed", "message": "the job queue was unreachable"})
        return False
    return True


@blp.route("/<id:job_id>")
class JobById(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, job_id):
        """Read one job: status, progress, per-epoch metrics, model_id or error."""
        return find_job(job_id)


@blp.route("/<id:job_id>/cancel")
class JobCancel(MethodView):
    @blp.response(202, JobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, job_id):
        """Cancel a job.

        A queued job is `cancelled` at once and never starts. A running job gets
        `cancel_requested: true` and stops at its next batch, then ends `cancelled`.
        A finished job cannot be cancelled: 409.
        """
        find_job(job_id)
        return services().jobs.request_cancel(job_id)


@blp.route("/<id:job_id>/stop")
class JobStop(MethodView):
    @blp.response(202, JobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, job_id):
        """Stop a running job and keep what it has learned.

        The job gets `stop_requested: true`; its worker ends training after the current
        batch, evaluates the network on the test split and saves it as a model, and the job
        ends `succeeded` with `stop_reason: "stopped"`. Cancel, by contrast, keeps nothing.
        A job that is queued (nothing to keep yet: cancel it) or already finished: 409.
        """
        find_job(job_id)
        return services().jobs.request_stop(job_id)


@blp.route("/<id:job_id>/events")
class JobEvents(MethodView):
    @blp.doc(parameters=[LAST_EVENT_ID_PARAMETER, {
        "in": "query", "name": "last_event_id", "required": False,
        "schema": LAST_EVENT_ID_PARAMETER["schema"],
        "description": "same as the Last-Event-ID header"}])
    @blp.response(200, SSE_EVENT_SCHEMA, content_type="text/event-stream", description=(
        "Server-Sent Events: `status` ({status, ...}), `progress` (the job's progress object) "
        "and `epoch` (one metrics entry), each with an `id:`. The stream ends after the final "
        "`status` event, or after MLPQ_SSE_MAX_SECONDS (reconnect with Last-Event-ID). "
        "204 when the job has ended and nothing is left after Last-Event-ID."))
    @blp.alt_response(204, description="nothing left to send: the job has ended")
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self, job_id):
        """Follow a job live with Server-Sent Events until it ends."""
        job = find_job(job_id)
        last_event_id = parse_event_id(
            request.headers.get("Last-Event-ID") or request.args.get("last_event_id"))
        config = current_app.config
        events = services().jobs.events(
            job_id, last_event_id=last_event_id, keepalive=True,
            block_ms=int(config["SSE_KEEPALIVE_SECONDS"] * 1000))
        replay = []
        if job["status"] in TERMINAL_STATUSES and last_event_id:
            # Nothing left after Last-Event-ID: per the SSE standard a 204 tells EventSource
            # to stop reconnecting, instead of reconnecting to an ended job forever.
            replay = [event for event in [next(events, None)] if event is not None]
            if not replay:
                return Response(status=204)
        slots = services().sse_slots
        if not slots.acquire(blocking=False):
            events.close()
            abort(503, message="Too many event streams are open; poll the job or retry later.",
                  headers={"Retry-After": "5"})
        frames = sse_frames(events, config["SSE_MAX_SECONDS"], replay)
        response = Response(frames, mimetype="text/event-stream", headers={
            "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        response.call_on_close(slots.release)
        return response


def parse_event_id(text):
    """None (from the start) or an event id; anything not shaped like one is a client error.

    Numbers past Redis's 64-bit range mean "after everything", so they become the largest id.
    """
    if not text:
        return None
    match = EVENT_ID.fullmatch(text)
    if match is None:
        abort(400, message="Last-Event-ID must be an id this stream sent, like 1716212345678-0.")
    return "-".join(str(min(int(part), LARGEST_ID_PART)) for part in match.groups())


def sse_frames(events, max_seconds, replay=()):
    """SSE frames for `replay` then the (event_id, name, data) generator `events`.

    Keep-alive tuples (event_id None) become comments, which also reveal a client that
    went away; the stream stops after `max_seconds` so it cannot hold a thread for ever.
    """
    deadline = time.monotonic() + max_seconds
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    try:
        for event_id, name, data in chain(replay, events):
            if event_id is None:
                yield ": keep-alive\n\n"
            else:
                payload = json.dumps(data, separators=(",", ":"))
                yield f"id: {event_id}\nevent: {name}\ndata: {payload}\n\n"
            if time.monotonic() >= deadline:
                yield ": stream time limit reached; reconnect with Last-Event-ID\n\n"
                return
    except (redis.ConnectionError, redis.TimeoutError):
        logger.warning("event stream cut: the job store is unreachable")
        yield ": the job store is unreachable; reconnect with Last-Event-ID later\n\n"
    finally:
        events.close()
