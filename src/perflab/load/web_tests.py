"""Every test of one web UI session, for perflab's "tests" tab and its page.

Each start-stop from Locust's web UI is a run directory of its own (``test-01``, ``test-02``…);
without this list only the terminal would say where the earlier ones went. A ``WebTest`` is one
test as the list shows it: finished, from its outcome (what results.json says); running, from
the figures so far. The tab's cells are text (Locust's extended tables render no links), so the
links to each report are on ``/perflab/tests``, a page of perflab's served by the UI, which
Locust's "Download Data" tab links to.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.load.durations import format_duration
from perflab.load.results import RESULTS, EndpointFigures

if TYPE_CHECKING:
    from perflab.load.runner import RunOutcome
    from perflab.load.slo import SLOResult

__all__ = ["COLUMNS", "WebTest", "report_of", "session_rows", "tests_page", "written_report"]

REPORT = "report.html"  # what perflab's report writes into a run directory


@dataclass(frozen=True, kw_only=True)
class WebTest:
    """One test of the session: where it went, when, how much load, how it went."""

    number: int  # 1 for the session's first test
    run_dir: Path
    started: float  # epoch seconds: when the browser started it
    ended: float | None = None  # None until its files are written
    status: str  # Locust's state and users while it runs; then results.json's status
    users: int  # the most users it had at once
    requests: int
    failures: int
    p95: float | None  # ms; None before any request
    verdict: str | None = None  # the SLOs' verdict; None without --slo

    @classmethod
    def measuring(
        cls, number: int, run_dir: Path, started: float, users: int, totals: EndpointFigures,
        slo_results: list[SLOResult] | None, status: str,
    ) -> WebTest:  # fmt: skip
        """A test still running: its figures so far, the SLOs judged on them so far."""
        return cls(
            number=number, run_dir=run_dir, started=started, status=status, users=users,
            requests=totals.requests, failures=totals.failures,
            p95=totals.latency.p95 if totals.requests else None,
            verdict=_verdict(slo_results, so_far=True),
        )  # fmt: skip

    @classmethod
    def finished(cls, number: int, started: float, users: int, outcome: RunOutcome) -> WebTest:
        """A stopped test, as its results say (``outcome.results`` is what results.json has)."""
        results = outcome.results
        totals = results.totals
        return cls(
            number=number, run_dir=outcome.run_dir or Path(), started=started,
            ended=datetime.fromisoformat(results.ended_at).timestamp(), status=results.status,
            users=users, requests=totals.requests, failures=totals.failures,
            p95=totals.latency.p95 if totals.requests else None,
            verdict=_verdict(outcome.slo_results if results.slos else None, so_far=False),
        )  # fmt: skip

    @property
    def name(self) -> str:
        return self.run_dir.name


def _verdict(results: list[SLOResult] | None, so_far: bool) -> str | None:
    """The SLOs' verdict: pass, or fail with the first breached SLO's sentence; None when no
    SLO was given. So far, an SLO with nothing to judge yet is not a breach."""
    if not results:
        return None
    breached = [r for r in results if not r.passed and not (so_far and r.actual is None)]
    if so_far and not breached and all(r.actual is None for r in results):
        return "nothing to judge yet"
    suffix = " so far" if so_far else ""
    if breached:
        return f"fail{suffix}: {breached[0].detail}"
    return f"pass{suffix}"


def report_of(test: WebTest | None) -> Path | None:
    """The test's report.html once written: a file directly in a perflab run directory (one
    with results.json), never a path that leads elsewhere (a symlink out of it)."""
    if test is None or test.ended is None:
        return None
    return written_report(test.run_dir)


def written_report(run_dir: Path) -> Path | None:
    """``run_dir``'s report.html, if it is one: a regular file in the directory itself, next
    to results.json."""
    run_dir = run_dir.resolve()
    report = (run_dir / REPORT).resolve()
    if report.parent != run_dir or not report.is_file() or not (run_dir / RESULTS).is_file():
        return None
    return report


def report_path(base_path: str, test: WebTest) -> str:
    """Where the UI serves the test's report (under Locust's ``--web-base-path``)."""
    return f"{base_path}/perflab/tests/{test.number}/report"


def session_rows(tests: list[WebTest], base_path: str, now: float) -> list[dict[str, Any]]:
    """The tab's rows, first test first: one per test, the current one with its figures so
    far; one row saying how to start when there is none."""
    if not tests:
        return [{"test": "-", "status": "no test yet: start one from Locust's form"}]
    rows = []
    for test in tests:
        report = report_of(test)
        row: dict[str, Any] = {
            "test": test.number,
            "status": test.status,
            "started": _clock(test.started),
            "duration": format_duration(round((test.ended or now) - test.started)),
            "users": test.users,
            "requests": test.requests,
            "failures": test.failures,
            "p95": test.p95 if test.p95 is not None else "",
        }
        if test.verdict is not None:
            row["slos"] = test.verdict
        row["report"] = report_path(base_path, test) if report else _no_report(test)
        row["directory"] = str(test.run_dir)
        rows.append(row)
    return rows


def _no_report(test: WebTest) -> str:
    if test.ended is None:
        return "written when the test stops"
    return "none (see the terminal)"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%H:%M:%S")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<link rel="icon" href="../assets/favicon-light.png">
<title>perflab: the tests of this web UI</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ccc; text-align: left; }}
td.n {{ text-align: right; }}
</style></head>
<body>
<h1>The tests of this web UI</h1>
<p>Each start and stop in <a href="../">Locust's web UI</a> is one perflab run, in a directory
of its own.{live}</p>
<table>
<thead><tr>{heads}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body></html>
"""
COLUMNS = [
    ("test", "Test"), ("status", "Status"), ("started", "Started"), ("duration", "Duration"),
    ("users", "Users"), ("requests", "Requests"), ("failures", "Failures"), ("p95", "p95 (ms)"),
    ("slos", "SLOs"), ("report", "Report"), ("directory", "Directory"),
]  # fmt: skip
NUMBERS = {"test", "users", "requests", "failures", "p95"}


def tests_page(tests: list[WebTest], base_path: str, now: float, slos: bool) -> str:
    """The list as a page of its own, each report a link; it reloads itself every 2 s while
    a test runs (Locust's UI polls as often)."""
    columns = [(key, title) for key, title in COLUMNS if slos or key != "slos"]
    running = any(test.ended is None for test in tests)
    body = []
    for test, row in zip(tests, session_rows(tests, base_path, now), strict=False):
        cells = []
        for key, _title in columns:
            text = html.escape(str(row.get(key, "")))
            if key == "report" and report_of(test) is not None:
                text = f'<a href="tests/{test.number}/report">{html.escape(test.name)} report</a>'
            cells.append(f'<td class="n">{text}</td>' if key in NUMBERS else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not tests:
        body.append(
            f'<tr><td colspan="{len(columns)}">no test yet: start one from the form</td></tr>'
        )
    return PAGE.format(
        refresh='<meta http-equiv="refresh" content="2">' if running else "",
        live=" This page reloads every 2 s while a test runs." if running else "",
        heads="".join(f"<th>{html.escape(title)}</th>" for _key, title in columns),
        rows="\n".join(body),
    )
