"""Findings and relation hints on the SQL the demo endpoints really send.

Statements are recorded the way the probe records them: a connection execute wrapper
sees the SQL as the driver receives it, with its parameters, and a call site (here:
the first frame in the demo app or in this file). ``CaptureQueriesContext`` runs
alongside as a cross-check that nothing is missed.
"""

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import perflab.demo
from perflab.demo.models import Category, Post, Tag
from perflab.probe.findings import detect_findings
from perflab.probe.fingerprint import fingerprint_hash, fingerprint_sql, is_select
from perflab.probe.hints import relation_hint
from perflab.probe.masking import MASK
from perflab.probe.records import QueryEvent
from tests.demo.conftest import make_posts, make_user

pytestmark = [pytest.mark.database, pytest.mark.django_db]

DEMO_DIR = str(Path(perflab.demo.__file__).resolve().parent) + os.sep
THIS_FILE = str(Path(__file__).resolve())

PROFILE_HINT = "select_related('profile')"
COUNT_HINT = "annotate(Count('posts'))"
RECENT_HINT = "prefetch_related(Prefetch('posts', queryset=...))"


def app_callsite() -> str | None:
    """file:line:function of the innermost frame in the demo app or in this file, outside
    the execute wrapper calling it."""
    frame = sys._getframe(2)  # skip the execute wrapper below
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(DEMO_DIR) or filename == THIS_FILE:
            return f"{os.path.basename(filename)}:{frame.f_lineno}:{frame.f_code.co_name}"
        frame = frame.f_back
    return None


@contextmanager
def recorded():
    """The statements run inside, as the probe's QueryEvents."""
    events: list[QueryEvent] = []
    start = time.perf_counter()

    def record(execute, sql, params, many, context):
        callsite = app_callsite()
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ended = time.perf_counter()
            fingerprint = fingerprint_sql(sql)
            keep_params = not many and params is not None and is_select(sql)
            events.append(
                QueryEvent(
                    sql=sql,
                    fingerprint=fingerprint,
                    fingerprint_hash=fingerprint_hash(fingerprint),
                    duration_ms=(ended - began) * 1000,
                    alias=connection.alias,
                    start_ms=(began - start) * 1000,
                    callsite=callsite,
                    params=list(params) if keep_params else None,
                    many=bool(many),
                )
            )

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(record):
        yield events
    assert len(events) == len(captured.captured_queries)
    # The SQL with its values inlined (as the debug cursor logs it) has the same shape.
    for event, logged in zip(events, captured.captured_queries, strict=True):
        assert fingerprint_sql(logged["sql"]) == event.fingerprint, logged["sql"]


def make_authors(count: int, posts_each: int = 4) -> None:
    for n in range(count):
        # One author without a profile: the per-author profile query runs all the same.
        make_posts(make_user(f"writer{n}", profile=n != 0), posts_each)


def naive_authors(api_client, expected: int) -> list[QueryEvent]:
    with recorded() as events:
        response = api_client.get("/api/authors/naive/?page_size=100")
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected
    return events


def by_hint(findings):
    return {f.hint: f for f in findings}


def test_naive_authors_three_n_plus_one_findings(api_client):
    make_authors(6)
    events = naive_authors(api_client, 6)
    assert len(events) == 2 + 3 * 6  # page COUNT, the authors, 3 per author
    assert all(is_select(e.sql) for e in events)

    findings = detect_findings(events)

    assert [f.kind for f in findings] == ["n_plus_one"] * 3
    assert [f.total_ms for f in findings] == sorted((f.total_ms for f in findings), reverse=True)
    found = by_hint(findings)
    assert set(found) == {PROFILE_HINT, COUNT_HINT, RECENT_HINT}
    assert found[PROFILE_HINT].callsite.startswith("naive.py:")
    assert found[PROFILE_HINT].callsite.endswith(":get_display_name")
    assert found[COUNT_HINT].callsite.startswith("naive.py:")
    assert found[COUNT_HINT].callsite.endswith(":get_post_count")
    assert found[RECENT_HINT].callsite.startswith("naive.py:")
    assert found[RECENT_HINT].callsite.endswith(":get_recent_posts")
    assert found[PROFILE_HINT].fingerprint.endswith(
        'FROM "blog_profile" WHERE "blog_profile"."user_id" = ? LIMIT ?'
    )
    assert found[COUNT_HINT].fingerprint == (
        'SELECT COUNT(*) AS "__count" FROM "blog_post" WHERE "blog_post"."author_id" = ?'
    )
    assert found[RECENT_HINT].fingerprint.endswith(
        'WHERE "blog_post"."author_id" = ? ORDER BY "blog_post"."created" DESC LIMIT ?'
    )
    for finding in findings:
        group = [e for e in events if e.fingerprint_hash == finding.fingerprint_hash]
        assert finding.count == len(group) == 6
        assert {e.callsite for e in group} == {finding.callsite}
        assert finding.example_sql == group[0].sql
        assert "%s" in finding.example_sql  # the SQL as sent, not with values inlined
        assert finding.fingerprint_hash == fingerprint_hash(finding.fingerprint)
        assert finding.total_ms == pytest.approx(sum(e.duration_ms for e in group))

    # The statements outside the loop: one each, and nothing to hint for the authors page.
    page_count, authors = events[0], events[1]
    assert page_count.fingerprint == 'SELECT COUNT(*) AS "__count" FROM "auth_user"'
    assert relation_hint(page_count.fingerprint) is None
    assert authors.fingerprint.endswith('FROM "auth_user" ORDER BY "auth_user"."id" ASC LIMIT ?')
    assert relation_hint(authors.fingerprint) is None


def test_optimized_authors_has_no_findings(api_client):
    make_authors(6)
    with recorded() as events:
        response = api_client.get("/api/authors/?page_size=100")
    assert response.status_code == 200
    assert [a["post_count"] for a in response.json()["results"]] == [4] * 6
    assert len(events) == 3
    assert detect_findings(events) == []
    assert detect_findings(events, threshold=1) == []


def test_groups_below_the_threshold_are_not_findings(api_client):
    make_authors(4)
    events = naive_authors(api_client, 4)
    assert len(events) == 2 + 3 * 4

    assert detect_findings(events) == []  # 4 per group, threshold 5
    at_four = detect_findings(events, threshold=4)
    assert {f.hint: f.count for f in at_four} == {PROFILE_HINT: 4, COUNT_HINT: 4, RECENT_HINT: 4}


def test_a_missing_location_never_hides_a_loop(api_client):
    make_authors(6)
    events = naive_authors(api_client, 6)
    located = detect_findings(events)
    assert len(located) == 3

    anonymous = [replace(e, callsite=None, location=None) for e in events]
    found = detect_findings(anonymous, threshold=2)
    assert [f.kind for f in found] == ["n_plus_one"] * 3
    assert {(f.fingerprint_hash, f.count) for f in found} == {
        (f.fingerprint_hash, f.count) for f in located
    }
    assert {f.location for f in found} == {None}


def test_same_sql_and_params_is_a_duplicate():
    alice, bob = make_user("alice"), make_user("bob")
    make_posts(alice, 2)
    with recorded() as events:
        for _ in range(3):
            list(Post.objects.filter(author=alice))
        list(Post.objects.filter(author=bob))  # same SQL, other parameters
        for n in range(3):
            Tag.objects.create(name=f"tag{n}", slug=f"tag{n}")

    selects, inserts = events[:4], events[4:]
    assert len({e.sql for e in selects}) == 1
    assert [e.params for e in selects] == [[alice.id]] * 3 + [[bob.id]]
    # The three INSERTs share one SQL text, but their parameters are not recorded.
    assert len(inserts) == 3 and len({e.sql for e in inserts}) == 1
    assert all(e.params is None for e in inserts)

    findings = detect_findings(events)

    assert len(findings) == 1
    duplicate = findings[0]
    assert duplicate.kind == "duplicate"
    assert duplicate.count == 3
    assert duplicate.total_ms == pytest.approx(sum(e.duration_ms for e in selects[:3]))
    assert duplicate.example_sql == selects[0].sql
    assert duplicate.fingerprint == selects[0].fingerprint
    assert duplicate.callsite == selects[0].callsite
    assert duplicate.callsite.endswith(":test_same_sql_and_params_is_a_duplicate")
    assert duplicate.hint is None

    # Masked parameters hide the values: no claim that the statements were the same.
    masked = [replace(e, params=[MASK]) for e in selects]
    assert detect_findings(masked) == []


def test_forward_foreign_key_loaded_one_by_one_hints_select_related():
    author = make_user("alice")
    for n in range(10):
        make_posts(author, 1, category=Category.objects.create(name=f"c{n}", slug=f"c{n}"))
    with recorded() as events:
        names = []
        for post in Post.objects.all()[:10]:
            names.append(post.category.name)
    assert sorted(names) == [f"c{n}" for n in range(10)]
    assert len(events) == 11

    findings = detect_findings(events)

    assert len(findings) == 1
    (finding,) = findings
    assert finding.kind == "n_plus_one"
    assert finding.count == 10
    assert finding.hint == "select_related('category')"
    assert finding.fingerprint.endswith(
        'FROM "blog_category" WHERE "blog_category"."id" = ? LIMIT ?'
    )
    assert finding.callsite.endswith(
        ":test_forward_foreign_key_loaded_one_by_one_hints_select_related"
    )


def test_forward_foreign_key_to_user_names_every_fk_to_user():
    alice, bob = make_user("alice"), make_user("bob")
    make_posts(alice, 5)
    make_posts(bob, 5)
    with recorded() as events:
        names = []
        for post in Post.objects.all()[:10]:
            names.append(post.author.username)
    assert sorted(names) == ["alice"] * 5 + ["bob"] * 5

    findings = detect_findings(events)

    loops = [f for f in findings if f.kind == "n_plus_one"]
    assert len(loops) == 1
    assert loops[0].count == 10
    assert loops[0].callsite.endswith(":test_forward_foreign_key_to_user_names_every_fk_to_user")
    assert "select_related('author')" in loops[0].hint
    # Profile.user and Post.author both point at auth_user's primary key.
    assert loops[0].hint == "select_related('user') or select_related('author')"
    # The same two users loaded again and again: exact duplicates as well.
    duplicates = [f for f in findings if f.kind == "duplicate"]
    assert sorted(f.count for f in duplicates) == [5, 5]
    assert {f.fingerprint_hash for f in duplicates} == {loops[0].fingerprint_hash}


def test_many_to_many_per_row_hints_prefetch_and_count():
    tags = [Tag.objects.create(name=n, slug=n) for n in ("django", "orm", "sql")]
    make_posts(make_user("alice"), 6, tags=tags)
    with recorded() as events:
        names, counts = [], []
        for post in Post.objects.all():
            names.append([tag.name for tag in post.tags.all()])
            counts.append(post.tags.count())
    assert names == [["django", "orm", "sql"]] * 6
    assert counts == [3] * 6

    findings = detect_findings(events)

    assert {f.hint: f.count for f in findings} == {
        "prefetch_related('tags')": 6,
        "annotate(Count('tags'))": 6,
    }
    assert all(f.kind == "n_plus_one" for f in findings)
    assert len({f.callsite for f in findings}) == 2  # two lines of the loop
    assert all(
        f.callsite.endswith(":test_many_to_many_per_row_hints_prefetch_and_count") for f in findings
    )
