"""One JSON error shape for every failure: {"code", "status", "message", "errors"}."""

import logging
from http import HTTPStatus

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from worker.store.ids import is_valid_id

logger = logging.getLogger(__name__)

ROOT_PATH = "body"
# /v1/<collection>/<name>...: a path whose <name> is no id matches no route, yet the 404 should
# still say which resource is missing, as the lookups by id do (not_found_message).
NAMED_COLLECTIONS = {"/v1/models/": "model", "/v1/jobs/": "job"}
LONGEST_NAME = 80


def not_found_message(kind, name):
    """"no model 'x' (or it belongs to another key)": every 404 for a job or model says this,
    whether the id is malformed, unknown or another key's (which must look the same)."""
    name = str(name)
    shown = name if len(name) <= LONGEST_NAME else name[:LONGEST_NAME] + "..."
    return f"no {kind} {shown!r} (or it belongs to another key)"


def _named_resource_message():
    """The not-found message for /v1/models/<name> or /v1/jobs/<name> when <name> is not a
    well-formed reference (so no route matched); None for any other path."""
    for prefix, kind in NAMED_COLLECTIONS.items():
        if request.path.startswith(prefix):
            name = request.path[len(prefix):].split("/", 1)[0]
            # a well-formed id with an unknown sub-path is a missing route, not a missing model
            if name and request.url_rule is None and not _well_formed(name, kind):
                return not_found_message(kind, name)
    return None


def _well_formed(name, kind):
    """An id the routes accept (api.core.converters), or for models the alias latest."""
    return is_valid_id(name) or (kind == "model" and name == "latest")


def error_response(code, message, errors=None, headers=None, error_type=None):
    """Build the one error response every part of the API returns.

    `error_type`: a stable machine-readable `type` (prediction errors carry one; docs/errors.md).
    """
    payload = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        payload["errors"] = errors
    if error_type:
        payload["type"] = error_type
    response = jsonify(payload)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages, path=""):
    """Turn marshmallow's nested error dict into {"model.layers[2].units": [messages]}.

    marshmallow nests errors by field name and by list index, and puts errors about a
    whole object under "_schema"; clients find a flat path per field easier to act on.
    """
    flat = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                child = path
            elif isinstance(key, int):
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            for child_path, texts in flatten_messages(value, child).items():
                flat.setdefault(child_path, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            for child_path, texts in flatten_messages(item, path).items():
                flat.setdefault(child_path, []).extend(texts)
    else:
        flat.setdefault(path or ROOT_PATH, []).append(str(messages))
    return flat


def summarize(errors):
    """One line naming the first offending fields, for people reading curl output."""
    parts = [f"{path}: {texts[0]}" for path, texts in list(errors.items())[:3]]
    more = len(errors) - len(parts)
    suffix = f" (and {more} more)" if more > 0 else ""
    noun = "problem" if len(errors) == 1 else "problems"
    return f"Invalid request, {len(errors)} {noun}: " + "; ".join(parts) + suffix


def _error_paths(data):
    """Errors by field path, from `abort(..., errors={path: [...]})` or from webargs.

    webargs nests its messages under the request location ("json", "query"); the field
    path is what a client needs, so that level is dropped.
    """
    if "errors" in data:
        return flatten_messages(data["errors"])
    if isinstance(data.get("messages"), dict):
        flat = {}
        for location_errors in data["messages"].values():
            flat.update(flatten_messages(location_errors))
        return flat
    return None


def handle_http_exception(error):
    """Every HTTPException (abort, routing, 413 from Werkzeug) in the one shape."""
    data = getattr(error, "data", None) or {}
    errors = _error_paths(data)
    message = data.get("message")
    if message is None and error.code == 404:
        message = _named_resource_message()
    if message is None and error.code == 413 and request.max_content_length is not None:
        message = f"The request body is larger than {request.max_content_length} bytes."
    if message is None:
        message = summarize(errors) if errors and error.code == 422 else error.description
    headers = dict(data.get("headers") or {})
    # Werkzeug puts "Allow" (405) and "Retry-After" (503) on the exception's own headers.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            headers.setdefault(name, value)
    return error_response(error.code, message, errors, headers)


def handle_unexpected_exception(error):
    """A bug must not leak a traceback: log it, answer a plain 500."""
    logger.exception("unhandled error while serving a request")
    return error_response(500, "Internal server error; the details are in the server log.")


def register_error_handlers(app, handlers=()):
    """Install the JSON handlers; `handlers` maps further exception types to (code, message).

    Blueprints and extensions contribute their own domain exceptions (a job in the wrong
    state, an unreachable store) through `handlers`, so this module imports none of them.
    """
    app.register_error_handler(HTTPException, handle_http_exception)
    for exception_type, (code, message) in dict(handlers).items():
        app.register_error_handler(exception_type, _fixed_handler(code, message))
    app.register_error_handler(Exception, handle_unexpected_exception)


def _fixed_handler(code, message):
    def handle(error):
        text = message or str(error)
        if code >= 500:
            logger.warning("%s: %s", type(error).__name__, error)
        return error_response(code, text)

    return handle
