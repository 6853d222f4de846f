"""The per-process background writer: requests hand over records, never wait for the store.

``submit`` appends a record to a bounded queue (a ``deque``: appending and popping are
atomic under the GIL, ~20 ns against ~900 for ``queue.Queue``'s lock and condition, and
the writer wakes on a timer, so nothing needs notifying) and returns; when the queue is
full the record is dropped and counted. A daemon thread drains the queue in batches into the
``RecordingStore``, applies retention now and then, and keeps a batch that failed
(store locked, full, unwritable) to retry, up to the queue's size, so a store that
comes back loses nothing. It flushes at interpreter exit. Started lazily and again
after a fork, so it works under gunicorn with or without ``--preload``.
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from perflab.probe.database import StoreUnavailable
from perflab.probe.process import current_pid
from perflab.probe.records import RequestRecord
from perflab.probe.settings import ProbeSettings
from perflab.probe.store import RecordingStore

logger = logging.getLogger("perflab.probe")
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class WriterStats:
    """Counters of this process (GET /perf/api/status/ shows them)."""

    submitted: int = 0
    written: int = 0
    dropped_queue_full: int = 0  # the queue was full: the request was served, not recorded
    dropped_store_error: int = 0  # the store stayed unusable until the backlog overflowed
    write_errors: int = 0
    complete_errors: int = 0  # records stored without their derived parts (a probe bug)
    last_error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class BackgroundWriter:
    def __init__(
        self,
        store: RecordingStore,
        settings: ProbeSettings,
        complete: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        """``complete`` finishes each record in this thread before it is stored (the
        recorders' ``complete``: what the request path left raw)."""
        self.store = store
        self.settings = settings
        self._complete = complete
        self.stats = WriterStats()
        self._queue: deque[bytes] = deque()  # frozen records (records.frozen_record)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self._io_lock = threading.Lock()  # the writer thread and flush() take turns
        self._stop = threading.Event()
        self._backlog: list[RequestRecord] = []  # a batch the store refused, to retry
        self._unsaved_drops = 0  # drops not yet added to the store's counters
        self._last_trim = 0.0
        atexit.register(self.close)

    # -- request side ---------------------------------------------------------------------

    def submit(self, frozen: bytes) -> bool:
        """Queue a record, as ``frozen_record`` (or ``RequestRecord.frozen``) gives it; False
        (and counted) when the queue is full. Never blocks."""
        if self._pid != current_pid():
            self._start()
        self.stats.submitted += 1
        # Threaded workers may pass the check together and overshoot by a record or two.
        if len(self._queue) >= self.settings.QUEUE_SIZE:
            self.stats.dropped_queue_full += 1
            self._unsaved_drops += 1
            return False
        self._queue.append(frozen)  # bytes: nothing for the collector while it waits
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == current_pid():
                return
            # After a fork the parent's thread and queue contents are not ours.
            self._pid = current_pid()
            self._queue = deque()
            self._backlog = []
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="perflab-writer", daemon=True)
            self._thread.start()

    def pending(self) -> int:
        """Records accepted but not written yet: queued, or kept for a retry."""
        return len(self._queue) + len(self._backlog)

    # -- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        # Wake on a timer, not per record: one batch per interval keeps the writer's share
        # of the GIL (and its per-transaction cost) small while requests are served.
        failures = 0
        while not self._stop.wait(self._delay(failures)):
            failures = 0 if self._drain() else failures + 1
            if not failures:
                self._maybe_trim()

    def _delay(self, failures: int) -> float:
        if not failures:
            return self.settings.FLUSH_INTERVAL_S
        return RETRY_BACKOFF_S[min(failures, len(RETRY_BACKOFF_S)) - 1]

    def _drain(self) -> bool:
        """Write what is queued, a batch at a time; False when the store refused one."""
        while True:
            with self._io_lock, _collector_paused():
                batch = self._next_batch()
                if not batch and not self._unsaved_drops:
                    return True
                if not self._write(batch):
                    return False
            if len(batch) < self.settings.BATCH_SIZE:
                return True

    def _next_batch(self) -> list[RequestRecord]:
        batch, self._backlog = self._backlog, []
        limit = self.settings.BATCH_SIZE
        queued = self._queue
        while len(batch) < limit and queued:
            batch.append(RequestRecord.thawed(queued.popleft()))
        return batch

    def _write(self, batch: list[RequestRecord]) -> bool:
        drops = self._unsaved_drops
        if self._complete is not None:
            for record in batch:
                try:
                    self._complete(record)
                except Exception:  # store what was recorded; the derived parts are lost
                    self.stats.complete_errors += 1
                    if self.stats.complete_errors == 1:
                        logger.exception("perflab: could not complete a request record")
                    record.raw_queries = []
        try:
            self.store.write(batch, {"dropped": drops})
        except StoreUnavailable as exc:
            self._keep_for_retry(batch, exc)
            return False
        except Exception as exc:  # the probe must not die with the store; keep counting
            logger.exception("perflab: unexpected error writing to %s", self.store)
            self._keep_for_retry(batch, exc)
            return False
        self._unsaved_drops -= drops
        self.stats.written += len(batch)
        return True

    def _keep_for_retry(self, batch: list[RequestRecord], exc: Exception) -> None:
        self.stats.write_errors += 1
        if self.stats.last_error != str(exc):
            logger.warning("perflab: cannot write to the store, will retry: %s", exc)
        self.stats.last_error = str(exc)
        room = self.settings.QUEUE_SIZE - len(self._queue)
        kept = batch[: max(room, 0)] if len(batch) > room else batch
        overflow = len(batch) - len(kept)
        if overflow:
            self.stats.dropped_store_error += overflow
            self._unsaved_drops += overflow
        self._backlog = kept

    def _maybe_trim(self) -> None:
        now = time.monotonic()
        if self._last_trim and now - self._last_trim < self.settings.RETENTION_INTERVAL_S:
            return
        self._last_trim = now
        try:
            self.store.trim(self.settings.MAX_REQUESTS, self.settings.MAX_AGE_S)
        except Exception as exc:  # retention can wait for the next round
            logger.warning("perflab: retention failed: %s", exc)

    # -- shutdown -------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued now (from the calling thread); True when all was written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._drain() and self.pending() == 0:
                return True
            time.sleep(0.1)
        return False

    def close(self, flush_timeout: float = 5.0) -> None:
        """Stop the thread and write what is left (at exit; idempotent)."""
        if self._pid != current_pid() or self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._thread = None
        if not self.flush(flush_timeout):
            logger.error(
                "perflab: %d records could not be written to %s before exit: %s",
                self.pending(), self.store, self.stats.last_error,
            )  # fmt: skip


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while a batch is written.

    A batch's objects (records made mutable again, their statements, rows, documents)
    are alive together for a few milliseconds; a collection in that window would move
    thousands of them to the oldest generation, where they die at once but bring the
    app's full collections forward (detail endpoint: 10 instead of 8 per 8,000
    requests). Left alone when the app runs with the collector disabled."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
