"""The probe's cost per request, measured in one process: no server, no separate processes.

Throughput ratios compare separately started servers, and a process's speed varies by
±1-2 % from one start to the next (memory layout), more than the probe's remaining cost.
Here one interpreter serves the same request through two Django handlers, one with the
probe's middleware and one without, alternating at random request by request; the median
wall time of each gives the request path's cost with a spread of a microsecond or two.
The app's own work between two probe calls stays in place, so the figure includes what
a tight loop would not show: the probe's code and data fetched again into the CPU caches
on every request. The writer thread's CPU per record is timed apart, over batches of 200
(about what it takes per flush at 400 requests/s).

    .venv/bin/python benchmarks/probe_request_cost.py [--requests 4000] [--endpoints detail]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

import in_process
from in_process import run_child, seeded_scratch
from machine import SERVER_CPU, can_pin
from overhead_table import ENDPOINTS
from probe_overhead import restore
from rich.console import Console
from rich.table import Table

WARMUP_REQUESTS = 300
BATCH = 200  # requests per writer batch (0.5 s at 400 requests/s)


def child(path: str, requests: int) -> dict:
    """In the child: median µs per request with and without the probe, and writer µs/record."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory
    from django.test.utils import override_settings

    if can_pin():  # as the servers of probe_overhead.py: one core, no migrations
        os.sched_setaffinity(0, {SERVER_CPU})
    django.setup()
    from perflab.demo.models import Post
    from perflab.probe.probe import forget_probe, get_probe

    settings.PERFLAB = {**settings.PERFLAB, "FLUSH_INTERVAL_S": 3600}  # flushed below
    forget_probe()
    path = path.format(id=Post.objects.values_list("id", flat=True).first())
    with_probe = WSGIHandler()
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if "perflab" not in m]):
        without = WSGIHandler()
    environ = RequestFactory().get(path, HTTP_HOST="127.0.0.1").environ

    def serve(handler) -> float:
        start = time.perf_counter()
        b"".join(handler(dict(environ), lambda status, headers: None))
        return time.perf_counter() - start

    writer = get_probe().writer
    for _ in range(WARMUP_REQUESTS):
        serve(with_probe), serve(without)
    writer.flush()
    times: dict[str, list[float]] = {"on": [], "off": []}
    writer_cpu, written = 0.0, 0
    for n in range(requests):
        pair = [("on", with_probe), ("off", without)]
        random.shuffle(pair)
        for name, handler in pair:
            times[name].append(serve(handler))
        if (n + 1) % BATCH == 0:  # the writer's batch, timed on its own (thread CPU)
            before = time.thread_time()
            writer.flush()
            writer_cpu += time.thread_time() - before
            written += BATCH
    return {
        "off_us": statistics.median(times["off"]) * 1e6,
        "on_us": statistics.median(times["on"]) * 1e6,
        "writer_us": writer_cpu / max(written, 1) * 1e6,
    }


def measure(args) -> None:
    console = Console()
    table = Table(title=f"The probe's cost per request, in one process ({args.requests:,} "
                        "requests each way, interleaved at random)")  # fmt: skip
    columns = ("endpoint", "no probe µs", "probe µs", "request path +µs", "writer µs/record",
               "total +µs", "as a throughput ratio")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    with seeded_scratch(console, args.posts) as (scratch, pristine):
        for name in args.endpoints:
            label, template = ENDPOINTS[name]
            db = scratch / f"{name}.sqlite3"
            restore(pristine, db)
            with console.status(f"{label}: {args.requests:,} requests each way"):
                result = run_child(__file__, "on", template, args.requests, db, scratch)
            added = result["on_us"] - result["off_us"]
            total = added + result["writer_us"]
            table.add_row(
                label, f"{result['off_us']:,.0f}", f"{result['on_us']:,.0f}", f"{added:+.1f}",
                f"{result['writer_us']:.1f}", f"{total:+.1f}",
                f"{result['off_us'] / (result['off_us'] + total):.3f}×",  # noqa: RUF001
            )  # fmt: skip
    console.print(table)
    console.print(
        "Medians of wall time per request (pinned to one core); the writer's CPU is its "
        "thread's, per record. Not included: the collector's full collections "
        "(benchmarks/probe_gc.py) and what differs between separately started processes."
    )


if __name__ == "__main__":
    sys.exit(in_process.main(__doc__, child, measure, requests=4000, endpoints="detail,list,naive"))
