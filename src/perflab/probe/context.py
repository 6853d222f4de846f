"""The request being recorded, in a context variable: per thread and per asyncio task.

Recorders (SQL, cache, templates, spans) look it up on every event; outside a recorded
request it is ``None`` and they get out of the way at the cost of one lookup.
``asgiref`` copies the context into ``sync_to_async`` threads, so ORM calls made from
async views land in the right record.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from perflab.probe.records import RequestRecord
from perflab.probe.settings import ProbeSettings


class ActiveRequest:
    """A record being filled, with the clocks and counters recorders need while it runs."""

    __slots__ = ("cache_depth", "callsite_memo", "profile_staff_only", "profiler", "record",
                 "settings", "skipped_queries", "span_depth", "t0")  # fmt: skip

    def __init__(self, record: RequestRecord, settings: ProbeSettings) -> None:
        self.record = record
        self.settings = settings
        self.profiler = None  # a RequestProfiler when a rule selected this request
        self.profile_staff_only = False
        self.t0 = time.perf_counter()
        self.skipped_queries = 0  # beyond MAX_QUERIES_PER_REQUEST: counted, not kept
        self.span_depth = 0
        self.cache_depth = 0  # cache methods calling each other count once
        self.callsite_memo: list = []  # the last call site found (CallsiteFinder.find)

    def offset_ms(self, moment: float) -> float:
        return (moment - self.t0) * 1000.0


current_request: ContextVar[ActiveRequest | None] = ContextVar("perflab_request", default=None)
