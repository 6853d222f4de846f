"""One request's page: a waterfall of its statements, cache calls, template renders and spans
on one time axis, each with where it ran; its N+1 and duplicate statements highlighted; its
headers as stored (masked by the probe); the run it came from; its profile, when taken,
rendered by pyinstrument's own HTML renderer."""

from __future__ import annotations

import json
import re

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
from perflab.dashboard.waterfall import axis_ms, rows_html, waterfall

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
    axis = axis_ms(record, events)
    run = store.run_of_request(record["request_id"])
    return render_page(
        request,
        "request.html",
        {
            "record": record,
            "route_url": route_url(period, record["method"], record["route"]),
            "events": len(events),
            "rows": rows_html(events[:MAX_EVENTS], axis),
            "events_left_out": max(len(events) - MAX_EVENTS, 0),
            "axis_ms": axis,
            "findings": _findings(record, period),
            "headers": sorted(record.get("headers", {}).items()),
            "run": run,
            "run_url": overview_url(run=run["run_id"]) if run else None,
            "profile_url": (
                reverse("perflab:dashboard-profile", args=[row_id]) if record["profiled"] else None
            ),
        },
    )


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
