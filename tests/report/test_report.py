"""The report from run directories written by the runner's own writer and a real probe store."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from benchmarks.report_scale import synthesise

import perflab.report as report_package
from perflab.load.results import SCHEMA, RunDirectory
from perflab.load.samples import FIELDS
from perflab.probe.fingerprint import text_hash
from perflab.probe.records import CacheEvent, Finding, QueryEvent, RequestRecord
from perflab.probe.store import RecordingStore
from perflab.report import build_report
from perflab.report.data import ReportData
from perflab.report.render import render_html
from perflab.report.section import MAX_POINTS, downsample
from perflab.report.sections.timeline import TimelineSection

START = 1_795_000_000.0


def summary(p50: float, p95: float, p99: float, count: int = 100) -> dict:
    return {"count": count, "min": 1.0, "mean": p50, "p50": p50, "p75": p50, "p90": p95,
            "p95": p95, "p99": p99, "p99_9": p99, "p99_99": p99, "max": p99}  # fmt: skip


def endpoint(method: str, name: str, requests: int, p50: float, failures: int = 0) -> dict:
    latency = summary(p50, p50 * 3, p50 * 5, requests)
    return {"method": method, "name": name, "requests": requests, "failures": failures,
            "error_rate": failures / requests, "rps": requests / 10, "latency": latency,
            "service": latency, "errors": []}  # fmt: skip


def write_run(path: Path, requests: list[tuple], store: Path | None = None, **extra) -> Path:
    """A 10 s run with two endpoints: one named by route, one the locustfile named itself."""
    endpoints = [endpoint("GET", "/api/posts/<pk>/", 60, 12.0),
                 endpoint("GET", "/api/posts/[id]/", 40, 20.0, failures=2)]  # fmt: skip
    results = {
        "schema": SCHEMA, "status": "completed", "message": "", "label": "",
        "started_at": "2026-11-18T11:06:40.000+00:00", "ended_at": "2026-11-18T11:06:50.000+00:00",
        "duration_s": 10.0, "totals": {**endpoint("", "Aggregated", 100, 15.0, 2)},
        "endpoints": endpoints, "model": "closed", "shape": None, "open_model": None,
        "grouping": "routes", "probe_store": str(store) if store else None,
        "slos": [{"expression": "p95<200ms", "scope": None, "metric": "p95", "op": "<",
                  "threshold": 200.0, "passed": True, "actual": 45.0, "where": "all requests",
                  "detail": "p95 45 ms < 200 ms"}],
        "verdict": "pass", "distribution": [[0.0, 1.0], [50.0, 15.0], [99.0, 75.0],
                                            [99.99, 90.0], [100.0, 91.0]],
        "series": [{"second": int(START) + s, "requests": 10, "failures": 0, "p50": 15.0,
                    "p95": 45.0, "p99": 75.0, "max": 90.0, "users": 4, "in_flight": 1}
                   for s in range(10)],
        "user_errors": [], "samples": {"kept": len(requests), "seen": 100},
        "monitor": {"server_pid": None, "warnings": []},
        "environment": {"perflab": "0.1.0", "locust": "2.47.0", "python": "3.11.7",
                        "platform": "Linux", "hostname": "box", "cpus": 2,
                        "target": "http://127.0.0.1:8000", "workers": 0, "user_classes": ["U"]},
        "settings": {"users": 4, "spawn_rate": 4.0},
    }  # fmt: skip
    results.update(extra)
    monitor = [{"t": START + s, "server_cpu_percent": 50.0, "server_rss_mb": 100.0 + s}
               for s in range(10)]  # fmt: skip
    RunDirectory(path).create().write(results, {}, results["series"], monitor, requests, FIELDS)
    return path


def record(request_id: str, route: str, duration: float, queries: int = 1, **kw) -> RequestRecord:
    events = [QueryEvent("SELECT 1", "SELECT ?", "h1", 1.0, "default", 0.0, "app/v.py:3:f")
              for _ in range(queries)]  # fmt: skip
    return RequestRecord(request_id=request_id, method="GET", path="/" + route, started=START + 1,
                         pid=1, route=route, status=200, duration_ms=duration, queries=events,
                         **kw)  # fmt: skip


@pytest.fixture
def joined_run(tmp_path):
    """Client samples whose ids the store knows: service time minus server time is known."""
    store_path = tmp_path / "probe.sqlite3"
    store = RecordingStore.at_path(store_path)
    client = [("a1", "GET", "/api/posts/<pk>/", START + 2, 14.0, 14.0, ""),
              ("a2", "GET", "/api/posts/<pk>/", START + 3, 15.0, 15.0, ""),
              ("a3", "GET", "/api/posts/<pk>/", START + 4, 30.0, 30.0, ""),
              ("b1", "GET", "/api/posts/[id]/", START + 5, 40.0, 40.0, ""),
              ("zz", "GET", "/api/posts/[id]/", START + 6, 99.0, 99.0, "")]  # fmt: skip
    finding = Finding("n_plus_one", "h1", "SELECT ?", "app/v.py:3:f", 5, 5.0, "SELECT 1",
                      "select_related('author')")  # fmt: skip
    hit = CacheEvent("get", "c", 0.1, hits=1)
    store.write([
        record("a1", "api/posts/<pk>/", 10.0, cache=[hit, CacheEvent("get", "c", 0.1, misses=1)]),
        record("a2", "api/posts/<pk>/", 12.0, cache=[hit]),
        record("a3", "api/posts/<pk>/", 20.0, queries=5, findings=[finding]),
        record("b1", "api/posts/<int:pk>/", 30.0),
    ])  # fmt: skip
    return write_run(tmp_path / "run", client, store=store_path), store_path


def test_verdict_endpoints_and_facts_come_from_results_json(tmp_path):
    run = write_run(tmp_path / "run", [("x", "GET", "/api/posts/<pk>/", START, 9.0, 9.0, "")])
    path = build_report(run)
    assert path == run / "report.html"
    html = path.read_text()
    assert 'data-verdict="pass"' in html and "PASSED: every SLO met" in html
    assert escape("p95 45 ms < 200 ms") in html
    assert 'data-figure="requests">100<' in html
    assert 'data-endpoint="GET /api/posts/[id]/"' in html
    assert '<td class="num bad" data-value="0.05">5.00 %</td>' in html
    assert "no probe store (run with --store" in html  # server columns say why they are empty
    assert 'data-fact="Python">3.11.7<' in html
    assert 'data-fact="Django">not recorded<' in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)  # self-contained


def test_server_figures_queue_time_and_findings_from_the_store(joined_run):
    run, store_path = joined_run
    data = ReportData(run)
    assert data.store_path == store_path
    # By route name, and by the request-id join for a name the locustfile chose.
    assert data.server_for("GET", "/api/posts/<pk>/")["route"] == "api/posts/<pk>/"
    assert data.server_for("GET", "/api/posts/[id]/")["route"] == "api/posts/<int:pk>/"
    assert data.queue_ms[("GET", "/api/posts/<pk>/")] == statistics.median([4.0, 3.0, 10.0])
    assert data.queue_ms[("GET", "/api/posts/[id]/")] == 10.0  # "zz" is not in the store
    html = render_html(data)
    routes = {r["route"]: r for r in RecordingStore.at_path(store_path).routes()}
    row = re.search(r'data-endpoint="GET /api/posts/&lt;pk&gt;/">(.*?)</tr>', html, re.S)[1]
    values = re.findall(r'data-value="([^"]*)"', row)
    assert float(values[8]) == routes["api/posts/<pk>/"]["p95_ms"]
    assert float(values[10]) == 4.0  # median queue time
    assert float(values[11]) == pytest.approx(7 / 3)  # queries per request
    assert float(values[13]) == pytest.approx(2 / 3)  # cache hits / lookups
    assert 'data-callsite="app/v.py:3:f"' in html and "select_related(&#39;author&#39;)" in html
    # The slowest sampled request comes first; it is not in the store, the next one is.
    slow = re.findall(r'<details class="slow" data-request-id="(\w+)"', html)
    assert slow[:2] == ["zz", "b1"]
    assert "not in the store" in html


def test_store_option_overrides_and_missing_store_is_said(joined_run, tmp_path):
    run, _ = joined_run
    assert ReportData(run, store=tmp_path / "nowhere.sqlite3").store is None
    html = render_html(ReportData(run, store=tmp_path / "nowhere.sqlite3"))
    assert "no probe store at" in html


def test_a_sampled_profile_is_rendered_with_pyinstrument(tmp_path):
    from perflab.probe.sampler import SignalSampler

    def busy_report_function():
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            pass

    if not SignalSampler.available(0.001):
        pytest.skip("SIGALRM is in use in this process")
    sampler = SignalSampler()
    busy_report_function()
    profile = json.dumps(sampler.stop().to_json())
    store_path = tmp_path / "probe.sqlite3"
    RecordingStore.at_path(store_path).write(
        [record("p1", "api/posts/<pk>/", 50.0, profile=profile)]
    )
    run = write_run(tmp_path / "run", [("p1", "GET", "/api/posts/<pk>/", START, 55.0, 55.0, "")],
                    store=store_path)  # fmt: skip
    html = build_report(run).read_text()
    assert "Profile (pyinstrument)" in html
    assert "busy_report_function" in html


def test_debug_true_is_a_loud_warning_and_labels_are_escaped(tmp_path):
    env = {"perflab": "0.1.0", "python": "3.11", "django": "5.2.8", "debug": True,
           "database": "PostgreSQL 16", "data_volume": {"posts": 3000}}  # fmt: skip
    run = write_run(tmp_path / "run", [], environment=env, label="</script><b>x")
    html = build_report(run, out=tmp_path / "r.html").read_text()
    assert 'class="warning loud" role="alert">⚠ DEBUG was True' in html
    assert 'data-fact="DEBUG">True<' in html and 'data-fact="Django">5.2.8<' in html
    assert 'data-fact="data volume">posts: 3,000<' in html
    assert "</script><b>" not in html


def test_long_series_are_downsampled_keeping_peaks(tmp_path):
    x = list(range(14_400))
    p99 = [10.0] * 14_400
    p99[7_777] = 900.0
    rate = [5.0] * 14_400
    out_x, out = downsample(x, {"p99": p99, "requests": rate}, frozenset({"requests"}))
    assert len(out_x) <= MAX_POINTS
    assert max(out["p99"]) == 900.0  # a spike survives
    assert set(out["requests"]) == {5.0}  # a rate is averaged, not summed or maxed


def test_a_long_wide_run_builds_small_and_fast(tmp_path):
    run = synthesise(tmp_path / "run", requests=200_000, endpoints=100, seconds=4 * 3600)
    t0 = time.perf_counter()
    html = build_report(run).read_text()
    elapsed = time.perf_counter() - t0
    charts = json.loads(re.search(r'id="report-charts">(.*?)</script>', html)[1])
    assert all(len(c["x"]) <= MAX_POINTS for c in charts)
    assert {c["id"] for c in charts} >= {"chart-latency", "chart-cpu", "chart-db"}
    assert len(re.findall(r"data-endpoint=", html)) == 100
    assert len(html.encode()) < 5_000_000 and elapsed < 10
    assert len(TimelineSection(ReportData(run)).charts()[0].x) <= MAX_POINTS


def perflab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perflab", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_cli_writes_where_asked_and_fails_in_one_line(joined_run, tmp_path):
    run, store_path = joined_run
    out = tmp_path / "elsewhere.html"
    done = perflab("report", str(run), "--store", str(store_path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and out.stat().st_size > 50_000
    missing = perflab("report", str(tmp_path / "no-such-run"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"perflab: error: no run directory at {tmp_path / 'no-such-run'}"
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    not_a_run = perflab("report", str(empty))
    assert not_a_run.returncode == 2 and "no results.json" in not_a_run.stderr
    no_store = perflab("report", str(run), "--store", str(tmp_path / "x.sqlite3"))
    assert no_store.returncode == 2 and "no probe store at" in no_store.stderr


# -- findings, locations and statements as the report shows them ------------------------


class Tables(HTMLParser):
    """Every table of a page: its attributes, headings and rows; per cell its text and the
    text of each classed element in it (``parts["sql-short"]``, ``parts["sql"]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: dict | None = None
        self._open: list[str | None] = []  # class of each element open inside the cell

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"attrs": attrs, "head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append({"attrs": attrs, "cells": []})
        elif tag in ("td", "th") and self.tables:
            self._cell = {"tag": tag, "attrs": attrs, "text": "", "parts": {}}
            self._open = []
        elif self._cell is not None:
            self._open.append(attrs.get("class"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            cell, self._cell = self._cell, None
            cell["text"] = cell["text"].strip()
            self.tables[-1]["rows"][-1]["cells"].append(cell)
        elif self._cell is not None and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
            for name in filter(None, self._open):
                self._cell["parts"][name] = self._cell["parts"].get(name, "") + data


def tables_of(html: str) -> list[dict]:
    parser = Tables()
    parser.feed(html)
    for table in parser.tables:
        first = table["rows"][0]["cells"] if table["rows"] else []
        if first and all(cell["tag"] == "th" for cell in first):
            table["head"] = [cell["text"] for cell in first]
            table["rows"] = table["rows"][1:]
    return parser.tables


def table_with(html: str, **attrs: str) -> dict:
    (table,) = [t for t in tables_of(html) if all(t["attrs"].get(k) == v for k, v in attrs.items())]
    return table


def by_heading(table: dict, row: dict) -> dict[str, dict]:
    return dict(zip(table["head"], row["cells"], strict=True))


WIDE_COLUMNS = ", ".join(f'"blog_post"."column_{i:02d}"' for i in range(20))
WIDE_SELECT = f'SELECT {WIDE_COLUMNS} FROM "blog_post"'
# Six statements on one table that differ only after the column list (> 300 characters).
SIX_ON_ONE_TABLE = [
    f'{WIDE_SELECT} WHERE "blog_post"."id" = ? LIMIT ?',
    f'{WIDE_SELECT} WHERE "blog_post"."author_id" = ?',
    f'{WIDE_SELECT} WHERE "blog_post"."category_id" IN (...)',
    f'{WIDE_SELECT} ORDER BY "blog_post"."created" DESC LIMIT ?',
    f'{WIDE_SELECT} INNER JOIN "auth_user" ON ("blog_post"."author_id" = "auth_user"."id")',
    f'{WIDE_SELECT} WHERE "blog_post"."slug" = ?',
]
TEMPLATE_LINE = "includes/card.html:5"
APP_LINE = "blog/views.py:31:index"


def statement(fingerprint: str, ms: float = 1.0, **where) -> QueryEvent:
    sql = fingerprint.replace("?", "1")
    return QueryEvent(sql, fingerprint, text_hash(fingerprint), ms, "default", 0.0, **where)


@pytest.fixture
def findings_run(tmp_path):
    """Route api/posts/<pk>/: twelve requests with one duplicate group each (no N+1), one
    of them with two duplicate rows of that group. Route api/posts/<int:pk>/ (b1): two N+1
    loops, one located by its template line only, one by an app line and a template line."""
    store_path = tmp_path / "probe.sqlite3"
    dup_fp = 'SELECT "blog_category"."id" FROM "blog_category" WHERE "blog_category"."id" = ?'

    def duplicate(count: int, value: int) -> Finding:
        return Finding("duplicate", text_hash(dup_fp), dup_fp, APP_LINE, count, float(count),
                       dup_fp.replace("?", str(value)), location=APP_LINE)  # fmt: skip

    requests = []
    for n in range(12):
        found = [duplicate(2, 1)] + ([duplicate(3, 2)] if n == 0 else [])
        requests.append(record(f"d{n}", "api/posts/<pk>/", 10.0, findings=found))
    loop_fp = f'{WIDE_SELECT} WHERE "blog_post"."author_id" = ?'
    image_fp = 'SELECT "img"."id", "img"."file", "img"."width", "img"."height" FROM "img" ' \
        'WHERE "img"."id" = ?'  # fmt: skip
    in_template = [statement(image_fp, 4.0, template=TEMPLATE_LINE, location=TEMPLATE_LINE)] * 6
    both = f"{APP_LINE} ← {TEMPLATE_LINE}"
    in_view = [statement(loop_fp, 0.5, callsite=APP_LINE, template=TEMPLATE_LINE,
                         location=both)] * 5  # fmt: skip
    loops = [
        Finding("n_plus_one", text_hash(image_fp), image_fp, None, 6, 24.0,
                image_fp.replace("?", "7"), "select_related('image')",
                template=TEMPLATE_LINE, location=TEMPLATE_LINE),
        Finding("n_plus_one", text_hash(loop_fp), loop_fp, APP_LINE, 5, 2.5,
                loop_fp.replace("?", "3"), None, template=TEMPLATE_LINE, location=both),
    ]  # fmt: skip
    b1 = record("b1", "api/posts/<int:pk>/", 30.0, findings=loops)
    b1.queries = in_template + in_view + [statement(sql, 3.0) for sql in SIX_ON_ONE_TABLE]
    RecordingStore.at_path(store_path).write([*requests, b1])
    client = [("d0", "GET", "/api/posts/<pk>/", START + 2, 14.0, 14.0, ""),
              ("b1", "GET", "/api/posts/[id]/", START + 5, 40.0, 40.0, "")]  # fmt: skip
    return write_run(tmp_path / "run", client, store=store_path)


def test_endpoints_show_n_plus_one_and_duplicates_apart(findings_run):
    html = build_report(findings_run).read_text()
    table = table_with(html, id="endpoints-table")
    assert "findings" not in table["head"]
    rows = {
        r["attrs"]["data-endpoint"]: by_heading(table, r)
        for r in table["rows"]
        if "data-endpoint" in r["attrs"]
    }
    # Thirteen duplicate rows in twelve requests on this route: one duplicate, no N+1.
    posts = rows["GET /api/posts/<pk>/"]
    assert (posts["N+1"]["text"], posts["duplicates"]["text"]) == ("0", "1")
    by_id = rows["GET /api/posts/[id]/"]
    assert (by_id["N+1"]["text"], by_id["duplicates"]["text"]) == ("2", "0")


def test_findings_count_distinct_requests(findings_run):
    html = build_report(findings_run).read_text()
    table = table_with(html, **{"class": "findings", "data-kind": "duplicate"})
    (row,) = table["rows"]
    cells = by_heading(table, row)
    assert cells["requests"]["text"] == "12"  # not 13: d0 holds two rows of the group
    # Per request: (11 * 2 + 5) / 12 statements; the most in one request is d0's 5.
    assert cells["per request"]["text"] == "2 (max 5)"


def test_example_sql_is_one_short_line_that_opens_onto_the_full_statement(findings_run):
    html = build_report(findings_run).read_text()
    table = table_with(html, **{"class": "findings", "data-kind": "n_plus_one"})
    found = {r["attrs"]["data-location"]: by_heading(table, r) for r in table["rows"]}
    cell = found[f"{APP_LINE} ← {TEMPLATE_LINE}"]["example SQL"]
    short = cell["parts"]["sql-short"]
    assert short == 'SELECT "blog_post"."column_00", … (20 columns) FROM "blog_post" WHERE ' \
        '"blog_post"."author_id" = ?'  # fmt: skip
    assert cell["parts"]["sql-full"] == f'{WIDE_SELECT} WHERE "blog_post"."author_id" = 3'
    assert cell["attrs"]["class"] == "sql-cell"
    css = (Path(report_package.__file__).parent / "static" / "report.css").read_text()
    assert re.search(r"td\.sql-cell[^{]*\{[^}]*min-width", css)  # the cell is given room


def test_top_sql_keeps_statements_on_one_table_apart(findings_run):
    html = build_report(findings_run).read_text()
    table = table_with(html, **{"class": "sql-table"})
    shown = [by_heading(table, r)["statement"]["parts"]["sql-short"] for r in table["rows"]]
    wide = [text for text in shown if "(20 columns)" in text]
    assert len(wide) == 6 and len(set(wide)) == 6  # the N+1 loop runs one of the six
    prefix = 'SELECT "blog_post"."column_00", … (20 columns) FROM'
    assert all(text.startswith(prefix) for text in wide)
    full = [by_heading(table, r)["statement"]["parts"]["sql-full"] for r in table["rows"]]
    assert set(SIX_ON_ONE_TABLE) <= set(full)


def test_findings_and_slowest_requests_show_where_they_are(findings_run):
    html = build_report(findings_run).read_text()
    table = table_with(html, **{"class": "findings", "data-kind": "n_plus_one"})
    where = [by_heading(table, r)["where"]["text"] for r in table["rows"]]
    assert where == [TEMPLATE_LINE, f"{APP_LINE} ← {TEMPLATE_LINE}"]  # by total time
    # The slowest requests: b1's findings and statements, each with its place.
    slow = html.split('<details class="slow" data-request-id="b1"')[1].split('class="slow"')[0]
    slow_tables = tables_of(slow)
    findings = next(t for t in slow_tables if t["attrs"].get("class") == "compact slow-findings")
    assert [by_heading(findings, r)["where"]["text"] for r in findings["rows"]] == where
    statements = slow_tables[-1]
    places = {by_heading(statements, r)["where"]["text"] for r in statements["rows"]}
    assert places == {TEMPLATE_LINE}  # its five slowest statements ran in the card template


def test_run_facts_say_why_requests_kept_locusts_names(tmp_path):
    reason = (
        "no probe at /perf/api/urlpatterns/ (404): include('perflab.urls') before any catch-all"
    )
    run = write_run(tmp_path / "run", [], grouping="locust names", grouping_reason=reason)
    html = build_report(run).read_text()
    assert "locust names (no probe at /perf/api/urlpatterns/ (404)" in html.replace("&#39;", "'")


def test_a_second_run_into_the_same_store_does_not_show_in_the_first_ones_report(joined_run):
    """Findings and SQL are read for the run's window, as routes are: a run recorded an hour
    later into the same store adds nothing to this run's report."""
    run, store_path = joined_run
    later = QueryEvent("SELECT 9", "SELECT later", "h9", 3.0, "default", 0.0, "app/later.py:9:g")
    RecordingStore.at_path(store_path).write([
        RequestRecord(request_id="later", method="GET", path="/api/later/", started=START + 3600,
                      pid=1, route="api/later/", status=200, duration_ms=5.0,
                      queries=[later, later],
                      findings=[Finding("duplicate", "h9", "SELECT later", "app/later.py:9:g",
                                        2, 6.0, "SELECT 9")]),
    ])  # fmt: skip
    data = ReportData(run)
    assert [f["route"] for f in data.findings("n_plus_one")] == ["api/posts/<pk>/"]
    assert data.findings("duplicate") == []
    assert {s["fingerprint"] for s in data.sql()} == {"SELECT ?"}
    assert "app/later.py" not in render_html(data)
    whole_store = RecordingStore.at_path(store_path, read_only=True)
    assert {f["kind"] for f in whole_store.findings()} == {"n_plus_one", "duplicate"}
    assert {s["fingerprint"] for s in whole_store.sql()} == {"SELECT ?", "SELECT later"}
