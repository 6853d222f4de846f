"""`perflab compare`'s model: limits grammar, endpoint matching, the store join, renderers.

Runs are results dicts in the documented schema (docs/results.md), written to real run
directories with ``RunDirectory``; server figures come from a real ``RecordingStore`` filled
with the probe's own records. Nothing under test is replaced.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from rich.console import Console

from perflab.cli import main
from perflab.errors import PerflabError
from perflab.load.results import SCHEMA, RunDirectory
from perflab.load.samples import FIELDS
from perflab.probe.records import Finding, QueryEvent, RequestRecord
from perflab.probe.store import RecordingStore
from perflab.report.compare import (
    Limit,
    compare,
    load_run,
    parse_limits,
    probe_store_problem,
    render_markdown,
    render_terminal,
)

BASE_START = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC).timestamp()
NEW_START = BASE_START + 3600  # an hour later: the two runs share no minute of the store


def endpoint(name, method="GET", requests=200, failures=0, p50=10.0, p95=20.0, p99=30.0,
             rps=10.0, duration=20.0) -> dict:  # fmt: skip
    summary = {"count": requests, "min": 1.0, "mean": p50, "p50": p50, "p75": p50, "p90": p95,
               "p95": p95, "p99": p99, "p99_9": p99, "p99_99": p99, "max": p99}  # fmt: skip
    return {"method": method, "name": name, "requests": requests, "failures": failures,
            "error_rate": failures / requests if requests else 0.0, "rps": rps,
            "latency": summary, "service": summary, "errors": []}  # fmt: skip


def results(endpoints, start=BASE_START, duration=20.0, store=None, label="") -> dict:
    requests = sum(e["requests"] for e in endpoints)
    totals = endpoint("Aggregated", method="", requests=requests or 1,
                      failures=sum(e["failures"] for e in endpoints),
                      rps=sum(e["rps"] for e in endpoints))  # fmt: skip
    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")  # noqa: E731
    return {
        "schema": SCHEMA, "status": "completed", "message": "", "label": label,
        "started_at": iso(start), "ended_at": iso(start + duration), "duration_s": duration,
        "totals": totals, "endpoints": endpoints, "model": "closed", "shape": None,
        "open_model": None, "grouping": "routes", "probe_store": store, "slos": [],
        "verdict": "none", "distribution": [], "series": [], "user_errors": [],
        "samples": {"kept": 0, "seen": 0}, "monitor": {"server_pid": None, "warnings": []},
        "environment": {}, "settings": {},
    }  # fmt: skip


def write_run(path, data, sample=()):
    """A real run directory, as the runner writes it (requests.csv is the join sample)."""
    RunDirectory(path).create().write(data, {}, [], [], list(sample), FIELDS)
    return path


def record(rid, route, started, queries=3, finding=None, method="GET"):
    events = [
        QueryEvent(sql=f"SELECT {n}", fingerprint="SELECT ?", fingerprint_hash=f"h{n % 4}",
                   duration_ms=0.5, alias="default", start_ms=0.0, callsite="app.py:1:f")
        for n in range(queries)
    ]  # fmt: skip
    return RequestRecord(
        request_id=rid, method=method, path="/" + route, started=started, pid=1, route=route,
        status=200, duration_ms=12.0, queries=events, findings=[finding] if finding else [],
    )  # fmt: skip


N_PLUS_ONE = Finding(
    kind="n_plus_one",
    fingerprint_hash="hprofile",
    fingerprint="SELECT ? FROM profile WHERE user_id = ?",
    callsite="perflab/demo/naive.py:33:get_display_name",
    count=20,
    total_ms=4.0,
    example_sql="SELECT * FROM profile WHERE user_id = 1",
    hint="select_related('profile')",
)


def run_pair(tmp_path, base_endpoints, new_endpoints, **kwargs):
    base = write_run(tmp_path / "base", results(base_endpoints, **kwargs))
    new = write_run(tmp_path / "new", results(new_endpoints, start=NEW_START, **kwargs))
    return load_run(base), load_run(new)


# -- the --max-regression grammar ----------------------------------------------------------


def test_limits_parse_into_base_units():
    limits = parse_limits("p95=10%, p99=20ms,p50=0.5s,rps=5%,error_rate=1%,queries=0,findings=0")
    assert limits == (
        Limit("p95", 10.0, True, "p95=10%"), Limit("p99", 20.0, False, "p99=20ms"),
        Limit("p50", 500.0, False, "p50=0.5s"), Limit("rps", 5.0, True, "rps=5%"),
        Limit("error_rate", 1.0, False, "error_rate=1%"), Limit("queries", 0.0, False, "queries=0"),
        Limit("findings", 0.0, False, "findings=0"),
    )  # fmt: skip
    assert parse_limits("error_rate=0.02")[0].value == pytest.approx(2.0)  # a fraction: 2 pp
    assert parse_limits(None) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95", "expected METRIC=LIMIT"),
        ("p95=10", 'a % increase ("10%") or an increase in ms'),
        ("p95=fast", "expected METRIC=LIMIT"),
        ("rps=5", 'a % decrease ("5%")'),
        ("rps=150%", "at most 100%"),
        ("queries=2%", 'a plain number ("queries=0")'),
        ("error_rate=3", "percentage points"),
        ("latency=10%", 'unknown metric "latency"'),
        ("p95=10%,p95=20%", "p95 is given twice"),
        ("p95=-1%", "expected METRIC=LIMIT"),
        (",", "empty"),
    ],
)
def test_bad_limits_are_one_line(text, message):
    with pytest.raises(PerflabError) as caught:
        parse_limits(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# -- client-side deltas and limits ---------------------------------------------------------


def test_identical_runs_pass_every_limit(tmp_path):
    endpoints = [endpoint("/api/posts/"), endpoint("/api/posts/<pk>/", p95=40.0)]
    base, new = run_pair(tmp_path, endpoints, endpoints)
    comparison = compare(base, new, parse_limits("p50=0%,p95=0%,p99=0ms,rps=0%,error_rate=0%"))
    assert comparison.verdict == "pass"
    assert [row.state for row in comparison.rows] == ["both", "both"]
    assert all(row.change("p95") == (0.0, 0.0) for row in comparison.rows)
    assert "no server-side figures" in " ".join(comparison.notes)


def test_latency_rps_and_error_rate_regressions_are_named(tmp_path):
    base, new = run_pair(
        tmp_path,
        [endpoint("/a/", p95=100.0, rps=50.0), endpoint("/b/", p99=30.0, failures=0)],
        [endpoint("/a/", p95=111.0, rps=46.0), endpoint("/b/", p99=55.0, failures=4)],
    )
    comparison = compare(base, new, parse_limits("p95=10%,p99=20ms,rps=5%,error_rate=1%"))
    assert comparison.verdict == "fail"
    found = {(b.endpoint, b.metric): b.detail for b in comparison.breaches}
    assert found == {
        ("GET /a/", "p95"): "p95 100.0 → 111.0 ms (+11%, limit +10%)",
        ("GET /a/", "rps"): "req/s 50.0 → 46.0 (-8.0%, limit -5%)",
        ("GET /b/", "p99"): "p99 30.0 → 55.0 ms (+25.0 ms, limit +20 ms)",
        ("GET /b/", "error_rate"): "error rate 0.0% → 2.0% (+2.0 pp, limit +1 pp)",
    }
    # Within the limits: the same runs pass looser ones.
    assert compare(base, new, parse_limits("p95=12%,p99=30ms,rps=10%,error_rate=3%")).verdict == (
        "pass"
    )


def test_without_limits_deltas_are_shown_and_nothing_fails(tmp_path):
    base, new = run_pair(tmp_path, [endpoint("/a/", p95=10.0)], [endpoint("/a/", p95=90.0)])
    comparison = compare(base, new)
    assert comparison.verdict == "none" and not comparison.breaches
    assert comparison.rows[0].change("p95") == (80.0, 8.0)


def test_endpoints_in_one_run_only_are_added_or_removed_not_judged(tmp_path):
    base, new = run_pair(
        tmp_path,
        [endpoint("/kept/"), endpoint("/gone/", p95=5.0)],
        [endpoint("/kept/"), endpoint("/fresh/", p95=900.0), endpoint("/kept/", method="POST")],
    )
    comparison = compare(base, new, parse_limits("p95=10%"))
    states = {row.label: row.state for row in comparison.rows}
    assert states == {"GET /kept/": "both", "GET /fresh/": "added", "POST /kept/": "added",
                      "GET /gone/": "removed"}  # fmt: skip
    assert comparison.verdict == "pass"
    note = next(n for n in comparison.notes if "one run only" in n)
    assert "GET /fresh/" in note and "GET /gone/" in note


def test_noise_guard_skips_latency_and_rps_on_few_requests(tmp_path):
    base, new = run_pair(
        tmp_path,
        [endpoint("/rare/", requests=5, p95=10.0, rps=1.0, failures=0)],
        [endpoint("/rare/", requests=5, p95=500.0, rps=0.2, failures=5)],
    )
    comparison = compare(base, new, parse_limits("p95=10%,rps=5%,error_rate=1%"))
    (row,) = comparison.rows
    assert row.few_requests
    assert [b.metric for b in comparison.breaches] == ["error_rate"]  # errors are still judged
    assert any("fewer than 20 requests" in n and "GET /rare/" in n for n in comparison.notes)
    loose = compare(base, new, parse_limits("p95=10%"), min_requests=5)
    assert [b.metric for b in loose.breaches] == ["p95"]


# -- the server side: a real probe store -----------------------------------------------------


@pytest.fixture
def store_path(tmp_path):
    """The probe's store after two runs: the optimized authors listing, then its N+1 twin."""
    path = tmp_path / "probe.sqlite3"
    store = RecordingStore.at_path(path)
    store.write([record(f"b{n}", "api/authors/", BASE_START + 1 + n / 10) for n in range(30)])
    store.write([record(f"p{n}", "api/posts/<pk>/", BASE_START + 2, queries=2) for n in range(5)])
    store.write([
        record(f"n{n}", "api/authors/naive/", NEW_START + 1 + n / 10, queries=62,
               finding=N_PLUS_ONE) for n in range(30)
    ])  # fmt: skip
    store.write([record(f"q{n}", "api/posts/<pk>/", NEW_START + 2, queries=2) for n in range(5)])
    return path


def sample(prefix, name, n=30):
    return [(f"{prefix}{i}", "GET", name, 0.0, 10.0, 10.0, None) for i in range(n)]


def authors_pair(tmp_path, store_path, new_prefix="n"):
    """Base and new runs that call their one endpoint "authors" (a locustfile-given name)."""
    eps = [endpoint("authors", requests=30), endpoint("/api/posts/<pk>/", requests=5)]
    base = write_run(tmp_path / "base", results(eps, store=str(store_path)),
                     sample("b", "authors") + sample("p", "/api/posts/<pk>/", 5))  # fmt: skip
    start = NEW_START if new_prefix == "n" else BASE_START
    new = write_run(tmp_path / "new", results(eps, start=start, store=str(store_path)),
                    sample(new_prefix, "authors") + sample("q", "/api/posts/<pk>/", 5))  # fmt: skip
    return base, new


def test_queries_and_new_findings_come_from_the_store_joined_by_request_id(tmp_path, store_path):
    base, new = authors_pair(tmp_path, store_path)
    comparison = compare(load_run(base), load_run(new), parse_limits("queries=0,findings=0"))
    authors = next(row for row in comparison.rows if row.name == "authors")
    assert (authors.base.route, authors.new.route) == ("GET api/authors/", "GET api/authors/naive/")
    assert (authors.base.queries, authors.new.queries) == (3.0, 62.0)
    (finding,) = authors.new_findings
    assert finding["kind"] == "n_plus_one"
    assert finding["callsite"] == "perflab/demo/naive.py:33:get_display_name"
    assert {(b.endpoint, b.metric) for b in comparison.breaches} == {
        ("GET authors", "queries"), ("GET authors", "findings"),
    }  # fmt: skip
    posts = next(row for row in comparison.rows if row.name == "/api/posts/<pk>/")
    assert (posts.base.queries, posts.new.queries) == (2.0, 2.0)  # matched by route name
    assert posts.new_findings == [] and not posts.breaches
    assert any("joined to its route by request id" in n for n in comparison.notes)


def test_same_findings_in_both_runs_are_not_new(tmp_path, store_path):
    _, naive = authors_pair(tmp_path, store_path)
    comparison = compare(load_run(naive), load_run(naive), parse_limits("queries=0,findings=0"))
    authors = next(row for row in comparison.rows if row.name == "authors")
    assert len(authors.base.findings) == len(authors.new.findings) == 1
    assert authors.new_findings == [] and comparison.verdict == "pass"


def test_unmatched_endpoints_stay_blank_and_are_named(tmp_path, store_path):
    eps = [endpoint("authors", requests=30), endpoint("checkout", requests=30)]
    base = write_run(tmp_path / "base", results(eps, store=str(store_path)), sample("b", "authors"))
    comparison = compare(load_run(base), load_run(base), parse_limits("queries=0"))
    checkout = next(row for row in comparison.rows if row.name == "checkout")
    assert checkout.base.queries is None and checkout.unjudged == ["queries"]
    assert comparison.verdict == "pass"
    notes = " ".join(comparison.notes)
    assert "GET checkout: no server figures in the base run" in notes
    assert "limits not judged for lack of server figures: GET checkout (queries)" in notes


def test_no_store_omits_server_columns_unless_a_limit_needs_them(tmp_path):
    base, new = run_pair(tmp_path, [endpoint("/a/")], [endpoint("/a/")])
    comparison = compare(base, new)
    assert not comparison.server
    assert "queries/req" not in render_markdown(comparison)
    with pytest.raises(PerflabError, match="needs the probe store of both runs; the base and new"):
        compare(base, new, parse_limits("queries=0"))


def test_store_given_explicitly_must_be_a_store_a_recorded_one_may_be_gone(tmp_path, store_path):
    run = write_run(tmp_path / "run", results([endpoint("/a/")], store=str(tmp_path / "moved")))
    assert load_run(run).server is None
    assert "probe store not found" in load_run(run).server_note
    assert load_run(run, store=store_path).server is not None
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(PerflabError, match="not a probe store"):
        load_run(run, store=other)
    assert probe_store_problem(tmp_path / "nowhere").startswith("probe store not found")
    assert "perflab_route_rollup" not in str(
        sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall()
    ), "checking a file must not create the probe's tables in it"


def test_runs_sharing_a_minute_of_one_store_say_so(tmp_path, store_path):
    base, new = authors_pair(tmp_path, store_path, new_prefix="b")  # the same minute
    comparison = compare(load_run(base), load_run(new))
    assert any("shared a minute" in n and "api/posts/<pk>/" in n for n in comparison.notes)


# -- renderers and the command ------------------------------------------------------------


def test_markdown_is_a_github_table_with_the_verdict(tmp_path, store_path):
    base, new = authors_pair(tmp_path, store_path)
    comparison = compare(load_run(base), load_run(new), parse_limits("p95=10%,queries=0"))
    text = render_markdown(comparison)
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| endpoint |"))
    assert lines[header].count("|") == lines[header + 1].count("|") == 10
    assert "| `GET /api/posts/<pk>/` \\* |" in text  # code spans: <pk> is not eaten as HTML
    row = next(line for line in lines if line.startswith("| `GET authors`"))
    assert "**3.0 → 62.0 (+59.0)** ❌" in row
    assert "1 (1 N+1)" in row
    assert "**Verdict: FAIL** — 1 limit exceeded:" in text
    assert "- `GET authors`: queries per request 3.0 → 62.0 (+59.0, limit +0)" in text
    assert "N+1 on `GET authors` at `perflab/demo/naive.py:33:get_display_name`" in text


def test_markdown_escapes_pipes_in_names(tmp_path):
    base, new = run_pair(tmp_path, [endpoint("/a|b/")], [endpoint("/a|b/")])
    text = render_markdown(compare(base, new, parse_limits("p95=5%")))
    assert "| `GET /a\\|b/` |" in text
    assert "**Verdict: pass** — no limit exceeded (p95 +5%)." in text


def test_terminal_table_and_json_carry_the_same_verdict(tmp_path, store_path):
    base, new = authors_pair(tmp_path, store_path)
    comparison = compare(load_run(base), load_run(new), parse_limits("queries=0"))
    console = Console(record=True, width=220)
    render_terminal(comparison, console)
    text = console.export_text()
    assert "FAIL: 1 limit exceeded (queries/req +0)" in text
    assert "✗ GET authors: queries per request 3.0 → 62.0" in text
    assert "new N+1 on GET authors at perflab/demo/naive.py:33:get_display_name" in text
    data = json.loads(json.dumps(comparison.as_dict()))
    assert data["verdict"] == "fail"
    authors = next(row for row in data["rows"] if row["name"] == "authors")
    assert authors["deltas"]["queries"]["delta"] == 59.0
    assert authors["new_findings"][0]["hint"] == "select_related('profile')"


def test_command_exit_codes(tmp_path, store_path, capsys):
    base, new = authors_pair(tmp_path, store_path)
    assert main(["compare", str(base), str(new), "--max-regression", "queries=0"]) == 3
    assert main(["compare", str(base), str(base), "--max-regression", "queries=0"]) == 0
    assert main(["compare", str(base), str(new)]) == 0  # no limits: deltas only
    capsys.readouterr()
    assert main(["compare", str(base), str(new), "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("### perflab compare: `base` → `new`")
    assert main(["compare", str(base), str(new), "--format", "json", "--max-regression",
                 "queries=0"]) == 3  # fmt: skip
    assert json.loads(capsys.readouterr().out)["verdict"] == "fail"
    for argv in (
        [str(base), str(tmp_path / "missing")],
        [str(base), str(new), "--max-regression", "p95=10"],
        [str(base), str(new), "--base-store", str(tmp_path / "nope.sqlite3")],
        [str(base), str(new), "--min-requests", "-1"],
    ):
        assert main(["compare", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("perflab: error: ") and err.count("\n") == 1, err
