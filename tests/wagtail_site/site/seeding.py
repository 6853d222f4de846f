"""The test site's content: the same page tree, images and renditions on every run."""

from __future__ import annotations

import datetime
from io import BytesIO

import PIL.Image
from django.core.files.images import ImageFile
from django.db import transaction
from wagtail.images.models import Image
from wagtail.models import Page, Site

from tests.wagtail_site.site.models import (
    Author,
    BlogIndexPage,
    BlogPage,
    HomePage,
    LocationIndexPage,
    LocationPage,
)

AUTHORS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra")
TAGS = ("django", "wagtail", "performance", "sql", "templates", "caching")
BLOG_POSTS = 12
LOCATIONS = 6
FIRST_DATE = datetime.date(2024, 1, 1)
# Every filter spec the templates ask for, made at seed time: serving then only reads
# renditions (one statement each), never writes or opens an image file.
BLOG_IMAGE_SPECS = ("fill-64x40", "fill-320x200")  # includes/card.html, site/blog_page.html
LOCATION_IMAGE_SPECS = ("fill-48x48", "fill-320x200")  # location_card.html, location_page.html


def _image(title: str, number: int, specs: tuple[str, ...]) -> Image:
    """A tiny PNG of its own colour, saved through Wagtail, with its renditions."""
    buffer = BytesIO()
    colour = ((number * 37) % 256, (number * 91) % 256, (number * 53) % 256)
    PIL.Image.new("RGB", (160, 100), colour).save(buffer, "PNG")
    slug = title.lower().replace(" ", "-")
    image = Image.objects.create(title=title, file=ImageFile(buffer, name=f"{slug}.png"))
    for spec in specs:
        image.get_rendition(spec)
    return image


def post_tags(number: int) -> list[str]:
    """Two tags for even posts, three for odd ones."""
    tags = [TAGS[number % len(TAGS)], TAGS[(number + 1) % len(TAGS)]]
    if number % 2:
        tags.append(TAGS[(number + 3) % len(TAGS)])
    return tags


@transaction.atomic
def seed_site() -> list[dict[str, str]]:
    """Build the page tree under Wagtail's root (once; a seeded database is left as it
    is) and list its pages: url, page type and title, in tree order."""
    if not HomePage.objects.exists():
        _build_tree()
    return [
        {"url": page.url, "type": page.specific_class.__name__, "title": page.title}
        for page in Page.objects.filter(depth__gt=1).order_by("path")
    ]


def _build_tree() -> None:
    root = Page.get_first_root_node()
    # Wagtail's initial data: a welcome page and the default site pointing at it.
    Site.objects.all().delete()
    for page in root.get_children():
        page.delete()
    root.refresh_from_db()

    home = root.add_child(
        instance=HomePage(title="Home", slug="home", intro="Posts and places, slowly.")
    )
    Site.objects.create(
        hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="Test"
    )

    authors = [Author.objects.create(name=name) for name in AUTHORS]
    blog = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog", intro="All posts."))
    for number in range(1, BLOG_POSTS + 1):
        post = BlogPage(
            title=f"Post {number:02d}",
            slug=f"post-{number:02d}",
            date=FIRST_DATE + datetime.timedelta(days=7 * number),
            author=authors[number % len(authors)],
            feed_image=_image(f"Post {number:02d} image", number, BLOG_IMAGE_SPECS),
            body=f"<p>Post number {number}, about {', '.join(post_tags(number))}.</p>",
        )
        post.tags.add(*post_tags(number))
        blog.add_child(instance=post)

    places = home.add_child(
        instance=LocationIndexPage(title="Locations", slug="locations", intro="Where we are.")
    )
    for number in range(1, LOCATIONS + 1):
        places.add_child(
            instance=LocationPage(
                title=f"Location {number}",
                slug=f"location-{number}",
                address=f"{number} Example Street\nTown {number}",
                image=_image(f"Location {number} image", 100 + number, LOCATION_IMAGE_SPECS),
            )
        )
