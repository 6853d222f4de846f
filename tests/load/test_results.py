"""The run directory: written atomically, read back with its schema checked."""

import json

import pytest

from perflab.errors import PerflabError
from perflab.load.results import SCHEMA, RunDirectory, default_run_dir, load_results


def test_written_run_reads_back(tmp_path):
    locustfile = tmp_path / "lf.py"
    locustfile.write_text("# users\n")
    run = RunDirectory(tmp_path / "run").create()
    run.keep_inputs(locustfile, {"users": 3})
    run.write(
        {"schema": SCHEMA, "status": "completed"}, {"Aggregated": "h1:..."},
        [{"second": 1, "requests": 5, "users": 3}], [{"t": 1.0, "server_rss_mb": 50.0}],
        [("id-1", "GET", "/", 1.0, 2.0, 2.0, None)], ("request_id", "method", "name", "at",
                                                      "latency_ms", "service_ms", "error"),
    )  # fmt: skip
    results = load_results(tmp_path / "run")
    assert results["status"] == "completed"
    assert results["files"]["series"] == "series.csv"
    assert (tmp_path / "run" / "locustfile.py").read_text() == "# users\n"
    assert json.loads((tmp_path / "run" / "settings.json").read_text()) == {"users": 3}
    assert (tmp_path / "run" / "series.csv").read_text().splitlines()[0] == "second,requests,users"
    assert not list((tmp_path / "run").glob("*.partial"))


def test_not_a_run_is_one_line(tmp_path):
    with pytest.raises(PerflabError, match=r"no results\.json"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text('{"schema": "other/9"}')
    with pytest.raises(PerflabError, match=r"is not a perflab\.results/1 file"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(PerflabError, match="cannot read"):
        load_results(tmp_path)


def test_unwritable_run_directory_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PerflabError, match="cannot write the run directory"):
        RunDirectory(blocker / "run").create()


def test_default_run_directories_never_collide(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFLAB_DATA_DIR", str(tmp_path))
    first = default_run_dir()
    first.mkdir(parents=True)
    second = default_run_dir()
    assert first != second and second.parent == tmp_path / "runs"
