"""Terminal tables for a finished run, built from its RunResults (never the runner)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from perflab.load.results import EndpointFigures, RunResults

LATENCY_COLUMNS = (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("p99.9", "p99_9"))


def endpoints_table(results: RunResults) -> Table:
    table = Table(title="client side (perflab's HDR statistics, ms)", title_justify="left")
    for column in ("method", "name"):
        table.add_column(column, overflow="fold")
    for column in ("requests", "fails", "req/s", *(c for c, _ in LATENCY_COLUMNS), "max"):
        table.add_column(column, justify="right")
    for row in results.endpoints:
        table.add_row(*_cells(row))
    table.add_section()
    table.add_row(*_cells(results.totals), style="bold")
    return table


def _cells(row: EndpointFigures) -> list[str]:
    latency = row.latency
    fails = f"{row.failures:,}" + (f" ({row.error_rate:.1%})" if row.failures else "")
    return [
        row.method, escape(row.name), f"{row.requests:,}", fails, f"{row.rps:,.1f}",
        *(f"{getattr(latency, key):,.1f}" for _, key in LATENCY_COLUMNS), f"{latency.max:,.1f}",
    ]  # fmt: skip


def slo_table(results: RunResults) -> Table | None:
    if not results.slos:
        return None
    table = Table(title=f"SLOs: {results.verdict.upper()}", title_justify="left")
    table.add_column("SLO")
    table.add_column("result")
    table.add_column("figures")
    for slo in results.slos:
        mark = "[green]pass[/]" if slo.passed else "[bold red]BREACHED[/]"
        table.add_row(escape(slo.expression), mark, escape(slo.detail))
    return table


def open_model_line(results: RunResults) -> str | None:
    model = results.open_model
    if model is None:
        return None
    return (
        f"open model: {model.started:,} iterations started on schedule or late, "
        f"{model.late:,} late (max {model.max_lateness_ms:,.0f} ms), "
        f"{model.dropped:,} never started"
    )
