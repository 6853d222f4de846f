"""The probe middleware on the reference app: what it records per request, and how."""

import json
import logging
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from pyinstrument.session import Session
from rest_framework.test import APIClient

from perflab.demo import naive
from tests.demo.conftest import client_for, make_posts, make_user
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]


def line_of(module, text: str) -> int:
    """The line number of ``text`` in a module's source (so tests survive edits above it)."""
    lines = Path(module.__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture
def blog(db):
    author = make_user("alice")
    make_posts(author, 30)
    for n in range(6):
        make_posts(make_user(f"writer{n}"), 2)
    return author


def test_records_route_view_status_size_and_echoes_the_request_id(probe, blog):
    response = Client().get("/api/posts/", HTTP_X_REQUEST_ID="load-42")
    assert response["X-Request-ID"] == "load-42"
    record = flushed(probe).request(request_id="load-42")
    assert record["method"] == "GET"
    assert record["route"] == "api/posts/"
    assert record["view"] == "perflab.demo.views.PostViewSet"
    assert record["status"] == 200
    assert record["response_bytes"] == len(response.content)
    assert record["query_count"] == 3
    assert record["duration_ms"] >= record["db_ms"] > 0
    assert record["cpu_ms"] > 0


def test_route_is_the_pattern_not_the_path(probe, blog):
    post_id = blog.posts.first().id
    Client().get(f"/api/posts/{post_id}/", HTTP_X_REQUEST_ID="detail")
    assert flushed(probe).request(request_id="detail")["route"] == "api/posts/<pk>/"


@pytest.mark.parametrize("sent", [None, "bad id with spaces", "x" * 200])
def test_a_request_id_is_generated_when_missing_or_unusable(probe, blog, sent):
    headers = {"HTTP_X_REQUEST_ID": sent} if sent else {}
    response = Client().get("/api/categories/", **headers)
    generated = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert flushed(probe).request(request_id=generated) is not None


def test_server_timing_header_splits_db_and_app(probe, blog):
    response = Client().get("/api/posts/")
    timing = response["Server-Timing"]
    assert re.fullmatch(
        r'db;dur=[\d.]+;desc="3 queries", app;dur=[\d.]+, total;dur=[\d.]+', timing
    ), timing


def test_naive_authors_yields_n_plus_one_findings_at_the_right_lines(probe, blog):
    Client().get("/api/authors/naive/", HTTP_X_REQUEST_ID="naive")
    record = flushed(probe).request(request_id="naive")
    by_function = {f["callsite"].rsplit(":", 1)[1]: f for f in record["findings"]}
    assert set(by_function) == {"get_post_count", "get_recent_posts", "get_display_name"}
    count = by_function["get_post_count"]
    path, line, _ = count["callsite"].split(":")
    assert Path(path).resolve() == Path(naive.__file__).resolve()
    assert int(line) == line_of(naive, "return user.posts.count()")
    recent = by_function["get_recent_posts"]["callsite"].split(":")
    assert int(recent[1]) == line_of(naive, "return RecentPostSerializer(recent, many=True)")
    assert count["count"] == 7  # one per author on the page: alice and six writers
    assert count["hint"] == "annotate(Count('posts'))"
    profile = by_function["get_display_name"]
    assert int(profile["callsite"].split(":")[1]) == line_of(naive, "return user.profile.display")
    assert profile["hint"] == "select_related('profile')"


def test_optimized_twin_yields_no_findings(probe, blog):
    Client().get("/api/authors/", HTTP_X_REQUEST_ID="optimized")
    record = flushed(probe).request(request_id="optimized")
    assert record["query_count"] == 3
    assert record["findings"] == []


def test_raw_cursor_sql_is_captured(probe, blog):
    Client().get("/api/stats/", HTTP_X_REQUEST_ID="raw")
    sqls = [q["sql"] for q in flushed(probe).request(request_id="raw")["queries"]]
    assert "SELECT COUNT(*) FROM blog_post_tags" in sqls


def _outer_wrapper(execute, sql, params, many, context):
    """An app's own execute wrapper (app code), run outside the probe's."""
    return execute(sql, params, many, context)


@pytest.mark.parametrize("outer_wrapper", [False, True])
def test_raw_cursor_sql_has_the_apps_call_site(probe, blog, outer_wrapper):
    from django.db import connection

    from perflab.demo import views

    if outer_wrapper:  # first in the list: Django runs it outside the probe's wrapper
        connection.execute_wrappers.insert(0, _outer_wrapper)
    try:
        Client().get("/t/raw/", HTTP_X_REQUEST_ID="raw-site")
    finally:
        if outer_wrapper:
            connection.execute_wrappers.remove(_outer_wrapper)
    queries = flushed(probe).request(request_id="raw-site")["queries"]
    raw = next(q for q in queries if q["sql"].startswith("SELECT COUNT(*) FROM blog_post_tags"))
    path, line, function = raw["callsite"].split(":")
    assert Path(path).resolve() == Path(views.__file__).resolve()
    assert (int(line), function) == (line_of(views, "cursor.execute(f"), "_count_tag_links")


def test_async_view_is_recorded_through_the_asgi_handler(probe, blog):
    # AsyncClient drives Django's ASGI handler: the middleware runs as a coroutine.
    response = async_to_sync(AsyncClient().get)("/api/stats/", headers={"X-Request-ID": "async"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "async"
    record = flushed(probe).request(request_id="async")
    assert record["route"] == "api/stats/"
    assert record["query_count"] == 2
    assert [s["name"] for s in record["spans"]] == ["blog stats"]


def test_cache_calls_are_recorded_with_hits_and_misses(probe, blog):
    Client().get("/api/categories/", HTTP_X_REQUEST_ID="cold")
    Client().get("/api/categories/", HTTP_X_REQUEST_ID="warm")
    store = flushed(probe)
    cold, warm = store.request(request_id="cold"), store.request(request_id="warm")
    assert [(c["operation"], c["hits"], c["misses"]) for c in cold["cache"]] == [
        ("get", 0, 1),
        ("set", 0, 0),
    ]
    assert [(c["operation"], c["hits"], c["misses"]) for c in warm["cache"]] == [("get", 1, 0)]
    assert warm["cache_hits"] == 1 and warm["query_count"] == 0
    get, set_ = cold["cache"]  # each call's offset from the request's start, in order
    assert 0 <= get["start_ms"] <= set_["start_ms"] <= cold["duration_ms"]


def test_templates_and_spans_are_recorded(probe):
    Client().get("/t/templated/", HTTP_X_REQUEST_ID="tpl")
    record = flushed(probe).request(request_id="tpl")
    assert [t["name"] for t in record["templates"]] == ["<string>"]
    assert record["template_ms"] > 0
    spans = {s["name"]: s for s in record["spans"]}
    assert set(spans) == {"outer", "inner", "decorated helper"}
    assert (spans["outer"]["depth"], spans["inner"]["depth"]) == (0, 1)
    assert spans["decorated helper"]["depth"] == 2
    assert spans["outer"]["duration_ms"] >= spans["inner"]["duration_ms"]
    (template,) = record["templates"]  # rendered after the spans closed, on the same axis
    outer_end = spans["outer"]["start_ms"] + spans["outer"]["duration_ms"]
    assert outer_end <= template["start_ms"] <= record["duration_ms"]


def test_a_failing_view_is_recorded_as_500(probe):
    response = Client(raise_request_exception=False).get("/t/broken/", HTTP_X_REQUEST_ID="boom")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "boom"
    assert flushed(probe).request(request_id="boom")["status"] == 500


def test_ignored_paths_sampling_and_intercept(make_probe, blog):
    probe = make_probe(IGNORE_PATHS=[r"^/api/tags/"], INTERCEPT=lambda r: "skip" not in r.GET)
    client = Client()
    assert client.get("/api/tags/")["X-Request-ID"]  # tagged even when not recorded
    client.get("/api/categories/?skip=1")
    client.get("/api/categories/", HTTP_X_REQUEST_ID="kept")
    store = flushed(probe)
    assert [r["request_id"] for r in store.requests()] == ["kept"]
    probe = make_probe(SAMPLE_PERCENT=0)
    client.get("/api/categories/")
    assert flushed(probe).request_count() == 1  # still only "kept"


def test_user_id_of_a_token_user_is_recorded(probe, blog):
    client = client_for(blog)
    client.get("/api/posts/", HTTP_X_REQUEST_ID="as-alice")
    assert flushed(probe).request(request_id="as-alice")["user_id"] == str(blog.id)


@pytest.mark.serial  # a request that sleeps 0 s must take under 20 ms
def test_slow_requests_are_logged(make_probe, caplog):
    make_probe(SLOW_REQUEST_MS=20)
    with caplog.at_level(logging.WARNING, logger="perflab.slow"):
        Client().get("/t/slow/?s=0.05")
        Client().get("/t/slow/?s=0")
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith("slow request: GET /t/slow/ (t/slow/) ")
    assert ", db 0 ms (0 queries), request id " in message  # the recorders' timing entries


def test_probe_disabled_records_nothing(make_probe, blog):
    probe = make_probe(ENABLED=False)
    response = Client().get("/api/posts/")
    assert "Server-Timing" not in response
    assert flushed(probe).request_count() == 0


class TestProfiling:
    def test_percent_rule_profiles_every_request(self, make_probe, blog):
        probe = make_probe(PROFILE_PERCENT=100)
        Client().get("/api/posts/", HTTP_X_REQUEST_ID="p")
        store = flushed(probe)
        record = store.request(request_id="p")
        session = Session.from_json(json.loads(store.profile(record["id"])))
        assert session.duration > 0
        assert session.sample_count >= 1

    def test_header_rule_keeps_profiles_of_staff_only(self, probe, blog):
        staff = make_user("admin")
        staff.is_staff = True
        staff.save()
        client_for(staff).get("/api/posts/", HTTP_X_PERFLAB_PROFILE="1", HTTP_X_REQUEST_ID="s")
        client_for(blog).get("/api/posts/", HTTP_X_PERFLAB_PROFILE="1", HTTP_X_REQUEST_ID="u")
        APIClient().get("/api/posts/", HTTP_X_PERFLAB_PROFILE="1", HTTP_X_REQUEST_ID="a")
        store = flushed(probe)
        profiled = {rid: store.request(request_id=rid)["profiled"] for rid in "sua"}
        assert profiled == {"s": 1, "u": 0, "a": 0}

    def test_path_rule(self, make_probe, blog):
        probe = make_probe(PROFILE_PATHS=[r"^/api/categories/"])
        Client().get("/api/categories/", HTTP_X_REQUEST_ID="c")
        Client().get("/api/tags/", HTTP_X_REQUEST_ID="t")
        store = flushed(probe)
        assert store.request(request_id="c")["profiled"] == 1
        assert store.request(request_id="t")["profiled"] == 0

    def test_slow_route_arms_its_next_requests(self, make_probe):
        probe = make_probe(PROFILE_SLOW_MS=30, PROFILE_SLOW_NEXT=2)
        client = Client()
        client.get("/t/slow/?s=0", HTTP_X_REQUEST_ID="fast-before")
        client.get("/t/slow/?s=0.05", HTTP_X_REQUEST_ID="trigger")
        for n in range(3):
            client.get("/t/slow/?s=0", HTTP_X_REQUEST_ID=f"after-{n}")
        store = flushed(probe)
        profiled = [
            store.request(request_id=rid)["profiled"]
            for rid in ("fast-before", "trigger", "after-0", "after-1", "after-2")
        ]
        assert profiled == [0, 0, 1, 1, 0]


class TestSampler:
    def test_signal_sampler_profiles_a_slow_request_cheaply(self, make_probe):
        probe = make_probe(PROFILE_PERCENT=100)  # PROFILER defaults to the sampler
        Client().get("/t/slow/?s=0.06", HTTP_X_REQUEST_ID="slow")
        store = flushed(probe)
        session = Session.from_json(
            json.loads(store.profile(store.request(request_id="slow")["id"]))
        )
        assert session.target_description == "perflab sampler"
        assert session.sample_count >= 30  # 1 ms wall-clock samples over 60 ms
        text = json.dumps(session.to_json())
        assert "slow\\u0000" in text and "tests/probe/urls.py" in text

    def test_pyinstrument_can_be_chosen(self, make_probe):
        probe = make_probe(PROFILE_PERCENT=100, PROFILER="pyinstrument")
        Client().get("/t/slow/?s=0.02", HTTP_X_REQUEST_ID="pyi")
        store = flushed(probe)
        session = json.loads(store.profile(store.request(request_id="pyi")["id"]))
        assert session["target_description"] != "perflab sampler"
        assert session["duration"] >= 0.02 and session["sample_count"] >= 1


def test_a_function_view_is_the_call_site_of_its_own_statements(probe, blog):
    from tests.probe import urls

    Client().get("/t/counted/", HTTP_X_REQUEST_ID="counted")
    (query,) = flushed(probe).request(request_id="counted")["queries"]
    path, line, function = query["callsite"].split(":")
    assert path.endswith("tests/probe/urls.py") and function == "counted"
    assert int(line) == line_of(urls, "return HttpResponse(str(Post.objects.count()))")


def test_call_sites_stop_at_the_view(probe, blog, settings):
    """A DRF generic view runs every statement from library code: no call site, and not
    the app's middleware (or the test) that happens to be app code above the view."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.probe.app_middleware.PassThroughMiddleware"]
    post_id = blog.posts.first().id
    Client().get(f"/api/posts/{post_id}/", HTTP_X_REQUEST_ID="generic")
    Client().get("/api/authors/naive/", HTTP_X_REQUEST_ID="naive-sites")
    store = flushed(probe)
    generic = store.request(request_id="generic")["queries"]
    assert generic and [q["callsite"] for q in generic] == [None] * len(generic)
    naive_sites = {q["callsite"] for q in store.request(request_id="naive-sites")["queries"]}
    assert {site.split(":")[0] for site in naive_sites if site} == {"src/perflab/demo/naive.py"}


def test_server_timing_value_in_tenths_of_a_millisecond():
    from perflab.middleware import _server_timing

    db = ("db", 1.26, "3 queries")
    assert _server_timing([db], 5.0) == 'db;dur=1.3;desc="3 queries", app;dur=3.7, total;dur=5.0'
    assert _server_timing([("db", 0.04, "1 queries")], 0.02) == (
        'db;dur=0.0;desc="1 queries", app;dur=0.0, total;dur=0.0'
    )
    assert _server_timing([("db", 0.0, "0 queries")], 1234.56) == (
        'db;dur=0.0;desc="0 queries", app;dur=1234.6, total;dur=1234.6'
    )
    assert _server_timing([], 2.0) == "app;dur=2.0, total;dur=2.0"


def test_server_timing_leaves_out_what_would_break_the_header():
    # The header skips Django's own check: an entry's name must be a token, and its
    # description quotable as it is.
    from perflab.middleware import _server_timing

    entries = [
        ("db", 1.0, None),
        ("bad name", 1.0, "x"),
        ("search", 2.0, 'said "hi"'),
        ("queue", float("nan"), "née"),
        ("cache", 0.5, "3 hits\r\nX-Evil: 1"),
    ]
    assert _server_timing(entries, 10.0) == (
        "db;dur=1.0, search;dur=2.0, queue;dur=0.0, cache;dur=0.5, app;dur=6.5, total;dur=10.0"
    )


def test_the_store_exists_once_the_app_serves_before_any_request(make_probe, tmp_path):
    """``perflab run --store PATH`` refuses a path with no store: the app's start makes it."""
    from django.core.handlers.wsgi import WSGIHandler

    from perflab.probe.store import RecordingStore

    probe = make_probe()
    path = probe.store.database.path
    assert not path.exists()
    WSGIHandler()  # what gunicorn's worker builds when it loads the app
    assert path.exists()
    assert RecordingStore.at_path(path).request_count() == 0
