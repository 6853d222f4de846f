"""Fill the blog with realistic data in batched bulk inserts: 10k posts in seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from perflab.demo.models import Category, Post, Profile, Tag
from perflab.demo.text import CATEGORIES, TAGS, BlogText
from perflab.errors import PerflabError

TEST_USERNAME = "testuser"
TEST_PASSWORD = "testpass123"  # what the seed document's locustfiles log in with
AUTHOR_PREFIX = "author"
MAX_TAGS_PER_POST = 4
HISTORY_DAYS = 730  # posts are spread over the last two years
DEFAULT_BATCH_SIZE = 2000


@dataclass(frozen=True)
class SeedReport:
    posts: int
    users: int
    profiles: int
    tag_links: int
    seconds: float

    @property
    def rows(self) -> int:
        return self.posts + self.users + self.profiles + self.tag_links

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def seed(
    posts: int,
    users: int = 50,
    *,
    reset: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rng_seed: int = 42,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Add ``posts`` posts by ``users`` authors (plus ``testuser``); ``reset`` empties first.

    Authors are named ``author0001``… and reused when they exist, so seeding twice
    without ``reset`` adds posts, not duplicate users. ``progress`` gets the number
    of posts written after each batch.
    """
    if posts < 0 or users < 1 or batch_size < 1:
        raise PerflabError("--posts must be >= 0, --users >= 1 and the batch size >= 1")
    started = time.perf_counter()
    if reset:
        call_command("flush", interactive=False, verbosity=0)
    text = BlogText(rng_seed)
    category_ids = _ensure_named(Category, CATEGORIES)
    tag_ids = _ensure_named(Tag, TAGS)
    # Profiles draw from their own stream, so posts come out the same whether users exist or not.
    author_ids, users_created, profiles_created = _ensure_authors(users, BlogText(rng_seed + 1))
    tag_links = 0
    now = timezone.now()
    written = 0
    rng = text.rng
    while written < posts:
        size = min(batch_size, posts - written)
        batch = []
        for _ in range(size):
            django = text.mentions_django()
            created = now - timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
            batch.append(
                Post(
                    title=text.title(django),
                    content=text.body(django),
                    author_id=rng.choice(author_ids),
                    category_id=rng.choice(category_ids),
                    created=created,
                    updated=created,
                )
            )
        with transaction.atomic():
            Post.objects.bulk_create(batch)
            links = [
                (post.pk, tag_id)
                for post in batch
                for tag_id in rng.sample(tag_ids, rng.randint(1, MAX_TAGS_PER_POST))
            ]
            _insert_tag_links(links)
        tag_links += len(links)
        written += size
        if progress:
            progress(written)
    seconds = time.perf_counter() - started
    return SeedReport(posts, users_created, profiles_created, tag_links, seconds)


def _insert_tag_links(links: list[tuple[int, int]]) -> None:
    """Plain executemany: tag links are most of the rows, and model instances would double
    the seeding time for nothing (no signals or defaults on the through table)."""
    through = Post.tags.through
    quote = connection.ops.quote_name
    columns = (through._meta.get_field(name).column for name in ("post", "tag"))
    sql = "INSERT INTO {} ({}, {}) VALUES (%s, %s)".format(
        quote(through._meta.db_table), *map(quote, columns)
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, links)


def _ensure_named(model, names: list[str]) -> list[int]:
    model.objects.bulk_create(
        [model(name=name, slug=slugify(name)) for name in names], ignore_conflicts=True
    )
    return list(model.objects.filter(name__in=names).values_list("id", flat=True))


def _ensure_authors(count: int, text: BlogText) -> tuple[list[int], int, int]:
    """Author ids to attribute posts to, and how many users and profiles were created."""
    User = get_user_model()
    # One hash for every seeded account: PBKDF2 per user would dominate the seeding time.
    password = make_password(TEST_PASSWORD)
    wanted = [TEST_USERNAME] + [f"{AUTHOR_PREFIX}{i:04d}" for i in range(1, count + 1)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    new_users = [
        User(username=name, password=password, email=f"{name}@example.com")
        for name in wanted
        if name not in existing
    ]
    with transaction.atomic():
        User.objects.bulk_create(new_users)
        ids = dict(User.objects.filter(username__in=wanted).values_list("username", "id"))
        with_profile = set(
            Profile.objects.filter(user_id__in=ids.values()).values_list("user_id", flat=True)
        )
        profiles = [
            Profile(user_id=user_id, display_name=text.person(i), bio=text.bio())
            for i, (_name, user_id) in enumerate(sorted(ids.items()))
            if user_id not in with_profile
        ]
        Profile.objects.bulk_create(profiles)
    author_ids = [ids[name] for name in wanted if name != TEST_USERNAME]
    return author_ids, len(new_users), len(profiles)
