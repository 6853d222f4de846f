"""The JSON API under /perf/api/: staff only, figures from the store, EXPLAIN refusals, CSRF
for session callers, ids that expire."""

import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.test import APIClient

from perflab.checks import check_settings
from perflab.probe.settings import parse_settings
from tests.demo.conftest import client_for, make_posts, make_user
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

ENDPOINTS = ["routes/", "requests/", "sql/", "findings/", "status/", "request-id/x/"]


@pytest.fixture
def staff(db):
    user = make_user("admin")
    user.is_staff = True
    user.save()
    return client_for(user)


@pytest.fixture
def sessions(settings):
    """The app as a browser-facing project has it: sessions and Django's request.user (cookie
    sessions: no table needed)."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


@pytest.fixture
def browser(sessions, db):
    """A staff user's browser: logged in by a session cookie, CSRF checks on as in production."""
    user = make_user("browser-admin")
    user.is_staff = True
    user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def traffic(probe, db):
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):  # six authors: N+1 at 5
        make_posts(make_user(name), 2)
    client = Client()
    for n in range(3):
        client.get("/api/authors/naive/", HTTP_X_REQUEST_ID=f"naive-{n}")
    client.get("/api/posts/", HTTP_X_REQUEST_ID="list")
    flushed(probe)
    return probe


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_and_non_staff_users_get_nothing(traffic, endpoint):
    assert APIClient().get(f"/perf/api/{endpoint}").status_code == 403
    alice = client_for(make_user("mallory"))
    response = alice.get(f"/perf/api/{endpoint}")
    assert response.status_code == 403
    assert response.json() == {"error": "staff only"}


def test_a_custom_permission_callable(make_probe, db):
    make_probe(PERMISSION=lambda request: request.GET.get("key") == "let-me-in")
    assert Client().get("/perf/api/routes/?key=let-me-in").status_code == 200
    assert Client().get("/perf/api/routes/").status_code == 403


def test_routes_summary(traffic, staff):
    routes = {r["route"]: r for r in staff.get("/perf/api/routes/").json()["routes"]}
    naive = routes["api/authors/naive/"]
    assert naive["count"] == 3
    assert naive["findings"] == 3 * 3  # profile, count and recent posts per request
    assert naive["mean_queries"] == naive["max_queries"] == 2 + 3 * 6
    assert 0 < naive["db_share"] <= 1
    assert naive["p50_ms"] <= naive["p95_ms"] <= naive["p99_ms"] <= naive["max_ms"] * 1.001


def test_requests_filters_and_one_request_in_full(traffic, staff):
    listed = staff.get("/perf/api/requests/?route=api/posts/").json()["requests"]
    assert [r["request_id"] for r in listed] == ["list"]
    detail = staff.get(f"/perf/api/requests/{listed[0]['id']}/").json()
    assert len(detail["queries"]) == 3
    by_request_id = staff.get("/perf/api/request-id/naive-1/").json()
    assert len(by_request_id["findings"]) == 3
    assert staff.get("/perf/api/request-id/nope/").status_code == 404
    assert staff.get("/perf/api/requests/?findings=1").json()["requests"][0]["finding_count"] == 3
    assert staff.get("/perf/api/requests/?limit=x").status_code == 400


def test_sql_by_total_time_and_findings(traffic, staff):
    sql = staff.get("/perf/api/sql/").json()["sql"]
    assert sql == sorted(sql, key=lambda r: r["total_ms"], reverse=True)
    naive = staff.get("/perf/api/sql/?route=api/authors/naive/").json()["sql"]
    assert sum(r["count"] for r in naive) == 3 * 20
    assert {r["count"] for r in naive if "blog_profile" in r["fingerprint"]} == {3 * 6}
    findings = staff.get("/perf/api/findings/?kind=n_plus_one").json()["findings"]
    assert {f["requests"] for f in findings} == {3}
    assert all("naive.py" in f["callsite"] for f in findings)
    assert staff.get("/perf/api/findings/?kind=bogus").status_code == 400


@pytest.mark.parametrize("listing", ["routes", "requests", "sql", "findings"])
def test_every_listing_takes_the_same_window(traffic, staff, listing):
    """``minutes``, or ``since``..``until``: the traffic is in the last minute, not before."""
    now = time.time()
    assert staff.get(f"/perf/api/{listing}/?minutes=1").json()[listing]
    assert staff.get(f"/perf/api/{listing}/?since={now - 60}&until={now + 60}").json()[listing]
    assert staff.get(f"/perf/api/{listing}/?since={now + 120}").json()[listing] == []
    assert staff.get(f"/perf/api/{listing}/?until={now - 120}").json()[listing] == []


def test_status_shows_this_processes_writer(traffic, staff):
    status = staff.get("/perf/api/status/").json()
    assert status["writer"]["written"] >= 4
    assert status["writer"]["dropped_queue_full"] == 0


class TestExplain:
    def test_explains_a_recorded_select(self, traffic, staff):
        detail = staff.get("/perf/api/request-id/list/").json()
        select = next(q for q in detail["queries"] if "explain_id" in q)
        response = staff.post(
            "/perf/api/explain/", {"explain_id": select["explain_id"]}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["plan"]

    def test_refuses_ids_it_did_not_sign(self, traffic, staff):
        for unsigned in ("[1, 0]", "WzEsMF0:1uAbCd:forged-signature"):
            response = staff.post("/perf/api/explain/", {"explain_id": unsigned}, format="json")
            assert response.status_code == 400
            assert "an id this server issued" in response.json()["error"]

    def test_refuses_a_recorded_write(self, probe, staff):
        from perflab.api.explain import explain_id

        author = make_user("writer")
        client_for(author).post(
            "/api/posts/", {"title": "t", "content": "c"}, format="json", HTTP_X_REQUEST_ID="w"
        )
        record = flushed(probe).request(request_id="w")
        insert = next(i for i, q in enumerate(record["queries"]) if q["sql"].startswith("INSERT"))
        assert "explain_id" not in json.dumps(record["queries"][insert])
        forged = explain_id(record["id"], insert)  # even a validly signed id for an INSERT
        response = staff.post("/perf/api/explain/", {"explain_id": forged}, format="json")
        assert response.status_code == 400
        assert "only a recorded SELECT" in response.json()["error"]

    def test_requires_staff(self, traffic):
        assert APIClient().post("/perf/api/explain/", {}, format="json").status_code == 403


def test_a_hint_that_fails_costs_the_hint_not_the_finding(probe, staff, monkeypatch):
    """A relation the hint code cannot read (an app's own kind of field): the request and
    its findings are stored without a hint, and status counts the failure."""
    import perflab.probe.hints as hints

    def unreadable(fingerprint):
        raise AttributeError("'OddManager' object has no attribute 'm2m_field_name'")

    monkeypatch.setattr(hints, "_relation_hint", unreadable)
    before = staff.get("/perf/api/status/").json()["hint_errors"]
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):
        make_posts(make_user(name), 2)
    Client().get("/api/authors/naive/", HTTP_X_REQUEST_ID="odd")
    stored = flushed(probe).request(request_id="odd")
    loops = [f for f in stored["findings"] if f["kind"] == "n_plus_one"]
    assert len(loops) == 3 and {f["hint"] for f in loops} == {None}
    assert probe.writer.stats.complete_errors == 0
    assert staff.get("/perf/api/status/").json()["hint_errors"] == before + 3


def _first_explain_id(client, request_id: str = "list") -> str:
    detail = client.get(f"/perf/api/request-id/{request_id}/")
    assert detail.status_code == 200, detail.content
    return next(q["explain_id"] for q in detail.json()["queries"] if "explain_id" in q)


def _explain(client, explain_id: str, **extra):
    return client.post(
        "/perf/api/explain/",
        json.dumps({"explain_id": explain_id}),
        content_type="application/json",
        **extra,
    )


class TestExplainCsrf:
    """A session cookie is sent by the browser on its own, also with another site's form: a
    session caller must show Django's CSRF token; a token caller set its header itself."""

    def test_a_cross_origin_session_post_without_a_token_is_refused(self, traffic, browser):
        explain_id = _first_explain_id(browser)
        for extra in ({}, {"HTTP_ORIGIN": "https://evil.example"}):
            response = _explain(browser, explain_id, **extra)
            assert response.status_code == 403
            assert response.json()["error"].startswith("CSRF failed: ")
        # A form another site posts (text/plain needs no CORS preflight), token or not.
        token = browser.cookies["csrftoken"].value
        forged = browser.post(
            "/perf/api/explain/",
            json.dumps({"explain_id": explain_id}),
            content_type="text/plain",
            HTTP_ORIGIN="https://evil.example",
            HTTP_X_CSRFTOKEN=token,
        )
        assert forged.status_code == 403
        assert "Origin checking failed" in forged.json()["error"]

    def test_a_session_post_with_the_token_gets_the_plan(self, traffic, browser):
        explain_id = _first_explain_id(browser)  # the listing hands a session its CSRF cookie
        token = browser.cookies["csrftoken"].value
        response = _explain(browser, explain_id, HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 200, response.content
        assert response.json()["plan"]
        same_origin = _explain(
            browser, explain_id, HTTP_X_CSRFTOKEN=token, HTTP_ORIGIN="http://testserver"
        )
        assert same_origin.status_code == 200, same_origin.content

    def test_token_auth_needs_no_csrf_token(self, traffic, sessions):
        staff_user = make_user("token-admin")
        staff_user.is_staff = True
        staff_user.save()
        client = client_for(staff_user)
        client.handler.enforce_csrf_checks = True
        explain_id = _first_explain_id(client)
        assert "csrftoken" not in client.cookies  # no session, no cookie handed out
        response = _explain(client, explain_id, HTTP_ORIGIN="https://elsewhere.example")
        assert response.status_code == 200, response.content
        assert response.json()["plan"]


class TestExplainIds:
    def test_an_expired_id_is_refused_with_a_clear_message(self, make_probe, staff):
        probe = make_probe(EXPLAIN_ID_MAX_AGE_S=2)
        make_posts(make_user("author"), 3)
        Client().get("/api/posts/", HTTP_X_REQUEST_ID="list")
        flushed(probe)
        explain_id = _first_explain_id(staff)
        assert _explain(staff, explain_id).status_code == 200
        time.sleep(3.1)  # ids carry whole seconds: 3.1 s is more than 2 s old however cut
        response = _explain(staff, explain_id)
        assert response.status_code == 400
        assert response.json()["error"] == (
            "this explain_id has expired (ids are valid for 2 s): read the request again for "
            "a new one"
        )

    def test_no_id_for_a_statement_with_masked_parameters(self, probe, staff):
        from perflab.api.explain import explain_id
        from perflab.probe.masking import MASK

        make_user("walter")
        login = Client().post(
            "/api/token/",
            json.dumps({"username": "walter", "password": "secret-pass"}),
            content_type="application/json",
            HTTP_X_REQUEST_ID="login",
        )
        assert login.status_code == 200
        flushed(probe)
        queries = staff.get("/perf/api/request-id/login/").json()["queries"]
        masked = [i for i, q in enumerate(queries) if q["params"] and MASK in q["params"]]
        assert masked, "the user lookup reads the password column: its parameters are masked"
        assert all("explain_id" not in queries[i] for i in masked)
        record = probe.store.request(request_id="login")
        forged = explain_id(record["id"], masked[0])  # validly signed all the same
        response = _explain(staff, forged)
        assert response.status_code == 400
        assert "parameters were not recorded" in response.json()["error"]

    @pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "1h", True, None])
    def test_the_max_age_setting_is_validated_at_startup(self, value, settings, tmp_path):
        with pytest.raises(ImproperlyConfigured, match="EXPLAIN_ID_MAX_AGE_S"):
            parse_settings({"EXPLAIN_ID_MAX_AGE_S": value}, tmp_path / "probe.sqlite3")
        settings.PERFLAB = {**settings.PERFLAB, "EXPLAIN_ID_MAX_AGE_S": value}
        [error] = check_settings()
        assert error.id == "perflab.E005" and "EXPLAIN_ID_MAX_AGE_S" in error.msg
