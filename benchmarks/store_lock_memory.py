"""A served worker's memory and garbage collector while another process holds the probe store's
lock: the probe as it is (``current``) and as another checkout has it (``base``), in one run.

    .venv/bin/python benchmarks/store_lock_memory.py [--base-src /tmp/base/src] [--repeat 2]
        [--before 10] [--lock 20] [--after 10] [--rate 50] [--threads 4]
        [--endpoint list|detail|naive] [--markdown]

Why. A writer that keeps the app's collector disabled while it waits for the store (the
lock another process holds, a commit) lets the app's cyclic garbage pile up for as long as
the wait lasts: the worker's memory grows with the lock's length. The probe pauses the
collector around the writer's own work only (``collector_paused``); this measures two
checkouts under the same lock.

Method. The reference app is seeded once through the real CLI (``perflab seed``, as
``probe_overhead.py`` does); each server gets a fresh copy of the database and its own
``PERFLAB_DATA_DIR`` (so its own probe store), under a real gunicorn with one sync worker
and the probe on. ``base`` imports the app and probe from ``--base-src`` (``PYTHONPATH``
ahead, as ``probe_overhead.py --base-src`` does; e.g. a ``git worktree add /tmp/base
COMMIT``), ``current`` from this checkout's ``src/``. Both load the settings
``collector_watch_settings`` (the reference app's, plus a thread in the worker that samples
``gc.isenabled()`` every 10 ms and counts collections: ``collector_watch.py``).

Per server: ``--threads`` threads send GETs to the endpoint at ``--rate`` requests per
second in total (loopback only; bounded by time and count): a warm-up, ``--before`` seconds,
then ``--lock`` seconds while this script holds the store's lock (``BEGIN EXCLUSIVE`` on a
connection of its own), then ``--after`` seconds once it is released. The worker's RSS is
sampled every 0.5 s (psutil). After the load the writer gets ``--drain`` seconds to catch
up (its retry backoff reaches 5 s), then gunicorn is stopped gracefully (the probe flushes
at exit) and the store is read: requests recorded for the endpoint's path, and the counters
of records lost (``dropped``, ``lost_in_dead_process``), whose sum should be the requests
served. Configurations alternate within a round, the order reversed every round
(``--repeat``). gunicorn is always stopped; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from overhead_table import ENDPOINTS
from probe_overhead import restore, seed
from rich.console import Console
from rich.table import Table

from perflab.datadir import STORE_FILE
from perflab.demo.project import WSGI_APP, project_environment
from perflab.errors import PerflabError
from perflab.server import GunicornServer, free_port

BENCHMARKS = Path(__file__).resolve().parent
CURRENT_SRC = BENCHMARKS.parent / "src"
SETTINGS = "collector_watch_settings"
WARMUP_S = 3.0
RSS_EVERY_S = 0.5
LOCK_WAIT_S = 10.0  # for BEGIN EXCLUSIVE while the writer commits a batch
REQUEST_TIMEOUT_S = 30.0
MIB = 2**20


@dataclass
class Phases:
    """Wall-clock times (``time.time``, which the worker's collector watch uses too)."""

    started: float = 0.0  # load started (warm-up)
    measured: float = 0.0  # warm-up over
    locked: float = 0.0  # the store's lock taken
    released: float = 0.0  # and released
    ended: float = 0.0  # load over

    def of(self, t: float) -> str | None:
        if self.measured <= t < self.locked:
            return "before"
        if self.locked <= t < self.released:
            return "lock"
        if self.released <= t < self.ended:
            return "after"
        return None


@dataclass
class Outcome:
    """One server's run."""

    config: str
    round_no: int
    rss: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes)
    phases: Phases = field(default_factory=Phases)
    served: int = 0
    failed: int = 0
    recorded: int = 0
    dropped: int = 0
    lost_in_dead_process: int = 0
    samples: dict[str, list[int]] = field(default_factory=dict)  # phase: samples, disabled, y, m, f
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)

    def rss_at(self, before: float) -> float:
        """MiB: the last sample taken before ``before``."""
        earlier = [rss for t, rss in self.rss if t < before]
        return (earlier[-1] if earlier else math.nan) / MIB

    @property
    def peak(self) -> float:
        return max((rss for _, rss in self.rss), default=math.nan) / MIB

    def disabled_share(self, phase: str) -> float:
        samples, disabled = self.samples.get(phase, [0, 0])[:2]
        return disabled / samples if samples else math.nan

    def collections(self, phase: str) -> list[int]:
        return self.samples.get(phase, [0, 0, 0, 0, 0])[2:]

    @property
    def accounted(self) -> int:
        return self.recorded + self.dropped + self.lost_in_dead_process

    def figures(self) -> dict[str, float]:
        p = self.phases
        return {
            "before": self.rss_at(p.locked),
            "lock_end": self.rss_at(p.released),
            "after": self.rss_at(p.ended),
            "peak": self.peak,
            "growth": self.rss_at(p.released) - self.rss_at(p.locked),
            "disabled_lock": self.disabled_share("lock"),
            "disabled_before": self.disabled_share("before"),
            "full_lock": self.collections("lock")[2],
            "young_lock": self.collections("lock")[0],
        }


# -- load, memory, lock -----------------------------------------------------------------------


class PacedLoad:
    """``threads`` threads GETting ``url`` at ``rate`` requests/s in total until ``until``
    (``time.time()``), at most ``limit`` requests; counts answers 2xx and the rest."""

    def __init__(self, url: str, rate: float, threads: int, until: float, limit: int) -> None:
        self.url, self.rate, self.until = url, rate, until
        self.served = self.failed = 0
        self._left = limit
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(i, threads), daemon=True)
            for i in range(threads)
        ]

    def start(self) -> PacedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT_S + 5)

    def _take(self) -> bool:
        with self._lock:
            self._left -= 1
            return self._left >= 0

    def _run(self, index: int, threads: int) -> None:
        interval = threads / self.rate
        due = time.time() + interval * index / threads
        while due < self.until and self._take():
            time.sleep(max(0.0, due - time.time()))
            try:
                with urllib.request.urlopen(self.url, timeout=REQUEST_TIMEOUT_S) as response:
                    response.read()
                    ok = 200 <= response.status < 300
            except (urllib.error.URLError, OSError):
                ok = False
            with self._lock:
                if ok:
                    self.served += 1
                else:
                    self.failed += 1
            due += interval


class RssSampler:
    """The worker's RSS every ``RSS_EVERY_S`` into ``samples``, until stopped."""

    def __init__(self, pid: int, samples: list[tuple[float, int]]) -> None:
        self._process = psutil.Process(pid)
        self._samples = samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self._samples.append((time.time(), self._process.memory_info().rss))
            if self._stop.wait(RSS_EVERY_S):
                return


@contextlib.contextmanager
def store_locked(path: Path):
    """The store's lock held by a connection of this process (as another process's would)."""
    connection = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        connection.close()


def worker_of(server: GunicornServer) -> int:
    """The pid of the server's one worker (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = psutil.Process(server.pid).children()
        if len(children) == 1:
            return children[0].pid
        time.sleep(0.1)
    raise PerflabError(f"gunicorn {server.pid} has no single worker")


# -- one server -------------------------------------------------------------------------------


def measure(config: str, round_no: int, src: Path, path: str, args, pristine: Path,
            scratch: Path) -> Outcome:  # fmt: skip
    outcome = Outcome(config, round_no)
    name = f"{config}-r{round_no}"
    db, data_dir = scratch / f"{name}.sqlite3", scratch / name
    restore(pristine, db)
    watch_log = data_dir / "collector"
    python_path = [str(src), str(BENCHMARKS), os.environ.get("PYTHONPATH", "")]
    env = {**project_environment(f"sqlite:///{db}"), "DJANGO_SETTINGS_MODULE": SETTINGS,
           "PERFLAB_PROBE": "on", "PERFLAB_SILK": "off", "PERFLAB_DATA_DIR": str(data_dir),
           "PERFLAB_BENCH_COLLECTOR_LOG": str(watch_log),
           "PYTHONPATH": os.pathsep.join(filter(None, python_path))}  # fmt: skip
    log = data_dir / "gunicorn.log"
    server = GunicornServer(WSGI_APP, workers=1, port=free_port(), env=env, log_path=log)
    server.start()
    try:
        worker = worker_of(server)
        url = server.url + path
        total = WARMUP_S + args.before + args.lock + args.after
        p = outcome.phases
        with RssSampler(worker, outcome.rss):
            p.started = time.time()
            limit = math.ceil(args.rate * (total + LOCK_WAIT_S) * 1.05)
            load = PacedLoad(url, args.rate, args.threads, p.started + total, limit).start()
            p.measured = p.started + WARMUP_S
            time.sleep(max(0.0, p.measured + args.before - time.time()))
            with store_locked(data_dir / STORE_FILE):
                p.locked = time.time()
                time.sleep(args.lock)
            p.released = time.time()
            # The load's deadline was fixed at its start: the after phase is what is left.
            time.sleep(max(0.0, p.started + total - time.time()))
            load.join()
            p.ended = time.time()
            time.sleep(args.drain)  # the writer's retry backoff reaches 5 s
        outcome.served, outcome.failed = load.served, load.failed
    finally:
        outcome.exit_code = server.stop()
    read_store(outcome, data_dir / STORE_FILE, path.split("?")[0])
    read_watch(outcome, watch_log, worker)
    text = log.read_text(errors="replace") if log.exists() else ""
    if "could not be written" in text or "Traceback" in text:
        outcome.problems.append(f"see {log}")
    return outcome


def read_store(outcome: Outcome, store: Path, path: str) -> None:
    connection = sqlite3.connect(store, timeout=LOCK_WAIT_S)
    try:
        outcome.recorded = connection.execute(
            "SELECT count(*) FROM perflab_request WHERE path = ?", [path]
        ).fetchone()[0]
        counters = dict(connection.execute("SELECT name, value FROM perflab_counter"))
    finally:
        connection.close()
    outcome.dropped = counters.get("dropped", 0)
    outcome.lost_in_dead_process = counters.get("lost_in_dead_process", 0)


def read_watch(outcome: Outcome, log: Path, worker: int) -> None:
    """Sum the collector watch's windows by phase (a window is the half second before its
    time stamp; it goes to the phase holding its middle)."""
    found = Path(f"{log}.{worker}")
    if not found.exists():
        outcome.problems.append("no collector watch file from the worker")
        return
    for line in found.read_text().splitlines():
        stamp, *counts = line.split()
        phase = outcome.phases.of(float(stamp) - 0.25)
        if phase:
            sums = outcome.samples.setdefault(phase, [0] * len(counts))
            for i, count in enumerate(counts):
                sums[i] += int(count)


# -- the run and its tables -------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, default=None,
                        help="another checkout's src/ for the base configuration")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=2, help="rounds (2)")
    parser.add_argument("--before", type=float, default=10, help="seconds before the lock (10)")
    parser.add_argument("--lock", type=float, default=20, help="seconds the lock is held (20)")
    parser.add_argument("--after", type=float, default=10, help="seconds after release (10)")
    parser.add_argument("--drain", type=float, default=6, help="seconds for the writer (6)")
    parser.add_argument("--rate", type=float, default=50, help="requests/s in total (50)")
    parser.add_argument("--threads", type=int, default=4, help="load threads (4)")
    parser.add_argument("--endpoint", choices=list(ENDPOINTS), default="list")
    parser.add_argument("--posts", type=int, default=10_000, help="posts to seed (10000)")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    args = parser.parse_args()
    if args.base_src and not (args.base_src / "perflab").is_dir():
        parser.error("--base-src must be a folder holding perflab/")
    if min(args.before, args.lock, args.after, args.drain) < 0 or args.repeat < 1:
        parser.error("durations must be ≥ 0 and --repeat ≥ 1")
    if args.rate <= 0 or args.threads < 1:
        parser.error("--rate must be > 0 and --threads ≥ 1")
    for inherited in ("REDIS_URL", "PERFLAB_DEV_TOOLBAR", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(inherited, None)
    sources = {"current": CURRENT_SRC}
    if args.base_src:
        sources = {"base": args.base_src.resolve(), **sources}
    console = Console()
    console.print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    scratch = Path(tempfile.mkdtemp(prefix="perflab-store-lock-"))
    outcomes: list[Outcome] = []
    try:
        pristine = scratch / "seed.sqlite3"
        with console.status(f"seeding {args.posts:,} posts (perflab seed) …"):
            seed(pristine, args.posts, scratch / "seed-data")
        path = ENDPOINTS[args.endpoint][1].format(id=newest_post(pristine))
        for round_no in range(1, args.repeat + 1):
            order = list(sources) if round_no % 2 else list(reversed(sources))
            for config in order:
                with console.status(f"round {round_no}: {config} ({args.endpoint}) …"):
                    outcome = measure(config, round_no, sources[config], path, args, pristine,
                                      scratch)  # fmt: skip
                outcomes.append(outcome)
                console.print(line(outcome))
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_tables(console, outcomes, args, path)
    return 1 if any(o.problems or o.failed for o in outcomes) else 0


def newest_post(db: Path) -> int:
    """The detail endpoint's post: the first of the listing (newest first), as
    ``probe_overhead.py`` takes it."""
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT id FROM blog_post ORDER BY created DESC, id DESC "
                                  "LIMIT 1").fetchone()[0]  # fmt: skip
    finally:
        connection.close()


def line(o: Outcome) -> str:
    f = o.figures()
    return (
        f"  round {o.round_no} {o.config}: RSS {f['before']:.1f} → {f['lock_end']:.1f} MiB at "
        f"the lock's end ({f['growth']:+.1f}), {f['after']:.1f} after; collector disabled "
        f"{f['disabled_lock']:.0%} of the lock; served {o.served:,}, recorded {o.recorded:,} + "
        f"lost {o.dropped + o.lost_in_dead_process:,}"
        + (f"; failed {o.failed}" if o.failed else "")
        + (f" [red]{'; '.join(o.problems)}[/]" if o.problems else "")
    )


MEMORY_COLUMNS = (
    "config", "round", "RSS before", "end of lock", "growth", "after", "peak",
    "GC off: lock", "GC off: before", "GCs in lock (gen 0/1/2)",
)  # fmt: skip
RECORD_COLUMNS = (
    "config", "round", "served", "failed", "recorded", "dropped", "lost_in_dead_process",
    "recorded + lost = served",
)  # fmt: skip
SUMMARY_COLUMNS = ("config", "runs", "RSS before", "end of lock", "growth (range)", "after",
                   "GC off: lock (range)", "full GCs in lock")  # fmt: skip


def memory_rows(outcomes: list[Outcome]) -> list[list[str]]:
    result = []
    for o in outcomes:
        f = o.figures()
        result.append([
            o.config, str(o.round_no), f"{f['before']:.1f}", f"{f['lock_end']:.1f}",
            f"{f['growth']:+.1f}", f"{f['after']:.1f}", f"{f['peak']:.1f}",
            f"{f['disabled_lock']:.1%}", f"{f['disabled_before']:.1%}",
            "/".join(map(str, o.collections("lock"))),
        ])  # fmt: skip
    return result


def record_rows(outcomes: list[Outcome]) -> list[list[str]]:
    result = []
    for o in outcomes:
        result.append([
            o.config, str(o.round_no), f"{o.served:,}", f"{o.failed:,}", f"{o.recorded:,}",
            f"{o.dropped:,}", f"{o.lost_in_dead_process:,}",
            "yes" if o.accounted == o.served else f"no ({o.accounted - o.served:+,})",
        ])  # fmt: skip
    return result


def summary_rows(outcomes: list[Outcome]) -> list[list[str]]:
    result = []
    for config in dict.fromkeys(o.config for o in outcomes):
        mine = [o.figures() for o in outcomes if o.config == config]

        def med(key: str, mine=mine) -> float:
            return statistics.median(f[key] for f in mine)

        def spread(key: str, form: str, mine=mine) -> str:
            low, high = min(f[key] for f in mine), max(f[key] for f in mine)
            return f" ({low:{form}} to {high:{form}})" if len(mine) > 1 else ""

        result.append([
            config, str(len(mine)), f"{med('before'):.1f}", f"{med('lock_end'):.1f}",
            f"{med('growth'):+.1f}{spread('growth', '+.1f')}", f"{med('after'):.1f}",
            f"{med('disabled_lock'):.1%}{spread('disabled_lock', '.1%')}",
            f"{med('full_lock'):.0f}",
        ])  # fmt: skip
    return result


def print_tables(console: Console, outcomes: list[Outcome], args, path: str) -> None:
    load = (f"one sync worker, GET {path} at {args.rate:g}/s ({args.threads} threads): "
            f"{args.before:g} s, store locked {args.lock:g} s, {args.after:g} s")  # fmt: skip
    for heading, columns, body in (
        (f"Worker RSS (MiB) and collector, {load}", MEMORY_COLUMNS, memory_rows(outcomes)),
        ("Requests and records", RECORD_COLUMNS, record_rows(outcomes)),
        ("Medians per configuration (MiB)", SUMMARY_COLUMNS, summary_rows(outcomes)),
    ):
        table = Table(title=heading)
        for column in columns:
            table.add_column(column, justify="left" if column == "config" else "right")
        for row in body:
            table.add_row(*row)
        console.print(table)
        if args.markdown:
            print(f"| {' | '.join(columns)} |")
            print("|---" + "|---:" * (len(columns) - 1) + "|")
            for row in body:
                print(f"| {' | '.join(row)} |")
            print()
    console.print(
        "RSS: the worker's, the last 0.5-s sample before the lock was taken, before it was "
        "released and before the load ended. GC off: the share of 10-ms samples of "
        "gc.isenabled() in the worker that found the collector disabled. Recorded: the "
        "store's rows for the path after a graceful stop; lost: its counters dropped and "
        "lost_in_dead_process."
    )


if __name__ == "__main__":
    sys.exit(main())
