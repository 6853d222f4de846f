"""The store's rollups per minute and per hour: what the writer keeps at each grain, which
grain a read takes, the timeline, and stores made before the hourly rollups."""

import multiprocessing
import random
import sqlite3
import time

import pytest

from perflab.histogram import LatencyHistogram
from perflab.probe.records import CacheEvent, QueryEvent, RequestRecord
from perflab.probe.store import RecordingStore
from perflab.probe.store.reader import StoreReader, Window
from perflab.probe.store.rollups import HOURLY_ABOVE_S, summary_hourly
from perflab.probe.store.schema import RouteMinute, SqlMinute
from tests.probe.conftest import write_in_batches

HOUR = 3600
T0 = 1_795_000_000.0 // HOUR * HOUR  # an hour's start


def record(n, started, route="api/posts/", duration_ms=10.0, status=200, queries=1,
           cache=(0, 0)):  # fmt: skip
    return RequestRecord(
        request_id=f"r{n}", method="GET", path=f"/{route}{n}", started=started, pid=1,
        route=route, status=status, duration_ms=duration_ms,
        queries=[
            QueryEvent(sql="SELECT 1", fingerprint="SELECT ?", fingerprint_hash=f"h{k % 2}",
                       duration_ms=0.5 + k, alias="default", start_ms=0.0)
            for k in range(queries)
        ],
        cache=[CacheEvent("get", "default", 0.1, hits=cache[0], misses=cache[1])] if any(cache)
        else [],
    )  # fmt: skip


def spread(count, start, seconds, seed=1):
    """Records over ``seconds`` from ``start`` on two routes, of varied figures, in order."""
    rng = random.Random(seed)
    times = sorted(start + rng.random() * seconds for _ in range(count))
    return [
        record(n, t, route=rng.choice(["api/posts/", "api/tags/"]),
               duration_ms=rng.lognormvariate(2, 1), status=rng.choice([200, 200, 500]),
               queries=rng.randint(0, 4), cache=(rng.randint(0, 2), rng.randint(0, 1)))
        for n, t in enumerate(times)
    ]  # fmt: skip


def table(store, name):
    with sqlite3.connect(store.database.path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM {name}")]


def expected_routes(records):
    """A route summary computed from the records themselves."""
    out = {}
    for r in records:
        out.setdefault((r.method, r.route), []).append(r)
    summary = {}
    for key, group in out.items():
        hist = LatencyHistogram()
        hist.record_many_ms(r.duration_ms for r in group)
        hits, misses = sum(r.cache_hits for r in group), sum(r.cache_misses for r in group)
        summary[key] = {
            "count": len(group),
            "error_rate": sum(r.status >= 500 for r in group) / len(group),
            "p50_ms": hist.percentile_ms(50),
            "p95_ms": hist.percentile_ms(95),
            "p99_ms": hist.percentile_ms(99),
            "max_ms": max(r.duration_ms for r in group),
            "mean_queries": sum(r.query_count for r in group) / len(group),
            "cache_hits": hits,
            "cache_misses": misses,
            "cache_hit_rate": hits / (hits + misses) if hits + misses else None,
        }
    return summary


def covered(records, window, first_grain=60):
    """The records a rollup read covers: the minutes from the one holding ``since`` (or
    the ``first_grain`` bucket holding it) to the one holding ``until``, whole."""
    first = window.since // first_grain * first_grain
    end = window.until // 60 * 60 + 60
    return [r for r in records if first <= r.started < end]


def routes_by_key(rows):
    return {(r["method"], r["route"]): r for r in rows}


def assert_routes_match(rows, records):
    got, want = routes_by_key(rows), expected_routes(records)
    assert set(got) == set(want)
    for key, figures in want.items():
        for name, value in figures.items():
            assert got[key][name] == pytest.approx(value), (key, name)


def test_hourly_rows_are_the_sum_of_minute_rows(store):
    records = spread(600, T0 - 1800, 3 * HOUR)
    write_in_batches(store, records, 37)
    minutes, hours = table(store, "perflab_route_rollup"), table(store, "perflab_route_hour")
    assert {h["hour"] % HOUR for h in hours} == {0} and len(hours) == 2 * 4
    for hour in hours:
        parts = [m for m in minutes if m["minute"] // HOUR * HOUR == hour["hour"]
                 and (m["method"], m["route"]) == (hour["method"], hour["route"])]  # fmt: skip
        for name in ("count", "errors", "sum_queries", "cache_hits", "cache_misses"):
            assert hour[name] == sum(m[name] for m in parts), name
        for name in ("sum_ms", "sum_db_ms"):
            assert hour[name] == pytest.approx(sum(m[name] for m in parts)), name
        for name in ("max_ms", "max_queries"):
            assert hour[name] == max(m[name] for m in parts), name
        merged = LatencyHistogram.of_encoded(m["hist"] for m in parts)
        assert LatencyHistogram.decode(hour["hist"]).encode_sparse() == merged.encode_sparse()
    sql_minutes, sql_hours = table(store, "perflab_sql_rollup"), table(store, "perflab_sql_hour")
    assert sql_hours
    for hour in sql_hours:
        key = (hour["fingerprint_hash"], hour["method"], hour["route"])
        parts = [m for m in sql_minutes if m["minute"] // HOUR * HOUR == hour["hour"]
                 and (m["fingerprint_hash"], m["method"], m["route"]) == key]  # fmt: skip
        assert hour["count"] == sum(m["count"] for m in parts)
        assert hour["total_ms"] == pytest.approx(sum(m["total_ms"] for m in parts))
        assert hour["max_ms"] == max(m["max_ms"] for m in parts)
        last = max(parts, key=lambda m: m["last_seen"])
        assert (hour["last_seen"], hour["example_request_id"]) == (
            last["last_seen"], last["example_request_id"],
        )  # fmt: skip
        ran = [r for r in records if r.route == hour["route"]
               and any(q.fingerprint_hash == hour["fingerprint_hash"] for q in r.queries)
               and r.started // HOUR * HOUR == hour["hour"]]  # fmt: skip
        assert hour["example_request_id"] == ran[-1].request_id


def test_routes_read_minutes_up_to_three_hours_and_whole_hours_above(store):
    """Both grains give the records' own figures, over the minutes from the one holding
    ``since`` to the one holding ``until``: an hourly read takes the partial hours at either
    end from the minute rows."""
    records = spread(800, T0, 10 * HOUR, seed=2)
    write_in_batches(store, records, 37)
    until = T0 + 10 * HOUR
    for since in (T0 + 7 * HOUR + 1234.5, T0 + 5 * HOUR + 59, T0 + 2 * HOUR + 3599):
        for length, hourly in ((HOURLY_ABOVE_S, False), (HOURLY_ABOVE_S + 1, True)):
            window = Window(since, since + length)
            assert summary_hourly(window.bounds()) is hourly
            assert_routes_match(store.routes(window), covered(records, window))
    assert_routes_match(store.routes(Window(T0, until)), records)
    assert_routes_match(store.routes(), records)


def test_cache_figures_per_route(store):
    store.write([record(1, T0, cache=(3, 1)), record(2, T0 + 1, cache=(1, 0)),
                 record(3, T0, route="api/tags/")])  # fmt: skip
    routes = routes_by_key(store.routes())
    posts, tags = routes[("GET", "api/posts/")], routes[("GET", "api/tags/")]
    assert (posts["cache_hits"], posts["cache_misses"], posts["cache_hit_rate"]) == (4, 1, 0.8)
    assert (tags["cache_hits"], tags["cache_misses"], tags["cache_hit_rate"]) == (0, 0, None)


def test_timeline_buckets_whole_minutes_or_hours_with_the_records_figures(store):
    records = spread(1500, T0, 30 * HOUR, seed=3)
    write_in_batches(store, records, 200)
    cases = [  # window, route, points -> grain
        (Window(T0 + 600, T0 + 600 + 2 * HOUR), "api/posts/", 120, 120),  # 121 minutes
        (Window(T0 + 600, T0 + 600 + 2 * HOUR), None, 30, 300),
        (Window(T0 + 600, T0 + 600 + 12 * HOUR), None, 120, HOUR),
        (Window(T0, T0 + 30 * HOUR), "api/tags/", 120, 960),
        (Window(T0, T0 + 30 * HOUR), None, 10, 4 * HOUR),
    ]
    for window, route, points, grain in cases:
        timeline = store.timeline(window, method="GET" if route else None, route=route,
                                  points=points)  # fmt: skip
        assert timeline["grain_s"] == grain
        rows = timeline["rows"]
        assert 0 < len(rows) <= points
        buckets = {}
        for r in covered(records, window, first_grain=grain):
            if route is None or r.route == route:
                buckets.setdefault(int(r.started // grain * grain), []).append(r)
        assert [row["t"] for row in rows] == sorted(buckets)
        for row in rows:
            group = buckets[row["t"]]
            hist = LatencyHistogram()
            hist.record_many_ms(r.duration_ms for r in group)
            assert row["count"] == len(group)
            assert row["errors"] == sum(r.status >= 500 for r in group)
            assert row["mean_ms"] == pytest.approx(sum(r.duration_ms for r in group) / len(group))
            assert row["max_ms"] == max(r.duration_ms for r in group)
            assert (row["p50_ms"], row["p95_ms"], row["p99_ms"]) == (
                hist.percentile_ms(50), hist.percentile_ms(95), hist.percentile_ms(99),
            )  # fmt: skip
    assert store.timeline(Window(T0 - 3 * HOUR, T0 - HOUR)) == {"grain_s": 120, "rows": []}


def test_retention_trims_hourly_rows_whose_hour_has_passed(store):
    records = spread(300, T0, 5 * HOUR, seed=4)
    write_in_batches(store, records, 37)
    now = T0 + 5 * HOUR
    store.trim(max_requests=10_000, max_age_s=2.5 * HOUR, now=now)
    cutoff = now - 2.5 * HOUR
    assert min(h["hour"] for h in table(store, "perflab_route_hour")) == cutoff // HOUR * HOUR
    assert min(h["hour"] for h in table(store, "perflab_sql_hour")) == cutoff // HOUR * HOUR
    assert min(m["minute"] for m in table(store, "perflab_route_rollup")) >= cutoff - 60
    # What is left reads the same at both grains: the hour cut by the cutoff from minutes.
    oldest = min(m["minute"] for m in table(store, "perflab_route_rollup"))
    kept = [r for r in records if r.started >= oldest]
    assert_routes_match(store.routes(Window(T0, now)), kept)


# The tables as perflab made them before hourly rollups, cache figures, examples and runs.
OLD_SCHEMA = [
    """CREATE TABLE perflab_request (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT,
       started DOUBLE PRECISION, method TEXT, path TEXT, route TEXT, view TEXT, status BIGINT,
       duration_ms DOUBLE PRECISION, cpu_ms DOUBLE PRECISION, db_ms DOUBLE PRECISION,
       query_count BIGINT, response_bytes BIGINT, user_id TEXT, cache_hits BIGINT,
       cache_misses BIGINT, cache_ms DOUBLE PRECISION, template_ms DOUBLE PRECISION, pid BIGINT,
       profiled BIGINT, detail BLOB, profile BLOB)""",
    "CREATE INDEX perflab_request_rid ON perflab_request (request_id)",
    "CREATE INDEX perflab_request_started ON perflab_request (started)",
    "CREATE INDEX perflab_request_route ON perflab_request (route, started)",
    """CREATE TABLE perflab_route_rollup (minute BIGINT NOT NULL, method TEXT NOT NULL,
       route TEXT NOT NULL, count BIGINT, errors BIGINT, sum_ms DOUBLE PRECISION,
       max_ms DOUBLE PRECISION, sum_queries BIGINT, max_queries BIGINT,
       sum_db_ms DOUBLE PRECISION, hist TEXT, PRIMARY KEY (minute, method, route))""",
    """CREATE TABLE perflab_statement (sql_hash TEXT PRIMARY KEY, sql TEXT NOT NULL,
       last_seen DOUBLE PRECISION)""",
    """CREATE TABLE perflab_sql_rollup (minute BIGINT NOT NULL, fingerprint_hash TEXT NOT NULL,
       method TEXT NOT NULL, route TEXT NOT NULL, fingerprint TEXT, count BIGINT,
       total_ms DOUBLE PRECISION, max_ms DOUBLE PRECISION, last_seen DOUBLE PRECISION,
       PRIMARY KEY (minute, fingerprint_hash, method, route))""",
    """CREATE TABLE perflab_finding (id INTEGER PRIMARY KEY AUTOINCREMENT, request_row BIGINT,
       request_id TEXT, started DOUBLE PRECISION, method TEXT, route TEXT, kind TEXT,
       fingerprint_hash TEXT, fingerprint TEXT, callsite TEXT, count BIGINT,
       total_ms DOUBLE PRECISION, example_sql TEXT, hint TEXT, template TEXT, origin TEXT,
       location TEXT)""",
    "CREATE TABLE perflab_counter (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    """CREATE TABLE perflab_writer (writer TEXT PRIMARY KEY, settled BIGINT NOT NULL,
       last_seen DOUBLE PRECISION)""",
]


def old_records(count, start, seconds, seed=1):
    """Records as that perflab stored them: its rollups kept no cache figures."""
    records = spread(count, start, seconds, seed)
    for r in records:
        r.cache = []
    return records


def old_store(path, records):
    """A store file as an older perflab left it: its tables, and rollup rows of ``records``
    (one per minute and route, HdrHistogram texts), as that perflab's writer wrote them."""
    with sqlite3.connect(path) as db:
        for statement in OLD_SCHEMA:
            db.execute(statement)
        groups = {}
        for r in records:
            groups.setdefault((r.started // 60 * 60, r.method, r.route), []).append(r)
        for (minute, method, route), group in groups.items():
            hist = LatencyHistogram()
            hist.record_many_ms(r.duration_ms for r in group)
            db.execute(
                "INSERT INTO perflab_route_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [minute, method, route, len(group), sum(r.status >= 500 for r in group),
                 sum(r.duration_ms for r in group), max(r.duration_ms for r in group),
                 sum(r.query_count for r in group), max(r.query_count for r in group),
                 sum(r.db_ms for r in group), hist.encode()],
            )  # fmt: skip
            for r in group:
                for q in r.queries:
                    db.execute(
                        """INSERT INTO perflab_sql_rollup VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
                           ON CONFLICT DO UPDATE SET count = count + 1,
                           total_ms = total_ms + excluded.total_ms""",
                        [minute, q.fingerprint_hash, method, route, q.fingerprint,
                         q.duration_ms, q.duration_ms, r.started],
                    )  # fmt: skip


def columns(path, name):
    with sqlite3.connect(path) as db:
        return [c[1] for c in db.execute(f"PRAGMA table_info({name})")]


def test_a_store_made_before_hourly_rollups_is_read_and_then_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    before = old_records(400, T0, 6 * HOUR, seed=5)
    old_store(path, before)
    # Read-only (the CLI, the report): nothing is changed, the missing columns read as none.
    reader = StoreReader.at_path(path, read_only=True)
    assert_routes_match(reader.routes(Window(T0, T0 + 6 * HOUR)), before)
    window = Window(T0 + HOUR, T0 + 2 * HOUR - 1)
    assert_routes_match(reader.routes(window), covered(before, window, 60))
    assert reader.timeline(Window(T0, T0 + 6 * HOUR + 1), points=8)["grain_s"] == HOUR
    (first, *_) = reader.sql(Window(T0, T0 + 6 * HOUR))
    assert first["example_request_id"] is None and first["mean_ms"] > 0
    assert reader.runs() == [] and reader.run_of_request("r1") is None
    assert "cache_hits" not in columns(path, "perflab_route_rollup")
    # The first writer adds what is missing; then the hourly level starts mid-store.
    store = RecordingStore.at_path(path)
    after = spread(300, T0 + 6 * HOUR, 4 * HOUR, seed=6)
    for n, r in enumerate(after):
        r.request_id = f"later{n}"
    write_in_batches(store, after, 37)
    assert columns(path, "perflab_route_rollup")[-2:] == ["cache_hits", "cache_misses"]
    assert columns(path, "perflab_sql_rollup")[-1] == "example_request_id"
    assert set(RouteMinute._fields) <= set(columns(path, "perflab_route_hour"))
    assert set(SqlMinute._fields) <= set(columns(path, "perflab_sql_hour"))
    everything = before + after
    assert_routes_match(store.routes(Window(T0, T0 + 10 * HOUR)), everything)
    assert_routes_match(store.routes(), everything)
    timeline = store.timeline(Window(T0, T0 + 10 * HOUR), points=11)
    assert [row["count"] for row in timeline["rows"]] == [
        sum(T0 + h * HOUR <= r.started < T0 + (h + 1) * HOUR for r in everything) for h in range(10)
    ]
    assert sum(s["count"] for s in store.sql(Window(T0, T0 + 10 * HOUR))) == sum(
        r.query_count for r in everything
    )


def _ensure_schema(path: str) -> list[str]:
    RecordingStore.at_path(path).ensure_schema()
    return columns(path, "perflab_route_rollup")


def test_several_processes_migrating_one_old_store_at_once(tmp_path):
    path = tmp_path / "old.sqlite3"
    old_store(path, old_records(50, T0, HOUR))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_ensure_schema, [str(path)] * 8)
    assert all(r == results[0] for r in results)
    assert results[0].count("cache_hits") == 1 and results[0][-1] == "cache_misses"
    assert_routes_match(RecordingStore.at_path(path).routes(), old_records(50, T0, HOUR))


def test_a_store_read_now_gives_the_minutes_figures_at_either_grain(store):
    """``Window.last_minutes``, open-ended as the dashboard reads them (above 3 hours,
    hourly): the minutes from the one holding ``since``."""
    now = time.time()
    records = [record(n, now - n * 60) for n in range(0, 500, 7)]
    store.write(list(reversed(records)))
    for minutes in (5, 60, 170, 190, 360, 24 * 60, 7 * 24 * 60):
        window = Window.last_minutes(minutes, now=now)
        first = window.since // 60 * 60
        (route,) = store.routes(window)
        assert route["count"] == sum(r.started >= first for r in records), minutes


def test_a_reader_keeps_settled_merges_and_reads_rows_that_changed_again(tmp_path):
    """Rows before the previous hour are merged once per reader; rows written since (another
    process, a late batch) into a settled hour change its signature and are read again, and
    the live hours are merged on each read without changing what is kept."""
    path = tmp_path / "probe.sqlite3"
    writer, reader = RecordingStore.at_path(path), StoreReader.at_path(path, read_only=True)
    now = time.time()
    settled = spread(300, now - 20 * HOUR, 10 * HOUR, seed=8)
    live = spread(40, now - 1500, 1200, seed=9)
    write_in_batches(writer, settled + live, 37)
    window = Window(now - 24 * HOUR, now)
    for moved in (0, 7, 61, 3599):  # the first read merges, the others use what it kept
        moved_window = Window(window.since + moved, window.until)
        assert_routes_match(reader.routes(moved_window), covered(settled + live, moved_window))
        assert_routes_match(reader.routes(window), settled + live)
        timeline = reader.timeline(window, points=30)
        assert sum(row["count"] for row in timeline["rows"]) == len(settled + live)
    late = [record(1000 + n, now - 15 * HOUR + n, duration_ms=900.0 + n) for n in range(5)]
    writer.write(late)
    assert_routes_match(reader.routes(window), settled + live + late)
    timeline = reader.timeline(window, points=30)
    grain = timeline["grain_s"]
    (bucket,) = [row for row in timeline["rows"] if row["t"] == late[0].started // grain * grain]
    assert bucket["max_ms"] == 904.0 and bucket["p99_ms"] == 904.0
    more_live = [record(2000 + n, now - 60 + n, duration_ms=0.5) for n in range(3)]
    writer.write(more_live)
    assert_routes_match(reader.routes(window), settled + live + late + more_live)
