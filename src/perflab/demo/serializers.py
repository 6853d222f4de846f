"""API representations. Each list serializer reads only what its view's queryset preloads."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from perflab.demo.models import Category, Post, Tag

EXCERPT_CHARS = 200


def display_name(user) -> str:
    try:
        return user.profile.display_name
    except ObjectDoesNotExist:
        return user.username


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "slug"]


class AuthorSummarySerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name"]

    def get_display_name(self, user) -> str:
        return display_name(user)


class PostSerializer(serializers.ModelSerializer):
    author = AuthorSummarySerializer(read_only=True)
    category = CategorySerializer(read_only=True)
    tags = TagSerializer(many=True, read_only=True)
    category_id = serializers.PrimaryKeyRelatedField(
        source="category",
        queryset=Category.objects.all(),
        write_only=True,
        required=False,
        allow_null=True,
    )
    tag_ids = serializers.PrimaryKeyRelatedField(
        source="tags", queryset=Tag.objects.all(), many=True, write_only=True, required=False
    )

    class Meta:
        model = Post
        fields = [
            "id",
            "title",
            "content",
            "author",
            "category",
            "tags",
            "category_id",
            "tag_ids",
            "created",
            "updated",
        ]
        read_only_fields = ["created", "updated"]


class PostListSerializer(PostSerializer):
    """The list shows an excerpt: twenty full bodies would make every page heavy."""

    excerpt = serializers.SerializerMethodField()

    class Meta(PostSerializer.Meta):
        fields = ["id", "title", "excerpt", "author", "category", "tags", "created", "updated"]

    def get_excerpt(self, post: Post) -> str:
        return post.content[:EXCERPT_CHARS]


class RecentPostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = ["id", "title", "created"]


class AuthorSerializer(serializers.ModelSerializer):
    """An author with their post count and three latest posts, read from annotations."""

    display_name = serializers.SerializerMethodField()
    post_count = serializers.IntegerField()
    recent_posts = RecentPostSerializer(many=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "post_count", "recent_posts"]

    def get_display_name(self, user) -> str:
        return display_name(user)
