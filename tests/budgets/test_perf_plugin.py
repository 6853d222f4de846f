"""The ``perf`` fixture and the ``perf`` marker in a real pytest run of the sample project
(pytester, a subprocess: the plugin loads from its entry point, as in any project).

One inner suite covers the clients (Django's, DRF's, the async one), pytest-django's
``django_db`` with ``transaction=True`` and a second database, and each kind of N+1; it runs
once as the project is and once with the probe's middleware on, where every statement must
still be counted once. Each test's outcome and message is read from a JUnit XML report.
"""

import re
import xml.etree.ElementTree as ET

import pytest

from perflab.budgets.capture import Capture
from perflab.demo.models import Post

SHOP_TESTS = """
import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from perflab.budgets.budget import BudgetExceeded

pytestmark = pytest.mark.django_db


def test_fixed_list_within_budget(client, books, perf):
    with perf.budget(queries=1, n_plus_one=0, duplicates=0) as seen:
        assert client.get("/api/books/fixed/").status_code == 200
    assert [r.view for r in seen.requests] == ["sample.shop.views.BookListFixed"]


def test_api_client_within_budget(books, perf):
    with perf.budget(queries=1, n_plus_one=0):
        assert APIClient().get("/api/books/fixed/").status_code == 200


def test_function_view_over_budget(client, books, perf):
    with perf.budget(queries=2):
        client.get("/titles/")


def test_template_view_n_plus_one(client, books, perf):
    with perf.budget(n_plus_one=0):
        client.get("/books/")


def test_serializer_n_plus_one(books, perf):
    with perf.budget(n_plus_one=0):
        APIClient().get("/api/books/")


def test_duplicate(client, books, perf):
    with perf.budget(duplicates=0):
        client.get("/twice/")


@pytest.mark.perf(queries=1, n_plus_one=0)
def test_marker_within_budget(client, books):  # the fixture's six INSERTs are not counted
    assert client.get("/api/books/fixed/").status_code == 200


@pytest.mark.perf(queries=4, n_plus_one=0)
def test_marker_n_plus_one(client, books):
    client.get("/titles/")


def test_the_blocks_own_error_is_kept(client, books, perf):
    with perf.budget(queries=0):
        client.get("/titles/")
        raise KeyError("the test's own error")


@pytest.mark.django_db(databases=["default", "other"])
def test_several_databases(client, books, perf):
    with perf.budget(queries=1, using="other") as seen:
        client.get("/other/")
    assert [q.alias for q in seen.queries] == ["other"]
    with perf.budget(queries=0, using="default"):
        client.get("/other/")
    with pytest.raises(BudgetExceeded, match="queries: 1 > 0") as failed:
        with perf.budget(queries=0):
            client.get("/other/")
    assert " · on 'other' · " in str(failed.value)


@pytest.mark.django_db(transaction=True)
def test_transaction_true(client, books, perf):
    with perf.budget(queries=4, n_plus_one=1):
        client.get("/titles/")
    with pytest.raises(BudgetExceeded, match="queries: 4 > 3"):
        with perf.budget(queries=3):
            client.get("/titles/")


def test_async_view_with_the_async_client(async_client, books, perf):
    with perf.budget(queries=1, n_plus_one=0) as seen:
        response = async_to_sync(async_client.get)("/async/count/")
    assert response.json() == {"authors": 3}
    assert [r.view for r in seen.requests] == ["sample.shop.views.author_count"]


def test_async_view_with_the_sync_client(client, books, perf):
    with perf.budget(queries=1) as seen:
        assert client.get("/async/count/").json() == {"authors": 3}
    assert [r.view for r in seen.requests] == ["sample.shop.views.author_count"]


class TestReach:
    @pytest.mark.parametrize("size", ["small"])
    def test_timing_and_snapshot(self, client, books, perf, size):
        assert perf.test_name == "TestReach.test_timing_and_snapshot[small]"
        perf.assert_fast(lambda: None, p50_ms=1000, repeat=3, warmup=1, calibrate=False)
        with perf.snapshot() as seen:
            client.get("/api/books/fixed/")
        assert len(seen.queries) == 1
"""

PASSED = {
    "test_fixed_list_within_budget",
    "test_api_client_within_budget",
    "test_marker_within_budget",
    "test_several_databases",
    "test_transaction_true",
    "test_async_view_with_the_async_client",
    "test_async_view_with_the_sync_client",
    "test_timing_and_snapshot[small]",
}
FAILED = {
    "test_function_view_over_budget",
    "test_template_view_n_plus_one",
    "test_serializer_n_plus_one",
    "test_duplicate",
    "test_marker_n_plus_one",
    "test_the_blocks_own_error_is_kept",
}
TITLES_VIEW = "GET /titles/ → sample.shop.views.book_titles"


def outcomes(sample_project, *args: str) -> dict[str, str | None]:
    """Each test's failure report (None when it passed) from the inner run's JUnit XML,
    each line without pytest's ``E`` and its indentation."""
    result = sample_project.runpytest_subprocess("--junitxml=junit.xml", *args)
    assert result.ret in (0, 1), result.stdout.str() + result.stderr.str()
    found = {}
    for case in ET.parse(sample_project.path / "junit.xml").iter("testcase"):
        problems = [p for p in case if p.tag in ("failure", "error", "skipped")]
        text = problems[0].text if problems else None
        found[case.get("name")] = text and "\n".join(
            re.sub(r"^(E\s)?\s*", "", line) for line in text.splitlines()
        )
    return found


@pytest.mark.parametrize("settings", ["sample.settings", "sample.settings_probe"])
def test_budgets_pass_and_fail_with_the_statements_and_their_places(sample_project, settings):
    sample_project.makepyfile(test_shop=SHOP_TESTS)
    found = outcomes(sample_project, f"--ds={settings}")
    assert {name for name, failure in found.items() if failure is None} == PASSED, found
    assert set(found) == PASSED | FAILED

    titles = found["test_function_view_over_budget"]
    assert "BudgetExceeded: perf budget exceeded:\nqueries: 4 > 2\n\nN+1 queries (1):\n" in titles
    assert "N+1: 3 statements, " in titles
    assert "at sample/shop/views.py:12:book_titles\n" in titles
    assert f"in {TITLES_VIEW}\nhint: select_related('author')\n" in titles
    assert "What ran: 1 request, 4 statements" in titles  # once, with the probe's middleware too
    assert f"{TITLES_VIEW}: 200, 4 statements" in titles
    assert '1. SELECT "shop_book"."id", "shop_book"."title", "shop_book"."author_id" FROM' in titles
    assert titles.count(" ms · sample/shop/views.py:12:book_titles") == 4

    template = found["test_template_view_n_plus_one"]
    assert "n_plus_one: 1 > 0" in template
    assert "at shop/book_list.html:3" in template
    assert "in GET /books/ → sample.shop.views.BookListView\nhint: select_related('author')" in (
        template
    )

    serializer = found["test_serializer_n_plus_one"]
    assert "BookSerializer.author" in serializer
    assert "in GET /api/books/ → sample.shop.views.BookListAPI\nhint: select_related('author')" in (
        serializer
    )

    duplicate = found["test_duplicate"]
    assert "duplicates: 1 > 0\n\nDuplicate statements (1):\nduplicate: 2 statements" in duplicate
    assert "at sample/shop/views.py:32:first_book_twice" in duplicate
    assert "N+1 queries" not in duplicate  # not what this budget limits

    marker = found["test_marker_n_plus_one"]
    assert marker.startswith("perf budget exceeded:\nn_plus_one: 1 > 0\n\n")
    assert "What ran: 1 request, 4 statements" in marker  # the books fixture's INSERTs: setup

    own_error = found["test_the_blocks_own_error_is_kept"]
    assert "KeyError" in own_error and "BudgetExceeded" not in own_error

    snapshot_file = sample_project.path / "test_shop.perf.yml"
    assert "TestReach.test_timing_and_snapshot[small]" in snapshot_file.read_text()


def test_a_marker_that_is_not_a_budget_is_a_one_line_usage_error(sample_project):
    sample_project.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.perf(queries=-1)
        def test_negative():
            pass

        @pytest.mark.perf(querys=3)
        def test_misspelt():
            pass

        @pytest.mark.perf(3)
        def test_positional():
            pass

        @pytest.mark.perf(queries=1, using="replica")
        def test_unknown_alias():
            pass

        def test_unmarked():
            pass
        """
    )
    result = sample_project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = result.stderr.str()
    assert (
        "ERROR: test_marked.py::test_negative: @pytest.mark.perf: "
        "queries must be 0 or more, not -1\n"
    ) in errors
    assert (
        "ERROR: test_marked.py::test_misspelt: @pytest.mark.perf: unknown argument 'querys' "
        "(known: queries, n_plus_one, duplicates, db_ms, using, threshold)"
    ) in errors
    assert "test_positional: @pytest.mark.perf: takes keyword arguments only" in errors
    assert "test_unknown_alias: @pytest.mark.perf: using='replica' is not a database alias" in (
        errors
    )
    assert "Traceback" not in errors + result.stdout.str()
    assert "passed" not in result.stdout.str()  # no test ran


@pytest.mark.django_db
def test_the_fixture_in_this_suite_names_its_test_and_captures_without_limits(perf):
    assert perf.test_name == (
        "test_the_fixture_in_this_suite_names_its_test_and_captures_without_limits"
    )
    assert perf.test_file.name == "test_perf_plugin.py"
    with perf.capture() as seen:
        Post.objects.count()
        Post.objects.count()
    assert isinstance(seen, Capture)
    assert len(seen.queries) == 2  # a duplicate, and nothing raised: no limits
