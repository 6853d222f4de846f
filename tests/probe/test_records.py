"""A record's wait in the writer's queue: frozen to plain values, thawed back unchanged."""

import gc

from perflab.probe.records import CacheEvent, RequestRecord, SpanEvent, TemplateEvent


def _record() -> RequestRecord:
    record = RequestRecord(
        "rid-1", "GET", "/api/posts/7/", 1_700_000_000.0, 42, route="api/posts/<int:pk>/",
        headers={"user-agent": "wrk", "authorization": "Bearer ********"},
    )  # fmt: skip
    record.raw_queries.append(
        ('SELECT "id" FROM "post" WHERE "id" = %s', (7,), False, "default", 0.5, 0.2,
         "app/views.py:12:detail", None)
    )  # fmt: skip
    record.cache.append(CacheEvent("get", "default", 0.1, hits=1))
    record.templates.append(TemplateEvent("post.html", 1.5))
    record.spans.append(SpanEvent("serialise", 0.3, 0.9, depth=1))
    return record


def test_thawed_equals_the_record_frozen():
    record = _record()
    thawed = RequestRecord.thawed(record.frozen())
    assert thawed == record
    thawed.cache.append(CacheEvent("set", "default", 0.1))  # mutable again, a copy
    assert len(record.cache) == 1
    assert thawed.headers == {"user-agent": "wrk", "authorization": "Bearer ********"}


def test_a_frozen_record_is_left_alone_by_the_garbage_collector():
    # What keeps queued records out of the oldest generation (and the app's full
    # collections from coming sooner): each collection untracks one more level of tuples.
    frozen = _record().frozen()
    for _ in range(4):
        gc.collect()
    assert not gc.is_tracked(frozen)


def test_a_record_as_objects_is_not():
    record = _record()
    gc.collect()
    assert gc.is_tracked(record)
