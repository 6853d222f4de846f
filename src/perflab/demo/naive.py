"""The deliberate N+1: the authors listing written the way it often first is.

For each author on the page the serializer runs three more queries (profile, post
count, recent posts), so a page of 20 authors costs 2 + 3 x 20 = 62 queries. This
is the teaching example perflab's probe must catch, with its call sites in this
file. ``perflab.demo.views.AuthorListView`` is the optimized twin: same output,
three queries.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import generics, serializers

from perflab.demo.serializers import RecentPostSerializer

RECENT_POSTS_PER_AUTHOR = 3


class NaiveAuthorSerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()
    post_count = serializers.SerializerMethodField()
    recent_posts = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "post_count", "recent_posts"]

    def get_display_name(self, user) -> str:
        try:
            return user.profile.display_name  # N+1: one profile query per author
        except ObjectDoesNotExist:
            return user.username

    def get_post_count(self, user) -> int:
        return user.posts.count()  # N+1: one COUNT per author

    def get_recent_posts(self, user) -> list[dict]:
        recent = user.posts.order_by("-created")[:RECENT_POSTS_PER_AUTHOR]  # N+1
        return RecentPostSerializer(recent, many=True).data


class NaiveAuthorListView(generics.ListAPIView):
    """Same response as ``AuthorListView``, 3 queries per author instead of 3 in all."""

    serializer_class = NaiveAuthorSerializer
    queryset = get_user_model().objects.order_by("id")
