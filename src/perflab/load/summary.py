"""Terminal tables for a finished run, built from its results dict (never the runner)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

LATENCY_COLUMNS = (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("p99.9", "p99_9"))


def endpoints_table(results: dict[str, Any]) -> Table:
    table = Table(title="client side (perflab's HDR statistics, ms)", title_justify="left")
    for column in ("method", "name"):
        table.add_column(column, overflow="fold")
    for column in ("requests", "fails", "req/s", *(c for c, _ in LATENCY_COLUMNS), "max"):
        table.add_column(column, justify="right")
    for row in results["endpoints"]:
        table.add_row(*_cells(row))
    table.add_section()
    table.add_row(*_cells(results["totals"]), style="bold")
    return table


def _cells(row: dict[str, Any]) -> list[str]:
    latency = row["latency"]
    fails = f"{row['failures']:,}" + (f" ({row['error_rate']:.1%})" if row["failures"] else "")
    return [
        row["method"], escape(row["name"]), f"{row['requests']:,}", fails, f"{row['rps']:,.1f}",
        *(f"{latency[key]:,.1f}" for _, key in LATENCY_COLUMNS), f"{latency['max']:,.1f}",
    ]  # fmt: skip


def slo_table(results: dict[str, Any]) -> Table | None:
    if not results.get("slos"):
        return None
    verdict = results["verdict"].upper()
    table = Table(title=f"SLOs: {verdict}", title_justify="left")
    table.add_column("SLO")
    table.add_column("result")
    table.add_column("figures")
    for slo in results["slos"]:
        mark = "[green]pass[/]" if slo["passed"] else "[bold red]BREACHED[/]"
        table.add_row(escape(slo["expression"]), mark, escape(slo["detail"]))
    return table


def open_model_line(results: dict[str, Any]) -> str | None:
    model = results.get("open_model")
    if not model:
        return None
    return (
        f"open model: {int(model.get('started', 0)):,} iterations started on schedule or late, "
        f"{int(model.get('late', 0)):,} late (max {model.get('max_lateness_ms', 0):,.0f} ms), "
        f"{int(model.get('dropped', 0)):,} never started"
    )
