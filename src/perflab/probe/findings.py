"""What is wrong with a request's statements: N+1 loops and exact duplicates.

``detect_findings`` runs once per recorded request, in one pass over its statements; the
hint that comes with an N+1 is ``perflab.probe.hints``'s.
"""

from __future__ import annotations

from typing import Any

from perflab.probe.fingerprint import fingerprint_hash
from perflab.probe.hints import polymorphic_key, safe_hint
from perflab.probe.masking import MASK
from perflab.probe.records import Finding, QueryEvent

__all__ = ["detect_findings"]


def detect_findings(queries: list[QueryEvent], threshold: int = 5) -> list[Finding]:
    """N+1 loops and exact duplicates among one request's statements, costliest first.

    N+1 (``kind="n_plus_one"``): statements with the same fingerprint from the same place,
    at least ``threshold`` of them (taken as at least 2). The place is the innermost part
    of the statement's location (``QueryEvent.location``: the app line, the template line
    or the serializer field, else the view and the innermost frame outside the ORM); a
    statement with no location at all is grouped by its fingerprint alone, so a missing
    location never hides a loop. Per-row lookups of a multi-table inheritance family
    (Wagtail's ``.specific`` per page) differ only by the subclass table: from one place,
    they are one group (``polymorphic_key``). ``count``/``total_ms`` cover the group,
    ``example_sql`` is its first statement, ``hint`` is ``relation_hint(fingerprint)``.

    Duplicate (``kind="duplicate"``): the same SQL text executed at least twice with
    the same parameters, whatever the call sites. A statement whose parameters were
    not recorded (``params is None``: every non-SELECT and ``executemany``, as the
    probe keeps parameters for SELECTs only) or were masked (a secret column) is left
    out: its values are unknown, and ten INSERTs of ten different rows share one SQL
    text. A statement without placeholders has ``params == []`` and is compared on
    its text. ``count`` is the number of executions, ``total_ms`` their time,
    ``callsite`` the first execution's, ``hint`` None.

    Both rules apply independently: a loop loading the same row again and again (say
    ``post.category`` for posts sharing one category) gives an N+1 finding and a
    duplicate finding. Findings are sorted by ``total_ms``, descending (ties keep
    N+1 findings first, then first appearance).
    """
    threshold = max(threshold, 2)
    if len(queries) < threshold and len({q.sql for q in queries}) == len(queries):
        return []  # too few for a loop, and no text twice: most requests, decided at once
    loops: dict[tuple, list[Any]] = {}  # (statement family, place) -> [count, ms, first]
    repeats: dict[tuple, list[Any]] = {}  # (sql, params) -> [count, ms, first]
    for query in queries:
        place = query.location or query.callsite
        if place is not None:
            place = place.partition(" ← ")[0]
        _tally(loops, (polymorphic_key(query.fingerprint) or query.fingerprint_hash, place), query)
        params = query.params
        if params is not None and MASK not in params:
            _tally(repeats, (query.sql, _hashable(params)), query)

    findings = []
    for (shape, _), (count, total_ms, first, family) in loops.items():
        if count < threshold:
            continue
        # A polymorphic family is one finding whatever table its first row came from: its
        # hash is the family's, so requests listing their subclasses in another order agree.
        shape_hash = None if shape == first.fingerprint_hash else fingerprint_hash(shape)
        hint = safe_hint(first.fingerprint, family)
        findings.append(_finding("n_plus_one", count, total_ms, first, hint, shape_hash))
    findings.extend(
        _finding("duplicate", count, total_ms, first, None)
        for count, total_ms, first, _ in repeats.values()
        if count >= 2
    )
    findings.sort(key=lambda finding: finding.total_ms, reverse=True)
    return findings


def _tally(groups: dict[tuple, list[Any]], key: tuple, query: QueryEvent) -> None:
    """Count a statement into its group: [count, total ms, first statement, whether the
    group holds more than one statement shape (a polymorphic family)]."""
    entry = groups.get(key)
    if entry is None:
        groups[key] = [1, query.duration_ms, query, False]
    else:
        entry[0] += 1
        entry[1] += query.duration_ms
        if query.fingerprint_hash != entry[2].fingerprint_hash:
            entry[3] = True


def _finding(
    kind, count: int, total_ms: float, first: QueryEvent, hint: str | None,
    shape_hash: str | None = None,
) -> Finding:  # fmt: skip
    return Finding(
        kind=kind,
        fingerprint_hash=shape_hash or first.fingerprint_hash,
        fingerprint=first.fingerprint,
        callsite=first.callsite,
        count=count,
        total_ms=total_ms,
        example_sql=first.sql,
        hint=hint,
        template=first.template,
        origin=first.origin,
        location=first.location or first.callsite,
    )


def _hashable(params: list[Any]) -> tuple:
    """Parameters as a dictionary key (JSON-safe values are hashable already)."""
    try:
        key = tuple(params)
        hash(key)
    except TypeError:
        key = tuple(repr(value) for value in params)
    return key
