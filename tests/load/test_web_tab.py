"""perflab's tabs on a real Locust web UI (``Environment.create_web_ui``, served by Flask's test
client instead of a socket): the tabs in the page's template arguments, their rows in Locust's
``/stats/requests``, the report route, ``--web-login`` and ``--web-base-path``. Client figures
come from a real ``LoadStats``, server figures from a real ``RecordingStore`` filled with the
probe's own records. The browser test is tests/integration/test_web_ui.py."""

from __future__ import annotations

import json
import re
import sys
import time

import pytest
from locust import HttpUser, constant, task
from locust.env import Environment

from perflab.load.results import RESULTS
from perflab.load.stats import LoadStats
from perflab.load.web_tab import (
    ENDPOINTS_TAB,
    FINDINGS_TAB,
    NO_STORE,
    REPORT,
    RUN_TAB,
    PerflabTab,
    TabFigures,
    tab_figures,
)
from perflab.probe.records import Finding, QueryEvent, RequestRecord
from perflab.probe.store import RecordingStore

START = 1_767_607_200.0  # 2026-01-05 10:00 UTC, on a minute: the store's rollups are per minute


class Reader(HttpUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(1)

    @task
    def posts(self):
        self.client.get("/api/posts/")


@pytest.fixture(autouse=True)
def _locust_command_line(monkeypatch):
    """Locust's UI reads the process's command line for a locustfile's own options: pytest's
    is not a locust one."""
    monkeypatch.setattr(sys, "argv", ["locust"])


def web_ui(**options):
    """Locust's own web UI over a local runner, not listening (its Flask app is tested)."""
    environment = Environment(user_classes=[Reader], host=Reader.host)
    environment.create_local_runner()
    return environment.create_web_ui("127.0.0.1", 0, delayed_start=True, **options)


def load_stats() -> LoadStats:
    stats = LoadStats()
    for ms in (10.0, 12.0, 14.0, 200.0):
        stats.record("GET", "/api/posts/<pk>/", ms, at=START + 1)
    stats.record("GET", "/api/authors/naive/", 80.0, at=START + 2)
    stats.record("GET", "/api/authors/naive/", 90.0, error="HTTPError('500')", at=START + 2)
    stats.record("POST", "login", 30.0, at=START + 2)
    return stats


def extended_stats(client, path: str = "/stats/requests") -> dict[str, list[dict]]:
    """perflab's (and any other extension's) rows in Locust's stats answer, by tab."""
    answer = client.get(path)
    assert answer.status_code == 200
    tables = answer.get_json()["extended_stats"]
    keys = [table["key"] for table in tables]
    assert len(keys) == len(set(keys)), keys  # each table once, however often it is asked
    return {table["key"]: table["data"] for table in tables}


N_PLUS_ONE = Finding(
    kind="n_plus_one", fingerprint_hash="hprofile",
    fingerprint="SELECT ? FROM profile WHERE user_id = ?",
    callsite="blog/naive.py:33:get_display_name", count=20, total_ms=4.0,
    example_sql="SELECT * FROM profile WHERE user_id = 1", hint="select_related('profile')",
    location="blog/naive.py:33:get_display_name",
)  # fmt: skip


def record(rid, route, started, queries=3, findings=(), duration_ms=12.0):
    events = [
        QueryEvent(sql=f"SELECT {n}", fingerprint="SELECT ?", fingerprint_hash=f"h{n % 4}",
                   duration_ms=0.5, alias="default", start_ms=0.0, callsite="app.py:1:f")
        for n in range(queries)
    ]  # fmt: skip
    return RequestRecord(
        request_id=rid, method="GET", path="/" + route, started=started, pid=1, route=route,
        status=200, duration_ms=duration_ms, queries=events, findings=list(findings),
    )  # fmt: skip


@pytest.fixture
def store_path(tmp_path):
    """A probe store holding the run (from START) and, an hour before, another run's N+1."""
    path = tmp_path / "probe.sqlite3"
    store = RecordingStore.at_path(path)
    store.write([record(f"old{n}", "api/old/", START - 3600, findings=[N_PLUS_ONE])
                 for n in range(5)])  # fmt: skip
    store.write([record(f"p{n}", "api/posts/<pk>/", START + 1, queries=2, duration_ms=8.0)
                 for n in range(4)])  # fmt: skip
    store.write([record(f"n{n}", "api/authors/naive/", START + 2, queries=62,
                        findings=[N_PLUS_ONE]) for n in range(2)])  # fmt: skip
    store.write([record("h", "healthz/", START + 3, queries=0)])
    store.database.close()
    return path


def test_tab_figures_are_the_runs_hdr_statistics_as_results_json_has_them(tmp_path):
    stats = load_stats()
    figures = tab_figures(stats, tmp_path, None, since=START, until=START + 10)
    by_name = {e.name: e for e in figures.endpoints}
    for report in stats.endpoints():
        endpoint = by_name[report["name"]]
        assert (endpoint.method, endpoint.requests, endpoint.failures) == (
            report["method"], report["requests"], report["failures"])  # fmt: skip
        for p in ("p50", "p95", "p99", "max"):
            assert getattr(endpoint.latency, p) == report["latency"][p]
        assert endpoint.rps == pytest.approx(report["requests"] / 10)
    assert figures.totals.requests == 7 and figures.totals.failures == 1
    assert by_name["/api/posts/<pk>/"].latency.p99 == 200.0  # exact: the true max, not ~2 digits
    assert (figures.run_dir, figures.store, figures.since, figures.until) == (
        tmp_path, None, START, START + 10)  # fmt: skip


def test_the_tabs_are_in_locusts_page_and_their_rows_in_its_stats_answer(tmp_path):
    ui = web_ui()
    stats = load_stats()
    PerflabTab(ui, lambda: tab_figures(stats, tmp_path, None, START, START + 10)).install()
    client = ui.app.test_client()

    page = client.get("/").get_data(as_text=True)
    args = json.loads(re.search(r"window\.templateArgs = (.*)", page).group(1))
    assert [t["key"] for t in args["extended_tabs"]] == [ENDPOINTS_TAB, FINDINGS_TAB, RUN_TAB]
    # each tab has its table, whose columns are keys of the rows sent
    assert {t["key"] for t in args["extended_tables"]} == {ENDPOINTS_TAB, FINDINGS_TAB, RUN_TAB}
    assert {
        "href": "./perflab/report",
        "title": "perflab report of the test (once stopped)",
    } in args["extended_csv_files"]

    answer = client.get("/stats/requests").get_json()
    assert answer["state"] == "ready" and "stats" in answer  # Locust's own answer is all there
    tables = extended_stats(client)
    rows = {(r["method"], r["name"]): r for r in tables[ENDPOINTS_TAB]}
    for report in stats.endpoints():
        row = rows[(report["method"], report["name"])]
        assert [row["requests"], row["failures"], row["p50"], row["p95"], row["p99"]] == [
            report["requests"], report["failures"], report["latency"]["p50"],
            report["latency"]["p95"], report["latency"]["p99"]]  # fmt: skip
    assert rows[("", "Aggregated")]["requests"] == 7
    assert not any("server_p50" in row for row in rows.values())  # no store, no server column
    assert tables[FINDINGS_TAB] == [{"finding": NO_STORE}]
    run = {row["item"]: row["value"] for row in tables[RUN_TAB]}
    assert run["run directory"] == str(tmp_path)
    assert run["results"] == run["report"] == "written at the end"
    assert run["server figures"] == NO_STORE
    columns = {t["key"]: {c["key"] for c in t["structure"]} for t in args["extended_tables"]}
    for key, data in tables.items():
        assert all(set(row) <= columns[key] for row in data), key


def test_figures_change_as_the_run_records(tmp_path):
    ui = web_ui()
    stats = LoadStats()
    PerflabTab(ui, lambda: tab_figures(stats, tmp_path, None, time.time() - 5)).install()
    client = ui.app.test_client()
    assert extended_stats(client)[ENDPOINTS_TAB] == [
        {"method": "", "name": "Aggregated", "requests": 0, "failures": 0, "rps": 0.0,
         "p50": 0.0, "p95": 0.0, "p99": 0.0}
    ]  # fmt: skip
    stats.record("GET", "/api/posts/", 25.0)
    # Locust memoizes its own answer for 2 s; perflab's rows are made anew on each request
    rows = extended_stats(client)[ENDPOINTS_TAB]
    assert [(r["name"], r["requests"], r["p99"]) for r in rows] == [
        ("/api/posts/", 1, 25.0), ("Aggregated", 1, 25.0)]  # fmt: skip


def test_before_any_run_the_tabs_say_so():
    ui = web_ui()
    PerflabTab(ui, lambda: None).install()
    tables = extended_stats(ui.app.test_client())
    assert tables[ENDPOINTS_TAB] == []
    assert tables[FINDINGS_TAB] == [{"finding": "no test started yet"}]
    assert tables[RUN_TAB] == [
        {"item": "test", "value": "ready, 0 users"},
        {"item": "run directory", "value": "made when a test starts"},
    ]


def test_server_figures_for_the_runs_window_beside_the_client_ones(tmp_path, store_path):
    ui = web_ui()
    stats = load_stats()
    figures = tab_figures(stats, tmp_path, store_path, START, START + 10)
    PerflabTab(ui, lambda: figures).install()
    tables = extended_stats(ui.app.test_client())

    rows = {(r["method"], r["name"]): r for r in tables[ENDPOINTS_TAB]}
    posts = rows[("GET", "/api/posts/<pk>/")]
    assert (posts["requests"], posts["p99"]) == (4, 200.0)  # the client side
    assert posts["server_requests"] == 4 and posts["server_p50"] == pytest.approx(8.0, rel=1e-3)
    assert (posts["queries"], posts["n_plus_one"]) == (2, 0)
    naive = rows[("GET", "/api/authors/naive/")]
    assert (naive["server_requests"], naive["queries"], naive["n_plus_one"]) == (2, 62, 1)
    assert "server_p50" not in rows[("POST", "login")]  # a name no route has: no server side
    # a route the store saw that no endpoint named is listed with its server side only
    assert rows[("GET", "healthz/")] == {
        "method": "GET", "name": "healthz/", "server_requests": 1, "server_p50": 12.0,
        "server_p95": 12.0, "queries": 0.0, "n_plus_one": 0}  # fmt: skip
    assert ("GET", "api/old/") not in rows  # the other run's route: outside the window

    assert tables[FINDINGS_TAB] == [{
        "finding": "N+1", "method": "GET", "route": "api/authors/naive/",
        "location": "blog/naive.py:33:get_display_name", "requests": 2, "per_request": 20.0,
        "hint": "select_related('profile')",
    }]  # fmt: skip
    run = {row["item"]: row["value"] for row in tables[RUN_TAB]}
    assert run["server figures"].startswith(f"{store_path}, requests from ")


def test_a_store_that_cannot_be_read_is_a_note_not_a_broken_ui(tmp_path):
    not_a_store = tmp_path / "app.sqlite3"
    not_a_store.write_bytes(b"not SQLite at all" * 100)
    ui = web_ui()
    PerflabTab(ui, lambda: tab_figures(load_stats(), tmp_path, not_a_store, START)).install()
    tables = extended_stats(ui.app.test_client())
    assert tables[FINDINGS_TAB][0]["finding"].startswith("the probe store could not be read: ")
    assert len(tables[ENDPOINTS_TAB]) == 4  # the client side is still shown
    assert not_a_store.read_bytes() == b"not SQLite at all" * 100  # read-only: left as it was


def test_another_extensions_rows_stay_and_a_failing_tab_leaves_locusts_answer():
    ui = web_ui()
    from flask import request

    @ui.app.after_request
    def content_length_tab(response):  # a locustfile's own tab, as Locust's example adds it
        if request.path == "/stats/requests":
            data = response.get_json()
            data["extended_stats"] = [{"key": "content-length", "data": [{"name": "x"}]}]
            response.set_data(json.dumps(data))
        return response

    def broken() -> TabFigures:
        raise RuntimeError("the run's figures are not there")

    PerflabTab(ui, lambda: None).install()
    client = ui.app.test_client()
    assert set(extended_stats(client)) == {"content-length", ENDPOINTS_TAB, FINDINGS_TAB, RUN_TAB}

    failing = web_ui()
    PerflabTab(failing, broken).install()
    answer = failing.app.test_client().get("/stats/requests")
    assert answer.status_code == 200
    assert "stats" in answer.get_json() and "extended_stats" not in answer.get_json()


def finished_run(run_dir):
    run_dir.mkdir()
    (run_dir / RESULTS).write_text("{}")
    (run_dir / REPORT).write_text("<title>perflab report</title>")
    return run_dir


def test_the_report_is_served_once_written_and_nothing_else(tmp_path):
    ui = web_ui()
    current = {"dir": tmp_path / "run"}
    current["dir"].mkdir()
    PerflabTab(ui, lambda: tab_figures(LoadStats(), current["dir"], None, START)).install()
    client = ui.app.test_client()
    assert client.get("/perflab/report").status_code == 404  # not written yet

    current["dir"] = finished_run(tmp_path / "done")
    answer = client.get("/perflab/report")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert answer.get_data(as_text=True) == "<title>perflab report</title>"
    run = {row["item"]: row["value"] for row in extended_stats(client)[RUN_TAB]}
    assert run["results"] == str(current["dir"] / RESULTS)
    assert (
        run["report"] == f"{current['dir'] / REPORT} (open it at /perflab/report, or Download Data)"
    )

    # a report.html that leads out of the run directory is not served
    secret = tmp_path / "secret.html"
    secret.write_text("not a report")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / RESULTS).write_text("{}")
    (linked / REPORT).symlink_to(secret)
    current["dir"] = linked
    assert client.get("/perflab/report").status_code == 404
    # nor is a report.html in a directory that is not a run's (no results.json)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / REPORT).write_text("<title>x</title>")
    current["dir"] = plain
    assert client.get("/perflab/report").status_code == 404


def test_web_login_protects_the_report_and_the_rows(tmp_path):
    from flask_login import UserMixin

    class Tester(UserMixin):
        id = "tester"

    ui = web_ui(web_login=True)
    # --web-login as Locust documents it: the locustfile sets the key and how users are found
    ui.app.secret_key = "a test key"
    ui.login_manager.user_loader(lambda user_id: None)
    ui.login_manager.request_loader(
        lambda request: Tester() if request.headers.get("X-Tester") == "yes" else None
    )
    run_dir = finished_run(tmp_path / "run")
    PerflabTab(ui, lambda: tab_figures(LoadStats(), run_dir, None, START)).install()
    client = ui.app.test_client()
    for path in ("/perflab/report", "/stats/requests"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
        assert "<title>perflab report" not in answer.get_data(as_text=True)
        assert "extended_stats" not in answer.get_data(as_text=True)
    answer = client.get("/perflab/report", headers={"X-Tester": "yes"})
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == "<title>perflab report</title>"


def test_the_routes_follow_locusts_web_base_path(tmp_path):
    ui = web_ui(web_base_path="/locust")
    run_dir = finished_run(tmp_path / "run")
    PerflabTab(ui, lambda: tab_figures(LoadStats(), run_dir, None, START)).install()
    client = ui.app.test_client()
    assert client.get("/locust/perflab/report").status_code == 200
    assert client.get("/perflab/report").status_code == 404
    tables = extended_stats(client, "/locust/stats/requests")
    run = {row["item"]: row["value"] for row in tables[RUN_TAB]}
    assert "(open it at /locust/perflab/report" in run["report"]
