"""/perf/api/urlpatterns/: the route list a load generator groups URLs by."""

import re

import pytest
from django.urls import resolve

from perflab.probe.routes import readable_route
from tests.probe.conftest import flushed

pytestmark = pytest.mark.django_db


def fetch(client):
    response = client.get("/perf/api/urlpatterns/")
    assert response.status_code == 200
    return response.json()["urlpatterns"]


def route_for(patterns, path: str) -> str | None:
    for entry in patterns:
        if re.match(entry["regex"], path.lstrip("/")):
            return entry["route"]
    return None


@pytest.mark.parametrize(
    "path",
    ["/api/posts/", "/api/posts/123/", "/api/authors/", "/api/authors/naive/", "/healthz/",
     "/api/token/", "/api/categories/"],
)  # fmt: skip
def test_each_path_maps_to_the_route_django_resolves(client, probe, path):
    expected = readable_route(resolve(path).route)
    assert route_for(fetch(client), path) == expected


def test_dynamic_routes_are_marked_and_ids_collapse(client, probe):
    patterns = fetch(client)
    routes = {route_for(patterns, f"/api/posts/{n}/") for n in range(1, 200)}
    assert routes == {"api/posts/<pk>/"}
    by_route = {entry["route"]: entry for entry in patterns}
    assert by_route["api/posts/<pk>/"]["dynamic"] is True
    assert by_route["healthz/"]["dynamic"] is False
    assert route_for(patterns, "/no/such/page/") is None


def test_anonymous_clients_get_patterns_only_unless_hidden(client, make_probe):
    make_probe()
    body = client.get("/perf/api/urlpatterns/").json()
    assert set(body) == {"urlpatterns", "app"}
    assert body["app"]["debug"] is False and body["app"]["database"] in ("sqlite", "postgresql")
    assert set(body["urlpatterns"][0]) == {
        "route", "regex", "dynamic", "path_style", "per_response",
    }  # fmt: skip
    make_probe(EXPOSE_ROUTES=False)
    assert client.get("/perf/api/urlpatterns/").status_code == 403


def route_entry(patterns, path: str) -> dict | None:
    return next((e for e in patterns if re.match(e["regex"], path.lstrip("/"))), None)


@pytest.mark.urls("tests.probe.routes_urls")
@pytest.mark.parametrize(
    "path",
    ["/api/posts/", "/api/posts/7/", "/api/posts.json", "/legacy/12/", "/archive/2024/",
     "/news/feed/", "/robots.txt", "/docs/a/b/c", "/shop/ABC-12/", "/about/us/", "/"],
)  # fmt: skip
def test_published_names_are_the_names_the_probe_stores(client, probe, path):
    """Every kind of route (tests/probe/routes_urls.py, catch-all last): the entry a client
    finds for a path names it as the probe stores its requests."""
    entry = route_entry(fetch(client), path)
    client.get(path, HTTP_X_REQUEST_ID="published")
    stored = flushed(probe).request(request_id="published")
    assert entry["route"] == stored["route"]
    assert entry["path_style"] is (entry["route"] not in ("feed", "shop:item", "pages"))
    assert entry["per_response"] is False  # nothing splits these routes


@pytest.mark.urls("tests.probe.routes_path_urls")
def test_a_path_catch_all_is_published_by_its_url_name(client, probe):
    entry = route_entry(fetch(client), "/any/thing/")
    assert (entry["route"], entry["path_style"], entry["dynamic"]) == ("anything", False, True)


@pytest.mark.urls("tests.probe.routes_urls")
def test_with_route_name_every_route_is_named_per_response(client, make_probe):
    make_probe(ROUTE_NAME="tests.probe.routes_urls.name_by_kind")
    patterns = fetch(client)
    assert patterns and all(entry["per_response"] for entry in patterns)
