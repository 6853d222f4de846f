"""The ``--perflab`` sweep: every N+1 and duplicate statement in the requests a suite makes.

The plugin registers a ``Sweep`` only when ``--perflab`` is given. Each test's call phase
runs inside one ``Capture``; the findings of its requests (not of the test's own code, whose
fixture loops of INSERTs would drown them) travel on the test's report as plain dicts, so
the process that writes the summary gathers them from reports alone — the same path with
or without pytest-xdist, whose workers send their reports to the controller. There they
are grouped into one row per finding (kind, place, statement shape, view), matched against
the ``perflab_allow`` list, and written as a terminal table, JSON and, on request, HTML.

In ``fail`` mode a test where a finding not allowed is found fails with a message naming
each one; an allowed finding is still reported, marked with the entry that allowed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from perflab.budgets.sweep_report import (
    KIND_LABELS,
    SweepReport,
    SweepRow,
    write_html,
    write_json,
    write_terminal,
)

REPORT_ATTRIBUTE = "perflab_sweep"  # a test report's findings (xdist serializes it along)
DEFAULT_JSON = "perflab-sweep.json"
ALLOW_SYNTAX = "'<n_plus_one|duplicate|*> <place glob> [<view glob>]'"
NO_PLACE = "(no call site)"
LIBRARY_DIR = "site-packages/"
_FOUND = pytest.StashKey[list[dict[str, Any]]]()


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One ``perflab_allow`` line: a kind (or ``*``), a glob on the finding's place and an
    optional glob on the view's dotted name (``*`` when left out)."""

    text: str
    kind: str
    place: str
    view: str = "*"

    def matches(self, kind: str, place: str, view: str) -> bool:
        return (
            self.kind in ("*", kind) and fnmatchcase(place, self.place)
            and fnmatchcase(view, self.view)
        )  # fmt: skip


def parse_allow_list(lines: list[str]) -> list[AllowEntry]:
    """The ini's lines as entries (``#`` starts a comment line); a malformed line is a
    usage error naming it and the syntax."""
    entries = []
    for line in lines:
        text = " ".join(line.split())
        if not text or text.startswith("#"):
            continue
        parts = text.split(" ")
        if len(parts) not in (2, 3) or parts[0] not in ("*", *KIND_LABELS):
            raise pytest.UsageError(f"perflab_allow: {text!r} is not {ALLOW_SYNTAX}")
        entries.append(AllowEntry(text, *parts))
    return entries


def allowed_by(entries: list[AllowEntry], kind: str, place: str, view: str) -> str | None:
    """The first entry that allows this finding, as written."""
    for entry in entries:
        if entry.matches(kind, place, view):
            return entry.text
    return None


def place_of(finding) -> str:
    """Where a finding is, as the sweep groups and allows it: the innermost part of its
    location (the app line, template line or serializer field), as ``detect_findings``
    groups an N+1, an installed library's path cut to its package (the same on every
    machine, for the allow-list)."""
    from perflab.budgets.explain import short_location

    return short_location((finding.location or finding.callsite or NO_PLACE).partition(" ← ")[0])


def library_of(finding) -> str | None:
    """The installed package a finding's place is in when the app has no line in it: no call
    site, no template line, and an origin (the innermost frame outside the ORM, or a DRF
    serializer field's declaration) in site-packages or outside the project's directory —
    Wagtail validating a page in its admin, say. None: the place is the app's."""
    if finding.callsite or finding.template or not finding.origin:
        return None
    path = finding.origin.split(":", 1)[0]
    if LIBRARY_DIR not in path and Path(path).exists():  # relative to the working directory
        return None
    from perflab.budgets.explain import short_location

    return short_location(path).split("/", 1)[0]


def request_findings(capture) -> list:
    """The capture's findings in requests (``Located``), not in the test's own code."""
    return [located for located in capture.findings if located.record is not capture.outside]


def findings_of(test_id: str, located_findings: list) -> list[dict[str, Any]]:
    """A test's findings as plain dicts, what its report carries (one per finding and
    view: a test that meets one N+1 in three requests has it once, with the most
    statements of any)."""
    found: dict[tuple, dict[str, Any]] = {}
    for located in located_findings:
        record, finding = located.record, located.finding
        item = {
            "test": test_id,
            "kind": finding.kind,
            "place": place_of(finding),
            "view": record.view or record.path,
            "fingerprint_hash": finding.fingerprint_hash,
            "count": finding.count,
            "hint": finding.hint,
            "location": finding.location or finding.callsite or NO_PLACE,
            "fingerprint": finding.fingerprint,
            "example_sql": finding.example_sql,
            "path": f"{record.method} {record.path}",
            "total_ms": round(finding.total_ms, 3),
            "library": library_of(finding),
        }
        key = (item["kind"], item["place"], item["fingerprint_hash"], item["view"])
        if key not in found or item["count"] > found[key]["count"]:
            found[key] = item
    return list(found.values())


def grouped(found: list[dict[str, Any]], entries: list[AllowEntry]) -> list[SweepRow]:
    """One row per (kind, place, statement shape, view) over every test, most statements
    first; each row's tests in the order they ran."""
    rows: dict[tuple, SweepRow] = {}
    for item in found:
        key = (item["kind"], item["place"], item["fingerprint_hash"], item["view"])
        row = rows.get(key)
        if row is None:
            rows[key] = SweepRow(
                kind=item["kind"], place=item["place"], view=item["view"],
                fingerprint_hash=item["fingerprint_hash"], count=item["count"],
                tests=[item["test"]], hint=item["hint"], location=item["location"],
                fingerprint=item["fingerprint"], example_sql=item["example_sql"],
                paths=[item["path"]], total_ms=item["total_ms"], library=item["library"],
                allowed_by=allowed_by(entries, item["kind"], item["place"], item["view"]),
            )  # fmt: skip
            continue
        row.count = max(row.count, item["count"])
        row.total_ms = max(row.total_ms, item["total_ms"])
        if item["test"] not in row.tests:
            row.tests.append(item["test"])
        if item["path"] not in row.paths:
            row.paths.append(item["path"])
    return sorted(rows.values(), key=lambda row: (-row.count, -len(row.tests), row.key))


def failure_message(refused: list) -> str:
    """Why a test fails in ``--perflab=fail`` mode: each finding as a budget's failure
    explains it (``perflab.budgets.explain``), then the allow line that would accept it."""
    from perflab.budgets.explain import describe_findings

    lines = [describe_findings(refused, "perflab sweep: N+1s and duplicates not in perflab_allow")]
    lines.append("Known and accepted? A perflab_allow line for each:")
    suggestions = dict.fromkeys(
        f"  {located.finding.kind} {place_of(located.finding)} "
        f"{located.record.view or located.record.path}"
        for located in refused
    )
    return "\n".join(lines + list(suggestions))


def _open_capture():
    """A capture for a test, or None where there is nothing to capture (Django not set up)."""
    from django.conf import settings

    if not settings.configured:
        return None
    from perflab.budgets.capture import Capture

    return Capture()


class Sweep:
    """The ``--perflab`` plugin object: captures each test's call phase, gathers findings
    from the reports and writes the summary where the run is reported (not on a worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.mode: str = config.option.perflab_sweep
        self.allow = parse_allow_list(config.getini("perflab_allow"))
        base = config.invocation_params.dir
        self.json_path = base / (config.option.perflab_json or DEFAULT_JSON)
        self.html_path = base / config.option.perflab_html if config.option.perflab_html else None
        self.found: list[dict[str, Any]] = []
        self.tests_swept = 0
        self.report: SweepReport | None = None
        self.written: list[Path] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        capture = _open_capture()
        if capture is None:
            return (yield)
        try:
            with capture:
                result = yield
        finally:
            located = request_findings(capture)
            item.stash[_FOUND] = findings_of(item.nodeid, located)
        if self.mode == "fail":
            refused = [
                one for one in located
                if not allowed_by(
                    self.allow, one.finding.kind, place_of(one.finding),
                    one.record.view or one.record.path,
                )
            ]  # fmt: skip
            if refused:
                pytest.fail(failure_message(refused), pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.when == "call" and _FOUND in item.stash:
            setattr(report, REPORT_ATTRIBUTE, item.stash[_FOUND])
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = getattr(report, REPORT_ATTRIBUTE, None)
        if report.when == "call" and found is not None:
            self.tests_swept += 1
            self.found.extend(found)

    def summary(self) -> SweepReport:
        """What the sweep found, grouped, with the allow-list's entries that matched nothing."""
        rows = grouped(self.found, self.allow)
        stale = [
            entry.text for entry in self.allow
            if not any(entry.matches(row.kind, row.place, row.view) for row in rows)
        ]  # fmt: skip
        return SweepReport(self.mode, self.tests_swept, rows, stale)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # an xdist worker: its controller reports
            return
        self.report = self.summary()
        write_json(self.report, self.json_path)
        self.written = [self.json_path]
        if self.html_path is not None:
            write_html(self.report, self.html_path)
            self.written.append(self.html_path)

    def pytest_terminal_summary(self, config: pytest.Config) -> None:
        if self.report is not None:
            write_terminal(self.report, config, self.written)
