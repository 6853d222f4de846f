"""Every page through one catch-all (``page``), as a CMS serves them: ``docs/…`` and
``articles/…`` are two kinds of page, anything else a 404. ``page_kind`` is the site's
``PERFLAB["ROUTE_NAME"]``: the probe names each request ``page[doc]`` or ``page[article]``."""

import os

from django.http import Http404, HttpResponse
from django.urls import include, path, re_path

KINDS = {"docs": "doc", "articles": "article"}


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def page(request, path: str):
    kind = KINDS.get(path.split("/", 1)[0])
    if kind is None:
        raise Http404(path)
    response = HttpResponse(f"a {kind}: {path}", content_type="text/plain")
    response.page_kind = kind
    return response


def page_kind(request, response) -> str | None:
    return getattr(response, "page_kind", None)


catch_all = re_path(r"^(?P<path>.*)$", page, name="page")
perf = path("perf/", include("perflab.urls"))
urlpatterns = [path("healthz/", healthz), perf, catch_all]
if os.environ.get("CATCH_ALL_FIRST") == "1":  # the mistake: /perf/ is a page that is not there
    urlpatterns = [path("healthz/", healthz), catch_all, perf]
