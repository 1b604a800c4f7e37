"""The API's extensions: flask-smorest Api, job and artifact stores, Celery, request owner."""

from dataclasses import dataclass

import flask_smorest
import kombu.exceptions
import marshmallow as ma
import orjson
import redis
from flask import Request, current_app, g
from flask.json.provider import DefaultJSONProvider
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter, ValidationError

from api.fields import named_variants_to_properties
from worker.artifacts import ArtifactStore
from worker.celery_app import celery, configure
from worker.config import Settings
from worker.ids import is_valid_id
from worker.jobs import JobNotFound, JobStateError, JobStore

EXTENSION_KEY = "mlpq"

# Domain exceptions that may escape a view -> (status, message; None = the exception's text).
ERROR_HANDLERS = {
    JobNotFound: (404, "No such job."),
    JobStateError: (409, None),
    # Unreachable or busy-loading Redis is an outage (503); other Redis errors are bugs (500).
    redis.ConnectionError: (503, "The job store (Redis) is unreachable; retry later."),
    redis.TimeoutError: (503, "The job store (Redis) did not answer in time; retry later."),
    kombu.exceptions.OperationalError: (503, "The job queue is unreachable; retry later."),
}


class OrjsonProvider(DefaultJSONProvider):
    """JSON through orjson: fast, key order kept, and a stray NaN becomes null, not invalid JSON."""

    def dumps(self, obj, **kwargs):
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(obj, default=self.default, option=option).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)


class StrictJSONParser(FlaskParser):
    """Request bodies must say they are JSON (else 415) and be strict JSON (else 400).

    orjson refuses NaN, Infinity, numbers beyond a double and nesting deeper than 1024
    levels, so none of those reach a schema; a malformed body never becomes a 500.
    """

    def _raw_load_json(self, req):
        if not req.is_json:
            flask_smorest.abort(
                415, message=f"Content-Type must be application/json, got {req.mimetype or 'none'}")
        body = req.get_data(cache=True)
        if not body.strip():
            flask_smorest.abort(400, message="The request body is empty; send a JSON object.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            flask_smorest.abort(400, message=f"Malformed JSON: {error}")


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with strict JSON bodies; every API blueprint derives from it."""

    ARGUMENTS_PARSER = StrictJSONParser()

    def _document_pagination_metadata(self, spec, resp_doc):
        # A header value is a string: document X-Pagination as the JSON text it is.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "pagination as JSON: total, total_pages, first_page, last_page, "
                           "page, previous_page, next_page",
            "schema": {"type": "string"},
        }


class IdConverter(BaseConverter):
    """`<id:job_id>`: a uuid4 hex id; anything else does not match the route, so 404."""

    regex = "[0-9a-f]{32}"

    def to_python(self, value):
        if not is_valid_id(value):
            raise ValidationError()
        return value


LATEST = "latest"


class ModelRefConverter(IdConverter):
    """`<model_ref:model_id>`: a model id or the alias `latest` (the newest model)."""

    regex = f"[0-9a-f]{{32}}|{LATEST}"

    def to_python(self, value):
        return value if value == LATEST else super().to_python(value)


CONVERTERS = {"id": IdConverter, "model_ref": ModelRefConverter}
PARAMETER_SCHEMAS = {
    IdConverter: {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    ModelRefConverter: {"type": "string", "pattern": f"^([0-9a-f]{{32}}|{LATEST})$"},
}


@dataclass
class Services:
    """What views reach through `services()`: settings and the shared stores."""

    settings: Settings
    jobs: JobStore
    artifacts: ArtifactStore
    api: flask_smorest.Api


class ErrorSchema(flask_smorest.error_handler.ErrorSchema):
    """The one error shape, as documented in OpenAPI; prediction errors also carry `type`."""

    type = ma.fields.String(metadata={
        "description": "stable error type to branch on, e.g. model_corrupt (prediction errors)"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema


class LimitedBodyRequest(Request):
    """A chunked body (no Content-Length) longer than the limit gets 413 like any other.

    Werkzeug stops reading such a body at `max_content_length` without a word, so the
    parsers would see a truncated prefix: malformed JSON (400), or, if the prefix happens to
    be a whole document, an accepted request whose body was over the limit.
    """

    def get_data(self, *args, **kwargs):
        data = super().get_data(*args, **kwargs)
        limit = self.max_content_length
        if limit is not None and self.content_length is None and len(data) >= limit:
            raise RequestEntityTooLarge()
        return data


def init_app(app):
    """Configure Celery and open the stores from WORKER_SETTINGS (default: the environment)."""
    settings = app.config.get("WORKER_SETTINGS") or Settings.from_env()
    configure(settings)
    app.request_class = LimitedBodyRequest
    app.json = OrjsonProvider(app)
    app.url_map.converters.update(CONVERTERS)
    api = Api(app)
    api.ma_plugin.converter.add_attribute_function(named_variants_to_properties)
    for converter, schema in PARAMETER_SCHEMAS.items():
        api.register_converter(converter, lambda _converter, schema=schema: dict(schema))
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        jobs=JobStore.from_url(settings.redis_url),
        artifacts=ArtifactStore(settings.artifact_dir),
        api=api,
    )
    return api


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]


def celery_app():
    """The Celery app jobs are sent through and /readyz pings workers with."""
    return celery


# ---- ownership --------------------------------------------------------------------------------
# Authentication (added later) sets g.owner to the caller's key id and g.is_admin for admin keys.
# Without it every request is anonymous (owner None) and sees everything.


def current_owner():
    """Owner recorded on what this request creates; None when the service runs open."""
    return g.get("owner")


def owner_filter():
    """Owner to restrict reads to; None means everything is visible."""
    if g.get("is_admin"):
        return None
    return current_owner()


def visible(record):
    """True when this request may see `record` (a job or model dict with an "owner")."""
    wanted = owner_filter()
    return wanted is None or record.get("owner") == wanted
