"""Budgets against the reference app: limits counted as the probe saw the statements, and
a failure that names the limit, the N+1 with its place and hint, and every statement."""

import pytest

from perflab.budgets.budget import Budget, BudgetExceeded
from perflab.budgets.capture import Capture
from perflab.demo.models import Post
from perflab.probe.probe import forget_probe, get_probe
from tests.demo.conftest import make_posts, make_user

pytestmark = pytest.mark.django_db

NAIVE_VIEW = "perflab.demo.naive.NaiveAuthorListView"


@pytest.fixture
def blog(db):
    """Five authors with posts: the naive author list runs 2 + 3 * 5 statements."""
    for n in range(5):
        make_posts(make_user(f"writer{n}"), 2)


def test_a_block_within_its_budget_passes_and_yields_the_capture(api_client, blog):
    with Budget(queries=3, n_plus_one=0, duplicates=0, db_ms=5000) as seen:
        assert api_client.get("/api/posts/").status_code == 200
    assert isinstance(seen, Capture)
    assert len(seen.queries) == 3


def test_check_lists_each_limit_exceeded(api_client, blog):
    with Capture() as seen:
        api_client.get("/api/authors/naive/")
    budget = Budget(queries=3, n_plus_one=0, duplicates=0, db_ms=0)
    overruns = budget.check(seen)
    assert overruns[:2] == ["queries: 17 > 3", "n_plus_one: 3 > 0"]
    assert overruns[2].startswith("db_ms: ") and overruns[2].endswith(" > 0")
    assert len(overruns) == 3  # no duplicate: each author's rows are different rows
    assert Budget(queries=17, n_plus_one=3).check(seen) == []


def test_the_failure_names_the_limit_the_n_plus_ones_and_the_statements(api_client, blog):
    with pytest.raises(BudgetExceeded) as failed, Budget(queries=3, n_plus_one=0):
        api_client.get("/api/authors/naive/")
    message = str(failed.value)
    assert message.startswith("perf budget exceeded:\n  queries: 17 > 3\n  n_plus_one: 3 > 0\n")
    assert failed.value.overruns == ["queries: 17 > 3", "n_plus_one: 3 > 0"]
    assert "N+1 queries (3):" in message
    assert "at src/perflab/demo/naive.py:32:get_display_name" in message
    assert "hint: select_related('profile')" in message
    assert "hint: annotate(Count('posts'))" in message
    assert f"in GET /api/authors/naive/ → {NAIVE_VIEW}" in message
    assert "Duplicate statements" not in message
    # then every statement, under its request, with its place (libraries' paths shortened)
    assert "What ran: 1 request, 17 statements" in message
    assert f"  GET /api/authors/naive/ → {NAIVE_VIEW}: 200, 17 statements" in message
    assert '  1. SELECT COUNT(*) AS "__count" FROM "auth_user"' in message
    assert "· django/core/paginator.py:" in message
    assert message.count("src/perflab/demo/naive.py:37:get_post_count") == 1 + 5
    assert " 17. " in message


def test_duplicates_are_counted_and_explained(api_client, blog):
    post = Post.objects.first()
    with pytest.raises(BudgetExceeded) as failed, Budget(duplicates=0):
        Post.objects.get(pk=post.pk)
        Post.objects.get(pk=post.pk)
    message = str(failed.value)
    assert failed.value.overruns == ["duplicates: 1 > 0"]
    assert "Duplicate statements (1):" in message
    assert "duplicate: 2 statements" in message
    assert "in the test code, outside any request" in message
    assert "at tests/budgets/test_budget.py:" in message
    assert "test code (outside any request): 2 statements" in message


def test_the_threshold_is_how_many_statements_from_one_place_make_an_n_plus_one(api_client, blog):
    with Capture() as seen:
        api_client.get("/api/authors/naive/")  # 5 of each per-author statement
    assert Budget(n_plus_one=0, threshold=5).check(seen) == ["n_plus_one: 3 > 0"]
    assert Budget(n_plus_one=0, threshold=6).check(seen) == []


def test_an_error_in_the_block_is_not_masked_by_the_budget(blog):
    with pytest.raises(ZeroDivisionError), Budget(queries=0):
        Post.objects.count()
        1 / 0  # noqa: B018


def test_budgets_nest_and_each_counts_its_own_block(api_client, blog):
    outer = Budget(queries=4)
    with outer as whole:
        Post.objects.count()
        with Budget(queries=3) as inner:
            api_client.get("/api/posts/")
    assert (len(whole.queries), len(inner.queries)) == (4, 3)
    with pytest.raises(BudgetExceeded, match="queries: 4 > 3"), Budget(queries=3):
        with Budget(queries=3):
            api_client.get("/api/posts/")
        Post.objects.count()


def test_using_counts_one_database_alias_and_must_name_one(blog):
    with Budget(queries=1, using="default") as seen:
        Post.objects.count()
    assert len(seen.queries) == 1
    unknown = r"using='replica' is not a database alias \(known: 'default'"
    with pytest.raises(ValueError, match=unknown), Budget(queries=1, using="replica"):
        pass


def test_statements_beyond_the_probes_limit_are_counted(settings, tmp_path, blog):
    settings.PERFLAB = {
        **settings.PERFLAB,
        "STORE": {"PATH": str(tmp_path / "probe.sqlite3")},
        "MAX_QUERIES_PER_REQUEST": 2,
    }
    forget_probe()
    try:
        assert get_probe().settings.MAX_QUERIES_PER_REQUEST == 2
        with pytest.raises(BudgetExceeded) as failed, Budget(queries=3):
            for _ in range(4):
                Post.objects.count()
    finally:
        forget_probe()
    assert failed.value.overruns == ["queries: 4 > 3"]
    assert "(and 2 more statements beyond the probe's MAX_QUERIES_PER_REQUEST" in str(failed.value)


@pytest.mark.parametrize(
    ("limits", "error", "message"),
    [
        ({"queries": -1}, ValueError, "queries must be 0 or more, not -1"),
        ({"n_plus_one": "0"}, TypeError, "n_plus_one must be a whole number, not '0'"),
        ({"duplicates": 1.5}, TypeError, "duplicates must be a whole number, not 1.5"),
        ({"queries": True}, TypeError, "queries must be a whole number, not True"),
        ({"db_ms": "50"}, TypeError, "db_ms must be a number of milliseconds, not '50'"),
        ({"db_ms": float("inf")}, ValueError, "db_ms must be 0 or more milliseconds, not inf"),
        ({"queries": 1, "using": ""}, TypeError, "using must be a database alias"),
        ({"queries": 1, "threshold": 1}, ValueError, "threshold must be 2 or more"),
        ({}, TypeError, "a budget needs at least one limit: queries, n_plus_one, duplicates"),
    ],
)
def test_a_limit_that_is_not_one_is_refused_in_one_line(limits, error, message):
    with pytest.raises(error) as refused:
        Budget(**limits)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
