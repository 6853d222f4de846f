"""The run directory: written atomically, read back with its schema checked."""

import json

import msgspec
import pytest

from perflab.errors import ExitCode, PerflabError
from perflab.load.results import (
    SCHEMA,
    Environment,
    RunDirectory,
    RunResults,
    default_run_dir,
    load_results,
)

SUMMARY = {
    "count": 5,
    **dict.fromkeys(
        ("min", "mean", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99", "max"), 1.0
    ),
}
TOTALS = {"method": "", "name": "Aggregated", "requests": 5, "failures": 0, "error_rate": 0.0,
          "rps": 5.0, "latency": SUMMARY, "service": SUMMARY}  # fmt: skip
# What every results.json has had since schema 1 (the fields the readers index).
ESSENTIAL = {"schema": SCHEMA, "status": "completed", "started_at": "2026-11-24T11:34:22+00:00",
             "ended_at": "2026-11-24T11:34:23+00:00", "duration_s": 1.0, "totals": TOTALS,
             "endpoints": [{**TOTALS, "method": "GET", "name": "/"}]}  # fmt: skip
# A name in "files" must be a bare file name: not "", ".", "..", nor a path ("/" or "\").
NOT_A_FILE_NAME = r"Expected `str` matching regex '^(?!\\.\\.?$)[^/\\\\]+$' - at `$.files[...]`"


def test_written_run_reads_back(tmp_path):
    locustfile = tmp_path / "lf.py"
    locustfile.write_text("# users\n")
    run = RunDirectory(tmp_path / "run").create()
    run.keep_inputs(locustfile, {"users": 3})
    run.write(
        ESSENTIAL, {"Aggregated": "h1:..."},
        [{"second": 1, "requests": 5, "users": 3}], [{"t": 1.0, "server_rss_mb": 50.0}],
        [("id-1", "GET", "/", 1.0, 2.0, 2.0, None)], ("request_id", "method", "name", "at",
                                                      "latency_ms", "service_ms", "error"),
    )  # fmt: skip
    results = load_results(tmp_path / "run")
    assert results.status == "completed"
    assert results.files["series"] == "series.csv"
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


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("totals"), "Object missing required field `totals`"),
        (lambda r: r.update(totals="lots"), "Expected `object`, got `str` - at `$.totals`"),
        (lambda r: r["totals"]["latency"].update(p95="fast"),
         "Expected `float`, got `str` - at `$.totals.latency.p95`"),
        (lambda r: r["totals"]["latency"].update(p95=True),  # a bool is not a number
         "Expected `float`, got `bool` - at `$.totals.latency.p95`"),
        (lambda r: r["totals"].update(requests="5"),  # strict: no text read as a number
         "Expected `int`, got `str` - at `$.totals.requests`"),
        (lambda r: r["totals"].update(requests=5.5),
         "Expected `int`, got `float` - at `$.totals.requests`"),
        (lambda r: r["endpoints"][0].pop("name"),
         "Object missing required field `name` - at `$.endpoints[0]`"),
        (lambda r: r.update(started_at="yesterday"),
         "Expected an ISO 8601 time - at `$.started_at`"),
        (lambda r: r.update(ended_at="2026-13-45T99:00:00"),
         "Expected an ISO 8601 time - at `$.ended_at`"),
        (lambda r: r.update(ended_at=None), "Expected `str`, got `null` - at `$.ended_at`"),
        (lambda r: r.update(status="done"), "Invalid enum value 'done' - at `$.status`"),
        (lambda r: r.update(files={"requests": "/etc/passwd"}), NOT_A_FILE_NAME),
        (lambda r: r.update(files={"requests": ".."}), NOT_A_FILE_NAME),
        (lambda r: r.update(files={"requests": ""}), NOT_A_FILE_NAME),
        (lambda r: r.update(files={"requests": "..\\x.csv"}), NOT_A_FILE_NAME),
        (lambda r: r.update(probe_store=5),
         "Expected `str | null`, got `int` - at `$.probe_store`"),
        (lambda r: r.update(series=[{"requests": 1}]),
         "Object missing required field `second` - at `$.series[0]`"),
        (lambda r: r.update(series=[{"second": 1}, {"second": None}]),
         "Object missing required field `second` - at `$.series[1]`"),
        (lambda r: r.update(series=[{"second": "x"}]), "got `str` - at `$.series[0][...]`"),
        (lambda r: r.update(distribution=[[50.0]]),
         "Expected `array` of length 2, got 1 - at `$.distribution[0]`"),
        (lambda r: r.update(model="half-open"), "Invalid enum value 'half-open' - at `$.model`"),
        (lambda r: r.update(environment={"data_volume": 5}),
         "Expected `str | object | null`, got `int` - at `$.environment.data_volume`"),
    ],
)  # fmt: skip
def test_a_results_file_of_the_wrong_shape_is_one_line_naming_the_first_problem(
    tmp_path, change, problem
):
    results = json.loads(json.dumps(ESSENTIAL))
    change(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(PerflabError) as caught:
        load_results(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'results.json'} is not a valid {SCHEMA} file: ")
    assert message.endswith(problem) and "\n" not in message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    "change",
    [lambda r: r.update(label="\udcff"), lambda r: r.update(settings={"host": "\udcff"}),
     lambda r: r.update(settings={"\udcff": 1})],
)  # fmt: skip
def test_text_that_is_not_utf8_is_refused_where_it_is(tmp_path, change):
    """JSON may escape a lone surrogate ("\\udcff", what a run given bytes that are not UTF-8
    would have written), which no page or terminal can show: refused, keys too."""
    results = json.loads(json.dumps(ESSENTIAL))
    change(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(PerflabError) as caught:
        load_results(tmp_path)
    assert str(caught.value).startswith(f"cannot read {tmp_path / 'results.json'}: ")
    assert "invalid utf-16 surrogate pair (byte " in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE


def test_fields_added_since_schema_1_may_be_absent_or_new(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({**ESSENTIAL, "added_later": [1]}))
    results = load_results(tmp_path)
    assert results.verdict == "none" and results.open_model is None and results.slos == []
    assert not hasattr(results, "added_later")


def test_numbers_read_back_as_declared_and_a_second_keeps_its_whole_counts(tmp_path):
    """A float field takes a whole number (as a float); a series row's counts stay whole, so
    what shows them shows 12, not 12.0."""
    row = {"second": 1795000000, "requests": 12, "p95": 30.5, "users": None}
    (tmp_path / "results.json").write_text(json.dumps({**ESSENTIAL, "duration_s": 60,
                                                       "series": [row]}))  # fmt: skip
    results = load_results(tmp_path)
    assert results.duration_s == 60.0 and type(results.duration_s) is float
    assert results.series == [row]
    assert [type(value) for value in results.series[0].values()] == [int, int, float, type(None)]


def test_results_written_from_the_type_read_back_equal(tmp_path):
    """Field names once: the JSON keys are the declaration's, both ways."""
    full = {**ESSENTIAL, "message": "", "label": "nightly", "model": "open", "shape": None,
            "open_model": {"rate": 5.0, "due": 10, "started": 10, "late": 1, "dropped": 0,
                           "in_flight": 0, "max_lateness_ms": 3.5, "total_lateness_ms": 3.5,
                           "target": "5/s", "max_in_flight": 100,
                           "schedule_started_epoch": 1795000000.0},
            "grouping": "routes", "grouping_reason": None, "probe_store": "/p.sqlite3",
            "slos": [{"expression": "p95<200ms", "passed": True, "scope": None,
                      "metric": "p95", "op": "<", "threshold": 200.0, "actual": 1.0,
                      "where": "all requests", "detail": "p95 1.0 ms < 200 ms"}],
            "verdict": "pass", "distribution": [[0.0, 1.0], [100.0, 1.0]],
            "series": [{"second": 1795000000, "requests": 5, "failures": 0, "users": 3}],
            "user_errors": [{"message": "KeyError: 'x'", "count": 2}],
            "samples": {"kept": 5, "seen": 5},
            "monitor": {"server_pid": 42, "warnings": []},
            "environment": {**msgspec.to_builtins(Environment()), "cpus": 2, "user_classes": ["U"],
                            "data_volume": "10 posts"},
            "settings": {"users": 3}, "files": {"series": "series.csv"}}  # fmt: skip
    full["totals"] = {**TOTALS, "errors": []}
    full["endpoints"] = [{**TOTALS, "method": "GET", "name": "/", "errors": []}]
    results = RunResults.from_json(full)
    assert results.open_model.late == 1 and results.slos[0].detail.startswith("p95")
    assert results.totals.latency.p99_9 == 1.0 and results.endpoints[0].label == "GET /"
    assert results.distribution == [(0.0, 1.0), (100.0, 1.0)]
    assert results.started == 1795520062.0 and results.ended == results.started + 1
    assert json.loads(json.dumps(results.to_json())) == full
    assert list(results.to_json()) == [  # docs/results.md's order
        "schema", "status", "message", "label", "started_at", "ended_at", "duration_s",
        "totals", "endpoints", "model", "shape", "open_model", "grouping", "grouping_reason",
        "probe_store", "slos", "verdict", "distribution", "series", "user_errors", "samples",
        "monitor", "environment", "settings", "files",
    ]  # fmt: skip


def test_a_results_file_of_another_schema_names_the_one_found_and_the_one_expected(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({**ESSENTIAL, "schema": "perflab.results/2"}))
    with pytest.raises(PerflabError) as caught:
        load_results(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'results.json'} is not a {SCHEMA} file (schema: 'perflab.results/2')"
    )
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"request_id,method\n\xff\xfe,GET\n", "'utf-8' codec can't decode"),
     (b"request_id\n" + b"x" * 200_000 + b"\n", "field larger than field limit")],
)  # fmt: skip
def test_a_csv_that_does_not_read_is_one_line(tmp_path, content, problem):
    (tmp_path / "results.json").write_text(json.dumps(ESSENTIAL))
    (tmp_path / "requests.csv").write_bytes(content)
    with pytest.raises(PerflabError, match=f"cannot read {tmp_path / 'requests.csv'} as CSV"):
        load_results(tmp_path)
    with pytest.raises(PerflabError, match=problem):
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
