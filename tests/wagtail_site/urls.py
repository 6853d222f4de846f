"""perflab's API and a readiness check before Wagtail's catch-all, which must come last."""

from django.http import HttpResponse
from django.urls import include, path
from wagtail import urls as wagtail_urls


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz/", healthz),
    path("perf/", include("perflab.urls")),
    path("", include(wagtail_urls)),
]
