"""One generator's run against the server: its load counted by the server over a window after
the warm-up, the CPU seconds of generator, server and everything else on their CPUs, and the
rounds (``measure``) that interleave the generators."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import LOADGEN_CPU, SERVER_CPU, busy_cpu_seconds, tree_cpu_seconds
from rich.console import Console
from rich.markup import escape

from perflab.errors import PerflabError

from .generators import GENERATORS, Generator, clean_env
from .servers import Server

TAIL_S = 2  # each run lasts this much longer than warm-up + window
LOAD_START_TIMEOUT_S = 60  # process start-up + imports + first requests


@dataclass
class Run:
    """One generator, one round."""

    server_rps: float  # requests the server answered per second in the measured window
    own_rps: float  # the generator's own count / duration
    cpu_rps: float = 0.0  # server-counted requests per CPU-second the generator used (window)
    requests: int = 0  # the generator's own count
    errors: int = 0
    loadgen_cpu: float = 0.0  # share of one core, over the window
    server_cpu: float = 0.0
    foreign_cpu: float = 0.0  # other processes on the two CPUs (or the machine), over the window
    round: int = 1


@dataclass
class Cell:
    runs: list[Run] = field(default_factory=list)
    error: str = ""

    def median(self, attribute: str) -> float | None:
        values = [getattr(r, attribute) for r in self.runs]
        return statistics.median(values) if values else None

    def spread(self) -> float:
        """(max - min) / median of the server-counted req/s, 0 with one run."""
        values = [r.server_rps for r in self.runs]
        if len(values) < 2 or not statistics.median(values):
            return 0.0
        return (max(values) - min(values)) / statistics.median(values)


def measure_once(server: Server, generator: Generator, args, workdir: Path, pinned: bool) -> Run:
    """Start the generator, wait for its load to begin, let it warm up, count the server's
    answers over --seconds, then let the generator finish on its own and read its figures."""
    workdir.mkdir(parents=True)
    run_time = math.ceil(args.warmup + args.seconds) + TAIL_S
    command = generator.command(server.url, run_time, args.users, workdir)
    log_path = workdir / "output.txt"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                   stdin=subprocess.DEVNULL, env=clean_env())  # fmt: skip
    try:
        window = count_window(server, process, args, pinned)
        try:
            process.wait(timeout=run_time + 60)
        except subprocess.TimeoutExpired:
            raise PerflabError(f"{generator.key} did not finish within {run_time + 60}s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    output = log_path.read_text(errors="replace")
    if process.returncode not in (0, 3):  # perflab: 3 = an SLO was breached (none is set)
        raise PerflabError(f"{generator.key} exited with {process.returncode}: "
                           f"{output.strip()[-300:]}")  # fmt: skip
    own_rps, requests, errors = generator.own(output, workdir)
    return Run(own_rps=own_rps, requests=requests, errors=errors, **window)


def count_window(server: Server, process: subprocess.Popen, args, pinned: bool) -> dict:
    """Server-counted req/s over --seconds, after --warmup from the first answered requests."""
    base = server.count()
    deadline = time.monotonic() + LOAD_START_TIMEOUT_S
    while server.count() - base < 2 * args.users:  # a few requests per user: the load is on
        if process.poll() is not None:
            raise PerflabError(f"the generator exited ({process.returncode}) before loading")
        if time.monotonic() > deadline:
            raise PerflabError(f"no load reached the server within {LOAD_START_TIMEOUT_S}s")
        time.sleep(0.05)
    time.sleep(args.warmup)
    cpus = {SERVER_CPU, LOADGEN_CPU} if pinned else None
    before = (server.count(), time.monotonic(), tree_cpu_seconds(process.pid),
              tree_cpu_seconds(server.pid), busy_cpu_seconds(cpus))  # fmt: skip
    self_before = sum(os.times()[:2])
    time.sleep(args.seconds)
    after = (server.count(), time.monotonic(), tree_cpu_seconds(process.pid),
             tree_cpu_seconds(server.pid), busy_cpu_seconds(cpus))  # fmt: skip
    if process.poll() is not None:
        raise PerflabError("the generator stopped before the end of the measured window")
    wall = after[1] - before[1]
    loadgen, server_cpu = after[2] - before[2], after[3] - before[3]
    this_script = sum(os.times()[:2]) - self_before
    foreign = after[4] - before[4] - loadgen - server_cpu - this_script
    answered = after[0] - before[0] - 1  # less the counting request itself
    return {
        "server_rps": answered / wall,
        "cpu_rps": answered / loadgen if loadgen > 0 else 0.0,
        "loadgen_cpu": loadgen / wall,
        "server_cpu": server_cpu / wall,
        "foreign_cpu": max(foreign, 0.0) / wall,
    }


def measure(args, console: Console, server: Server, generators, pinned: bool, scratch: Path):
    cells = {g.key: Cell() for g in generators}
    per_run = math.ceil(args.warmup + args.seconds) + TAIL_S
    total_s = per_run * len(generators) * args.repeat
    console.print(f"{len(generators) * args.repeat} runs of about {per_run + 3} s each "
                  f"(≈ {total_s / 60:.1f} min)")  # fmt: skip
    for round_no in range(1, args.repeat + 1):
        shift = (round_no - 1) % len(generators)
        for generator in generators[shift:] + generators[:shift]:
            label = GENERATORS[generator.key]
            where = label + (f" (round {round_no})" if args.repeat > 1 else "")
            workdir = scratch / f"{generator.key}-r{round_no}"
            with console.status(f"{where}: {per_run} s …"):
                try:
                    run = measure_once(server, generator, args, workdir, pinned)
                except PerflabError as exc:
                    cells[generator.key].error = str(exc)
                    console.print(f"[red]{where}: {escape(str(exc))}[/]")
                    continue
            run.round = round_no
            cells[generator.key].runs.append(run)
            console.print(
                f"  {where}: {run.server_rps:,.0f} req/s server-counted, {run.cpu_rps:,.0f} per "
                f"CPU-second, {run.own_rps:,.0f} own ({run.requests:,} requests, "
                f"{run.errors} errors); CPU: generator "
                f"{run.loadgen_cpu:.0%}, server {run.server_cpu:.0%}, other processes "
                f"{run.foreign_cpu:.0%}"
            )
    return cells
