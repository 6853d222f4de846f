"""Plumbing of the benchmarks that serve the reference app in-process (probe_gc.py,
probe_request_cost.py): each measurement runs in a fresh interpreter, the script itself
with ``--child``, on its own copy of the seeded database, and prints one JSON line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from probe_overhead import seed
from rich.console import Console

from perflab.demo.project import project_environment


def arguments(doc: str, requests: int, endpoints: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--requests", type=int, default=requests, help=f"per run ({requests})")
    parser.add_argument("--endpoints", default=endpoints, help="of list,detail,naive")
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def run_child(script: str, probe: str, path: str, requests: int, db: Path, scratch: Path) -> dict:
    """``script --child path --requests N`` with the probe ``on``/``off``; its JSON result."""
    env = {**os.environ, **project_environment(f"sqlite:///{db}"),
           "PERFLAB_PROBE": probe, "PERFLAB_SILK": "off",
           "PERFLAB_DATA_DIR": str(scratch / f"data-{db.stem}-{probe}")}  # fmt: skip
    command = [sys.executable, script, "--child", path, "--requests", str(requests)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                            timeout=3600, stdin=subprocess.DEVNULL)  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"{Path(script).name} ({probe}, {path}) failed: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def seeded_scratch(console: Console, posts: int) -> Iterator[tuple[Path, Path]]:
    """(scratch folder, seeded database): copy the database per run with ``restore``."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        pristine = scratch / "seed.sqlite3"
        with console.status(f"seeding {posts:,} posts"):
            seed(pristine, posts, scratch / "seed-data")
        yield scratch, pristine
