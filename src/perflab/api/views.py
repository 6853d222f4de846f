"""JSON views over the store: routes, requests, one request, SQL, findings, EXPLAIN, status.

Each endpoint declares its parameters once (``perflab.api.params``), next to it; ``api_view``
reads them before the view runs, so a view only ever sees valid values and any input that
is not valid is a 400 with a one-line ``error``, never a 500.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from perflab.api.access import csrf_refusal, may_read, with_csrf_cookie
from perflab.api.explain import EXPLAIN_ID, ExplainRefused, explain, explain_id, refusal
from perflab.api.params import BadInput, Choice, Integer, Number, Parameters, Text
from perflab.api.urlpatterns import app_facts, url_patterns
from perflab.probe.database import StoreUnavailable
from perflab.probe.hints import HINT_ERRORS
from perflab.probe.probe import get_probe
from perflab.probe.store.reader import Window

# What a request Django cannot read at all raises (too many fields, an oversized or
# malformed body): a 400 with a message here too, not Django's HTML page.
_UNREADABLE = (TooManyFieldsSent, RequestDataTooBig, MultiPartParserError, BadRequest)
NO_PARAMETERS = Parameters()

# The parameters the endpoints share.
MINUTES = Number(0, 1e8)  # back from now
UNIX_TIME = Number(0, 1e11)
ROUTE = Text(max_length=1000)
LIMIT = Integer(1, 1000, default=50)
ROW_ID_PATH = Parameters(row_id=Integer(1))

# Every listing reads one window of time: the last ``minutes``, or ``since``..``until``.
WINDOW = {"minutes": MINUTES, "since": UNIX_TIME, "until": UNIX_TIME}

ROUTES_QUERY = Parameters(**WINDOW)
REQUESTS_QUERY = Parameters(
    **WINDOW,
    route=ROUTE,
    method=Text(max_length=20, pattern=re.compile("[A-Za-z]+"), expected="an HTTP method"),
    status=Integer(100, 599),
    min_ms=Number(0, 1e12),
    findings=Choice(choices=("0", "1"), default="0"),
    order=Choice(choices=("recent", "slowest"), default="recent"),
    limit=LIMIT,
    offset=Integer(0, default=0),
)
REQUEST_ID_PATH = Parameters(request_id=Text(max_length=128))
SQL_QUERY = Parameters(**WINDOW, route=ROUTE, limit=LIMIT)
FINDINGS_QUERY = Parameters(
    **WINDOW, kind=Choice(choices=("n_plus_one", "duplicate")), route=ROUTE, limit=LIMIT
)
EXPLAIN_BODY = Parameters(explain_id=EXPLAIN_ID)
EXPLAIN_BODY_MAX_BYTES = 16 * 1024


def api_view(query: Parameters = NO_PARAMETERS, path: Parameters = NO_PARAMETERS) -> Callable:
    """Permission check, then the declared path and query parameters read and passed to the
    view by name; bad input as 400, an unavailable store as 503."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, **captured):
            probe = get_probe()
            try:
                if not may_read(request, probe.settings.PERMISSION):
                    return JsonResponse({"error": "staff only"}, status=403)
                values = {**path.from_path(captured), **query.from_query(request.GET)}
                return view(request, probe, **values)
            except BadInput as exc:
                return JsonResponse({"error": str(exc)}, status=400)
            except _UNREADABLE as exc:
                return JsonResponse({"error": f"the request cannot be read: {exc}"}, status=400)
            except StoreUnavailable as exc:
                return JsonResponse({"error": f"store unavailable: {exc}"}, status=503)

        return wrapper

    return decorate


def _window(minutes: float | None, since: float | None, until: float | None) -> Window:
    """``since``..``until`` (unix time), or the last ``minutes`` up to now."""
    return Window.last_minutes(minutes) if minutes is not None else Window(since, until)


@require_GET
@api_view(ROUTES_QUERY)
def routes(request, probe, *, minutes, since, until):
    data = probe.store.routes(_window(minutes, since, until))
    return JsonResponse({"routes": data})


@require_GET
@api_view(REQUESTS_QUERY)
def requests(
    request, probe, *, minutes, since, until, route, method, status, min_ms, findings, order,
    limit, offset,
):  # fmt: skip
    rows = probe.store.requests(
        _window(minutes, since, until),
        route=route,
        method=method.upper() if method else None,
        status=status,
        min_ms=min_ms,
        with_findings=findings == "1",
        order=order,
        limit=limit,
        offset=offset,
    )
    return JsonResponse({"requests": rows, "limit": limit, "offset": offset})


def _one_request(request, probe, missing: str, **key) -> JsonResponse:
    """One request in full, with a signed ``explain_id`` on each statement that can be
    explained (``explain.refusal``); a session caller also gets the CSRF cookie that
    POSTing the id back needs."""
    record = probe.store.request(**key)
    if record is None:
        return JsonResponse({"error": missing}, status=404)
    for index, query in enumerate(record["queries"]):
        if refusal(query) is None:
            query["explain_id"] = explain_id(record["id"], index)
    return with_csrf_cookie(request, JsonResponse(record))


@require_GET
@api_view(path=ROW_ID_PATH)
def request_detail(request, probe, *, row_id: int):
    return _one_request(request, probe, "no such request", row_id=row_id)


@require_GET
@api_view(path=REQUEST_ID_PATH)
def request_by_id(request, probe, *, request_id: str):
    return _one_request(request, probe, "no request with that X-Request-ID", request_id=request_id)


@require_GET
@api_view(path=ROW_ID_PATH)
def request_profile(request, probe, *, row_id: int):
    profile = probe.store.profile(row_id)
    if profile is None:
        return JsonResponse({"error": "this request was not profiled"}, status=404)
    return JsonResponse({"id": row_id, "session": json.loads(profile)})


@require_GET
@api_view(SQL_QUERY)
def sql(request, probe, *, minutes, since, until, route, limit):
    rows = probe.store.sql(_window(minutes, since, until), route=route, limit=limit)
    return JsonResponse({"sql": rows})


@require_GET
@api_view(FINDINGS_QUERY)
def findings(request, probe, *, minutes, since, until, kind, route, limit):
    rows = probe.store.findings(_window(minutes, since, until), route=route, kind=kind, limit=limit)
    return JsonResponse({"findings": rows})


@csrf_exempt  # not for all: a session caller is checked below, a token caller needs no token
@require_POST
@api_view()
def explain_view(request, probe):
    body = _explain_body(request)
    reason = csrf_refusal(request)
    if reason is not None:
        return JsonResponse({"error": f"CSRF failed: {reason}"}, status=403)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past Python's limit
        raise BadInput('send JSON: {"explain_id": ...}') from None
    signed = EXPLAIN_BODY.from_json(document)["explain_id"]
    try:
        return JsonResponse(explain(probe.store, signed, probe.settings.EXPLAIN_ID_MAX_AGE_S))
    except ExplainRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)


def _explain_body(request: HttpRequest) -> bytes:
    """The body, refused unread when it says it is larger than any explain request."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isascii() or not declared.isdigit():
        raise BadInput(f"Content-Length must be a number of bytes, got {declared[:40]!r}")
    if int(declared) > EXPLAIN_BODY_MAX_BYTES:
        raise BadInput(f"the body is larger than {EXPLAIN_BODY_MAX_BYTES} bytes")
    body = request.body
    if len(body) > EXPLAIN_BODY_MAX_BYTES:
        raise BadInput(f"the body is larger than {EXPLAIN_BODY_MAX_BYTES} bytes")
    return body


@require_GET
@api_view()
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
