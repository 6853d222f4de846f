"""The live view: what a terminal shows each second, and a piped run's progress lines."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from perflab.load.live import LiveFigures, LiveView, progress_line, render_figures

FIGURES = LiveFigures(
    elapsed_s=12.0, duration_s=60.0, users=20, arrival_rate=None, rps=140.0, p50=9.5,
    p95=30.25, p99=None, requests=1680, failures=3, error_rate=3 / 1680, in_flight=4, late=0,
    dropped=0,
)  # fmt: skip


def rendered(figures: LiveFigures) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(render_figures(figures))
    return console.file.getvalue()


def test_the_closed_model_shows_users_and_the_open_model_its_rate_and_lateness():
    closed = rendered(FIGURES)
    assert "users" in closed and "rate/s" not in closed and "late starts" not in closed
    assert "1,680" in closed and "3 (0.18%)" in closed and "30.2" in closed
    opened = rendered(replace(FIGURES, arrival_rate=50.0, late=7, dropped=1))
    assert "rate/s" in opened and "50.0" in opened
    assert "open model: 7 late starts, 1 not started" in opened


def test_a_piped_run_prints_a_progress_line_every_ten_seconds():
    out = io.StringIO()
    with LiveView(Console(file=out, force_terminal=False, width=200)) as view:
        for second in range(25):
            view.update(replace(FIGURES, elapsed_s=float(second)))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 0, 10 and 20 s
    assert lines[-1] == progress_line(replace(FIGURES, elapsed_s=20.0))
    assert "p95 30.2 ms  p99 - ms  1,680 requests  3 errors" in lines[-1]


def test_the_target_heads_the_table_and_a_piped_runs_output():
    assert "perflab run · 12s / 60s" in rendered(FIGURES)  # no target given: none shown
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(render_figures(FIGURES, "http://[::1]:8000"))  # brackets are not markup
    assert "perflab run · http://[::1]:8000 · 12s / 60s" in console.file.getvalue()
    out = io.StringIO()
    target = "https://user:***@staging.example.com/shop"
    with LiveView(Console(file=out, force_terminal=False, width=200), target=target) as view:
        for second in range(11):
            view.update(replace(FIGURES, elapsed_s=float(second)))
    lines = out.getvalue().splitlines()
    assert lines[0] == f"perflab run · {target}"
    assert len(lines) == 3  # the target, then progress at 0 and 10 s


def test_a_quiet_view_does_not_name_the_target_either():
    out = io.StringIO()
    with LiveView(Console(file=out, force_terminal=False), quiet=True, target="http://h") as v:
        v.update(FIGURES)
    assert out.getvalue() == ""
