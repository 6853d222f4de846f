"""Dashboard scale (issue 19): every /perf/ page's server time over a store of 1,000,000 requests.

    .venv/bin/python benchmarks/dashboard_scale.py [--requests 1000000] [--repeat 20]
        [--reader] [--only TEXT] [--rebuild] [--markdown]

Method. ``synthetic_store`` writes 7 days of a Django + DRF + Wagtail site's traffic through
the probe's own writer side (``SqlRecorder.complete``, ``StoreBatches.write``), once: the file
is kept under ``benchmarks/.cache/``, keyed by the parameters and the store's writer side,
and brought up to now on reuse (the hours since it was built are added the same way). Then,
in this process, Django's test client loads each page ``--repeat`` times as a logged-in staff
user (``dashboard_settings``: DEBUG off, the probe's middleware on): the first load is
reported apart (cold), the p50 and p95 are of the others (warm), with this process's CPU time
beside them and the share of the CPUs other processes took meanwhile (the machine may be
shared). A page passes when its warm p95 is under the target. ``--reader`` times the store's
reader methods the pages call, directly, instead of the pages. Exit 1 when a page misses the
target or answers with an unexpected status.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthetic_store  # noqa: E402

TARGET_S = 0.3
RANGES = ("5m", "15m", "1h", "6h", "24h", "7d")
RANGE_MINUTES = {"5m": 5, "15m": 15, "1h": 60, "6h": 360, "24h": 1440, "7d": 10080}
CATCH_ALL = ("GET", "wagtail_serve")
PAGE_BUDGET_S = 120.0  # one page's loads stop after this long, however many are left


@dataclass
class Timing:
    """One page's (or reader call's) loads: the first apart, the rest as warm samples."""

    name: str
    target: str  # the URL, or the call
    cold: float | None = None
    warm: list[float] = field(default_factory=list)
    # This process's CPU seconds of each warm load: the wall time less any wait for the CPU
    # (the machine is shared) or the disk
    warm_cpu: list[float] = field(default_factory=list)
    error: str = ""
    size: int | None = None  # bytes of the page's last answer (an empty page is fast too)

    @property
    def p50(self) -> float | None:
        return _percentile(self.warm, 50)

    @property
    def p95(self) -> float | None:
        return _percentile(self.warm, 95)

    @property
    def cpu_p50(self) -> float | None:
        return _percentile(self.warm_cpu, 50)

    def passed(self, target_s: float) -> bool:
        return not self.error and self.p95 is not None and self.p95 < target_s


def _percentile(values: list[float], pct: float) -> float | None:
    """Nearest rank: the smallest sample at least ``pct`` % of the samples do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def time_loads(name: str, target: str, load: Callable[[], str], repeat: int,
               budget_s: float = PAGE_BUDGET_S) -> Timing:  # fmt: skip
    """``load`` ``repeat`` times (fewer when ``budget_s`` runs out); it returns "" when the
    answer is the expected one, else what was wrong (which ends the loads)."""
    timing = Timing(name, target)
    started = time.perf_counter()
    for n in range(repeat):
        t0, cpu0 = time.perf_counter(), time.process_time()
        try:
            problem = load()
        except Exception as exc:  # a page that raises: reported in the table, not a traceback
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if problem:
            timing.error = problem
            return timing
        if n == 0:
            timing.cold = elapsed
        else:
            timing.warm.append(elapsed)
            timing.warm_cpu.append(cpu)
        if time.perf_counter() - started > budget_s:
            break
    return timing


# -- what to load ------------------------------------------------------------------------------


@dataclass
class Targets:
    """The store's rows the pages are loaded for: picked from the store once it is built."""

    busiest: tuple[str, str]
    request_row: int
    request_id: str
    profiled_row: int | None
    fingerprint: str
    run_id: str | None


def pick_targets(path: Path) -> Targets:
    from perflab.probe.store import StoreReader
    from perflab.probe.store.reader import Window

    reader = StoreReader.at_path(path, read_only=True)
    week = Window.last_minutes(RANGE_MINUTES["7d"])
    busiest = max(reader.routes(week), key=lambda r: r["count"])
    # The request page's worst case: the naive N+1 endpoint's newest request (41 statements,
    # findings), and a profiled request.
    (request,) = reader.requests(week, route="api/authors/naive/", limit=1)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = db.execute(
            "SELECT id FROM perflab_request WHERE profiled = 1 ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    fingerprint = reader.sql(week, limit=1)[0]["fingerprint_hash"]
    runs = reader.runs()
    reader.database.close()
    return Targets(
        busiest=(busiest["method"], busiest["route"]),
        request_row=request["id"],
        request_id=request["request_id"],
        profiled_row=found[0] if found else None,
        fingerprint=fingerprint,
        run_id=runs[0]["run_id"] if runs else None,
    )


def page_urls(t: Targets) -> list[tuple[str, str, int]]:
    """(name, URL, expected status) of every page timed."""

    def q(**params) -> str:
        return "?" + urlencode(params)

    method, route = t.busiest
    pages = [(f"overview {r}", "/perf/" + q(range=r), 200) for r in RANGES]
    if t.run_id:
        pages.append(("overview of a run", "/perf/" + q(run=t.run_id), 200))
    for label, (m, name) in (("busiest", (method, route)), ("catch-all", CATCH_ALL)):
        for r in ("1h", "7d"):
            pages.append((f"route {label} {r}", "/perf/route/" + q(method=m, route=name, range=r),
                          200))  # fmt: skip
    pages += [
        ("request", f"/perf/requests/{t.request_row}/", 200),
        ("SQL 1h", "/perf/sql/" + q(range="1h"), 200),
        ("SQL 7d", "/perf/sql/" + q(range="7d"), 200),
        ("fingerprint 7d", f"/perf/sql/{t.fingerprint}/" + q(range="7d"), 200),
        ("runs", "/perf/runs/", 200),
        ("search: request id", "/perf/search/" + q(q=t.request_id), 302),
        ("search: path prefix", "/perf/search/" + q(q="/blog/"), 200),
        ("search: path prefix 7d", "/perf/search/" + q(q="/blog/", range="7d"), 200),
        ("search: status", "/perf/search/" + q(q="500"), 200),
        ("search: status 7d", "/perf/search/" + q(q="500", range="7d"), 200),
        ("API routes 7d", "/perf/api/routes/" + q(minutes=10080), 200),
        ("API sql", "/perf/api/sql/", 200),
    ]
    if t.profiled_row:
        pages.insert(pages.index(("request", f"/perf/requests/{t.request_row}/", 200)) + 1,
                     ("profile", f"/perf/requests/{t.profiled_row}/profile/", 200))  # fmt: skip
    return pages


def time_pages(path: Path, targets: Targets, repeat: int, progress, only: str = "") -> list[Timing]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard_settings"
    os.environ["PERFLAB_BENCH_STORE"] = str(path)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("bench", is_staff=True)
    client = Client()
    client.force_login(user)
    timings = []
    for name, url, expected in page_urls(targets):
        if only not in name:
            continue

        sizes: list[int] = []

        def load(url=url, expected=expected, sizes=sizes) -> str:
            response = client.get(url)
            if response.status_code != expected:
                return f"HTTP {response.status_code} (expected {expected})"
            sizes.append(len(response.content))
            return ""

        timings.append(time_loads(name, url, load, repeat))
        timings[-1].size = sizes[-1] if sizes else None
        progress(timings[-1])
    return timings


def time_reader(
    path: Path, targets: Targets, repeat: int, progress, only: str = ""
) -> list[Timing]:
    """The reader calls the pages make, timed directly: a page's reads apart from its
    rendering."""
    from perflab.probe.store import StoreReader
    from perflab.probe.store.reader import Window

    reader = StoreReader.at_path(path, read_only=True)
    method, route = targets.busiest

    def window(r: str) -> Window:
        return Window.last_minutes(RANGE_MINUTES[r])

    calls: list[tuple[str, str, Callable]] = []
    for r in RANGES:
        calls.append((f"routes {r}", f"routes(last {r})", lambda r=r: reader.routes(window(r))))
    for r in ("1h", "7d"):
        calls += [
            (f"timeline {r}", f"timeline(last {r})", lambda r=r: reader.timeline(window(r))),
            (f"timeline busiest {r}", f"timeline(last {r}, route={route})",
             lambda r=r: reader.timeline(window(r), method=method, route=route)),
            (f"query_counts busiest {r}", f"query_counts(last {r}, route={route})",
             lambda r=r: reader.query_counts(window(r), method=method, route=route)),
            (f"findings {r}", f"findings(last {r})", lambda r=r: reader.findings(window(r))),
            (f"findings busiest {r}", f"findings(last {r}, route={route})",
             lambda r=r: reader.findings(window(r), route=route)),
            (f"slowest busiest {r}", f"requests(last {r}, route={route}, order=slowest)",
             lambda r=r: reader.requests(window(r), route=route, method=method,
                                         order="slowest", limit=20)),
            (f"sql {r}", f"sql(last {r})", lambda r=r: reader.sql(window(r))),
        ]  # fmt: skip
    calls += [
        ("request", f"request({targets.request_row})",
         lambda: reader.request(targets.request_row)),
        ("request by id", "request(request_id=…)",
         lambda: reader.request(request_id=targets.request_id)),
        ("status 500 7d", "requests(last 7d, status=500)",
         lambda: reader.requests(window("7d"), status=500)),
        ("request_count 7d", "request_count(last 7d)",
         lambda: reader.request_count(window("7d"))),
        ("counters", "counters()", reader.counters),
        ("sql_routes 7d", "sql_routes(last 7d, top fingerprint)",
         lambda: reader.sql_routes(window("7d"), targets.fingerprint)),
        ("runs", "runs()", reader.runs),
        ("path prefix 7d", "requests(last 7d, path_prefix='/blog/')",
         lambda: reader.requests(window("7d"), path_prefix="/blog/")),
    ]  # fmt: skip
    if targets.profiled_row:
        calls.append(("profile", f"profile({targets.profiled_row})",
                      lambda: reader.profile(targets.profiled_row)))  # fmt: skip
    timings = []
    for name, target, call in calls:
        if only not in name:
            continue
        timings.append(time_loads(name, target, lambda call=call: call() and "", repeat))
        progress(timings[-1])
    return timings


# -- the report --------------------------------------------------------------------------------


def machine_line(path: Path, others_share: float) -> str:
    """The machine, the store's size, and how busy other processes kept the CPUs while the
    pages were timed (``others_share``: their CPU seconds over wall time times CPUs)."""
    from machine import cpu_model

    size_gb = (
        sum(
            Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
        )
        / 1e9
    )
    return (
        f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; store {size_gb:.2f} GB; other processes used "
        f"{others_share:.0%} of the CPUs meanwhile"
    )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _kb(size: int | None) -> str:
    return "" if size is None else f"{size / 1000:.0f}"


def markdown_table(timings: list[Timing], target_s: float, what: str) -> str:
    lines = [f"| {what} | kB | cold s | p50 s | p95 s | CPU p50 s | target s | |",
             "|---|--:|--:|--:|--:|--:|--:|---|"]  # fmt: skip
    for t in timings:
        verdict = t.error or ("pass" if t.passed(target_s) else "MISS")
        lines.append(f"| {t.name} | {_kb(t.size)} | {_s(t.cold)} | {_s(t.p50)} | {_s(t.p95)} | "
                     f"{_s(t.cpu_p50)} | {target_s} | {verdict} |")  # fmt: skip
    return "\n".join(lines)


def rich_table(timings: list[Timing], target_s: float, what: str, title: str):
    from rich.table import Table

    table = Table(title=title)
    for name, justify in ((what, "left"), ("kB", "right"), ("cold s", "right"), ("p50 s", "right"),
                          ("p95 s", "right"), ("CPU p50 s", "right"), ("target s", "right"),
                          ("", "left")):  # fmt: skip
        table.add_column(name, justify=justify)
    for t in timings:
        verdict = (
            f"[red]{t.error}[/]" if t.error
            else "[green]pass[/]" if t.passed(target_s) else "[red]MISS[/]"
        )  # fmt: skip
        table.add_row(t.name, _kb(t.size), _s(t.cold), _s(t.p50), _s(t.p95), _s(t.cpu_p50),
                      str(target_s), verdict)  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="loads per page (first: cold)")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--profile-percent", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--target", type=float, default=TARGET_S, help="seconds, warm p95")
    parser.add_argument("--reader", action="store_true",
                        help="time the store's reader methods, not the pages")  # fmt: skip
    parser.add_argument("--only", default="", help="time only the pages whose name holds this")
    parser.add_argument("--rebuild", action="store_true", help="build the store afresh")
    parser.add_argument("--markdown", action="store_true", help="the table as Markdown too")
    parser.add_argument("--cache-dir", type=Path, default=synthetic_store.CACHE_DIR,
                        help="where built stores are kept")  # fmt: skip
    args = parser.parse_args(argv)
    if args.requests < 1000 or args.repeat < 2 or args.days <= 0:
        parser.error("--requests must be at least 1000, --repeat at least 2, --days above 0")

    from rich.console import Console

    console = Console()
    if args.rebuild:
        for stale in args.cache_dir.glob(f"dashboard-{args.requests}-*"):
            stale.unlink()

    def building(report, at: float) -> None:
        hour = int(at // 3600)
        if hour % 12 == 0:
            console.print(f"  built to {time.strftime('%a %H:%M', time.gmtime(at))} UTC: "
                          f"{report.requests:,} requests", highlight=False)  # fmt: skip

    t0 = time.perf_counter()
    report = synthetic_store.build_or_reuse(
        args.requests,
        args.days,
        args.seed,
        args.profile_percent,
        args.cache_dir,
        progress=building,
    )
    if report.reused:
        console.print(f"store reused: {report.path} (built in {report.seconds:.0f} s; "
                      f"{report.extended:,} requests added for the time since, "
                      f"{report.extend_seconds:.1f} s)")  # fmt: skip
    else:
        console.print(f"store built in {report.seconds:.1f} s: {report.path}")
    console.print(
        f"{report.requests:,} requests, {report.statements:,} statements, "
        f"{report.findings:,} findings, {report.profiled:,} profiled, {report.runs} runs "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    targets = pick_targets(report.path)
    what = "reader call" if args.reader else "page"

    def progress(t: Timing) -> None:
        console.print(f"  {t.name}: cold {_s(t.cold)} s, p50 {_s(t.p50)} s, p95 {_s(t.p95)} s "
                      f"{t.error}", highlight=False)  # fmt: skip

    from machine import busy_cpu_seconds

    timer = time_reader if args.reader else time_pages
    wall0, busy0, own0 = time.perf_counter(), busy_cpu_seconds(None), time.process_time()
    timings = timer(report.path, targets, args.repeat, progress, args.only)
    others = busy_cpu_seconds(None) - busy0 - (time.process_time() - own0)
    others_share = max(others, 0.0) / ((time.perf_counter() - wall0) * (os.cpu_count() or 1))
    title = (f"{what} server time, {report.requests:,} requests over {args.days:g} days; "
             f"{args.repeat} loads each (first: cold), p50/p95 of the rest")  # fmt: skip
    console.print(rich_table(timings, args.target, what, title))
    console.print(machine_line(report.path, others_share), highlight=False)
    if args.markdown:
        print(markdown_table(timings, args.target, what))
    missed = [t.name for t in timings if not t.passed(args.target)]
    if missed:
        console.print(f"[red]over the {args.target} s target or failed:[/] {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
