"""``perf.snapshot()`` in a real pytest run of the sample project: the first run writes the
``.perf.yml`` beside the test module, the next passes, a view that changes its statements
fails with a diff, ``--perflab-update`` rewrites the file and the run passes again."""

import yaml

INNER_TESTS = """
import pytest
from django.core.cache import cache

BOOKS = "{books}"


@pytest.mark.django_db
def test_books(client, books, perf):
    with perf.snapshot():
        assert client.get(BOOKS).status_code == 200


@pytest.mark.django_db(databases=["default", "other"])
def test_other_database_and_cache(client, books, perf):
    cache.clear()
    with perf.snapshot():
        client.get("/other/")
        client.get("/cached/")
    with perf.snapshot():
        client.get("/titles/")
"""
FIXED_BOOKS = "request: GET api/books/fixed/ → sample.shop.views.BookListFixed (200)"
AUTHOR_BY_ID = 'db: SELECT ... FROM "shop_author" WHERE "shop_author"."id" = ? LIMIT ?'


def write_tests(project, books_url):
    project.makepyfile(test_shop=INNER_TESTS.format(books=books_url))


def test_snapshots_are_written_matched_failed_with_a_diff_and_updated(sample_project):
    write_tests(sample_project, "/api/books/fixed/")
    stored = sample_project.path / "test_shop.perf.yml"

    first = sample_project.runpytest_subprocess("-q")
    first.assert_outcomes(passed=2)
    written = stored.read_text()
    snapshots = yaml.safe_load(written)
    assert sorted(snapshots) == [
        "test_books",
        "test_other_database_and_cache",
        "test_other_database_and_cache.2",  # the test's second snapshot
    ]
    assert snapshots["test_books"] == [
        {"request": FIXED_BOOKS.removeprefix("request: ")},
        {"db": 'SELECT ... FROM "shop_book" INNER JOIN "shop_author" ON ("shop_book"."author_id"'
         ' = "shop_author"."id") ORDER BY "shop_book"."id" ASC'},
    ]  # fmt: skip
    assert snapshots["test_other_database_and_cache"] == [
        {"request": "GET other/ → sample.shop.views.other_db_titles (200)"},
        {"db|other": 'SELECT ... FROM "shop_book"'},
        {"request": "GET cached/ → sample.shop.views.cached_titles (200)"},
        {"cache": "get"},
        {"db": 'SELECT ... FROM "shop_book" ORDER BY "shop_book"."id" ASC'},
        {"cache": "set"},
    ]  # fmt: skip
    assert snapshots["test_other_database_and_cache.2"][0] == {
        "request": "GET titles/ → sample.shop.views.book_titles (200)"
    }

    second = sample_project.runpytest_subprocess("-q")
    second.assert_outcomes(passed=2)
    assert stored.read_text() == written  # stable from run to run

    write_tests(sample_project, "/api/books/")  # the view without select_related: an N+1
    changed = sample_project.runpytest_subprocess("-q")
    changed.assert_outcomes(passed=1, failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*SnapshotMismatch: query snapshot 'test_books' in *test_shop.perf.yml does not "
            "match what ran (- stored, + now):",
            "*--- test_shop.perf.yml (test_books)",
            "*+++ now",
            f"*-{FIXED_BOOKS}",
            "*+request: GET api/books/ → sample.shop.views.BookListAPI (200)",
            f"*+{AUTHOR_BY_ID}",
            "*new statements ran at:",
            "*rerun with --perflab-update to accept*",
        ]
    )
    assert "perflab/budgets/snapshot.py" not in changed.stdout.str()  # the test's line, the diff
    assert stored.read_text() == written  # a failure writes nothing

    updated = sample_project.runpytest_subprocess("-q", "--perflab-update")
    updated.assert_outcomes(passed=2)
    rewritten = yaml.safe_load(stored.read_text())
    assert rewritten["test_books"][0] == {
        "request": "GET api/books/ → sample.shop.views.BookListAPI (200)"
    }
    assert [entry for entry in rewritten["test_books"] if entry == {"db": AUTHOR_BY_ID[4:]}] == [
        {"db": AUTHOR_BY_ID[4:]}
    ] * 3  # one per book: the N+1, reviewed in the file
    assert {k: v for k, v in rewritten.items() if k != "test_books"} == {
        k: v for k, v in snapshots.items() if k != "test_books"
    }  # the other tests' keys kept

    after = sample_project.runpytest_subprocess("-q")
    after.assert_outcomes(passed=2)
