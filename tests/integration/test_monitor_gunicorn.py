"""The resource monitor watching a real gunicorn serving the reference app."""

import concurrent.futures
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from perflab.load.monitor import ResourceMonitor, find_listening_pid
from perflab.server import free_port
from tests.integration.conftest import run_perflab, server_for

# serial: CPU shares sampled from the server's processes.
pytestmark = [pytest.mark.integration, pytest.mark.serial]

PATHS = ["/api/posts/", "/api/posts/?page=3", "/api/authors/naive/", "/api/categories/"]


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        return response.status


def hammer_until(base: str, stop: threading.Event, clients: int = 4) -> list[int]:
    """Requests from ``clients`` threads until ``stop`` is set."""

    def client(n: int) -> list[int]:
        statuses = []
        while not stop.is_set():
            statuses.append(fetch(base + PATHS[(n + len(statuses)) % len(PATHS)]))
        return statuses

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        return [status for future in futures for status in future.result()]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_find_listening_pid_finds_the_master_not_a_worker(blog_server):
    assert find_listening_pid(blog_server.host, blog_server.port) == blog_server.pid
    assert find_listening_pid("localhost", blog_server.port) == blog_server.pid


def test_the_sample_covers_the_master_and_every_worker(blog_server):
    with ResourceMonitor(blog_server.pid) as monitor:
        row = monitor.sample()
    assert row["server_processes"] == 1 + blog_server.workers
    # Each process is a Python interpreter with Django loaded: tens of MB.
    assert row["server_rss_mb"] > 20 * row["server_processes"]
    assert monitor.warnings == []


def test_server_cpu_rises_while_requests_are_served(blog_server):
    monitor = ResourceMonitor(blog_server.pid)
    time.sleep(1.0)
    idle = monitor.sample()["server_cpu_percent"]
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        load = pool.submit(hammer_until, blog_server.url, stop)
        time.sleep(2.0)
        busy = monitor.sample()["server_cpu_percent"]
        stop.set()
        statuses = load.result()
    assert statuses and set(statuses) == {200}
    assert idle < 20
    assert busy > idle + 30, (idle, busy)


def test_run_keeps_sampling_across_a_worker_restart(blog_server):
    master = psutil.Process(blog_server.pid)
    victim = master.children()[0].pid
    monitor = ResourceMonitor(blog_server.pid, interval_s=0.2)
    stop = threading.Event()
    sampler = threading.Thread(target=monitor.run, args=(stop.is_set,))
    sampler.start()
    try:
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)  # gunicorn's master forks a replacement

        def replaced() -> bool:
            pids = {c.pid for c in master.children()}
            return victim not in pids and len(pids) == blog_server.workers

        wait_for(replaced)
        time.sleep(0.5)
    finally:
        stop.set()
        sampler.join(5)
    assert not sampler.is_alive()
    assert fetch(blog_server.url + "/healthz/") == 200
    counts = [s["server_processes"] for s in monitor.samples]
    assert counts[0] == 1 + blog_server.workers
    assert counts[-1] == 1 + blog_server.workers
    assert all(s["server_rss_mb"] > 0 for s in monitor.samples)
    assert monitor.warnings == []


def test_a_stopped_server_gives_none_server_fields(seeded_db, tmp_path):
    with server_for(seeded_db, tmp_path, workers=1) as server:
        monitor = ResourceMonitor(server.pid)
        assert monitor.sample()["server_processes"] == 2
    row = monitor.sample()
    assert row["server_cpu_percent"] is None
    assert row["server_rss_mb"] is None
    assert row["server_processes"] is None
    assert row["system_memory_used_mb"] > 0


@dataclass
class DetachedServer:
    url: str
    port: int
    pid: int  # the master, from gunicorn's pid file
    workers: int


def stop_detached(pid: int, timeout: float = 20.0) -> None:
    """Stop a master that is not our child (no wait() for it): SIGTERM, then SIGKILL to its
    process group (its workers too); PID 1 reaps it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline, killed = time.monotonic() + timeout, False
    while psutil.pid_exists(pid):
        if time.monotonic() > deadline:
            assert not killed, f"gunicorn {pid} outlived SIGKILL"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline, killed = time.monotonic() + 5, True
        time.sleep(0.2)


@pytest.fixture(scope="module")
def detached_server(seeded_db, tmp_path_factory):
    """The reference app under `gunicorn --daemon`, as a deployment starts it: gunicorn forks,
    starts a session and forks again, so the master's parent is PID 1, not this process."""
    url, _ = seeded_db
    data_dir = tmp_path_factory.mktemp("detached")
    port, pid_file = free_port(), data_dir / "gunicorn.pid"
    command = [
        sys.executable, "-m", "gunicorn", "perflab.demo.wsgi:application", "--daemon",
        "--pid", str(pid_file), "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--no-control-socket", "--log-file", str(data_dir / "gunicorn.log"),
    ]  # fmt: skip
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "perflab.demo.settings",
        "DATABASE_URL": url,
        "PERFLAB_DATA_DIR": str(data_dir),
    }
    subprocess.run(command, env=env, check=True, timeout=30, cwd=data_dir)  # returns at once
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return pid_file.is_file() and fetch(base + "/healthz/") == 200
        except OSError:
            return False

    wait_for(answers)
    server = DetachedServer(base, port, int(pid_file.read_text()), workers=2)
    try:
        wait_for(lambda: len(psutil.Process(server.pid).children()) == server.workers)
        yield server
    finally:
        stop_detached(server.pid)


def test_a_detached_gunicorn_is_found_and_measured(detached_server):
    server = detached_server
    assert psutil.Process(server.pid).ppid() == 1  # the climb meets PID 1 (AccessDenied
    # unless this user may read PID 1's sockets): the socket's owner is still found
    assert find_listening_pid("127.0.0.1", server.port) == server.pid
    monitor = ResourceMonitor.for_target("127.0.0.1", server.port)
    assert monitor.server_pid == server.pid
    time.sleep(1.0)
    idle = monitor.sample()
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        load = pool.submit(hammer_until, server.url, stop)
        time.sleep(2.0)
        busy = monitor.sample()
        stop.set()
        statuses = load.result()
    assert statuses and set(statuses) == {200}
    assert busy["server_processes"] == 1 + server.workers
    assert busy["server_rss_mb"] > 20 * busy["server_processes"]
    assert busy["server_cpu_percent"] > idle["server_cpu_percent"] + 30, (idle, busy)
    assert monitor.warnings == []


# Two unrelated processes serving one port (SO_REUSEPORT): the monitor must not pick one.
REUSEPORT_SERVER = """
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404 if self.path.startswith("/perf/") else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening", flush=True)
server.serve_forever()
"""
PLAIN_LOCUSTFILE = """
from locust import HttpUser, constant, task


class PlainUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/")
"""


def test_a_run_that_finds_no_server_warns_in_one_line_and_results_say_why(tmp_path):
    port = free_port()
    servers = [
        subprocess.Popen(
            [sys.executable, "-c", REUSEPORT_SERVER, str(port)], stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        assert all(s.stdout.readline() == b"listening\n" for s in servers)
        locustfile = tmp_path / "plain.py"
        locustfile.write_text(PLAIN_LOCUSTFILE)
        out = tmp_path / "run"
        result = run_perflab(
            "run", "--headless", "--quiet", "-f", str(locustfile), "--host", f"http://127.0.0.1:{port}",
            "-u", "2", "-r", "2", "-t", "2s", "--out", str(out),
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        )  # fmt: skip
    finally:
        for server in servers:
            server.kill()
            server.wait()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    pids = ", ".join(str(s.pid) for s in sorted(servers, key=lambda s: s.pid))
    why = (
        f"server resources not monitored: several processes listen on 127.0.0.1:{port} "
        f"({pids}); pass --server-pid PID"
    )
    assert [line for line in result.stdout.splitlines() if "warning:" in line] == [
        f"warning: {why}"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    monitor = json.loads((Path(out) / "results.json").read_text())["monitor"]
    assert monitor == {"server_pid": None, "warnings": [why]}
