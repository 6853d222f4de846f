"""What `probe_overhead.py` measured, as tables: paired ratios to no probe, with intervals.

A configuration's slices are paired with the no-probe slice of the same turn (a second
apart, so the machine's drift cancels); a ratio is the median of those pairs' ratios and
its 95 % interval comes from resampling the pairs (bootstrap, fixed seed: the same
slices always print the same interval).
"""

from __future__ import annotations

import os
import platform
import random
import sqlite3
import statistics
from dataclasses import dataclass, field
from datetime import datetime

from loadgen import CONNECTIONS, Run
from machine import LOADGEN_CPU, SERVER_CPU, cpu_model
from rich.console import Console
from rich.markup import escape
from rich.table import Table

CONFIGS = {
    "off": ("no probe", {"PERFLAB_PROBE": "off", "PERFLAB_SILK": "off"}),
    "control": ("no probe, second server", {"PERFLAB_PROBE": "off", "PERFLAB_SILK": "off"}),
    "on": ("probe (default)", {"PERFLAB_PROBE": "on", "PERFLAB_SILK": "off"}),
    # The probe as another checkout has it (--base-src): before/after a change, side by side.
    "on-base": ("probe, --base-src code", {"PERFLAB_PROBE": "on", "PERFLAB_SILK": "off"}),
    "profile-all": (
        "probe, profile every request",
        {"PERFLAB_PROBE": "profile-all", "PERFLAB_SILK": "off"},
    ),
    "silk": ("django-silk", {"PERFLAB_PROBE": "off", "PERFLAB_SILK": "on"}),
    "silk-profile": ("silk + profiler", {"PERFLAB_PROBE": "off", "PERFLAB_SILK": "profile"}),
}
BASELINE = "off"
ENDPOINTS = {  # key: (column label, path; {id} is an existing post)
    "list": ("list", "/api/posts/"),
    "detail": ("detail", "/api/posts/{id}/"),
    "naive": ("N+1", "/api/authors/naive/"),
    # One cache.get and no SQL, ~0.16 ms: what the cache recorder costs, and the probe's fixed
    # cost per request where it weighs most. No ratio target (see benchmarks/RESULTS.md).
    "cached": ("cached", "/api/categories/"),
}
DEFAULT_ENDPOINTS = ("list", "detail", "naive")  # the ones with targets
# Minimum ratio to `no probe` per configuration and endpoint.
TARGETS = {
    "on": {"list": 0.95, "detail": 0.95, "naive": 0.90},
    "profile-all": {"list": 0.75, "detail": 0.75, "naive": 0.75},
}
TIMES = "\N{MULTIPLICATION SIGN}"
TARGETS_LINE = (
    f"targets: probe (default) ≥ 0.95{TIMES} no probe on list and detail, ≥ 0.90{TIMES} on "
    f"N+1; probe, profile every request ≥ 0.75{TIMES}; no probe, second server (A/A): "
    f"1.00{TIMES} within its interval"
)
BOOTSTRAP_SAMPLES = 2000


@dataclass
class Cell:
    """The slices of one configuration on one endpoint."""

    runs: list[Run] = field(default_factory=list)
    error: str = ""
    cpu_seconds: float = 0.0  # the server's CPU from its first slice until idle after its last

    @property
    def cpu_ms_per_request(self) -> float | None:
        """Server CPU per request served; a second estimate of the cost, immune to other
        processes taking the core (abandoned requests inflate it alike for everyone)."""
        requests = sum(r.requests for r in self.runs)
        return self.cpu_seconds * 1000 / requests if requests and self.cpu_seconds else None

    @property
    def rps(self) -> float | None:
        return statistics.median(r.charged_rps for r in self.runs) if self.runs else None

    def summary(self) -> str:
        if not self.runs:
            return f"failed: {self.error}" if self.error else "no slices"
        requests = sum(r.requests for r in self.runs)
        errors = sum(r.errors for r in self.runs)
        server = statistics.median(r.server_cpu for r in self.runs)
        foreign = max(r.foreign_cpu for r in self.runs)
        return (
            f"{self.rps:,.1f} req/s, median of {len(self.runs)} slices ({requests:,} requests, "
            f"{errors} errors; server CPU {server:.0%}, other processes up to {foreign:.0%})"
        )


def pairs(results, config: str, endpoint: str) -> list[tuple[float, float]]:
    """(rps, no-probe rps of the same turn) for every slice of the cell that has a partner."""
    return [pair for _, pair in _round_pairs(results, config, endpoint)]


def _round_pairs(results, config: str, endpoint: str) -> list[tuple[str, tuple[float, float]]]:
    """``pairs``, each with its round (the servers it was measured on)."""
    base = results.get(BASELINE, {}).get(endpoint)
    if base is None:
        return []
    partner = {r.pair: r.charged_rps for r in base.runs if r.charged_rps}
    return [(r.pair[0], (r.charged_rps, partner[r.pair])) for r in results[config][endpoint].runs
            if r.pair in partner and r.charged_rps]  # fmt: skip


def ratio(results, config: str, endpoint: str) -> float | None:
    values = [rps / base for rps, base in pairs(results, config, endpoint)]
    return statistics.median(values) if values else None


def ratio_interval(results, config: str, endpoint: str) -> tuple[float, float] | None:
    """95 % bootstrap interval of the median pair ratio; None with fewer than 5 pairs.

    Two-stage when there are several rounds: rounds are drawn with replacement, then slices
    within each drawn round. A started process runs ±1-2 % faster or slower than another
    for its whole life (memory layout), so slices of one round are not independent, and
    drawing slices alone gives an interval too narrow for what another set of servers
    would show (the A/A check failed on that)."""
    by_round: dict[str, list[float]] = {}
    for name, (rps, base) in _round_pairs(results, config, endpoint):
        by_round.setdefault(name, []).append(rps / base)
    if sum(len(values) for values in by_round.values()) < 5:
        return None
    rounds = list(by_round.values())
    rng = random.Random(0)
    medians = []
    for _ in range(BOOTSTRAP_SAMPLES):
        drawn = rng.choices(rounds, k=len(rounds)) if len(rounds) > 1 else rounds
        medians.append(statistics.median(
            [value for values in drawn for value in rng.choices(values, k=len(values))]
        ))  # fmt: skip
    medians.sort()
    return medians[int(0.025 * BOOTSTRAP_SAMPLES)], medians[int(0.975 * BOOTSTRAP_SAMPLES) - 1]


def added_ms(results, config: str, endpoint: str) -> float | None:
    """Time each request costs more than without a recorder, in ms (one worker: 1000 / rps)."""
    values = [1000 / rps - 1000 / base for rps, base in pairs(results, config, endpoint)]
    return statistics.median(values) if values else None


def added_cpu_ms(results, config: str, endpoint: str) -> float | None:
    base = results.get(BASELINE, {}).get(endpoint)
    mine = results[config][endpoint].cpu_ms_per_request
    theirs = base.cpu_ms_per_request if base is not None else None
    return mine - theirs if mine is not None and theirs is not None else None


def ratio_text(results, config: str, endpoint: str) -> str:
    value = ratio(results, config, endpoint)
    if value is None:
        return ""
    interval = ratio_interval(results, config, endpoint)
    if interval is None or config == BASELINE:
        return f"{value:.2f}{TIMES}"
    return f"{value:.2f}{TIMES}, {interval[0]:.2f}-{interval[1]:.2f}"


def cell_text(results, config: str, endpoint: str) -> str:
    cell = results[config][endpoint]
    if cell.rps is None:
        return "failed" if cell.error else "—"
    ratio_part = ratio_text(results, config, endpoint)
    text = f"{cell.rps:,.1f}" + (f" ({ratio_part})" if ratio_part else "")
    return text + (" !" if any(r.errors for r in cell.runs) else "")


def verdicts(results) -> list[str]:
    lines = []
    for config, targets in TARGETS.items():
        parts = []
        for endpoint, minimum in targets.items():
            value = (
                ratio(results, config, endpoint) if endpoint in results.get(config, {}) else None
            )
            if value is not None:
                mark = "met" if value >= minimum else "MISSED"
                parts.append(f"{ENDPOINTS[endpoint][0]} {value:.2f}{TIMES} ≥ {minimum:.2f} {mark}")
        if parts:
            lines.append(f"{CONFIGS[config][0]}: " + ", ".join(parts))
    if "control" in results:
        parts = []
        for endpoint in results["control"]:
            interval = ratio_interval(results, "control", endpoint)
            if interval is not None:
                holds = "holds" if interval[0] <= 1.0 <= interval[1] else "FAILS: re-run"
                parts.append(f"{ENDPOINTS[endpoint][0]} {ratio_text(results, 'control', endpoint)}"
                             f" {holds}")  # fmt: skip
        if parts:
            lines.append("A/A check (a second no-probe server): " + ", ".join(parts))
    return lines


def cost_rows(results, args) -> list[list[str]]:
    rows = []
    for config in args.configs:
        if config in (BASELINE, "control"):
            continue
        cells = []
        for endpoint in args.endpoints:
            by_rps, by_cpu = (
                added_ms(results, config, endpoint),
                added_cpu_ms(results, config, endpoint),
            )
            text = f"{by_rps:+.2f}" if by_rps is not None else "—"
            cells.append(text + (f" (CPU {by_cpu:+.2f})" if by_cpu is not None else ""))
        if any(c != "—" for c in cells):
            rows.append([CONFIGS[config][0], *cells])
    return rows


def report(console: Console, args, results, detail_id, loadgen, pinned: bool, notes) -> None:
    title = (
        f"req/s, one sync gunicorn worker, {CONNECTIONS} connections, median of "
        f"{args.slices * args.repeat} slices of {args.slice} s"
    )
    headers = [
        f"{ENDPOINTS[e][0]} {ENDPOINTS[e][1].format(id=detail_id if detail_id else '<id>')}"
        for e in args.endpoints
    ]
    table = Table(title=title)
    table.add_column("configuration")
    for header in headers:
        table.add_column(header.replace(" ", "\n", 1), justify="right")
    for config in args.configs:
        row = []
        for endpoint in args.endpoints:
            text, value = cell_text(results, config, endpoint), ratio(results, config, endpoint)
            minimum = TARGETS.get(config, {}).get(endpoint)
            if value is not None and minimum is not None:
                text = f"[{'green' if value >= minimum else 'red'}]{text}[/]"
            row.append(text)
        table.add_row(CONFIGS[config][0], *row)
    console.print(table)
    console.print("ratio: median of the slice-by-slice ratios to no probe, then its 95 % interval")
    cost = cost_rows(results, args)
    if cost:
        added = Table(
            title="time added per request, ms: 1000/req/s minus no probe's (server CPU per "
            "request minus no probe's)"
        )
        added.add_column("configuration")
        for endpoint in args.endpoints:
            added.add_column(ENDPOINTS[endpoint][0], justify="right")
        for row in cost:
            added.add_row(*row)
        console.print(added)
    console.print(TARGETS_LINE)
    for line in verdicts(results):
        console.print(f"  {line}")
    print_notes(console, results, notes, pinned)
    machine = (
        f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    how = f"{loadgen.describe()}; " + (
        f"every gunicorn pinned to CPU {SERVER_CPU}, load generator to CPU {LOADGEN_CPU}"
        if pinned
        else "not pinned"
    )
    console.print(f"machine: {machine}\nload: {escape(how)}")
    if args.markdown:
        print_markdown(args, results, headers, title, machine, how)


def print_notes(console: Console, results, notes, pinned: bool) -> None:
    if BASELINE not in results:
        console.print("[yellow]no ratios: `off` (no probe) was not measured[/]")
    if any(r.errors for row in results.values() for c in row.values() for r in c.runs):
        console.print("[yellow]! = the load generator counted errors (non-2xx answers or socket "
                      "errors) in that cell[/]")  # fmt: skip
    for config, row in results.items():
        for endpoint, cell in row.items():
            if cell.error:
                console.print(f"[red]{CONFIGS[config][0]} · {endpoint}: {escape(cell.error)}[/]")
    if notes["server_cpu"]:
        server, gen = notes["server_cpu"], notes["loadgen_cpu"]
        console.print(
            f"gunicorn CPU during slices {min(server):.0%}-{max(server):.0%} of one core; "
            f"load generator {min(gen):.0%}-{max(gen):.0%}"
        )
        foreign = statistics.median(notes["foreign_cpu"])
        where = f"CPU {SERVER_CPU}" if pinned else "the machine"
        console.print(
            f"other processes on {where} during slices: {foreign:.0%} of a core (median)"
            + (" [yellow](a noisy machine: re-run when it is idle)[/]" if foreign > 0.1 else "")
        )
    if notes["unsettled"]:
        console.print(f"[yellow]{len(notes['unsettled'])} times a server was still busy "
                      "10 s after its slice (measured anyway)[/]")  # fmt: skip


def print_markdown(args, results, headers, title, machine, how) -> None:
    print()
    print(f"{datetime.now():%Y-%m-%d}, {machine}; {how}.")
    print()
    print(f"             {title}")
    print("| " + " | ".join(["configuration", *headers]) + " |")
    print("|" + "|".join(["---", *["---:"] * len(headers)]) + "|")
    for config in args.configs:
        cells = [cell_text(results, config, e) for e in args.endpoints]
        print("| " + " | ".join([CONFIGS[config][0], *cells]) + " |")
    print()
    print("req/s: median of the slices; ratio: median of the slice-by-slice ratios to no probe "
          "(slices of one turn), then its 95 % bootstrap interval.")  # fmt: skip
    cost = cost_rows(results, args)
    if cost:
        print()
        print(
            "Time added per request (ms, 1000/req/s minus no probe's; in brackets the same "
            "from the server's CPU seconds per request):"
        )
        print()
        print("| " + " | ".join(["configuration", *(ENDPOINTS[e][0] for e in args.endpoints)])
              + " |")  # fmt: skip
        print("|" + "|".join(["---", *["---:"] * len(args.endpoints)]) + "|")
        for row in cost:
            print("| " + " | ".join(row) + " |")
    print()
    print(TARGETS_LINE)
    for line in verdicts(results):
        print(f"- {line}")
