"""The dashboard's store reads through a ``DATABASES`` alias: on PostgreSQL in
``make test-postgres`` (``ON CONFLICT`` upserts of the hourly rows, ``ADD COLUMN IF NOT
EXISTS``, the path index's "C" collation, ``SUBSTR`` of a run's prefix), on the test
database's SQLite otherwise."""

import time

import pytest
from django.db import connections

from perflab.histogram import LatencyHistogram
from perflab.probe.store import RecordingStore
from perflab.probe.store.reader import Window
from tests.probe.conftest import write_in_batches
from tests.probe.test_store_reads import expected_findings, run, traffic, with_findings
from tests.probe.test_store_rollups import assert_routes_match, covered

pytestmark = [pytest.mark.database, pytest.mark.django_db]

HOUR = 3600


@pytest.fixture
def store():
    return RecordingStore.from_settings({"ALIAS": "default"})


def test_hourly_rollups_sql_and_findings_on_an_alias(store):
    start = (time.time() - 12 * HOUR) // HOUR * HOUR
    records = with_findings(traffic(400, start, 8 * HOUR, seed=11))
    write_in_batches(store, records, 50)
    window = Window(start + 1234.5, start + 7 * HOUR + 99)
    ran = covered(records, window)
    assert_routes_match(store.routes(window), ran)
    assert_routes_match(store.routes(Window(start + 600, start + 3000)),
                        covered(records, Window(start + 600, start + 3000)))  # fmt: skip
    timeline = store.timeline(window, points=10)
    assert timeline["grain_s"] == HOUR
    assert sum(row["count"] for row in timeline["rows"]) == len(
        covered(records, window, first_grain=HOUR)
    )
    hours = store._read("SELECT hist FROM perflab_route_hour")
    minutes = store._read("SELECT hist FROM perflab_route_rollup")
    assert (
        LatencyHistogram.of_encoded(r["hist"] for r in hours).summary()
        == LatencyHistogram.of_encoded(r["hist"] for r in minutes).summary()
    )
    sql = store.sql(window)
    assert sum(s["count"] for s in sql) == sum(r.query_count for r in ran)
    for row in sql:
        last = [r for r in ran if any(q.fingerprint_hash == row["fingerprint_hash"]
                                      for q in r.queries)][-1]  # fmt: skip
        assert row["example_request_id"] == last.request_id
        assert row["mean_ms"] == pytest.approx(row["total_ms"] / row["count"])
    (top, *_) = sql
    assert (
        sum(r["count"] for r in store.sql_routes(window, top["fingerprint_hash"])) == top["count"]
    )
    exact = [r for r in records if window.since <= r.started <= window.until]
    findings = store.findings(window, limit=1000)
    want = expected_findings(exact)
    assert len(findings) == len(want)
    for row in findings:
        key = (row["kind"], row["method"], row["route"], row["fingerprint_hash"], row["location"])
        assert row["requests"] == want[key]["requests"]
        assert row["per_request"] == pytest.approx(want[key]["per_request"])


def test_runs_paths_and_query_counts_on_an_alias(store):
    start = time.time() - HOUR
    records = traffic(120, start, 600, seed=12)
    write_in_batches(store, records, 50)
    for prefix in ("/blog/", "/blog/100%", "/api/tags/"):
        want = [r.request_id for r in reversed(records) if r.path.startswith(prefix)]
        assert [r["request_id"] for r in store.requests(path_prefix=prefix, limit=500)] == want
    counts = store.query_counts(Window(start - 1), method="GET", route="api/tags/")
    mine = [r for r in records if (r.method, r.route) == ("GET", "api/tags/")]
    assert sum(c["requests"] for c in counts) == len(mine)
    store.save_run(run("c_d%", request_id_prefix="pl-c_d%-"))
    store.save_run(run("c_d%", status="completed", requests=9))
    (saved,) = store.runs()
    assert (saved["status"], saved["requests"], saved["request_id_prefix"]) == (
        "completed", 9, "pl-c_d%-",
    )  # fmt: skip
    assert store.run_of_request("pl-c_d%-1")["run_id"] == "c_d%"
    assert store.run_of_request("pl-cXdY-1") is None


def test_a_column_missing_from_an_alias_store_is_added(store):
    store.ensure_schema()
    with connections["default"].cursor() as cursor:
        cursor.execute("ALTER TABLE perflab_sql_hour DROP COLUMN example_request_id")
    store._schema.at = None  # as a new process would find the store
    store.ensure_schema()
    store.ensure_schema()  # once there, nothing more to add
    write_in_batches(store, traffic(20, time.time() - 600, 300, seed=13), 50)
    assert all(s["example_request_id"] for s in store.sql(Window(time.time() - 4 * HOUR)))
