"""The suite-level cost of ``pytest --perflab``: a test suite run with the N+1 sweep, as a
ratio to the same suite without it.

    .venv/bin/python benchmarks/sweep_cost.py [--suite tests/demo] [--rounds 6]

Each round runs the suite twice in fresh pytest processes, once plain and once with
``--perflab`` (its JSON written to a scratch directory), in an order that alternates from
round to round, after one warm-up run of each that is not counted. Each round gives a
ratio (with / without), so the machine's drift over the minutes cancels; the table shows
the median run of each and the ratios' median, middle half and range. Three times per
run: the process's wall time (what a person waits, interpreter start and collection
included), its CPU time (user + system: what a busy neighbour on a shared machine moves
least) and the session's time as pytest reports it ("N passed in X s").
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
TIMES = ("process wall", "process CPU", "pytest session")  # as run_suite returns them
RUN_TIMEOUT_S = 600  # one run of the suite; a run beyond it stops the benchmark
_SESSION = re.compile(r" in ([0-9.]+)s")  # pytest's last line: "50 passed in 2.39s"


def run_suite(suite: str, sweep_json: Path | None) -> tuple[float, float, float]:
    """One fresh pytest process over ``suite``; its wall, CPU and session times (s). A
    failing test is timed like a passing one; an error of the run itself stops here."""
    command = [sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider"]
    if sweep_json is not None:
        command.append(f"--perflab-json={sweep_json}")
        command.append("--perflab")  # last: its value is optional
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    session = _SESSION.search(last)
    if result.returncode not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not session:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {last}")
    return wall, cpu, float(session.group(1))


def measure(suite: str, rounds: int, console: Console) -> tuple[dict, list[list[float]], dict]:
    """Warm-up, then ``rounds`` rounds in alternating order: the runs and the sweep's JSON."""
    runs: dict[str, list[tuple[float, float, float]]] = {"off": [], "on": []}
    ratios: list[list[float]] = []  # per round, each of TIMES
    with tempfile.TemporaryDirectory(prefix="perflab-sweep-cost-") as scratch:
        sweep_json = Path(scratch) / "sweep.json"
        with console.status("warm-up: one run each way"):
            run_suite(suite, None), run_suite(suite, sweep_json)
        for n in range(rounds):
            order = ("off", "on") if n % 2 == 0 else ("on", "off")
            timed = {}
            for mode in order:
                with console.status(f"round {n + 1}/{rounds}: {mode}"):
                    timed[mode] = run_suite(suite, sweep_json if mode == "on" else None)
                runs[mode].append(timed[mode])
            ratios.append([on / off for on, off in zip(timed["on"], timed["off"], strict=True)])
        sweep = json.loads(sweep_json.read_text())
    return runs, ratios, sweep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="tests/demo", help="pytest path (tests/demo)")
    parser.add_argument("--rounds", type=int, default=6, help="counted rounds (6)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds: from 1 to 50")
    console = Console()
    runs, ratios, sweep = measure(args.suite, args.rounds, console)

    table = Table(
        title=f"pytest {args.suite} with and without --perflab "
        f"({args.rounds} rounds, alternating, after a warm-up)"
    )
    columns = ("time", "without, s", "--perflab, s", "ratio", "middle half", "range")
    for column in columns:
        table.add_column(column, justify="left" if column == "time" else "right")
    for index, name in enumerate(TIMES):
        off = statistics.median(run[index] for run in runs["off"])
        on = statistics.median(run[index] for run in runs["on"])
        values = sorted(ratio[index] for ratio in ratios)
        low, _, high = (
            statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        )
        table.add_row(
            name, f"{off:.2f}", f"{on:.2f}", f"{statistics.median(values):.3f}×",  # noqa: RUF001
            f"{low:.3f}-{high:.3f}", f"{values[0]:.3f}-{values[-1]:.3f}",
        )  # fmt: skip
    console.print(table)
    findings = sweep["findings"]
    console.print(
        f"The sweep: {sweep['tests_swept']} tests swept, {len(findings)} findings "
        f"({sum(row['kind'] == 'n_plus_one' for row in findings)} N+1, "
        f"{sum(row['kind'] == 'duplicate' for row in findings)} duplicates). Ratios are per "
        "round (with / without, the two runs side by side): their median, quartiles and range; "
        "the times are each way's median run."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
