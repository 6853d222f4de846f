"""The probe's store, in three parts: ``schema`` (the tables, each row's columns declared
once), ``batches`` (the writer side: batches, rollups, counters, retention) and ``reader``
(every read, each over a ``Window`` of time).

``RecordingStore`` is both sides over one database, as the probe needs them (its writer
thread writes, its API reads), and the one name the app, the tests and the CLI open a store
by; a reader that must never write can open ``StoreReader`` alone.
"""

from __future__ import annotations

from perflab.probe.store.batches import StoreBatches
from perflab.probe.store.reader import StoreReader


class RecordingStore(StoreBatches, StoreReader):
    """A probe store: written in batches by the probe's writer thread, read by its API."""
