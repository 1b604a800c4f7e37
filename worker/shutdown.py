"""Warm shutdown that does not wait out a long job: the training process hands its job back.

On SIGTERM (what `docker stop` and a rolling deploy send to the worker's main process) Celery
stops taking messages and waits for running tasks. Waiting could take hours, so the main
process also sends SIGUSR2 to its pool processes: a training job then stops at its next batch
boundary, saves its latest end-of-epoch checkpoint, goes back to `queued` and is re-sent to the
queue, where another worker resumes it (worker.runner). If that has not happened within
MLPQ_GRACEFUL_TIMEOUT seconds (one batch took longer), the pool processes are killed; the
job's lease then lapses and the lease sweeper requeues it from its last checkpoint, as after
any crash.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from billiard.process import active_children
from celery.signals import worker_process_init

logger = logging.getLogger(__name__)

HANDBACK_SIGNAL = signal.SIGUSR2
# Set in a pool process once its main process is shutting down; JobCallback polls it per batch.
handback_requested = threading.Event()


@worker_process_init.connect
def _listen_for_handback(**_kwargs) -> None:
    handback_requested.clear()  # a pool process forked after a request started afresh
    signal.signal(HANDBACK_SIGNAL, lambda _signum, _frame: handback_requested.set())


def hand_jobs_back(timeout: float) -> None:
    """In the main process, on warm shutdown: ask each pool process to hand its job back,
    and kill those that have not within `timeout` seconds (worker/celery.py calls this)."""
    children = active_children()
    for child in children:
        _signal(child.pid, HANDBACK_SIGNAL)
    threading.Thread(target=_enforce_deadline, args=(children, timeout),
                     name="mlpq-graceful-deadline", daemon=True).start()


def _enforce_deadline(children, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(child.is_alive() for child in children):
            return
        time.sleep(0.1)
    for child in children:
        if child.is_alive():
            logger.warning("pool process %s did not hand its job back within "
                           "MLPQ_GRACEFUL_TIMEOUT=%gs; stopping it (its job resumes from the "
                           "last checkpoint once the lease lapses)", child.pid, timeout)
            _signal(child.pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
