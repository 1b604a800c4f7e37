"""mlpq from Python (`from mlpq import Client`) and the `mlpq` command line (`mlpq --help`)."""

from mlpq.client import Client
from mlpq.errors import (
    APIError,
    AuthError,
    BadRequest,
    Conflict,
    ConnectionError,
    MlpqError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    ValidationError,
)
from mlpq.job import Event, Job

__all__ = ["APIError", "AuthError", "BadRequest", "Client", "Conflict", "ConnectionError", "Event",
           "Job", "MlpqError", "NotFound", "RateLimited", "ServerError", "Timeout",
           "ValidationError"]
