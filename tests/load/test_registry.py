"""A run registered in the probe's store: saved at its start and with its outcome, its
command line masked, and never at the cost of the run when the store is locked or gone."""

import io
import sqlite3

import pytest
from rich.console import Console

from perflab.load.client import ClientTracker, request_id_prefix
from perflab.load.registry import RunRegistry, masked_command, new_run_id
from perflab.load.results import RunResults
from perflab.probe.store import RecordingStore
from tests.load.test_results import ESSENTIAL


@pytest.fixture
def store(tmp_path):
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    store.ensure_schema()
    store.database.close()
    return tmp_path / "probe.sqlite3"


def results(**changes) -> RunResults:
    return RunResults.from_json({**ESSENTIAL, **changes})


def registry(store, console=None) -> RunRegistry:
    command = masked_command(["perflab", "run", "-H", "http://u:pw@127.0.0.1:8000"])
    return RunRegistry(str(store) if store else None, "http://u:pw@127.0.0.1:8000", command,
                       console or Console(file=io.StringIO()))  # fmt: skip


def test_a_run_is_saved_running_then_with_its_outcome(store, tmp_path):
    run_id = new_run_id()
    runs = registry(store)
    runs.started(run_id, 1000.0, tmp_path / "run")
    reader = RecordingStore.at_path(store)
    (row,) = reader.runs()
    assert row["status"] == "running" and row["ended"] is None and row["requests"] == 0
    assert row["request_id_prefix"] == request_id_prefix(run_id)
    assert row["out_dir"] == str((tmp_path / "run").resolve())
    assert row["report"] == str((tmp_path / "run").resolve() / "report.html")
    assert row["host"] == "http://u:***@127.0.0.1:8000"
    assert "pw" not in row["command"] and row["command"].startswith("perflab run -H")
    runs.ended(run_id, 1000.0, 1001.0, results(verdict="fail"), tmp_path / "run")
    (row,) = reader.runs()
    assert (row["status"], row["verdict"], row["ended"]) == ("completed", "fail", 1001.0)
    assert (row["requests"], row["failures"], row["p95_ms"]) == (5, 0, 1.0)
    runs.ended(run_id, 1000.0, 1001.0, results(), tmp_path / "run")
    assert reader.runs()[0]["verdict"] is None  # no SLOs: no verdict


def test_requests_of_the_run_lead_back_to_it(store):
    run_id = new_run_id()
    registry(store).started(run_id, 1000.0, None)
    local, worker = ClientTracker(), ClientTracker()
    local.for_run(run_id)
    worker.for_run(run_id, process="a1b2")
    reader = RecordingStore.at_path(store)
    for request_id in (local.next_id(), worker.next_id()):
        assert reader.run_of_request(request_id)["run_id"] == run_id
    assert reader.run_of_request(ClientTracker().next_id()) is None  # another run's


def test_without_a_store_nothing_is_saved(tmp_path):
    registry(None).started(new_run_id(), 1000.0, None)
    assert not list(tmp_path.iterdir())


def test_a_locked_store_costs_one_warning_line_and_not_the_run(store):
    output = io.StringIO()
    runs = registry(store, Console(file=output, width=200))
    run_id = new_run_id()
    holder = sqlite3.connect(store)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        runs.started(run_id, 1000.0, None)  # waits out the store's busy timeout, then goes on
    finally:
        holder.rollback()
        holder.close()
    runs.ended(run_id, 1000.0, 1001.0, results(), None)  # the lock is gone: saved
    lines = output.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: the run is not registered")
    assert RecordingStore.at_path(store).run(run_id)["status"] == "completed"


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["perflab", "run", "--web-login", "me:secret"], "perflab run --web-login '********'"),
        (["perflab", "run", "--web-login=me:secret"], "perflab run '--web-login=********'"),
        (["perflab", "run", "--host", "https://me:secret@example.test/?token=abc"],
         "perflab run --host 'https://me:***@example.test/?token=********'"),
        (["perflab", "run", "-f", "my file.py"], "perflab run -f 'my file.py'"),
    ],
)  # fmt: skip
def test_the_command_line_is_kept_with_its_secrets_masked(argv, shown):
    assert masked_command(argv) == shown
