"""Requests/s per core of the load generator: plain Locust vs `perflab run`, same locustfile.

    .venv/bin/python benchmarks/generator.py [--seconds 20] [--warmup 3] [--repeat 1]
        [--users 20] [--generators locust,perflab,wrk] [--server auto|nginx|python]
        [--no-install] [--no-pin] [--markdown] [--keep]

Method. A server that costs next to nothing per request answers "/" with a 2-byte body:
Debian's nginx (installed with `apt-get install -y nginx-light`, else `nginx`, when missing
and running as root, unless --no-install), started by this script from a generated config
in a scratch folder (one worker process, `listen 127.0.0.1:<free port>`,
`location / { return 200 "ok"; }`, access_log off, unlimited keep-alive requests, daemon
off, pid and temp paths in the scratch folder) and stopped at the end. Without nginx, a
minimal asyncio HTTP/1.1 server in a child Python process stands in (the output says so).
Both count the requests they answer (nginx's stub_status, the asyncio server's own
counter), so every generator is also measured by the same yardstick.

The load is benchmarks/locustfiles/generator_fast.py: one FastHttpUser, `constant(0)`,
GET "/" back to back. It is run, one process each and with the same users and spawn rate:

    locust    plain Locust:  locust -f FILE --headless -u N -r N -t T --only-summary --csv P
    perflab   perflab run:   perflab run --headless -f FILE -u N -r N -t T --quiet --out DIR
    wrk       the ceiling:   wrk -t1 -c N -d T (when wrk is installed)

The environment passed to Locust and perflab has no LOCUST_* variable (so no
LOCUST_SKIP_MONKEY_PATCH). Where the machine has CPUs 0 and 1, the server (nginx's master
and worker) is pinned to CPU 0 and this script with the generator it starts to CPU 1, so
"per core" is literal: the generator has exactly one core. Each run lasts --warmup +
--seconds + 2 s; once the server's counter shows the load has begun, the script waits
--warmup seconds (users spawning, connections opening, caches warming) and then counts
the requests the server answered in the next --seconds: that window is the
"server-counted" req/s, the same method for all three. The same count divided by the CPU
seconds the generator's process used in the window is "req per CPU-second": equal to req/s
when the generator had its core to itself, and still comparable when another process took
part of it (the output reports how much CPU other processes used on the two CPUs). The
target (perflab run ≥ 0.9 times plain Locust) is judged on that figure. Each
generator's own figure is shown too: Locust's CSV (Aggregated Request Count / the time from
its start to its last request, i.e. its "Requests/s"), perflab's results.json
(totals.requests / duration_s) and wrk's Requests/sec; those include the ramp-up and the
stop. With --repeat N the generators run in N interleaved rounds (each round starts one
generator further along) and every figure is the median; ratios are the median of each
round's ratio to that round's plain Locust. Generator and server CPU are measured over the
window (share of one core; a server near 100% means the row measured the server, not the
generator: expected of wrk). Every run has a time limit; the server is always stopped.

This file is the command line; its parts are in ``generator_throughput/``: the servers
(``servers.py``, ``fast_server.py``), the generators (``generators.py``), the measurement and
CPU accounting (``measurement.py``) and the table (``table.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from arguments import comma_list
from generator_throughput.generators import BASELINE, GENERATORS, choose_generators
from generator_throughput.measurement import measure
from generator_throughput.servers import Server, start_server
from generator_throughput.table import report
from machine import LOADGEN_CPU, SERVER_CPU, can_pin, pin_tree
from rich.console import Console
from rich.markup import escape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per run (20)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per run (3)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians (1)")
    parser.add_argument("--users", type=int, default=20, help="users = wrk connections (20)")
    parser.add_argument("--generators", type=comma_list(GENERATORS), default=list(GENERATORS),
                        help=f"comma-separated subset of {','.join(GENERATORS)}")  # fmt: skip
    parser.add_argument("--server", choices=["auto", "nginx", "python"], default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/load to CPUs")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    if args.seconds < 1 or args.warmup < 0 or args.repeat < 1 or args.users < 1:
        parser.error("--seconds must be ≥ 1, --warmup ≥ 0, --repeat and --users ≥ 1")
    # Piped (a log, `tee`): wide enough for the table, as `perflab` itself does.
    console = Console(width=None if sys.stdout.isatty() else 160)

    generators = choose_generators(args.generators, not args.no_install, console)
    if not generators:
        parser.error("no generator to run")
    if BASELINE not in [g.key for g in generators]:
        console.print("[yellow]plain Locust is not measured: no ratios[/]")
    pinned = can_pin() and not args.no_pin
    if pinned:
        os.sched_setaffinity(0, {LOADGEN_CPU})  # this script and the generators it starts
    console.print(
        f"pinning: server → CPU {SERVER_CPU}, generator → CPU {LOADGEN_CPU}"
        if pinned
        else "pinning: [yellow]not pinned[/] "
        + ("(--no-pin)" if args.no_pin else "(needs CPUs 0 and 1 and sched_setaffinity)")
    )
    console.print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    scratch = Path(tempfile.mkdtemp(prefix="perflab-generator-bench-"))
    server: Server | None = None
    try:
        server = start_server(args, scratch, pinned, console)
        if pinned:
            pin_tree(server.pid, SERVER_CPU)  # nginx's worker too, whatever its own settings
        console.print(f"server: {escape(server.describe())} on {server.url}")
        cells = measure(args, console, server, generators, pinned, scratch)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            console.print(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    report(console, args, cells, server, generators, pinned)
    return 1 if any(c.error for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
