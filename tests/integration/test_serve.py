"""`perflab serve` and `perflab demo` as a person runs them: real processes, real signals."""

import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from perflab.demo.staff import LOGIN_PATH, PASSWORD_FILE, STAFF_USERNAME
from perflab.server import free_port
from tests.integration.conftest import run_perflab

pytestmark = pytest.mark.integration


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def staff_reads_the_probe_status(base: str, username: str, password: str) -> bool:
    """Log in through the reference app's login page (a session cookie, Django's CSRF token),
    then read the staff-only /perf/api/status/."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    with opener.open(base + LOGIN_PATH) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    with opener.open(urllib.request.Request(base + LOGIN_PATH, data=form)):
        pass
    try:
        with opener.open(base + "/perf/api/status/") as status:
            return json.load(status)["enabled"] is True
    except urllib.error.HTTPError as refused:
        assert refused.code == 403
        return False


@pytest.mark.parametrize(
    ("stop_signal", "exit_code"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 130)],  # a service's stop; Ctrl-C: interrupted
)
def test_serve_answers_from_the_given_database_and_stops_cleanly(seeded_db, stop_signal, exit_code):
    url, directory = seeded_db
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--port", str(port), "--workers", "2",
         "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PERFLAB_DATA_DIR": str(directory / "elsewhere")},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/healthz/", process)
    with urllib.request.urlopen(base + "/api/posts/") as response:
        assert json.load(response)["count"] == 3000  # the seeded file, not a default one
    password = (directory / "elsewhere" / PASSWORD_FILE).read_text().strip()
    assert staff_reads_the_probe_status(base, STAFF_USERNAME, password)
    assert not staff_reads_the_probe_status(base, STAFF_USERNAME, "a wrong password")
    workers = psutil.Process(process.pid).children(recursive=True)
    assert len([p for p in workers if "gunicorn" in " ".join(p.cmdline())]) == 3  # master + 2
    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == exit_code, stderr
    assert "stopped" in stdout
    dashboard = f"dashboard: {base}/perf/ — log in as {STAFF_USERNAME}, password {password}"
    assert dashboard in " ".join(stdout.split())
    assert "Traceback" not in stderr
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive


def test_gunicorn_stopped_by_someone_else_ends_serve_cleanly_in_one_line(seeded_db):
    """SIGTERM to gunicorn's master (a supervisor, a person): gunicorn stops gracefully and
    exits 0, so `perflab serve` says who stopped it and exits 0, as SIGTERM to it would."""
    url, directory = seeded_db
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--port", str(port), "--workers", "1",
         "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PERFLAB_DATA_DIR": str(directory / "elsewhere")},
    )  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/healthz/", process)
    (master,) = [p for p in psutil.Process(process.pid).children() if "gunicorn" in p.cmdline()]
    master.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stdout + stderr
    assert "gunicorn was stopped by a signal from outside perflab: stopped" in stdout
    assert "exited unexpectedly" not in stdout + stderr
    assert "Traceback" not in stderr and "perflab: error" not in stderr, stderr


@pytest.mark.serial  # the demo's SLO, p95<200ms, must pass
def test_demo_seeds_serves_load_tests_and_reports(tmp_path):
    env = {"PERFLAB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = run_perflab(
        "demo", "--posts", "2000", "--duration", "5", "--users", "5", env=env, timeout=180
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "seeded 2,000 posts" in result.stdout
    results = json.loads((tmp_path / "runs" / "demo" / "results.json").read_text())
    assert results["totals"]["failures"] == 0
    assert results["slos"][0]["expression"] == "p95<200ms"
    assert "SLOs: PASS" in result.stdout
    assert "Routes (server side)" in result.stdout
    password = (tmp_path / PASSWORD_FILE).read_text().strip()
    dashboard = (
        "dashboard: run `perflab serve`, then open http://127.0.0.1:8000/perf/ — "
        f"log in as {STAFF_USERNAME}, password {password}"
    )
    assert dashboard in " ".join(result.stdout.split())
    report = (tmp_path / "runs" / "demo" / "report.html").read_text()
    assert "10,000 posts" not in report and "2,000 posts" in report  # the run's data volume


def test_dev_profile_serves_with_toolbar_and_silk(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--dev", "--toolbar", "--silk", "on",
         "--no-probe", "--port", str(port), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PERFLAB_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz/", process)
        request = urllib.request.Request(base + "/api/posts/", headers={"Accept": "text/html"})
        with urllib.request.urlopen(request) as response:
            assert b'id="djDebug"' in response.read()  # the toolbar, on DRF's browsable API
        with urllib.request.urlopen(base + "/silk/") as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    with sqlite3.connect(tmp_path / "demo.sqlite3") as db:  # silk writes to the app's database
        paths = {row[0] for row in db.execute("SELECT path FROM silk_request")}
    assert "/api/posts/" in paths


def recorded(store: Path) -> int:
    """Requests the probe has written so far (read-only: the writers own the store)."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM perflab_request").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigterm_to_demo_stops_its_server_and_load_test(tmp_path):
    """gunicorn runs in its own session and the load test in its own process: a demo that
    died on SIGTERM left both running. It stops them as Ctrl-C does, and still reports."""
    process = subprocess.Popen(
        [sys.executable, "-m", "perflab", "demo", "--posts", "200", "--duration", "60",
         "--users", "2", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PERFLAB_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and len(children) < 2:  # gunicorn, then `perflab run`
        assert process.poll() is None, process.communicate()
        children = psutil.Process(process.pid).children()
        time.sleep(0.2)
    descendants = psutil.Process(process.pid).children(recursive=True)
    while time.monotonic() < deadline and recorded(tmp_path / "probe.sqlite3") < 5:
        time.sleep(0.5)  # some load measured: the run is interrupted, not empty
    process.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = process.communicate(timeout=90)
        _gone, alive = psutil.wait_procs(descendants, timeout=20)
    finally:  # what a failing demo left behind must not outlive the test
        for leftover in psutil.wait_procs(descendants, timeout=0)[1]:
            leftover.kill()
    assert process.returncode == 130, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stderr
    assert not alive, [p.cmdline() for p in alive]
    assert (tmp_path / "runs" / "demo" / "results.json").is_file()
