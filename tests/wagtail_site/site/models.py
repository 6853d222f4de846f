"""The test site's page types, written the way Wagtail sites usually are: templates
reach through relations per page (``.specific``, an author, tags, an image and its
rendition), so the N+1s happen while ``Page.serve``'s ``TemplateResponse`` renders."""

from __future__ import annotations

from django.db import models
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.fields import RichTextField
from wagtail.models import Page


class Author(models.Model):
    """A byline: a plain model the blog pages point at (no prefetch anywhere)."""

    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class HomePage(Page):
    """The site's root: the latest posts as cards, and the locations."""

    intro = models.TextField(blank=True)

    subpage_types = ["site.BlogIndexPage", "site.LocationIndexPage"]

    FEATURED_POSTS = 8

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        # Specific pages already: the cards' ``page.specific`` costs nothing here, but
        # each card still fetches its image, rendition, author and tags.
        context["featured_posts"] = BlogPage.objects.live().order_by("-date", "pk")[
            : self.FEATURED_POSTS
        ]
        context["locations"] = LocationPage.objects.live().order_by("path")
        return context


class BlogIndexPage(Page):
    """The blog: its children as generic ``Page`` rows, made specific one by one
    in ``includes/card.html``."""

    intro = models.TextField(blank=True)

    subpage_types = ["site.BlogPage"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["posts"] = self.get_children().live().order_by("path")
        return context


class BlogPageTag(TaggedItemBase):
    content_object = ParentalKey(
        "site.BlogPage", related_name="tagged_items", on_delete=models.CASCADE
    )


class BlogPage(Page):
    date = models.DateField()
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="posts")
    feed_image = models.ForeignKey(
        "wagtailimages.Image", on_delete=models.PROTECT, related_name="+"
    )
    body = RichTextField(blank=True)
    tags = ClusterTaggableManager(through=BlogPageTag, blank=True)

    parent_page_types = ["site.BlogIndexPage"]
    subpage_types: list[str] = []

    def tag_links(self) -> list[dict[str, str]]:
        """Each tag with a link to the blog filtered by it (as Wagtail's bakery demo
        does): the parent and the tags are looked up here, in the app's code."""
        base_url = self.get_parent().url
        return [{"name": tag.name, "url": f"{base_url}?tag={tag.slug}"} for tag in self.tags.all()]


class LocationIndexPage(Page):
    intro = models.TextField(blank=True)

    subpage_types = ["site.LocationPage"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["locations"] = LocationPage.objects.child_of(self).live().order_by("path")
        return context


class LocationPage(Page):
    address = models.TextField()
    image = models.ForeignKey("wagtailimages.Image", on_delete=models.PROTECT, related_name="+")

    parent_page_types = ["site.LocationIndexPage"]
    subpage_types: list[str] = []
