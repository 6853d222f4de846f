"""`perflab serve`: the reference app under gunicorn on loopback until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal

from rich.console import Console

from perflab.commands.arguments import int_between, port
from perflab.demo.commands.seed import add_database_argument
from perflab.demo.staff import staff_login
from perflab.errors import ExitCode, PerflabError
from perflab.server import LOOPBACK_HOSTS, GunicornServer, default_workers, ensure_port_free
from perflab.signals import StopRequest

SERVE_PORT = 8000
MAX_WORKERS = 256  # gunicorn processes: a typo must not fork thousands
MAX_THREADS = 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the reference app under gunicorn on 127.0.0.1",
        description="Migrate, then serve the reference blog API under gunicorn until stopped.",
    )
    add_server_arguments(parser)
    parser.add_argument(
        "--port", type=port, default=SERVE_PORT, help=f"port (default {SERVE_PORT})"
    )
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
        "--workers", type=int_between(1, MAX_WORKERS), default=None,
        help=f"gunicorn workers (default {default_workers()})",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int_between(1, MAX_THREADS), default=1,
        help="threads per worker (default 1)",
    )  # fmt: skip
    add_database_argument(parser)


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
        project.WSGI_APP,
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
    login = staff_login(project.data_dir())
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
        if not args.no_probe:
            say_dashboard(console, server.url, login, serving=True)
        while not stop.requested:
            code = server.wait(timeout=0.2)
            if code is not None:
                server.stop()  # closes its log; nothing left to signal
                return ended_by_itself(code, console)
        server.stop()
    console.print("stopped")
    return ExitCode.INTERRUPTED if stop.signal == signal.SIGINT else ExitCode.OK


def say_dashboard(console: Console, url: str, login: tuple[str, str], serving: bool) -> None:
    """Where perflab's dashboard is and the staff login it asks for."""
    from perflab.mount import URL_PREFIX

    how = "" if serving else "run `perflab serve`, then open "
    console.print(
        f"dashboard: {how}[bold]{url}/{URL_PREFIX}[/] — log in as [bold]{login[0]}[/], "
        f"password [bold]{login[1]}[/]",
        highlight=False,
    )


def ended_by_itself(code: int, console: Console) -> int:
    """gunicorn exited while perflab was serving: told to stop by someone else, or died.

    gunicorn's master exits 0 only after a graceful stop, which it does on SIGTERM, SIGINT
    or SIGQUIT: someone (a supervisor, a person) stopped the server, as SIGTERM to perflab
    would have — a clean end, exit 0. Any other code, or a signal it did not survive
    (SIGKILL, a crash), is a failure, exit 1.
    """
    if code == 0:
        console.print("gunicorn was stopped by a signal from outside perflab: stopped")
        return ExitCode.OK
    if code < 0:
        raise PerflabError(f"gunicorn was killed by {signal.Signals(-code).name}", ExitCode.FAILED)
    raise PerflabError(f"gunicorn exited with code {code} while serving", ExitCode.FAILED)
