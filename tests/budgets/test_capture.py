"""The capture: the probe's own recorders around test code, one record per request.

Against the reference app, which runs the probe's middleware: what the middleware records
for its store must reach the capture once, not twice, and not be lost.
"""

import threading
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

from perflab.budgets.capture import OUTSIDE, Capture
from perflab.demo.models import Post
from tests.demo.conftest import make_posts, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def blog(db):
    category = None
    for n in range(4):
        make_posts(make_user(f"writer{n}"), 2, category=category)


def test_each_request_is_one_record_with_its_route_view_and_statements(api_client, blog):
    with CaptureQueriesContext(connection) as django_saw, Capture() as seen:
        assert api_client.get("/api/posts/").status_code == 200
        assert api_client.get("/api/authors/naive/?page=1").status_code == 200
    posts, naive = seen.requests
    assert (posts.method, posts.route, posts.view, posts.status) == (
        "GET", "api/posts/", "perflab.demo.views.PostViewSet", 200,
    )  # fmt: skip
    assert naive.view == "perflab.demo.naive.NaiveAuthorListView"
    assert naive.path == "/api/authors/naive/"
    # The probe's middleware recorded each request too: its events reached the capture once.
    assert len(posts.queries) + len(naive.queries) == len(django_saw.captured_queries)
    # Django's list holds the SQL with its parameters in place; the probe's, placeholders
    assert [q.sql[:50] for q in seen.queries] == [
        q["sql"][:50] for q in django_saw.captured_queries
    ]
    assert seen.records == [posts, naive]  # the test code ran no statement of its own


def test_findings_are_the_probes_with_place_view_and_hint(api_client, blog):
    with Capture() as seen:
        api_client.get("/api/authors/naive/")
    found = {(f.finding.location, f.finding.hint) for f in seen.findings}
    assert found == {
        ("src/perflab/demo/naive.py:32:get_display_name", "select_related('profile')"),
        ("src/perflab/demo/naive.py:37:get_post_count", "annotate(Count('posts'))"),
        ("src/perflab/demo/naive.py:41:get_recent_posts",
         "prefetch_related(Prefetch('posts', queryset=...))"),
    }  # fmt: skip
    assert {f.finding.count for f in seen.findings} == {4}  # one per author on the page
    assert {f.record.view for f in seen.findings} == {"perflab.demo.naive.NaiveAuthorListView"}


def test_the_test_codes_own_statements_are_one_record_in_time_order(api_client, blog):
    with Capture() as seen:
        Post.objects.count()
        api_client.get("/api/categories/")  # a cache miss, then one statement
        list(Post.objects.filter(title="none"))
    outside = seen.outside
    assert outside.view == OUTSIDE
    assert len(outside.queries) == 2
    assert outside.queries[0].callsite.startswith("tests/budgets/test_capture.py:")
    order = [(record.view, type(event).__name__) for record, event in seen.timeline()]
    view = "perflab.demo.views.CategoryListView"
    assert order[0] == (OUTSIDE, "QueryEvent")
    assert (view, "CacheEvent") in order[1:-1]
    assert (view, "QueryEvent") in order[1:-1]
    assert {view for view, _ in order[1:-1]} == {view}
    assert order[-1] == (OUTSIDE, "QueryEvent")


def test_transaction_control_is_kept_apart(db):
    with Capture() as seen, transaction.atomic():
        Post.objects.count()
    assert [q.sql.split()[0] for q in seen.all_queries] == ["SAVEPOINT", "SELECT", "RELEASE"]
    assert [q.sql.split()[0] for q in seen.queries] == ["SELECT"]


def test_captures_nest_and_each_sees_its_whole_block(api_client, blog):
    with Capture() as outer:
        api_client.get("/api/posts/")
        with Capture() as inner:
            Post.objects.count()
            api_client.get("/api/categories/")
        Post.objects.exists()
    assert [r.route for r in inner.requests] == ["api/categories/"]
    assert len(inner.outside.queries) == 1
    assert [r.route for r in outer.requests] == ["api/posts/", "api/categories/"]
    assert len(outer.outside.queries) == 2  # its own and the inner block's


def test_async_views_under_the_async_client(blog):
    with Capture() as seen:
        response = async_to_sync(AsyncClient().get)("/api/stats/")
    assert response.status_code == 200
    (stats,) = seen.requests
    assert stats.view == "perflab.demo.views.stats"
    # acount() through the ORM's async API, and a raw cursor in sync_to_async
    assert [q.sql.split()[0] for q in stats.queries] == ["SELECT", "SELECT"]
    assert "COUNT" in stats.queries[1].sql


@pytest.mark.django_db(transaction=True)
def test_requests_served_in_another_thread_are_records_too(live_server):
    make_posts(make_user("writer"), 2)
    url = f"{live_server.url}/api/posts/"
    with Capture() as seen, urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
    (posts,) = seen.requests
    assert posts.route == "api/posts/"
    assert posts.queries
    assert threading.current_thread() is threading.main_thread()


def test_no_capture_open_means_no_record(api_client, blog):
    api_client.get("/api/posts/")  # nothing open: the handler as it was
    with Capture() as seen:
        pass
    assert seen.requests == []
    assert seen.records == []


def test_without_django_settings_it_says_so_in_one_line(pytester, monkeypatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    pytester.makepyfile(
        """
        def test_budget(perf):
            with perf.budget(queries=0):
                pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * perflab.errors.PerflabError: perflab's budgets record Django's statements, and "
         "Django's settings are not configured: set DJANGO_SETTINGS_MODULE*"]
    )  # fmt: skip
