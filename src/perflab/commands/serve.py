"""`perflab serve`: the reference app under gunicorn on loopback until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from perflab.errors import ExitCode, PerflabError
from perflab.server import LOOPBACK_HOSTS, GunicornServer, default_workers, ensure_port_free
from perflab.signals import StopRequest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the reference app under gunicorn on 127.0.0.1",
        description="Migrate, then serve the reference blog API under gunicorn until stopped.",
    )
    add_server_arguments(parser)
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK_HOSTS)
    parser.add_argument(
        "--dev", action="store_true", help="the DEBUG profile (perflab.demo.settings_dev)"
    )
    parser.add_argument("--toolbar", action="store_true", help="with --dev: django-debug-toolbar")
    parser.add_argument(
        "--silk",
        choices=["on", "profile"],
        help="add django-silk for comparison ('profile': with its Python profiler)",
    )
    parser.add_argument(
        "--no-probe", action="store_true", help="serve without perflab's probe (on by default)"
    )
    parser.set_defaults(run=run)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=int, default=None, help=f"gunicorn workers (default {default_workers()})"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: $DATABASE_URL or SQLite)"
    )


def app_environment(args: argparse.Namespace) -> dict[str, str]:
    """Environment switches of the reference app's settings for these options."""
    if args.toolbar and not args.dev:
        raise PerflabError("--toolbar needs --dev (the debug toolbar only works with DEBUG=True)")
    env = {"PERFLAB_PROBE": "off" if args.no_probe else "on"}
    if args.toolbar:
        env["PERFLAB_DEV_TOOLBAR"] = "1"
    if args.silk:
        env["PERFLAB_SILK"] = args.silk
    return env


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.demo import project

    extra_env = app_environment(args)
    server = GunicornServer(
        port=args.port,
        host=args.host,
        workers=args.workers,
        threads=args.threads,
        log_level="info",
    )
    ensure_port_free(args.host, args.port)  # before migrating: fail fast on a taken port
    os.environ.update(extra_env)
    project.setup_django(args.db, dev=args.dev)
    project.migrate()
    server.env = {
        **project.project_environment(args.db, args.dev),
        **extra_env,
        "PERFLAB_DATA_DIR": str(project.data_dir()),
    }
    stop = StopRequest()
    with stop.on_signals():
        with console.status(f"starting gunicorn on {server.url} …"):
            server.start(cancelled=lambda: stop.requested)
        console.print(
            f"serving the reference app at [bold]{server.url}[/] with {server.workers} "
            f"worker(s) on {project.database_label()} — Ctrl-C to stop"
        )
        while not stop.requested:
            code = server.wait(timeout=0.2)
            if code is not None:
                raise PerflabError(
                    f"gunicorn exited unexpectedly with code {code}", ExitCode.FAILED
                )
        server.stop()
    console.print("stopped")
    return ExitCode.OK
