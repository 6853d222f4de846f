"""A record's wait in the writer's queue: frozen to bytes, thawed back unchanged."""

import gc
import pickle
from dataclasses import fields
from decimal import Decimal

from perflab.probe.context import ActiveRequest
from perflab.probe.records import (
    FROZEN_FIELDS,
    CacheEvent,
    RawStatement,
    RequestRecord,
    SpanEvent,
    TemplateEvent,
)
from perflab.probe.settings import parse_settings


def _record(params=(7,)) -> RequestRecord:
    record = RequestRecord(
        "rid-1", "GET", "/api/posts/7/", 1_700_000_000.0, 42, route="api/posts/<int:pk>/",
        headers={"user-agent": "wrk", "authorization": "Bearer ********"},
    )  # fmt: skip
    record.raw_queries.append(
        RawStatement('SELECT "id" FROM "post" WHERE "id" = %s', params, False, "default", 0.5,
                     0.2, "app/views.py:12:detail", None)
    )  # fmt: skip
    record.cache.append(CacheEvent("get", "default", 0.1, hits=1))
    record.templates.append(TemplateEvent("post.html", 1.5))
    record.spans.append(SpanEvent("serialise", 0.3, 0.9, depth=1))
    return record


def test_thawed_equals_the_record_frozen():
    record = _record(params=(7, Decimal("1.5")))
    thawed = RequestRecord.thawed(record.frozen())
    assert thawed == record
    thawed.cache.append(CacheEvent("set", "default", 0.1))  # a copy, mutable
    assert len(record.cache) == 1
    assert thawed.headers == {"user-agent": "wrk", "authorization": "Bearer ********"}


def test_the_queue_holds_the_fields_the_writer_does_not_derive():
    derived = {"queries", "findings"}
    assert tuple(f.name for f in fields(RequestRecord) if f.name not in derived) == FROZEN_FIELDS
    values = pickle.loads(_record().frozen())
    assert len(values) == len(FROZEN_FIELDS)
    # events travel as plain tuples (a named tuple pickles through a Python call each)
    assert type(values[FROZEN_FIELDS.index("raw_queries")][0]) is tuple


def test_a_request_path_record_thaws_into_the_record_of_the_same_fields(tmp_path):
    settings = parse_settings(None, tmp_path / "probe.sqlite3")
    expected = _record()
    active = ActiveRequest(settings, "rid-1", "GET", "/api/posts/7/", 42, "", expected.headers)
    for name in FROZEN_FIELDS:  # what the middleware and the recorders set, by name
        setattr(active, name, getattr(expected, name))
    thawed = RequestRecord.thawed(active.frozen())
    assert thawed == expected
    assert type(thawed.raw_queries[0]) is RawStatement
    assert thawed.raw_queries[0].duration_ms == 0.2
    assert thawed.cache[0].hits == 1 and thawed.db_ms == 0.2


def test_parameters_that_will_not_pickle_travel_as_their_repr():
    class Adapter:  # an app's own parameter type, local: pickle cannot find it
        def __repr__(self):
            return "Adapter(7)"

    thawed = RequestRecord.thawed(_record(params=(Adapter(), 3)).frozen())
    assert thawed.raw_queries[0].params == ("Adapter(7)", "3")
    assert thawed.raw_queries[0].duration_ms == 0.2
    assert thawed.spans == [SpanEvent("serialise", 0.3, 0.9, depth=1)]


def test_queued_records_are_nothing_for_the_garbage_collector():
    # What keeps queued records out of the oldest generation (and the app's full
    # collections from coming sooner): the collector neither tracks nor traverses them.
    gc.collect()
    tracked_before = len(gc.get_objects())
    queued = [_record().frozen() for _ in range(1000)]
    gc.collect()
    assert len(gc.get_objects()) - tracked_before < 50
    assert not any(gc.is_tracked(frozen) for frozen in queued)


def test_a_record_as_objects_is_not():
    record = _record()
    gc.collect()
    assert gc.is_tracked(record)
