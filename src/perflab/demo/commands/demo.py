"""`perflab demo`: seed the reference app, serve it, load-test it through `perflab run`, report."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from perflab.commands.arguments import int_between
from perflab.commands.run import MAX_USERS
from perflab.datadir import STORE_FILE
from perflab.demo.commands.seed import add_posts_argument, seed_with_progress
from perflab.demo.commands.serve import SERVE_PORT, add_server_arguments, say_dashboard
from perflab.demo.staff import staff_login
from perflab.server import GunicornServer, free_port

DEMO_LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"
STAGED_SHAPE_FILE = DEMO_LOCUSTFILE.with_name("staged_shape.py")
STAGED_SECONDS = 420  # the seed's staged profile, before compression
DEMO_USER_CLASSES = ("BlogUser", "AuthorsUser")
DEMO_SLO = "p95<200ms"
MAX_DURATION_S = 86_400


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="seed, serve and load-test the reference app in one go",
        description="Seed the reference app, serve it under gunicorn with the probe on, run the "
        "demo locustfile (BlogUser and AuthorsUser) through `perflab run` with the seed's staged "
        "shape compressed to --duration seconds and the SLO p95<200ms, then print what the probe "
        "recorded inside the server. Exits with the runner's code (3: the SLO was breached).",
    )
    add_server_arguments(parser)
    add_posts_argument(parser, "posts to seed (default 10000)")
    parser.add_argument(
        "--users", type=int_between(1, MAX_USERS), default=20,
        help="peak users of the staged shape (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=int_between(1, MAX_DURATION_S), default=60,
        help="seconds the staged shape is compressed to",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.demo import project

    project.setup_django(args.db)
    project.migrate()
    with console.status(f"seeding {args.posts:,} posts …"):
        report = seed_with_progress(_seed_args(args), console)
    console.print(
        f"seeded {report.posts:,} posts into {project.database_label()} "
        f"in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)"
    )
    login = staff_login(project.data_dir())
    store_path = project.data_dir() / STORE_FILE
    for stale in store_path.parent.glob(store_path.name + "*"):  # a fresh store per demo
        stale.unlink()
    from perflab.probe.store import RecordingStore

    fresh = RecordingStore.at_path(store_path)  # there from the start: `perflab run --store`
    fresh.ensure_schema()  # refuses a path with no store yet
    fresh.database.close()
    server = GunicornServer(
        project.WSGI_APP,
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
        run_dir = project.data_dir() / "runs" / "demo"
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run directory per demo, too
        code = _run_load(args, server.url, run_dir, store_path)
    finally:
        server.stop()  # the workers flush the probe's writers as they exit
    _show_server_side(store_path, console)
    if (run_dir / "results.json").is_file():  # after the server stopped: the store is complete
        from perflab.commands.run import write_report

        write_report(run_dir, console)
    say_dashboard(console, f"http://127.0.0.1:{SERVE_PORT}", login, serving=False)
    return code


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


def run_command(
    url: str, duration: int, run_dir: Path, store: Path, data_volume: str = ""
) -> list[str]:
    """`perflab run` on the demo locustfile with the seed's staged shape and the demo's SLO."""
    return [
        sys.executable, "-m", "perflab", "run", "--headless", "-f", str(DEMO_LOCUSTFILE),
        "--host", url,
        "--shape", f"{STAGED_SHAPE_FILE}:StagedLoad", "-t", f"{duration + 15}s",
        "--slo", DEMO_SLO, "--out", str(run_dir), "--store", str(store),
        "--data-volume", data_volume, *DEMO_USER_CLASSES,
    ]  # fmt: skip


def _run_load(args: argparse.Namespace, url: str, run_dir: Path, store: Path) -> int:
    """`perflab run` in a child process (its own gevent world), its live view on our terminal."""
    env = {
        **os.environ,
        "PERFLAB_STAGE_SCALE": f"{args.duration / STAGED_SECONDS:.6f}",
        "PERFLAB_STAGE_USERS": str(args.users),
    }
    env.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    volume = f"{args.posts:,} posts"
    child = subprocess.Popen(run_command(url, args.duration, run_dir, store, volume), env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:  # the child stops and writes its results (Ctrl-C reached it too;
        child.send_signal(signal.SIGINT)  # a SIGTERM to the demo, see cli, did not)
        return child.wait(timeout=60)
