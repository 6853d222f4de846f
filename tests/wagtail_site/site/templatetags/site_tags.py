"""``{% recent_posts page %}``: an inclusion tag, so its template renders after the tag
function returned — the per-post lookups run with no app frame but the model method."""

from __future__ import annotations

from django import template

from tests.wagtail_site.site.models import BlogPage

register = template.Library()

RECENT_POSTS = 6


@register.inclusion_tag("includes/recent_posts.html")
def recent_posts(page: BlogPage) -> dict:
    posts = list(BlogPage.objects.live().exclude(pk=page.pk).order_by("-date", "pk")[:RECENT_POSTS])
    return {"posts": posts}
