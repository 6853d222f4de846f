"""Endpoints named by what was served, for real: gunicorn serving a site whose pages all go
through one catch-all (split by ``PERFLAB["ROUTE_NAME"]``) and the Wagtail test site (split
by page type), measured by a `perflab run` subprocess. The run's endpoints and the probe's
routes carry the same names; a run that cannot group by route says why in one line."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

from perflab.load.grouping import route_named
from perflab.probe.store import RecordingStore
from tests.integration.conftest import catch_all_site, run_perflab
from tests.wagtail_site.conftest import serve_site, wagtail_site_db  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
REPO = HERE.parents[1]
LOCUSTFILE = HERE / "pages_locustfile.py"
PAGES = ["/docs/intro/", "/docs/setup/", "/articles/1/", "/articles/2/"]


def perflab_run(url: str, pages: list[str], out: Path, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return run_perflab(
        "run", "--headless", "--quiet", "-f", str(LOCUSTFILE), "--host", url, "-u", "4", "-r", "4",
        "--out", str(out), *args, env={**env, "PAGES": ",".join(pages)}, timeout=120,
    )  # fmt: skip


def client_counts(out: Path) -> dict[tuple[str, str], int]:
    results = json.loads((out / "results.json").read_text())
    assert results["totals"]["failures"] == 0, results["endpoints"]
    return {(e["method"], e["name"]): e["requests"] for e in results["endpoints"]}


def server_counts(store_path: Path, client: dict[tuple[str, str], int]) -> dict:
    """The store's request count per (method, route), once every client request is in it,
    route by route (the probe's writers flush every 0.2 s; a request cut off by the end is
    the server's only, and must not stand in for another route's late one)."""
    store = RecordingStore.at_path(store_path)
    deadline = time.monotonic() + 10
    while True:
        counts = {(r["method"], r["route"]): r["count"] for r in store.routes() if r["route"]}
        arrived = all(counts.get(key, 0) >= count for key, count in client.items())
        if arrived or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def assert_sampled_requests_stored_under_their_names(out: Path, store_path: Path) -> None:
    """Request by request (requests.csv's ids): the client's name is the probe's route."""
    store = RecordingStore.at_path(store_path)
    with open(out / "requests.csv") as f:
        rows = list(csv.DictReader(f))[:40]
    assert rows
    for row in rows:
        stored = store.request(request_id=row["request_id"])
        assert stored is not None and stored["route"] == route_named(row["name"]), row


def test_a_catch_all_is_split_by_route_name_on_both_sides(tmp_path):
    store = tmp_path / "probe.sqlite3"
    out = tmp_path / "run"
    with catch_all_site(tmp_path) as server:
        result = perflab_run(
            server.url, PAGES, out, "-t", "4s", "--store", str(store), "PageUser", "FastPageUser"
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "no route grouping" not in result.stdout
        results = json.loads((out / "results.json").read_text())
        assert (results["grouping"], results["grouping_reason"]) == ("routes", None)
        client = client_counts(out)
        assert set(client) == {("GET", "page[doc]"), ("GET", "page[article]")}
        assert min(client.values()) > 20
        server = server_counts(store, client)
    assert set(server) == set(client)
    for key, count in client.items():
        assert count <= server[key] <= count + 4, (key, count, server[key])
    assert_sampled_requests_stored_under_their_names(out, store)


def test_a_run_that_cannot_group_by_route_says_why_in_one_line(tmp_path):
    out = tmp_path / "run"
    with catch_all_site(tmp_path, CATCH_ALL_FIRST="1") as server:
        result = perflab_run(server.url, PAGES[:2], out, "-t", "2s", "PageUser")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    said = [line for line in result.stdout.splitlines() if "route grouping" in line]
    assert said == [
        "no route grouping: no probe at /perf/api/urlpatterns/ (404): include('perflab.urls') "
        "at perf/, before any catch-all such as Wagtail's; endpoints keep Locust's names"
    ]
    results = json.loads((out / "results.json").read_text())
    assert results["grouping"] == "locust names"
    assert results["grouping_reason"].startswith("no probe at /perf/api/urlpatterns/ (404)")
    assert {e["name"] for e in results["endpoints"]} == set(PAGES[:2])


def test_wagtail_pages_are_endpoints_by_page_type(wagtail_site_db, tmp_path):  # noqa: F811
    store = tmp_path / "probe.sqlite3"
    RecordingStore.at_path(store).ensure_schema()
    out = tmp_path / "run"
    pages = [page["url"] for page in wagtail_site_db.pages]
    with serve_site(wagtail_site_db, store) as server:
        result = perflab_run(server.url, pages, out, "-t", "4s", "--store", str(store), "PageUser")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        client = client_counts(out)
        types = {page["type"] for page in wagtail_site_db.pages}
        assert set(client) == {("GET", f"wagtail_serve[{kind}]") for kind in types}
        server = server_counts(store, client)
    assert set(server) == set(client)
    for key, count in client.items():
        assert count <= server[key] <= count + 4, (key, count, server[key])
    assert_sampled_requests_stored_under_their_names(out, store)
