"""One request's page: a waterfall of its statements, cache calls, template renders and spans
on one time axis, each with where it ran; its N+1 and duplicate statements highlighted; its
headers as stored (masked by the probe); the run it came from; its profile, when taken,
rendered by pyinstrument's own HTML renderer."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from pyinstrument.renderers.html import HTMLRenderer
from pyinstrument.session import Session

from perflab.api.params import Integer, Parameters
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.links import overview_url, route_url, statement_url
from perflab.dashboard.period import DEFAULT_RANGE, Period, period_of
from perflab.dashboard.rendering import SELF_CONTAINED_POLICY, render_page

ROW_ID_PATH = Parameters(row_id=Integer(1))
# pyinstrument's page adds a web font from Google's servers: an empty stylesheet instead
# (the page then uses the browser's fonts and asks nothing of anyone).
WEB_FONT = re.compile(r"https://fonts\.googleapis\.com/css[^\"'`]*")
NO_STYLESHEET = "data:text/css,"
MAX_EVENTS = 2000  # rows of the waterfall; a request with more says how many were left out


@require_GET
@dashboard_view(path=ROW_ID_PATH)
def request_page(request: HttpRequest, probe, *, row_id: int) -> HttpResponse:
    store = probe.store
    record = store.request(row_id=row_id)
    if record is None:
        raise Http404(f"no request {row_id} in this store (retention may have removed it)")
    period = period_of(store, DEFAULT_RANGE, None)
    events = waterfall(record)
    run = store.run_of_request(record["request_id"])
    return render_page(
        request,
        "request.html",
        {
            "record": record,
            "route_url": route_url(period, record["method"], record["route"]),
            "events": events[:MAX_EVENTS],
            "events_left_out": max(len(events) - MAX_EVENTS, 0),
            "axis_ms": _axis_ms(record, events),
            "findings": _findings(record, period),
            "headers": sorted(record.get("headers", {}).items()),
            "run": run,
            "run_url": overview_url(run=run["run_id"]) if run else None,
            "profile_url": (
                reverse("perflab:dashboard-profile", args=[row_id]) if record["profiled"] else None
            ),
        },
    )


def waterfall(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every timed event of the request, by start: ``kind``, ``label``, ``start_ms``,
    ``duration_ms``, ``where``; statements also ``marks`` (``n_plus_one``, ``duplicate``).
    Events recorded without a start (stores written before cache calls and templates had
    one) come last, with ``start_ms`` None."""
    n_plus_one = {
        (f["fingerprint_hash"], f["location"] or f["callsite"])
        for f in record["findings"]
        if f["kind"] == "n_plus_one"
    }
    duplicated = {f["fingerprint_hash"] for f in record["findings"] if f["kind"] == "duplicate"}
    repeats = Counter(_statement_key(q) for q in record.get("queries", ()))
    events = []
    for index, q in enumerate(record.get("queries", ())):
        marks = []
        where = q.get("location") or q.get("callsite")
        if (q["fingerprint_hash"], where) in n_plus_one:
            marks.append("n_plus_one")
        if q["fingerprint_hash"] in duplicated and repeats[_statement_key(q)] > 1:
            marks.append("duplicate")
        events.append(_event("sql", q["sql"], q, where, index=index, marks=marks, alias=q["alias"],
                             fingerprint_hash=q["fingerprint_hash"]))  # fmt: skip
    for c in record.get("cache", ()):
        label = f"{c['operation']} ({c['cache']}): {c['hits']} hit, {c['misses']} miss"
        events.append(_event("cache", label, c, None))
    for t in record.get("templates", ()):
        events.append(_event("template", t["name"], t, None))
    for s in record.get("spans", ()):
        events.append(_event("span", s["name"], s, None, indent="· " * s.get("depth", 0)))
    return sorted(events, key=lambda e: (e["start_ms"] is None, e["start_ms"] or 0.0))


def _event(kind: str, label: str, row: dict, where: str | None, **more: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "label": label,
        "start_ms": row.get("start_ms"),
        "duration_ms": row.get("duration_ms", 0.0),
        "where": where,
        "marks": [],
        **more,
    }


def _statement_key(query: dict) -> tuple[str, str]:
    """What makes two statements duplicates: the same text with the same parameters."""
    return query["sql"], json.dumps(query.get("params"), sort_keys=True, default=repr)


def _axis_ms(record: dict, events: list[dict]) -> float:
    """The waterfall's length: the request's duration, or the last event's end if later.
    Each event gets ``left`` and ``width`` in percent of it."""
    ends = [e["start_ms"] + e["duration_ms"] for e in events if e["start_ms"] is not None]
    axis = max([record["duration_ms"], *ends, 0.001])
    for e in events:
        if e["start_ms"] is not None:
            e["left"] = round(100.0 * e["start_ms"] / axis, 3)
            e["width"] = round(max(100.0 * e["duration_ms"] / axis, 0.2), 3)
    return axis


def _findings(record: dict, period: Period) -> list[dict]:
    return [
        {**f, "statement_url": statement_url(period, f["fingerprint_hash"])}
        for f in record["findings"]
    ]


@require_GET
@dashboard_view(path=ROW_ID_PATH)
def profile_page(request: HttpRequest, probe, *, row_id: int) -> HttpResponse:
    """pyinstrument's own HTML page for the stored session: its JavaScript is inlined, its one
    outside request (a web font) replaced, and the policy refuses any other."""
    profile = probe.store.profile(row_id)
    if profile is None:
        raise Http404(f"request {row_id} was not profiled (or is not in this store)")
    session = Session.from_json(json.loads(profile))
    page = WEB_FONT.sub(NO_STYLESHEET, HTMLRenderer().render(session))
    response = HttpResponse(page)
    response["Content-Security-Policy"] = SELF_CONTAINED_POLICY
    return response
