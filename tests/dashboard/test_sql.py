"""The SQL pages: fingerprints by total time, one fingerprint's routes and example, EXPLAIN by
a signed id through a CSRF-protected form, the plan shown."""

import pytest
from django.db import connection
from django.test import Client

from perflab.dashboard.formats import ms
from perflab.dashboard.sql import plan_tree
from perflab.probe.store.reader import Window
from tests.dashboard.conftest import message, page

# EXPLAIN runs on the app's database: again on PostgreSQL in make test's database pass.
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls"), pytest.mark.database]


def statements(html) -> list[str]:
    return [tr["data-fingerprint"] for tr in html.select("#statements tr[data-fingerprint]")]


def test_fingerprints_by_total_time(traffic, staff):
    html = page(staff.get("/perf/sql/"))
    stored = traffic.store.sql(Window.last_minutes(60), limit=100)
    assert statements(html) == [r["fingerprint_hash"] for r in stored]
    first = html.select_one("#statements tr[data-fingerprint]")
    assert first.select("td")[1].text == ms(stored[0]["total_ms"])
    assert first.select("td")[3].text == ms(stored[0]["mean_ms"])
    naive = page(staff.get("/perf/sql/?route=api/authors/naive/"))
    assert len(statements(naive)) < len(statements(html))


def profile_statement(staff, store) -> str:
    """The page of the naive listing's per-author profile lookup."""
    (row,) = [r for r in store.sql(Window.last_minutes(60), limit=100)
              if r["fingerprint"].startswith('SELECT "blog_profile"')]  # fmt: skip
    return f"/perf/sql/{row['fingerprint_hash']}/?range=1h"


def test_a_fingerprint_with_its_routes_and_example(traffic, staff):
    html = page(staff.get(profile_statement(staff, traffic.store)))
    routes = [tr["data-route"] for tr in html.select("#statement-routes tr[data-route]")]
    assert routes == ["api/authors/naive/"]
    assert html.select_one("dd[data-figure=count]").text == str(3 * 6)
    assert "blog_profile" in html.select_one("[data-testid=example-sql]").text
    assert html.select_one("[data-testid=example-request]").text.startswith("naive-")


def test_explain_shows_the_plan(traffic, staff):
    url = profile_statement(staff, traffic.store)
    form = page(staff.get(url)).select_one("form#explain")
    token = form.select_one("[name=csrfmiddlewaretoken]")["value"]
    explain_id = form.select_one("[name=explain_id]")["value"]
    html = page(staff.post(url, {"csrfmiddlewaretoken": token, "explain_id": explain_id}))
    plan = html.select_one("#plan")
    assert plan["data-vendor"] == connection.vendor
    assert "blog_profile" in plan.pre.text  # the plan names the table it reads


def test_explain_without_a_csrf_token_is_refused(traffic, staff):
    url = profile_statement(staff, traffic.store)
    explain_id = page(staff.get(url)).select_one("form#explain [name=explain_id]")["value"]
    response = staff.post(url, {"explain_id": explain_id})
    assert response.status_code == 403
    assert b'id="plan"' not in response.content


def test_explain_refuses_an_id_it_did_not_issue(traffic, staff):
    url = profile_statement(staff, traffic.store)
    token = page(staff.get(url)).select_one("form#explain [name=csrfmiddlewaretoken]")["value"]
    html = page(staff.post(url, {"csrfmiddlewaretoken": token, "explain_id": "forged:id"}))
    assert html.select_one("[data-testid=explain-error]").text == "not an id this server issued"
    assert html.select_one("#plan") is None
    missing = staff.post(url, {"csrfmiddlewaretoken": token})
    assert missing.status_code == 400 and message(missing) == "explain_id is required"


def test_explain_is_for_staff_only(traffic, member):
    response = member.post("/perf/sql/abc/", {"explain_id": "x"})
    assert response.status_code in (403,)
    assert Client().post("/perf/sql/abc/", {"explain_id": "x"}).status_code == 302


def test_sqlites_plan_rows_read_as_a_tree():
    rows = ["2 0 0 SCAN blog_post", "5 0 0 SEARCH auth_user USING INTEGER PRIMARY KEY (rowid=?)",
            "9 5 0 CORRELATED SCALAR SUBQUERY 1", "12 9 0 SCAN blog_tag"]  # fmt: skip
    assert plan_tree({"vendor": "sqlite", "plan": rows}) == [
        "SCAN blog_post",
        "SEARCH auth_user USING INTEGER PRIMARY KEY (rowid=?)",
        "  CORRELATED SCALAR SUBQUERY 1",
        "    SCAN blog_tag",
    ]
    postgres = ["Limit  (cost=0.15..8.17 rows=1 width=36)", "  ->  Index Scan using x on y"]
    assert plan_tree({"vendor": "postgresql", "plan": postgres}) == postgres  # already a tree
