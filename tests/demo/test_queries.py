"""Queries per endpoint: fixed whatever the page holds, except the deliberate N+1."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.demo.conftest import make_posts, make_user

pytestmark = [pytest.mark.database, pytest.mark.django_db]

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


@pytest.fixture
def blog(author, category, tags):
    """Enough rows that a missing select_related/prefetch_related would multiply queries."""
    make_posts(author, 25, category=category, tags=tags)
    for n in range(4):
        make_posts(make_user(f"writer{n}"), 2, category=category, tags=tags[:1])
    return author


def test_list_is_three_queries_anonymous(api_client, blog, django_assert_num_queries):
    # COUNT for the paginator, posts joined with author, profile and category, tags prefetch.
    with django_assert_num_queries(3):
        assert api_client.get("/api/posts/").status_code == 200


def test_list_adds_one_query_for_the_jwt_user(author_client, blog, django_assert_num_queries):
    with django_assert_num_queries(4):
        assert author_client.get("/api/posts/?page=2").status_code == 200


def test_search_is_three_queries(api_client, blog, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert api_client.get("/api/posts/?search=post").json()["count"] == 33


def test_detail_is_two_queries(api_client, blog, django_assert_num_queries):
    post_id = blog.posts.first().id
    with django_assert_num_queries(2):
        assert api_client.get(f"/api/posts/{post_id}/").status_code == 200


@pytest.mark.django_db(transaction=True)  # no outer test transaction: count what production runs
def test_create_is_eight_statements(author_client, blog, category, tags):
    # user, category check, tag check | insert post, tag links (existing + insert) | the
    # response's author profile and tags. Backends differ only in how BEGIN/COMMIT show up.
    payload = {"title": "t", "content": "c", "category_id": category.id, "tag_ids": [tags[0].id]}
    with CaptureQueriesContext(connection) as captured:
        assert author_client.post("/api/posts/", payload, format="json").status_code == 201
    sql = [q["sql"] for q in captured.captured_queries]
    statements = [s for s in sql if not s.startswith(TRANSACTION_CONTROL)]
    assert len(statements) == 8, statements
    assert sum(s.startswith("INSERT") for s in statements) == 2


def test_optimized_authors_is_three_queries(api_client, blog, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert len(api_client.get("/api/authors/").json()["results"]) == 5


def test_naive_authors_is_two_plus_three_per_author(api_client, blog, django_assert_num_queries):
    # The deliberate N+1: profile, COUNT and recent posts once per author on the page.
    with django_assert_num_queries(2 + 3 * 5):
        assert len(api_client.get("/api/authors/naive/").json()["results"]) == 5


def test_taxonomy_lists_hit_the_database_once_then_the_cache(
    api_client, blog, django_assert_num_queries
):
    with django_assert_num_queries(1):
        api_client.get("/api/categories/")
    with django_assert_num_queries(0):
        api_client.get("/api/categories/")
    with django_assert_num_queries(1):
        api_client.get("/api/tags/")
