"""What the ``--perflab`` sweep found, as a person and a program read it: the schema of its
JSON file (declared once, here), the terminal table and the HTML page.

A finding is one row however many tests met it: the same N+1 in a view that twelve tests
call is one thing to fix, not twelve. rich and Jinja2 (the ``testing`` extra) are imported
where they are used, as the plugin loads in every pytest run.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SCHEMA = "perflab-sweep/1"
KIND_LABELS = {"n_plus_one": "N+1", "duplicate": "duplicate"}


@dataclass(slots=True)
class SweepRow:
    """One finding — the same kind, place, statement shape and view — over every test where
    a request met it. This is the JSON file's ``findings[]`` item, field for field."""

    kind: str  # "n_plus_one" | "duplicate"
    place: str  # where: app line, template line or serializer field (innermost part)
    view: str  # the view's dotted name (the request's path when it resolved to none)
    fingerprint_hash: str
    count: int  # the most statements of this finding in one request
    tests: list[str]  # the ids of the tests where it was found, in the order they ran
    hint: str | None  # e.g. "select_related('author')"; None for a duplicate
    location: str  # the full location (the place, and the frames around it)
    fingerprint: str  # the statement with its values taken out
    example_sql: str  # the first statement, as run
    paths: list[str]  # the request paths it was found on
    total_ms: float  # the most time its statements took in one request
    # the installed package the place is in when the app has no line in it (no call site,
    # no template line), e.g. "wagtail"; None: the app's own code
    library: str | None = None
    allowed_by: str | None = None  # the perflab_allow entry that matched, if one did

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.place, self.fingerprint_hash, self.view)


@dataclass(slots=True)
class SweepReport:
    """The whole JSON file: ``json.load`` gives ``dataclasses.asdict`` of this."""

    mode: str  # "report" | "fail"
    tests_swept: int  # tests whose call phase ran under the sweep
    findings: list[SweepRow] = field(default_factory=list)  # most statements first
    stale_allow: list[str] = field(default_factory=list)  # perflab_allow entries unmatched
    schema: str = SCHEMA

    @property
    def tests_with_findings(self) -> int:
        return len({test for row in self.findings for test in row.tests})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"


def write_json(report: SweepReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json(), encoding="utf-8")


def headline(report: SweepReport) -> str:
    """One line: how many findings, in how many tests, how many allowed."""
    allowed = sum(1 for row in report.findings if row.allowed_by)
    found = len(report.findings)
    line = (
        f"{found} finding{'s' * (found != 1)} in {report.tests_with_findings} of "
        f"{report.tests_swept} tests"
    )
    return line + (f" ({allowed} allowed)" if allowed else "")


# -- terminal -----------------------------------------------------------------------------


def write_terminal(report: SweepReport, config: pytest.Config, files: list[Path]) -> None:
    """The summary at the end of the run: a table a person reads, on pytest's terminal."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    writer = config.get_terminal_writer()
    reporter.write_sep("=", f"perflab sweep: {headline(report)}")
    in_app = [row for row in report.findings if row.library is None]
    if in_app:
        reporter.write(_table(in_app, writer.fullwidth, writer.hasmarkup))
    for line in library_lines(report.findings):
        reporter.write_line(line)
    for entry in report.stale_allow:
        reporter.write_line(f"perflab_allow entry that matched nothing: {entry}", yellow=True)
    for path in files:
        reporter.write_line(f"perflab sweep written to {path}")


def library_lines(rows: list[SweepRow]) -> list[str]:
    """Findings with no app line in them (a library's own statements: Wagtail validating a
    page in its admin), one line per package rather than a row each: they are in the JSON
    and HTML files, and a test they fail in ``fail`` mode names each one."""
    per_library: dict[str, list[SweepRow]] = {}
    for row in rows:
        if row.library is not None:
            per_library.setdefault(row.library, []).append(row)
    lines = []
    for library, found in sorted(per_library.items(), key=lambda item: -len(item[1])):
        allowed = sum(1 for row in found if row.allowed_by)
        lines.append(
            f"inside {library} (no app line): {len(found)} finding{'s' * (len(found) != 1)}"
            + (f", {allowed} allowed" if allowed else f"; allow them with '* {library}/*'")
        )
    return lines


def _table(rows: list[SweepRow], width: int, color: bool) -> str:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # without the testing extra: the same columns, one line per row
        return "".join(
            f"{_kind(row)} ×{row.count} tests={len(row.tests)} {row.place} {row.view} "  # noqa: RUF001
            f"{row.hint or ''} {row.tests[0]}\n"
            for row in rows
        )
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, expand=False, show_lines=True)
    table.add_column("kind")
    table.add_column("stmts", justify="right")
    table.add_column("tests", justify="right")
    table.add_column("place · view · hint · first test", overflow="fold")
    for row in rows:
        where = Text(row.place, style="bold")
        where.append(f"\nview {row.view}" + (f"\nhint {row.hint}" if row.hint else ""))
        where.append(f"\nfirst {row.tests[0]}", style="dim")
        if row.allowed_by:
            where.append(f"\nallowed by {row.allowed_by}", style="dim")
        table.add_row(
            _kind(row), str(row.count), str(len(row.tests)), where,
            style="dim" if row.allowed_by else None,
        )  # fmt: skip
    out = io.StringIO()
    console = Console(
        file=out, width=max(width, 80), force_terminal=color, no_color=not color,
        highlight=False, soft_wrap=False,
    )  # fmt: skip
    console.print(table)
    return out.getvalue()


def _kind(row: SweepRow) -> str:
    return KIND_LABELS.get(row.kind, row.kind) + (" (allowed)" if row.allowed_by else "")


# -- HTML ---------------------------------------------------------------------------------

BAR_HEIGHT = 18  # px per finding in the chart
BAR_WIDTH = 360  # px of the longest bar


def render_html(report: SweepReport) -> str:
    """A self-contained page (no script, no network): the table and a bar chart of
    statements per finding, every value escaped by the template engine."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("perflab.budgets", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    most = max((row.count for row in report.findings), default=1)
    bars = [
        {"y": n * BAR_HEIGHT, "width": max(2, round(row.count / most * BAR_WIDTH)), "row": row}
        for n, row in enumerate(report.findings)
    ]
    return env.get_template("sweep.html.j2").render(
        report=report, headline=headline(report), kinds=KIND_LABELS, bars=bars,
        bar_height=BAR_HEIGHT, bar_width=BAR_WIDTH,
    )  # fmt: skip


def write_html(report: SweepReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
