"""What the probe records about one request: plain data, serializable, independent of Django.

The middleware fills a ``RequestRecord``; the writer stores it; the API, the CLI and
the report read it back from the store. Nothing here imports Django.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import chain
from operator import attrgetter
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
    params: list[Any] | None = None  # kept for SELECTs only (for EXPLAIN), secrets masked
    many: bool = False  # executemany
    stack: list[str] | None = None  # full stack, only when a rule asks for it


# The events a request adds while it runs are named tuples, not objects: a record waits
# in the writer's queue as a tuple of plain values (``RequestRecord.frozen``).


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
    # (sql, params, many, alias, start_ms, duration_ms, callsite, stack)
    raw_queries: list[tuple] = field(default_factory=list)
    cache: list[CacheEvent] = field(default_factory=list)
    templates: list[TemplateEvent] = field(default_factory=list)
    spans: list[SpanEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    profile: str | None = None  # pyinstrument session JSON, when a rule selected this request

    @property
    def query_count(self) -> int:
        return len(self.queries) + len(self.raw_queries)

    @property
    def db_ms(self) -> float:
        return sum(q.duration_ms for q in self.queries) + sum(r[5] for r in self.raw_queries)

    @property
    def cache_hits(self) -> int:
        return sum(c.hits for c in self.cache)

    @property
    def cache_misses(self) -> int:
        return sum(c.misses for c in self.cache)

    @property
    def cache_ms(self) -> float:
        return sum(c.duration_ms for c in self.cache)

    @property
    def template_ms(self) -> float:
        return sum(t.duration_ms for t in self.templates)

    def frozen(self) -> tuple:
        """The record as one tuple of plain values, for its wait in the writer's queue.

        A queued record outlives the garbage collector's young generations. As objects (the
        record, its lists, its events) it would reach the oldest generation and bring the
        app's full collections forward (detail endpoint: 10 instead of 8 per 8,000
        requests, ~15 µs per request). A tuple holding only strings, numbers and such
        tuples is untracked by the collector after a collection or two and costs it
        nothing afterwards; a dict or a tuple subclass (a named tuple) inside keeps it
        tracked, so headers travel as name, value, name, value, ... and events as plain
        tuples."""
        values = list(_all_fields(self))
        for index, plain, _ in _FROZEN_FORMS:
            values[index] = plain(values[index])
        return tuple(values)

    @classmethod
    def thawed(cls, values: tuple) -> RequestRecord:
        """The record ``frozen`` made, mutable again (in the writer thread)."""
        values = list(values)
        for index, _, restore in _FROZEN_FORMS:
            values[index] = restore(values[index])
        return cls(*values)

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
            "findings": _rows(self.findings),
        }


_FIELD_NAMES = [f.name for f in fields(RequestRecord)]
_all_fields = attrgetter(*_FIELD_NAMES)


def _as_events(kind: type[NamedTuple]):
    return lambda plain: [kind._make(event) for event in plain]


def _flat_items(mapping: dict) -> tuple:
    return tuple(chain.from_iterable(mapping.items()))


def _from_flat_items(flat: tuple) -> dict:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _plain_events(events: list) -> tuple:
    return tuple(map(tuple, events))


# (field, to a plain value, back); fields not listed hold plain values already. ``queries``
# and ``findings`` are filled in the writer thread: empty while a record is queued.
_FROZEN_FORMS = tuple(
    (_FIELD_NAMES.index(name), plain, restore)
    for name, plain, restore in (
        ("headers", _flat_items, _from_flat_items),
        ("queries", tuple, list),
        ("raw_queries", tuple, list),
        ("cache", _plain_events, _as_events(CacheEvent)),
        ("templates", _plain_events, _as_events(TemplateEvent)),
        ("spans", _plain_events, _as_events(SpanEvent)),
        ("findings", tuple, list),
    )
)


def _rows(events: list) -> list[dict[str, Any]]:
    """Events as dicts: their fields hold only JSON values, so ``dataclasses.asdict``'s
    recursive deep copy (the writer's biggest cost on a 60-query request) is not needed."""
    if not events:
        return []
    kind = type(events[0])
    names = getattr(kind, "_fields", None) or kind.__slots__
    return [{name: getattr(event, name) for name in names} for event in events]
