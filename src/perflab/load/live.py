"""The terminal view while a run is going: one small table refreshed every second."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


class LiveView:
    """``with LiveView(console) as view: view.update(snapshot)``; silent when quiet."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet or (not console.is_terminal and console.is_dumb_terminal)
        self._live: Live | None = None
        self._last_line = -10.0

    def __enter__(self) -> LiveView:
        if not self.quiet and self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, snapshot: dict[str, Any]) -> None:
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(render_snapshot(snapshot), refresh=True)
        elif snapshot["elapsed_s"] - self._last_line >= 10:  # piped: a progress line each 10 s
            self._last_line = snapshot["elapsed_s"]
            self.console.print(progress_line(snapshot), highlight=False)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_snapshot(s: dict[str, Any]) -> Table:
    title = f"perflab run · {s['elapsed_s']:,.0f}s / {s['duration_s']:,.0f}s"
    table = Table(title=title, title_justify="left", expand=False)
    load = "rate/s" if s.get("arrival_rate") is not None else "users"
    for column in (load, "req/s", "p50 ms", "p95 ms", "p99 ms", "requests", "errors", "in flight"):
        table.add_column(column, justify="right")
    load_value = s.get("arrival_rate") if load == "rate/s" else s.get("users")
    errors = f"{s['failures']:,} ({s['error_rate']:.2%})" if s["requests"] else "0"
    table.add_row(
        f"{load_value:,.1f}" if isinstance(load_value, float) else str(load_value),
        f"{s['rps']:,.1f}", _ms(s.get("p50")), _ms(s.get("p95")), _ms(s.get("p99")),
        f"{s['requests']:,}", errors, str(s.get("in_flight", 0)),
    )  # fmt: skip
    if s.get("late") or s.get("dropped"):
        table.caption = f"open model: {s['late']:,} late starts, {s['dropped']:,} not started"
    return table


def progress_line(s: dict[str, Any]) -> str:
    return (
        f"{s['elapsed_s']:6.0f}s  {s['rps']:8.1f} req/s  p95 {_ms(s.get('p95'))} ms  "
        f"p99 {_ms(s.get('p99'))} ms  {s['requests']:,} requests  {s['failures']:,} errors"
    )
