"""What the probe records about one request: plain data, serializable, independent of Django.

The middleware collects a request in an ``ActiveRequest`` (``context``) and queues it as
``frozen_record`` bytes; the writer thread makes it a ``RequestRecord`` and stores it; the
API, the CLI and the report read it back from the store. Nothing here imports Django.

``RequestRecord``'s fields are the one declaration of a record's shape: the queue's layout
(``FROZEN_FIELDS``), ``frozen_record`` and ``RequestRecord.thawed`` are derived from them.
"""

from __future__ import annotations

import functools
import operator
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, fields
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
# path than objects, and queued as plain tuples (``frozen_record``).


class CacheEvent(NamedTuple):
    operation: str  # get, set, delete, get_many, ...
    cache: str  # cache alias
    duration_ms: float
    hits: int = 0
    misses: int = 0
    keys: int = 1
    start_ms: float | None = None  # offset from the start of the request (None: not known)
    location: str | None = None  # the app (or template) line that called it, else the library's


class TemplateEvent(NamedTuple):
    name: str
    duration_ms: float
    start_ms: float | None = None  # offset from the start of the request (None: not known)
    location: str | None = None  # the app line that rendered it, else the library's


class SpanEvent(NamedTuple):
    name: str
    start_ms: float
    duration_ms: float
    depth: int = 0


class RawStatement(NamedTuple):
    """A statement as the request path saw it (``SqlRecorder.execute``); the writer thread
    derives its ``QueryEvent`` (``SqlRecorder.complete``)."""

    sql: str
    params: Any  # a SELECT's parameters, copied (callers reuse theirs), for EXPLAIN; else None
    many: bool  # executemany
    alias: str  # Django database alias
    start_ms: float  # offset from the start of the request
    duration_ms: float
    found: Any  # what ``CallsiteFinder.find`` returned (``perflab.probe.callsite.Where.of``)
    stack: list[str] | None  # full stack, only when STACK_FOR_FINGERPRINTS asks for it


FindingKind = Literal["n_plus_one", "duplicate"]

_DERIVED = {"derived": True}  # made by the writer thread; not in the queue's layout


def _events(kind: type) -> dict[str, type]:
    """The metadata of a field holding ``kind`` named tuples, made on the request path."""
    return {"events": kind}


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
    """One request as stored. The fields marked ``_events`` hold named tuples that the
    request path makes; those marked ``_DERIVED`` are made by the writer thread
    (``Recorder.complete``) and are not part of the queue's layout."""

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
    # statements as the request saw them, turned into ``queries`` by the writer thread
    raw_queries: list[RawStatement] = field(default_factory=list, metadata=_events(RawStatement))
    cache: list[CacheEvent] = field(default_factory=list, metadata=_events(CacheEvent))
    templates: list[TemplateEvent] = field(default_factory=list, metadata=_events(TemplateEvent))
    spans: list[SpanEvent] = field(default_factory=list, metadata=_events(SpanEvent))
    profile: str | None = None  # pyinstrument session JSON, when a rule selected this request
    # derived, last: the queued fields are the leading ones (``_thawer``)
    queries: list[QueryEvent] = field(default_factory=list, metadata=_DERIVED)
    findings: list[Finding] = field(default_factory=list, metadata=_DERIVED)

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
            total += raw.duration_ms
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
        """The record as the writer's queue holds it (``frozen_record``); its derived fields
        are left out."""
        return frozen_record(self)

    @classmethod
    def thawed(cls, frozen: bytes) -> RequestRecord:
        """The record ``frozen_record`` made, as objects again (in the writer thread)."""
        return _thawed(pickle.loads(frozen))

    def detail(self, queries: list[dict[str, Any]]) -> dict[str, Any]:
        """The per-request lists as plain data, with the statements' rows as given: the
        store writes a statement's text once, elsewhere, and refers to it; findings are
        stored once too, in their own table."""
        return {
            "headers": self.headers,
            "query_string": self.query_string,
            "body": self.body,
            "queries": queries,
            "cache": _rows(self.cache),
            "templates": _rows(self.templates),
            "spans": _rows(self.spans),
        }


# The queue's layout: the record's fields that are not derived, in declaration order.
FROZEN_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(RequestRecord) if not f.metadata.get("derived")
)
_RAW_QUERIES = FROZEN_FIELDS.index("raw_queries")


def _compile(source: str, name: str, namespace: dict[str, Any]) -> Callable:
    exec(compile(source, f"<perflab.probe.records {name}>", "exec"), namespace)
    function = namespace[name]
    function.source = source
    return function


def _freezer() -> Callable[[Any], tuple]:
    """``values(source)``: the tuple of ``source``'s ``FROZEN_FIELDS``, read as attributes
    (of an ``ActiveRequest`` or a ``RequestRecord``), event lists as lists of plain tuples.

    Generated once from the declaration: the request path pays for one tuple built of
    attribute loads, as written out by hand, and no loop over names. Events travel as plain
    tuples because pickle writes a named tuple through its ``__reduce_ex__`` (a Python call
    each, ~0.7 µs for a statement against ~0.05 µs for a tuple)."""
    parts = []
    for f in fields(RequestRecord):
        if f.metadata.get("derived"):
            continue
        if f.metadata.get("events"):  # an empty list stays itself: no copy for nothing
            parts.append(f"((e := s.{f.name}) and [*_map(_plain, e)])")
        else:
            parts.append(f"s.{f.name}")
    source = "def values(s):\n    return (" + ", ".join(parts) + ",)\n"
    # ``event[:]``, all in C: the plain tuple of a named tuple (``tuple(event)`` iterates)
    plain = operator.itemgetter(slice(None))
    return _compile(source, "values", {"_map": map, "_plain": plain})


def _thawer() -> Callable[[tuple], RequestRecord]:
    """``thawed(values)``: the ``RequestRecord`` of a tuple ``_frozen_values`` made, event
    lists typed again; generated once from the declaration, as ``_freezer``. The values are
    passed by position (cheaper than by keyword), so the derived fields must come last."""
    names = tuple(f.name for f in fields(RequestRecord))
    if names[: len(FROZEN_FIELDS)] != FROZEN_FIELDS:
        raise TypeError("RequestRecord's derived fields must follow the fields it queues")
    namespace: dict[str, Any] = {"_record": RequestRecord, "_map": map}
    parts = []
    for position, name in enumerate(FROZEN_FIELDS):
        kind = RequestRecord.__dataclass_fields__[name].metadata.get("events")
        if kind is None:
            parts.append(f"v[{position}]")
        else:  # typed again in C (map of a partial of tuple.__new__); an empty list as is
            namespace[f"_{name}"] = functools.partial(tuple.__new__, kind)
            parts.append(f"((e := v[{position}]) and [*_map(_{name}, e)])")
    source = "def thawed(v):\n    return _record(" + ", ".join(parts) + ")\n"
    return _compile(source, "thawed", namespace)


_frozen_values = _freezer()
_thawed = _thawer()


def frozen_record(source: Any) -> bytes:
    """A request's record as bytes, for its wait in the writer's queue: ``source``'s
    ``FROZEN_FIELDS`` (an ``ActiveRequest`` on the request path, which builds no
    ``RequestRecord``; or a record), pickled; ``RequestRecord.thawed`` reverses it.

    A queued record outlives the garbage collector's young generations (the writer takes
    a batch every ``FLUSH_INTERVAL_S``). As objects (a record, its lists, its events) it
    would be traversed by every collection meanwhile and reach the oldest generation,
    bringing the app's full collections forward. Bytes are not tracked by the collector at
    all (benchmarks/RESULTS.md). A statement parameter pickle refuses (an app's own type)
    travels as its repr."""
    values = _frozen_values(source)
    try:
        return pickle.dumps(values, pickle.HIGHEST_PROTOCOL)
    except Exception:  # a statement parameter of the app's own kind that will not pickle
        picklable = list(values)
        picklable[_RAW_QUERIES] = [_with_picklable_params(raw) for raw in values[_RAW_QUERIES]]
        return pickle.dumps(tuple(picklable), pickle.HIGHEST_PROTOCOL)


def _with_picklable_params(raw: tuple) -> tuple:
    statement = RawStatement._make(raw)
    params = statement.params
    if params is None:
        return raw
    try:
        pickle.dumps(params)
    except Exception:
        values = params.values() if isinstance(params, dict) else params
        return tuple(statement._replace(params=tuple(repr(value) for value in values)))
    return raw


def _rows(events: list) -> list[dict[str, Any]]:
    """Events as dicts: their fields hold only JSON values, so ``dataclasses.asdict``'s
    recursive deep copy (the writer's biggest cost on a 60-query request) is not needed."""
    if not events:
        return []
    kind = type(events[0])
    names = getattr(kind, "_fields", None) or kind.__slots__
    return [{name: getattr(event, name) for name in names} for event in events]
