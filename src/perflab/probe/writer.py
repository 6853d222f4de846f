"""The per-process background writer: requests hand over records, never wait for the store.

``submit`` appends a record to a bounded queue (a ``deque``: appending and popping are
atomic under the GIL, ~20 ns against ~900 for ``queue.Queue``'s lock and condition, and
the writer wakes on a timer, so nothing needs notifying) and returns; when the queue is
full the record is dropped and counted. A daemon thread drains the queue in batches into the
``RecordingStore``, applies retention now and then, and keeps a batch that failed
(store locked, full, unwritable, deleted or replaced) to retry, up to the queue's size,
so a store that comes back loses nothing; what overflows is counted. It flushes at
interpreter exit. Started lazily and again after a fork, so it works under gunicorn with
or without ``--preload``.

Every record taken is written or counted as lost: ``dropped`` (queue full, or the store
refused batches until the backlog overflowed) in the store's counters with the next batch
that goes through, and ``lost_in_dead_process`` for records a killed process held, which
another process counts from the dead one's ledger (``perflab.probe.ledger``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from perflab.probe.collector import collector_paused
from perflab.probe.database import StoreUnavailable
from perflab.probe.ledger import Ledger, dead_ledgers, ledger_directory
from perflab.probe.process import current_pid
from perflab.probe.records import RequestRecord
from perflab.probe.settings import ProbeSettings
from perflab.probe.store import RecordingStore
from perflab.probe.store.schema import DROPPED, LOST_IN_DEAD_PROCESS

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
    # Why a kill of this process would lose records uncounted ("" when it would not).
    ledger_problem: str = ""
    settled_dead: int = 0  # records lost in dead processes that this one counted

    def as_dict(self) -> dict:
        return asdict(self)


class BackgroundWriter:
    def __init__(
        self,
        store: RecordingStore,
        settings: ProbeSettings,
        complete: Callable[[RequestRecord], None] | None = None,
        ledgers: Path | None = None,
    ) -> None:
        """``complete`` finishes each record in this thread before it is stored (the
        recorders' ``complete``: what the request path left raw). ``ledgers``: where the
        processes writing to this store keep their ledgers (by default ``ledger_directory``)."""
        self.store = store
        self.settings = settings
        self._complete = complete
        self._ledgers = ledgers or ledger_directory(settings.STORE)
        self._ledger: Ledger | None = None
        self._taken = 0  # records this process took (its ledger's count)
        self._settled = 0  # of which written, or counted as dropped, in the store
        self.stats = WriterStats()
        self._queue: deque[bytes] = deque()  # frozen records (records.frozen_record)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self._io_lock = threading.Lock()  # the writer thread and flush() take turns
        self._stop = threading.Event()
        self._backlog: list[RequestRecord] = []  # a batch the store refused, to retry
        self._unsaved_drops = 0  # drops not yet added to the store's counters
        self._last_tidy = 0.0
        atexit.register(self.close)

    # -- request side ---------------------------------------------------------------------

    def submit(self, frozen: bytes) -> bool:
        """Queue a record, as ``frozen_record`` (or ``RequestRecord.frozen``) gives it; False
        (and counted) when the queue is full. Never blocks."""
        if self._pid != current_pid():
            self._start()
        self.stats.submitted += 1
        self._taken += 1
        self._ledger.took(self._taken)
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
            self._taken = self._settled = 0
            self._ledger = Ledger(self._ledgers)
            self.stats.ledger_problem = self._ledger.problem
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
        self._maybe_tidy()  # first thing: a restarted worker counts what a killed one held
        failures = 0
        while not self._stop.wait(self._delay(failures)):
            failures = 0 if self._drain() else failures + 1
            if not failures:
                self._maybe_tidy()

    def _delay(self, failures: int) -> float:
        if not failures:
            return self.settings.FLUSH_INTERVAL_S
        return RETRY_BACKOFF_S[min(failures, len(RETRY_BACKOFF_S)) - 1]

    def _drain(self) -> bool:
        """Write what is queued, a batch at a time; False when the store refused one."""
        while True:
            with self._io_lock:
                with collector_paused():  # the writer's own work; the store's waits are not
                    batch = self._next_batch()
                if not batch and not self._unsaved_drops:
                    return True
                if not self._write(batch):
                    return False
            if len(batch) < self.settings.BATCH_SIZE:
                return True

    def _next_batch(self) -> list[RequestRecord]:
        """The backlog a failed write left (complete already), then new records, completed."""
        batch, self._backlog = self._backlog, []
        limit = self.settings.BATCH_SIZE
        queued = self._queue
        while len(batch) < limit and queued:
            record = RequestRecord.thawed(queued.popleft())
            if self._complete is not None:
                self._completed(record)
            batch.append(record)
        return batch

    def _completed(self, record: RequestRecord) -> None:
        try:
            self._complete(record)
        except Exception:  # store what was recorded; the derived parts are lost
            self.stats.complete_errors += 1
            if self.stats.complete_errors == 1:
                logger.exception("perflab: could not complete a request record")
            record.raw_queries = []

    def _write(self, batch: list[RequestRecord]) -> bool:
        drops = self._unsaved_drops
        settled = self._settled + len(batch) + drops
        try:
            self.store.write(batch, {DROPPED: drops}, writer=(self._ledger.key, settled))
        except StoreUnavailable as exc:
            self._keep_for_retry(batch, exc)
            return False
        except Exception as exc:  # the probe must not die with the store; keep counting
            logger.exception("perflab: unexpected error writing to %s", self.store)
            self._keep_for_retry(batch, exc)
            return False
        self._unsaved_drops -= drops
        self.stats.written += len(batch)
        self._settled = settled
        self._ledger.settled(settled)
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

    def _maybe_tidy(self) -> None:
        """Now and then: count what dead processes left unwritten, apply retention."""
        now = time.monotonic()
        if self._last_tidy and now - self._last_tidy < self.settings.RETENTION_INTERVAL_S:
            return
        self._last_tidy = now
        self.settle_dead_processes()
        try:
            self.store.trim(self.settings.MAX_REQUESTS, self.settings.MAX_AGE_S)
        except Exception as exc:  # retention can wait for the next round
            logger.warning("perflab: retention failed: %s", exc)

    def settle_dead_processes(self) -> int:
        """Count, in the store, the records that processes of this host held when they died
        (their ledgers); returns how many."""
        total = 0
        for dead in dead_ledgers(self._ledgers):
            try:
                lost = self.store.settle_dead_writer(dead.key, dead.taken, dead.settled)
            except Exception as exc:  # the store is unusable now: another round will do it
                dead.release()
                logger.warning("perflab: cannot count a dead process's records yet: %s", exc)
                break
            dead.settle()
            if lost:
                logger.warning(
                    "perflab: process %s ended with %d records unwritten; counted as %s",
                    dead.key,
                    lost,
                    LOST_IN_DEAD_PROCESS,
                )
            total += lost
        self.stats.settled_dead += total
        return total

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
        if self.flush(flush_timeout) and not self._unsaved_drops:
            with contextlib.suppress(Exception):  # else its row goes with retention
                self.store.forget_writer(self._ledger.key)
            self._ledger.close(remove=True)
            return
        self._ledger.close(remove=False)  # the next process to look counts them as lost
        logger.error(
            "perflab: %d records could not be written to %s before exit (%s); %s",
            self.pending() + self._unsaved_drops, self.store, self.stats.last_error,
            "the next process to write there counts them as lost" if not self._ledger.problem
            else "they are lost uncounted: " + self._ledger.problem,
        )  # fmt: skip
