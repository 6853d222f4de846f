"""Distributed `perflab run` (a master and local worker processes) against the reference app.

The server's own count is the probe's store: every request the app served is a row with the
time it started (the app's clock, the machine's). A run's figures are right when the store
holds exactly the requests the run counted inside its started/ended window and none outside
it, and the window is as long as the load: `-t`, not the time workers take to leave.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from perflab.probe.store.reader import StoreReader

# serial: request counts from arrival rates over wall-clock durations.
pytestmark = [pytest.mark.integration, pytest.mark.serial]

LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Prober(FastHttpUser):
    wait_time = constant(0.01)

    @task
    def health(self):
        self.client.get("/api/categories/")
"""
PATH = "/api/categories/"  # served from the cache: the load is the runner's, not SQLite's
FLUSH_WAIT_S = 10.0  # the probe's writers flush every 0.5 s


def perflab_run(*args: str) -> subprocess.Popen:
    """`perflab run` in its own session, as a terminal starts it: a group to send Ctrl-C to."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "perflab", "run", "--headless", "--quiet", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def served(store: Path, since: float = 0.0, until: float = 1e12) -> int:
    """Requests for PATH the app recorded as started in [since, until]."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM perflab_request WHERE path = ? AND started BETWEEN ? AND ?",
            (PATH, since, until),
        ).fetchone()
    return count


def settled_count(store: Path, at_least: int) -> int:
    """The store's count once the app's writers have flushed what they hold."""
    deadline = time.monotonic() + FLUSH_WAIT_S
    while served(store) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # two flush intervals more: anything still queued would show now
    return served(store)


@pytest.fixture
def store(seeded_db) -> Path:
    return Path(seeded_db[1]) / "probe.sqlite3"


@pytest.fixture
def locustfile(tmp_path) -> Path:
    path = tmp_path / "prober.py"
    path.write_text(LOCUSTFILE)
    return path


def test_duration_and_rate_are_the_loads(blog_server, store, locustfile, tmp_path):
    before = served(store)
    out = tmp_path / "run"
    # Users mid-task get --stop-timeout to finish it (Locust's default, 0, cuts them).
    process = perflab_run(
        "-f", str(locustfile), "--host", blog_server.url, "-u", "4", "-r", "4", "-t", "6s",
        "--workers", "2", "--stop-timeout", "5", "--out", str(out), "--store", str(store),
    )  # fmt: skip
    _, stderr = process.communicate(timeout=120)
    exited = time.time()
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    started, ended = epoch(results["started_at"]), epoch(results["ended_at"])
    requests = results["totals"]["requests"]
    assert results["status"] == "completed"
    assert abs(results["duration_s"] - 6.0) < 1.0, results["duration_s"]
    assert exited - ended < 5.0  # the workers leave at once (they used to take 30 s)
    assert requests > 300
    # The server counted the same requests in the run's window, and none outside it.
    total = settled_count(store, before + requests) - before
    in_window = served(store, started, ended)
    assert requests == in_window == total
    assert results["totals"]["rps"] == pytest.approx(in_window / results["duration_s"])
    # The window is the load: the server was busy for nearly all of it.
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        first, last_end = db.execute(
            "SELECT MIN(started), MAX(started + duration_ms / 1000) FROM perflab_request "
            "WHERE path = ? AND started BETWEEN ? AND ?",
            (PATH, started, ended),
        ).fetchone()
    assert last_end - first > results["duration_s"] - 1.0
    # The run is registered in the store, and every request it sent names it: the master's
    # run id, then each worker's own part.
    reader = StoreReader.at_path(store, read_only=True)
    (run,) = [r for r in reader.runs() if r["out_dir"] == str(out.resolve())]
    assert run["status"] == "completed" and run["requests"] == requests
    assert (run["started"], run["ended"]) == pytest.approx((started, ended), abs=0.002)
    assert run["report"] == str(out.resolve() / "report.html")
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        ids = [i for (i,) in db.execute(
            "SELECT request_id FROM perflab_request WHERE path = ? AND started BETWEEN ? AND ?",
            (PATH, started, ended),
        )]  # fmt: skip
    assert all(i.startswith(run["request_id_prefix"] + ".") for i in ids)
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 2  # one part per worker
    assert reader.run_of_request(ids[-1])["run_id"] == run["run_id"]
    log = (out / "locust.log").read_text()
    assert "Discarded report" not in log, log
    print(
        f"-t 6s: duration_s {results['duration_s']:.3f}, {requests} requests, "
        f"{results['totals']['rps']:.1f} req/s; server: {in_window} in the window "
        f"({in_window / results['duration_s']:.1f}/s), {total} in all; exit {exited - ended:.1f} s "
        "after the load"
    )
    assert "Traceback" not in stderr


def test_open_model_shares_end_with_the_run(blog_server, store, locustfile, tmp_path):
    """Each worker stops its share of the schedule when told, before Locust stops its users
    (whose stop first spends ~0.1 s in inspect): nothing due in that time counts as dropped."""
    before = served(store)
    out = tmp_path / "run"
    # --stop-timeout: under Locust's default, 0, an iteration in flight at the end is cut.
    process = perflab_run(
        "-f", str(locustfile), "--host", blog_server.url, "--arrival-rate", "100",
        "--max-in-flight", "20", "-t", "3s", "--workers", "2", "--stop-timeout", "5",
        "--out", str(out),
    )  # fmt: skip
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    requests, open_model = results["totals"]["requests"], results["open_model"]
    assert abs(results["duration_s"] - 3.0) < 1.0
    assert open_model["started"] == requests >= 280  # one request per iteration, 100/s
    assert open_model["dropped"] <= 2
    # Per second too (the workers' snapshots once mixed the epoch into a monotonic clock).
    assert all(row.get("dropped", 0) <= 2 for row in results["series"])
    in_window = served(store, epoch(results["started_at"]), epoch(results["ended_at"]))
    assert requests == in_window == settled_count(store, before + requests) - before


@pytest.mark.parametrize("target", ["master", "process group"])
def test_ctrl_c_ends_a_distributed_run_in_seconds(blog_server, store, locustfile, tmp_path, target):
    """SIGINT to the master alone, or to the whole group as a terminal's Ctrl-C does."""
    before = served(store)
    out = tmp_path / "run"
    # Users mid-task get --stop-timeout to finish it (Locust's default, 0, cuts them).
    process = perflab_run(
        "-f", str(locustfile), "--host", blog_server.url, "-u", "4", "-r", "4", "-t", "60s",
        "--workers", "2", "--stop-timeout", "5", "--out", str(out),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while served(store) < before + 200 and time.monotonic() < deadline:
            time.sleep(0.2)  # until the load is well under way
        assert process.poll() is None and served(store) >= before + 200, "no load yet"
        children = psutil.Process(process.pid).children()
        workers = [child for child in children if "--worker" in child.cmdline()]
        assert len(workers) == 2
        interrupted = time.monotonic()
        if target == "master":
            process.send_signal(signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    assert took < 5.0, f"SIGINT took {took:.1f} s to end the run"
    _, still_running = psutil.wait_procs(workers, timeout=5)
    assert not still_running
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert results["duration_s"] < 60
    # What was measured is what the server served, up to the interrupt.
    requests = results["totals"]["requests"]
    total = settled_count(store, before + requests) - before
    in_window = served(store, epoch(results["started_at"]), epoch(results["ended_at"]))
    assert requests == in_window == total > 200
    assert "Discarded report" not in (out / "locust.log").read_text()
    assert "Traceback" not in stderr
    print(f"SIGINT to the {target}: exit 130 in {took:.2f} s, {requests} requests = server's")


def test_a_worker_that_fails_before_the_load_leaves_no_worker_behind(blog_server, tmp_path):
    """The first worker to import the locustfile fails; the master gives up on the run, and
    the worker that did start is ended with it, not left waiting for its heartbeat."""
    marker = tmp_path / "first-worker"
    locustfile = tmp_path / "first_worker_fails.py"
    locustfile.write_text(
        "import os, sys\n"
        f"if '--worker' in sys.argv and not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'x').close()\n"
        "    raise RuntimeError('this worker cannot start')\n" + LOCUSTFILE
    )
    run = perflab_run("-f", str(locustfile), "--host", blog_server.url, "-u", "2", "-t", "5s",
                      "--workers", "2", "--out", str(tmp_path / "out"))  # fmt: skip
    _out, err = run.communicate(timeout=90)
    assert run.returncode == 1, err
    assert "a worker process exited" in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [
            p for p in psutil.process_iter(["cmdline"])
            if str(locustfile) in " ".join(p.info["cmdline"] or [])
        ]  # fmt: skip
        if not left:
            break
        time.sleep(0.2)
    assert not left, [p.info["cmdline"] for p in left]
