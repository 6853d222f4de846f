from django.contrib.auth import get_user_model
from rest_framework import serializers

from perflab.demo.models import Post


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class NestedPostSerializer(serializers.ModelSerializer):
    author = AuthorSerializer()  # the nested serializer DRF fills per post

    class Meta:
        model = Post
        fields = ["id", "title", "author"]


class SourcePostSerializer(serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name", default=None)

    class Meta:
        model = Post
        fields = ["id", "title", "category_name"]


class TaggedPostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = ["id", "title", "tags"]  # PrimaryKeyRelatedField(many=True), implicit
