"""The resource monitor against real processes, sockets and (in `make test-postgres`) PostgreSQL."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from perflab.load import monitor as monitor_module
from perflab.load.monitor import (
    SAMPLE_COLUMNS,
    ResourceMonitor,
    ServerSearch,
    find_listening_pid,
    find_server,
    is_postgres_url,
)
from perflab.load.target import this_machines_addresses
from perflab.server import free_port
from tests.unprivileged import as_nobody

# CPU shares of real processes and samples counted in wall-clock windows: the module runs alone
# (the serial part of `make test`), where a busy neighbour cannot take the burner's core.
pytestmark = pytest.mark.serial

SERVER_FIELDS = ("server_cpu_percent", "server_rss_mb", "server_processes")
BURN = [sys.executable, "-c", "while True: pass"]


@pytest.fixture
def burner():
    """A real child process spinning one core until the test ends."""
    processes = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen(BURN)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_a_sample_has_the_columns_in_order_and_sane_machine_figures():
    with ResourceMonitor(os.getpid()) as monitor:
        row = monitor.sample()
    assert tuple(row) == SAMPLE_COLUMNS
    assert monitor.columns() == list(SAMPLE_COLUMNS)
    assert row["server_processes"] >= 1
    assert row["server_rss_mb"] > 1  # this interpreter alone is several MB
    assert 0 <= row["system_cpu_percent"] <= 100
    assert 0 < row["system_memory_percent"] < 100
    assert row["system_memory_used_mb"] > 0
    assert row["db_connections"] is None and row["db_active"] is None
    assert monitor.warnings == []


def test_the_timestamp_comes_from_the_given_clock():
    monitor = ResourceMonitor(os.getpid(), clock=lambda: 1234.5)
    assert monitor.sample()["t"] == 1234.5


def test_a_process_burning_a_core_shows_more_than_half_a_core(burner):
    process = burner()
    monitor = ResourceMonitor(process.pid)
    time.sleep(1.0)
    row = monitor.sample()
    assert row["server_processes"] == 1
    assert row["server_cpu_percent"] > 50
    # The next sample is the usage since this one, not since the start.
    time.sleep(0.5)
    assert monitor.sample()["server_cpu_percent"] > 50


def test_a_child_born_between_samples_counts_all_its_cpu_and_leaving_is_no_error(burner):
    monitor = ResourceMonitor(os.getpid())
    before = monitor.sample()["server_processes"]
    process = burner()  # a new member of the tree, as when gunicorn replaces a worker
    time.sleep(1.0)
    row = monitor.sample()
    assert row["server_processes"] == before + 1
    # psutil's cpu_percent() would say 0 on a new process's first reading.
    assert row["server_cpu_percent"] > 50
    process.kill()
    process.wait()
    assert monitor.sample()["server_processes"] == before


def test_an_exited_pid_gives_none_server_fields_without_raising():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    row = ResourceMonitor(process.pid).sample()
    assert all(row[field] is None for field in SERVER_FIELDS)
    assert row["system_memory_percent"] > 0


def test_a_server_that_exits_during_monitoring_turns_the_server_fields_to_none(burner):
    process = burner()
    monitor = ResourceMonitor(process.pid)
    assert monitor.sample()["server_processes"] == 1
    process.kill()
    process.wait()
    row = monitor.sample()
    assert all(row[field] is None for field in SERVER_FIELDS)
    assert monitor.sample()["server_rss_mb"] is None
    assert monitor.warnings == []


def test_no_server_pid_means_only_machine_figures():
    row = ResourceMonitor().sample()
    assert all(row[field] is None for field in SERVER_FIELDS)
    assert row["system_memory_used_mb"] > 0


def test_a_sqlite_url_gives_none_db_fields_and_no_warning(tmp_path):
    monitor = ResourceMonitor(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    rows = [monitor.sample() for _ in range(2)]
    assert all(r["db_connections"] is None and r["db_active"] is None for r in rows)
    assert monitor.warnings == []


def test_an_unreachable_postgres_warns_once_with_the_password_hidden(monkeypatch):
    monkeypatch.setattr(monitor_module, "RECONNECT_AFTER_S", 0)  # retry on every sample
    url = f"postgresql://app:s3cret@127.0.0.1:{free_port()}/blog"
    with ResourceMonitor(database_url=url) as monitor:
        rows = [monitor.sample() for _ in range(3)]
    assert all(r["db_connections"] is None and r["db_active"] is None for r in rows)
    assert len(monitor.warnings) == 1
    assert "app:***@127.0.0.1" in monitor.warnings[0]
    assert "s3cret" not in monitor.warnings[0]


def test_run_samples_every_interval_and_stops_promptly():
    monitor = ResourceMonitor(os.getpid(), interval_s=0.1)
    started = time.monotonic()
    stop_at = started + 0.55
    monitor.run(lambda: time.monotonic() >= stop_at)
    assert time.monotonic() - stop_at < 0.2
    assert 4 <= len(monitor.samples) <= 6
    assert all(s["server_processes"] >= 1 for s in monitor.samples)
    assert all(s["server_cpu_percent"] is not None for s in monitor.samples)


def test_run_returns_within_a_fraction_of_a_long_interval():
    monitor = ResourceMonitor(os.getpid(), interval_s=30)
    deadline = time.monotonic() + 0.3
    monitor.run(lambda: time.monotonic() >= deadline)
    assert time.monotonic() - deadline < 0.2
    assert monitor.samples == []


def test_find_listening_pid_finds_this_process_and_nothing_on_a_free_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert find_listening_pid("127.0.0.1", port) == os.getpid()
        assert find_listening_pid("localhost", port) == os.getpid()
    assert find_listening_pid("127.0.0.1", free_port()) is None


def test_find_listening_pid_picks_the_parent_when_a_forked_child_shares_the_socket():
    # gunicorn's shape in miniature: the parent listens, a forked child inherits the socket.
    script = (
        "import os, socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(30); os._exit(0)\n"
        "print(s.getsockname()[1], child, flush=True)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        port, child = map(int, parent.stdout.readline().split())
        assert find_listening_pid("127.0.0.1", port) == parent.pid
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


# A listener detached as daemons are (gunicorn --daemon): fork, setsid, fork; its parent
# is then PID 1. It forks a worker that inherits the socket, as gunicorn's master does.
DETACHED_LISTENER = """
import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
worker = os.fork()
if worker == 0:
    time.sleep(60); os._exit(0)
print(s.getsockname()[1], os.getpid(), worker, flush=True)
time.sleep(60)
"""


def kill_all(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_nothing_listening_is_said_and_becomes_the_monitors_warning():
    port = free_port()
    assert find_server("127.0.0.1", port) == ServerSearch(
        None, f"no process listens on 127.0.0.1:{port}"
    )
    monitor = ResourceMonitor.for_target("127.0.0.1", port)
    assert monitor.server_pid is None
    assert monitor.warnings == [
        f"server resources not monitored: no process listens on 127.0.0.1:{port}; "
        "pass --server-pid PID"
    ]
    assert all(monitor.sample()[field] is None for field in SERVER_FIELDS)


def test_a_given_server_pid_is_watched_without_a_search():
    monitor = ResourceMonitor.for_target("127.0.0.1", free_port(), server_pid=os.getpid())
    assert monitor.server_pid == os.getpid()
    assert monitor.warnings == []
    assert monitor.sample()["server_processes"] >= 1


def test_a_target_on_another_machine_watches_only_this_machine():
    # A documentation address (RFC 5737): not this machine's, and never connected to.
    assert "198.51.100.7" not in {str(a) for a in this_machines_addresses()}
    monitor = ResourceMonitor.for_target("198.51.100.7", 443)
    assert monitor.server_pid is None
    assert monitor.warnings == [
        "server resources not monitored: 198.51.100.7 is another machine; system CPU and "
        "memory are this machine's (the load generator's)"
    ]
    row = monitor.sample()
    assert all(row[field] is None for field in SERVER_FIELDS)
    assert 0 <= row["system_cpu_percent"] <= 100 and row["system_memory_used_mb"] > 0


def test_a_server_pid_with_a_target_on_another_machine_is_not_watched():
    monitor = ResourceMonitor.for_target("2001:db8::7", 8443, server_pid=os.getpid())
    assert monitor.server_pid is None
    assert monitor.warnings == [
        f"server resources not monitored: 2001:db8::7 is another machine; --server-pid "
        f"{os.getpid()} not watched; system CPU and memory are this machine's (the load "
        "generator's)"
    ]
    assert monitor.sample()["server_processes"] is None


def test_this_machines_interface_address_and_name_are_local_targets():
    port = free_port()
    for address in sorted(str(a) for a in this_machines_addresses() if not a.is_loopback):
        monitor = ResourceMonitor.for_target(address, port)
        assert monitor.warnings == [
            f"server resources not monitored: no process listens on {address}:{port}; "
            "pass --server-pid PID"
        ]
    monitor = ResourceMonitor.for_target("localhost", port, server_pid=os.getpid())
    assert (monitor.server_pid, monitor.warnings) == (os.getpid(), [])


def test_a_name_that_does_not_resolve_is_said():
    name = "a" * 64 + ".invalid"  # refused before any resolver is asked: no DNS query
    monitor = ResourceMonitor.for_target(name, 80)
    assert monitor.warnings == [
        f"server resources not monitored: cannot resolve {name}: label empty or too long; "
        "system CPU and memory are this machine's (the load generator's)"
    ]


LISTENER = """
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""
REUSEPORT_LISTENER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("listening", flush=True)
time.sleep(60)
"""


def test_unrelated_processes_sharing_the_port_are_not_guessed_between():
    port = free_port()
    listeners = [
        subprocess.Popen(
            [sys.executable, "-c", REUSEPORT_LISTENER, str(port)], stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        assert all(p.stdout.readline() == b"listening\n" for p in listeners)
        pids = ", ".join(str(p.pid) for p in sorted(listeners, key=lambda p: p.pid))
        assert find_server("127.0.0.1", port) == ServerSearch(
            None, f"several processes listen on 127.0.0.1:{port} ({pids})"
        )
    finally:
        for listener in listeners:
            listener.kill()
            listener.wait()


def test_a_detached_server_whose_parent_is_pid_1_is_found_with_its_worker():
    # As root PID 1's sockets are readable and it does not listen; as any other user they
    # are not (AccessDenied): either way the climb ends at the detached listener.
    starter = subprocess.Popen([sys.executable, "-c", DETACHED_LISTENER], stdout=subprocess.PIPE)
    port, listener, worker = map(int, starter.stdout.readline().split())
    starter.wait()
    try:
        assert psutil.Process(listener).ppid() == 1
        assert find_listening_pid("127.0.0.1", port) == listener
        with ResourceMonitor.for_target("127.0.0.1", port) as monitor:
            row = monitor.sample()
        assert monitor.server_pid == listener
        assert row["server_processes"] == 2  # the listener and its worker
        assert row["server_rss_mb"] > 1
        assert monitor.warnings == []
    finally:
        kill_all(worker, listener)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_the_climb_stops_at_a_parent_whose_sockets_are_out_of_reach():
    # The listener (and its forked worker) run as nobody under this root process: climbing
    # from the socket's owner meets AccessDenied, and the owner's tree is the server.
    def listen_and_search() -> dict:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        worker = os.fork()
        if worker == 0:
            time.sleep(30)
            os._exit(0)
        try:
            try:
                psutil.Process(os.getppid()).net_connections()
                parent = "readable"
            except psutil.AccessDenied:
                parent = "AccessDenied"
            port = server.getsockname()[1]
            monitor = ResourceMonitor.for_target("127.0.0.1", port)
            return {
                "parent": parent,
                "me": os.getpid(),
                "found": find_listening_pid("127.0.0.1", port),
                "processes": monitor.sample()["server_processes"],
                "warnings": monitor.warnings,
            }
        finally:
            os.kill(worker, signal.SIGKILL)
            os.waitpid(worker, 0)

    answer = as_nobody(listen_and_search)
    assert answer["parent"] == "AccessDenied"
    assert answer["found"] == answer["me"]
    assert answer["processes"] == 2
    assert answer["warnings"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_a_listener_of_another_user_is_said_not_guessed():
    # A root process of its own: a socket of this process would be inherited by the child.
    listener = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE)
    try:
        port = int(listener.stdout.readline())
        warnings = as_nobody(lambda: ResourceMonitor.for_target("127.0.0.1", port).warnings)
    finally:
        listener.kill()
        listener.wait()
    assert warnings == [
        f"server resources not monitored: the process listening on 127.0.0.1:{port} is not "
        "visible to this user (another user's process); pass --server-pid PID"
    ]


@pytest.mark.database
def test_db_connections_rise_by_the_connections_opened():
    url = os.environ.get("DATABASE_URL", "")
    if not is_postgres_url(url):
        pytest.skip("needs DATABASE_URL=postgres://...; runs in `make test-postgres`")
    import psycopg

    extra = 3
    with ResourceMonitor(database_url=url) as monitor:
        base = monitor.sample()
        assert base["db_connections"] is not None, monitor.warnings
        connections = [psycopg.connect(url, autocommit=True) for _ in range(extra)]
        try:
            assert monitor.sample()["db_connections"] == base["db_connections"] + extra
            # A query in flight on one of them makes it 'active'.
            busy = connections[0]
            busy.pgconn.send_query(b"SELECT pg_sleep(0.8)")
            time.sleep(0.2)
            assert monitor.sample()["db_active"] == base["db_active"] + 1
            busy.cancel()
        finally:
            for connection in connections:
                connection.close()
        # Backends exit asynchronously after the client goes.
        deadline = time.monotonic() + 5
        while monitor.sample()["db_connections"] != base["db_connections"]:
            assert time.monotonic() < deadline, "closed connections still counted"
            time.sleep(0.1)
        assert monitor.warnings == []


@pytest.mark.database
def test_db_monitoring_reconnects_after_its_backend_is_terminated():
    url = os.environ.get("DATABASE_URL", "")
    if not is_postgres_url(url):
        pytest.skip("needs DATABASE_URL=postgres://...; runs in `make test-postgres`")
    import psycopg

    with ResourceMonitor(database_url=url) as monitor:
        assert monitor.sample()["db_connections"] is not None, monitor.warnings
        with psycopg.connect(url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'perflab-monitor'"
            ).fetchall()
            assert killed == [(True,)]
            row = monitor.sample()
        assert row["db_connections"] is not None  # reconnected within the same sample
        assert monitor.warnings == []


GEVENT_SCRIPT = """
from gevent import monkey

monkey.patch_all()
import json, os, sys, time
import gevent, psutil
from perflab.load.monitor import ResourceMonitor

monitor = ResourceMonitor(os.getpid(), database_url=sys.argv[1] or None, interval_s=0.1)
ticks = []
deadline = time.monotonic() + 1.0
sampler = gevent.spawn(monitor.run, lambda: time.monotonic() >= deadline)
while time.monotonic() < deadline:
    ticks.append(time.monotonic())
    gevent.sleep(0.02)
sampler.join(2)
print(json.dumps({
    "threads": psutil.Process().num_threads(),
    "ticks": len(ticks),
    "samples": monitor.samples,
    "warnings": monitor.warnings,
}))
"""


@pytest.mark.database
def test_under_gevent_it_runs_in_a_greenlet_without_threads_or_blocking_the_hub():
    url = os.environ.get("DATABASE_URL", "")
    url = url if is_postgres_url(url) else ""
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threads"] == 1  # no OS thread from psutil, psycopg or the monitor
    assert report["ticks"] > 25  # another greenlet kept running every 20 ms
    assert 8 <= len(report["samples"]) <= 11
    assert report["warnings"] == []
    if url:  # in `make test-postgres`: the DB queries ran under the patching too
        assert all(s["db_connections"] is not None for s in report["samples"])


@pytest.mark.database
def test_run_closes_its_db_session_when_it_returns():
    url = os.environ.get("DATABASE_URL", "")
    if not is_postgres_url(url):
        pytest.skip("needs DATABASE_URL=postgres://...; runs in `make test-postgres`")
    import psycopg

    monitor = ResourceMonitor(database_url=url, interval_s=0.1)
    deadline = time.monotonic() + 0.35
    monitor.run(lambda: time.monotonic() >= deadline)
    assert monitor.samples and all(s["db_connections"] is not None for s in monitor.samples)
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'perflab-monitor'"
    with psycopg.connect(url, autocommit=True) as admin:
        give_up = time.monotonic() + 5
        while admin.execute(query).fetchone()[0] != 0:
            assert time.monotonic() < give_up, "the monitor's session outlived run()"
            time.sleep(0.1)
