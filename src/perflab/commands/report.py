"""`perflab report`: one self-contained HTML file from a run directory (and its probe store)."""

from __future__ import annotations

import argparse

from rich.console import Console

from perflab.commands.arguments import check_output_file, nonempty_path
from perflab.errors import ExitCode, PerflabError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a run's HTML report: verdict, charts, endpoints, findings, slowest requests",
        description="Build one self-contained HTML file (no network needed to open it) from a "
        "run directory written by `perflab run`, with server figures from the probe's store.",
    )
    parser.add_argument(
        "run_dir", type=nonempty_path, metavar="RUN_DIR", help="a `perflab run` directory"
    )
    parser.add_argument(
        "--store",
        type=nonempty_path,
        help="the probe's store file (default: the one results.json names)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=nonempty_path,
        help="the HTML file to write (default RUN_DIR/report.html)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.probe.database import StoreUnavailable
    from perflab.report import build_report
    from perflab.report.probe_store import open_probe_store
    from perflab.report.render import DEFAULT_NAME

    if not args.run_dir.exists():
        raise PerflabError(f"no run directory at {args.run_dir}")
    run_dir = args.run_dir if args.run_dir.is_dir() else args.run_dir.parent
    check_output_file(args.out if args.out is not None else run_dir / DEFAULT_NAME, "--out")
    if args.store is not None:
        open_probe_store(args.store)  # a missing file or not a probe store: exit 2, none made
    try:
        path = build_report(args.run_dir, store=args.store, out=args.out)
    except StoreUnavailable as exc:
        raise PerflabError(f"cannot read the store: {exc}", ExitCode.FAILED) from None
    except OSError as exc:
        raise PerflabError(f"cannot write the report: {exc}", ExitCode.FAILED) from None
    print(path)
    return ExitCode.OK
