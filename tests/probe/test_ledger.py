"""A killed process's queue is counted, not lost: ledgers, and the store's settled counts."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perflab.probe.ledger import SHARED_MEMORY, SUFFIX, Ledger, dead_ledgers, ledger_directory
from perflab.probe.store import RecordingStore
from perflab.probe.store.schema import LOST_IN_DEAD_PROCESS
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


def ledgers_of(tmp_path) -> Path:
    """Where the processes writing to the test's store keep their ledgers."""
    return ledger_directory(settings_for(tmp_path).STORE)


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
    assert os.listdir(ledgers_of(tmp_path)) == []
    writer.close()


def test_a_dead_process_is_not_counted_for_records_the_store_has(tmp_path):
    """Killed between its commit and its ledger update: the store's count wins."""
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid no longer runs
    directory = ledgers_of(tmp_path)
    directory.mkdir()
    key = f"{socket.gethostname()}.{gone.pid}.1.0"
    (directory / (key + SUFFIX)).write_bytes((20).to_bytes(8, "little") + (5).to_bytes(8, "little"))
    store.write([record(n) for n in range(12)], writer=(key, 12))
    writer = survivor(tmp_path)
    assert writer.settle_dead_processes() == 8  # 20 taken, 12 accounted for
    writer.close()


def test_a_process_that_ends_cleanly_leaves_nothing_to_settle(tmp_path):
    writer = survivor(tmp_path)
    for n in range(5):
        writer.submit(record(n).frozen())
    writer.close()
    assert not ledgers_of(tmp_path).exists()  # its file, and the directory it was alone in
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
    blocked = tmp_path / "ledgers"
    blocked.write_text("a file where the directory would be")
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    writer = BackgroundWriter(store, settings_for(tmp_path, FLUSH_INTERVAL_S=3600), ledgers=blocked)
    writer.submit(record(1).frozen())
    assert writer.flush()
    assert writer.stats.ledger_problem.startswith("no ledger at")
    assert writer.store.request_count() == 1
    writer.close()


def test_ledgers_live_in_shared_memory_where_the_host_has_it(tmp_path):
    """A store of two integers per request instead of a system call (benchmarks/RESULTS.md)."""
    if not SHARED_MEMORY.is_dir():
        pytest.skip("no /dev/shm on this host")
    directory = ledgers_of(tmp_path)
    assert directory.parent == SHARED_MEMORY
    ledger = Ledger(directory)
    try:
        ledger.took(7)
        ledger.settled(5)
        assert ledger._counts is not None  # mapped: no system call per record
        data = ledger.path.read_bytes()
        assert (
            int.from_bytes(data[:8], sys.byteorder),
            int.from_bytes(data[8:16], sys.byteorder),
        ) == (7, 5)
    finally:
        ledger.close(remove=True)


def test_a_mapped_ledger_made_immutable_does_not_kill_its_process(tmp_path):
    """chattr +i on a mapped file on disk: the next write is a SIGBUS. On tmpfs it is not."""
    if not SHARED_MEMORY.is_dir():
        pytest.skip("no /dev/shm on this host")
    code = textwrap.dedent(
        f"""
        import subprocess
        from pathlib import Path
        from perflab.probe.ledger import Ledger
        ledger = Ledger(Path({str(ledgers_of(tmp_path))!r}))
        ledger.took(1)
        made = subprocess.run(["chattr", "+i", str(ledger.path)], capture_output=True)
        try:
            for n in range(2, 200_000):
                ledger.took(n)
        finally:
            subprocess.run(["chattr", "-i", str(ledger.path)], capture_output=True)
        ledger.close(remove=True)
        print("alive", made.returncode)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=os.getcwd(), timeout=60)  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.split()[0] == "alive"


def test_several_ledgers_in_one_process_never_share_a_file(tmp_path):
    """A second ledger of the process (a probe rebuilt) must not cut short the first's
    mapped file: that would be a SIGBUS on the first's next write."""
    directory = ledgers_of(tmp_path)
    first, second = Ledger(directory), Ledger(directory)
    try:
        assert first.path != second.path
        first.took(3)
        second.took(4)
        first.took(5)
        assert [first.path.read_bytes()[0], second.path.read_bytes()[0]] == [5, 4]
    finally:
        first.close(remove=True)
        second.close(remove=True)
