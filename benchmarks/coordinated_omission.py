"""The stall test: what a closed model hides and the open model (--arrival-rate) shows.

    .venv/bin/python benchmarks/coordinated_omission.py [--seconds 30] [--rate 100] [--markdown]

Method. `python -m perflab.testing.latency_server --base-ms 1 --stall-every 5 --stall-for 1`
answers in 1 ms, except that for 1 s out of every 5 (aligned to the epoch, so anyone can
predict the stalls) every request waits for the stall to end. The same FastHttpUser file
is run twice through `perflab run` for --seconds:

    closed   2 users, constant_pacing(2/rate): --rate requests/s while the server is fast,
             but each user sits blocked through a stall and sends nothing meanwhile;
    open     --arrival-rate RATE --max-in-flight 4*RATE: iterations start on schedule
             whatever the server does; latency counts from the intended start.

Ground truth comes from the schedule alone: the open run's arrivals are due at
T0 + k/RATE (T0 = the schedule's start, from results.json); an arrival due at t inside a
stall waits until the stall ends, then takes the 1 ms service time. The open model's p99
must be within 5 % of the truth.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = """
from locust import FastHttpUser, constant_pacing, task


class Pinger(FastHttpUser):
    wait_time = constant_pacing({pacing})

    @task
    def ping(self):
        self.client.get("/")
"""
PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9))
BASE_MS, STALL_EVERY_S, STALL_FOR_S = 1.0, 5.0, 1.0


def truth_ms(due_epoch: float) -> float:
    phase = due_epoch % STALL_EVERY_S
    wait = STALL_FOR_S - phase if phase < STALL_FOR_S else 0.0
    return wait * 1000 + BASE_MS


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def start_server() -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable, "-m", "perflab.testing.latency_server", "--port", "0",
        "--base-ms", str(BASE_MS), "--stall-every", str(STALL_EVERY_S),
        "--stall-for", str(STALL_FOR_S),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("listening on"):
        server.kill()
        raise SystemExit(f"the latency server did not start: {line!r}")
    return server, f"http://127.0.0.1:{int(line.split()[-1])}"


def perflab_run(locustfile: Path, host: str, out: Path, seconds: int, *extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    command = [
        sys.executable, "-m", "perflab", "run", "--headless", "--quiet", "-f", str(locustfile),
        "--host", host, "-t", f"{seconds}s", "--out", str(out), *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"perflab run failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads((out / "results.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    console = Console()
    server, host = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            locustfile = tmp / "stall.py"
            locustfile.write_text(LOCUSTFILE.format(pacing=2 / args.rate))
            with console.status(f"closed model, {args.seconds}s …"):
                closed = perflab_run(locustfile, host, tmp / "closed", args.seconds,
                                     "-u", "2", "-r", "2")  # fmt: skip
            with console.status(f"open model, {args.seconds}s …"):
                opened = perflab_run(
                    locustfile, host, tmp / "open", args.seconds, "--arrival-rate",
                    str(args.rate), "--max-in-flight", str(int(4 * args.rate)),
                )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    model = opened["open_model"]
    t0 = model["schedule_started_epoch"]
    truth = [truth_ms(t0 + k / args.rate) for k in range(int(model["started"]))]
    rows = [
        ("closed model (2 users)", closed["totals"]),
        ("open model (--arrival-rate)", opened["totals"]),
    ]
    table = Table(title=f"one 1 s stall every 5 s, {args.rate:g} req/s, {args.seconds}s per run")
    for column in ("measurement", "requests", *(name for name, _ in PERCENTILES)):
        table.add_column(column, justify="right")
    markdown = [
        "| measurement | requests | p50 ms | p99 ms | p99.9 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, totals in rows:
        latency = totals["latency"]
        cells = [f"{latency[key]:,.1f}" for key in ("p50", "p99", "p99_9")]
        table.add_row(label, f"{totals['requests']:,}", *cells)
        markdown.append(f"| {label} | {totals['requests']:,} | " + " | ".join(cells) + " |")
    truth_cells = [f"{percentile(truth, p):,.1f}" for _, p in PERCENTILES]
    table.add_row("ground truth (schedule)", f"{len(truth):,}", *truth_cells)
    markdown.append(
        f"| ground truth (schedule) | {len(truth):,} | " + " | ".join(truth_cells) + " |"
    )
    console.print(table)
    true_p99 = percentile(truth, 99.0)
    open_p99 = opened["totals"]["latency"]["p99"]
    error = abs(open_p99 - true_p99) / true_p99
    verdict = "PASS" if error <= 0.05 else "FAIL"
    summary = (
        f"open-model p99 {open_p99:,.1f} ms vs truth {true_p99:,.1f} ms: {error:.1%} off "
        f"(target ≤ 5 %) → {verdict}; late starts {int(model['late']):,}, "
        f"never started {int(model['dropped']):,}"
    )
    console.print(summary)
    if args.markdown:
        print("\n".join(markdown))
        print(f"\n{summary}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
