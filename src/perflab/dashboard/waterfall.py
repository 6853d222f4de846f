"""A request's waterfall: its statements, cache calls, template renders and spans as events on
one time axis, N+1 and duplicate statements marked, and the table rows that draw it.

The rows are built here, not by the template engine: a request of 2,000 statements took
~0.45 s through Django's template language (ten nodes a row), a few milliseconds as strings.
Every text from the recording (SQL, call sites, names) is escaped here.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from perflab.dashboard.formats import ms

SHORT_SQL = 160  # characters of a statement shown on its row; the rest when opened
BADGES = {
    "n_plus_one": '<span class="badge n_plus_one">N+1</span>',
    "duplicate": '<span class="badge duplicate">duplicate</span>',
}
_ROW = (
    '<tr class="event {classes}" data-kind="{kind}"{fingerprint} data-start-ms="{start}" '
    'data-duration-ms="{duration}"><td class="num">{number}</td><td>{kind}{badges}</td>'
    '<td class="what">{what}</td><td class="where"><code>{where}</code></td>'
    '<td class="num">{start_shown}</td><td class="num">{duration_shown}</td>'
    '<td class="bar-cell">{bar}</td></tr>'
)


def waterfall(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every timed event of the request, by start: ``kind``, ``label``, ``start_ms``,
    ``duration_ms``, ``where``, ``marks`` (``n_plus_one``, ``duplicate``: statements only).
    Events recorded without a start come last, with ``start_ms`` None."""
    findings = record.get("findings", ())
    n_plus_one = {
        (f["fingerprint_hash"], f["location"] or f["callsite"])
        for f in findings
        if f["kind"] == "n_plus_one"
    }
    duplicated = {f["fingerprint_hash"] for f in findings if f["kind"] == "duplicate"}
    queries = record.get("queries", ())
    repeats = Counter(_statement_key(q) for q in queries) if duplicated else Counter()
    events = []
    for q in queries:
        marks = []
        where = q.get("location") or q.get("callsite")
        if (q["fingerprint_hash"], where) in n_plus_one:
            marks.append("n_plus_one")
        if q["fingerprint_hash"] in duplicated and repeats[_statement_key(q)] > 1:
            marks.append("duplicate")
        events.append(_event("sql", q["sql"], q, where, marks, alias=q["alias"],
                             fingerprint_hash=q["fingerprint_hash"]))  # fmt: skip
    for c in record.get("cache", ()):
        label = f"{c['operation']} ({c['cache']}): {c['hits']} hit, {c['misses']} miss"
        events.append(_event("cache", label, c, c.get("location")))
    for t in record.get("templates", ()):
        events.append(_event("template", t["name"], t, t.get("location")))
    for s in record.get("spans", ()):
        events.append(_event("span", "· " * s.get("depth", 0) + s["name"], s, None))
    return sorted(events, key=lambda e: (e["start_ms"] is None, e["start_ms"] or 0.0))


def _event(
    kind: str, label: str, row: dict, where: str | None, marks: list | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "label": label,
        "start_ms": row.get("start_ms"),
        "duration_ms": row.get("duration_ms", 0.0),
        "where": where,
        "marks": marks or [],
        **more,
    }


def _statement_key(query: dict) -> tuple[str, str]:
    """What makes two statements duplicates: the same text with the same parameters."""
    return query["sql"], json.dumps(query.get("params"), sort_keys=True, default=repr)


def axis_ms(record: dict, events: list[dict]) -> float:
    """The axis's length: the request's duration, or the last event's end if later."""
    ends = [e["start_ms"] + e["duration_ms"] for e in events if e["start_ms"] is not None]
    return max([record["duration_ms"], *ends, 0.001])


def rows_html(events: list[dict], axis: float) -> SafeString:
    """The waterfall table's rows (markup hooks in the dashboard contract: ``tr.event``,
    ``data-kind``, ``data-fingerprint``, ``data-start-ms``, ``span.bar``)."""
    rows = []
    for number, e in enumerate(events, 1):
        start = e["start_ms"]
        bar = ""
        if start is not None:
            left = round(100.0 * start / axis, 3)
            width = round(max(100.0 * e["duration_ms"] / axis, 0.2), 3)
            bar = f'<span class="bar {e["kind"]}" style="left: {left}%; width: {width}%"></span>'
        fingerprint = e.get("fingerprint_hash")
        rows.append(_ROW.format(
            classes=" ".join([e["kind"], *e["marks"]]),
            kind=e["kind"],
            fingerprint=f' data-fingerprint="{escape(fingerprint)}"' if fingerprint else "",
            start="" if start is None else start,
            duration=e["duration_ms"],
            number=number,
            badges="".join(" " + BADGES[m] for m in e["marks"]),
            what=_what(e),
            where=escape(e["where"] or ""),
            start_shown=ms(start),
            duration_shown=ms(e["duration_ms"]),
            bar=bar,
        ))  # fmt: skip
    return mark_safe("".join(rows))  # every recorded text in them escaped above


def _what(event: dict) -> str:
    label = event["label"]
    if event["kind"] != "sql":
        return f"<code>{escape(label)}</code>"
    alias = f'<span class="tag">{escape(event["alias"])}</span>'
    if len(label) <= SHORT_SQL:
        return f"<code>{escape(label)}</code> {alias}"
    short = escape(label[: SHORT_SQL - 1]) + "…"
    full = f"<pre>{escape(label)}</pre>"
    return f"<details><summary><code>{short}</code> {alias}</summary>{full}</details>"
