import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from perflab.demo.models import Category, Post, Profile, Tag


def make_user(username: str, password: str = "secret-pass", profile: bool = True):
    user = get_user_model().objects.create_user(username, password=password)
    if profile:
        Profile.objects.create(user=user, display_name=username.title())
    return user


def make_posts(author, count: int, category=None, tags=(), title="Post {i}"):
    posts = Post.objects.bulk_create(
        [
            Post(title=title.format(i=i), content=f"Body {i}", author=author, category=category)
            for i in range(count)
        ]
    )
    for post in posts:
        post.tags.set(tags)
    return posts


@pytest.fixture
def author(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("bob")


@pytest.fixture
def category(db):
    return Category.objects.create(name="Tutorials", slug="tutorials")


@pytest.fixture
def tags(db):
    return [Tag.objects.create(name=n, slug=n) for n in ("django", "orm", "sql")]


def client_for(user) -> APIClient:
    """A client carrying a real JWT obtained from /api/token/, as the locustfile does."""
    client = APIClient()
    response = client.post(
        "/api/token/", {"username": user.username, "password": "secret-pass"}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def author_client(author):
    return client_for(author)


@pytest.fixture
def other_client(other_user):
    return client_for(other_user)
