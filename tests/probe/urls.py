"""The reference app's URLs plus a few views that exercise what the demo does not."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

import perflab
from perflab.demo.urls import urlpatterns as demo_urlpatterns


@perflab.span("decorated helper")
def decorated_helper() -> int:
    return 42


def templated(request):
    with perflab.span("outer"), perflab.span("inner"):
        decorated_helper()
    template = engines["django"].from_string("{% for i in items %}{{ i }},{% endfor %}")
    return HttpResponse(template.render({"items": range(50)}))


def cached(request):
    """A cache call from the app's own line, and a template rendered by the response after
    the view returned (``TemplateResponse``)."""
    from django.core.cache import cache
    from django.template.response import TemplateResponse

    cache.get("perflab-test-key")
    return TemplateResponse(request, engines["django"].from_string("{{ 1 }}"), {})


def counted(request):
    """A function view issuing its own statement: the view is both boundary and call site."""
    from perflab.demo.models import Post

    return HttpResponse(str(Post.objects.count()))


def raw_count(request):
    """A sync view running the demo's raw-cursor statement (in the test's own thread)."""
    from perflab.demo.views import _count_tag_links

    return HttpResponse(str(_count_tag_links()))


def outbound(request):
    """Two calls to an outbound service, which ``tests.probe.outbound.OutboundRecorder`` times."""
    from tests.probe import outbound

    return HttpResponse(outbound.fetch("/a") + outbound.fetch("/b"))


def broken(request):
    raise RuntimeError("boom")


def slow(request):
    import time

    time.sleep(float(request.GET.get("s", "0.05")))
    return HttpResponse("done")


def password_reset(request, uidb64, token):
    """Django's password-reset URL shape: the token is a path segment."""
    return HttpResponse("reset")


urlpatterns = [
    path("t/reset/<uidb64>/<token>/", password_reset),
    path("t/templated/", templated),
    path("t/cached/", cached),
    path("t/counted/", counted),
    path("t/raw/", raw_count),
    path("t/outbound/", outbound),
    path("t/broken/", broken),
    path("t/slow/", slow),
    path("corpus/", include("tests.probe.corpus.urls")),
    *demo_urlpatterns,
]
