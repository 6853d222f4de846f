"""Plumbing of the benchmarks that serve the reference app in-process (probe_gc.py,
probe_request_cost.py, store_fault_costs.py): each measurement runs in a fresh interpreter,
the script itself with ``--child``, on its own copy of the seeded database, and prints one
JSON line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from arguments import comma_list
from overhead_table import ENDPOINTS
from probe_overhead import seed
from rich.console import Console

from perflab.demo.project import project_environment


def main(
    doc: str,
    child: Callable[[str, int], dict],
    measure: Callable[[argparse.Namespace], None],
    *,
    requests: int,
    endpoints: str,
    more_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """A script's entry: with ``--child PATH`` (in the fresh interpreter) ``child``'s result as
    one JSON line, else ``measure`` with the arguments (``more_arguments`` adds the script's)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--requests", type=int, default=requests, help=f"per run ({requests})")
    parser.add_argument("--endpoints", type=comma_list(ENDPOINTS), default=endpoints.split(","),
                        help=f"of {','.join(ENDPOINTS)} ({endpoints})")  # fmt: skip
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    if more_arguments is not None:
        more_arguments(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.requests)))
        return 0
    measure(args)
    return 0


def run_child(script: str, probe: str, path: str, requests: int, db: Path, scratch: Path, *,
              tag: str = "", env: dict[str, str] | None = None) -> dict:  # fmt: skip
    """``script --child path --requests N`` with the probe ``on``/``off`` and ``env`` added;
    its JSON result. ``tag`` names the run (its data directory, its error)."""
    tag = tag or f"{db.stem}-{probe}"
    env = {**os.environ, **project_environment(f"sqlite:///{db}"),
           "PERFLAB_PROBE": probe, "PERFLAB_SILK": "off",
           "PERFLAB_DATA_DIR": str(scratch / f"data-{tag}"), **(env or {})}  # fmt: skip
    command = [sys.executable, script, "--child", path, "--requests", str(requests)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                            timeout=3600, stdin=subprocess.DEVNULL)  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"{Path(script).name} ({tag}, {path}) failed: {last}")
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
