"""Seeding: realistic, repeatable data in bulk, on whichever database the suite runs on."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db.models import Count, Q

from perflab.demo.models import Category, Post, Profile, Tag
from perflab.demo.seeding import MAX_TAGS_PER_POST, TEST_PASSWORD, TEST_USERNAME, seed
from perflab.demo.text import CATEGORIES, TAGS
from perflab.errors import PerflabError

pytestmark = [pytest.mark.database, pytest.mark.django_db]


def test_seed_creates_posts_users_profiles_taxonomy_and_reports_rows():
    seen = []
    report = seed(1000, users=7, batch_size=300, progress=seen.append)
    assert seen == [300, 600, 900, 1000]
    assert Post.objects.count() == 1000
    User = get_user_model()
    assert User.objects.count() == 8  # 7 authors and testuser
    assert Profile.objects.count() == 8
    assert Category.objects.count() == len(CATEGORIES)
    assert Tag.objects.count() == len(TAGS)
    links = Post.tags.through.objects.count()
    assert report.tag_links == links
    assert report.rows == 1000 + 8 + 8 + links
    assert report.rows_per_second > 0


def test_seeded_data_is_varied_and_searchable():
    seed(2000, users=10)
    posts = Post.objects.all()
    assert posts.values("title").distinct().count() > 500
    assert posts.values("author").distinct().count() == 10
    assert posts.values("category").distinct().count() == len(CATEGORIES)
    mentions = posts.filter(Q(title__icontains="django") | Q(content__icontains="django")).count()
    assert 0.18 < mentions / 2000 < 0.32  # about a quarter
    per_post = Post.objects.annotate(n=Count("tags")).values_list("n", flat=True)
    assert min(per_post) >= 1
    assert max(per_post) == MAX_TAGS_PER_POST
    dates = posts.order_by("created").values_list("created", flat=True)
    assert (dates.last() - dates.first()).days > 300  # spread over time, not one instant


def test_testuser_can_log_in_with_the_seed_document_password(api_client):
    seed(10, users=2)
    assert authenticate(username=TEST_USERNAME, password=TEST_PASSWORD) is not None
    response = api_client.post(
        "/api/token/", {"username": TEST_USERNAME, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_seeding_twice_adds_posts_but_reuses_users():
    seed(100, users=5)
    second = seed(50, users=5)
    assert Post.objects.count() == 150
    assert second.users == 0
    assert get_user_model().objects.count() == 6


@pytest.mark.django_db(transaction=True)  # flush needs to run outside a test transaction
def test_reset_empties_before_seeding():
    seed(100, users=5)
    seed(30, users=3, reset=True)
    assert Post.objects.count() == 30
    assert get_user_model().objects.count() == 4


def test_same_seed_gives_same_data():
    seed(50, users=3, rng_seed=7)
    first = list(Post.objects.order_by("id").values_list("title", "content"))
    seed(50, users=3, rng_seed=7)
    second = list(Post.objects.order_by("id").values_list("title", "content"))[50:]
    assert first == second


@pytest.mark.parametrize(
    "kwargs", [{"posts": -1}, {"posts": 10, "users": 0}, {"posts": 10, "batch_size": 0}]
)
def test_bad_counts_are_refused(kwargs):
    with pytest.raises(PerflabError):
        seed(**kwargs)
    assert Post.objects.count() == 0
