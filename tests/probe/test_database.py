"""The store's SQLite file under faults: deleted, replaced, unwritable, read-only readers.

The writer must reconnect to whatever file is at the store's path (never keep writing into
an unlinked one), retry a connection that came up read-only, and survive its files turning
unwritable under it without a signal killing the process.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from perflab.probe.database import StoreUnavailable
from perflab.probe.store import RecordingStore
from perflab.probe.writer import BackgroundWriter
from tests.probe.test_store import record, settings_for


def ids(path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT request_id FROM perflab_request")}
    finally:
        connection.close()


def chattr(flag: str, *paths) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


def can_chattr(tmp_path) -> bool:
    probe = tmp_path / "chattr-probe"
    probe.touch()
    try:
        chattr("+i", probe)
        chattr("-i", probe)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@pytest.fixture
def writer(tmp_path):
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    writer = BackgroundWriter(store, settings_for(tmp_path, FLUSH_INTERVAL_S=3600))
    yield writer
    writer.close(flush_timeout=0.5)


def write(writer, *numbers) -> bool:
    for n in numbers:
        writer.submit(record(n).frozen())
    return writer.flush(timeout=3.0)


def test_a_deleted_store_is_recreated_and_written(writer, tmp_path):
    path = tmp_path / "probe.sqlite3"
    assert write(writer, 1)
    for name in os.listdir(tmp_path):
        if name.startswith("probe.sqlite3") and not name.endswith("-ledgers"):
            os.remove(tmp_path / name)
    assert write(writer, 2, 3)
    assert ids(path) == {"r2", "r3"}  # in the file at the path, with its tables made again
    assert writer.stats.write_errors == 0


def test_a_replaced_store_is_written_not_the_file_that_was_there(writer, tmp_path):
    path = tmp_path / "probe.sqlite3"
    assert write(writer, 1)
    other = RecordingStore.at_path(tmp_path / "other.sqlite3")
    other.ensure_schema()
    other.database.close()
    os.replace(tmp_path / "other.sqlite3", path)
    assert write(writer, 2)
    assert ids(path) == {"r2"}


def test_a_directory_in_the_stores_place_is_waited_out_and_nothing_is_lost(writer, tmp_path):
    path = tmp_path / "probe.sqlite3"
    assert write(writer, 1)
    os.remove(path)
    path.mkdir()
    assert not write(writer, 2, 3)  # refused, kept for a retry
    assert writer.pending() == 2 and writer.stats.write_errors >= 1
    path.rmdir()
    assert writer.flush(timeout=3.0)
    assert ids(path) == {"r2", "r3"}


def test_a_store_unwritable_when_first_opened_is_written_once_it_can_be(writer, tmp_path):
    """SQLite opens a write-protected file read-only without a word; that connection must
    not be kept for the process's life."""
    if not can_chattr(tmp_path):
        pytest.skip("chattr +i is not available on this filesystem")
    path = tmp_path / "probe.sqlite3"
    writer.store.ensure_schema()
    writer.store.database.close()
    files = [tmp_path / n for n in os.listdir(tmp_path) if n.startswith("probe.sqlite3-")]
    chattr("+i", path, *[f for f in files if f.is_file()])
    try:
        assert not write(writer, 1, 2)
        assert "readonly" in writer.stats.last_error or "read-only" in writer.stats.last_error
    finally:
        chattr("-i", path, *[f for f in files if f.is_file()])
    assert writer.flush(timeout=3.0)
    assert ids(path) == {"r1", "r2"}


WRITING_PROCESS = textwrap.dedent(
    """
    import sys, time
    from perflab.probe.store import RecordingStore
    from tests.probe.test_store import record
    store = RecordingStore.at_path(sys.argv[1])
    store.write([record(0)])
    print("ready", flush=True)
    errors = n = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        n += 1
        try:
            store.write([record(n)])
        except Exception:
            errors += 1
        time.sleep(0.005)
    print("alive", n, errors, flush=True)
    """
)


def test_store_files_made_immutable_under_a_writer_do_not_kill_it(tmp_path):
    """A memory-mapped WAL index made immutable faults with SIGBUS on the next access."""
    if not can_chattr(tmp_path):
        pytest.skip("chattr +i is not available on this filesystem")
    path = tmp_path / "probe.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITING_PROCESS, str(path)],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        files = [tmp_path / n for n in os.listdir(tmp_path) if n.startswith("probe.sqlite3")]
        chattr("+i", *files)
        try:
            out, _ = child.communicate(timeout=30)
        finally:
            chattr("-i", *files)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, signal.Signals(-child.returncode).name
    _, attempts, errors = out.split()
    assert 0 < int(errors) < int(attempts)  # the fault was met, as errors


def test_a_read_only_store_never_creates_or_changes_a_file(tmp_path):
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(StoreUnavailable):
        RecordingStore.at_path(missing, read_only=True).routes()
    assert not missing.exists()

    app = tmp_path / "app.sqlite3"
    connection = sqlite3.connect(app)
    connection.execute("CREATE TABLE blog_post (id INTEGER)")
    connection.commit()
    connection.close()
    before = app.read_bytes()
    with pytest.raises(StoreUnavailable):
        RecordingStore.at_path(app, read_only=True).routes()
    assert app.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["app.sqlite3"]


def test_a_read_only_store_reads_and_refuses_to_write(tmp_path):
    path = tmp_path / "probe.sqlite3"
    RecordingStore.at_path(path).write([record(1)])
    reader = RecordingStore.at_path(path, read_only=True)
    assert reader.request_count() == 1
    with pytest.raises(StoreUnavailable):
        reader.write([record(2)])
    assert reader.request_count() == 1
