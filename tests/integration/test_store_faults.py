"""Fault injection: the probe's store fails under a real gunicorn serving a bounded load.

For every fault the app answers every request, and every request is either recorded in the
store or counted there as lost (``dropped``, ``lost_in_dead_process``): recorded + lost =
sent, for the requests sent while the store at the path was the one counted. Recording
resumes when the fault clears. Gunicorn is stopped gracefully before counting, so every
worker has written what it holds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from perflab.probe.ledger import ledger_directory
from perflab.probe.store import RecordingStore
from perflab.probe.store.schema import DROPPED, LOST_IN_DEAD_PROCESS
from tests.integration.conftest import server_for
from tests.integration.test_probe_gunicorn import staff_token

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PATHS = ("/api/categories/", "/api/posts/?page=2", "/api/posts/1/")
STORE = "probe.sqlite3"


def load(server, count: int) -> int:
    """``count`` requests from 4 threads; every one must be answered 200. Returns count."""

    def fetch(n: int) -> int:
        url = server.url + PATHS[n % len(PATHS)]
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(fetch, range(count)))
    assert statuses == [200] * count
    return count


def fault_server(seeded_db, data_dir: Path, log_dir: Path, workers: int = 2, **tuning):
    env = {f"FAULT_{k}": str(v) for k, v in tuning.items()}
    return server_for(
        seeded_db, data_dir, log_dir=log_dir, workers=workers,
        DJANGO_SETTINGS_MODULE="tests.integration.fault_settings", **env,
    )  # fmt: skip


def counted(path: Path) -> tuple[int, int]:
    """(recorded requests, requests counted as lost) in the store at ``path``."""
    store = RecordingStore.at_path(path, read_only=True)
    counters = store.counters()
    return store.request_count(), counters.get(DROPPED, 0) + counters.get(LOST_IN_DEAD_PROCESS, 0)


def wait_recorded(path: Path, count: int, timeout: float = 20.0) -> None:
    """Until the store at ``path`` holds ``count`` requests (the writers flush on a timer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if counted(path)[0] >= count:
                return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not reach {count} requests in {timeout}s")


def store_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(STORE) and p.is_file()]


def chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


def require_chattr(directory: Path) -> None:
    marker = directory / "chattr-check"
    marker.touch()
    try:
        chattr("+i", marker)
        chattr("-i", marker)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"chattr +i is not available here: {exc}")
    finally:
        marker.unlink()


def test_a_locked_store(seeded_db, tmp_path):
    data = tmp_path / "data"
    with fault_server(seeded_db, data, tmp_path) as server:
        sent = load(server, 30)
        wait_recorded(data / STORE, sent)
        locker = sqlite3.connect(data / STORE, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # longer than the busy timeout: writes fail
        try:
            sent += load(server, 120)
            time.sleep(6)
        finally:
            locker.execute("COMMIT")
            locker.close()
        sent += load(server, 30)
    assert counted(data / STORE) == (sent, 0)


@pytest.mark.parametrize("recreated", [False, True], ids=["deleted", "recreated-elsewhere"])
def test_a_deleted_store(seeded_db, tmp_path, recreated):
    """Deleted under the workers (and, for the second, made again empty by someone else):
    they write into the file now at the path, never into the unlinked one."""
    data = tmp_path / "data"
    with fault_server(seeded_db, data, tmp_path) as server:
        wait_recorded(data / STORE, load(server, 30))
        for path in store_files(data):
            path.unlink()
        if recreated:
            RecordingStore.at_path(data / STORE).ensure_schema()
        sent = load(server, 90)
        wait_recorded(data / STORE, sent)
        sent += load(server, 30)
    assert counted(data / STORE) == (sent, 0)


def test_a_directory_in_the_stores_place(seeded_db, tmp_path):
    """The queue holds 50: what overflows while the store is gone is counted as dropped."""
    data = tmp_path / "data"
    with fault_server(seeded_db, data, tmp_path, QUEUE_SIZE=50) as server:
        wait_recorded(data / STORE, load(server, 30))
        for path in store_files(data):
            path.unlink()
        (data / STORE).mkdir()
        sent = load(server, 150)
        time.sleep(1)
        (data / STORE).rmdir()
        sent += load(server, 30)
        wait_recorded(data / STORE, 30)
    recorded, lost = counted(data / STORE)
    assert recorded + lost == sent
    assert lost > 0 and recorded > 30  # some overflowed; the queued ones were kept


def test_a_store_unwritable_at_start_then_fixed(seeded_db, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    require_chattr(data)
    RecordingStore.at_path(data / STORE).ensure_schema()
    files = store_files(data)
    chattr("+i", *files)
    try:
        with fault_server(seeded_db, data, tmp_path, workers=1) as server:
            sent = load(server, 60)
            token = staff_token(seeded_db, server)
            sent += 1  # the token's request is recorded too
            status = api_status(server, token)
            assert status["writer"]["write_errors"] >= 1, status
            chattr("-i", *files)
            sent += load(server, 30)
            wait_recorded(data / STORE, sent)
    finally:
        chattr("-i", *files)
    assert counted(data / STORE) == (sent, 0)


def test_store_files_made_immutable_mid_run(seeded_db, tmp_path):
    """With a memory-mapped WAL index this killed the workers with SIGBUS."""
    data = tmp_path / "data"
    data.mkdir()
    require_chattr(data)
    with fault_server(seeded_db, data, tmp_path) as server:
        wait_recorded(data / STORE, load(server, 30))
        workers = {p.pid for p in psutil.Process(server.pid).children()}
        files = store_files(data)
        chattr("+i", *files)
        try:
            sent = load(server, 60)
            time.sleep(1)
            assert {p.pid for p in psutil.Process(server.pid).children()} == workers
        finally:
            chattr("-i", *files)
        sent += load(server, 30)
        wait_recorded(data / STORE, 30 + sent)
    assert counted(data / STORE) == (30 + sent, 0)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk(seeded_db, tmp_path, small_disk):
    data = small_disk / "data"
    with fault_server(seeded_db, data, tmp_path) as server:
        wait_recorded(data / STORE, load(server, 30))
        filler = small_disk / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        sent = load(server, 150)
        time.sleep(1)
        filler.unlink()
        sent += load(server, 30)
        wait_recorded(data / STORE, 30 + sent)
    assert counted(data / STORE) == (30 + sent, 0)
    assert "disk is full" in (tmp_path / "gunicorn.log").read_text()


def api_status(server, token: str) -> dict:
    request = urllib.request.Request(
        server.url + "/perf/api/status/", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_a_killed_worker(seeded_db, tmp_path):
    """SIGKILL while the worker holds its queue (it writes every 60 s): the worker gunicorn
    starts in its place counts the dead one's records as lost, and says so in its status."""
    data = tmp_path / "data"
    with fault_server(seeded_db, data, tmp_path, workers=1, FLUSH_INTERVAL_S=60) as server:
        token = staff_token(seeded_db, server)
        held = 1 + load(server, 40)  # and the token's request
        (worker,) = psutil.Process(server.pid).children()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 30
        while not (replacements := psutil.Process(server.pid).children()):
            assert time.monotonic() < deadline, "gunicorn started no new worker"
            time.sleep(0.1)
        sent = load(server, 20)  # the new worker's writer starts, and settles first
        deadline = time.monotonic() + 20
        while (status := api_status(server, token))["store_counters"].get(
            LOST_IN_DEAD_PROCESS
        ) != held:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert replacements[0].pid != worker.pid
    recorded, lost = counted(data / STORE)
    assert (recorded, lost) == (sent, held)
    assert f"ended with {held} records unwritten" in (tmp_path / "gunicorn.log").read_text()
    ledgers = ledger_directory({"PATH": str(data / STORE)})
    assert not ledgers.exists()  # every process accounted for; the last one removed it
    shutil.rmtree(data)
