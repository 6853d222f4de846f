"""The Wagtail test site under a real gunicorn with the probe on: every page served and
recorded, the probe's statements matching Django's own count, and (issue 15, in
progress) its template N+1s located in the card templates, one route per page type."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TEMPLATES = Path(__file__).parent / "site" / "templates"


def template_line(name: str, snippet: str) -> str:
    """``name:LINE`` of the first line of template ``name`` containing ``snippet``."""
    lines = (TEMPLATES / name).read_text().splitlines()
    return next(f"{name}:{n}" for n, line in enumerate(lines, 1) if snippet in line)


@pytest.fixture(scope="module")
def served(wagtail_server) -> dict[str, dict]:
    """Every page requested once, in tree order, and read back from the probe's store:
    url -> {type, status, request_id, stored}."""
    answered = {}
    for page in wagtail_server.pages:
        status, request_id = wagtail_server.get(page["url"])
        answered[page["url"]] = {"type": page["type"], "status": status, "request_id": request_id}
    for entry in answered.values():
        entry["stored"] = wagtail_server.stored(entry["request_id"])
    return answered


def test_the_site_has_every_page_type(wagtail_site_db):
    types = Counter(page["type"] for page in wagtail_site_db.pages)
    assert types == {
        "HomePage": 1, "BlogIndexPage": 1, "BlogPage": 12, "LocationIndexPage": 1,
        "LocationPage": 6,
    }  # fmt: skip


def test_every_page_is_served_and_recorded_by_the_probe(served):
    assert {url: entry["status"] for url, entry in served.items()} == dict.fromkeys(served, 200)
    for url, entry in served.items():
        stored = entry["stored"]
        assert (stored["method"], stored["path"], stored["status"]) == ("GET", url, 200)
        assert stored["view"].endswith("serve"), stored["view"]


def test_the_templates_make_the_n_plus_ones_they_are_written_for(wagtail_query_counts):
    """Django's own count (no probe involved): the site is the fixture other tests rely
    on, so its N+1s are pinned here (per statement shape, by the table it reads)."""

    def repeats(url: str) -> Counter:
        counted = Counter()
        for sql, times in wagtail_query_counts[url]["repeated"].items():
            table = sql.split(" FROM ", 1)[1].split()[0].strip('"')
            counted[table, times] += 1
        return counted

    assert {page["status"] for page in wagtail_query_counts.values()} == {200}
    blog_index = repeats("/blog/")
    # 12 cards: .specific (a BlogPage row), image, rendition, author, tags
    for table in ("site_blogpage", "wagtailimages_image", "wagtailimages_rendition",
                  "site_author", "taggit_tag"):  # fmt: skip
        assert blog_index[table, 12] == 1, blog_index
    home = repeats("/")  # 8 post cards (already specific) and 6 location cards
    assert home[("wagtailimages_image", 14)] == home[("wagtailimages_rendition", 14)] == 1
    assert home[("site_author", 8)] == home[("taggit_tag", 8)] == 1
    locations = repeats("/locations/")
    assert locations[("wagtailimages_image", 6)] == locations[("wagtailimages_rendition", 6)] == 1
    post = repeats("/blog/post-01/")  # its own author and tags, and 6 recent posts'
    assert post[("site_author", 7)] == post[("taggit_tag", 7)] == 1


def test_the_probe_records_every_statement_django_counts(served, wagtail_query_counts):
    """A worker's first request of a page type also reads its content type (a per-process
    cache); apart from those, the probe stored what Django counted, statement for statement."""
    for url, entry in served.items():
        queries = entry["stored"]["queries"]
        warm = [q for q in queries if '"django_content_type"' not in q["sql"]]
        assert len(warm) == wagtail_query_counts[url]["queries"], url
        assert entry["stored"]["query_count"] == len(queries)


def test_an_n_plus_one_with_an_app_frame_is_found_at_its_call_site(served):
    """``BlogPage.tag_links`` (models.py), called per recent post from the inclusion
    tag's template: its parent and tag lookups have an app frame on the stack."""
    findings = served["/blog/post-01/"]["stored"]["findings"]
    in_tag_links = [
        f for f in findings
        if f["kind"] == "n_plus_one" and (f["callsite"] or "").endswith(":tag_links")
    ]  # fmt: skip
    tags = [f for f in in_tag_links if "taggit_tag" in f["example_sql"]]
    assert tags, findings
    # modelcluster's ClusterTaggableManager: a manager of its own, not a ManyToManyField
    assert {f["hint"] for f in tags} == {"prefetch_related('tags')"}
    assert all(f["count"] >= 6 for f in in_tag_links)


# What each page's templates repeat, as (template line, statements per request, findings):
# the image line runs two statements per card (the image, then its rendition).
CARD = "includes/card.html"
LOCATION_CARD = "includes/location_card.html"
EXPECTED_TEMPLATE_FINDINGS = {
    "/blog/": [
        (template_line(CARD, "page.specific"), 12, 1),
        (template_line(CARD, "post.feed_image"), 12, 2),
        (template_line(CARD, "post.author.name"), 12, 1),
        (template_line(CARD, "post.tags.all"), 12, 1),
    ],
    "/": [
        (template_line(CARD, "post.feed_image"), 8, 2),
        (template_line(CARD, "post.author.name"), 8, 1),
        (template_line(CARD, "post.tags.all"), 8, 1),
        (template_line(LOCATION_CARD, "location.image"), 6, 2),
    ],
    "/locations/": [(template_line(LOCATION_CARD, "location.image"), 6, 2)],
    # The inclusion tag's template: each recent post's author, and the site's root paths
    # that {% pageurl %} looks up per post (the tag's context has no request to cache them).
    "/blog/post-01/": [(template_line("includes/recent_posts.html", "post.author.name"), 6, 2)],
}


@pytest.mark.parametrize("url", list(EXPECTED_TEMPLATE_FINDINGS))
def test_template_n_plus_ones_are_located_at_their_template_line(served, url):
    findings = [f for f in served[url]["stored"]["findings"] if f["kind"] == "n_plus_one"]
    located = Counter((f.get("template"), f["count"]) for f in findings)
    for template, count, how_many in EXPECTED_TEMPLATE_FINDINGS[url]:
        assert located[template, count] == how_many, (template, count, findings)


def test_page_specific_per_row_hints_specific(served):
    """``page.specific`` per child page: one subclass row per page, Wagtail's fix."""
    findings = served["/blog/"]["stored"]["findings"]
    (specific,) = [f for f in findings if f.get("template") == template_line(CARD, "page.specific")]
    assert specific["kind"] == "n_plus_one" and specific["count"] == 12
    assert specific["hint"] == "specific() on the pages' queryset"


def test_each_page_type_is_a_route_of_its_own(served, wagtail_server):
    for url, entry in served.items():
        assert entry["stored"]["route"] == f"wagtail_serve[{entry['type']}]", url
    routes = {r["route"]: r["count"] for r in wagtail_server.store.routes() if r["method"] == "GET"}
    assert routes == {
        "wagtail_serve[HomePage]": 1, "wagtail_serve[BlogIndexPage]": 1,
        "wagtail_serve[BlogPage]": 12, "wagtail_serve[LocationIndexPage]": 1,
        "wagtail_serve[LocationPage]": 6,
    }  # fmt: skip
