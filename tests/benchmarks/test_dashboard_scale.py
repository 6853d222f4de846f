"""``benchmarks/dashboard_scale.py`` at a tiny scale: its store builder writes what the probe
would (findings of both kinds, profiles, runs, a day's rhythm), a built store is reused and
brought up to now, and its timer loads every page and says when one misses the target."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import dashboard_scale  # noqa: E402
import synthetic_store  # noqa: E402

from perflab.probe.store import StoreReader  # noqa: E402
from perflab.probe.store.reader import Window  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synthetic_store.tiny_store(tmp_path_factory.mktemp("store"), requests=3000)


def test_the_builder_writes_a_day_of_realistic_requests_through_the_probe_writer(tiny):
    reader = StoreReader.at_path(tiny.path, read_only=True)
    day = Window(tiny.end - 86400, tiny.end)
    assert abs(reader.request_count(day) - 3000) < 100  # each hour's count is drawn
    assert reader.request_count(Window(until=tiny.end - 86400)) == 0
    routes = reader.routes(day)
    assert len(routes) >= 25
    counts = sorted((r["count"] for r in routes), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]  # a few routes take most requests
    assert any(r["route"].startswith("wagtail_serve[") for r in routes)
    assert all(reader.requests(day, status=status, limit=1) for status in (201, 400, 404))
    kinds = {f["kind"] for f in reader.findings(day, limit=1000)}
    assert kinds == {"n_plus_one", "duplicate"}
    # statements were completed as the probe's writer does: texts, fingerprints, call sites
    (naive,) = reader.requests(day, route="api/authors/naive/", limit=1)
    detail = reader.request(naive["id"])
    assert 1 <= len(detail["queries"]) <= 60 and detail["finding_count"] >= 1
    assert all(q["sql"] and q["fingerprint"] for q in detail["queries"])
    assert tiny.profiled > 0 and tiny.findings > 0


def test_a_profiled_request_holds_a_real_pyinstrument_session(tiny):
    from pyinstrument.session import Session

    reader = StoreReader.at_path(tiny.path, read_only=True)
    profiled = [r for r in reader.requests(limit=1000) if r["profiled"]]
    assert profiled
    session = Session.from_json(json.loads(reader.profile(profiled[0]["id"])))
    assert session.root_frame() is not None


def test_load_tests_are_bursts_with_their_run_prefix(tiny):
    reader = StoreReader.at_path(tiny.path, read_only=True)
    plan = synthetic_store.Plan(3000, 1.0, tiny.end, 19)
    running = plan.bursts[-1]
    recent = reader.requests(Window(running.start, tiny.end), limit=200)
    assert sum(r["request_id"].startswith(running.prefix) for r in recent) > 100
    assert tiny.run_figures[running.run_id][0] > 0
    runs = {r["run_id"]: r for r in reader.runs()}
    assert set(runs) == {b.run_id for b in plan.bursts}
    assert runs[running.run_id]["status"] == "running"
    assert runs[running.run_id]["request_id_prefix"] == running.prefix


def test_a_built_store_is_reused_and_brought_up_to_now(tmp_path):
    first = synthetic_store.build_or_reuse(1000, days=0.5, cache_dir=tmp_path)
    assert not first.reused
    second = synthetic_store.build_or_reuse(1000, days=0.5, cache_dir=tmp_path)
    assert second.reused and second.path == first.path
    assert second.requests == first.requests + second.extended
    again = synthetic_store.build_or_reuse(1000, days=0.5, cache_dir=tmp_path, max_gap_s=0)
    assert not again.reused  # too old: built afresh


def test_loads_are_timed_cold_then_warm_and_a_wrong_answer_ends_them():
    answers = iter(["", "", "", "HTTP 500 (expected 200)", ""])
    timing = dashboard_scale.time_loads("page", "/perf/", lambda: next(answers), repeat=5)
    assert timing.cold is not None and len(timing.warm) == 2
    assert timing.error == "HTTP 500 (expected 200)" and not timing.passed(10.0)
    slow = dashboard_scale.time_loads("page", "/", lambda: time.sleep(0.02) or "", repeat=3)
    assert slow.passed(1.0) and not slow.passed(0.01)


def test_the_benchmark_times_every_page_and_fails_a_missed_target(tmp_path):
    """The whole script, as run: the store built, every page loaded by a staff user."""
    script = [
        sys.executable, str(BENCHMARKS / "dashboard_scale.py"), "--requests", "1500",
        "--days", "0.5", "--repeat", "3", "--cache-dir", str(tmp_path), "--markdown",
    ]  # fmt: skip
    done = subprocess.run([*script, "--target", "30"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    names = {line.split("|")[1].strip() for line in table[1:]}
    assert {
        "overview 5m",
        "overview 7d",
        "route busiest 7d",
        "route catch-all 7d",
        "request",
        "profile",
        "SQL 7d",
        "fingerprint 7d",
        "runs",
        "search: request id",
        "search: path prefix",
        "search: status",
        "API routes 7d",
        "API sql",
    } <= names
    assert all(line.endswith("| pass |") for line in table[2:])
    missed = subprocess.run([*script, "--only", "API sql", "--target", "0.000001"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missed.returncode == 1 and "| API sql |" in missed.stdout and "MISS" in missed.stdout
    assert "store reused" in missed.stdout
