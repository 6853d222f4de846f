"""The dashboard's reads of the store: SQL by shape and by route, query counts, requests by
path prefix, and the load-test runs a store registers."""

import random
import sqlite3

import pytest

from perflab.probe.records import Finding, QueryEvent, RequestRecord
from perflab.probe.store import reader
from perflab.probe.store.reader import Window
from perflab.probe.store.schema import READ_TABLES, RunRow
from tests.probe.conftest import write_in_batches

HOUR = 3600
T0 = 1_795_000_000.0 // HOUR * HOUR


def query(shape: int, ms: float) -> QueryEvent:
    return QueryEvent(sql=f"SELECT {shape} FROM t WHERE id = 1", fingerprint=f"SELECT {shape}",
                      fingerprint_hash=f"h{shape}", duration_ms=ms, alias="default",
                      start_ms=0.0)  # fmt: skip


def traffic(count: int, start: float, seconds: float, seed: int = 1) -> list[RequestRecord]:
    """Requests in time order on three routes, each running some of four statement shapes."""
    rng = random.Random(seed)
    records = []
    for n, started in enumerate(sorted(start + rng.random() * seconds for _ in range(count))):
        route = rng.choice(["api/posts/", "api/tags/", "blog/<slug:slug>/"])
        queries = [query(rng.randint(0, 3), round(rng.uniform(0.1, 5.0), 3))
                   for _ in range(rng.randint(0, 6))]  # fmt: skip
        records.append(RequestRecord(
            request_id=f"req-{n}", method=rng.choice(["GET", "GET", "POST"]),
            path=f"/{route.replace('<slug:slug>', rng.choice(['a', 'b_c', '100%']))}{n % 7}",
            started=started, pid=1, route=route, status=200, duration_ms=5.0, queries=queries,
        ))  # fmt: skip
    return records


def inside(records, window):
    """What rollups cover: the minutes from the one holding ``since`` to the one holding
    ``until``, whole."""
    first = window.since // 60 * 60
    end = window.until // 60 * 60 + 60
    return [r for r in records if first <= r.started < end]


@pytest.mark.parametrize("hours", [1, 5])  # minute rows, then hour rows
def test_sql_by_shape_with_mean_and_the_last_request_that_ran_it(store, hours):
    records = traffic(900, T0, 8 * HOUR)
    write_in_batches(store, records, 50)
    window = Window(T0 + HOUR + 1000, T0 + HOUR + 1000 + hours * HOUR)
    ran = inside(records, window)
    for route in (None, "api/tags/"):
        rows = store.sql(window, route=route)
        want = {}
        for r in ran:
            if route is None or r.route == route:
                for q in r.queries:
                    want.setdefault(q.fingerprint_hash, []).append((r, q))
        assert [row["fingerprint_hash"] for row in rows] == sorted(
            want, key=lambda h: -sum(q.duration_ms for _, q in want[h])
        )
        for row in rows:
            runs = want[row["fingerprint_hash"]]
            total = sum(q.duration_ms for _, q in runs)
            assert row["count"] == len(runs)
            assert row["total_ms"] == pytest.approx(total)
            assert row["mean_ms"] == pytest.approx(total / len(runs))
            assert row["max_ms"] == max(q.duration_ms for _, q in runs)
            assert row["routes"] == len({(r.method, r.route) for r, _ in runs})
            assert row["example_request_id"] == runs[-1][0].request_id
            assert row["last_seen"] == runs[-1][0].started


def test_the_routes_that_ran_a_statement_by_total_time(store):
    records = traffic(600, T0, 2 * HOUR, seed=2)
    write_in_batches(store, records, 50)
    window = Window(T0 + 600, T0 + 5400)
    totals = {}
    for r in inside(records, window):
        for q in r.queries:
            if q.fingerprint_hash == "h2":
                entry = totals.setdefault((r.method, r.route), [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += q.duration_ms
                entry[2] = max(entry[2], q.duration_ms)
    rows = store.sql_routes(window, "h2")
    assert [(r["method"], r["route"]) for r in rows] == sorted(totals, key=lambda k: -totals[k][1])
    for row in rows:
        count, total, most = totals[(row["method"], row["route"])]
        assert (row["count"], row["max_ms"]) == (count, most)
        assert row["total_ms"] == pytest.approx(total)
    assert store.sql_routes(window, "no-such-shape") == []


def test_query_counts_over_a_routes_newest_requests(store):
    records = traffic(500, T0, HOUR, seed=3)
    write_in_batches(store, records, 50)
    window = Window(T0 + 300, T0 + 3000)
    mine = [r for r in records if r.route == "api/posts/" and r.method == "GET"
            and window.since <= r.started <= window.until]  # fmt: skip
    for newest in (20000, 25):
        counts = {}
        for r in mine[-newest:]:
            counts[r.query_count] = counts.get(r.query_count, 0) + 1
        got = store.query_counts(window, method="GET", route="api/posts/", newest=newest)
        assert got == [{"queries": n, "requests": counts[n]} for n in sorted(counts)]


@pytest.mark.parametrize("newest_first", [(5_000, 50_000), (3,), ()])
def test_requests_by_path_prefix(store, monkeypatch, newest_first):
    """Whether the newest rows answer or the path index does, the same requests."""
    monkeypatch.setattr(reader, "_NEWEST_ROWS_FIRST", newest_first)
    records = traffic(300, T0, HOUR, seed=4)
    write_in_batches(store, records, 50)
    for prefix in ("/", "/api/", "/blog/b_c", "/blog/100%", "/blog/b", "/nothing", "/api/tags/3"):
        want = [r.request_id for r in reversed(records) if r.path.startswith(prefix)]
        got = store.requests(path_prefix=prefix, limit=1000)
        assert [r["request_id"] for r in got] == want, prefix
        page = store.requests(path_prefix=prefix, limit=5, offset=3)
        assert [r["request_id"] for r in page] == want[3:8], prefix
    window = Window(T0 + 600, T0 + 1200)
    got = store.requests(window, path_prefix="/blog/", status=200, method="GET", limit=1000)
    assert [r["request_id"] for r in got] == [
        r.request_id for r in reversed(records) if r.path.startswith("/blog/")
        and r.method == "GET" and window.since <= r.started <= window.until
    ]  # fmt: skip
    slowest = store.requests(path_prefix="/api/", order="slowest", limit=3)
    assert all(r["path"].startswith("/api/") for r in slowest) and len(slowest) == 3


def test_listings_read_newest_rows_first_and_then_the_indexes(store, monkeypatch):
    monkeypatch.setattr(reader, "_NEWEST_ROWS_FIRST", (10, 40))
    records = traffic(300, T0, HOUR, seed=5)
    write_in_batches(store, records, 50)
    for route in (None, "api/tags/"):
        want = [r.request_id for r in reversed(records) if route in (None, r.route)]
        assert [r["request_id"] for r in store.requests(route=route, limit=100)] == want[:100]
    window = Window(T0, T0 + 600)  # the oldest rows: found through the index
    want = [r.request_id for r in reversed(records) if r.started <= T0 + 600]
    assert [r["request_id"] for r in store.requests(window, limit=1000)] == want


def run(run_id="r1", **figures) -> RunRow:
    fields = dict(run_id=run_id, started=T0, ended=None, host="http://127.0.0.1:8000",
                  status="running", verdict=None, requests=0, failures=0, p95_ms=None,
                  out_dir="/tmp/out", report=None, request_id_prefix=f"pl-{run_id}-",
                  command="perflab run --headless")  # fmt: skip
    return RunRow(**{**fields, **figures})


def test_runs_are_saved_replaced_by_id_and_found_from_a_request_id(store):
    store.save_run(run("aaaa"))
    store.save_run(run("bbbb", started=T0 + 100))
    store.save_run(run("c_d%", started=T0 + 50, request_id_prefix="pl-c_d%-"))
    assert [r["run_id"] for r in store.runs()] == ["bbbb", "c_d%", "aaaa"]
    assert [r["run_id"] for r in store.runs(limit=1)] == ["bbbb"]
    finished = run("aaaa", ended=T0 + 60, status="completed", verdict="pass", requests=1200,
                   failures=3, p95_ms=41.5, report="/tmp/out/report.html")  # fmt: skip
    store.save_run(finished)
    assert store.run("aaaa") == finished._asdict()
    assert store.run("nope") is None
    assert [r["run_id"] for r in store.runs()] == ["bbbb", "c_d%", "aaaa"]
    assert store.run_of_request("pl-aaaa-0001")["run_id"] == "aaaa"
    assert store.run_of_request("pl-c_d%-7")["run_id"] == "c_d%"
    assert store.run_of_request("pl-cXdY-7") is None  # "_" and "%" are not wildcards
    assert store.run_of_request("pl-aaaa") is None and store.run_of_request("") is None
    store.save_run(run("longer", request_id_prefix="pl-aaaa-00"))
    assert store.run_of_request("pl-aaaa-0001")["run_id"] == "longer"
    store.trim(max_requests=0, max_age_s=1)  # retention keeps the runs
    assert len(store.runs()) == 4


def test_a_run_table_alone_does_not_make_a_file_a_probe_store(tmp_path):
    assert "perflab_run" not in READ_TABLES
    path = tmp_path / "runs-only.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE perflab_run (run_id TEXT PRIMARY KEY)")
    from perflab.report.probe_store import probe_store_problem

    assert probe_store_problem(path) is not None


def with_findings(records, seed=6):
    """Findings on about half the requests: N+1s and duplicates at two places, some requests
    holding two rows of one group (a duplicate per parameters)."""
    rng = random.Random(seed)
    for r in records:
        if rng.random() < 0.5:
            continue
        shape = rng.randint(0, 2)
        place = rng.choice(["app.py:3:f", None])
        kind = rng.choice(["n_plus_one", "duplicate"])
        r.findings = [
            Finding(kind, f"h{shape}", f"SELECT {shape}", place, rng.randint(2, 9),
                    round(rng.uniform(1, 9), 3), f"SELECT {shape} -- {r.request_id}",
                    location=None if place else rng.choice(["card.html:5", None]))
            for _ in range(rng.choice([1, 1, 2]))
        ]  # fmt: skip
    return records


def expected_findings(records):
    groups = {}
    for r in records:
        for f in r.findings:
            place = f.location if f.location is not None else f.callsite
            key = (f.kind, r.method, r.route, f.fingerprint_hash, place)
            per_request = groups.setdefault(key, {}).setdefault(r.request_id, [0, 0.0, []])
            per_request[0] += f.count
            per_request[1] += f.total_ms
            per_request[2].append(f)
    out = {}
    for key, requests in groups.items():
        findings = [f for _, _, fs in requests.values() for f in fs]
        out[key] = {
            "requests": len(requests),
            "per_request": sum(c for c, _, _ in requests.values()) / len(requests),
            "max_per_request": max(c for c, _, _ in requests.values()),
            "total_ms": sum(t for _, t, _ in requests.values()),
            "example_sql": max(f.example_sql for f in findings),
            "callsite": max((f.callsite for f in findings if f.callsite), default=None),
            "example_request_id": max(requests),
        }
    return out


@pytest.mark.parametrize("hours", [2, 6])  # minute groups, then hourly groups too
@pytest.mark.parametrize("hourly_from", [0, 3])  # hourly groups from the start, from hour 3
def test_findings_by_group_from_rows_or_hours(store, hours, hourly_from):
    records = with_findings(traffic(700, T0, 8 * HOUR, seed=7))
    write_in_batches(store, records, 50)
    with sqlite3.connect(store.database.path) as db:  # as if made before the groups were
        db.execute("DELETE FROM perflab_finding_hour WHERE hour < ?", [T0 + hourly_from * HOUR])
        db.execute(
            "DELETE FROM perflab_finding_minute WHERE minute < ?", [T0 + hourly_from * HOUR - 90]
        )
    window = Window(T0 + 1799.5, T0 + 1800 + hours * HOUR + 17.25)  # partial minutes too
    ran = [r for r in records if window.since <= r.started <= window.until]
    for route, kind in ((None, None), ("api/tags/", None), (None, "duplicate")):
        want = expected_findings([r for r in ran if route in (None, r.route)])
        want = {k: v for k, v in want.items() if kind in (None, k[0])}
        rows = store.findings(window, route=route, kind=kind, limit=1000)
        got = {(r["kind"], r["method"], r["route"], r["fingerprint_hash"], r["location"]): r
               for r in rows}  # fmt: skip
        assert set(got) == set(want)
        assert [r["total_ms"] for r in rows] == sorted((r["total_ms"] for r in rows), reverse=True)
        for key, figures in want.items():
            for name, value in figures.items():
                assert got[key][name] == pytest.approx(value), (key, name)
    routes = {(r["method"], r["route"]): r for r in store.routes(window)}
    for (method, route), summary in routes.items():
        mine = [r for r in ran if (r.method, r.route) == (method, route)]
        assert summary["findings"] == sum(len(r.findings) for r in mine)
        for kind, name in (("n_plus_one", "n_plus_one"), ("duplicate", "duplicates")):
            distinct = {(f.fingerprint_hash, f.location or f.callsite or "")
                        for r in mine for f in r.findings if f.kind == kind}  # fmt: skip
            assert summary[name] == len(distinct)


def test_the_slowest_requests_of_a_route_and_by_status(store):
    rng = random.Random(14)
    records = traffic(400, T0, 2 * HOUR, seed=14)
    for r in records:
        r.duration_ms = round(rng.uniform(1, 500), 2)
        r.status = rng.choice([200, 200, 404, 500])
    write_in_batches(store, records, 50)
    window = Window(T0 + 600, T0 + 5000)
    for route, status in ((None, None), ("api/tags/", None), ("api/tags/", 500), (None, 404)):
        mine = [r for r in records if window.since <= r.started <= window.until
                and route in (None, r.route) and status in (None, r.status)]  # fmt: skip
        slowest = sorted(mine, key=lambda r: (-r.duration_ms, -int(r.request_id[4:])))
        got = store.requests(window, route=route, status=status, order="slowest", limit=7,
                             offset=2)  # fmt: skip
        assert [r["request_id"] for r in got] == [r.request_id for r in slowest[2:9]]
        newest = store.requests(window, route=route, status=status, limit=500)
        assert [r["request_id"] for r in newest] == [r.request_id for r in reversed(mine)]


@pytest.mark.parametrize("hours", [1, 30])  # minute rows, then hour rows
def test_a_catch_all_route_read_with_its_endpoints(store, hours):
    """``endpoints=True``: the route and its ``route[…]`` names, not routes it only begins."""
    names = ["pages/", "pages/[Blog]", "pages/[Home]", "pages/<slug>/", "pagesX", "pages/\\"]
    records = [
        RequestRecord(request_id=f"c{n}", method="GET", path="/p", started=T0 + n * hours * 30,
                      pid=1, route=names[n % len(names)], status=200, duration_ms=float(n + 1),
                      queries=[query(0, 1.0)] * (n % len(names)))
        for n in range(120)
    ]  # fmt: skip
    write_in_batches(store, records, 50)
    window = Window(T0, T0 + 120 * hours * 30)
    members = [r for r in records if r.route in names[:3]]
    timeline = store.timeline(window, method="GET", route="pages/", endpoints=True)
    assert sum(row["count"] for row in timeline["rows"]) == len(members)
    assert max(row["max_ms"] for row in timeline["rows"]) == max(r.duration_ms for r in members)
    alone = store.timeline(window, method="GET", route="pages/")
    assert sum(row["count"] for row in alone["rows"]) == len(members) // 3
    counts = store.query_counts(window, method="GET", route="pages/", endpoints=True)
    assert {c["queries"]: c["requests"] for c in counts} == {0: 20, 1: 20, 2: 20}
