"""The store and its writer: batches, rollups, retention, and a store that fails."""

import gc
import sqlite3
import threading
import time

import pytest
from hdrh.histogram import HdrHistogram

from perflab.histogram import LatencyHistogram
from perflab.probe.fingerprint import fingerprint_sql
from perflab.probe.records import Finding, QueryEvent, RequestRecord
from perflab.probe.settings import parse_settings
from perflab.probe.store import RecordingStore
from perflab.probe.store.batches import STATEMENT_GRACE_S, unpack
from perflab.probe.store.reader import Window
from perflab.probe.store.schema import FINDING_FIELDS, FindingRow
from perflab.probe.writer import BackgroundWriter


def record(n: int, route="api/posts/", duration_ms=10.0, status=200, started=None, queries=1):
    return RequestRecord(
        request_id=f"r{n}", method="GET", path=f"/{route}", started=started or time.time(),
        pid=1, route=route, status=status, duration_ms=duration_ms,
        queries=[
            QueryEvent(sql="SELECT 1", fingerprint="SELECT ?", fingerprint_hash="h1",
                       duration_ms=1.0, alias="default", start_ms=0.0)
            for _ in range(queries)
        ],
    )  # fmt: skip


def settings_for(tmp_path, **overrides):
    return parse_settings({"FLUSH_INTERVAL_S": 0.05, **overrides}, tmp_path / "probe.sqlite3")


def test_route_summary_percentiles_come_from_the_rollups(store):
    # 1..100 ms, one request each: p50 = 50, p95 = 95, p99 = 99, to HDR's 3 digits.
    store.write([record(n, duration_ms=float(n), queries=n % 3) for n in range(1, 101)])
    store.write([record(1000, route="api/tags/", status=500)])
    posts, tags = sorted(store.routes(), key=lambda r: r["route"])
    assert posts["count"] == 100
    percentiles = (posts["p50_ms"], posts["p95_ms"], posts["p99_ms"])
    assert percentiles == pytest.approx((50.0, 95.0, 99.0), rel=1e-3)
    assert posts["max_ms"] == 100.0
    assert posts["mean_queries"] == pytest.approx(sum(n % 3 for n in range(1, 101)) / 100)
    assert tags["error_rate"] == 1.0


def test_sql_totals_and_findings_are_aggregated(store):
    rec = record(1, queries=6)
    rec.findings = [Finding("n_plus_one", "h1", "SELECT ?", "app.py:3:f", 6, 6.0, "SELECT 1")]
    store.write([rec, record(2, queries=2)])
    (total,) = store.sql()
    assert (total["count"], total["total_ms"]) == (8, 8.0)
    (finding,) = store.findings()
    assert (finding["requests"], finding["callsite"], finding["per_request"]) == (
        1,
        "app.py:3:f",
        6,
    )


def test_retention_keeps_the_newest_requests_and_drops_old_ones(store):
    now = time.time()
    store.write([record(n, started=now - 10) for n in range(50)])
    store.write([record(100, started=now - 10_000)])
    store.trim(max_requests=1000, max_age_s=3600, now=now)
    assert store.request_count() == 50  # the one older than an hour is gone
    store.trim(max_requests=20, max_age_s=3600, now=now)
    assert store.request_count() == 20
    assert {r["request_id"] for r in store.requests(limit=100)} == {f"r{n}" for n in range(30, 50)}


def test_writer_writes_in_the_background(tmp_path):
    writer = BackgroundWriter(
        RecordingStore.at_path(tmp_path / "s.sqlite3"), settings_for(tmp_path)
    )
    for n in range(250):
        assert writer.submit(record(n).frozen())
    deadline = time.monotonic() + 10
    while writer.stats.written < 250 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.stats.written == 250
    assert writer.store.request_count() == 250
    writer.close()


def test_a_locked_store_delays_writes_but_loses_nothing(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = RecordingStore.at_path(path)
    store.ensure_schema()
    writer = BackgroundWriter(store, settings_for(tmp_path, QUEUE_SIZE=1000))
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    for n in range(100):
        assert writer.submit(record(n).frozen())  # submit never blocks, even now
    time.sleep(0.5)
    assert writer.stats.written == 0
    locker.execute("COMMIT")
    locker.close()
    assert writer.flush(timeout=20)
    assert store.request_count() == 100
    assert writer.stats.dropped_queue_full == writer.stats.dropped_store_error == 0
    writer.close()


@pytest.mark.serial  # a wall-clock bound and fixed waits for the writer thread
def test_an_unwritable_store_drops_and_counts_without_blocking(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    store = RecordingStore.at_path(blocker / "probe.sqlite3")
    writer = BackgroundWriter(store, settings_for(tmp_path, QUEUE_SIZE=10))
    started = time.perf_counter()
    accepted = sum(writer.submit(record(n).frozen()) for n in range(200))
    assert time.perf_counter() - started < 0.5  # 200 submits, no waiting on the store
    time.sleep(0.3)
    stats = writer.stats
    assert stats.submitted == 200
    assert stats.dropped_queue_full + stats.dropped_store_error >= 200 - 20
    assert stats.write_errors >= 1 and "not-a-directory" in stats.last_error
    assert accepted + stats.dropped_queue_full == 200
    writer.close(flush_timeout=0.2)


def test_writers_in_several_threads_share_one_store(tmp_path):
    path = tmp_path / "shared.sqlite3"
    writers = [
        BackgroundWriter(RecordingStore.at_path(path), settings_for(tmp_path)) for _ in range(3)
    ]

    def feed(writer, base):
        for n in range(100):
            writer.submit(record(base + n).frozen())

    threads = [threading.Thread(target=feed, args=(w, i * 1000)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for writer in writers:
        assert writer.flush(timeout=20)
        writer.close()
    store = RecordingStore.at_path(path)
    assert store.request_count() == 300
    assert store.routes()[0]["count"] == 300


@pytest.mark.serial  # a wall-clock bound and fixed waits for the writer thread
def test_the_writer_applies_retention_as_it_writes(tmp_path):
    settings = settings_for(tmp_path, MAX_REQUESTS=50, RETENTION_INTERVAL_S=0)
    writer = BackgroundWriter(RecordingStore.at_path(tmp_path / "s.sqlite3"), settings)
    for n in range(300):
        writer.submit(record(n).frozen())
    deadline = time.monotonic() + 10
    while writer.stats.written < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the trim after the last batch
    assert writer.stats.written == 300
    kept = {r["request_id"] for r in writer.store.requests(limit=1000)}
    assert kept == {f"r{n}" for n in range(250, 300)}
    assert writer.store.routes()[0]["count"] == 300  # rollups keep the totals
    writer.close()


def query(sql: str, duration_ms: float = 1.0) -> QueryEvent:
    fingerprint = fingerprint_sql(sql)
    return QueryEvent(sql=sql, fingerprint=fingerprint, fingerprint_hash="h2",
                      duration_ms=duration_ms, alias="default", start_ms=0.0)  # fmt: skip


def test_statements_are_stored_once_and_read_back_with_their_fingerprint(tmp_path):
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    sql = 'SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."id" IN (%s, %s, %s)'
    other = 'SELECT "blog_tag"."name" FROM "blog_tag"'
    first, second = record(1), record(2)
    first.queries = [query(sql), query(sql, 2.0), query(other)]
    second.queries = [query(other)]
    store.write([first])
    store.write([second])
    with sqlite3.connect(tmp_path / "probe.sqlite3") as db:
        documents = [bytes(d) for (d,) in db.execute("SELECT detail FROM perflab_request")]
        texts = sorted(t for (t,) in db.execute("SELECT sql FROM perflab_statement"))
    assert texts == sorted([sql, other])  # each text once, for every request using it
    for document in documents:
        assert b"blog_" not in document and b'"fingerprint"' not in document
    queries = store.request(request_id="r1")["queries"]
    assert [(q["sql"], q["duration_ms"]) for q in queries] == [(sql, 1.0), (sql, 2.0), (other, 1.0)]
    assert "sql_hash" not in queries[0]
    assert (
        queries[0]["fingerprint"]
        == fingerprint_sql(sql)
        == ('SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."id" IN (...)')
    )
    assert store.request(request_id="r2")["queries"][0]["sql"] == other


def test_retention_drops_statement_texts_no_kept_request_uses(store, monkeypatch):
    clock = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # when each batch is written
    old, recent = record(1, started=clock[0]), record(2, started=clock[0] + 1000)
    old.queries = [query("SELECT old"), query("SELECT shared")]
    recent.queries = [query("SELECT recent"), query("SELECT shared")]
    store.write([old])
    clock[0] += 1000
    store.write([recent])

    def texts():
        return sorted(r["sql"] for r in store._read("SELECT sql FROM perflab_statement"))

    store.trim(max_requests=10, max_age_s=3600)
    assert texts() == ["SELECT old", "SELECT recent", "SELECT shared"]  # both kept
    store.trim(max_requests=1, max_age_s=3600)  # r1 goes
    assert texts() == ["SELECT recent", "SELECT shared"]
    assert [q["sql"] for q in store.request(request_id="r2")["queries"]] == [
        "SELECT recent", "SELECT shared",
    ]  # fmt: skip
    clock[0] += STATEMENT_GRACE_S - 1  # r2 is gone, but a batch written now may use them
    store.trim(max_requests=10, max_age_s=STATEMENT_GRACE_S / 2)
    assert store.request_count() == 0
    assert texts() == ["SELECT recent", "SELECT shared"]
    clock[0] += 2
    store.trim(max_requests=10, max_age_s=STATEMENT_GRACE_S / 2)
    assert texts() == []


def test_documents_written_before_statements_were_split_out_still_read(store):
    store.write([record(1)])
    legacy = (
        b'{"headers":{},"query_string":"","body":null,"queries":[{"sql":"SELECT 2",'
        b'"fingerprint_hash":"h","duration_ms":1.5,"alias":"default","start_ms":0.0,'
        b'"callsite":null,"params":null,"many":false,"stack":null}],"cache":[],'
        b'"templates":[],"spans":[],"findings":[]}'
    )
    with sqlite3.connect(store.database.path) as db:
        db.execute("UPDATE perflab_request SET detail = ?", [legacy])
    (q,) = store.request(request_id="r1")["queries"]
    assert (q["sql"], q["fingerprint"], q["duration_ms"]) == ("SELECT 2", "SELECT ?", 1.5)


def test_the_writer_completes_raw_statements_once_before_storing(tmp_path):
    from perflab.probe.recorders.sql import SqlRecorder
    from perflab.probe.records import RawStatement

    settings = settings_for(tmp_path, NPLUSONE_THRESHOLD=3)
    sql = 'SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."id" = %s'
    raw = record(1, queries=0)
    where = "app.py:7:loop"  # what CallsiteFinder.find gives for a call site alone
    raw.raw_queries = [RawStatement(sql, (n,), False, "default", float(n), 0.5, where, None)
                       for n in range(4)]  # fmt: skip
    assert (raw.query_count, raw.db_ms) == (4, 2.0)  # Server-Timing needs them before
    recorder = SqlRecorder()
    writer = BackgroundWriter(
        RecordingStore.at_path(tmp_path / "s.sqlite3"), settings,
        complete=lambda r: recorder.complete(r, settings),
    )  # fmt: skip
    writer.submit(raw.frozen())
    assert writer.flush()
    recorder.complete(raw, settings)  # a retried batch is completed again: no change
    assert (raw.query_count, raw.db_ms, len(raw.findings)) == (4, 2.0, 1)
    stored = writer.store.request(request_id="r1")
    assert [q["params"] for q in stored["queries"]] == [[0], [1], [2], [3]]
    assert stored["queries"][0]["fingerprint"].endswith('"auth_user"."id" = ?')
    assert stored["findings"][0]["kind"] == "n_plus_one"
    assert stored["findings"][0]["count"] == 4
    assert stored["findings"][0]["location"] == "app.py:7:loop"
    writer.close()


def test_a_record_that_cannot_be_completed_is_still_stored(tmp_path):
    def broken(record):
        raise RuntimeError("probe bug")

    writer = BackgroundWriter(
        RecordingStore.at_path(tmp_path / "s.sqlite3"), settings_for(tmp_path), complete=broken
    )
    writer.submit(record(1).frozen())
    assert writer.flush()
    assert writer.stats.complete_errors == 1
    assert writer.store.request(request_id="r1")["status"] == 200
    writer.close()


@pytest.mark.parametrize("app_disabled_gc", [False, True])
def test_no_garbage_collection_while_a_batch_is_written(tmp_path, app_disabled_gc):
    """A batch's objects die together; a collection among them would age them (collector.py)."""
    store = RecordingStore.at_path(tmp_path / "s.sqlite3")
    writer = BackgroundWriter(store, settings_for(tmp_path, FLUSH_INTERVAL_S=60))
    seen = []
    original = store._merge_route_rollups  # runs inside the write transaction
    store._merge_route_rollups = lambda *a: seen.append(gc.isenabled()) or original(*a)
    if app_disabled_gc:
        gc.disable()
    try:
        writer.submit(record(1).frozen())
        assert writer.flush()
        assert seen == [False]
        assert gc.isenabled() is not app_disabled_gc  # the app's choice, as it was
    finally:
        gc.enable()
        writer.close()


def test_the_collector_runs_while_the_writer_waits_for_a_locked_store(tmp_path):
    """Another process holding the store's lock must not stop the app's garbage collection
    for as long as it holds it: the pause covers the writer's own work only."""
    path = tmp_path / "s.sqlite3"
    store = RecordingStore.at_path(path)
    store.ensure_schema()
    writer = BackgroundWriter(store, settings_for(tmp_path, FLUSH_INTERVAL_S=60))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the lock another process would hold
    samples: list[bool] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(gc.isenabled())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    writer.submit(record(1).frozen())
    try:
        sampler.start()
        flushing = threading.Thread(target=writer.flush, args=(30.0,))
        flushing.start()
        time.sleep(1.0)  # the writer is waiting for the lock all this time
        waiting = list(samples)
        holder.execute("COMMIT")
        flushing.join(30)
    finally:
        done.set()
        sampler.join()
        holder.close()
        writer.close()
    assert len(waiting) > 50 and all(waiting), waiting.count(False)
    assert store.request(request_id="r1") is not None


def test_routes_count_distinct_findings_of_each_kind_apart(tmp_path):
    """A route re-reading one row on every request has one duplicate finding, not one per
    request, and never adds it to its N+1s (``findings`` counts finding rows)."""
    store = RecordingStore.at_path(tmp_path / "s.sqlite3")
    duplicate = Finding("duplicate", "hd", "SELECT ?", "app.py:3:f", 2, 2.0, "SELECT 1")
    loop = Finding("n_plus_one", "hn", "SELECT ?", None, 6, 6.0, "SELECT 2",
                   location="card.html:5")  # fmt: skip
    records = [record(n) for n in range(4)]
    for r in records:
        r.findings = [duplicate]
    records[0].findings = [duplicate, loop]
    store.write(records)
    (route,) = store.routes()
    assert (route["findings"], route["n_plus_one"], route["duplicates"]) == (5, 1, 1)
    assert store.routes(Window(since=time.time() + 120)) == []


def test_every_listing_reads_one_window(store):
    """Routes, requests, findings and SQL of one run, with another run in the same store."""
    run = 1_795_000_000.0
    loop = Finding("n_plus_one", "h1", "SELECT ?", "app.py:3:f", 6, 6.0, "SELECT 1")
    first = [record(n, started=run + n, queries=6) for n in range(3)]
    first[0].findings = [loop]
    later = record(9, route="api/tags/", started=run + 3600, queries=2)
    later.queries[0].fingerprint_hash = later.queries[1].fingerprint_hash = "h2"
    later.findings = [Finding("duplicate", "h2", "SELECT ?", "app.py:9:g", 2, 2.0, "SELECT 1")]
    store.write([*first, later])
    window = Window(run, run + 60)
    assert {r["route"] for r in store.routes(window)} == {"api/posts/"}
    assert {r["request_id"] for r in store.requests(window)} == {"r0", "r1", "r2"}
    assert [f["kind"] for f in store.findings(window)] == ["n_plus_one"]
    assert [(s["fingerprint_hash"], s["count"]) for s in store.sql(window)] == [("h1", 18)]
    assert store.request_count(window) == 3
    assert store.request_count(Window(since=run + 3000)) == 1
    assert [f["kind"] for f in store.findings(Window(until=run + 60))] == ["n_plus_one"]
    assert {f["kind"] for f in store.findings()} == {"n_plus_one", "duplicate"}
    assert Window.last_minutes(5, now=run) == Window(since=run - 300)
    assert Window.last_minutes(None) == Window()


def test_a_finding_is_stored_once_and_read_wherever_it_was_shown(store):
    """In ``perflab_finding`` only: not in the request's document, not as a count column of
    the request or the rollup; the request, the listings and the routes still show it."""
    loop = Finding("n_plus_one", "h1", "SELECT ?", "app.py:3:f", 6, 6.0, "SELECT 1",
                   location="app.py:3:f")  # fmt: skip
    with_loop = record(1, queries=6)
    with_loop.findings = [loop]
    store.write([with_loop, record(2)])
    with sqlite3.connect(store.database.path) as db:
        (detail,) = db.execute(
            "SELECT detail FROM perflab_request WHERE request_id = 'r1'"
        ).fetchone()
        columns = {
            table: {c[1] for c in db.execute(f"PRAGMA table_info({table})")}
            for table in ("perflab_request", "perflab_route_rollup")
        }
        stored = db.execute("SELECT COUNT(*) FROM perflab_finding").fetchone()[0]
    assert "findings" not in unpack(detail)
    assert "finding_count" not in columns["perflab_request"]
    assert "findings" not in columns["perflab_route_rollup"]
    assert stored == 1
    one = store.request(request_id="r1")
    assert (one["finding_count"], one["findings"][0]["kind"], one["findings"][0]["count"]) == (
        1, "n_plus_one", 6,
    )  # fmt: skip
    assert list(one["findings"][0]) == list(FINDING_FIELDS)
    assert store.request(request_id="r2")["findings"] == []
    counts = {r["request_id"]: r["finding_count"] for r in store.requests()}
    assert counts == {"r1": 1, "r2": 0}
    assert [r["request_id"] for r in store.requests(with_findings=True)] == ["r1"]
    (route,) = store.routes()
    assert (route["findings"], route["n_plus_one"], route["duplicates"]) == (1, 1, 0)


def test_the_finding_table_holds_the_finding_fields():
    assert FindingRow._fields[-len(FINDING_FIELDS) :] == FINDING_FIELDS


def test_rollup_histograms_are_sparse_latency_histograms_and_hdr_rows_still_read(store):
    """The runner's histogram class: percentiles never above the true maximum (HDR's bucket
    top overshoots it). Rows hold the sparse text; a row an older perflab wrote holds the
    HdrHistogram text, and both are read (and merged) alike."""
    started = 1_795_000_000.0
    store.write([record(n, duration_ms=1234.567, started=started) for n in range(3)])
    (route,) = store.routes()
    assert route["p50_ms"] == route["p99_ms"] == route["max_ms"] == 1234.567
    with sqlite3.connect(store.database.path) as db:
        (text,) = db.execute("SELECT hist FROM perflab_route_rollup").fetchone()
    assert text.startswith("s1:")
    assert LatencyHistogram.decode(text).count == 3
    old = LatencyHistogram()
    old.record_ms(5.0, 2)
    hdr = HdrHistogram.decode(old.encode().rsplit(":", 1)[1].encode())
    assert hdr.get_total_count() == 2  # the older text: a standard HdrHistogram payload
    with sqlite3.connect(store.database.path) as db:
        db.execute(
            "INSERT INTO perflab_route_rollup (minute, method, route, count, errors, sum_ms, "
            "max_ms, sum_queries, max_queries, sum_db_ms, hist) "
            "VALUES (?, 'GET', 'api/posts/', 2, 0, 10.0, 5.0, 0, 0, 0.0, ?)",
            [started // 60 * 60 - 60, old.encode()],
        )
    (route,) = store.routes()
    assert (route["count"], route["p50_ms"], route["max_ms"]) == (5, 1234.567, 1234.567)
    timeline = store.timeline(Window(started - 120, started + 60))
    assert [(r["count"], r["p50_ms"]) for r in timeline["rows"]] == [(2, 5.0), (3, 1234.567)]


@pytest.mark.database
@pytest.mark.django_db
def test_a_store_on_a_database_alias_writes_and_reads_the_same():
    """The same batches, windows, findings and retention through a ``DATABASES`` alias (on
    PostgreSQL in ``make test``'s database pass: row locks, identity ids, ``RETURNING``)."""
    store = RecordingStore.from_settings({"ALIAS": "default"})
    run = time.time() - 600
    loop = Finding("n_plus_one", "h1", "SELECT ?", "app.py:3:f", 6, 6.0, "SELECT 1")
    records = [record(n, started=run + n, duration_ms=float(n + 1), queries=6) for n in range(4)]
    records[0].findings = [loop]
    store.write(records, {"dropped": 2}, writer=("host:1:1", 4))
    store.write([record(9, started=run + 3600, queries=1)])
    window = Window(run, run + 60)
    (route,) = store.routes(window)
    assert (route["count"], route["findings"], route["n_plus_one"]) == (4, 1, 1)
    assert route["p50_ms"] <= route["p99_ms"] <= route["max_ms"] == 4.0
    assert store.request_count(window) == 4 and store.request_count() == 5
    assert [(s["count"], s["routes"]) for s in store.sql(window)] == [(24, 1)]
    assert [f["requests"] for f in store.findings(window)] == [1]
    one = store.request(request_id="r0")
    assert (one["finding_count"], len(one["queries"])) == (1, 6)
    assert [r["request_id"] for r in store.requests(window, with_findings=True)] == ["r0"]
    assert store.settle_dead_writer("host:1:1", submitted=10, settled=3) == 6
    assert store.counters() == {"dropped": 2, "lost_in_dead_process": 6}
    assert store.trim(max_requests=100, max_age_s=300) == 4  # the run is 10 minutes old
    assert store.findings() == [] and store.routes(window) == [] and store.sql(window) == []


def test_a_rollup_merged_by_another_writer_meanwhile_is_read_again(tmp_path):
    """A writer keeps the histogram it last wrote to skip decoding it, only while the row
    still holds that text: another process's merge in between is never lost."""
    path, started = tmp_path / "s.sqlite3", time.time()
    mine, other = RecordingStore.at_path(path), RecordingStore.at_path(path)
    mine.write([record(n, duration_ms=1.0, started=started) for n in range(10)])
    other.write([record(n, duration_ms=100.0, started=started) for n in range(10, 20)])
    mine.write([record(n, duration_ms=1.0, started=started) for n in range(20, 30)])
    mine.write([record(n, duration_ms=1.0, started=started) for n in range(30, 40)])
    (route,) = mine.routes()
    assert (route["count"], route["p50_ms"], route["p99_ms"]) == (40, 1.0, 100.0)
    with sqlite3.connect(path) as db:
        (text,) = db.execute("SELECT hist FROM perflab_route_rollup").fetchone()
    assert LatencyHistogram.decode(text).count == 40
