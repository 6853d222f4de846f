"""`perflab compare` on real runs: the N+1 twin is flagged, an identical pair passes.

Two endpoints of the reference app answer the same JSON: ``/api/authors/`` in three
queries and ``/api/authors/naive/`` in 62 (its deliberate N+1). A locustfile calls one of
them under a single name, "authors", so compare sees one endpoint whose server side
changed: the planted regression a pull request would bring.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.integration.conftest import run_perflab

# serial: two runs' p95 compared within a limit.
pytestmark = [pytest.mark.integration, pytest.mark.serial]

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class AuthorsReader(HttpUser):
    wait_time = constant(0.05)

    @task
    def authors(self):
        self.client.get("{path}", name="authors")
"""


def env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}


def perflab(*args: str) -> object:
    return run_perflab(*args, env=env(), timeout=120)


@pytest.fixture(scope="module")
def runs(blog_server, seeded_db, tmp_path_factory) -> dict[str, Path]:
    """Three real runs with the served app's probe store: optimized, naive, optimized again."""
    directory = tmp_path_factory.mktemp("compare")
    store = Path(seeded_db[1]) / "probe.sqlite3"
    from perflab.probe.store import RecordingStore

    RecordingStore.at_path(store).ensure_schema()  # `perflab run --store` wants an existing store
    made = {}
    for name, path in (("base", "/api/authors/"), ("naive", "/api/authors/naive/"),
                       ("again", "/api/authors/")):  # fmt: skip
        locustfile = directory / f"{name}.py"
        locustfile.write_text(LOCUSTFILE.format(path=path))
        out = directory / name
        result = perflab(
            "run", "--headless", "--quiet", "-f", str(locustfile), "--host", blog_server.url,
            "-u", "2", "-r", "2", "-t", "4s", "--store", str(store), "--label", name,
            "--out", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        results = json.loads((out / "results.json").read_text())
        assert [e["name"] for e in results["endpoints"]] == ["authors"]
        assert results["totals"]["failures"] == 0
        assert results["probe_store"] == str(store.resolve())
        made[name] = out
    time.sleep(1.5)  # the probe's writers flush every 0.5 s
    return made


def test_the_n_plus_one_twin_exceeds_queries_0(runs):
    base, naive = str(runs["base"]), str(runs["naive"])
    result = perflab("compare", base, naive, "--max-regression", "queries=0")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "FAIL: 1 limit exceeded (queries/req +0)" in result.stdout
    assert "✗ GET authors: queries per request" in result.stdout
    assert "new N+1 on GET authors at " in result.stdout
    assert re.search(r"demo/naive\.py:\d+:get_display_name", result.stdout)
    assert "GET authors joined to its route by request id: base GET api/authors/, new GET " \
        "api/authors/naive/" in result.stdout  # fmt: skip

    data = json.loads(perflab("compare", base, naive, "--format", "json",
                              "--max-regression", "queries=0,findings=0").stdout)  # fmt: skip
    (authors,) = data["rows"]
    assert authors["base"]["queries"] <= 4 and authors["new"]["queries"] >= 50
    assert {b["metric"] for b in data["breaches"]} == {"queries", "findings"}
    assert {f["kind"] for f in authors["new_findings"]} == {"n_plus_one"}
    assert all("naive.py" in f["callsite"] for f in authors["new_findings"])

    md = perflab("compare", base, naive, "--format", "md", "--max-regression", "queries=0")
    assert md.returncode == 3
    assert "**Verdict: FAIL** — 1 limit exceeded:" in md.stdout
    assert "| `GET authors` |" in md.stdout and "❌" in md.stdout


def test_an_identical_pair_passes(runs):
    base, again = str(runs["base"]), str(runs["again"])
    same = perflab("compare", base, base, "--max-regression", "p50=0%,p95=0%,p99=0%,rps=0%,"
                   "error_rate=0%,queries=0,findings=0")  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    assert "PASS: no limit exceeded" in same.stdout
    rerun = perflab("compare", base, again, "--max-regression", "p95=100%,queries=0,findings=0")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # The naive endpoint against itself: its N+1 is there in both runs, so it is not new.
    naive = str(runs["naive"])
    assert perflab("compare", naive, naive, "--max-regression", "findings=0").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{base}", "{missing}"], "no results.json in"),
        (["{base}", "{locustfile}"], "cannot read"),
        (["{base}", "{other_schema}"], "is not a perflab.results/1 file"),
        (["{base}", "{base}", "--max-regression", "p95>10%"], 'bad --max-regression "p95>10%"'),
        (["{base}", "{base}", "--max-regression", "cpu=5%"], 'unknown metric "cpu"'),
        (["{base}", "{base}", "--new-store", "{locustfile}"], "not a probe store"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(runs, tmp_path, args, message):
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something/2"}')
    names = {"base": runs["base"], "missing": tmp_path / "missing",
             "locustfile": runs["base"] / "locustfile.py", "other_schema": other}  # fmt: skip
    result = perflab("compare", *(a.format(**names) for a in args))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
