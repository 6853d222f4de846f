"""`perflab report` on a real short run, checked against results.json and the probe's store,
then opened in a real headless Chromium with the network off: every chart drawn, no errors."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics
import subprocess
import time
from html import escape
from html.parser import HTMLParser

import pytest

from tests.integration.conftest import chromium, run_perflab, server_for

pytestmark = pytest.mark.integration

LOCUSTFILE = """
from locust import constant

from perflab.demo.locustfile import AuthorsUser, BlogUser


class QuickBlogUser(BlogUser):
    wait_time = constant(0.05)


class QuickAuthorsUser(AuthorsUser):
    wait_time = constant(0.2)
"""
EXPECTED_CHARTS = {"chart-load", "chart-throughput", "chart-latency", "chart-cpu", "chart-rss",
                   "chart-distribution"}  # fmt: skip


class Cells(HTMLParser):
    """Endpoint rows of the report: {"GET /name": [data-value of each cell]}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "tr" and "data-endpoint" in attrs:
            self._row = attrs["data-endpoint"]
            self.rows[self._row] = []
        elif tag == "td" and self._row is not None:
            self.rows[self._row].append(attrs.get("data-value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None


COLUMNS = ["endpoint", "requests", "rps", "error_rate", "p50", "p95", "p99", "server_p50",
           "server_p95", "server_p99", "queue_ms", "queries", "db_share", "cache_hit_rate",
           "n_plus_one", "duplicates"]  # fmt: skip


def endpoint_rows(html: str) -> dict[str, dict[str, str]]:
    parser = Cells()
    parser.feed(html)
    return {key: dict(zip(COLUMNS, cells, strict=True)) for key, cells in parser.rows.items()}


@pytest.fixture(scope="module")
def real_run(seeded_db, tmp_path_factory):
    """A 5 s run of the demo app (every request profiled) with the probe's store recorded."""
    data_dir = tmp_path_factory.mktemp("report-run")
    locustfile = data_dir / "users.py"
    locustfile.write_text(LOCUSTFILE)
    store = data_dir / "probe.sqlite3"
    from perflab.probe.store import RecordingStore

    RecordingStore.at_path(store).ensure_schema()  # `perflab run --store` wants an existing store
    out = data_dir / "run"
    with server_for(seeded_db, data_dir, workers=1, PERFLAB_PROBE="profile-all") as server:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        result = run_perflab(
            "run", "--headless", "--quiet", "-f", str(locustfile), "--host", server.url,
            "-u", "4", "-r", "4", "-t", "5s", "--store", str(store), "--slo", "p95<5000ms",
            "--slo", "p50<0.01ms", "--out", str(out), "QuickBlogUser", "QuickAuthorsUser", env=env,
        )  # fmt: skip
        time.sleep(1.5)  # the probe's writers flush every 0.5 s
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-3000:]  # one SLO fails
    return out, store


@pytest.fixture(scope="module")
def report(real_run):
    out, _ = real_run
    target = out / "report.html"
    result = run_perflab("report", str(out), env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target)
    return target, target.read_text()


def test_report_has_every_section_with_the_runs_figures(real_run, report):
    from perflab.probe.store import RecordingStore
    from perflab.probe.store.reader import Window

    out, store_path = real_run
    path, html = report
    results = json.loads((out / "results.json").read_text())
    store = RecordingStore.at_path(store_path)
    assert path.stat().st_size < 5_000_000
    for section in ("verdict", "timeline", "distribution", "endpoints", "findings", "slowest",
                    "facts"):  # fmt: skip
        assert f'<section id="{section}"' in html
    # Self-contained: nothing is fetched.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)

    # Verdict: one SLO passed, one failed, with the runner's own detail text.
    assert results["verdict"] == "fail"
    assert 'data-verdict="fail"' in html and "FAILED: 1 of 2 SLOs breached" in html
    for slo in results["slos"]:
        assert f'data-slo="{escape(slo["expression"])}"' in html
        assert escape(slo["detail"]) in html
    assert f'data-figure="requests">{results["totals"]["requests"]:,}<' in html

    # Endpoints: client figures from results.json, server figures from the store's routes.
    started = results["started_at"]
    from datetime import datetime

    since = datetime.fromisoformat(started).timestamp()
    until = datetime.fromisoformat(results["ended_at"]).timestamp()
    routes = {(r["method"], r["route"]): r for r in store.routes(Window(since, until))}
    rows = endpoint_rows(html)
    assert set(rows) == {f"{e['method']} {e['name']}" for e in results["endpoints"]}
    with open(out / "requests.csv") as f:
        sampled = list(csv.DictReader(f))
    matched = 0
    for e in results["endpoints"]:
        row = rows[f"{e['method']} {e['name']}"]
        assert int(row["requests"]) == e["requests"]
        assert float(row["p95"]) == e["latency"]["p95"]
        assert float(row["p99"]) == e["latency"]["p99"]
        # The server side: the route this endpoint's sampled requests were served by.
        served = [store.request(request_id=r["request_id"]) for r in sampled
                  if r["method"] == e["method"] and r["name"] == e["name"]]  # fmt: skip
        served = [s for s in served if s]
        if not served:
            continue
        matched += 1
        route = statistics.mode(s["route"] for s in served)
        server = routes[(e["method"], route)]
        assert float(row["server_p95"]) == server["p95_ms"]
        assert float(row["queries"]) == pytest.approx(server["mean_queries"])
        assert float(row["db_share"]) == pytest.approx(server["db_share"])
        queue = statistics.median(
            float(c["service_ms"]) - s["duration_ms"]
            for c, s in ((c, store.request(request_id=c["request_id"])) for c in sampled
                         if c["method"] == e["method"] and c["name"] == e["name"])
            if s
        )  # fmt: skip
        assert float(row["queue_ms"]) == pytest.approx(queue)
        assert queue > -1  # the client's time includes the server's
    assert matched >= 3, rows

    # Findings: the demo's naive authors view is an N+1; its call site and hint are shown.
    n_plus_one = store.findings(kind="n_plus_one")
    assert n_plus_one, "the naive authors endpoint should have produced an N+1 finding"
    for finding in n_plus_one[:3]:
        assert f'data-callsite="{escape(finding["callsite"])}"' in html
    top_sql = store.sql(limit=1)[0]
    assert f'data-fingerprint="{top_sql["fingerprint_hash"]}"' in html

    # Slowest requests: the slowest sampled one first, with its breakdown and its profile.
    slowest = max(sampled, key=lambda r: float(r["latency_ms"]))
    first = html.index('<details class="slow"')
    assert f'data-request-id="{slowest["request_id"]}"' in html[first : first + 300]
    assert "Profile (pyinstrument)" in html

    # Run facts.
    env = results["environment"]
    for name in ("perflab", "Locust", "Python"):
        key = name.lower()
        assert f'data-fact="{name}">{env[key]}<' in html


def test_report_renders_in_headless_chromium_with_no_network(report, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium or chromium-browser on PATH (apt-get install chromium)")
    path, _ = report
    common = [
        browser, "--headless=new", "--no-sandbox", "--disable-gpu",
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
        "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run([*common, "--dump-dom", path.as_uri()], capture_output=True,
                         text=True, timeout=120, env=env)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    charts = set(re.findall(r'<div class="chart" id="([^"]+)" data-chart=""', page))
    drawn = set(re.findall(r'<div class="chart" id="([^"]+)" data-chart="" data-drawn="1"', page))
    assert charts >= EXPECTED_CHARTS
    assert drawn == charts, f"not drawn: {charts - drawn}"
    assert re.search(r'data-charts-drawn="(\d+)"', page)[1] == str(len(charts))
    assert re.search(r'<pre id="report-errors" hidden="">\s*</pre>', page), page[-3000:]
    assert page.count("<canvas") >= len(charts)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console

    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [*common, f"--screenshot={screenshot}", "--window-size=1400,4000", path.as_uri()],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 50_000
    print(f"screenshot: {screenshot}")
