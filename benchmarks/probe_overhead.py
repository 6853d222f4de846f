"""Throughput cost of server-side recorders on the reference app, side by side in one run.

    .venv/bin/python benchmarks/probe_overhead.py [--seconds 10] [--slice 1] [--repeat 1]
        [--configs off,control,on,profile-all,silk,silk-profile]
        [--endpoints list,detail,naive] [--markdown]

Method. One SQLite database is seeded once through the real CLI
(`python -m perflab seed --posts 10000 --reset`, run with PERFLAB_SILK=on so that
silk's tables exist too). Every configuration serves its own copy of that file (silk
writes its recordings into the app's database) with its own PERFLAB_DATA_DIR (where
the probe's store goes), DEBUG=False (`perflab.demo.settings`), under
`GunicornServer(workers=1)`: one sync worker, so req/s is the inverse of the
per-request cost. The configurations differ only in the environment switches the
settings read:

    off           no probe                       PERFLAB_PROBE=off
    control       no probe, a second server      PERFLAB_PROBE=off (the A/A check)
    on            probe (default)                PERFLAB_PROBE=on
    profile-all   probe, profile every request   PERFLAB_PROBE=profile-all
    silk          django-silk                    PERFLAB_PROBE=off PERFLAB_SILK=on
    silk-profile  silk + profiler                PERFLAB_PROBE=off PERFLAB_SILK=profile

Interleaved slices. All configurations' servers run at once, all pinned to CPU 0
(master, worker and their threads, the probe's writer too) and this script with its
load generator to CPU 1; only one server is loaded at a time. For each endpoint
(anonymous GETs: the post list, one post's detail, the deliberate N+1 author list)
every server gets a --warmup run, then --seconds of load per configuration are cut
into slices of --slice seconds (8 connections from `wrk -t1 -c8 --latency --timeout
30s`, installed with apt-get when missing and running as root, unless --no-install;
or a generated Locust FastHttpUser file, slices of at least 5 s) taken in turns: one
slice per configuration, the order rotating every turn (servers start, and turns
begin, in an order drawn anew every round). Each ratio is the median of the
slice-by-slice ratios to the no-probe slice of the same turn, with a 95 % bootstrap
interval (two-stage with several rounds: rounds drawn, then slices within them, since
a process's speed differs from another's by ±1-2 % for its whole life). The machine's
speed drifts by 5-20 % over tens of seconds (a shared VM); slices a second apart see
the same machine, so the drift cancels instead of deciding the result, and the
`control` server measures what is left: its ratio should be 1.00 within its interval.

After each slice the script waits until that server has used no CPU for --settle
seconds (longer than the probe writer's 0.5 s flush interval), so work a slice leaves
behind (requests wrk abandoned when it stopped, records still queued for the writer)
never runs inside another server's slice; the CPU the server used after its slice is
added to the slice's duration, so that work counts against the configuration that
caused it. With --repeat N every server is restarted N times on a fresh database copy
and the slices of all rounds are pooled. Every load run has a time limit; gunicorn is
always stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from arguments import comma_list
from loadgen import LoadGenerator, Run, choose_load_generator
from machine import (
    LOADGEN_CPU,
    SERVER_CPU,
    busy_cpu_seconds,
    can_pin,
    pin_tree,
    tree_cpu_seconds,
)
from overhead_table import CONFIGS, DEFAULT_ENDPOINTS, ENDPOINTS, Cell, report
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from perflab.demo.project import WSGI_APP, project_environment
from perflab.errors import PerflabError
from perflab.server import GunicornServer, free_port

ENDPOINT_ALIASES = {"n+1": "naive", "n1": "naive"}
SETTLE_LIMIT_S = 10.0  # a server still busy this long after its slice is measured anyway
SETTLE_POLL_S = 0.05
QUIET_CPU_S = 0.001  # less CPU than this between two polls counts as idle


def seed(db_path: Path, posts: int, data_dir: Path) -> None:
    """The real CLI, with silk enabled so its tables are migrated into the same file."""
    command = [sys.executable, "-m", "perflab", "seed", "--posts", str(posts), "--reset",
               "--db", f"sqlite:///{db_path}"]  # fmt: skip
    env = {**os.environ, "PERFLAB_SILK": "on", "PERFLAB_PROBE": "off",
           "PERFLAB_DATA_DIR": str(data_dir)}  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600,
                            stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"seeding failed: {(result.stderr or result.stdout).strip()}")


def restore(pristine: Path, target: Path) -> None:
    """A fresh copy of the seeded database (through SQLite's backup API, so WAL content counts)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(pristine)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()


def get_json(url: str) -> tuple[int, object]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


# -- the run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10,
                        help="measured seconds per configuration and endpoint (10)")  # fmt: skip
    parser.add_argument("--slice", type=float, default=1,
                        help="seconds per slice; configurations take turns (1)")  # fmt: skip
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per server (2)")
    parser.add_argument("--settle", type=float, default=0.6,
                        help="idle seconds a server must show after its slice (0.6)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=2,
                        help="rounds on freshly started servers, slices pooled (2)")  # fmt: skip
    parser.add_argument("--configs", type=comma_list(CONFIGS),
                        default=[c for c in CONFIGS if c != "on-base"],
                        help=f"comma-separated subset of {','.join(CONFIGS)} (on-base: with "
                        "--base-src)")  # fmt: skip
    parser.add_argument(
        "--endpoints", type=comma_list(ENDPOINTS, ENDPOINT_ALIASES),
        default=list(DEFAULT_ENDPOINTS), help=f"comma-separated subset of {','.join(ENDPOINTS)}",
    )  # fmt: skip
    parser.add_argument("--posts", type=int, default=10_000, help="posts to seed (10000)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "locust"], default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/load to CPUs")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--base-src", type=Path, default=None,
                        help="another checkout's src/ for the on-base configuration (e.g. a "
                        "git worktree of the commit before a change)")  # fmt: skip
    args = parser.parse_args()
    if "on-base" in args.configs and not (args.base_src and (args.base_src / "perflab").is_dir()):
        parser.error("on-base needs --base-src SRC, a folder holding perflab/")
    if args.base_src and "on-base" not in args.configs:
        args.configs.append("on-base")
    if args.seconds < 1 or args.slice < 1 or args.warmup < 0 or args.settle < 0:
        parser.error("--seconds and --slice must be ≥ 1, --warmup and --settle ≥ 0")
    if args.repeat < 1:
        parser.error("--repeat must be ≥ 1")
    console = Console()
    for inherited in ("REDIS_URL", "PERFLAB_DEV_TOOLBAR", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(inherited, None)  # the same app for every configuration: locmem cache

    loadgen = choose_load_generator(args.loadgen, not args.no_install, console)
    args.slice = max(round(args.slice), loadgen.min_seconds)  # both tools take whole seconds
    args.slices = max(1, round(args.seconds / args.slice))
    pinned = can_pin() and not args.no_pin
    if pinned:
        os.sched_setaffinity(0, {LOADGEN_CPU})  # this script and its load generator children
    console.print(f"load generator: {escape(loadgen.describe())}")
    console.print(
        f"pinning: every gunicorn → CPU {SERVER_CPU}, load generator → CPU {LOADGEN_CPU}"
        if pinned
        else "pinning: [yellow]not pinned[/] "
        + ("(--no-pin)" if args.no_pin else "(needs CPUs 0 and 1 and sched_setaffinity)")
    )
    console.print(
        f"{args.slices} slices of {args.slice} s per configuration and endpoint"
        + (f", {args.repeat} rounds" if args.repeat > 1 else "")
        + f"; load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    scratch = Path(tempfile.mkdtemp(prefix="perflab-probe-bench-"))
    try:
        results, detail_id, notes = measure(args, console, loadgen, pinned, scratch)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    finally:
        if args.keep:
            console.print(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    report(console, args, results, detail_id, loadgen, pinned, notes)
    return 1 if any(c.error for row in results.values() for c in row.values()) else 0


def measure(args, console: Console, loadgen: LoadGenerator, pinned: bool, scratch: Path):
    pristine = scratch / "seed.sqlite3"
    with console.status(f"seeding {args.posts:,} posts (perflab seed, silk's tables included) …"):
        started = time.monotonic()
        seed(pristine, args.posts, scratch / "seed-data")
    console.print(f"seeded {args.posts:,} posts in {time.monotonic() - started:.1f}s")

    results = {c: {e: Cell() for e in args.endpoints} for c in args.configs}
    notes: dict[str, list] = {"server_cpu": [], "loadgen_cpu": [], "foreign_cpu": [],
                              "pinned_threads": [], "unsettled": []}  # fmt: skip
    detail_id: int | None = None
    per_endpoint = len(args.configs) * (args.warmup + args.slices * args.slice)
    total = args.repeat * len(args.endpoints) * per_endpoint
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=total)
        for round_no in range(1, args.repeat + 1):
            where = f" (round {round_no})" if args.repeat > 1 else ""
            progress.update(task, description=f"starting {len(args.configs)} servers{where}")
            with running_servers(args.configs, round_no, pristine, scratch, results, args.base_src,
                                 console) as servers:  # fmt: skip
                if pinned:
                    notes["pinned_threads"].extend(
                        pin_tree(s.pid, SERVER_CPU) for s in servers.values()
                    )
                if detail_id is None and servers and "detail" in args.endpoints:
                    try:
                        detail_id = first_post_id(next(iter(servers.values())).url)
                    except (PerflabError, OSError, ValueError) as exc:
                        raise SystemExit(f"no post for the detail endpoint: {exc}") from None
                for endpoint in args.endpoints:
                    done = progress.tasks[0].completed + per_endpoint
                    path = ENDPOINTS[endpoint][1].format(id=detail_id)
                    cells = {c: results[c][endpoint] for c in servers}
                    name = f"{ENDPOINTS[endpoint][0]} {path}{where}"
                    measure_endpoint(servers, cells, path, name, args, loadgen, pinned, scratch,
                                     progress, task, console, notes)  # fmt: skip
                    progress.update(task, completed=done)
                    for config, cell in cells.items():
                        progress.console.print(f"  {CONFIGS[config][0]} · {name}: {cell.summary()}")
    return results, detail_id, notes


@contextlib.contextmanager
def running_servers(configs, round_no: int, pristine: Path, scratch: Path, results,
                    base_src: Path | None, console):  # fmt: skip
    """{config: started server}, each on a fresh copy of the seeded database; all stopped after."""
    servers: dict[str, GunicornServer] = {}
    # A fresh order every round (seeded: runs repeat): the first server started, and the
    # first in every turn's rotation, is not always the baseline.
    order = random.Random(round_no).sample(configs, len(configs))
    try:
        for config in order:
            label, switches = CONFIGS[config]
            db_path = scratch / f"{config}.sqlite3"
            restore(pristine, db_path)
            data_dir = scratch / f"{config}-r{round_no}"
            env = {**project_environment(f"sqlite:///{db_path}"), **switches,
                   "PERFLAB_DATA_DIR": str(data_dir)}  # fmt: skip
            if config == "on-base":  # the app and probe imported from the other checkout
                paths = [str(base_src.resolve()), env.get("PYTHONPATH")]
                env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
            server = GunicornServer(WSGI_APP, workers=1, port=free_port(), env=env,
                                    log_path=data_dir / "gunicorn.log")  # fmt: skip
            try:
                server.start()
            except PerflabError as exc:
                for cell in results[config].values():
                    cell.error = str(exc)
                console.print(f"[red]{label}: {escape(str(exc))}[/]")
                continue
            servers[config] = server
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def measure_endpoint(servers, cells, path, name, args, loadgen, pinned, scratch, progress, task,
                     console, notes) -> None:  # fmt: skip
    """Warm every server up, then slices in turns; a server that fails leaves the turns."""
    live = []
    for config, server in servers.items():
        progress.update(task, description=f"{name}: warming up {CONFIGS[config][0]}")
        try:
            check(server.url + path)
            warm_up(loadgen, server.url, path, args.warmup, scratch)
        except PerflabError as exc:
            cells[config].error = str(exc)
            console.print(f"[red]{CONFIGS[config][0]} · {name}: {escape(str(exc))}[/]")
        else:
            live.append(config)
            settle(servers[config], args.settle, notes)
        progress.advance(task, args.warmup)
    cpu_before = {config: tree_cpu_seconds(servers[config].pid) for config in live}
    for turn in range(args.slices):
        progress.update(task, description=f"{name}: slice {turn + 1} of {args.slices}")
        shift = turn % max(len(live), 1)  # each configuration follows each other one in turn
        for config in live[shift:] + live[:shift]:
            server, cell = servers[config], cells[config]
            try:
                run = measure_slice(server, loadgen, path, args, scratch, pinned, notes)
            except PerflabError as exc:
                cell.error = str(exc)
                console.print(f"[red]{CONFIGS[config][0]} · {name}: {escape(str(exc))}[/]")
                live.remove(config)
                continue
            run.pair = (name, turn)  # name includes the round
            cell.runs.append(run)
            for key in ("server_cpu", "loadgen_cpu", "foreign_cpu"):
                notes[key].append(getattr(run, key))
            progress.advance(task, args.slice)
    for config in live:  # each slice ended with its server idle: nothing it caused is missed
        cells[config].cpu_seconds += tree_cpu_seconds(servers[config].pid) - cpu_before[config]


def warm_up(loadgen: LoadGenerator, url: str, path: str, seconds: float, scratch: Path) -> None:
    """Load without measuring; a short Locust run may end before its first request, which is
    fine (the measured run reports real failures)."""
    if seconds:
        with contextlib.suppress(PerflabError):
            loadgen.run(url, path, seconds, scratch)


def measure_slice(server, loadgen, path: str, args, scratch: Path, pinned: bool, notes) -> Run:
    """One slice, with the CPU the server, the load generator and others used, and the CPU the
    server needed after it (``Run.after_cpu``) until it was idle again."""
    cpus = {SERVER_CPU} if pinned else None  # pinned: the servers' core only
    busy_before = busy_cpu_seconds(cpus)
    server_before, wall_before = tree_cpu_seconds(server.pid), time.monotonic()
    run = loadgen.run(server.url, path, args.slice, scratch)
    wall = time.monotonic() - wall_before
    server_after = tree_cpu_seconds(server.pid)
    foreign = busy_cpu_seconds(cpus) - busy_before - (server_after - server_before)
    if not pinned:
        foreign -= run.loadgen_cpu * args.slice
    run.server_cpu = (server_after - server_before) / wall
    run.foreign_cpu = max(foreign, 0.0) / wall
    run.after_cpu = settle(server, args.settle, notes) - server_after
    return run


def settle(server, quiet_s: float, notes: dict) -> float:
    """Wait until ``server`` has used no CPU for ``quiet_s`` (bounded); its CPU seconds then."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    last = tree_cpu_seconds(server.pid)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
        now = tree_cpu_seconds(server.pid)
        if now - last >= QUIET_CPU_S:
            quiet_since = time.monotonic()
        last = now
    if time.monotonic() >= deadline:
        notes["unsettled"].append(server.url)
    return last


def first_post_id(url: str) -> int:
    status, body = get_json(url + "/api/posts/")
    if status != 200 or not body.get("results"):
        raise PerflabError(f"/api/posts/ answered {status} with no posts")
    return body["results"][0]["id"]


def check(url: str) -> None:
    """The endpoint answers 200 before it is loaded (a 404 or 500 would make req/s meaningless)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            if response.status != 200:
                raise PerflabError(f"{url} answered {response.status}")
    except OSError as exc:
        raise PerflabError(f"{url} failed: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
