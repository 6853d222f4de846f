"""A URLconf ending in a ``<path:>`` catch-all (tests/probe/test_routes.py)."""

from django.urls import include, path

from tests.probe.routes_urls import page

urlpatterns = [
    path("perf/", include("perflab.urls")),
    path("about/", page, name="about"),
    path("<path:rest>", page, name="anything"),
]
