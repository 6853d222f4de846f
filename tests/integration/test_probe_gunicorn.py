"""The probe under a real gunicorn with several workers writing to one store."""

import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.request

import pytest

from perflab.probe.store import RecordingStore
from tests.integration.conftest import server_for

pytestmark = pytest.mark.integration

REQUESTS = 400


def fetch(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        return response.status, dict(response.headers)


def hammer(base: str, count: int) -> list[tuple[int, dict]]:
    paths = ["/api/posts/", "/api/posts/?page=3", "/api/authors/naive/", "/api/categories/"]
    urls = [base + paths[n % len(paths)] for n in range(count)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(fetch, urls))


def test_requests_recorded_equal_requests_served_across_workers(seeded_db, tmp_path):
    with server_for(seeded_db, tmp_path, workers=3) as server:
        results = hammer(server.url, REQUESTS)
    # Stopping gunicorn flushed every worker's writer.
    assert [status for status, _ in results] == [200] * REQUESTS
    request_ids = {headers["X-Request-ID"] for _, headers in results}
    assert len(request_ids) == REQUESTS  # generated ids never collide across workers
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    assert store.request_count() == REQUESTS
    stored = {r["request_id"] for r in store.requests(limit=REQUESTS * 2)}
    assert stored == request_ids
    assert len({r["pid"] for r in store.requests(limit=REQUESTS)}) > 1  # several workers wrote
    assert sum(r["count"] for r in store.routes()) == REQUESTS
    assert store.counters().get("dropped", 0) == 0
    naive = [f for f in store.findings() if f["route"] == "api/authors/naive/"]
    assert {f["requests"] for f in naive} == {REQUESTS // 4}


def test_a_locked_store_still_answers_every_request_and_loses_nothing(seeded_db, tmp_path):
    import sqlite3

    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    store.ensure_schema()
    with server_for(seeded_db, tmp_path, workers=3) as server:
        locker = sqlite3.connect(tmp_path / "probe.sqlite3", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        results = hammer(server.url, 100)
        locker.execute("COMMIT")
        locker.close()
    assert [status for status, _ in results] == [200] * 100
    assert store.request_count() == 100


def staff_token(seeded_db, server) -> str:
    """A real staff account in the app's database, and its JWT."""
    _url, _directory = seeded_db
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "createsuperuser",
            "--noinput",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
        ],
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": "ops-pass-123", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )  # fmt: skip (a second test reuses the account: "already taken" is fine)
    body = json.dumps({"username": "ops", "password": "ops-pass-123"}).encode()
    request = urllib.request.Request(
        server.url + "/api/token/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["access"]


def test_an_unwritable_store_still_answers_every_request_and_counts(seeded_db, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    # One process, so its status is the whole story. The demo keeps its secret key in the
    # data directory, which is not one here: the key comes from the environment instead.
    server = server_for(seeded_db, blocker, log_dir=tmp_path, workers=1,
                        PERFLAB_SECRET_KEY="an-unwritable-store-test-key-" + "k" * 32)  # fmt: skip
    with server:
        token = staff_token(seeded_db, server)
        results = hammer(server.url, 60)
        request = urllib.request.Request(
            server.url + "/perf/api/status/", headers={"Authorization": f"Bearer {token}"}
        )
        deadline = time.monotonic() + 10  # the writer tries every FLUSH_INTERVAL_S
        while True:
            with urllib.request.urlopen(request) as response:
                status = json.load(response)
            if status["writer"]["write_errors"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert [code for code, _ in results] == [200] * 60
    writer = status["writer"]
    assert writer["submitted"] == 61  # the 60, and the token request
    assert writer["written"] == 0
    assert writer["pending"] + writer["dropped_queue_full"] + writer["dropped_store_error"] == 61
    assert writer["write_errors"] >= 1 and "file-not-dir" in writer["last_error"]
    assert "cannot write to the store" in (tmp_path / "gunicorn.log").read_text()


def test_no_probe_means_no_recording_and_no_headers(seeded_db, tmp_path):
    with server_for(seeded_db, tmp_path, PERFLAB_PROBE="off") as server:
        status, headers = fetch(server.url + "/api/posts/")
    assert status == 200
    assert "Server-Timing" not in headers and "X-Request-ID" not in headers
    assert not (tmp_path / "probe.sqlite3").exists()


def test_inspect_prints_tables_and_json_from_a_served_store(seeded_db, tmp_path):
    with server_for(seeded_db, tmp_path, workers=3) as server:
        hammer(server.url, 40)
    store_path = str(tmp_path / "probe.sqlite3")

    def inspect(*args):
        return subprocess.run(
            [sys.executable, "-m", "perflab", "inspect", *args, "--store", store_path],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    routes = inspect("routes")
    assert routes.returncode == 0, routes.stderr
    assert "GET api/authors/naive/" in routes.stdout and "p95 ms" in routes.stdout
    findings = json.loads(inspect("findings", "--json").stdout)
    assert {f["kind"] for f in findings} == {"n_plus_one"}
    assert all("naive.py" in f["callsite"] for f in findings)
    sql = inspect("sql")
    assert sql.returncode == 0 and "SQL by total time" in sql.stdout
    one = json.loads(inspect("requests", "--json", "--limit", "1").stdout)[0]
    detail = inspect("request", one["request_id"])
    assert detail.returncode == 0 and one["request_id"] in detail.stdout
    missing = inspect("request", "no-such-id")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_a_postgresql_store_alias_shared_by_several_workers(seeded_db, tmp_path):
    """PERFLAB = {"STORE": {"ALIAS": ...}} with the router: every request lands in PostgreSQL."""
    import psycopg

    from perflab.testing.postgres import TemporaryPostgres

    with TemporaryPostgres(database="perflab_store") as pg:
        with server_for(seeded_db, tmp_path, PERFLAB_STORE_URL=pg.url) as server:
            results = hammer(server.url, 120)
        with psycopg.connect(pg.url.replace("postgres://", "postgresql://")) as db:
            rows = db.execute("SELECT request_id, pid FROM perflab_request").fetchall()
            routes = db.execute("SELECT SUM(count) FROM perflab_route_rollup").fetchone()[0]
            app_tables = db.execute(
                "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'blog_%'"
            ).fetchone()[0]
    assert [status for status, _ in results] == [200] * 120
    assert {r[0] for r in rows} == {headers["X-Request-ID"] for _, headers in results}
    assert len({r[1] for r in rows}) > 1
    assert routes == 120
    assert app_tables == 0  # the router kept the app's tables out of the store database
    assert not (tmp_path / "probe.sqlite3").exists()
