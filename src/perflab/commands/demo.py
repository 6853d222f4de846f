"""`perflab demo`: seed the reference app, serve it, load-test it with Locust, print the summary."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from perflab.commands.serve import add_server_arguments
from perflab.errors import ExitCode, PerflabError
from perflab.server import GunicornServer, free_port

DEMO_LOCUSTFILE = Path(__file__).resolve().parent.parent / "demo" / "locustfile.py"
DEMO_USER_CLASSES = ("BlogUser", "AuthorsUser")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="seed, serve and load-test the reference app in one go",
        description="Seed the reference app, serve it under gunicorn, run the demo locustfile "
        "headless (BlogUser and AuthorsUser) and print Locust's summary, then what the probe "
        "recorded inside the server. Exits non-zero when any request failed.",
    )
    add_server_arguments(parser)
    parser.add_argument("--posts", type=int, default=10_000, help="posts to seed (default 10000)")
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load (default 30)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.duration < 1 or args.users < 1 or args.spawn_rate <= 0:
        raise PerflabError("--duration, --users and --spawn-rate must be positive")
    from perflab.commands.seed import seed_with_progress
    from perflab.demo import project

    project.setup_django(args.db)
    project.migrate()
    with console.status(f"seeding {args.posts:,} posts …"):
        report = seed_with_progress(_seed_args(args), console)
    console.print(
        f"seeded {report.posts:,} posts into {project.database_label()} "
        f"in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)"
    )
    store_path = project.data_dir() / "probe.sqlite3"
    for stale in store_path.parent.glob(store_path.name + "*"):  # a fresh store per demo
        stale.unlink()
    server = GunicornServer(
        port=free_port(),
        workers=args.workers,
        threads=args.threads,
        env={**project.project_environment(args.db), "PERFLAB_DATA_DIR": str(project.data_dir())},
        log_path=project.data_dir() / "gunicorn.log",
    )
    with console.status("starting gunicorn …"):
        server.start()
    try:
        console.print(f"serving at {server.url} with {server.workers} worker(s)")
        code = _run_locust(args, server.url, console)
    finally:
        server.stop()  # the workers flush the probe's writers as they exit
    _show_server_side(store_path, console)
    return ExitCode.OK if code == 0 else ExitCode.FAILED


def _show_server_side(store_path: Path, console: Console) -> None:
    """What the probe saw inside the server during the run."""
    from perflab.commands.inspect import render_findings, render_routes
    from perflab.probe.store import RecordingStore

    if not store_path.is_file():
        return
    store = RecordingStore.at_path(store_path)
    console.print()
    render_routes(store.routes(), console)
    findings = store.findings(limit=10)
    if findings:
        render_findings(findings, console)
    console.print(f"[dim]probe store: {store_path} — try `perflab inspect routes|findings|sql`[/]")


def _seed_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(posts=args.posts, users=50, reset=True, batch_size=2000)


def locust_command(
    locustfile: Path,
    host: str,
    users: int,
    spawn_rate: float,
    seconds: int,
    user_classes: tuple[str, ...] = DEMO_USER_CLASSES,
    extra: tuple[str, ...] = (),
) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", host, "--users", str(users), "--spawn-rate", str(spawn_rate),
        "--run-time", f"{seconds}s", "--stop-timeout", "10", "--only-summary",
        "--exit-code-on-error", "1", *extra, *user_classes,
    ]  # fmt: skip


def _run_locust(args: argparse.Namespace, host: str, console: Console) -> int:
    """Locust in a child process; its output is shown once the run is over, under a progress bar."""
    command = locust_command(DEMO_LOCUSTFILE, host, args.users, args.spawn_rate, args.duration)
    with tempfile.TemporaryFile() as output:
        locust = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        columns = [TextColumn("load test"), BarColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("load", total=args.duration)
            started = time.monotonic()
            try:
                while locust.poll() is None:
                    bar.update(task, completed=min(time.monotonic() - started, args.duration))
                    time.sleep(0.25)
            except KeyboardInterrupt:
                # Ctrl-C reached Locust too (same process group): let it stop and report.
                locust.wait(timeout=30)
        output.seek(0)
        sys.stdout.write(output.read().decode(errors="replace"))
    return locust.returncode
