"""How a capture reads in a failure message: short statements, shortened places, findings
with their request and hint, and a per-request summary that stays bounded."""

import pytest

from perflab.budgets.capture import Capture
from perflab.budgets.explain import (
    MAX_REQUESTS,
    MAX_STATEMENTS,
    describe_capture,
    describe_finding,
    describe_statement,
    short_location,
)
from perflab.demo.models import Post
from perflab.probe.records import QueryEvent
from tests.demo.conftest import make_posts, make_user


def test_a_location_names_library_files_from_their_package():
    location = ".venv/lib/python3.11/site-packages/django/core/paginator.py:110:count ← app.V"
    assert short_location(location) == "django/core/paginator.py:110:count ← app.V"
    assert short_location("shop/book_list.html:3") == "shop/book_list.html:3"
    assert short_location(None) == "(no location)"


def test_a_statement_names_its_alias_only_when_not_default():
    query = QueryEvent(
        sql="SELECT 1", fingerprint="SELECT ?", fingerprint_hash="h", duration_ms=12.345,
        alias="other", start_ms=0.0, location="app/views.py:12:index",
    )  # fmt: skip
    assert describe_statement(query, 3) == (
        "    3. SELECT ?\n       12.3 ms · on 'other' · app/views.py:12:index"
    )
    query.alias = "default"
    assert describe_statement(query) == "  SELECT ?\n  12.3 ms · app/views.py:12:index"


@pytest.mark.django_db
def test_a_finding_reads_with_its_place_request_hint_and_example(api_client):
    for n in range(3):
        make_posts(make_user(f"writer{n}"), 1)
    with Capture() as seen:
        api_client.get("/api/authors/naive/")
    located = next(f for f in seen.findings if f.finding.hint == "select_related('profile')")
    lines = describe_finding(located).splitlines()
    assert lines[0].startswith("  N+1: 3 statements, ")
    assert lines[0].endswith(" ms, at src/perflab/demo/naive.py:32:get_display_name")
    assert lines[1:3] == [
        "      in GET /api/authors/naive/ → perflab.demo.naive.NaiveAuthorListView",
        "      hint: select_related('profile')",
    ]
    assert lines[3] == (
        '      SELECT "blog_profile"."id", … (5 columns) FROM "blog_profile" '
        'WHERE "blog_profile"."user_id" = %s LIMIT 21'
    )


@pytest.mark.django_db
def test_a_capture_reads_request_by_request_and_stays_bounded(client):
    with Capture() as seen:
        for _ in range(MAX_STATEMENTS + 5):
            Post.objects.count()
        for _ in range(MAX_REQUESTS + 2):
            client.get("/healthz/")
    text = describe_capture(seen)
    lines = text.splitlines()
    assert lines[0] == (
        f"What ran: {MAX_REQUESTS + 2} requests, {MAX_STATEMENTS + 5} statements, "
        + lines[0].rpartition(", ")[2]
    )
    assert lines[0].endswith(" ms in the database")
    assert lines[1].startswith(
        f"  test code (outside any request): {MAX_STATEMENTS + 5} statements"
    )
    assert f" {MAX_STATEMENTS}. SELECT COUNT(*)" in text
    assert f" {MAX_STATEMENTS + 1}. " not in text
    # the test code's record and the first requests are listed, then the rest are counted
    assert text.count("GET /healthz/ → perflab.demo.views.healthz: 200, 0 statements") == (
        MAX_REQUESTS - 1
    )
    assert lines[-2:] == ["  … and 3 more requests", "  … and 5 more statements"]
