"""`perflab run`: a locustfile, headless, with exact percentiles, an open model and SLOs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from perflab.commands.arguments import (
    float_between,
    int_between,
    nonempty_path,
    port,
    process_id,
    url,
    utf8_text,
)
from perflab.errors import ExitCode, PerflabError
from perflab.load.distributed import MASTER_PORT

MAX_RUN_TIME_S = 7 * 86400.0  # every run stops by itself
MAX_USERS = 1_000_000  # per run; beyond this a typo is likelier than a plan
MAX_STOP_TIMEOUT_S = 3600.0
DEFAULT_MASTER_PORT = MASTER_PORT  # a local master with --workers moves to a free port


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a locustfile headless with exact percentiles, an open model and SLOs",
        description="Run a locustfile with Locust as the engine and perflab's statistics: "
        "HDR percentiles, per-second series, X-Request-ID on every request, server resources, "
        "SLOs. Exit codes: 0 pass, 3 an SLO was breached, 2 bad usage, 1 the run failed, "
        "130 interrupted.",
    )
    add_load_arguments(parser)
    parser.add_argument(
        "-u", "--users", type=int_between(1, MAX_USERS), default=10,
        help="peak users (closed model)",
    )  # fmt: skip
    parser.add_argument(
        "-r", "--spawn-rate", type=float_between(0, MAX_USERS, above_low=True), default=10.0,
        help="users started per second",
    )  # fmt: skip
    parser.add_argument("-t", "--run-time", default="1m", help="how long: 30s, 5m, 1h (default 1m)")
    parser.add_argument("--shape", help="ramp|step|spike|soak|stress[:key=value,…] or FILE:Class")
    parser.add_argument(
        "--arrival-rate", help="open model: iterations/s, or FROM:TO:OVER (10:200:5m)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int_between(1, 100_000),
        default=100,
        help="open model: concurrent iterations at most (default 100)",
    )
    parser.add_argument(
        "--abort-on-fail",
        action="store_true",
        help="stop as soon as a latency/error SLO is breached",
    )
    parser.add_argument(
        "--out", type=nonempty_path, help="run directory (default .perflab/runs/TIMESTAMP)"
    )
    parser.add_argument(
        "--label", type=utf8_text, default="", help="a name for this run in reports"
    )
    parser.add_argument(
        "--store",
        type=nonempty_path,
        help="the probe's store file, recorded for report and compare",
    )
    parser.add_argument(
        "--report", action="store_true", help="write RUN_DIR/report.html at the end"
    )
    parser.add_argument(
        "--data-volume", type=utf8_text, help='what the database holds, e.g. "10,000 posts"'
    )
    parser.add_argument("--quiet", action="store_true", help="no live view (CI)")
    parser.add_argument(
        "--stop-timeout",
        type=float_between(0, MAX_STOP_TIMEOUT_S),
        default=10.0,
        help="seconds users get to finish their task at the end",
    )
    group = parser.add_argument_group("distributed")
    group.add_argument(
        "--workers",
        type=int_between(0, 256),
        default=0,
        help="start N Locust worker processes on this machine",
    )
    group.add_argument(
        "--master", action="store_true", help="be the master for workers on other machines"
    )
    group.add_argument(
        "--expect-workers",
        type=int_between(1, 10_000),
        default=1,
        help="with --master: workers to wait for",
    )
    group.add_argument("--worker", action="store_true", help="be a worker of --master-host")
    group.add_argument("--master-host", default="127.0.0.1")
    group.add_argument(
        "--master-bind", default="127.0.0.1", help="with --master: address to listen on"
    )
    group.add_argument("--master-port", type=port, default=DEFAULT_MASTER_PORT)
    parser.set_defaults(run=run)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command that drives load takes: the locustfile, the target, SLOs, and what
    to watch on the server (shared by `run` and `capacity`)."""
    parser.add_argument(
        "user_classes", nargs="*", metavar="UserClass", help="user classes to run (default: all)"
    )
    parser.add_argument("-f", "--locustfile", type=nonempty_path, required=True)
    parser.add_argument(
        "--host", type=url, required=True, help="base URL on loopback, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument(
        "--slo",
        action="append",
        default=[],
        help='e.g. "p95<200ms", "error_rate<1%%", "/api/posts/:p99<500ms", "rps>50"',
    )
    parser.add_argument(
        "--server-pid",
        type=process_id,
        help="watch this server process tree (default: whoever listens on --host)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL to count connections (default $DATABASE_URL)",
    )


def config_from(args: argparse.Namespace):
    """Every check that needs no Locust, so bad usage fails in a blink with one line."""
    from perflab.load.arrival import ArrivalRate
    from perflab.load.durations import parse_duration
    from perflab.load.runner import RunConfig
    from perflab.load.slo import parse_slo
    from perflab.load.target import check_target

    if sum([args.master, args.worker, args.workers > 0]) > 1:
        raise PerflabError("choose one of --workers N, --master and --worker")
    run_time = parse_duration(args.run_time)
    if not 1 <= run_time <= MAX_RUN_TIME_S:
        raise PerflabError(f"--run-time must be between 1s and 7 days, got {args.run_time}")
    if not args.locustfile.is_file():
        raise PerflabError(f"locustfile not found: {args.locustfile}")
    check_server_pid(args.server_pid)
    if args.store is not None:
        _check_store(args.store)
    slos = tuple(parse_slo(text) for text in args.slo)
    rate = ArrivalRate.parse(args.arrival_rate) if args.arrival_rate else None
    role = "worker" if args.worker else "master" if (args.master or args.workers) else "local"
    host = check_target(args.host)
    _check_master_address(args, role)
    out = args.out
    if out is None and role != "worker":
        from perflab.load.results import default_run_dir

        out = default_run_dir()
    return RunConfig(
        locustfile=args.locustfile, host=host, users=args.users, spawn_rate=args.spawn_rate,
        run_time_s=run_time, shape=args.shape, arrival_rate=rate,
        max_in_flight=args.max_in_flight, user_classes=tuple(args.user_classes), role=role,
        workers=args.workers, expect_workers=args.expect_workers if args.master else 0,
        master_host=args.master_host, master_bind=args.master_bind,
        master_port=args.master_port, slos=slos, abort_on_fail=args.abort_on_fail,
        stop_timeout_s=args.stop_timeout, server_pid=args.server_pid,
        database_url=args.database_url, out=out, quiet=args.quiet, label=args.label,
        store=str(args.store.resolve()) if args.store else None, data_volume=args.data_volume,
    )  # fmt: skip


def check_server_pid(pid: int | None) -> None:
    """``--server-pid`` of no process is a typo (or a server that died): watching it would
    leave the run's resource columns empty without saying why."""
    import psutil

    if pid is not None and not psutil.pid_exists(pid):
        raise PerflabError(f"--server-pid {pid}: no such process")


def _check_master_address(args: argparse.Namespace, role: str) -> None:
    """The master's address, before any load: Locust would raise a traceback for a taken
    port or an unknown bind address, and a worker would retry an unknown master forever."""
    import socket

    from perflab.server import ensure_port_free

    if role == "master" and not (args.workers and args.master_port == DEFAULT_MASTER_PORT):
        try:
            ensure_port_free(args.master_bind, args.master_port)
        except PerflabError as exc:
            raise PerflabError(f"--master-bind/--master-port: {exc}") from None
    if role == "worker":
        try:
            socket.getaddrinfo(args.master_host, args.master_port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise PerflabError(f"--master-host {args.master_host}: {exc.strerror}") from None


def _check_store(path: Path) -> None:
    """``--store`` names the probe's existing store: a typo would otherwise cost a whole run
    before the report says "no probe store"."""
    from perflab.report.probe_store import probe_store_problem

    if path.is_dir():
        raise PerflabError(f"--store {path} is a directory, not a probe store file")
    if not path.exists():
        raise PerflabError(
            f"--store {path}: no such file (the probe creates its store when the app starts: "
            "is the app running with the probe, and is this its PERFLAB['STORE'] path?)"
        )
    problem = probe_store_problem(path)
    if problem:
        raise PerflabError(f"--store: {problem}")


def run(args: argparse.Namespace, console: Console) -> int:
    config = config_from(args)
    if config.workers and config.master_port == DEFAULT_MASTER_PORT:
        from perflab.server import free_port

        config.master_port = free_port()  # several local runs must not share a port
    from perflab.load.roles import run_for

    outcome = run_for(config, console).execute()
    if outcome.results is None:  # a worker: its master reports the run
        return ExitCode.OK
    print_outcome(outcome, console)
    if args.report and outcome.run_dir is not None:
        write_report(outcome.run_dir, console)
    return outcome.exit_code


def write_report(run_dir: Path, console: Console) -> None:
    """The report is a view of what was measured: failing to draw it never fails the run."""
    from perflab.report import build_report

    try:
        console.print(f"report: {build_report(run_dir)}")
    except Exception as exc:
        console.print(f"[yellow]report not written:[/] {escape(f'{type(exc).__name__}: {exc}')}")


def print_outcome(outcome, console: Console) -> None:
    from perflab.load.summary import endpoints_table, open_model_line, slo_table

    results = outcome.results
    if results.endpoints:
        console.print(endpoints_table(results))
    line = open_model_line(results)
    if line:
        console.print(line)
    table = slo_table(results)
    if table is not None:
        console.print(table)
    for error in results.user_errors[:3]:
        console.print(f"[yellow]task error x{error.count}:[/] " + escape(error.message))
    if outcome.message:
        console.print(f"[bold]{outcome.status}:[/] " + escape(outcome.message))
    if outcome.run_dir:
        console.print(f"run directory: {outcome.run_dir}")
