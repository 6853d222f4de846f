"""Every endpoint of the reference app within a budget: its statements, no N+1, no duplicate.

perflab's own test-suite budgets (``perflab.budgets``) on the app it ships: fixed statement
counts whatever the page holds, so a missing ``select_related``/``prefetch_related``
fails here with the statement and the line that ran it, except on the deliberate N+1
(``/api/authors/naive/``), whose findings are checked instead.
"""

import pytest
from django.test import Client

from perflab.budgets.budget import BudgetExceeded
from tests.demo.conftest import make_posts, make_user

pytestmark = [pytest.mark.database, pytest.mark.django_db]

CLEAN = {"n_plus_one": 0, "duplicates": 0}  # every endpoint but the deliberate N+1


@pytest.fixture
def blog(author, category, tags):
    """Enough rows that a missing select_related/prefetch_related would multiply queries."""
    make_posts(author, 25, category=category, tags=tags)
    for n in range(4):
        make_posts(make_user(f"writer{n}"), 2, category=category, tags=tags[:1])
    return author


@pytest.fixture
def post(blog):
    return blog.posts.first()


def test_healthz_runs_no_statement(api_client, perf):
    with perf.budget(queries=0):
        assert api_client.get("/healthz/").status_code == 200


def test_token_is_one_user_lookup(api_client, blog, perf):
    with perf.budget(queries=1, **CLEAN):
        response = api_client.post(
            "/api/token/", {"username": "alice", "password": "secret-pass"}, format="json"
        )
        assert response.status_code == 200


def test_token_refresh_is_one_user_lookup(api_client, blog, perf):
    refresh = api_client.post(
        "/api/token/", {"username": "alice", "password": "secret-pass"}, format="json"
    ).json()["refresh"]
    with perf.budget(queries=1, **CLEAN):  # simplejwt checks the user still exists
        response = api_client.post("/api/token/refresh/", {"refresh": refresh}, format="json")
        assert response.status_code == 200


# COUNT for the paginator, posts joined with author, profile and category, tags prefetch.
@pytest.mark.perf(queries=3, **CLEAN)
def test_list_anonymous(api_client, blog):
    assert api_client.get("/api/posts/").status_code == 200


@pytest.mark.perf(queries=4, **CLEAN)  # and the JWT's user
def test_list_for_a_jwt_user(author_client, blog):
    assert author_client.get("/api/posts/?page=2").status_code == 200


@pytest.mark.perf(queries=3, **CLEAN)
def test_search(api_client, blog):
    assert api_client.get("/api/posts/?search=post").json()["count"] == 33


@pytest.mark.perf(queries=2, **CLEAN)
def test_detail(api_client, post):
    assert api_client.get(f"/api/posts/{post.id}/").status_code == 200


# user, category check, tag check | insert post, tag links (existing + insert) | the
# response's author profile and tags; no outer test transaction: what production runs.
@pytest.mark.django_db(transaction=True)
def test_create(author_client, blog, category, tags, perf):
    payload = {"title": "t", "content": "c", "category_id": category.id, "tag_ids": [tags[0].id]}
    with perf.budget(queries=8, **CLEAN) as seen:
        assert author_client.post("/api/posts/", payload, format="json").status_code == 201
    assert [q.sql.split()[0] for q in seen.queries].count("INSERT") == 2


def test_update(author_client, post, perf):
    with perf.budget(queries=5, **CLEAN):
        response = author_client.patch(f"/api/posts/{post.id}/", {"title": "u"}, format="json")
        assert response.status_code == 200


def test_delete(author_client, post, perf):
    with perf.budget(queries=5, **CLEAN):
        assert author_client.delete(f"/api/posts/{post.id}/").status_code == 204


@pytest.mark.perf(queries=3, **CLEAN)
def test_optimized_authors(api_client, blog):
    assert len(api_client.get("/api/authors/").json()["results"]) == 5


def test_taxonomy_lists_hit_the_database_once_then_the_cache(api_client, blog, perf):
    with perf.budget(queries=1, **CLEAN):
        api_client.get("/api/categories/")
    with perf.budget(queries=0):
        api_client.get("/api/categories/")
    with perf.budget(queries=1, **CLEAN):
        api_client.get("/api/tags/")


@pytest.mark.perf(queries=2, **CLEAN)  # an async view: acount() and a raw cursor
def test_stats(api_client, blog):
    assert api_client.get("/api/stats/").json()["posts"] == 33


def test_login_page_and_login_and_logout(author, perf):
    browser = Client()
    with perf.budget(queries=0):
        assert browser.get("/accounts/login/").status_code == 200
    with perf.budget(queries=2, **CLEAN):  # the user, then last_login (sessions in a cookie)
        login = {"username": "alice", "password": "secret-pass"}
        assert browser.post("/accounts/login/", login).status_code == 302
    with perf.budget(queries=1, **CLEAN):  # the session's user
        assert browser.post("/accounts/logout/").status_code == 302


def test_the_naive_authors_are_three_n_plus_ones_named_with_their_fix(api_client, blog, perf):
    """The deliberate N+1: profile, COUNT and recent posts once per author on the page.
    A budget of none fails, and its message says which lines and what to write."""
    with pytest.raises(BudgetExceeded) as failed, perf.budget(n_plus_one=0):
        assert len(api_client.get("/api/authors/naive/").json()["results"]) == 5
    message = str(failed.value)
    for line, hint in [
        ("naive.py:32:get_display_name", "select_related('profile')"),
        ("naive.py:37:get_post_count", "annotate(Count('posts'))"),
        ("naive.py:41:get_recent_posts", "prefetch_related(Prefetch('posts', queryset=...))"),
    ]:
        assert line in message
        assert hint in message
    with perf.budget(queries=2 + 3 * 5, n_plus_one=3, duplicates=0):
        api_client.get("/api/authors/naive/")
