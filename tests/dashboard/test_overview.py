"""The overview: the routes table with the store's figures, sorted and filtered on the server,
the charts' data, top findings, the probe's health, the range and run picker, live refresh."""

import json
import time

import pytest

from perflab.dashboard.formats import ms, share
from perflab.probe.store.reader import Window
from perflab.probe.store.schema import RunRow
from tests.dashboard.conftest import page

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]


def routes_shown(html) -> list[tuple[str, str]]:
    return [
        (tr["data-method"], tr["data-route"]) for tr in html.select("#routes tbody tr[data-route]")
    ]


def test_the_routes_table_shows_the_stores_figures(traffic, staff):
    html = page(staff.get("/perf/"))
    stored = {(r["method"], r["route"]): r for r in traffic.store.routes(Window.last_minutes(60))}
    assert set(routes_shown(html)) == set(stored)
    naive = html.select_one('#routes tr[data-route="api/authors/naive/"]')
    figures = stored[("GET", "api/authors/naive/")]
    cells = [td.get_text(" ", strip=True) for td in naive.select("td")]
    assert cells[1] == "3"
    assert cells[3] == share(0.0)
    assert cells[4:7] == [ms(figures[f"p{p}_ms"]) for p in (50, 95, 99)]
    assert cells[7] == str(2 + 3 * 6)  # queries per request
    assert naive.select_one(".badge.n_plus_one").text == "N+1 \N{MULTIPLICATION SIGN}3"
    categories = html.select_one('#routes tr[data-route="api/categories/"] td:nth-of-type(10)')
    assert categories.text == share(0.5)  # a miss, then a hit
    broken = html.select_one('#routes tr[data-route="t/broken/"] td:nth-of-type(4)')
    assert broken.text == share(1.0)


def test_sorting_is_a_link_that_works_without_javascript(traffic, staff):
    by_count = page(staff.get("/perf/?sort=count&dir=desc"))
    counts = [
        int(td["data-value"]) for td in by_count.select("#routes td[data-value]:nth-of-type(2)")
    ]
    assert counts == sorted(counts, reverse=True) and counts[0] == 3
    header = by_count.select_one('#routes th[data-sort="count"]')
    assert header["aria-sort"] == "descending"
    assert "dir=asc" in header.a["href"]  # the same column again: the other way
    by_route = page(staff.get("/perf/?sort=route&dir=asc"))
    assert routes_shown(by_route) == sorted(routes_shown(by_route), key=lambda r: (r[1], r[0]))
    p95 = page(staff.get("/perf/?sort=p95&dir=asc"))
    values = [float(td["data-value"]) for td in p95.select("#routes td[data-value]:nth-of-type(6)")]
    assert values == sorted(values)


def test_filtering_keeps_the_matching_routes_and_the_sort(traffic, staff):
    html = page(staff.get("/perf/?q=AUTHORS&sort=count"))
    assert routes_shown(html) == [("GET", "api/authors/naive/")]
    assert html.select_one("[data-testid=route-filter]")["value"] == "AUTHORS"
    sort_links = [th.a["href"] for th in html.select("#routes th")]
    assert all("q=AUTHORS" in link for link in sort_links)
    assert "No route matches" in page(staff.get("/perf/?q=nothing-like-it")).text


def test_the_charts_hold_the_timeline(traffic, staff):
    html = page(staff.get("/perf/?range=15m"))
    latency = json.loads(html.select_one("#latency-chart")["data-series"])
    throughput = json.loads(html.select_one("#throughput-chart")["data-series"])
    timeline = traffic.store.timeline(Window.last_minutes(15))
    assert latency["x"] == throughput["x"] == [r["t"] for r in timeline["rows"]]
    assert [s["label"] for s in latency["series"]] == ["p50", "p95", "p99"]
    requests_per_s = throughput["series"][0]["values"]
    assert sum(v * timeline["grain_s"] for v in requests_per_s) == pytest.approx(8, rel=1e-4)  # all


def test_top_findings_and_health(traffic, staff):
    html = page(staff.get("/perf/"))
    kinds = {tr["data-kind"] for tr in html.select("#findings tbody tr[data-kind]")}
    assert kinds == {"n_plus_one"}
    assert "naive.py" in html.select_one("#findings td.where").text
    health = html.select_one("#health")
    assert health.select_one("[data-testid=health-written]").text == str(
        traffic.writer.stats.written
    )
    assert health.select_one("[data-testid=health-write-errors]").text == "0"


def test_an_empty_range_says_so(traffic, staff):
    html = page(staff.get("/perf/?range=5m&q=zzz"))
    assert html.select_one('[data-range="5m"]')["aria-current"] == "true"


def test_a_run_shows_its_window_and_refreshes_while_it_runs(traffic, staff):
    now = time.time()
    row = dict(run_id="pl-run-1", started=now - 300, ended=None, host="http://127.0.0.1:8000",
               status="running", verdict=None, requests=0, failures=0, p95_ms=None, out_dir=None,
               report=None, request_id_prefix="pl-run-1-", command="perflab run")  # fmt: skip
    traffic.store.save_run(RunRow(**row))
    html = page(staff.get("/perf/?run=pl-run-1"))
    assert html.select_one("[data-testid=period-run]").text.startswith("run pl-run-1")
    assert html.select_one("main")["data-live"] == "1"
    assert not html.select_one("#live").has_attr("hidden")
    assert len(routes_shown(html)) == len(traffic.store.routes(Window(now - 300, None)))
    traffic.store.save_run(RunRow(**{**row, "status": "completed", "ended": now - 200}))
    ended = page(staff.get("/perf/?run=pl-run-1"))
    assert routes_shown(ended) == []  # the traffic came after the run's end


def test_live_while_requests_arrive(traffic, staff):
    assert page(staff.get("/perf/?range=7d")).select_one("main")["data-live"] == "1"
