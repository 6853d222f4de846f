"""The dashboard over a store kept in a ``DATABASES`` alias (the app's own database here; on
PostgreSQL in make test's database pass), written by the store's real writer side."""

import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from perflab.probe.fingerprint import fingerprint_hash, fingerprint_sql
from perflab.probe.records import CacheEvent, QueryEvent, RequestRecord, SpanEvent
from tests.dashboard.conftest import page

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls"), pytest.mark.database]

LOOKUP = (
    'SELECT "auth_user"."id", "auth_user"."username" FROM "auth_user" WHERE "auth_user"."id" = %s'
)


def lookup(n: int, user_id: int) -> QueryEvent:
    shape = fingerprint_sql(LOOKUP)
    return QueryEvent(sql=LOOKUP, fingerprint=shape, fingerprint_hash=fingerprint_hash(shape),
                      duration_ms=0.5, alias="default", start_ms=1.0 + n, params=[user_id],
                      callsite="app/views.py:12:f", location="app/views.py:12:f")  # fmt: skip


@pytest.fixture
def alias_store(make_probe, staff):
    # The app starts before the store is switched: ProbeMiddleware's __init__ (the client's
    # first request) closes the store's connection for forks to come, which on PostgreSQL
    # would end this test's transaction with it.
    staff.get("/healthz/")
    store = make_probe(STORE={"ALIAS": "default"}).store
    user_id = get_user_model().objects.get(username="admin").id
    now = time.time()
    store.write([
        RequestRecord(request_id=f"alias-{n}", method="GET", path=f"/users/{n}/", started=now - n,
                      pid=1, route="users/<int:pk>/", status=200 if n else 404,
                      duration_ms=10.0 + n, queries=[lookup(i, user_id) for i in range(3)],
                      cache=[CacheEvent("get", "default", 0.2, hits=1, start_ms=0.5)],
                      spans=[SpanEvent("render", 5.0, 2.0)])
        for n in range(4)
    ])  # fmt: skip
    return store


def test_pages_over_an_alias_store(alias_store, staff):
    overview = page(staff.get("/perf/"))
    row = overview.select_one('#routes tr[data-route="users/<int:pk>/"]')
    assert row.select("td")[1].text == "4"
    route = page(staff.get("/perf/route/?method=GET&route=users/<int:pk>/"))
    assert len(route.select("[data-testid=requests] tr[data-request-id]")) == 4
    record = alias_store.request(request_id="alias-2")
    waterfall = page(staff.get(f"/perf/requests/{record['id']}/")).select("#waterfall tr.event")
    assert [r["data-kind"] for r in waterfall] == ["cache", "sql", "sql", "sql", "span"]
    found = page(staff.get("/perf/search/?q=/users/"))
    assert len(found.select("[data-testid=requests] tr[data-request-id]")) == 4
    assert (
        page(staff.get("/perf/search/?q=404")).select_one("tr[data-request-id]")["data-request-id"]
        == "alias-0"
    )


def test_explain_over_an_alias_store(alias_store, staff):
    listed = page(staff.get("/perf/sql/")).select_one("#statements tr[data-fingerprint] td.sql a")
    statement = page(staff.get(listed["href"]))
    assert statement.select_one("dd[data-figure=count]").text == "12"
    form = statement.select_one("form#explain")
    posted = staff.post(listed["href"], {
        "csrfmiddlewaretoken": form.select_one("[name=csrfmiddlewaretoken]")["value"],
        "explain_id": form.select_one("[name=explain_id]")["value"],
    })  # fmt: skip
    plan = page(posted).select_one("#plan")
    assert plan["data-vendor"] == connection.vendor and "auth_user" in plan.pre.text


def test_a_catch_all_route_over_an_alias_store(alias_store, staff):
    """Its endpoints ``route[…]`` by code point (PostgreSQL's collation may order otherwise)."""
    now = time.time()
    alias_store.write([
        RequestRecord(request_id=f"page-{n}", method="GET", path="/p", started=now, pid=1,
                      route=route, status=200, duration_ms=5.0)
        for n, route in enumerate(["pages/[Blog]", "pages/[Home]", "pages/<x>/", "pagesX",
                                   "pages/"])
    ])  # fmt: skip
    html = page(staff.get("/perf/route/?method=GET&route=pages/"))
    assert [tr["data-route"] for tr in html.select("#endpoints tr[data-route]")] == [
        "pages/[Blog]", "pages/[Home]"
    ]  # fmt: skip
    counts = json.loads(html.select_one("#query-count-chart")["data-series"])
    assert counts["series"][0]["values"] == [3]  # the route and its two endpoints
