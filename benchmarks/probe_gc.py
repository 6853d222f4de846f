"""What the probe does to the app's garbage collections: collections counted, not timed.

Throughput ratios on a shared 2-core VM cannot resolve 10-20 µs per request (the A/A
check moves by ±1 %), but how often the collector runs is deterministic for a given
request sequence: a record kept alive for the writer that reaches the oldest generation
brings the app's full collections forward, whatever the machine's speed that minute.

Each configuration runs in a fresh interpreter (Django's WSGI handler called in-process,
the probe's real writer thread and store), serves the same endpoint N times after a
warm-up, and reports collections per generation (``gc.callbacks``) and their time.

    .venv/bin/python benchmarks/probe_gc.py [--requests 8000] [--endpoints detail,list]
"""

from __future__ import annotations

import sys
import time

import in_process
from in_process import run_child, seeded_scratch
from overhead_table import ENDPOINTS
from probe_overhead import restore
from rich.console import Console
from rich.table import Table

CONFIGS = {"off": "no probe", "on": "probe (default)"}
WARMUP_REQUESTS = 300


def child(path: str, requests: int) -> dict:
    """In the child: serve ``path`` (``{id}``: an existing post) ``requests`` times,
    counting collections."""
    import gc

    import django
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    django.setup()
    from perflab.demo.models import Post

    path = path.format(id=Post.objects.values_list("id", flat=True).first())
    handler = WSGIHandler()
    environ = RequestFactory().get(path, HTTP_HOST="127.0.0.1").environ

    def serve(n: int) -> None:
        for _ in range(n):
            b"".join(handler(dict(environ), lambda status, headers: None))

    serve(WARMUP_REQUESTS)
    counts, seconds, started = [0, 0, 0], [0.0, 0.0, 0.0], [0.0, 0]

    def on_collection(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), info["generation"]
        else:
            counts[started[1]] += 1
            seconds[started[1]] += time.perf_counter() - started[0]

    gc.callbacks.append(on_collection)
    begin = time.perf_counter()
    serve(requests)
    elapsed = time.perf_counter() - begin
    gc.callbacks.remove(on_collection)
    return {"counts": counts, "seconds": seconds, "elapsed": elapsed}


def measure(args) -> None:
    console = Console()
    table = Table(title=f"Garbage collections while serving {args.requests:,} requests "
                        "(in-process, one interpreter per run)")  # fmt: skip
    for column in ("endpoint", "configuration", "young", "middle", "full",
                   "ms per middle", "ms per full", "GC µs per request"):  # fmt: skip
        left = column in ("endpoint", "configuration")
        table.add_column(column, justify="left" if left else "right")
    with seeded_scratch(console, args.posts) as (scratch, pristine):
        for name in args.endpoints:
            label, template = ENDPOINTS[name]
            for config, config_label in CONFIGS.items():
                db = scratch / f"{name}-{config}.sqlite3"
                restore(pristine, db)
                with console.status(f"{label}: {config_label}, {args.requests:,} requests"):
                    result = run_child(__file__, config, template, args.requests, db, scratch)
                counts, seconds = result["counts"], result["seconds"]
                table.add_row(
                    label, config_label, *(f"{c:,}" for c in counts),
                    f"{seconds[1] / max(counts[1], 1) * 1000:.2f}",
                    f"{seconds[2] / max(counts[2], 1) * 1000:.1f}",
                    f"{sum(seconds) / args.requests * 1e6:.0f}",
                )  # fmt: skip
    console.print(table)
    console.print("Counts are deterministic for one code version; times vary with the machine.")


if __name__ == "__main__":
    sys.exit(in_process.main(__doc__, child, measure, requests=8000, endpoints="detail,list"))
