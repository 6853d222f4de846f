"""`perflab capacity` for real: against a server with a fixed service rate, it finds that rate."""

from __future__ import annotations

import json
import time

import pytest

from perflab.server import free_port
from tests.integration.conftest import run_perflab
from tests.integration.test_run import LATENCY_FILE, LatencyServerProcess, env

# serial: the limit found is a measured throughput.
pytestmark = [pytest.mark.integration, pytest.mark.serial]


@pytest.fixture(scope="module")
def fixed_rate_server():
    server = LatencyServerProcess("--service-ms", "10")  # one at a time, 10 ms: 100 req/s
    yield server
    server.stop()


def capacity(*args: str, timeout: float = 150):
    return run_perflab("capacity", *args, env=env(), timeout=timeout)


def test_capacity_finds_the_limit_of_a_fixed_service_rate(fixed_rate_server, tmp_path):
    out = tmp_path / "capacity"
    began = time.monotonic()
    result = capacity(
        "-f", str(LATENCY_FILE), "--host", fixed_rate_server.url, "--slo", "p95<100ms",
        "--hold", "4s", "--start-rate", "40", "--step-factor", "1.5", "--bisect-steps", "3",
        "--server-pid", str(fixed_rate_server.process.pid), "--out", str(out), "FastUser",
    )  # fmt: skip
    elapsed = time.monotonic() - began
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "capacity.json").read_text())
    assert report["schema"] == "perflab.capacity/1"
    assert report["status"] == "found"
    assert 75 <= report["sustainable_rate"] <= 125  # the server's 100 req/s, ±25 %
    steps = report["steps"]
    assert len(steps) <= 12 + 3
    assert [s["target_rate"] for s in steps[:3]] == [40, 60, 90]  # the geometric ramp
    assert any(s["phase"] == "bisect" for s in steps)
    failing = [s for s in steps if s["verdict"] == "fail"]
    assert min(s["target_rate"] for s in failing) > report["sustainable_rate"]
    for s in steps:  # each step is a real run directory, judged from its files
        assert (out / s["run_dir"].split("/")[-1] / "results.json").is_file()
        assert s["achieved_rate"] <= 110  # no step got more than the server can give
    # A sleeping server has CPU to spare: requests queued behind its one worker.
    assert report["saturation"]["resource"] == "workers busy (requests queue)"
    assert report["knee"] is not None and 60 <= report["knee"]["target_rate"] <= 125
    assert "highest sustainable rate" in result.stdout
    assert report["chart"] == "capacity.svg" and "<svg" in (out / "capacity.svg").read_text()
    assert elapsed < 75  # bounded: 7 steps of 4 s and their start-up


def test_a_start_rate_beyond_the_limit_exits_3(fixed_rate_server, tmp_path):
    out = tmp_path / "over"
    result = capacity(
        "-f", str(LATENCY_FILE), "--host", fixed_rate_server.url, "--slo", "p95<100ms",
        "--hold", "2s", "--start-rate", "300", "--out", str(out), "FastUser",
    )  # fmt: skip
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "capacity.json").read_text())
    assert report["status"] == "start_breached"
    assert len(report["steps"]) == 1
    assert report["sustainable_rate"] is None
    assert "even the start rate breaches" in result.stdout


@pytest.mark.parametrize(
    ("extra", "words"),
    [(["--slo", "p95<fast"], 'bad SLO "p95<fast"'), (["--hold", "0s"], "--hold"),
     (["--step-factor", "1"], "--step-factor")],
)  # fmt: skip
def test_bad_usage_is_one_line_and_exit_2(fixed_rate_server, tmp_path, extra, words):
    result = capacity(
        "-f", str(LATENCY_FILE), "--host", fixed_rate_server.url, *extra,
        "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing ran


def test_an_unreachable_host_is_refused_before_any_step(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = capacity("-f", str(LATENCY_FILE), "--host", url, "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "unreachable" in result.stderr
    assert not (tmp_path / "x").exists()
