"""JSON views over the store: routes, requests, one request, SQL, findings, EXPLAIN, status."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from perflab.api.access import may_read
from perflab.api.explain import ExplainRefused, explain, explain_id
from perflab.api.urlpatterns import app_facts, url_patterns
from perflab.probe.database import StoreUnavailable
from perflab.probe.fingerprint import is_select
from perflab.probe.hints import HINT_ERRORS
from perflab.probe.probe import get_probe


class BadParameter(Exception):
    pass


def api_view(view: Callable) -> Callable:
    """Permission check, bad parameters as 400, an unavailable store as 503."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        probe = get_probe()
        if not may_read(request, probe.settings.PERMISSION):
            return JsonResponse({"error": "staff only"}, status=403)
        try:
            return view(request, probe, *args, **kwargs)
        except BadParameter as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except StoreUnavailable as exc:
            return JsonResponse({"error": f"store unavailable: {exc}"}, status=503)

    return wrapper


def _number(request: HttpRequest, name: str, kind=float, default=None, minimum=None):
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BadParameter(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise BadParameter(f"{name} must be at least {minimum}")
    return value


def _since(request: HttpRequest) -> float | None:
    """``since`` as unix time, or ``minutes`` back from now."""
    minutes = _number(request, "minutes", minimum=0)
    if minutes is not None:
        return time.time() - minutes * 60
    return _number(request, "since")


def _page(request: HttpRequest) -> tuple[int, int]:
    limit = _number(request, "limit", int, 50, minimum=1)
    return min(limit, 1000), _number(request, "offset", int, 0, minimum=0)


@require_GET
@api_view
def routes(request, probe):
    data = probe.store.routes(since=_since(request), until=_number(request, "until"))
    return JsonResponse({"routes": data})


@require_GET
@api_view
def requests(request, probe):
    limit, offset = _page(request)
    order = request.GET.get("order", "recent")
    if order not in ("recent", "slowest"):
        raise BadParameter("order must be recent or slowest")
    rows = probe.store.requests(
        route=request.GET.get("route"),
        method=request.GET.get("method"),
        status=_number(request, "status", int),
        min_ms=_number(request, "min_ms"),
        since=_since(request),
        with_findings=request.GET.get("findings") == "1",
        order=order,
        limit=limit,
        offset=offset,
    )
    return JsonResponse({"requests": rows, "limit": limit, "offset": offset})


def _one_request(probe, missing: str, **key) -> JsonResponse:
    """One request in full, with a signed ``explain_id`` on each recorded SELECT."""
    record = probe.store.request(**key)
    if record is None:
        return JsonResponse({"error": missing}, status=404)
    for index, query in enumerate(record["queries"]):
        if is_select(query["sql"]) and query["params"] is not None:
            query["explain_id"] = explain_id(record["id"], index)
    return JsonResponse(record)


@require_GET
@api_view
def request_detail(request, probe, row_id: int):
    return _one_request(probe, "no such request", row_id=row_id)


@require_GET
@api_view
def request_by_id(request, probe, request_id: str):
    return _one_request(probe, "no request with that X-Request-ID", request_id=request_id)


@require_GET
@api_view
def request_profile(request, probe, row_id: int):
    profile = probe.store.profile(row_id)
    if profile is None:
        return JsonResponse({"error": "this request was not profiled"}, status=404)
    return JsonResponse({"id": row_id, "session": json.loads(profile)})


@require_GET
@api_view
def sql(request, probe):
    limit, _ = _page(request)
    return JsonResponse({"sql": probe.store.sql(route=request.GET.get("route"), limit=limit)})


@require_GET
@api_view
def findings(request, probe):
    kind = request.GET.get("kind")
    if kind not in (None, "n_plus_one", "duplicate"):
        raise BadParameter("kind must be n_plus_one or duplicate")
    limit, _ = _page(request)
    rows = probe.store.findings(route=request.GET.get("route"), kind=kind, limit=limit)
    return JsonResponse({"findings": rows})


@csrf_exempt
@require_POST
@api_view
def explain_view(request, probe):
    try:
        signed = json.loads(request.body or b"{}").get("explain_id", "")
    except (ValueError, AttributeError):
        raise BadParameter('send JSON: {"explain_id": ...}') from None
    try:
        return JsonResponse(explain(probe.store, signed))
    except ExplainRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)


@require_GET
@api_view
def status(request, probe):
    """This worker process's probe: what it submitted, wrote and dropped."""
    counters = {}
    try:
        counters = probe.store.counters()
    except StoreUnavailable as exc:
        counters = {"error": str(exc)}
    return JsonResponse({
        "pid": os.getpid(),
        "enabled": probe.settings.ENABLED,
        "store": repr(probe.store),
        "writer": {**probe.writer.stats.as_dict(), "pending": probe.writer.pending()},
        "internal_errors": probe.internal_errors,
        "hint_errors": HINT_ERRORS.count,
        "store_counters": counters,
    })  # fmt: skip


@require_GET
def urlpatterns(request):
    """The app's routes and a few facts (no recordings), for grouping and reporting load tests.

    Open unless ``PERFLAB["EXPOSE_ROUTES"]`` is False; then the API's permission applies.
    """
    probe = get_probe()
    if not probe.settings.EXPOSE_ROUTES and not may_read(request, probe.settings.PERMISSION):
        return JsonResponse({"error": "staff only"}, status=403)
    return JsonResponse({"urlpatterns": url_patterns(), "app": app_facts()})
