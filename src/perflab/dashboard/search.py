"""The search box on every page: a request id goes to that request, a path (``/…``) lists the
requests whose path starts with it, a 3-digit status the requests that answered it."""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

from perflab.api.params import Parameters, Text
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.links import request_url
from perflab.dashboard.period import PERIOD, period_of, range_choices
from perflab.dashboard.rendering import render_page

LISTED = 100
STATUS = re.compile("[1-5][0-9][0-9]")
SEARCH_QUERY = Parameters(**PERIOD, q=Text(max_length=1000))


@require_GET
@dashboard_view(SEARCH_QUERY)
def search_page(request: HttpRequest, probe, *, range, run, q) -> HttpResponse:
    store = probe.store
    q = (q or "").strip()
    period = period_of(store, range, run)
    if not q:
        kind, rows = "empty", []
    elif STATUS.fullmatch(q):
        kind, rows = "status", store.requests(period.window, status=int(q), limit=LISTED)
    elif q.startswith("/"):
        kind, rows = "path", store.requests(period.window, path_prefix=q, limit=LISTED)
    else:
        record = store.request(request_id=q)
        if record is None:
            raise Http404(f"no request with X-Request-ID {q!r} in this store")
        return HttpResponseRedirect(request_url(record["id"]))
    return render_page(
        request,
        "search.html",
        {
            "period": period,
            "ranges": range_choices(period, q=q),
            "q": q,
            "search_q": q,
            "kind": kind,
            "requests": [{**r, "url": request_url(r["id"])} for r in rows],
            "listed": LISTED,
        },
    )
