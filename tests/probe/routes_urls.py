"""A URLconf with every kind of route naming meets (tests/probe/test_routes.py): the reference
app's (path() routes, a DRF router), an unnamed regex, a named regex, a place under
``<path:>``, a namespaced regex and, last, a regex catch-all like Wagtail's."""

from django.http import HttpResponse
from django.urls import include, path, re_path

from perflab.demo.urls import urlpatterns as demo_urlpatterns


def page(request, *args, **kwargs):
    return HttpResponse("served")


def name_by_kind(request, response) -> str | None:
    """A ``PERFLAB["ROUTE_NAME"]``: the ``kind`` query parameter names what was served
    (``boom`` raises, as a buggy callable would)."""
    kind = request.GET.get("kind")
    if kind == "boom":
        raise RuntimeError("a bug in the app's ROUTE_NAME")
    return kind


shop = ([re_path(r"^([A-Z]{3}-[0-9]+)/$", page, name="item")], "shop")

urlpatterns = [
    *demo_urlpatterns,  # includes perf/
    re_path(r"^legacy/([0-9]+)/$", page),  # a regex with no URL name: its pattern stays
    re_path(r"^archive/(?P<year>[0-9]{4})/$", page, name="archive"),  # reads as a path
    re_path(r"^(news|blog)/feed/$", page, name="feed"),  # alternation: named by its URL name
    re_path(r"^robots\.txt$", page, name="robots"),  # reads as a path
    path("docs/<path:page>", page, name="docs"),  # a place, not a catch-all
    path("shop/", include(shop)),
    re_path(r"^((?:[\w\-]+/)*)$", page, name="pages"),  # Wagtail's catch-all, last
]
