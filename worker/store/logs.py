"""Structured logs: one JSON object per line, stamped with the request id and the job id.

The API and the worker share this module. Code that handles a request or trains a job sets
`request_id_var` / `job_id_var` (context variables, so concurrent threads do not mix them up);
`ContextFilter` copies them onto every record and `JsonFormatter` writes
`{"time", "level", "logger", "message", "request_id", "job_id", ...extra fields}`.
`MLPQ_LOG_FORMAT=text` gives one readable line instead, for a terminal.

In the worker, the Celery signals below restyle Celery's own handlers and set the job id for
the whole of each `mlpq.train` task.
"""

from __future__ import annotations

import ast
import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from celery import signals
from celery.utils.log import get_multiprocessing_logger

from worker.store import environment
from worker.store.ids import is_valid_id
from worker.store.jobs import TRAIN_TASK

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlpq_request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlpq_job_id", default=None)
CONTEXT = {"request_id": request_id_var, "job_id": job_id_var}

HANDLER_NAME = "mlpq"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}


def log_format(environ=None) -> str:
    """MLPQ_LOG_FORMAT: `json` (default) or `text`."""
    return environment.value("MLPQ_LOG_FORMAT", environ)


def log_level(environ=None) -> str:
    """MLPQ_LOG_LEVEL (default info), as the upper-case name logging expects."""
    return environment.value("MLPQ_LOG_LEVEL", environ).upper()


def _context_value(record: logging.LogRecord, name: str):
    value = getattr(record, name, None)
    return value if value is not None else CONTEXT[name].get()


class ContextFilter(logging.Filter):
    """Stamps each record with the request id and job id of the code that logged it.

    An explicit `extra={"job_id": ...}` wins. Celery's "Task mlpq.train[...] received" line is
    logged before the task runs; its job id is the task's first argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name in CONTEXT:
            setattr(record, name, _context_value(record, name))
        if record.job_id is None:
            record.job_id = _job_of_celery_record(record)
        return True


def _job_of_celery_record(record: logging.LogRecord) -> str | None:
    data = getattr(record, "data", None)
    if not isinstance(data, dict) or data.get("name") != TRAIN_TASK:
        return None
    args = data.get("args")
    if isinstance(args, str):  # Celery logs the arguments' repr, e.g. "['0f3c...']"
        try:
            args = ast.literal_eval(args)
        except (ValueError, SyntaxError):
            return None
    if isinstance(args, list | tuple) and args and is_valid_id(args[0]):
        return args[0]
    return None


def _iso_time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, job_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _iso_time(record.created), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        for name in CONTEXT:
            value = _context_value(record, name)
            if value is not None:
                entry[name] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger request_id=... job_id=...: message`, for people at a terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        context = "".join(f" {name}={value}" for name in CONTEXT
                          if (value := _context_value(record, name)) is not None)
        return f"{_iso_time(record.created)} {record.levelname} {record.name}{context}: " \
               f"{record.message}"


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def make_handler(stream=None, fmt: str | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the context filter and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(FORMATTERS[fmt or log_format()]())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging() -> None:
    """Give the root logger our handler, unless someone (gunicorn, pytest) already gave it one.

    Under gunicorn, `gunicorn_logconfig` has installed the same handler for its lines and ours.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler())
    root.setLevel(log_level())


def gunicorn_logconfig(access_log: bool = False) -> dict:
    """gunicorn's `logconfig_dict`: its own lines and the app's, in MLPQ_LOG_FORMAT on stderr.

    gunicorn's access lines are dropped unless `access_log`: the app writes its own.
    """
    level = log_level()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level, "handlers": [HANDLER_NAME]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO" if access_log else "WARNING", "handlers": [],
                                "propagate": True},
        },
        "handlers": {HANDLER_NAME: {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                    "formatter": "mlpq", "filters": ["context"]}},
        "formatters": {"mlpq": {"()": FORMATTERS[log_format()]}},
        "filters": {"context": {"()": ContextFilter}},
    }


# ---- the Celery worker --------------------------------------------------------------------------


def _restyle(logger: logging.Logger) -> None:
    formatter = FORMATTERS[log_format()]()
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(existing, ContextFilter) for existing in handler.filters):
            handler.addFilter(ContextFilter())


@signals.celeryd_init.connect
def _structured_from_the_start(**_kwargs) -> None:
    # Celery warns (e.g. about running as root) before it sets up logging; route warnings
    # through logging, and logging through our handler until Celery installs its own.
    logging.captureWarnings(True)
    configure_logging()


@signals.after_setup_logger.connect
def _restyle_worker_logs(logger=None, **_kwargs) -> None:
    _restyle(logger or logging.getLogger())
    _restyle(get_multiprocessing_logger())


@signals.after_setup_task_logger.connect
def _restyle_task_logs(logger=None, **_kwargs) -> None:
    if logger is not None:
        _restyle(logger)


@signals.celeryd_after_setup.connect
def _no_text_banner(sender=None, instance=None, **_kwargs) -> None:
    # The start-up banner is a block of text printed past the log handlers; in JSON mode
    # every line must parse, and Celery logs "<name> ready." once it is up anyway.
    if instance is not None and log_format() == "json":
        instance.quiet = True


_task_tokens: dict[str, contextvars.Token] = {}


@signals.task_prerun.connect
def _enter_job(task_id=None, task=None, args=None, **_kwargs) -> None:
    """Every line logged while a training task runs carries its job id."""
    if task is not None and task.name == TRAIN_TASK and args and is_valid_id(args[0]):
        _task_tokens[task_id] = job_id_var.set(args[0])


@signals.task_postrun.connect
def _leave_job(task_id=None, **_kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        job_id_var.reset(token)
