"""``perflab run`` without ``--headless``: Locust's web UI with perflab's tabs, in a real headless
Chromium (Playwright driving Debian's ``chromium``; no browser download). A test started from
Locust's form against the reference app with the probe, perflab's tab updating while it runs,
the user count changed from Locust's edit form, the test stopped from the UI, its run directory
found with results.json and report.html, the tab's last figures equal to the results, and the
report opened from the UI; ``--web-login`` refusing perflab's route.

Every load is a few seconds from a handful of users, to 127.0.0.1 only; the browser cannot
reach anything but loopback. Screenshots go to the test's tmp_path (their paths printed).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from perflab.datadir import STORE_FILE
from perflab.probe.store.reader import StoreReader
from perflab.server import free_port
from tests.integration.conftest import seed_blog, server_for, wait_for

pytestmark = pytest.mark.integration

LOCUSTFILE = """
from locust import HttpUser, constant, events, task


class Reader(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def posts(self):
        self.client.get("/api/posts/")

    @task
    def naive_authors(self):
        self.client.get("/api/authors/naive/")  # the reference app's deliberate N+1


@events.init.add_listener
def web_login(environment, web_ui=None, **kwargs):
    # --web-login as Locust documents it: the locustfile says how users are found (none here)
    if web_ui is not None and web_ui.web_login:
        web_ui.app.secret_key = "perflab's web UI test"
        web_ui.login_manager.user_loader(lambda user_id: None)
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The reference app with its probe under gunicorn, on a small seeded database."""
    seeded = seed_blog(tmp_path_factory.mktemp("web-ui-app"), posts=200, users=10)
    directory = seeded[1]
    with server_for(seeded, directory, workers=1) as server:
        yield server, directory / STORE_FILE


class LocustWebUI:
    """``perflab run`` without ``--headless``: Locust's web UI with perflab's tabs."""

    def __init__(self, directory: Path, host: str, store: Path, *options: str):
        locustfile = directory / "users.py"
        locustfile.write_text(LOCUSTFILE)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        self.out = directory / "runs"
        self.log = directory / "perflab-run.log"
        command = [sys.executable, "-m", "perflab", "run", "-f", str(locustfile), "-H", host,
                   "--web-port", str(self.port), "--store", str(store), "--out", str(self.out),
                   *options]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._answers, 30, f"Locust's web UI at {self.url}; log: {self.log}")

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(self.url + "/login", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, which ``perflab run`` takes as Ctrl-C: it ends the UI and leaves."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(params=[[], ["--workers", "2"]], ids=["local", "master-and-workers"])
def web_ui(app, tmp_path, request):
    """``perflab run``'s web UI over a local run, and over a master of two local workers (the
    tab then shows the master's merged figures)."""
    server, store = app
    started = LocustWebUI(tmp_path, server.url, store, *request.param)
    yield started
    started.stop()


TABLE_ROWS = """() => {
    const table = document.querySelector('table');
    if (!table) return [];
    const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
    return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
        [...tr.querySelectorAll('td')].map((td, i) => [heads[i], td.innerText.trim()])));
}"""


def table(page) -> list[dict[str, str]]:
    """The table the UI shows now, one dict per row by column title."""
    return page.evaluate(TABLE_ROWS)


def by_endpoint(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {f"{row['Method']} {row['Name']}".strip(): row for row in rows}


def ok_requests(web_ui: LocustWebUI) -> int:
    """Requests made so far in the test running now, as Locust counts them (its CSV, which
    Locust does not memoize as it does ``/stats/requests``)."""
    with urllib.request.urlopen(web_ui.url + "/stats/requests/csv", timeout=5) as answer:
        last = answer.read().decode().strip().splitlines()[-1]  # the Aggregated row
    return int(last.split(",")[2])


def shot(page, path: Path) -> None:
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")


def test_a_test_started_in_the_browser_is_measured_in_perflabs_tab(web_ui, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(web_ui.url)
    page.fill("input[name=userCount]", "3")
    page.fill("input[name=spawnRate]", "3")
    page.click("form button[type=submit]")

    page.get_by_role("tab", name="perflab", exact=True).click()
    posts = "GET /api/posts/"
    first = wait_for(lambda: by_endpoint(table(page)).get(posts), 10, "/api/posts/ in the tab")
    # the tab refreshes while the test runs: the next figures are other figures
    second = wait_for(
        lambda: (row := by_endpoint(table(page))[posts])["Requests"] != first["Requests"] and row,
        10, "the tab's figures to change",
    )  # fmt: skip
    assert int(second["Requests"]) > int(first["Requests"])
    # the server's side from the probe's store, beside the client's (per-minute rollups and
    # the probe's 0.5 s flush: it comes within a few refreshes)
    naive = wait_for(
        lambda: (row := by_endpoint(table(page)).get("GET /api/authors/naive/"))
        and row["Server p50 (ms)"] and row,
        10, "the server's figures for /api/authors/naive/",
    )  # fmt: skip
    assert float(naive["Queries/request"]) > 10 and int(naive["N+1"]) >= 1
    shot(page, tmp_path / "perflab-tab.png")

    # the user count changed from Locust's edit form while the test runs
    page.get_by_role("button", name="Edit").click()
    page.fill("form input[name=userCount]", "5")
    page.click("form button[type=submit]")
    wait_for(
        lambda: page.request.get(web_ui.url + "/stats/requests").json()["user_count"] == 5,
        10, "5 users after the edit",
    )  # fmt: skip

    # the session's tests: this one, live, with the edit's users
    page.get_by_role("tab", name="perflab tests").click()
    wait_for(
        lambda: [r["Status"] for r in table(page)] == ["running, 5 users"], 10, "test 1 live"
    )  # fmt: skip

    page.get_by_role("tab", name="perflab findings").click()
    finding = wait_for(
        lambda: next((r for r in table(page) if r.get("Finding") == "N+1"), None),
        10, "an N+1 finding in the tab",
    )  # fmt: skip
    assert finding["Route"] == "api/authors/naive/" and "naive.py:" in finding["Where"]
    assert finding["Hint"]
    shot(page, tmp_path / "perflab-findings.png")

    page.get_by_role("tab", name="perflab tests").click()
    page.get_by_role("button", name="Stop").click()
    # the tests tab lists the stopped test with its report, without a reload: the UI's last
    # poll of the test (Locust's answer saying "stopped") waits for perflab to write its files
    first = wait_for(
        lambda: (rows := table(page)) and rows[0]["Status"] == "completed" and rows[0],
        30, "test 1 completed in the tests tab",
    )  # fmt: skip
    run_dir = web_ui.out / "test-01"
    assert (run_dir / "results.json").is_file() and (run_dir / "report.html").is_file()
    assert first["Test"] == "1" and first["Directory"] == str(run_dir)
    assert first["Report (links: Download Data)"] == "/perflab/tests/1/report"
    assert first["Users"] == "5"  # the most it had: the edit's
    results = json.loads((run_dir / "results.json").read_text())
    assert int(first["Requests"]) == results["totals"]["requests"]
    assert float(first["p95 (ms)"]) == results["totals"]["latency"]["p95"]
    shot(page, tmp_path / "perflab-tests.png")

    # the stopped run's figures in the tab are what its results say
    page.reload()
    page.get_by_role("tab", name="perflab", exact=True).click()
    rows = wait_for(lambda: by_endpoint(table(page)), 10, "the tab after the stop")
    for endpoint in results["endpoints"]:
        row = rows[f"{endpoint['method']} {endpoint['name']}"]
        assert int(row["Requests"]) == endpoint["requests"]
        assert int(row["Failures"]) == endpoint["failures"]
        assert float(row["Req/s"]) == round(endpoint["rps"], 2)
        for p in ("p50", "p95", "p99"):
            assert float(row[f"{p} (ms)"]) == endpoint["latency"][p]
    # the test is registered in the probe's store as a run of its own, with its outcome
    (registered,) = [
        r for r in StoreReader.at_path(web_ui.store, read_only=True).runs()
        if r["out_dir"] == str(run_dir.resolve())
    ]  # fmt: skip
    assert registered["status"] == "completed"
    assert registered["requests"] == results["totals"]["requests"]

    # a second test, started and stopped from the browser: listed under the first
    page.get_by_role("button", name="New").click()
    page.fill("input[name=userCount]", "2")
    page.fill("input[name=spawnRate]", "2")
    page.click("form button[type=submit]")
    page.get_by_role("tab", name="perflab tests").click()
    # Locust clears its figures before test_start, which makes test-02's directory
    wait_for(lambda: (web_ui.out / "test-02").is_dir(), 10, "test 2 started")
    wait_for(lambda: ok_requests(web_ui) > 0, 10, "test 2's first requests")
    page.get_by_role("button", name="Stop").click()
    second = wait_for(
        lambda: len(rows := table(page)) == 2 and rows[1]["Status"] == "completed" and rows[1],
        30, "test 2 completed in the tests tab",
    )  # fmt: skip
    assert second["Directory"] == str(web_ui.out / "test-02")
    assert table(page)[0] == first  # the first test's row as it was

    # each report, opened from the tests page Locust's Download Data tab links to
    page.get_by_role("tab", name="Download Data").click()
    page.get_by_role("link", name="perflab: every test of this session, its report").click()
    page.wait_for_load_state()
    assert page.url == web_ui.url + "/perflab/tests"
    shot(page, tmp_path / "perflab-tests-page.png")
    for number in (1, 2):
        page.get_by_role("link", name=f"test-0{number} report").click()
        page.wait_for_load_state()
        assert page.url == f"{web_ui.url}/perflab/tests/{number}/report"
        assert "perflab" in page.title()
        served = page.request.get(page.url).body()
        assert served == (web_ui.out / f"test-0{number}" / "report.html").read_bytes()
        page.go_back()
    shot(page, tmp_path / "perflab-report.png")


def test_web_login_refuses_perflabs_route_without_credentials(app, tmp_path):
    server, store = app
    web_ui = LocustWebUI(tmp_path, server.url, store, "--web-login")
    try:
        request = urllib.request.Request(web_ui.url + "/perflab/report")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(NoRedirect).open(request, timeout=5)
        assert refused.value.code == 302
        assert refused.value.headers["Location"].startswith("/login")
    finally:
        web_ui.stop()


def perflab_run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    locustfile = tmp_path / "users.py"
    locustfile.write_text(LOCUSTFILE)
    command = [sys.executable, "-m", "perflab", "run", "-f", str(locustfile), "--web-port",
               str(free_port()), "--out", str(tmp_path / "runs"), *options]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_autostart_and_autoquit_exit_with_the_slos_verdict(app, tmp_path):
    """--autostart/--autoquit, as CI runs Locust's UI: the test runs for -t, the UI quits,
    and the exit code is the SLOs' verdict, as a headless run's."""
    server, _store = app
    ran = perflab_run(
        tmp_path, "-H", server.url, "--autostart", "-u", "2", "-t", "2s", "--autoquit", "0",
        "--slo", "p95<0.001ms",
    )  # fmt: skip
    assert ran.returncode == 3, ran.stdout[-3000:] + ran.stderr[-3000:]
    results = json.loads((tmp_path / "runs" / "test-01" / "results.json").read_text())
    assert results["verdict"] == "fail" and results["totals"]["requests"] > 0
    assert not (tmp_path / "runs" / "test-02").exists()


def test_autoquit_without_autostart_is_refused_as_locust_refuses_it(app, tmp_path):
    server, _store = app
    ran = perflab_run(tmp_path, "-H", server.url, "--autoquit", "3")
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        "perflab: error: --autoquit is only meaningful with --autostart (as in locust)"
    ]
    assert not (tmp_path / "runs").exists()


class Answering(http.server.BaseHTTPRequestHandler):
    """Another target, without the probe: every GET answered 200."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_the_forms_host_and_picked_user_class_are_the_tests(app, tmp_path):
    """Locust's form (as the browser posts it) with --class-picker: the test's target is the
    Host typed there and its user classes the ones ticked, in results.json too."""
    server, store = app
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    other_url = f"http://127.0.0.1:{other.server_address[1]}"
    web_ui = LocustWebUI(tmp_path, server.url, store, "--class-picker")
    try:
        form = {"user_count": "2", "spawn_rate": "2", "host": other_url,
                "user_classes": "Reader", "shape_class": "Default"}  # fmt: skip
        started = urllib.request.urlopen(
            web_ui.url + "/swarm", urllib.parse.urlencode(form).encode(), timeout=10
        )  # fmt: skip
        assert json.loads(started.read())["success"]
        wait_for(lambda: ok_requests(web_ui) > 5, 10, "requests to the other host")
        urllib.request.urlopen(urllib.request.Request(web_ui.url + "/stop", method="POST"))
        results_file = web_ui.out / "test-01" / "results.json"
        wait_for(lambda: (web_ui.out / "test-01" / "report.html").is_file(), 20, "test 1's end")
        results = json.loads(results_file.read_text())
    finally:
        web_ui.stop()
        other.shutdown()
    assert results["environment"]["target"] == other_url
    assert results["environment"]["user_classes"] == ["Reader"]
    assert results["grouping"] == "locust names"  # no probe there: Locust's names
    assert "/api/posts/" in {e["name"] for e in results["endpoints"]}  # the URL, not a route
    assert "host changed in the form" in web_ui.log.read_text()
