"""The recorder interface: one kind of server-side evidence, one class.

A recorder hooks Django once per process in ``install`` and, while a request is
recorded, adds events to ``current_request``'s record. ``finish`` runs after the
response, off nothing but the request's own thread, to derive what needs the whole
request (N+1 findings from the statements, say). Add a recorder by writing one
subclass and listing it in ``perflab.probe.recorders.RECORDERS``.
"""

from __future__ import annotations

from perflab.probe.context import ActiveRequest
from perflab.probe.settings import ProbeSettings


class Recorder:
    name: str = ""

    def install(self, settings: ProbeSettings) -> None:
        """Hook into Django; called once per process, at app startup."""

    def finish(self, active: ActiveRequest) -> None:
        """Complete the record after the response has been produced."""
