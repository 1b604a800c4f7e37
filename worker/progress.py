"""The training callback that reports a job's progress, metrics and checkpoints and honours
cancels and stops."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from engine.training import Callback
from worker.shutdown import handback_requested
from worker.store.jobs import CANCEL, STOP

logger = logging.getLogger(__name__)

# A Redis round trip per batch would cost more than a small batch's arithmetic; every 0.1 s
# still stops a cancelled job well within the promised second.
CANCEL_CHECK_SECONDS = 0.1
REDIS_OUTAGE_SECONDS = 60.0
OUTAGE_LOG_SECONDS = 10.0  # one warning per this long while Redis is unreachable, not one per write
CHECKPOINT_COST_FACTOR = 10  # the gap between checkpoints is at least this times the last one's cost


def retry_redis(action: Callable[[], object], patience: float = REDIS_OUTAGE_SECONDS):
    """Run `action`, retrying while Redis is unreachable (restarting) for up to `patience` s."""
    deadline, delay = time.monotonic() + patience, 0.2
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class JobCallback(Callback):
    """Writes throttled progress, each epoch's metrics and a checkpoint; stops on cancel, on a
    stop request (`stopped`: the runner keeps the model), on a lost lease, and when its worker
    shuts down (`handed_back`: the runner requeues the job).

    Redis hiccups never fail training: a missed progress write is simply skipped, and missed
    epoch entries are rewritten in full with the next successful one.
    """

    def __init__(self, store, artifacts, job_id: str, lease_token: str, keeper, *,
                 progress_interval: float, checkpoint_seconds: float):
        self.store, self.artifacts = store, artifacts
        self.job_id, self.lease_token, self.keeper = job_id, lease_token, keeper
        self.progress_interval = progress_interval
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpoint_gap = checkpoint_seconds
        self.cancelled = self.stopped = self.handed_back = False
        self._unsaved_checkpoint: dict | None = None  # the last epoch's, when not yet written
        self.progress: dict | None = None
        self._metrics_written = 0
        self._started = self._start_fraction = 0.0
        self._last_progress = self._last_cancel_check = self._last_checkpoint = 0.0
        self._last_complaint = -OUTAGE_LOG_SECONDS

    def on_train_begin(self, state) -> None:
        self._started = self._last_checkpoint = time.monotonic()
        self._metrics_written = len(state.history)  # a resumed job's history is already recorded
        self._start_fraction = self._measure(state)["fraction"]
        self.keeper.progressed()  # arms the stall watchdog
        self._report(state)

    def on_batch_end(self, state) -> None:
        self.keeper.progressed()
        if self.keeper.lost.is_set():
            state.stop()
            return
        if handback_requested.is_set():
            self.handed_back = True
            state.stop()
            return
        now = time.monotonic()
        if now - self._last_progress >= self.progress_interval:
            self._report(state)
        elif now - self._last_cancel_check >= CANCEL_CHECK_SECONDS:
            self._last_cancel_check = now
            self._quietly(lambda: self.store.pending_request(self.job_id), "cancel check")
        if self.cancelled or self.stopped:
            state.stop()

    def on_epoch_end(self, state) -> None:
        self.keeper.progressed()
        if self.keeper.lost.is_set():
            return  # the job is someone else's now: do not overwrite their checkpoint
        if handback_requested.is_set():
            self.handed_back = True
            state.stop()
        self._maybe_checkpoint(state)
        self.progress = self._measure(state)
        entry, earlier = state.history[-1], state.history[:-1]

        def write_epoch() -> str | None:
            if self._metrics_written != len(earlier):
                self.store.replace_metrics(self.job_id, earlier)
            request = self.store.append_metrics(self.job_id, entry, progress=self.progress,
                                                lease_token=self.lease_token)
            self._metrics_written = len(state.history)
            return request

        self._quietly(write_epoch, "epoch metrics")
        if self.cancelled or self.stopped:
            state.stop()

    def on_train_end(self, state) -> None:
        self.progress = self._measure(state)  # where training ended, for the final progress
        self.keeper.training_ended()  # evaluation and saving are not batches: disarm the watchdog

    def _maybe_checkpoint(self, state) -> None:
        # An fsynced checkpoint costs ~10 ms: after every epoch of a tiny net that would be most
        # of the run, so tiny epochs are checkpointed every `checkpoint_seconds` instead. The
        # skipped ones are kept in memory (a copy of the weights, small beside an epoch's
        # arithmetic) so that a hand-back can still write the latest.
        now = time.monotonic()
        checkpoint = state.network.checkpoint()
        if self.handed_back or now - self._last_checkpoint >= self._checkpoint_gap:
            self.artifacts.save_checkpoint(self.job_id, checkpoint)
            done = time.monotonic()
            # A checkpoint holds the whole history, so it grows with every epoch (1500 epochs
            # of XOR: ~0.3 s each): waiting 10x its cost keeps checkpoints under ~10% of a run.
            # 0 asks for every epoch (tests that kill workers rely on it): keep it exact.
            if self.checkpoint_seconds > 0:
                self._checkpoint_gap = max(self.checkpoint_seconds,
                                           CHECKPOINT_COST_FACTOR * (done - now))
            self._last_checkpoint, self._unsaved_checkpoint = done, None
        else:
            self._unsaved_checkpoint = checkpoint

    def save_latest_checkpoint(self) -> None:
        """Write the last complete epoch's checkpoint if the interval skipped it (hand-back)."""
        if self._unsaved_checkpoint is not None and not self.keeper.lost.is_set():
            self.artifacts.save_checkpoint(self.job_id, self._unsaved_checkpoint)
            self._unsaved_checkpoint = None

    def sync_metrics(self, history: list[dict]) -> bool:
        """After fit: record the whole history once more (an epoch write can be refused without
        an error while Redis was away, so our count proves nothing). False if the job is no
        longer ours: requeued while we were cut off, another attempt now owns its record."""
        written = retry_redis(lambda: self.store.replace_metrics(self.job_id, history,
                                                                 lease_token=self.lease_token))
        self._metrics_written = len(history)
        return written

    def write_final_progress(self, complete: bool = True) -> None:
        """The last progress: all done, or (a stopped job) as far as it got, nothing left."""
        progress = dict(self.progress or {}, eta_seconds=0.0)
        if complete:
            progress["fraction"] = 1.0
        retry_redis(lambda: self.store.update_progress(self.job_id, progress,
                                                       lease_token=self.lease_token))

    def _report(self, state) -> None:
        self._last_progress = self._last_cancel_check = time.monotonic()
        self.progress = self._measure(state)
        self._quietly(lambda: self.store.update_progress(self.job_id, self.progress,
                                                         lease_token=self.lease_token), "progress")

    def _quietly(self, write: Callable[[], str | None], what: str) -> None:
        """Run a write that returns the user's request (CANCEL, STOP or None); a Redis error
        only costs this one write."""
        try:
            request = write()
            if request == CANCEL:
                self.cancelled = True
            elif request == STOP:
                self.stopped = True
        except redis.RedisError as error:
            if time.monotonic() - self._last_complaint >= OUTAGE_LOG_SECONDS:
                self._last_complaint = time.monotonic()
                logger.warning("job %s: %s not recorded, training on (%s)", self.job_id, what, error)

    def _measure(self, state) -> dict:
        batches = max(state.batches, 1)
        completed = len(state.history)  # whole epochs, including those before a resume
        in_epoch = min(state.batch, batches) if state.epoch > completed else 0
        fraction = min((completed * batches + in_epoch) / (state.epochs * batches), 1.0)
        # after an epoch's last batch (epoch end, job end) the position is that batch, not 0
        shown_batch = in_epoch if state.epoch > completed or not completed else state.batches
        elapsed = time.monotonic() - self._started
        gained = fraction - self._start_fraction
        eta = elapsed / gained * (1.0 - fraction) if gained > 0 else None
        return {"epoch": max(state.epoch, completed), "epochs": state.epochs,
                "batch": shown_batch, "batches": state.batches, "fraction": round(fraction, 6),
                "eta_seconds": None if eta is None else round(eta, 3)}
