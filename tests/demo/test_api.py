"""The blog API's behaviour: auth, errors, pagination, search, create, author-only edits."""

import os

import pytest
from django.db import connection

from perflab.demo.models import Post
from tests.demo.conftest import make_posts, make_user

pytestmark = [pytest.mark.database, pytest.mark.django_db]


def test_runs_on_the_expected_database():
    # `make test` runs this module again on PostgreSQL; make sure it really did.
    assert connection.vendor == os.environ.get("PERFLAB_EXPECT_VENDOR", "sqlite")


class TestToken:
    def test_valid_credentials_return_access_and_refresh(self, api_client, author):
        response = api_client.post(
            "/api/token/", {"username": "alice", "password": "secret-pass"}, format="json"
        )
        assert response.status_code == 200
        assert set(response.json()) == {"access", "refresh"}

    def test_refresh_returns_a_new_access_token(self, api_client, author):
        tokens = api_client.post(
            "/api/token/", {"username": "alice", "password": "secret-pass"}, format="json"
        ).json()
        response = api_client.post(
            "/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
        )
        assert response.status_code == 200
        assert "access" in response.json()

    def test_wrong_password_is_401(self, api_client, author):
        response = api_client.post(
            "/api/token/", {"username": "alice", "password": "nope"}, format="json"
        )
        assert response.status_code == 401

    def test_garbage_bearer_token_is_401(self, api_client, author):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
        assert api_client.get("/api/posts/").status_code == 401


class TestList:
    def test_paginates_twenty_per_page_newest_first(self, api_client, author):
        make_posts(author, 45)
        first = api_client.get("/api/posts/").json()
        assert first["count"] == 45
        assert len(first["results"]) == 20
        assert first["next"].endswith("?page=2")
        created = [post["created"] for post in first["results"]]
        assert created == sorted(created, reverse=True)
        third = api_client.get("/api/posts/?page=3").json()
        assert len(third["results"]) == 5
        assert third["next"] is None

    def test_page_past_the_end_is_404(self, api_client, author):
        make_posts(author, 3)
        assert api_client.get("/api/posts/?page=9").status_code == 404

    def test_list_items_carry_author_category_tags_and_an_excerpt(
        self, api_client, author, category, tags
    ):
        post = make_posts(author, 1, category=category, tags=tags)[0]
        post.content = "x" * 500
        post.save()
        item = api_client.get("/api/posts/").json()["results"][0]
        assert item["author"] == {"id": author.id, "username": "alice", "display_name": "Alice"}
        assert item["category"]["slug"] == "tutorials"
        assert sorted(t["name"] for t in item["tags"]) == ["django", "orm", "sql"]
        assert len(item["excerpt"]) == 200
        assert "content" not in item

    def test_search_matches_title_and_content_case_insensitively(self, api_client, author):
        make_posts(author, 3, title="Scaling Django {i}")
        Post.objects.create(title="Other", content="works with DJANGO too", author=author)
        make_posts(author, 4, title="Unrelated {i}")
        body = api_client.get("/api/posts/?search=django").json()
        assert body["count"] == 4
        assert api_client.get("/api/posts/?search=nothing-matches").json()["count"] == 0


class TestDetail:
    def test_returns_full_content(self, api_client, author):
        post = make_posts(author, 1)[0]
        body = api_client.get(f"/api/posts/{post.id}/").json()
        assert body["id"] == post.id
        assert body["content"] == "Body 0"

    def test_missing_post_is_404(self, api_client, db):
        assert api_client.get("/api/posts/999999/").status_code == 404


class TestCreate:
    def test_anonymous_create_is_401(self, api_client, db):
        response = api_client.post("/api/posts/", {"title": "t", "content": "c"}, format="json")
        assert response.status_code == 401
        assert Post.objects.count() == 0

    def test_authenticated_create_sets_author_category_and_tags(
        self, author_client, author, category, tags
    ):
        response = author_client.post(
            "/api/posts/",
            {
                "title": "Load Test Post",
                "content": "Testing under load",
                "category_id": category.id,
                "tag_ids": [tags[0].id, tags[2].id],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        post = Post.objects.get(id=response.json()["id"])
        assert post.author == author
        assert post.category == category
        assert sorted(t.name for t in post.tags.all()) == ["django", "sql"]
        assert response.json()["author"]["username"] == "alice"

    def test_validation_errors_are_400_with_field_messages(self, author_client, db):
        response = author_client.post(
            "/api/posts/", {"title": "x" * 201, "category_id": 424242}, format="json"
        )
        assert response.status_code == 400
        errors = response.json()
        assert "200 characters" in errors["title"][0]
        assert errors["content"] == ["This field is required."]
        assert "does not exist" in errors["category_id"][0]
        assert Post.objects.count() == 0


class TestAuthorOnlyEdits:
    @pytest.fixture
    def post(self, author):
        return make_posts(author, 1)[0]

    def test_author_can_update(self, author_client, post):
        response = author_client.patch(f"/api/posts/{post.id}/", {"title": "New"}, format="json")
        assert response.status_code == 200
        post.refresh_from_db()
        assert post.title == "New"
        assert post.updated > post.created

    def test_other_user_cannot_update_or_delete(self, other_client, post):
        assert (
            other_client.patch(f"/api/posts/{post.id}/", {"title": "X"}, format="json").status_code
            == 403
        )
        assert other_client.delete(f"/api/posts/{post.id}/").status_code == 403
        post.refresh_from_db()
        assert post.title == "Post 0"

    def test_anonymous_cannot_update_or_delete(self, api_client, post):
        assert (
            api_client.put(
                f"/api/posts/{post.id}/", {"title": "X", "content": "y"}, format="json"
            ).status_code
            == 401
        )
        assert api_client.delete(f"/api/posts/{post.id}/").status_code == 401
        assert Post.objects.filter(id=post.id).exists()

    def test_author_can_delete(self, author_client, post):
        assert author_client.delete(f"/api/posts/{post.id}/").status_code == 204
        assert not Post.objects.filter(id=post.id).exists()


class TestAuthors:
    def test_naive_and_optimized_listings_return_the_same_data(self, api_client, db):
        for n in range(5):
            make_posts(make_user(f"writer{n}"), n, title=f"w{n} " + "{i}")
        make_user("no-profile", profile=False)
        optimized = api_client.get("/api/authors/").json()
        naive = api_client.get("/api/authors/naive/").json()
        assert optimized == naive
        by_name = {a["username"]: a for a in optimized["results"]}
        assert by_name["writer3"]["post_count"] == 3
        assert len(by_name["writer4"]["recent_posts"]) == 3
        assert by_name["no-profile"]["display_name"] == "no-profile"


class TestTaxonomy:
    def test_categories_and_tags_are_listed(self, api_client, category, tags):
        assert [c["slug"] for c in api_client.get("/api/categories/").json()] == ["tutorials"]
        assert len(api_client.get("/api/tags/").json()) == 3


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"
