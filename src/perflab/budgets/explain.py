"""How a capture reads in a failure message: statements, N+1s and duplicates, requests.

A budget that says "5 != 3" sends its reader to a debugger. These texts say which
statements ran, from which line (app line, template line, serializer field), in which
request, and what would fix an N+1: the budget, the snapshot and the sweep all explain a
capture with them. Every list is bounded, so a test that runs a thousand statements still
fails with a message a person reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from perflab.budgets.capture import OUTSIDE, Capture, Located
from perflab.probe.records import QueryEvent, RequestRecord
from perflab.probe.sqltext import shorten_sql

__all__ = [
    "MAX_REQUESTS",
    "MAX_STATEMENTS",
    "describe_capture",
    "describe_finding",
    "describe_findings",
    "describe_request",
    "describe_statement",
    "short_location",
]

MAX_STATEMENTS = 20  # statements listed in one message; the rest are counted
MAX_REQUESTS = 20  # requests listed in one message
MAX_FINDINGS = 10  # N+1 or duplicate groups listed in one message
SQL_CHARS = 160  # a statement's line
EXAMPLE_CHARS = 400  # a finding's example statement
ELLIPSIS = "…"
ARROW = " ← "  # between the parts of a location, innermost first
_LIBRARY = "site-packages/"


def short_location(location: str | None) -> str:
    """A location's parts with the installed libraries' paths cut to the package
    (``django/core/paginator.py:110:count`` rather than ``.venv/lib/…/site-packages/…``)."""
    if not location:
        return "(no location)"
    return ARROW.join(part.rpartition(_LIBRARY)[2] for part in location.split(ARROW))


def ms(value: float) -> str:
    """Milliseconds as a person reads them: two decimals below 10, then fewer."""
    if value < 10:
        return f"{value:.2f} ms"
    if value < 100:
        return f"{value:.1f} ms"
    return f"{value:.0f} ms"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_statement(query: QueryEvent, number: int | None = None, indent: str = "  ") -> str:
    """Two lines: the statement's fingerprint, shortened; then its time, its database alias
    when not ``default``, and where it ran."""
    prefix = f"{number:>3}. " if number is not None else ""
    details = [ms(query.duration_ms)]
    if query.alias != "default":
        details.append(f"on {query.alias!r}")
    details.append(short_location(query.location or query.callsite))
    return (
        f"{indent}{prefix}{shorten_sql(query.fingerprint, SQL_CHARS)}\n"
        f"{indent}{' ' * len(prefix)}{' · '.join(details)}"
    )


def describe_request(record: RequestRecord, queries: list[QueryEvent] | None = None) -> str:
    """One line: ``GET /api/posts/ → app.views.PostList: 200, 3 statements, 1.20 ms``
    (the route pattern when Django resolved one, else the path); the test code's own
    statements read ``test code: …``. ``queries`` defaults to the record's statements."""
    queries = record.queries if queries is None else queries
    counted = f"{_plural(len(queries), 'statement')}, {ms(sum(q.duration_ms for q in queries))}"
    if record.view == OUTSIDE:
        return f"test code (outside any request): {counted}"
    return f"{_request_name(record)}: {record.status}, {counted}"


def describe_finding(located: Located) -> str:
    """An N+1 or a duplicate: what, how many, where (the app line, template line or
    serializer field), in which request, the hint, and an example statement."""
    finding, record = located.finding, located.record
    kind = "N+1" if finding.kind == "n_plus_one" else "duplicate"
    lines = [
        f"  {kind}: {finding.count} statements, {ms(finding.total_ms)}, "
        f"at {short_location(finding.location or finding.callsite)}",
        f"      in {_request_name(record)}",
    ]
    if finding.hint:
        lines.append(f"      hint: {finding.hint}")
    lines.append(f"      {shorten_sql(finding.example_sql, EXAMPLE_CHARS)}")
    return "\n".join(lines)


def describe_findings(findings: Iterable[Located], title: str) -> str:
    """``title (n):`` and each finding, at most ``MAX_FINDINGS``; empty when none."""
    findings = list(findings)
    if not findings:
        return ""
    lines = [f"{title} ({len(findings)}):"]
    lines += [describe_finding(located) for located in findings[:MAX_FINDINGS]]
    if len(findings) > MAX_FINDINGS:
        lines.append(f"  {ELLIPSIS} and {len(findings) - MAX_FINDINGS} more groups")
    return "\n".join(lines)


def _request_name(record: RequestRecord) -> str:
    """``GET /api/posts/ → app.views.PostList``: the route pattern when Django resolved one,
    else the path; the view when there is one."""
    if record.view == OUTSIDE:
        return "the test code, outside any request"
    where = f"/{record.route}" if record.route else record.path
    return f"{record.method} {where} → {record.view}" if record.view else f"{record.method} {where}"


def describe_capture(
    capture: Capture,
    using: str | None = None,
    counted: Iterable[QueryEvent] | None = None,
    max_statements: int = MAX_STATEMENTS,
) -> str:
    """The whole block: a line per request and, under each, its statements (numbered in
    the block's order, at most ``max_statements`` in all). ``using`` keeps one database
    alias; ``counted`` (default: every statement but transaction control) is the set of
    statements a budget counted."""
    kept = set(map(id, capture.queries if counted is None else counted))
    per_record = [
        (record, [q for q in record.queries if id(q) in kept and (using in (None, q.alias))])
        for record in capture.records
    ]
    total = sum(len(queries) for _, queries in per_record)
    db_ms = sum(q.duration_ms for _, queries in per_record for q in queries)
    on = f" on {using!r}" if using else ""
    lines = [
        f"What ran: {_plural(len(capture.requests), 'request')}, "
        f"{_plural(total, 'statement')}{on}, {ms(db_ms)} in the database"
    ]
    if capture.skipped_queries:
        lines.append(
            f"  (and {_plural(capture.skipped_queries, 'more statement')} beyond the "
            "probe's MAX_QUERIES_PER_REQUEST: counted, not kept)"
        )
    number, shown = 0, 0
    for listed, (record, queries) in enumerate(per_record):
        if listed == MAX_REQUESTS:
            lines.append(f"  {ELLIPSIS} and {_plural(len(per_record) - listed, 'more request')}")
            break
        lines.append(f"  {describe_request(record, queries)}")
        for query in queries:
            number += 1
            if shown < max_statements:
                lines.append(describe_statement(query, number, indent="    "))
                shown += 1
    if shown < total:
        lines.append(f"  {ELLIPSIS} and {_plural(total - shown, 'more statement')}")
    return "\n".join(lines)
