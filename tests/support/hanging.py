"""Test-only fault: a job named HANG_JOB_NAME hangs after its second batch, for real.

A worker imports this with `celery -A worker worker --include tests.support.hanging`; nothing
in the service imports it. The hang is a plain blocking sleep in the training thread, so the
job's heartbeat thread keeps its lease alive, which is exactly the case the stall watchdog
(MLPQ_JOB_STALL_SECONDS) exists for. Tests name such a job with specs.HANG_JOB_NAME and never
import this module themselves (it would patch the test process too).
"""

import time

from tests.support.specs import HANG_JOB_NAME
from worker.progress import JobCallback

_on_batch_end = JobCallback.on_batch_end


def _hanging_on_batch_end(self, state):
    _on_batch_end(self, state)
    if state.batch == 2 and self.store.get(self.job_id)["name"] == HANG_JOB_NAME:
        time.sleep(3600)


JobCallback.on_batch_end = _hanging_on_batch_end
