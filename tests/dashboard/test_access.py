"""Who sees the dashboard: staff (or PERMISSION), anonymous visitors sent to log in, others
refused; assets behind the same check; private, uncached, read-only pages; one-line errors."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.dashboard.conftest import message, page

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

PAGES = [
    "/perf/",
    "/perf/route/?method=GET&route=api/posts/",
    "/perf/requests/1/",
    "/perf/requests/1/profile/",
    "/perf/sql/",
    "/perf/sql/abc123/",
    "/perf/runs/",
    "/perf/runs/some-run/report/",
    "/perf/search/?q=/api/",
    "/perf/assets/uPlot.iife.min.js",
    "/perf/assets/dashboard.css",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(traffic, url, settings):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL + "?next=")
    assert response["Cache-Control"] == "private, no-store"


def test_the_login_url_can_be_the_dashboards_own(make_probe, db):
    make_probe(LOGIN_URL="/admin/login/")  # e.g. a Wagtail site, whose /accounts/ is a page
    response = Client().get("/perf/sql/?range=7d")
    assert response["Location"] == "/admin/login/?next=/perf/sql/%3Frange%3D7d"


@pytest.mark.parametrize("url", PAGES)
def test_users_who_are_not_staff_are_refused(traffic, member, url):
    response = member.get(url)
    assert response.status_code == 403
    assert message(response) == "The dashboard is for staff only."
    assert b"naive" not in response.content and b"leeoniya" not in response.content
    assert b"/perf/assets/" not in response.content  # asks for nothing it would be refused
    assert response["Cache-Control"] == "private, no-store"


def test_an_inactive_staff_user_is_refused(traffic, db):
    from tests.dashboard.conftest import browser_for
    from tests.demo.conftest import make_user

    user = make_user("former")
    user.is_staff, user.is_active = True, False
    user.save()
    assert browser_for(user).get("/perf/").status_code in (302, 403)


def test_the_permission_callable_decides(make_probe, staff, db):
    make_probe(PERMISSION=lambda request: request.GET.get("key") == "let-me-in")
    assert Client().get("/perf/?key=let-me-in").status_code == 200
    assert Client().get("/perf/assets/dashboard.js?key=let-me-in").status_code == 200
    assert Client().get("/perf/").status_code == 302  # anonymous: log in first
    assert staff.get("/perf/").status_code == 403  # staff, but the callable says no


def test_pages_are_private_uncached_and_load_only_their_own_assets(traffic, staff):
    for url in ("/perf/", "/perf/sql/", "/perf/runs/", "/perf/assets/uPlot.min.css"):
        response = staff.get(url)
        assert response["Cache-Control"] == "private, no-store"
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy


def test_assets_are_served_from_the_package_and_the_report(traffic, staff):
    uplot = staff.get(reverse("perflab:dashboard-asset", args=["uPlot.iife.min.js"]))
    assert uplot.status_code == 200
    assert uplot["Content-Type"].startswith("text/javascript")
    assert uplot.content.startswith(b"/*! https://github.com/leeoniya/uPlot")
    assert staff.get("/perf/assets/dashboard.css")["Content-Type"].startswith("text/css")
    missing = staff.get("/perf/assets/..%2Fsettings.py")
    assert missing.status_code == 404
    assert staff.get("/perf/assets/report.js").status_code == 404  # only what is listed


def test_pages_name_no_outside_resource(traffic, staff):
    """No network at runtime: every script and stylesheet is one of the dashboard's assets."""
    html = page(staff.get("/perf/"))
    sources = [s["src"] for s in html.select("script[src]")]
    sources += [link["href"] for link in html.select("link[href]")]
    assert sources and all(s.startswith("/perf/assets/") or s == "data:," for s in sources)


def test_no_page_writes_to_the_app_database(traffic, staff):
    """Every page, the EXPLAIN form's POST included, only reads the app's database."""
    statement = page(staff.get("/perf/sql/")).select_one("#statements td.sql a")["href"]
    with CaptureQueriesContext(connection) as captured:
        for url in ("/perf/", "/perf/route/?method=GET&route=api/authors/naive/", "/perf/sql/",
                    "/perf/runs/", "/perf/search/?q=/api/", "/perf/search/?q=naive-1",
                    statement, "/perf/requests/1/"):  # fmt: skip
            assert staff.get(url).status_code in (200, 302), url
        form = page(staff.get(statement)).select_one("form#explain")
        if form is not None:
            token = form.select_one("[name=csrfmiddlewaretoken]")["value"]
            explain_id = form.select_one("[name=explain_id]")["value"]
            staff.post(statement, {"csrfmiddlewaretoken": token, "explain_id": explain_id})
    verbs = {q["sql"].split()[0].upper() for q in captured.captured_queries}
    assert verbs <= {"SELECT", "EXPLAIN", "SAVEPOINT", "RELEASE", "ROLLBACK"}, verbs


def test_bad_values_are_a_400_with_one_line(traffic, staff):
    response = staff.get("/perf/?range=2y")
    assert response.status_code == 400
    assert message(response) == "range must be one of 5m, 15m, 1h, 6h, 24h, 7d, got '2y'"
    assert staff.get("/perf/?sort=nope").status_code == 400
    assert staff.get("/perf/?range=1h&range=7d").status_code == 400
    assert staff.get("/perf/route/?route=api/posts/").status_code == 400  # method required
    assert staff.get("/perf/sql/XYZ/").status_code == 400  # not a hex hash
    assert staff.get("/perf/?q=%00").status_code == 400
    assert staff.get("/perf/?run=a%20b").status_code == 400


def test_unknown_things_are_a_404_page(traffic, staff):
    for url in ("/perf/requests/999999/", "/perf/requests/999999/profile/", "/perf/?run=nope",
                "/perf/sql/0123abcd/", "/perf/runs/nope/report/", "/perf/search/?q=no-such-id",
                "/perf/route/?method=GET&route=nowhere/"):  # fmt: skip
        response = staff.get(url)
        assert response.status_code == 404, url
        assert message(response)
        assert response["Cache-Control"] == "private, no-store"


def test_an_unavailable_store_is_a_503_page(make_probe, staff, tmp_path):
    make_probe(STORE={"PATH": str(tmp_path)})  # a directory: SQLite cannot open it
    response = staff.get("/perf/")
    assert response.status_code == 503
    assert message(response).startswith("store unavailable: ")
