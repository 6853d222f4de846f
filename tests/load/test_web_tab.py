"""perflab's tabs on a real Locust web UI (``Environment.create_web_ui``, served by Flask's test
client instead of a socket): the tabs in the page's template arguments, their rows in Locust's
``/stats/requests``, the session's tests (``perflab.load.web_tests``) with their page and
reports, ``--web-login`` and ``--web-base-path``. Client figures come from a real
``LoadStats``, server figures from a real ``RecordingStore`` filled with the probe's own records.
The browser test is tests/integration/test_web_ui.py."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime

import pytest
from locust import HttpUser, constant, task
from locust.env import Environment

from perflab.load.results import RESULTS, RunResults
from perflab.load.runner import RunOutcome
from perflab.load.slo import evaluate, parse_slo
from perflab.load.stats import LoadStats
from perflab.load.web_tab import (
    ENDPOINTS_TAB,
    FINDINGS_TAB,
    NO_STORE,
    TESTS_TAB,
    PerflabTab,
    TabFigures,
    tab_figures,
)
from perflab.load.web_tests import REPORT, WebTest
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
    assert [t["key"] for t in args["extended_tabs"]] == [ENDPOINTS_TAB, FINDINGS_TAB, TESTS_TAB]
    # each tab has its table, whose columns are keys of the rows sent
    assert {t["key"] for t in args["extended_tables"]} == {ENDPOINTS_TAB, FINDINGS_TAB, TESTS_TAB}
    assert args["extended_csv_files"] == [
        {"href": "./perflab/tests", "title": "perflab: every test of this session, its report"},
        {"href": "./perflab/report", "title": "perflab report of the test (once stopped)"},
    ]

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
    assert tables[TESTS_TAB] == [
        {"test": "-", "status": "no test yet: start one from Locust's form"}
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
    assert set(extended_stats(client)) == {"content-length", ENDPOINTS_TAB, FINDINGS_TAB, TESTS_TAB}

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
    test = finished_test(1, run_dir, load_stats())
    PerflabTab(ui, lambda: tab_figures(LoadStats(), run_dir, None, START), lambda: [test]).install()
    client = ui.app.test_client()
    assert client.get("/locust/perflab/report").status_code == 200
    assert client.get("/perflab/report").status_code == 404
    assert client.get("/locust/perflab/tests/1/report").status_code == 200
    assert client.get("/perflab/tests").status_code == 404
    tables = extended_stats(client, "/locust/stats/requests")
    assert tables[TESTS_TAB][0]["report"] == "/locust/perflab/tests/1/report"
    page = client.get("/locust/perflab/tests").get_data(as_text=True)
    assert '<a href="tests/1/report">' in page  # relative: /locust/perflab/tests/1/report


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def finished_test(number, run_dir, stats, slos=(), users=3, started=START, ended=START + 10):
    """A stopped test as WebRun lists it: from its outcome, whose results are results.json's."""
    figures = tab_figures(stats, run_dir, None, started, ended)
    slo_results = evaluate([parse_slo(text) for text in slos], figures.totals, figures.endpoints)
    results = RunResults(
        status="completed", started_at=_iso(started), ended_at=_iso(ended),
        duration_s=ended - started, totals=figures.totals, endpoints=figures.endpoints,
        slos=[r.as_record() for r in slo_results],
    )  # fmt: skip
    outcome = RunOutcome("completed", results, slo_results, run_dir)
    return WebTest.finished(number, started, users, outcome)


def running_test(number, run_dir, stats, slos=(), users=5, started=START + 60):
    """The test running now, as WebRun lists it: its figures so far."""
    figures = tab_figures(stats, run_dir, None, started)
    slo_results = evaluate([parse_slo(text) for text in slos], figures.totals, figures.endpoints)
    status = f"running, {users} users"
    return WebTest.measuring(number, run_dir, started, users, figures.totals, slo_results, status)


def clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%H:%M:%S")


def test_every_test_of_the_session_is_a_row_the_running_one_with_its_figures_so_far(tmp_path):
    first_stats, current_stats = load_stats(), LoadStats()
    for ms in (5.0, 6.0, 7.0):
        current_stats.record("GET", "/api/posts/", ms, at=START + 61)
    slos = ("p95<100ms",)
    tests = [
        finished_test(1, finished_run(tmp_path / "test-01"), first_stats, slos),
        running_test(2, tmp_path / "test-02", current_stats, slos),
    ]
    (tmp_path / "test-02").mkdir()
    ui = web_ui()
    PerflabTab(ui, lambda: None, lambda: tests, slos=True).install()
    client = ui.app.test_client()
    first, current = extended_stats(client)[TESTS_TAB]

    totals = first_stats.total()
    assert first == {
        "test": 1, "directory": str(tmp_path / "test-01"), "status": "completed",
        "started": clock(START), "duration": "10s", "users": 3,
        "requests": totals["requests"], "failures": 1, "p95": totals["latency"]["p95"],
        "slos": f"fail: p95 {totals['latency']['p95']:.1f} ms >= 100 ms",
        "report": "/perflab/tests/1/report",
    }  # fmt: skip
    assert current["test"] == 2 and current["status"] == "running, 5 users"
    assert (current["requests"], current["failures"]) == (3, 0)
    assert current["p95"] == current_stats.total()["latency"]["p95"] == 7.0
    assert current["slos"] == "pass so far"
    assert current["report"] == "written when the test stops"
    assert current["started"] == clock(START + 60)
    # the tab's columns are the rows' keys, the SLOs' included when --slo is given
    page = client.get("/").get_data(as_text=True)
    args = json.loads(re.search(r"window\.templateArgs = (.*)", page).group(1))
    (columns,) = [t["structure"] for t in args["extended_tables"] if t["key"] == TESTS_TAB]
    assert [c["key"] for c in columns] == list(first)  # every cell has its column, in order


def test_without_slos_the_tests_have_no_verdict_column(tmp_path):
    test = finished_test(1, finished_run(tmp_path / "test-01"), load_stats())
    assert test.verdict is None
    ui = web_ui()
    PerflabTab(ui, lambda: None, lambda: [test]).install()
    client = ui.app.test_client()
    (row,) = extended_stats(client)[TESTS_TAB]
    assert "slos" not in row
    page = client.get("/").get_data(as_text=True)
    args = json.loads(re.search(r"window\.templateArgs = (.*)", page).group(1))
    (columns,) = [t["structure"] for t in args["extended_tables"] if t["key"] == TESTS_TAB]
    assert [c["key"] for c in columns] == list(row)
    assert "<th>SLOs</th>" not in client.get("/perflab/tests").get_data(as_text=True)


def test_the_tests_page_links_each_written_report_and_reloads_while_a_test_runs(tmp_path):
    (tmp_path / "test-01").mkdir()
    (tmp_path / "test-01" / RESULTS).write_text("{}")
    (tmp_path / "test-01" / REPORT).write_text("<title>report of test 1</title>")
    (tmp_path / "test-02").mkdir()  # stopped without a report (its drawing failed)
    (tmp_path / "test-02" / RESULTS).write_text("{}")
    tests = [
        finished_test(1, tmp_path / "test-01", load_stats(), ("p95<1s",)),
        finished_test(2, tmp_path / "test-02", load_stats(), ("p95<1s",), started=START + 20),
        running_test(3, tmp_path / "test-03", LoadStats(), ("p95<1s",)),
    ]
    ui = web_ui()
    PerflabTab(ui, lambda: None, lambda: tests, slos=True).install()
    client = ui.app.test_client()

    answer = client.get("/perflab/tests")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert page.count("<a href=") == 2  # Locust's UI, and the one report written
    assert '<a href="tests/1/report">test-01 report</a>' in page
    assert '<a href="../">' in page
    assert "none (see the terminal)" in page and "written when the test stops" in page
    assert '<meta http-equiv="refresh" content="2">' in page  # test 3 runs
    assert page.index("test-01") < page.index("test-02") < page.index("test-03")
    assert "nothing to judge yet" in page  # test 3 has no request yet
    assert client.get("/perflab/tests/1/report").get_data(as_text=True) == (
        "<title>report of test 1</title>"
    )
    for number in (2, 3, 4, 0):  # no report, still running, no such test
        assert client.get(f"/perflab/tests/{number}/report").status_code == 404, number
    assert client.get("/perflab/tests/x/report").status_code == 404

    tests.pop()  # nothing runs: the page stops reloading
    assert "http-equiv" not in client.get("/perflab/tests").get_data(as_text=True)


def test_a_name_in_the_list_is_text_on_the_page(tmp_path):
    run_dir = tmp_path / "<script>alert(1)</script>"
    test = running_test(1, run_dir, LoadStats())
    ui = web_ui()
    PerflabTab(ui, lambda: None, lambda: [test]).install()
    page = ui.app.test_client().get("/perflab/tests").get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_stats_answer_that_says_stopped_waits_for_the_tests_files(tmp_path):
    waits = []
    ready = web_ui()
    PerflabTab(ready, lambda: None, list, settle=waits.append).install()
    extended_stats(ready.app.test_client())
    assert waits == []  # ready: nothing to wait for
    stopped = web_ui()  # a UI of its own: Locust memoizes each UI's answer for 2 s
    PerflabTab(stopped, lambda: None, list, settle=waits.append).install()
    stopped.environment.runner.stop()  # Locust's own stop: "stopped", test_stop fired
    assert extended_stats(stopped.app.test_client()) is not None
    assert stopped.app.test_client().get("/stats/requests").get_json()["state"] == "stopped"
    assert waits and all(timeout > 0 for timeout in waits)


def test_web_login_guards_the_tests_page_and_each_report(tmp_path):
    ui = web_ui(web_login=True)
    ui.app.secret_key = "a test key"
    ui.login_manager.user_loader(lambda user_id: None)
    test = finished_test(1, finished_run(tmp_path / "test-01"), load_stats())
    PerflabTab(ui, lambda: None, lambda: [test]).install()
    client = ui.app.test_client()
    for path in ("/perflab/tests", "/perflab/tests/1/report"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
