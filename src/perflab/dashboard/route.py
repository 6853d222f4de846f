"""One route's page: latency and throughput over time, how many statements its requests
issue, its findings with where they run, its slowest requests, and — for a catch-all route
(Wagtail's pages, ``ROUTE_NAME``) — its endpoints, the routes named ``<route>[<part>]``."""

from __future__ import annotations

import re
from functools import partial

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from perflab.api.params import Parameters, Text
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.charts import latency_chart, query_count_chart, throughput_chart
from perflab.dashboard.links import request_url, route_url, sql_url, statement_url
from perflab.dashboard.period import PERIOD, period_of, range_choices
from perflab.dashboard.rendering import render_page
from perflab.probe.store.reader import Window

SLOWEST = 20
FLOOR_MARGIN = 0.99  # a percentile from the rollups' histograms is within 0.1 % (3 digits)
# A catch-all's page lists the slowest requests of its busiest endpoints (one index range each)
# and the findings of its endpoints among the period's top ones (one read).
MERGED_ENDPOINTS = 20
CATCH_ALL_FINDINGS = 200
METHOD = Text(max_length=20, pattern=re.compile("[A-Z]+"), expected="an HTTP method", required=True)
ROUTE = Text(max_length=1000, required=True)
ROUTE_QUERY = Parameters(**PERIOD, method=METHOD, route=ROUTE)


@require_GET
@dashboard_view(ROUTE_QUERY)
def route_page(request: HttpRequest, probe, *, range, run, method, route) -> HttpResponse:
    store = probe.store
    period = period_of(store, range, run)
    routes = store.routes(period.window)
    figures = next((r for r in routes if (r["method"], r["route"]) == (method, route)), None)
    endpoints = [
        {**r, "part": r["route"][len(route) + 1 : -1], "url": route_url(period, method, r["route"])}
        for r in routes
        if r["method"] == method and r["route"].startswith(route + "[") and r["route"][-1] == "]"
    ]
    if figures is None and not endpoints:
        raise Http404(f"no {method} {route} requests in the {period.label}")
    base = catch_all_of(route)
    # a catch-all's charts: the route and its endpoints together
    merged = bool(endpoints)
    timeline = store.timeline(period.window, method=method, route=route, endpoints=merged)
    counts = store.query_counts(period.window, method=method, route=route, endpoints=merged)
    members = {route, *(e["route"] for e in endpoints[:MERGED_ENDPOINTS])}
    listed = (
        store.findings(period.window, limit=CATCH_ALL_FINDINGS)
        if endpoints
        else store.findings(period.window, route=route)
    )
    findings = [
        {
            **f,
            "statement_url": statement_url(period, f["fingerprint_hash"]),
            "route_url": route_url(period, method, f["route"]),
        }
        for f in listed
        if f["method"] == method and f["route"] in members
    ]
    figures_of = {r["route"]: r for r in routes if r["method"] == method}
    slowest = sorted(
        (
            {**r, "url": request_url(r["id"])}
            for member in sorted(members)
            for r in slowest_requests(store, period.window, method, member, figures_of.get(member))
        ),
        key=lambda r: r["duration_ms"],
        reverse=True,
    )[:SLOWEST]
    return render_page(
        request,
        "route.html",
        {
            "period": period,
            "ranges": range_choices(period, method=method, route=route),
            "method": method,
            "route": route,
            "figures": figures and {**figures, "rps": figures["count"] / period.seconds},
            "catch_all_url": base and route_url(period, method, base),
            "sql_url": sql_url(period, route),
            "catch_all": base,
            "endpoints": endpoints,
            "latency": latency_chart(timeline),
            "throughput": throughput_chart(timeline),
            "query_counts": query_count_chart(counts),
            "findings": findings,
            "findings_with_route": bool(endpoints),
            "slowest": slowest,
        },
    )


def slowest_requests(store, window: Window, method: str, route: str, figures: dict | None) -> list:
    """The route's ``SLOWEST`` slowest requests in the window. Read above its p99 (or p95) from
    the rollups when that leaves enough of them: the index then hands over only those, not
    a week of the route's requests to sort (0.49 s → 0.07 s for 250,000 requests). Exact: when
    ``SLOWEST`` requests lie above the floor they are the slowest; otherwise it reads again
    without one."""
    floor = None
    for percentile in (99, 95):
        if figures and figures["count"] * (100 - percentile) / 100 >= 2 * SLOWEST:
            floor = figures[f"p{percentile}_ms"] * FLOOR_MARGIN
            break
    read = partial(store.requests, window, route=route, method=method, order="slowest")
    rows = read(limit=SLOWEST, min_ms=floor)
    if floor is not None and len(rows) < SLOWEST:
        rows = read(limit=SLOWEST)
    return rows


def catch_all_of(route: str) -> str | None:
    """The catch-all route an endpoint ``name[part]`` belongs to (``wagtail_serve[BlogPage]``
    → ``wagtail_serve``), or None."""
    if route.endswith("]") and "[" in route:
        return route[: route.index("[")]
    return None
