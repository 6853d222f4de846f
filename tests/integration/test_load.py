"""A real Locust run against the reference app under a real gunicorn: zero failures."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perflab.commands.demo import DEMO_LOCUSTFILE, locust_command

pytestmark = pytest.mark.integration

FAST_LOCUSTFILE = Path(__file__).with_name("fast_locustfile.py")


def locust(locustfile: Path, host: str, seconds: int, user_classes: list[str], csv_prefix: Path):
    command = locust_command(
        locustfile, host, users=8, spawn_rate=8, seconds=seconds,
        user_classes=tuple(user_classes), extra=("--csv", str(csv_prefix)),
    )  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)


def read_stats(csv_prefix: Path) -> dict[str, dict]:
    with open(f"{csv_prefix}_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def test_demo_users_run_every_task_without_failures(blog_server, tmp_path):
    prefix = tmp_path / "run"
    result = locust(FAST_LOCUSTFILE, blog_server.url, 6, ["QuickBlogUser", "QuickFlowUser"], prefix)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = read_stats(prefix)
    total = stats["Aggregated"]
    assert int(total["Failure Count"]) == 0
    assert int(total["Request Count"]) > 100
    for name in [
        "/api/token/",
        "/api/posts/?page=[n]",
        "/api/posts/[id]/",
        "/api/posts/?search=[term]",
    ]:
        assert int(stats[name]["Request Count"]) > 0, name
    assert int(stats["/api/posts/"]["Request Count"]) > 0  # the POST (create)


def test_seed_locustfile_class_runs_unchanged(blog_server, tmp_path):
    prefix = tmp_path / "run"
    result = locust(DEMO_LOCUSTFILE, blog_server.url, 4, ["BlogUser"], prefix)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    total = read_stats(prefix)["Aggregated"]
    assert int(total["Request Count"]) >= 8  # one login per user at least
    assert int(total["Failure Count"]) == 0


def test_staged_shape_is_selectable(blog_server, tmp_path):
    shape = DEMO_LOCUSTFILE.with_name("staged_shape.py")
    command = [
        sys.executable, "-m", "locust", "-f", f"{DEMO_LOCUSTFILE},{shape}", "--headless",
        "--host", blog_server.url, "--only-summary", "BlogUser",
    ]  # fmt: skip
    # 0.01 compresses the seed's 420 s of stages to 4.2 s; the shape ends the run itself.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=90,
        env={**os.environ, "PERFLAB_STAGE_SCALE": "0.01"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Shape test starting" in result.stderr
    assert "Shape test stopping" in result.stderr or "Shape test has completed" in result.stderr
