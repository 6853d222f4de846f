"""The blog API's views. Every queryset preloads what its serializer reads.

The deliberate N+1 twin of ``AuthorListView`` lives in ``perflab.demo.naive``.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import filters, generics, permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

import perflab
from perflab.demo.models import Category, Post, Tag
from perflab.demo.permissions import IsAuthorOrReadOnly
from perflab.demo.serializers import (
    AuthorSerializer,
    CategorySerializer,
    PostListSerializer,
    PostSerializer,
    TagSerializer,
)

RECENT_POSTS_PER_AUTHOR = 3
TAXONOMY_CACHE_SECONDS = 60


async def stats(request: HttpRequest) -> JsonResponse:
    """Blog totals from an async view: the ORM's async API plus one raw-cursor statement."""
    async with perflab.span("blog stats"):
        posts = await Post.objects.acount()
        tag_links = await sync_to_async(_count_tag_links)()
    return JsonResponse({"posts": posts, "tag_links": tag_links})


def _count_tag_links() -> int:
    with connection.cursor() as cursor:  # raw SQL, as many real apps have somewhere
        cursor.execute(f"SELECT COUNT(*) FROM {Post.tags.through._meta.db_table}")
        return cursor.fetchone()[0]


def healthz(request: HttpRequest) -> HttpResponse:
    """Readiness check for `perflab serve`: answers without touching the database."""
    return HttpResponse("ok", content_type="text/plain")


class PostViewSet(viewsets.ModelViewSet):
    """Posts: list (paginated, ``?search=``), detail, create; update/delete by the author."""

    queryset = Post.objects.select_related("author__profile", "category").prefetch_related("tags")
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsAuthorOrReadOnly]
    filter_backends = [filters.SearchFilter]
    search_fields = ["title", "content"]

    def get_serializer_class(self):
        return PostListSerializer if self.action == "list" else PostSerializer

    def perform_create(self, serializer: PostSerializer) -> None:
        # The post and its tag links land together or not at all.
        with transaction.atomic():
            serializer.save(author=self.request.user)


class CachedListView(generics.ListAPIView):
    """A small, rarely changing list served from Django's cache."""

    pagination_class = None
    cache_key: str = ""

    def list(self, request: Request, *args, **kwargs) -> Response:
        data = cache.get(self.cache_key)
        if data is None:
            data = self.get_serializer(self.get_queryset(), many=True).data
            cache.set(self.cache_key, data, TAXONOMY_CACHE_SECONDS)
        return Response(data)


class CategoryListView(CachedListView):
    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    cache_key = "blog:categories"


class TagListView(CachedListView):
    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    cache_key = "blog:tags"


class AuthorListView(generics.ListAPIView):
    """Authors with post counts and latest posts in three queries, whatever the page size."""

    serializer_class = AuthorSerializer

    def get_queryset(self):
        recent = Post.objects.only("id", "title", "created", "author_id").order_by("-created")
        return (
            get_user_model()
            .objects.select_related("profile")
            .annotate(post_count=Count("posts"))
            .prefetch_related(
                Prefetch(
                    "posts",
                    queryset=recent[:RECENT_POSTS_PER_AUTHOR],
                    to_attr="recent_posts",
                )
            )
            .order_by("id")
        )
