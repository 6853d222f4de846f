"""The resource monitor watching a real gunicorn serving the reference app."""

import concurrent.futures
import os
import signal
import threading
import time
import urllib.request

import psutil
import pytest

from perflab.load.monitor import ResourceMonitor, find_listening_pid
from tests.integration.conftest import server_for

pytestmark = pytest.mark.integration

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
