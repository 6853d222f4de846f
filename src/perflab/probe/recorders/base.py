"""The recorder interface: one kind of server-side evidence, one class.

A recorder hooks Django once per process in ``install`` and, while a request is
recorded, appends events to the lists of ``current_request`` (an ``ActiveRequest``).
``finish`` runs after the response, in the request's own thread. ``complete`` runs
later, in the writer thread, on batches of records: whatever can be derived there
(fingerprints, masking, N+1 findings) stays off the request path, where the same work
costs several times more (benchmarks/RESULTS.md). Add a recorder by writing one
subclass and listing it in ``perflab.probe.recorders.RECORDERS``.
"""

from __future__ import annotations

from perflab.probe.context import ActiveRequest
from perflab.probe.records import RequestRecord
from perflab.probe.settings import ProbeSettings


class Recorder:
    name: str = ""

    def install(self, settings: ProbeSettings) -> None:
        """Hook into Django; called once per process, at app startup."""

    def finish(self, active: ActiveRequest) -> None:
        """Add to the request after the response has been produced (request thread; only
        recorders that override it are called)."""

    def complete(self, record: RequestRecord, settings: ProbeSettings) -> None:
        """Derive the rest of the record before it is stored (writer thread; only recorders
        that override it are called); must be idempotent: a batch the store refused is
        completed again before the retry."""
