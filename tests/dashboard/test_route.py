"""One route's page: its figures, charts, statement counts, findings with where they ran, its
slowest requests; a catch-all route's endpoints."""

import json
import time

import pytest
from django.test import Client

from perflab.dashboard.formats import ms
from perflab.dashboard.route import SLOWEST, slowest_requests
from perflab.probe.records import RequestRecord
from perflab.probe.store.reader import Window
from tests.dashboard.conftest import page
from tests.demo.conftest import make_posts, make_user
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

NAIVE = "/perf/route/?method=GET&route=api/authors/naive/"


def test_figures_and_charts_of_one_route(traffic, staff):
    html = page(staff.get(NAIVE + "&range=6h"))
    assert html.select_one("[data-testid=route-name]").text == "api/authors/naive/"
    (stored,) = [r for r in traffic.store.routes(Window.last_minutes(360))
                 if r["route"] == "api/authors/naive/"]  # fmt: skip
    assert html.select_one('dd[data-figure="count"]').text == "3"
    assert html.select_one('dd[data-figure="p95_ms"]').text == ms(stored["p95_ms"])
    counts = json.loads(html.select_one("#query-count-chart")["data-series"])
    assert counts["kind"] == "bars"
    assert counts["x"] == [2 + 3 * 6] and counts["series"][0]["values"] == [3]
    latency = json.loads(html.select_one("#latency-chart")["data-series"])
    assert latency["x"] and all(v is not None for v in latency["series"][1]["values"])
    assert html.select_one('[data-range="6h"]')["href"].count("route=api%2Fauthors%2Fnaive%2F")
    its_sql = html.select_one("[data-testid=route-sql]")["href"]
    assert its_sql == "/perf/sql/?range=6h&route=api%2Fauthors%2Fnaive%2F"


def test_findings_say_where_they_run(traffic, staff):
    html = page(staff.get(NAIVE))
    findings = html.select("#findings tbody tr[data-kind]")
    assert len(findings) == 3  # profile, post count and recent posts, per author
    for row in findings:
        assert row["data-kind"] == "n_plus_one"
        assert "naive.py:" in row.select_one("td.where").text
        link = row.select_one("td.sql a")["href"]
        assert link.startswith("/perf/sql/" + row["data-fingerprint"] + "/")


def test_slowest_requests_first(traffic, staff):
    html = page(staff.get(NAIVE))
    ids = [
        tr["data-request-id"] for tr in html.select("[data-testid=requests] tr[data-request-id]")
    ]
    assert sorted(ids) == ["naive-0", "naive-1", "naive-2"]
    durations = [
        float(td["data-value"]) for td in html.select("[data-testid=requests] td[data-value]")
    ]
    assert durations == sorted(durations, reverse=True)


def test_a_catch_all_route_lists_its_endpoints(make_probe, staff, db):
    recording = make_probe(ROUTE_NAME=lambda request, response: request.GET.get("kind"))
    client = Client()
    for kind in ("fast", "fast", "slowish"):
        client.get(f"/t/slow/?s=0&kind={kind}")
    flushed(recording)
    html = page(staff.get("/perf/route/?method=GET&route=t/slow/"))
    endpoints = {tr["data-route"]: tr for tr in html.select("#endpoints tr[data-route]")}
    assert set(endpoints) == {"t/slow/[fast]", "t/slow/[slowish]"}
    assert endpoints["t/slow/[fast]"].select("td")[1].text == "2"
    throughput = json.loads(html.select_one("#throughput-chart")["data-series"])  # together
    grain = throughput["step"]
    assert sum(v * grain for v in throughput["series"][0]["values"]) == pytest.approx(3, rel=1e-4)
    counts = json.loads(html.select_one("#query-count-chart")["data-series"])
    assert counts["x"] == [0] and counts["series"][0]["values"] == [3]
    slowest = html.select("[data-testid=requests] td[data-value]")  # of all its endpoints
    durations = [float(td["data-value"]) for td in slowest]
    assert len(durations) == 3 and durations == sorted(durations, reverse=True)
    endpoint = page(staff.get(endpoints["t/slow/[fast]"].a["href"]))
    assert endpoint.select_one('dd[data-figure="count"]').text == "2"
    assert endpoint.select_one("[data-testid=catch-all]").text == "GET t/slow/"


def test_a_catch_all_route_shows_its_endpoints_findings(make_probe, staff, db):
    recording = make_probe(ROUTE_NAME=lambda request, response: "Authors")
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):  # N+1 at five
        make_posts(make_user(name), 1)
    Client().get("/api/authors/naive/")
    flushed(recording)
    html = page(staff.get("/perf/route/?method=GET&route=api/authors/naive/"))
    findings = html.select("#findings tbody tr[data-kind]")
    assert len(findings) == 3
    assert {row.select("td")[1].text.strip() for row in findings} == {
        "GET api/authors/naive/[Authors]"
    }


def test_the_slowest_requests_read_above_a_percentile_are_exact(make_probe, db):
    store = make_probe().store
    now = time.time()
    durations = [float((n * 7919) % 1000) + n / 1000 for n in range(2000)]  # distinct, shuffled
    store.write([
        RequestRecord(request_id=f"s{n}", method="GET", path="/s/", started=now - n, pid=1,
                      route="s/", status=200, duration_ms=ms)
        for n, ms in enumerate(durations)
    ])  # fmt: skip
    window = Window.last_minutes(60)
    (figures,) = store.routes(window)
    expected = sorted(durations, reverse=True)[:SLOWEST]
    read = slowest_requests(store, window, "GET", "s/", figures)  # above p95: ~100 of them
    assert [r["duration_ms"] for r in read] == expected
    too_high = {**figures, "p95_ms": max(durations) * 2, "p99_ms": max(durations) * 2}  # none above
    assert [r["duration_ms"] for r in slowest_requests(store, window, "GET", "s/", too_high)] == (
        expected
    )
