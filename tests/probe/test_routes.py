"""Route names (perflab.probe.routes): what the probe stores as a request's route, and the
served name it tells the client in X-Perflab-Route for a route split by what it served."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from django.template.response import TemplateResponse
from django.test import Client, RequestFactory
from django.urls import resolve

from perflab.probe.routes import (
    ROUTE_HEADER,
    NamedRoute,
    is_catch_all,
    name_route,
    named_route_of,
    served_name,
)
from perflab.probe.settings import parse_settings
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.routes_urls")]

ROUTE_NAME = "tests.probe.routes_urls.name_by_kind"


def get(probe, path: str, request_id: str = "r1"):
    """GET ``path``: the response and the route the probe stored for it."""
    response = Client().get(path, HTTP_X_REQUEST_ID=request_id)
    return response, flushed(probe).request(request_id=request_id)["route"]


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/api/posts/", "api/posts/"),  # path()
        ("/api/posts/7/", "api/posts/<pk>/"),  # a DRF router's regex reads as a path
        ("/api/posts.json", "api/posts.<format>/?"),  # and its format suffix
        ("/api/categories/", "api/categories/"),
        ("/legacy/12/", "legacy/([0-9]+)/"),  # a regex without a URL name keeps its pattern
        ("/archive/2024/", "archive/<year>/"),  # named groups read as a path (URL name or not)
        ("/news/feed/", "feed"),  # an alternation: named by its URL name
        ("/robots.txt", "robots.txt"),  # an escaped dot reads as a path
        ("/docs/a/b/c", "docs/<path:page>"),  # a place under <path:>, not a catch-all
        ("/shop/ABC-12/", "shop:item"),  # a namespaced URL name
        ("/about/us/", "pages"),  # the regex catch-all
        ("/", "pages"),
    ],
)
def test_each_kind_of_route_is_stored_under_its_name(probe, path, route):
    response, stored = get(probe, path)
    assert stored == route
    assert ROUTE_HEADER not in response  # nothing split: the published name is the name


@pytest.mark.urls("tests.probe.routes_path_urls")
def test_a_path_converter_catch_all_is_named_by_its_url_name(probe):
    assert get(probe, "/some/where/deep", "a")[1] == "anything"
    assert get(probe, "/about/", "b")[1] == "about/"


def test_route_name_splits_a_route_by_what_it_served_and_tells_the_client(make_probe):
    probe = make_probe(ROUTE_NAME=ROUTE_NAME)
    response, stored = get(probe, "/about/us/?kind=Article", "a")
    assert stored == "pages[Article]"
    assert response[ROUTE_HEADER] == "pages[Article]"
    response, stored = get(probe, "/api/posts/?kind=list", "b")  # every route, path-style too
    assert stored == response[ROUTE_HEADER] == "api/posts/[list]"
    response, stored = get(probe, "/about/us/", "c")  # None: the route's own name, no header
    assert stored == "pages" and ROUTE_HEADER not in response
    assert probe.internal_errors == 0


@pytest.mark.parametrize("kind", ["boom", "[x]", "x" * 101, "café"])
def test_a_route_name_that_raises_or_returns_junk_never_fails_the_request(make_probe, kind):
    probe = make_probe(ROUTE_NAME=ROUTE_NAME)
    response, stored = get(probe, f"/about/us/?kind={kind}")
    assert response.status_code == 200 and response.content == b"served"
    assert stored == "pages" and ROUTE_HEADER not in response
    assert probe.internal_errors == 1  # counted in /perf/api/status/ like other probe errors


@pytest.mark.parametrize("setting", [{"SAMPLE_PERCENT": 0}, {"IGNORE_PATHS": ["^/about/"]}])
def test_requests_the_probe_does_not_record_are_named_all_the_same(make_probe, setting):
    make_probe(ROUTE_NAME=ROUTE_NAME, **setting)
    response = Client().get("/about/us/?kind=Article")
    assert response[ROUTE_HEADER] == "pages[Article]"


def test_an_app_that_hides_its_routes_sends_no_served_name(make_probe):
    probe = make_probe(ROUTE_NAME=ROUTE_NAME, EXPOSE_ROUTES=False)
    response, stored = get(probe, "/about/us/?kind=Article")
    assert stored == "pages[Article]" and ROUTE_HEADER not in response


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no.such.module.name_it", "PERFLAB['ROUTE_NAME'] cannot import"),
        (42, "PERFLAB['ROUTE_NAME'] must be a callable"),
    ],
)
def test_route_name_is_validated_at_startup(tmp_path, value, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("[", r"\[")):
        parse_settings({"ROUTE_NAME": value}, tmp_path / "s.sqlite3")
    assert parse_settings({"ROUTE_NAME": ROUTE_NAME}, tmp_path / "s.sqlite3").ROUTE_NAME


def test_a_pattern_is_named_once_then_looked_up():
    first, second = RequestFactory().get("/about/"), RequestFactory().get("/contact/")
    first.resolver_match, second.resolver_match = resolve("/about/"), resolve("/contact/")
    assert named_route_of(first) is named_route_of(second)  # the same cached NamedRoute
    assert named_route_of(RequestFactory().get("/")).name == ""  # nothing resolved


@pytest.mark.parametrize(
    ("route", "catch_all"),
    [
        (r"^((?:[\w\-]+/)*)$", True),  # Wagtail (WAGTAIL_APPEND_SLASH)
        (r"^([\w\-/]*)$", True),  # Wagtail without it
        ("<path:rest>", True),
        (r"^.*$", True),
        (r"^(?P<url>.*/)$", True),  # flatpages' catch-all
        ("docs/<path:page>", False),
        ("<slug:slug>/", False),
        (r"^api/posts/(?P<pk>[^/.]+)/$", False),
        ("", False),
    ],
)
def test_a_catch_all_is_a_pattern_that_matches_any_path(route, catch_all):
    assert is_catch_all(route) is catch_all


def test_wagtail_serve_is_split_by_the_page_type_it_served():
    """Wagtail's serve route, named as the probe names it; the page type comes from perflab's
    before_serve_page hook, else from the TemplateResponse's ``page`` (a real Wagtail site:
    tests/wagtail_site/test_site.py::test_each_page_type_is_a_route_of_its_own)."""
    named = name_route(
        r"^((?:[\w\-]+/)*)$", "wagtail_serve", "wagtail_serve", "wagtail.views.serve"
    )
    assert named == NamedRoute("wagtail_serve", "wagtail.views.serve", False, True)

    class BlogPage:
        pass

    template = engines["django"].from_string("{{ page }}")
    request = RequestFactory().get("/blog/post-1/")
    response = TemplateResponse(request, template, {"page": BlogPage()})
    assert served_name(named, request, response) == "wagtail_serve[BlogPage]"
    from perflab.wagtail_hooks import note_page_type

    note_page_type(BlogPage(), request, (), {})  # what Wagtail calls before serving
    assert served_name(named, request, None) == "wagtail_serve[BlogPage]"
    not_served = RequestFactory().get("/missing/")  # a 404: no page, the route's own name
    assert served_name(named, not_served, None) == "wagtail_serve"
