"""The seed's own locustfile through `perflab run`: unchanged classes, its staged shape."""

import json
import os
import subprocess
import sys

import pytest

from perflab.demo.commands.demo import DEMO_LOCUSTFILE, STAGED_SHAPE_FILE

pytestmark = pytest.mark.integration


def perflab_run(*args: str, env: dict | None = None, timeout: float = 120):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "perflab", "run", "--headless", "--quiet", *args],
        capture_output=True, text=True, timeout=timeout, env={**environment, **(env or {})},
    )  # fmt: skip


def test_seed_locustfile_class_runs_unchanged(blog_server, tmp_path):
    out = tmp_path / "run"
    result = perflab_run("-f", str(DEMO_LOCUSTFILE), "--host", blog_server.url, "-u", "8",
                         "-r", "8", "-t", "4s", "--out", str(out), "BlogUser")  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    totals = json.loads((out / "results.json").read_text())["totals"]
    assert totals["requests"] >= 8  # one login per user at least
    assert totals["failures"] == 0


def test_staged_shape_from_a_file_ends_the_run_itself(blog_server, tmp_path):
    out = tmp_path / "run"
    # 0.01 compresses the seed's 420 s of stages to 4.2 s; -t is only the safety bound.
    result = perflab_run(
        "-f", str(DEMO_LOCUSTFILE), "--host", blog_server.url, "-t", "60s",
        "--shape", f"{STAGED_SHAPE_FILE}:StagedLoad", "--out", str(out), "BlogUser",
        env={"PERFLAB_STAGE_SCALE": "0.01", "PERFLAB_STAGE_USERS": "10"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["duration_s"] < 20  # the shape stopped it, not -t
    peak = max(row.get("users", 0) for row in results["series"])
    assert peak == 10
