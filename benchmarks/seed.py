"""Seeding throughput (rows/s) on SQLite and PostgreSQL, side by side in one run.

    .venv/bin/python benchmarks/seed.py [--posts 100000] [--users 50]

Each backend starts empty (SQLite: a new file; PostgreSQL: a throwaway cluster from
the machine's binaries, see perflab.testing.postgres) and is filled through the real
`perflab seed --reset` command. Rows are posts + users + profiles + tag links.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from perflab.testing.postgres import TemporaryPostgres


def seed(url: str, posts: int, users: int, data_dir: Path) -> dict:
    command = [sys.executable, "-m", "perflab", "seed", "--reset", "--json",
               "--posts", str(posts), "--users", str(users), "--db", url]  # fmt: skip
    env = {"PERFLAB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"seeding {url} failed: {result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    console = Console()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        with console.status(f"SQLite: seeding {args.posts:,} posts …"):
            sqlite_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            results["SQLite"] = seed(sqlite_url, args.posts, args.users, Path(tmp))
        with (
            console.status(f"PostgreSQL: seeding {args.posts:,} posts …"),
            TemporaryPostgres() as pg,
        ):
            results["PostgreSQL"] = seed(pg.url, args.posts, args.users, Path(tmp))
    table = Table(title=f"perflab seed --posts {args.posts:,} --users {args.users}")
    for column in ("database", "posts", "rows", "seconds", "rows/s", "posts/s"):
        table.add_column(column, justify="left" if column == "database" else "right")
    for name, r in results.items():
        table.add_row(
            name, f"{r['posts']:,}", f"{r['rows']:,}", f"{r['seconds']:.1f}",
            f"{r['rows_per_second']:,.0f}", f"{r['posts'] / r['seconds']:,.0f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
