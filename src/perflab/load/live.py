"""The terminal view while a run is going: one small table refreshed every second."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True, kw_only=True)
class LiveFigures:
    """What the view shows each second: this second's rate, the run's figures so far."""

    elapsed_s: float
    duration_s: float | None  # --run-time; None: until stopped
    users: int
    arrival_rate: float | None  # the open model's target now; None in the closed model
    rps: float
    p50: float | None  # ms; None before the first request
    p95: float | None
    p99: float | None
    requests: int
    failures: int
    error_rate: float
    in_flight: int
    late: int
    dropped: int


class LiveView:
    """``with LiveView(console, target=url) as view: view.update(figures)``; silent when
    quiet. ``target`` (the --host, credentials masked) heads the table, or a piped run's
    first line: with a staging server and a local one in two terminals, which is which."""

    def __init__(self, console: Console, quiet: bool = False, target: str | None = None) -> None:
        self.console = console
        self.quiet = quiet or (not console.is_terminal and console.is_dumb_terminal)
        self.target = target
        self._live: Live | None = None
        self._last_line = -10.0

    def __enter__(self) -> LiveView:
        if not self.quiet and self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        elif not self.quiet and self.target:
            self.console.print(f"perflab run · {self.target}", highlight=False, markup=False)
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, figures: LiveFigures) -> None:
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(render_figures(figures, self.target), refresh=True)
        elif figures.elapsed_s - self._last_line >= 10:  # piped: a progress line each 10 s
            self._last_line = figures.elapsed_s
            self.console.print(progress_line(figures), highlight=False)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_figures(s: LiveFigures, target: str | None = None) -> Table:
    where = f" · {target}" if target else ""
    title = Text(f"perflab run{where} · {s.elapsed_s:,.0f}s{_of(s.duration_s)}")
    table = Table(title=title, title_justify="left", expand=False)
    load = "rate/s" if s.arrival_rate is not None else "users"
    for column in (load, "req/s", "p50 ms", "p95 ms", "p99 ms", "requests", "errors", "in flight"):
        table.add_column(column, justify="right")
    load_value = f"{s.arrival_rate:,.1f}" if s.arrival_rate is not None else str(s.users)
    errors = f"{s.failures:,} ({s.error_rate:.2%})" if s.requests else "0"
    table.add_row(
        load_value, f"{s.rps:,.1f}", _ms(s.p50), _ms(s.p95), _ms(s.p99),
        f"{s.requests:,}", errors, str(s.in_flight),
    )  # fmt: skip
    if s.late or s.dropped:
        table.caption = f"open model: {s.late:,} late starts, {s.dropped:,} not started"
    return table


def progress_line(s: LiveFigures) -> str:
    return (
        f"{s.elapsed_s:6.0f}s  {s.rps:8.1f} req/s  p95 {_ms(s.p95)} ms  "
        f"p99 {_ms(s.p99)} ms  {s.requests:,} requests  {s.failures:,} errors"
    )


def _of(duration_s: float | None) -> str:
    return f" / {duration_s:,.0f}s" if duration_s is not None else " (until stopped)"
