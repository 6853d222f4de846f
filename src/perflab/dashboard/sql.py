"""The SQL pages: statement shapes (fingerprints) by total time, and one fingerprint with the
routes issuing it and EXPLAIN of a recorded example (signed id, POST with a CSRF token, as
the API's EXPLAIN: the plan only, never ANALYZE, in a read-only transaction rolled back)."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from perflab.api.explain import EXPLAIN_ID, ExplainRefused, explain, explain_id, refusal
from perflab.api.params import Parameters, Text
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.links import request_url, route_url, statement_url
from perflab.dashboard.period import PERIOD, period_of, range_choices
from perflab.dashboard.rendering import render_page

LISTED = 100
SQL_QUERY = Parameters(**PERIOD, route=Text(max_length=1000))
FINGERPRINT_PATH = Parameters(
    fingerprint_hash=Text(
        max_length=64, pattern=re.compile("[0-9a-f]+"), expected="a fingerprint hash (hex)"
    )
)
EXPLAIN_FORM = Parameters(explain_id=EXPLAIN_ID)


@require_GET
@dashboard_view(SQL_QUERY)
def sql_page(request: HttpRequest, probe, *, range, run, route) -> HttpResponse:
    period = period_of(probe.store, range, run)
    rows = [
        {**r, "url": statement_url(period, r["fingerprint_hash"])}
        for r in probe.store.sql(period.window, route=route, limit=LISTED)
    ]
    return render_page(
        request,
        "sql.html",
        {
            "period": period,
            "ranges": range_choices(period, route=route),
            "route": route,
            "statements": rows,
        },
    )


@require_http_methods(["GET", "POST"])
@dashboard_view(SQL_QUERY, path=FINGERPRINT_PATH)
@csrf_protect  # the one form: refused without a token, whether or not the app has the middleware
def statement_page(
    request: HttpRequest, probe, *, fingerprint_hash, range, run, route
) -> HttpResponse:
    store = probe.store
    period = period_of(store, range, run)
    rows = store.sql(period.window, fingerprint_hash=fingerprint_hash, limit=1)
    statement = rows[0] if rows else None
    if statement is None:
        raise Http404(f"no statement with fingerprint {fingerprint_hash} in the {period.label}")
    routes = [
        {**r, "url": route_url(period, r["method"], r["route"])}
        for r in store.sql_routes(period.window, fingerprint_hash)
    ]
    context: dict[str, Any] = {
        "period": period,
        "ranges": range_choices(period),
        "statement": statement,
        "routes": routes,
        **example(store, statement),
    }
    if request.method == "POST":
        signed = EXPLAIN_FORM.from_query(request.POST)["explain_id"]
        try:
            plan = explain(store, signed, probe.settings.EXPLAIN_ID_MAX_AGE_S)
            context["plan"] = {**plan, "lines": plan_tree(plan)}
        except ExplainRefused as exc:
            context["explain_error"] = str(exc)
    context["csrf_token"] = get_token(request)
    return render_page(request, "statement.html", context)


def example(store, statement: dict) -> dict[str, Any]:
    """The recorded example of this fingerprint (``example_request_id``): the request, the
    statement's text and parameters, and its signed explain id, or why it cannot be
    explained."""
    request_id = statement.get("example_request_id")
    record = store.request(request_id=request_id) if request_id else None
    if record is None:
        return {"example": None, "explain_refused": "no recorded request with this statement"}
    for index, query in enumerate(record["queries"]):
        if query["fingerprint_hash"] == statement["fingerprint_hash"]:
            reason = refusal(query)
            return {
                "example": {
                    **query,
                    "where": query.get("location") or query.get("callsite"),
                    "request_url": request_url(record["id"]),
                    "record": record,
                },
                "explain_id": explain_id(record["id"], index) if reason is None else None,
                "explain_refused": reason,
            }
    return {"example": None, "explain_refused": "the example request no longer holds it"}


def plan_tree(plan: dict[str, Any]) -> list[str]:
    """The plan's lines as the database gave them (SQLite's ``id parent notused detail`` rows
    turned into an indented tree; PostgreSQL's text plan is already indented)."""
    if plan["vendor"] != "sqlite":
        return plan["plan"]
    depth: dict[str, int] = {"0": -1}
    lines = []
    for line in plan["plan"]:
        node, parent, _, detail = [*line.split(" ", 3), "", "", ""][:4]
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines
