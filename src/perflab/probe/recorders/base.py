"""The recorder interface: one kind of server-side evidence, one class.

A recorder hooks Django once per process in ``install`` and, while a request is
recorded, appends events to the lists of ``current_request`` (an ``ActiveRequest``).
``finish`` runs after the response, in the request's own thread, and ``server_timing``
then names its share of the request's time for the ``Server-Timing`` header. ``complete``
runs later, in the writer thread, on batches of records: whatever can be derived there
(fingerprints, masking, N+1 findings) stays off the request path, where the same work
costs several times more (benchmarks/RESULTS.md). Add a recorder by writing one subclass
and listing its dotted path in ``PERFLAB["RECORDERS"]`` (``perflab.probe.settings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the settings import this module to check recorders
    from perflab.probe.context import ActiveRequest
    from perflab.probe.records import RequestRecord
    from perflab.probe.settings import ProbeSettings

# A Server-Timing entry: (name, milliseconds, description or None). The name is a token
# (letters, digits, ``!#$%&'*+-.^_`|~``); the description printable ASCII without ``"`` or
# ``\``: the middleware drops an entry that is not.
ServerTiming = tuple[str, float, "str | None"]


class Recorder:
    """One instance per class and process (``Probe`` keeps them): ``install`` hooks Django
    globally, and a second instance would record everything twice."""

    name: str = ""

    def install(self, settings: ProbeSettings) -> None:
        """Hook into Django; called at app startup (again when the probe is rebuilt with
        other settings, so it must not hook twice)."""

    def finish(self, active: ActiveRequest) -> None:
        """Add to the request after the response has been produced (request thread; only
        recorders that override it are called)."""

    def server_timing(self, active: ActiveRequest) -> list[ServerTiming]:
        """This recorder's entries in the request's ``Server-Timing`` header (request
        thread, after ``finish``; only recorders that override it are called). Each is a
        part of the request's time: the middleware adds ``app``, the total less every
        part, so parts must not overlap one another."""
        return []

    def complete(self, record: RequestRecord, settings: ProbeSettings) -> None:
        """Derive the rest of the record before it is stored (writer thread; only recorders
        that override it are called); must be idempotent: a batch the store refused is
        completed again before the retry."""
