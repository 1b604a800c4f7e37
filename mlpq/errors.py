"""The client's exceptions: one class per kind of failure, carrying the server's error body."""

from __future__ import annotations

import builtins

import httpx


class MlpqError(Exception):
    """Base of every error the client raises."""


class APIError(MlpqError):
    """The server answered with an error in its one JSON shape {code, status, message, errors, type}.

    `status` is the HTTP status; `code`, `message`, `errors` ({field path: [messages]}) and
    `type` (a stable machine-readable kind, when the server gives one) come from the body.
    """

    def __init__(self, status: int, message: str, *, code: int | None = None,
                 errors: dict | None = None, type: str | None = None,
                 response: httpx.Response | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code if code is not None else status
        self.errors, self.type, self.response = errors or {}, type, response

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class BadRequest(APIError):
    """400, 413, 415 and other client errors without a class of their own."""


class ValidationError(APIError):
    """422: the request broke a rule; `errors` maps each field path to its messages."""


class AuthError(APIError):
    """401 or 403: a missing, wrong or insufficient API key."""


class NotFound(APIError):
    """404: no such job or model (or it belongs to another API key)."""


class Conflict(APIError):
    """409: the job or model is in the wrong state (e.g. cancelling a finished job)."""


class RateLimited(APIError):
    """429: too many active jobs or requests; retry after `retry_after` seconds (None if unsaid)."""

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the service failed or is not ready."""


class ConnectionError(MlpqError, builtins.ConnectionError):  # noqa: A001 - the documented name
    """The server could not be reached; `url` is what was tried."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot reach the mlpq server at {url}: {reason}")
        self.url, self.reason = url, reason


class Timeout(MlpqError, builtins.TimeoutError):
    """A wait or a request took longer than allowed."""


ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthError, 403: AuthError, 404: NotFound, 409: Conflict, 422: ValidationError,
    429: RateLimited,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The typed exception for an error response (whatever its body holds)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text.strip()[:500] or response.reason_phrase}
    status = response.status_code
    kind = ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else BadRequest)
    options = {"code": body.get("code"), "errors": body.get("errors"), "type": body.get("type"),
               "response": response}
    message = str(body.get("message") or response.reason_phrase)
    if kind is RateLimited:
        options["retry_after"] = _seconds(response.headers.get("Retry-After"))
    return kind(status, message, **options)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
