"""The overview page: every route in the period, sortable and filterable on the server (plain
links, no JavaScript needed), latency and throughput over time, the top findings and the
probe's own health. It re-fetches itself every few seconds while traffic arrives."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from perflab.api.params import Choice, Parameters, Text
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.charts import latency_chart, throughput_chart
from perflab.dashboard.links import route_url, statement_url
from perflab.dashboard.period import PERIOD, Period, period_of, range_choices
from perflab.dashboard.rendering import render_page
from perflab.probe.store.reader import Window

TOP_FINDINGS = 10

# The routes table's columns: (sort key, heading, the row's value it sorts by).
COLUMNS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("route", "Route", lambda r: (r["route"], r["method"])),
    ("count", "Requests", lambda r: r["count"]),
    ("rps", "req/s", lambda r: r["rps"]),
    ("errors", "Errors", lambda r: r["error_rate"]),
    ("p50", "p50", lambda r: r["p50_ms"]),
    ("p95", "p95", lambda r: r["p95_ms"]),
    ("p99", "p99", lambda r: r["p99_ms"]),
    ("queries", "Queries/req", lambda r: r["mean_queries"]),
    ("db", "DB share", lambda r: r["db_share"]),
    ("cache", "Cache hits", lambda r: r.get("cache_hit_rate")),
    ("findings", "Findings", lambda r: (r["n_plus_one"], r["duplicates"])),
    ("time", "Total time", lambda r: r["count"] * r["mean_ms"]),
]
SORT_KEYS = {key: value for key, _, value in COLUMNS}

OVERVIEW_QUERY = Parameters(
    **PERIOD,
    sort=Choice(choices=tuple(SORT_KEYS), default="time"),
    dir=Choice(choices=("asc", "desc"), default="desc"),
    q=Text(max_length=200),
)


@require_GET
@dashboard_view(OVERVIEW_QUERY)
def overview(request: HttpRequest, probe, *, range, run, sort, dir, q) -> HttpResponse:
    store = probe.store
    period = period_of(store, range, run)
    routes = [
        {
            **r,
            "rps": r["count"] / period.seconds,
            "total_ms": r["count"] * r["mean_ms"],
            "url": route_url(period, r["method"], r["route"]),
        }
        for r in store.routes(period.window)
    ]
    shown = [r for r in routes if _matches(r, q)]
    shown = sorted_rows(shown, sort, dir)
    timeline = store.timeline(period.window)
    findings = store.findings(period.window, limit=TOP_FINDINGS)
    for finding in findings:
        finding["route_url"] = route_url(period, finding["method"], finding["route"])
        finding["statement_url"] = statement_url(period, finding["fingerprint_hash"])
    return render_page(
        request,
        "overview.html",
        {
            "period": period,
            "ranges": range_choices(period, sort=sort, dir=dir, q=q),
            "runs": store.runs(limit=20),
            "routes": shown,
            "route_total": len(routes),
            "headers": _headers(period, sort, dir, q),
            "q": q or "",
            "sort": sort,
            "dir": dir,
            "latency": latency_chart(timeline),
            "throughput": throughput_chart(timeline),
            "findings": findings,
            "health": _health(probe),
            "live": is_live(store, period),
            "refreshes": True,
        },
    )


def sorted_rows(rows: list[dict], sort: str, direction: str) -> list[dict]:
    """``rows`` by the column ``sort``; unknown values (a route without cache calls) last."""
    key = SORT_KEYS[sort]
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    return sorted(known, key=key, reverse=direction == "desc") + unknown


def _matches(row: dict, q: str | None) -> bool:
    return not q or q.lower() in f"{row['method']} {row['route']}".lower()


def _headers(period: Period, sort: str, direction: str, q: str | None) -> list[dict]:
    """Each column's heading and the link that sorts by it (again: the other direction)."""
    headers = []
    for key, heading, _ in COLUMNS:
        current = key == sort
        next_dir = (
            ("asc" if direction == "desc" else "desc")
            if current
            else ("asc" if key == "route" else "desc")
        )
        headers.append({
            "key": key,
            "heading": heading,
            "url": "?" + period.query(sort=key, dir=next_dir, q=q),
            "current": direction if current else "",
        })  # fmt: skip
    return headers


def _health(probe) -> dict[str, Any]:
    """This process's writer (as /perf/api/status/ shows it) and the store's counters."""
    return {
        "pid": os.getpid(),
        "writer": {**probe.writer.stats.as_dict(), "pending": probe.writer.pending()},
        "queue_size": probe.settings.QUEUE_SIZE,
        "counters": probe.store.counters(),
        "enabled": probe.settings.ENABLED,
    }


def is_live(store, period: Period) -> bool:
    """Traffic is arriving (a request in the last minute) or the period's run is running:
    the page then refreshes itself."""
    if period.run is not None and period.run["status"] == "running":
        return True
    return store.request_count(Window.last_minutes(1)) > 0
