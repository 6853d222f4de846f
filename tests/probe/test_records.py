"""A record's wait in the writer's queue: frozen to bytes, thawed back unchanged."""

import gc
import inspect
from dataclasses import fields
from decimal import Decimal

from perflab.probe.records import (
    CacheEvent,
    RequestRecord,
    SpanEvent,
    TemplateEvent,
    frozen_record,
)


def _record(params=(7,)) -> RequestRecord:
    record = RequestRecord(
        "rid-1", "GET", "/api/posts/7/", 1_700_000_000.0, 42, route="api/posts/<int:pk>/",
        headers={"user-agent": "wrk", "authorization": "Bearer ********"},
    )  # fmt: skip
    record.raw_queries.append(
        ('SELECT "id" FROM "post" WHERE "id" = %s', params, False, "default", 0.5, 0.2,
         "app/views.py:12:detail", None)
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


def test_frozen_record_takes_the_fields_of_a_record_in_order():
    # The writer thaws positionally; queries and findings are derived there, not frozen.
    derived = {"queries", "findings"}
    names = [f.name for f in fields(RequestRecord) if f.name not in derived]
    assert list(inspect.signature(frozen_record).parameters) == names


def test_parameters_that_will_not_pickle_travel_as_their_repr():
    class Adapter:  # an app's own parameter type, local: pickle cannot find it
        def __repr__(self):
            return "Adapter(7)"

    thawed = RequestRecord.thawed(_record(params=(Adapter(), 3)).frozen())
    assert thawed.raw_queries[0][1] == ("Adapter(7)", "3")
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
