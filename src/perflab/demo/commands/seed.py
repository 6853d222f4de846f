"""`perflab seed`: fill the reference app's database with realistic data."""

from __future__ import annotations

import argparse
import dataclasses
import json

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perflab.commands.arguments import int_between, not_empty
from perflab.errors import ExitCode

MAX_POSTS = 10_000_000  # a reference app: more is a typo, and would seed for hours
MAX_AUTHORS = 100_000
MAX_BATCH = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "seed",
        help="fill the reference app's database with realistic posts",
        description="Migrate, then add posts, authors, categories and tags in bulk batches.",
    )
    add_posts_argument(parser, "posts to add (default 10000)")
    parser.add_argument(
        "--users", type=int_between(1, MAX_AUTHORS), default=50,
        help="authors to spread them over",
    )  # fmt: skip
    parser.add_argument("--reset", action="store_true", help="delete every row first")
    parser.add_argument(
        "--batch-size", type=int_between(1, MAX_BATCH), default=2000, help="rows per bulk insert"
    )
    add_database_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(run=run)


def add_posts_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--posts", type=int_between(0, MAX_POSTS), default=10_000, help=help_text)


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", type=not_empty,
        help="database URL (default: $DATABASE_URL or SQLite)",
    )  # fmt: skip


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.demo import project

    project.setup_django(args.db)
    project.migrate()
    report = seed_with_progress(args, console)
    if args.json:
        figures = {**dataclasses.asdict(report), "rows": report.rows}
        figures |= {"rows_per_second": report.rows_per_second, "database": project.database_label()}
        print(json.dumps(figures))
        return ExitCode.OK
    console.print(
        f"seeded {report.posts:,} posts, {report.users:,} new users and {report.tag_links:,} "
        f"tag links into {project.database_label()} in {report.seconds:.1f}s "
        f"({report.rows_per_second:,.0f} rows/s)"
    )
    return ExitCode.OK


def seed_with_progress(args: argparse.Namespace, console: Console):
    from perflab.demo.seeding import seed

    with Progress(
        TextColumn("seeding posts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=args.posts < 20_000
        or getattr(args, "json", False),  # a bar for anything that takes more than a few seconds
    ) as bar:
        task = bar.add_task("posts", total=args.posts)
        return seed(
            args.posts,
            args.users,
            reset=args.reset,
            batch_size=args.batch_size,
            progress=lambda written: bar.update(task, completed=written),
        )
