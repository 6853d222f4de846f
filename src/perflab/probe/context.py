"""The request being recorded, in a context variable: per thread and per asyncio task.

Recorders (SQL, cache, templates, spans) look it up on every event; outside a recorded
request it is ``None`` and they get out of the way at the cost of one lookup.
``asgiref`` copies the context into ``sync_to_async`` threads, so ORM calls made from
async views land in the right record.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from perflab.probe.records import FROZEN_FIELDS, RawStatement, frozen_record
from perflab.probe.settings import ProbeSettings


class ActiveRequest:
    """What is known of a request while it runs, and the lists recorders append to.

    Not a ``RequestRecord``: the request path builds no record object, only the bytes
    ``frozen`` hands to the writer; the writer thread makes the record. Its attributes
    are named as the record's fields (``records.FROZEN_FIELDS``, from which ``frozen``
    reads them): those known at the start are set here, the rest (``route``, ``view``,
    ``status``, ``duration_ms``, ``cpu_ms``, ``response_bytes``, ``user_id``, ``profile``)
    by the middleware once the response is known. Events are named tuples:
    ``RawStatement``, ``CacheEvent``, ``TemplateEvent``, ``SpanEvent``."""

    __slots__ = (*FROZEN_FIELDS, "cache_depth", "callsite_memo", "cpu0", "profile_staff_only",
                 "profiler", "rendering", "settings", "skipped_queries", "span_depth",
                 "t0")  # fmt: skip

    def __init__(
        self,
        settings: ProbeSettings,
        request_id: str,
        method: str,
        path: str,
        pid: int,
        query_string: str,
        headers: dict[str, str],
    ) -> None:
        self.settings = settings
        self.request_id = request_id
        self.method = method
        self.path = path
        self.pid = pid
        self.query_string = query_string  # secrets masked
        self.headers = headers  # secrets masked
        self.body: str | None = None  # only with CAPTURE_BODY, secrets masked
        self.raw_queries: list[RawStatement] = []
        self.cache: list = []
        self.templates: list = []
        self.spans: list = []
        self.profiler = None  # a RequestProfiler when a rule selected this request
        self.profile_staff_only = False
        self.skipped_queries = 0  # beyond MAX_QUERIES_PER_REQUEST: counted, not kept
        self.span_depth = 0
        self.cache_depth = 0  # cache methods calling each other count once
        self.callsite_memo: list = []  # the last call site found (CallsiteFinder.find)
        self.rendering = 0  # templates being rendered now (nested: includes, inclusion tags)
        self.started = time.time()
        self.t0 = time.perf_counter()
        self.cpu0 = time.thread_time()

    def absorb(self, inner: ActiveRequest) -> None:
        """Take the events of a recording nested in this one (the probe's middleware inside
        a test capture's request, a capture inside another): both saw them happen."""
        shift = (inner.t0 - self.t0) * 1000.0
        self.raw_queries += [q._replace(start_ms=q.start_ms + shift) for q in inner.raw_queries]
        self.cache += [_shifted(c, shift) for c in inner.cache]
        self.templates += [_shifted(t, shift) for t in inner.templates]
        self.spans += [s._replace(start_ms=s.start_ms + shift) for s in inner.spans]
        self.skipped_queries += inner.skipped_queries

    def offset_ms(self, moment: float) -> float:
        return (moment - self.t0) * 1000.0

    def frozen(self) -> bytes:
        """The finished request's record, as the writer's queue holds it."""
        return frozen_record(self)


def _shifted(event, shift: float):
    return event if event.start_ms is None else event._replace(start_ms=event.start_ms + shift)


current_request: ContextVar[ActiveRequest | None] = ContextVar("perflab_request", default=None)
