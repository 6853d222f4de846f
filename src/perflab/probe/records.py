"""What the probe records about one request: plain data, serializable, independent of Django.

The middleware collects a request in an ``ActiveRequest`` (``context``) and queues it as
``frozen_record`` bytes; the writer thread makes it a ``RequestRecord`` and stores it; the
API, the CLI and the report read it back from the store. Nothing here imports Django.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple


@dataclass(slots=True)
class QueryEvent:
    sql: str  # as the database driver received it, parameterised (%s placeholders)
    fingerprint: str  # literals and IN-lists collapsed: the same statement shape, same text
    fingerprint_hash: str
    duration_ms: float
    alias: str  # Django database alias
    start_ms: float  # offset from the start of the request
    callsite: str | None = None  # "path/file.py:42:function", first frame in the app's code
    template: str | None = None  # "blog/card.html:5": the template line being rendered
    origin: str | None = None  # no app frame: the serializer field, else the first non-ORM frame
    location: str | None = None  # callsite, template and origin as one, innermost first
    params: list[Any] | None = None  # kept for SELECTs only (for EXPLAIN), secrets masked
    many: bool = False  # executemany
    stack: list[str] | None = None  # full stack, only when a rule asks for it


# The events a request adds while it runs are named tuples: cheaper to make on the request
# path than objects, and pickled small for the writer's queue (``frozen_record``).


class CacheEvent(NamedTuple):
    operation: str  # get, set, delete, get_many, ...
    cache: str  # cache alias
    duration_ms: float
    hits: int = 0
    misses: int = 0
    keys: int = 1


class TemplateEvent(NamedTuple):
    name: str
    duration_ms: float


class SpanEvent(NamedTuple):
    name: str
    start_ms: float
    duration_ms: float
    depth: int = 0


FindingKind = Literal["n_plus_one", "duplicate"]


@dataclass(slots=True)
class Finding:
    kind: FindingKind
    fingerprint_hash: str
    fingerprint: str
    callsite: str | None
    count: int  # statements in this request
    total_ms: float
    example_sql: str
    hint: str | None = None  # e.g. "select_related('profile')"
    template: str | None = None
    origin: str | None = None
    location: str | None = None  # where it is, as ``QueryEvent.location``


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float  # unix time, seconds
    pid: int
    route: str = ""  # Django route pattern, e.g. "api/posts/<int:pk>/"
    view: str = ""  # dotted view name
    status: int = 0
    duration_ms: float = 0.0
    cpu_ms: float = 0.0
    response_bytes: int = 0
    user_id: str | None = None
    query_string: str = ""  # secrets masked
    headers: dict[str, str] = field(default_factory=dict)  # secrets masked
    body: str | None = None  # only with CAPTURE_BODY, secrets masked
    queries: list[QueryEvent] = field(default_factory=list)
    # statements as the request saw them, turned into ``queries`` by the writer thread:
    # (sql, params, many, alias, start_ms, duration_ms, found, stack); ``found`` is what
    # ``CallsiteFinder.find`` returned (``perflab.probe.callsite.Where.of`` reads it)
    raw_queries: list[tuple] = field(default_factory=list)
    cache: list[CacheEvent] = field(default_factory=list)
    templates: list[TemplateEvent] = field(default_factory=list)
    spans: list[SpanEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    profile: str | None = None  # pyinstrument session JSON, when a rule selected this request

    # Summed in the writer for every record; most lists are empty (cache, templates), and
    # a loop costs less than ``sum`` over a generator, which makes one even for nothing.

    @property
    def query_count(self) -> int:
        return len(self.queries) + len(self.raw_queries)

    @property
    def db_ms(self) -> float:
        total = 0.0
        for query in self.queries:
            total += query.duration_ms
        for raw in self.raw_queries:
            total += raw[5]
        return total

    @property
    def cache_hits(self) -> int:
        return sum(c.hits for c in self.cache) if self.cache else 0

    @property
    def cache_misses(self) -> int:
        return sum(c.misses for c in self.cache) if self.cache else 0

    @property
    def cache_ms(self) -> float:
        return sum(c.duration_ms for c in self.cache) if self.cache else 0.0

    @property
    def template_ms(self) -> float:
        return sum(t.duration_ms for t in self.templates) if self.templates else 0.0

    def frozen(self) -> bytes:
        """The record as ``frozen_record`` gives it (its queries and findings, derived in the
        writer thread, are left out)."""
        return frozen_record(
            self.request_id, self.method, self.path, self.started, self.pid, self.route,
            self.view, self.status, self.duration_ms, self.cpu_ms, self.response_bytes,
            self.user_id, self.query_string, self.headers, self.body, self.raw_queries,
            self.cache, self.templates, self.spans, self.profile,
        )  # fmt: skip

    @classmethod
    def thawed(cls, frozen: bytes) -> RequestRecord:
        """The record ``frozen_record`` made, as objects again (in the writer thread)."""
        return cls(*pickle.loads(frozen))

    def detail(self, queries: list[dict[str, Any]]) -> dict[str, Any]:
        """The per-request lists as plain data, with the statements' rows as given: the
        store writes a statement's text once, elsewhere, and refers to it."""
        return {
            "headers": self.headers,
            "query_string": self.query_string,
            "body": self.body,
            "queries": queries,
            "cache": _rows(self.cache),
            "templates": _rows(self.templates),
            "spans": _rows(self.spans),
        }


def frozen_record(
    request_id: str,
    method: str,
    path: str,
    started: float,
    pid: int,
    route: str,
    view: str,
    status: int,
    duration_ms: float,
    cpu_ms: float,
    response_bytes: int,
    user_id: str | None,
    query_string: str,
    headers: dict[str, str],
    body: str | None,
    raw_queries: list[tuple],
    cache: list[CacheEvent],
    templates: list[TemplateEvent],
    spans: list[SpanEvent],
    profile: str | None,
) -> bytes:
    """A request's record as bytes, for its wait in the writer's queue (``RequestRecord``'s
    fields in order; ``RequestRecord.thawed`` makes it a record again).

    A queued record outlives the garbage collector's young generations (the writer takes
    a batch every ``FLUSH_INTERVAL_S``). As objects (a record, its lists, its events) it
    would be traversed by every collection meanwhile and reach the oldest generation,
    bringing the app's full collections forward (detail endpoint: 10 instead of 8 per
    8,000 requests). Bytes are not tracked by the collector at all. Pickling costs ~4-5
    µs in place (marshal the same; a tuple of plain values ~1 µs, but the collector ages
    it: 2-3 more full collections per 24,000 detail requests). A statement parameter
    pickle refuses (an app's own type) travels as its repr. The request path calls this
    directly (``ActiveRequest.frozen``): no ``RequestRecord`` is built per request."""
    values = (request_id, method, path, started, pid, route, view, status, duration_ms, cpu_ms,
              response_bytes, user_id, query_string, headers, body, [], raw_queries, cache,
              templates, spans, [], profile)  # fmt: skip
    try:
        return pickle.dumps(values, pickle.HIGHEST_PROTOCOL)
    except Exception:  # a statement parameter of the app's own kind that will not pickle
        raw_queries = [_with_picklable_params(raw) for raw in raw_queries]
        return pickle.dumps((*values[:16], raw_queries, *values[17:]), pickle.HIGHEST_PROTOCOL)


def _with_picklable_params(raw: tuple) -> tuple:
    params = raw[1]
    if params is None:
        return raw
    try:
        pickle.dumps(params)
    except Exception:
        values = params.values() if isinstance(params, dict) else params
        params = tuple(repr(value) for value in values)
    return (raw[0], params, *raw[2:])


def _rows(events: list) -> list[dict[str, Any]]:
    """Events as dicts: their fields hold only JSON values, so ``dataclasses.asdict``'s
    recursive deep copy (the writer's biggest cost on a 60-query request) is not needed."""
    if not events:
        return []
    kind = type(events[0])
    names = getattr(kind, "_fields", None) or kind.__slots__
    return [{name: getattr(event, name) for name in names} for event in events]
