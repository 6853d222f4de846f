"""`perflab capacity`: find the highest arrival rate a server sustains within its SLOs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perflab.commands.arguments import (
    float_between,
    int_between,
    make_output_dir,
    nonempty_path,
    process_id,
    url,
)
from perflab.commands.run import check_server_pid
from perflab.errors import PerflabError

MAX_HOLD_S = 3600.0
MAX_RATE = 100_000.0  # iterations/s, as `perflab run --arrival-rate` takes it


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capacity",
        help="step the arrival rate up, then bisect, until an SLO breaks: the sustainable rate",
        description="Hold each arrival rate (open model) for --hold, stepping up until a step "
        "breaches an SLO or cannot keep up, then bisect between the last passing and first "
        "failing rate. Reports the highest sustainable rate, the knee and the resource that "
        "saturated first; writes OUT/capacity.json and one run directory per step. Exit "
        "codes: 0 a sustainable rate was found, 3 even the start rate breaches, 2 bad usage, "
        "1 a step's run failed, 130 interrupted.",
    )
    add_load_arguments(parser)
    rate = float_between(0, MAX_RATE, above_low=True)
    parser.add_argument(
        "--start-rate", type=rate, default=10.0, help="first rate, iterations/s (default 10)"
    )
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument(
        "--step-factor",
        type=float_between(1, 1000, above_low=True),
        default=1.5,
        help="geometric step (default 1.5)",
    )
    steps.add_argument("--step", type=rate, help="additive step in iterations/s, instead")
    parser.add_argument("--hold", default="20s", help="how long each rate is held (default 20s)")
    parser.add_argument("--max-rate", type=rate, help="never try more than this")
    parser.add_argument(
        "--max-steps", type=int_between(1, 100), default=12,
        help="steps before bisecting (default 12)",
    )  # fmt: skip
    parser.add_argument(
        "--bisect-steps", type=int_between(0, 20), default=3,
        help="bisection steps after a breach (default 3)",
    )  # fmt: skip
    parser.add_argument(
        "--max-in-flight", type=int_between(1, 100_000), default=200,
        help="concurrent iterations (default 200)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=nonempty_path, help="directory (default .perflab/capacity/TIMESTAMP)"
    )
    parser.set_defaults(run=run)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The locustfile, the target, SLOs, and what to watch on the server: each step is a
    `perflab run` given these."""
    parser.add_argument(
        "user_classes", nargs="*", metavar="UserClass", help="user classes to run (default: all)"
    )
    parser.add_argument("-f", "--locustfile", type=nonempty_path, required=True)
    parser.add_argument(
        "-H", "--host", type=url, required=True, help="base URL, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument(
        "--slo",
        action="append",
        default=[],
        help='e.g. "p95<200ms", "error_rate<1%%", "/api/posts/:p99<500ms", "rps>50"',
    )
    parser.add_argument(
        "--server-pid",
        type=process_id,
        help="watch this server process tree (default: whoever listens on --host)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL to count connections (default $DATABASE_URL)",
    )


def search_from(args: argparse.Namespace):
    """Every check before the first step, so bad usage fails at once with one line."""
    from perflab.capacity.plan import StepPlanner
    from perflab.capacity.search import CapacitySearch, SearchConfig
    from perflab.load.durations import parse_duration
    from perflab.load.slo import parse_slo
    from perflab.load.target import check_target

    slos = tuple(parse_slo(text) for text in args.slo)
    hold = parse_duration(args.hold)
    if not 1 <= hold <= MAX_HOLD_S:
        raise PerflabError(f"--hold must be between 1s and 1h, got {args.hold}")
    max_rate = MAX_RATE if args.max_rate is None else args.max_rate  # what a step can run
    planner = StepPlanner(
        start=args.start_rate, factor=args.step_factor, step=args.step, max_rate=max_rate,
        max_steps=args.max_steps, bisect_steps=args.bisect_steps,
    )  # fmt: skip
    if not args.locustfile.is_file():
        raise PerflabError(f"locustfile not found: {args.locustfile}")
    check_server_pid(args.server_pid)
    host = check_target(args.host)
    out = args.out or default_out()
    make_output_dir(out, "--out")  # last: a refused command leaves nothing behind
    config = SearchConfig(
        locustfile=args.locustfile.resolve(), host=host, out=out,
        slos=slos, user_classes=tuple(args.user_classes), hold_s=hold,
        max_in_flight=args.max_in_flight, server_pid=args.server_pid,
        database_url=args.database_url,
    )  # fmt: skip
    return CapacitySearch(config, planner)


def default_out() -> Path:
    from perflab.datadir import new_output_dir

    return new_output_dir("capacity")


def run(args: argparse.Namespace, console: Console) -> int:
    search = search_from(args)
    config, planner = search.config, search.planner
    most = planner.most_steps
    console.print(
        f"capacity: from {planner.start:g}/s, at most {most} steps of {config.hold_s:g}s "
        f"(≤ {most * (config.hold_s + 15) / 60:.0f} min); SLOs: "
        + (", ".join(escape(s.expression) for s in config.slos) or "none (keeping up only)")
    )

    def show(step) -> None:
        mark = "[green]pass[/]" if step.passed else "[red]FAIL[/]"
        reasons = ("  " + escape("; ".join(step.reasons))) if step.reasons else ""
        console.print(
            f"step {step.index} ({step.phase}) {step.target_rate:g}/s: achieved "
            f"{step.achieved_rate:.1f}/s, p95 {_ms(step.p95)} ms {mark}{reasons}"
        )

    result = search.run(show)
    print_result(search, console)
    return int(result.exit_code)


def print_result(search, console: Console) -> None:
    result = search.result
    console.print(steps_table(result.steps))
    sustainable = result.sustainable
    if result.status == "start_breached":
        console.print(
            f"[bold red]even the start rate breaches[/]: {result.steps[0].target_rate:g}/s "
            "— try a lower --start-rate"
        )
    elif sustainable is not None:
        note = ""
        if result.status == "no_breach":
            note = " (no step breached: the limit is higher — raise --max-rate or --max-steps)"
        console.print(
            f"[bold]highest sustainable rate: {sustainable.target_rate:g}/s[/] "
            f"(achieved {sustainable.achieved_rate:.1f}/s, p95 {_ms(sustainable.p95)} ms)"
            + (f"; first failing: {search.planner.failing:g}/s" if search.planner.failing else "")
            + note
        )
    knee = result.knee
    if knee is not None:
        console.print(
            f"knee: after {knee.target_rate:g}/s (achieved {knee.achieved_rate:.1f}/s, p95 "
            f"{_ms(knee.p95)} ms) p95 grows faster than throughput"
        )
    else:
        console.print("knee: not reached (p95 never grew faster than throughput)")
    if result.saturation is not None:
        evidence = "; ".join(result.saturation.evidence)
        console.print(
            f"saturated first: [bold]{result.saturation.resource}[/] "
            f"(step {result.saturation.step_index}: {escape(evidence)})"
        )
    console.print(f"capacity.json: {search.config.out / 'capacity.json'}")
    if result.chart is not None:
        console.print(f"chart (p95 against throughput): {result.chart}")


def steps_table(steps) -> Table:
    table = Table(title="capacity steps (latency ms, from the intended start)")
    for name in ("step", "phase", "target/s", "achieved/s", "req/s", "p50", "p95", "p99",
                 "errors", "server CPU max", "verdict"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("phase", "verdict") else "right")
    for step in sorted(steps, key=lambda s: s.index):
        cpu = "—" if step.server_cpu_max is None else f"{step.server_cpu_max:.0f}%"
        verdict = "[green]pass[/]" if step.passed else "[red]FAIL[/]"
        table.add_row(
            str(step.index), step.phase, f"{step.target_rate:g}", f"{step.achieved_rate:.1f}",
            f"{step.rps:.1f}", _ms(step.p50), _ms(step.p95), _ms(step.p99),
            f"{step.error_rate:.2%}", cpu, verdict,
        )  # fmt: skip
    return table


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"
