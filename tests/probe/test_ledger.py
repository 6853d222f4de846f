"""A killed process's queue is counted, not lost: ledgers, and the store's settled counts."""

import os
import signal
import socket
import subprocess
import sys
import textwrap

from perflab.probe.ledger import SUFFIX, Ledger, dead_ledgers
from perflab.probe.store import LOST_IN_DEAD_PROCESS, RecordingStore
from perflab.probe.writer import BackgroundWriter
from tests.probe.test_store import record, settings_for

# Writes `written` records, then queues `queued` more and waits to be killed.
KILLED_PROCESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from perflab.probe.store import RecordingStore
    from perflab.probe.writer import BackgroundWriter
    from tests.probe.test_store import record, settings_for
    tmp, written, queued = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    writer = BackgroundWriter(
        RecordingStore.at_path(tmp / "probe.sqlite3"), settings_for(tmp, FLUSH_INTERVAL_S=3600)
    )
    for n in range(written):
        writer.submit(record(n).frozen())
    assert writer.flush()
    for n in range(written, written + queued):
        writer.submit(record(n).frozen())
    print("ready", flush=True)
    time.sleep(60)
    """
)


def run_and_kill(tmp_path, written: int, queued: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PROCESS, str(tmp_path), str(written), str(queued)],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def survivor(tmp_path) -> BackgroundWriter:
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    return BackgroundWriter(store, settings_for(tmp_path, FLUSH_INTERVAL_S=3600))


def test_the_queue_of_a_killed_process_is_counted_as_lost(tmp_path):
    run_and_kill(tmp_path, written=12, queued=7)
    writer = survivor(tmp_path)
    assert writer.store.request_count() == 12
    assert writer.settle_dead_processes() == 7
    assert writer.store.counters()[LOST_IN_DEAD_PROCESS] == 7
    assert writer.settle_dead_processes() == 0  # counted once
    assert os.listdir(tmp_path / "probe.sqlite3-ledgers") == []
    writer.close()


def test_a_dead_process_is_not_counted_for_records_the_store_has(tmp_path):
    """Killed between its commit and its ledger update: the store's count wins."""
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid no longer runs
    directory = tmp_path / "probe.sqlite3-ledgers"
    directory.mkdir()
    key = f"{socket.gethostname()}.{gone.pid}.1"
    (directory / (key + SUFFIX)).write_bytes((20).to_bytes(8, "little") + (5).to_bytes(8, "little"))
    store.write([record(n) for n in range(12)], writer=(key, 12))
    writer = survivor(tmp_path)
    assert writer.settle_dead_processes() == 8  # 20 taken, 12 accounted for
    writer.close()


def test_a_process_that_ends_cleanly_leaves_nothing_to_settle(tmp_path):
    writer = survivor(tmp_path)
    for n in range(5):
        writer.submit(record(n).frozen())
    key = writer._ledger.key
    writer.close()
    assert not (tmp_path / "probe.sqlite3-ledgers" / (key + SUFFIX)).exists()
    rows = writer.store._read("SELECT writer FROM perflab_writer")
    assert rows == []
    assert writer.store.request_count() == 5


def test_a_live_process_is_left_alone(tmp_path):
    directory = tmp_path / "ledgers"
    mine = Ledger(directory)
    mine.took(3)
    assert list(dead_ledgers(directory)) == []
    mine.close(remove=True)


def test_without_a_ledger_the_writer_works_and_says_what_a_kill_would_lose(tmp_path):
    (tmp_path / "probe.sqlite3-ledgers").write_text("a file where the directory would be")
    writer = survivor(tmp_path)
    writer.submit(record(1).frozen())
    assert writer.flush()
    assert writer.stats.ledger_problem.startswith("no ledger at")
    assert writer.store.request_count() == 1
    writer.close()
