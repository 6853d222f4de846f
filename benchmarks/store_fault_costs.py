"""What the store-fault safeguards cost per record, timed where they run: the ledger's write
on the request path, and the writer's batch with a rollback journal.

``probe_request_cost.py`` gives the request path's added µs and the writer's CPU per record,
base against current; between two checkouts other request-path code moves too, and its
run-to-run spread is several µs, so a write of ~1 µs cannot be read from the
difference. Here the same in-process harness runs (``probe_request_cost.child``:
Django's handler with and without the probe, interleaved at random), with two timers added:

- ``Ledger.took`` (current code only) wrapped in ``perf_counter``: the time of the call that
  writes the counter, in place, with the app's work evicting it from the caches between
  requests (the wrapper's own call layer is not inside the timed span). The configuration
  ``unwritten`` (current code) times, in its place, the same call with the counter packed
  but not written: the floor of this timing, so the difference is the write itself;
- ``BackgroundWriter.flush`` (both): wall and thread CPU time per record written. A rollback
  journal (``journal_mode=TRUNCATE``, ``synchronous=NORMAL``) syncs the journal and the file
  at every commit; WAL with ``synchronous=NORMAL`` syncs only at checkpoints. The writer
  waits for the disk with the GIL released: wall time the app does not pay in CPU.

    .venv/bin/python benchmarks/store_fault_costs.py [--base-src /tmp/base/src] [--repeat 3]
        [--requests 2000] [--endpoints detail]

Configurations alternate, the order reversed every round; each run is a fresh interpreter on
its own copy of the seeded database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import in_process
from in_process import run_child, seeded_scratch
from overhead_table import ENDPOINTS
from probe_overhead import restore
from rich.console import Console
from rich.table import Table

CURRENT_SRC = Path(__file__).resolve().parent.parent / "src"
UNWRITTEN = "PERFLAB_BENCH_LEDGER_UNWRITTEN"


def child(path: str, requests: int) -> dict:
    """In the child: ``probe_request_cost.child`` with the ledger and the flushes timed."""
    import probe_request_cost

    from perflab.probe.writer import BackgroundWriter

    took_s: list[float] = []  # per call: a median, since a call preempted is not the call's cost
    timed = {"flush_wall_s": 0.0, "flush_cpu_s": 0.0}
    try:
        from perflab.probe.ledger import _COUNT, Ledger
    except ImportError:  # a --base-src checkout without a ledger
        Ledger = None
    if Ledger is not None:
        took = Ledger.took
        if os.environ.get(UNWRITTEN):

            def took(self, taken: int) -> None:  # the counter made, not written
                if self._fd is not None:
                    _COUNT.pack(taken)

        def timed_took(self, taken: int) -> None:
            start = time.perf_counter()
            took(self, taken)
            took_s.append(time.perf_counter() - start)

        Ledger.took = timed_took
    flush = BackgroundWriter.flush

    def timed_flush(self, timeout: float = 5.0) -> bool:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return flush(self, timeout)
        finally:
            timed["flush_wall_s"] += time.perf_counter() - wall
            timed["flush_cpu_s"] += time.thread_time() - cpu

    BackgroundWriter.flush = timed_flush
    result = probe_request_cost.child(path, requests)
    from perflab.probe.probe import get_probe

    written = get_probe().writer.stats.written
    result.update(
        took_us=statistics.median(took_s) * 1e6 if took_s else None,
        took_mean_us=statistics.fmean(took_s) * 1e6 if took_s else None,
        flush_wall_us=timed["flush_wall_s"] / max(written, 1) * 1e6,
        flush_cpu_us=timed["flush_cpu_s"] / max(written, 1) * 1e6,
        written=written,
    )
    return result


def checkout_src(value: str) -> Path:
    """An argparse ``type``: another checkout's ``src/`` (a folder holding perflab/)."""
    path = Path(value)
    if not (path / "perflab").is_dir():
        raise argparse.ArgumentTypeError("must be a folder holding perflab/")
    return path


def more_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-src", type=checkout_src, default=None,
                        help="another checkout's src/")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3)")


def measure(args) -> None:
    endpoints = args.endpoints
    sources = {"current": CURRENT_SRC, "unwritten": CURRENT_SRC}
    if args.base_src:
        sources = {"base": args.base_src.resolve(), **sources}
    console = Console()
    runs: dict[tuple[str, str], list[dict]] = {}
    with seeded_scratch(console, args.posts) as (scratch, pristine):
        for round_no in range(1, args.repeat + 1):
            order = list(sources) if round_no % 2 else list(reversed(sources))
            for endpoint in endpoints:
                for config in order:
                    tag = f"{config}-{endpoint}-{round_no}"
                    db = scratch / f"{tag}.sqlite3"
                    restore(pristine, db)
                    python_path = [str(sources[config]), os.environ.get("PYTHONPATH")]
                    env = {"PYTHONPATH": os.pathsep.join(filter(None, python_path)),
                           UNWRITTEN: "1" if config == "unwritten" else ""}  # fmt: skip
                    with console.status(f"round {round_no}: {config}, {endpoint}"):
                        result = run_child(__file__, "on", ENDPOINTS[endpoint][1], args.requests,
                                           db, scratch, tag=tag, env=env)  # fmt: skip
                    runs.setdefault((endpoint, config), []).append(result)
                    console.print(f"  {tag}: {describe(result)}")
    print_table(console, runs, args)


def describe(r: dict) -> str:
    took = (
        f"ledger took {r['took_us']:.2f} µs (mean {r['took_mean_us']:.2f}), "
        if r["took_us"] is not None
        else ""
    )
    return (
        f"request path {r['on_us'] - r['off_us']:+.1f} µs, {took}writer CPU "
        f"{r['flush_cpu_us']:.1f} µs and wall {r['flush_wall_us']:.1f} µs per record"
    )


def print_table(console: Console, runs: dict[tuple[str, str], list[dict]], args) -> None:
    table = Table(title=f"Medians of {args.repeat} runs (range), {args.requests:,} requests each")
    columns = ("endpoint", "config", "request path +µs", "ledger took µs (median call)",
               "writer CPU µs/record", "writer wall µs/record")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:2] else "right")

    def cell(values: list[float | None], form: str) -> str:
        values = [v for v in values if v is not None]
        if not values:
            return "—"
        spread = f" ({min(values):{form}} to {max(values):{form}})" if len(values) > 1 else ""
        return f"{statistics.median(values):{form}}{spread}"

    rows = []
    for (endpoint, config), results in runs.items():
        rows.append([
            ENDPOINTS[endpoint][0], config,
            cell([r["on_us"] - r["off_us"] for r in results], "+.1f"),
            cell([r["took_us"] for r in results], ".2f"),
            cell([r["flush_cpu_us"] for r in results], ".1f"),
            cell([r["flush_wall_us"] for r in results], ".1f"),
        ])  # fmt: skip
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print(f"| {' | '.join(columns)} |")
    print("|---|---" + "|---:" * (len(columns) - 2) + "|")
    for row in rows:
        print(f"| {' | '.join(row)} |")


if __name__ == "__main__":
    sys.exit(in_process.main(__doc__, child, measure, requests=2000, endpoints="detail",
                             more_arguments=more_arguments))  # fmt: skip
