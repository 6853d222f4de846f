"""``Snapshot`` against the reference app: a new key is written, a matching one passes, a
difference fails with a diff that names the request and the new statements' places, an update
rewrites one key and keeps the others, a write is atomic, a bad file is one line."""

import os
import re

import pytest
import yaml
from django.core.cache import cache
from django.db import transaction

from perflab.budgets.snapshot import (
    HEADER,
    UPDATE_ENV,
    UPDATE_HINT,
    Snapshot,
    SnapshotFileError,
    SnapshotMismatch,
    forget_taken_keys,
    read_snapshots,
    snapshot_path,
)
from tests.demo.conftest import make_posts, make_user

POSTS_LIST = "request: GET api/posts/ → perflab.demo.views.PostViewSet (200)"


@pytest.fixture
def test_file(tmp_path):
    """The test module a snapshot sits beside (it need not exist)."""
    forget_taken_keys()  # each test's first snapshot takes the bare key
    yield tmp_path / "test_views.py"
    forget_taken_keys()


@pytest.fixture
def posts(db):
    author = make_user("alice")
    return make_posts(author, 3)


def lines_of(test_file, key):
    entries = read_snapshots(snapshot_path(test_file))[key]
    return [f"{kind}: {text}" for entry in entries for kind, text in entry.items()]


def snapshot_once(test_file, key, fn, update=False):
    """One snapshot run, as a new test run would take it: the bare key again, a cold cache."""
    forget_taken_keys()
    cache.clear()
    snapshot = Snapshot(test_file, key, update)
    with snapshot:
        fn()
    return snapshot


def test_snapshot_path_is_beside_the_test_module(tmp_path):
    assert snapshot_path(tmp_path / "tests" / "test_views.py") == (
        tmp_path / "tests" / "test_views.perf.yml"
    )
    assert snapshot_path(tmp_path / "test_views.pyc").name == "test_views.perf.yml"


def test_a_new_key_is_written_readable_and_then_matched(api_client, posts, test_file):
    created = snapshot_once(test_file, "test_list", lambda: api_client.get("/api/posts/"))
    path = snapshot_path(test_file)
    text = path.read_text()

    assert created.status == "written" and created.key == "test_list"
    assert text.startswith(HEADER)
    assert lines_of(test_file, "test_list") == [
        POSTS_LIST,
        'db: SELECT COUNT(*) AS "__count" FROM "blog_post"',
        # a plain column list reads as "...", the page size as "?"
        'db: SELECT ... FROM "blog_post" INNER JOIN "auth_user" ON ("blog_post"."author_id" = '
        '"auth_user"."id") LEFT OUTER JOIN "blog_profile" ON ("auth_user"."id" = '
        '"blog_profile"."user_id") LEFT OUTER JOIN "blog_category" ON ("blog_post"."category_id"'
        ' = "blog_category"."id") ORDER BY "blog_post"."created" DESC, "blog_post"."id" DESC '
        "LIMIT ?",
        'db: SELECT ... FROM "blog_tag" INNER JOIN "blog_post_tags" ON ("blog_tag"."id" = '
        '"blog_post_tags"."tag_id") WHERE "blog_post_tags"."post_id" IN (...) ORDER BY '
        '"blog_tag"."name" ASC',
    ]
    # one entry per line, block style, however long the statement
    assert '\n- db: SELECT ... FROM "blog_post" INNER JOIN' in text
    assert not re.search(r"\d\s*ms\b", text)  # no timings

    before = path.stat()
    matched = snapshot_once(test_file, "test_list", lambda: api_client.get("/api/posts/"))
    assert matched.status == "matched"
    assert path.stat().st_mtime_ns == before.st_mtime_ns  # a match writes nothing


def test_routes_not_paths_cache_calls_and_no_transaction_control(api_client, posts, test_file):
    def block():
        api_client.get(f"/api/posts/{posts[0].pk}/")
        with transaction.atomic():  # SAVEPOINT / RELEASE under the test's transaction
            make_user("bob", profile=False)
        api_client.get("/api/categories/")

    snapshot_once(test_file, "test_mixed", block)
    lines = lines_of(test_file, "test_mixed")

    assert lines[0] == "request: GET api/posts/<pk>/ → perflab.demo.views.PostViewSet (200)"
    assert not any("SAVEPOINT" in line or "RELEASE" in line for line in lines)
    outside = lines.index("outside: test code")  # test code after a request is marked
    assert lines[outside + 1].startswith('db: INSERT INTO "auth_user"')
    categories = lines.index(
        "request: GET api/categories/ → perflab.demo.views.CategoryListView (200)"
    )
    assert lines[categories + 1 :] == [
        "cache: get",
        'db: SELECT ... FROM "blog_category" ORDER BY "blog_category"."name" ASC',
        "cache: set",
    ]
    assert str(posts[0].pk) not in "".join(lines[:outside])  # ids are "?" or the route's <pk>


def test_a_difference_fails_with_a_diff_and_the_new_statements_places(api_client, posts, test_file):
    snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/"))
    stored = snapshot_path(test_file).read_text()

    with pytest.raises(SnapshotMismatch) as failed:
        snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/naive/"))
    message = str(failed.value)

    assert isinstance(failed.value, AssertionError)
    assert message.startswith(f"query snapshot 'test_authors' in {snapshot_path(test_file)}")
    assert "\n--- test_views.perf.yml (test_authors)\n+++ now\n@@ " in message
    assert "\n-request: GET api/authors/ → perflab.demo.views.AuthorListView (200)" in message
    assert (
        "\n+request: GET api/authors/naive/ → perflab.demo.naive.NaiveAuthorListView (200)"
        in message
    )
    assert '\n+db: SELECT ... FROM "blog_profile" WHERE "blog_profile"."user_id" = ?' in message
    assert "new statements ran at:" in message
    assert "perflab/demo/naive.py:" in message  # the N+1's call site
    assert message.endswith(UPDATE_HINT)
    assert snapshot_path(test_file).read_text() == stored  # a mismatch writes nothing


def test_a_hunk_is_headed_by_the_request_its_change_is_in(api_client, posts, test_file):
    def block():
        api_client.get("/api/tags/")
        api_client.get("/api/authors/naive/")  # five statements for one author

    snapshot_once(test_file, "test_pages", block)
    path = snapshot_path(test_file)
    data = yaml.safe_load(path.read_text())
    added = data["test_pages"].pop()  # as stored before the last statement came
    path.write_text(yaml.safe_dump(data, width=10_000))

    with pytest.raises(SnapshotMismatch) as failed:
        snapshot_once(test_file, "test_pages", block)
    hunk = str(failed.value).split("\n@@ ")[1].split("\nnew statements ran at:")[0].splitlines()

    naive = "request: GET api/authors/naive/ → perflab.demo.naive.NaiveAuthorListView (200)"
    assert hunk[0].endswith(f" @@ {naive}")  # out of the hunk's context: in its header
    assert [line[0] for line in hunk[1:]] == [" ", " ", " ", "+"]  # three lines of context
    assert hunk[-1] == "+db: " + added["db"]


def test_update_rewrites_the_key_and_keeps_the_others(api_client, posts, test_file):
    snapshot_once(test_file, "test_other", lambda: api_client.get("/api/tags/"))
    snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/"))
    other = lines_of(test_file, "test_other")

    updated = snapshot_once(
        test_file, "test_authors", lambda: api_client.get("/api/authors/naive/"), update=True
    )

    assert updated.status == "updated"
    assert lines_of(test_file, "test_authors")[0].startswith("request: GET api/authors/naive/")
    assert lines_of(test_file, "test_other") == other
    text = snapshot_path(test_file).read_text()
    keys = [line for line in text.splitlines() if line[:1].isalpha()]
    assert keys == ["test_authors:", "test_other:"]  # sorted: a stable file
    again = snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/naive/"))
    assert again.status == "matched"


def test_the_environment_variable_asks_for_an_update(api_client, posts, test_file, monkeypatch):
    snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/"))
    monkeypatch.setenv(UPDATE_ENV, "1")

    updated = snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/tags/"))

    assert updated.status == "updated"


def test_a_second_snapshot_in_one_test_takes_a_numbered_key(api_client, posts, test_file):
    with Snapshot(test_file, "test_two", False):
        api_client.get("/api/tags/")
    with Snapshot(test_file, "test_two.named", False):  # perf.snapshot(name="named")
        api_client.get("/api/authors/")
    with Snapshot(test_file, "test_two", False) as second:
        api_client.get("/api/categories/")

    assert len(second.requests) == 1
    stored = read_snapshots(snapshot_path(test_file))
    assert sorted(stored) == ["test_two", "test_two.2", "test_two.named"]
    assert stored["test_two.2"][0]["request"].startswith("GET api/categories/")

    forget_taken_keys()  # the next test (or this one run again) begins with the bare key
    cache.clear()
    with Snapshot(test_file, "test_two", False) as again:
        api_client.get("/api/tags/")
    assert len(again.requests) == 1  # matched test_two, not a new test_two.3


def test_an_error_in_the_block_is_not_masked_and_nothing_is_written(api_client, posts, test_file):
    with pytest.raises(LookupError), Snapshot(test_file, "test_broken", False):
        api_client.get("/api/tags/")
        raise LookupError("the test's own failure")

    assert not snapshot_path(test_file).exists()


def test_a_crash_while_writing_leaves_the_old_file_whole(api_client, posts, test_file, monkeypatch):
    snapshot_once(test_file, "test_tags", lambda: api_client.get("/api/tags/"))
    path = snapshot_path(test_file)
    before = path.read_text()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)  # the new text is written, not yet in place
    with pytest.raises(OSError, match="disk full"):
        snapshot_once(test_file, "test_authors", lambda: api_client.get("/api/authors/"))
    monkeypatch.undo()

    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["test_views.perf.yml"]  # no temp


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("test_x:\n- db: [unclosed\n", "not valid YAML (line 3)"),
        ("- just\n- a list\n", "not a perflab snapshot file"),
        ("test_x:\n- db: one\n  cache: two\n", "not a perflab snapshot file"),
    ],
)
def test_a_malformed_file_is_a_one_line_error_naming_it(api_client, posts, test_file, text, says):
    path = snapshot_path(test_file)
    path.write_text(text)

    with pytest.raises(SnapshotFileError) as failed:
        snapshot_once(test_file, "test_x", lambda: api_client.get("/api/tags/"))

    message = str(failed.value)
    assert message.startswith(f"{path}: ") and says in message
    assert "\n" not in message
    # no YAML parser's traceback chained to it
    assert failed.value.__cause__ is None
    assert failed.value.__context__ is None or failed.value.__suppress_context__
    assert path.read_text() == text  # left for the user to fix
