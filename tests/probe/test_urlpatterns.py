"""/perf/api/urlpatterns/: the route list a load generator groups URLs by."""

import re

import pytest
from django.urls import resolve

from perflab.middleware import readable_route

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
    assert set(body["urlpatterns"][0]) == {"route", "regex", "dynamic"}
    make_probe(EXPOSE_ROUTES=False)
    assert client.get("/perf/api/urlpatterns/").status_code == 403
