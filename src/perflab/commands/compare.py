"""`perflab compare`: two runs' per-endpoint deltas, judged against regression limits (CI)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from perflab.commands.arguments import nonempty_path
from perflab.errors import ExitCode, PerflabError

FORMATS = ("table", "md", "json")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs per endpoint and fail when a regression limit is exceeded",
        description="Per-endpoint deltas between two run directories: p50/p95/p99, req/s, "
        "error rate, and from the probe store queries per request and new findings. "
        "Exit codes: 0 no limit exceeded, 3 a limit was exceeded, 2 bad input.",
    )
    parser.add_argument(
        "base", type=nonempty_path, metavar="BASE_RUN", help="the run to compare against"
    )
    parser.add_argument("new", type=nonempty_path, metavar="NEW_RUN", help="the run being judged")
    parser.add_argument(
        "--max-regression",
        metavar="LIMITS",
        help="e.g. p95=10%%,p99=20ms,rps=5%%,error_rate=1%%,queries=0,findings=0 "
        "(default: no limits, deltas only)",
    )
    parser.add_argument(
        "--min-requests",
        type=int,
        default=20,
        metavar="N",
        help="judge latency and req/s only on endpoints with at least this many requests "
        "in both runs (default 20)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    for which in ("base", "new"):
        parser.add_argument(
            f"--{which}-store",
            type=nonempty_path,
            metavar="PATH",
            help=f"the {which} run's probe store (default: the one its results.json records)",
        )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.report.compare import (
        compare,
        load_run,
        parse_limits,
        render_markdown,
        render_terminal,
    )

    limits = parse_limits(args.max_regression)  # bad grammar fails before any file is read
    if args.min_requests < 0:
        raise PerflabError("--min-requests must be 0 or more")
    comparison = compare(
        load_run(args.base, args.base_store),
        load_run(args.new, args.new_store),
        limits,
        args.min_requests,
    )
    if args.format == "json":
        print(json.dumps(comparison.as_dict(), indent=2, default=str))
    elif args.format == "md":
        print(render_markdown(comparison), end="")
    else:
        render_terminal(comparison, console)
    return ExitCode.SLO_BREACHED if comparison.verdict == "fail" else ExitCode.OK
