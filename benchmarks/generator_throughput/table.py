"""The results: the table of medians and ratios to plain Locust, the verdict on the target,
and the machine and setup they were measured on (also as Markdown for benchmarks/RESULTS.md)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import datetime

from machine import LOADGEN_CPU, SERVER_CPU, cpu_model
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .generators import BASELINE, BENCHMARKS, GENERATORS, LOCUSTFILE
from .servers import Server

TARGET = 0.90  # perflab run ≥ 0.9 times plain Locust
TIMES = "\N{MULTIPLICATION SIGN}"


def ratio(cells, key: str, attribute: str) -> float | None:
    """Median over rounds of this generator's figure / plain Locust's in the same round."""
    cell, base = cells.get(key), cells.get(BASELINE)
    if cell is None or base is None or not cell.runs or not base.runs:
        return None
    baseline = {r.round: getattr(r, attribute) for r in base.runs}
    values = [getattr(r, attribute) / baseline[r.round] for r in cell.runs
              if baseline.get(r.round)]  # fmt: skip
    return statistics.median(values) if values else None


def rows(cells) -> list[list[str]]:
    out = []
    for key, cell in cells.items():
        if not cell.runs:
            out.append([GENERATORS[key], "failed", *[""] * (len(HEADERS) - 2)])
            continue
        errors = " !" if any(r.errors for r in cell.runs) else ""
        figures = []
        for attribute in ("server_rps", "cpu_rps", "own_rps"):
            value = ratio(cells, key, attribute)
            figures += [f"{cell.median(attribute):,.0f}",
                        f"{value:.2f}{TIMES}" if value is not None else "—"]  # fmt: skip
        figures[0] += errors
        out.append([
            GENERATORS[key],
            *figures,
            f"{cell.median('loadgen_cpu'):.0%}",
            f"{cell.median('server_cpu'):.0%}",
        ])  # fmt: skip
    return out


HEADERS = ["generator", "req/s (server-counted)", f"{TIMES} Locust", "req per CPU-second",
           f"{TIMES} Locust", "req/s (own count)", f"{TIMES} Locust", "generator CPU",
           "server CPU"]  # fmt: skip


def verdict(cells) -> str | None:
    """Judged on requests per generator CPU-second: "per core" literally, and the figure that
    survives another process taking part of the generator's core (req/s does not)."""
    value = ratio(cells, "perflab", "cpu_rps")
    if value is None:
        return None
    rps, own = ratio(cells, "perflab", "server_rps"), ratio(cells, "perflab", "own_rps")
    mark = "met" if value >= TARGET else "MISSED"
    return (f"target: perflab run ≥ {TARGET:.2f}{TIMES} plain Locust in requests per core "
            f"(per generator CPU-second): {value:.2f}{TIMES} — {mark} (server-counted req/s "
            f"{rps:.2f}{TIMES}, the tools' own counts {own:.2f}{TIMES})")  # fmt: skip


def report(console: Console, args, cells, server: Server, generators, pinned: bool) -> None:
    title = (
        f"requests/s on one core, {args.users} users/connections, {args.seconds:g} s window "
        f"after {args.warmup:g} s warm-up" + (f", median of {args.repeat}" if args.repeat > 1
                                              else "")
    )  # fmt: skip
    table = Table(title=title)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows(cells):
        table.add_row(*row)
    console.print(table)
    line = verdict(cells)
    if line:
        value = ratio(cells, "perflab", "cpu_rps")
        console.print(f"[{'green' if value >= TARGET else 'red'}]{line}[/]")
    for key, cell in cells.items():
        if cell.error:
            console.print(f"[red]{GENERATORS[key]}: {escape(cell.error)}[/]")
    if any(r.errors for c in cells.values() for r in c.runs):
        console.print("[yellow]! = the generator counted errors in that row[/]")
    all_runs = [r for c in cells.values() for r in c.runs]
    if all_runs:
        foreign = max(r.foreign_cpu for r in all_runs)
        where = f"CPUs {SERVER_CPU} and {LOADGEN_CPU}" if pinned else "the machine"
        console.print(
            f"other processes on {where} during the windows: up to {foreign:.0%} of a core"
            + (
                " [yellow](a noisy machine: req/s and its ratios are unreliable, req per "
                "CPU-second much less so; re-run when it is idle)[/]"
                if foreign > 0.1
                else ""
            )
        )
    spreads = [c.spread() for c in cells.values() if len(c.runs) > 1]
    if spreads:
        console.print(f"spread (max - min) / median across rounds: up to {max(spreads):.1%}")
    machine, how = describe(server, generators, pinned, args)
    console.print(f"machine: {machine}\nsetup: {escape(how)}")
    if args.markdown:
        print()
        print(f"{datetime.now():%Y-%m-%d}, {machine}; {how}.")
        print()
        print(f"             {title}")
        print("| " + " | ".join(HEADERS) + " |")
        print("|" + "|".join(["---", *["---:"] * (len(HEADERS) - 1)]) + "|")
        for row in rows(cells):
            print("| " + " | ".join(row) + " |")
        if args.repeat > 1:
            print()
            print("req/s and CPU: medians of the rounds; ratios: median of each round's ratio "
                  "to that round's plain Locust.")  # fmt: skip
        if line:
            print()
            print(line)


def describe(server: Server, generators, pinned: bool, args) -> tuple[str, str]:
    machine = f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}"
    tools = ", ".join(g.describe() for g in generators)
    how = (
        f"code {code_version()}; server {server.describe()}; {tools}; "
        f"{LOCUSTFILE.relative_to(BENCHMARKS.parent)} "
        f"(FastHttpUser, constant(0), GET /), -u {args.users} -r {args.users}; "
        + (f"server pinned to CPU {SERVER_CPU}, generator to CPU {LOADGEN_CPU}" if pinned
           else "not pinned")
    )  # fmt: skip
    return machine, how


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes (the figures move with it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCHMARKS,
            text=True,
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=BENCHMARKS.parent,
            text=True,
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return head + (" + uncommitted changes in src/" if dirty.strip() else "")
