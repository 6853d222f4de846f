"""Labelled N+1 views and their optimized twins, in the shapes Django code is written in.

Each naive view runs one N+1 (ten posts or notes, one statement per row); its twin runs
the same work in a constant number of statements. ``tests/probe/test_corpus.py`` says
where each N+1 must be located.
"""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.views.generic import DetailView, ListView
from rest_framework import generics

from perflab.demo.models import Post
from tests.probe.corpus import serializers
from tests.probe.corpus.models import Note, Place

ROWS = 10


def posts():
    return Post.objects.order_by("id")[:ROWS]


# -- a function view looping ------------------------------------------------------------


def loop_in_view(request):
    names = [post.author.username for post in posts()]  # N+1: loop in view
    return JsonResponse({"names": names})


def loop_in_view_twin(request):
    names = [post.author.username for post in posts().select_related("author")]
    return JsonResponse({"names": names})


# -- generic class-based views: the template renders after the view returned ------------


class PostList(ListView):
    template_name = "corpus/post_list.html"

    def get_queryset(self):
        return posts()


class PostListTwin(PostList):
    def get_queryset(self):
        return posts().select_related("author")


class AuthorDetail(DetailView):
    template_name = "corpus/author_detail.html"
    context_object_name = "author"

    def get_queryset(self):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.all()


class AuthorDetailTwin(AuthorDetail):
    def get_queryset(self):
        from django.db.models import Prefetch

        return (
            super()
            .get_queryset()
            .prefetch_related(Prefetch("posts", queryset=Post.objects.select_related("category")))
        )


# -- TemplateResponse with an include, and render() inside the view -----------------------


def cards(request):
    return TemplateResponse(request, "corpus/cards.html", {"posts": posts()})


def cards_twin(request):
    return TemplateResponse(
        request, "corpus/cards.html", {"posts": posts().select_related("category")}
    )


def rendered_in_view(request):
    return render(request, "corpus/post_list.html", {"object_list": posts()})  # renders here


def rendered_in_view_twin(request):
    return render(
        request, "corpus/post_list.html", {"object_list": posts().select_related("author")}
    )


# -- an inclusion tag, and a model method called from a template ---------------------------


def inclusion(request):
    return TemplateResponse(request, "corpus/tagged.html", {"posts": posts()})


def inclusion_twin(request):
    return TemplateResponse(
        request, "corpus/tagged.html", {"posts": posts().prefetch_related("tags")}
    )


def method_in_template(request):
    return TemplateResponse(request, "corpus/notes.html", {"notes": Note.objects.all()})


def method_in_template_twin(request):
    notes = Note.objects.prefetch_related("tags")
    return TemplateResponse(request, "corpus/notes.html", {"notes": notes})


# -- Jinja2 --------------------------------------------------------------------------------


def jinja(request):
    return TemplateResponse(request, "corpus/posts.jinja", {"posts": posts()}, using="jinja2")


def jinja_twin(request):
    return TemplateResponse(
        request, "corpus/posts.jinja", {"posts": posts().select_related("author")}, using="jinja2"
    )


# -- DRF generic views: DRF's own code walks the relation ----------------------------------


class NestedList(generics.ListAPIView):
    serializer_class = serializers.NestedPostSerializer
    pagination_class = None

    def get_queryset(self):
        return posts()


class NestedListTwin(NestedList):
    def get_queryset(self):
        return posts().select_related("author")


class SourceList(generics.ListAPIView):
    serializer_class = serializers.SourcePostSerializer
    pagination_class = None

    def get_queryset(self):
        return posts()


class SourceListTwin(SourceList):
    def get_queryset(self):
        return posts().select_related("category")


class TaggedList(generics.ListAPIView):
    serializer_class = serializers.TaggedPostSerializer
    pagination_class = None

    def get_queryset(self):
        return posts()


class TaggedListTwin(TaggedList):
    def get_queryset(self):
        return posts().prefetch_related("tags")


# -- django-taggit tags, a generic relation, raw cursors ------------------------------------


def taggit_tags(request):
    tags = [list(note.tags.all()) for note in Note.objects.all()]  # N+1: taggit tags
    return JsonResponse({"tags": len(tags)})


def taggit_tags_twin(request):
    tags = [list(note.tags.all()) for note in Note.objects.prefetch_related("tags")]
    return JsonResponse({"tags": len(tags)})


def generic_relation(request):
    counts = [len(note.comments.all()) for note in Note.objects.all()]  # N+1: comments
    return JsonResponse({"comments": sum(counts)})


def generic_relation_twin(request):
    notes = Note.objects.prefetch_related("comments")
    return JsonResponse({"comments": sum(len(note.comments.all()) for note in notes)})


def raw_cursor(request):
    ids = list(posts().values_list("id", flat=True))
    titles = []
    with connection.cursor() as cursor:
        for pk in ids:
            cursor.execute("SELECT title FROM blog_post WHERE id = %s", [pk])  # N+1: raw
            titles.append(cursor.fetchone()[0])
    return HttpResponse(len(titles))


def raw_cursor_twin(request):
    ids = list(posts().values_list("id", flat=True))
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(f"SELECT title FROM blog_post WHERE id IN ({marks})", ids)
        titles = [row[0] for row in cursor.fetchall()]
    return HttpResponse(len(titles))


# -- multi-table inheritance: one row per place from its own subclass table -----------------


def polymorphic(request):
    return JsonResponse({"places": [place.specific().name for place in Place.objects.all()]})


def polymorphic_twin(request):
    places = Place.objects.select_related("restaurant", "bar")
    return JsonResponse({"places": [_subclass_row(place).name for place in places]})


def _subclass_row(place):
    from django.core.exceptions import ObjectDoesNotExist

    for name in ("restaurant", "bar"):
        try:
            return getattr(place, name)
        except ObjectDoesNotExist:
            continue
    return place
