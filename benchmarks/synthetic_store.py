"""A synthetic probe store of realistic shape, written through the probe's own writer side.

``dashboard_scale.py`` times the /perf/ pages on it. Traffic: ``requests`` over ``days``
ending at ``end``, with a daily rhythm, weekends quieter, and load-test bursts (the last one
still running at ``end``), each burst's requests carrying its run's X-Request-ID prefix and
registered as a run. About 30 routes of a Django + DRF + Wagtail site with Zipf-like
popularity (function views, DRF list/detail, Wagtail's catch-all split by page type), some
4xx/5xx; per-route log-normal times; 1-60 statements per request from a fixed set of
statement shapes, placed as the probe places them (app line, template line, serializer
field, fallback); N+1 loops and repeated statements; cache calls; template renders; about
1 % of requests profiled (one real pyinstrument session, reused).

Records are ``RequestRecord``s holding ``RawStatement``s, completed by ``SqlRecorder.complete``
(fingerprints, masked parameters, findings) and stored by ``StoreBatches.write``, as the
probe's writer thread does, so rows, rollups, statement texts and findings are what the
probe would store. Each hour's traffic is drawn from a generator seeded by the hour, so
``extend`` can add the hours since a cached store was built (``build_or_reuse``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perflab.probe.masking import MASK  # noqa: E402
from perflab.probe.records import (  # noqa: E402
    CacheEvent,
    RawStatement,
    RequestRecord,
    SpanEvent,
    TemplateEvent,
)

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
BATCH = 2000  # records per write: one transaction, as the writer's batches (larger, fewer)
WORKER_PIDS = (41021, 41022, 41023, 41024)
HOUR = 3600

# -- statement shapes ---------------------------------------------------------------------

_POST_COLS = (
    '"blog_post"."id", "blog_post"."title", "blog_post"."slug", "blog_post"."body", '
    '"blog_post"."author_id", "blog_post"."category_id", "blog_post"."published", '
    '"blog_post"."created", "blog_post"."updated"'
)
_USER_COLS = (
    '"auth_user"."id", "auth_user"."password", "auth_user"."last_login", '
    '"auth_user"."is_superuser", "auth_user"."username", "auth_user"."first_name", '
    '"auth_user"."last_name", "auth_user"."email", "auth_user"."is_staff", '
    '"auth_user"."is_active", "auth_user"."date_joined"'
)
_PAGE_COLS = (
    '"wagtailcore_page"."id", "wagtailcore_page"."path", "wagtailcore_page"."depth", '
    '"wagtailcore_page"."numchild", "wagtailcore_page"."title", "wagtailcore_page"."slug", '
    '"wagtailcore_page"."content_type_id", "wagtailcore_page"."live", '
    '"wagtailcore_page"."url_path", "wagtailcore_page"."locale_id"'
)
SQL = {
    "session": 'SELECT "django_session"."session_key", "django_session"."session_data", '
    '"django_session"."expire_date" FROM "django_session" WHERE ("django_session".'
    '"expire_date" > %s AND "django_session"."session_key" = %s) LIMIT 21',
    "user": f'SELECT {_USER_COLS} FROM "auth_user" WHERE "auth_user"."id" = %s LIMIT 21',
    "user_by_name": f'SELECT {_USER_COLS} FROM "auth_user" WHERE "auth_user"."username" = %s '
    "LIMIT 21",
    "post_count": 'SELECT COUNT(*) AS "__count" FROM "blog_post" WHERE "blog_post"."published"',
    "post_page": f'SELECT {_POST_COLS} FROM "blog_post" WHERE "blog_post"."published" '
    'ORDER BY "blog_post"."created" DESC LIMIT 20 OFFSET %s',
    "post": f'SELECT {_POST_COLS} FROM "blog_post" WHERE "blog_post"."id" = %s LIMIT 21',
    "post_by_slug": f'SELECT {_POST_COLS} FROM "blog_post" WHERE "blog_post"."slug" = %s LIMIT 21',
    "posts_of_month": f'SELECT {_POST_COLS} FROM "blog_post" WHERE ("blog_post"."published" AND '
    '"blog_post"."created" BETWEEN %s AND %s) ORDER BY "blog_post"."created" DESC',
    "posts_search": f'SELECT {_POST_COLS} FROM "blog_post" WHERE ("blog_post"."published" AND '
    '("blog_post"."title" LIKE %s ESCAPE \'\\\' OR "blog_post"."body" LIKE %s ESCAPE \'\\\')) '
    'ORDER BY "blog_post"."created" DESC LIMIT 50',
    "author": 'SELECT "blog_author"."id", "blog_author"."user_id", "blog_author"."bio", '
    '"blog_author"."avatar" FROM "blog_author" WHERE "blog_author"."id" = %s LIMIT 21',
    "authors": 'SELECT "blog_author"."id", "blog_author"."user_id", "blog_author"."bio", '
    '"blog_author"."avatar" FROM "blog_author" ORDER BY "blog_author"."id" ASC LIMIT 20',
    "author_count": 'SELECT COUNT(*) AS "__count" FROM "blog_author"',
    "author_posts": f'SELECT {_POST_COLS} FROM "blog_post" WHERE "blog_post"."author_id" = %s '
    'ORDER BY "blog_post"."created" DESC',
    "category": 'SELECT "blog_category"."id", "blog_category"."name", "blog_category"."slug" '
    'FROM "blog_category" WHERE "blog_category"."id" = %s LIMIT 21',
    "categories": 'SELECT "blog_category"."id", "blog_category"."name", "blog_category"."slug" '
    'FROM "blog_category" ORDER BY "blog_category"."name" ASC',
    "tags_of_posts": 'SELECT ("blog_post_tags"."post_id") AS "_prefetch_related_val_post_id", '
    '"blog_tag"."id", "blog_tag"."name" FROM "blog_tag" INNER JOIN "blog_post_tags" ON '
    '("blog_tag"."id" = "blog_post_tags"."tag_id") WHERE "blog_post_tags"."post_id" IN '
    "(" + ", ".join(["%s"] * 20) + ")",
    "tags_of_post": 'SELECT "blog_tag"."id", "blog_tag"."name" FROM "blog_tag" INNER JOIN '
    '"blog_post_tags" ON ("blog_tag"."id" = "blog_post_tags"."tag_id") WHERE '
    '"blog_post_tags"."post_id" = %s',
    "tags": 'SELECT "blog_tag"."id", "blog_tag"."name", COUNT("blog_post_tags"."post_id") AS '
    '"posts" FROM "blog_tag" LEFT OUTER JOIN "blog_post_tags" ON ("blog_tag"."id" = '
    '"blog_post_tags"."tag_id") GROUP BY "blog_tag"."id", "blog_tag"."name" ORDER BY '
    '"posts" DESC LIMIT 100',
    "comments": 'SELECT "blog_comment"."id", "blog_comment"."post_id", "blog_comment"."user_id", '
    '"blog_comment"."body", "blog_comment"."created" FROM "blog_comment" WHERE '
    '"blog_comment"."post_id" = %s ORDER BY "blog_comment"."created" ASC',
    "comment_count": 'SELECT COUNT(*) AS "__count" FROM "blog_comment" WHERE '
    '"blog_comment"."post_id" = %s',
    "insert_comment": 'INSERT INTO "blog_comment" ("post_id", "user_id", "body", "created") '
    'VALUES (%s, %s, %s, %s) RETURNING "blog_comment"."id"',
    "insert_post": 'INSERT INTO "blog_post" ("title", "slug", "body", "author_id", '
    '"category_id", "published", "created", "updated") VALUES (%s, %s, %s, %s, %s, %s, %s, %s) '
    'RETURNING "blog_post"."id"',
    "insert_tags": 'INSERT OR IGNORE INTO "blog_post_tags" ("post_id", "tag_id") VALUES (%s, %s)',
    "update_post": 'UPDATE "blog_post" SET "title" = %s, "slug" = %s, "body" = %s, '
    '"author_id" = %s, "category_id" = %s, "published" = %s, "updated" = %s WHERE '
    '"blog_post"."id" = %s',
    "delete_tags": 'DELETE FROM "blog_post_tags" WHERE "blog_post_tags"."post_id" IN (%s)',
    "delete_post": 'DELETE FROM "blog_post" WHERE "blog_post"."id" IN (%s)',
    "update_login": 'UPDATE "auth_user" SET "last_login" = %s WHERE "auth_user"."id" = %s',
    "stats": 'SELECT "blog_category"."name", COUNT("blog_post"."id") AS "posts", '
    'AVG(LENGTH("blog_post"."body")) AS "length" FROM "blog_post" INNER JOIN "blog_category" '
    'ON ("blog_post"."category_id" = "blog_category"."id") WHERE "blog_post"."created" >= %s '
    'GROUP BY "blog_category"."name" ORDER BY "posts" DESC',
    "export": f'SELECT {_POST_COLS} FROM "blog_post" ORDER BY "blog_post"."id" ASC',
    "site": 'SELECT "wagtailcore_site"."id", "wagtailcore_site"."hostname", '
    '"wagtailcore_site"."port", "wagtailcore_site"."site_name", '
    '"wagtailcore_site"."root_page_id", "wagtailcore_site"."is_default_site" FROM '
    '"wagtailcore_site" INNER JOIN "wagtailcore_page" ON ("wagtailcore_site"."root_page_id" = '
    '"wagtailcore_page"."id") ORDER BY "wagtailcore_site"."hostname" ASC',
    "page_by_path": f'SELECT {_PAGE_COLS} FROM "wagtailcore_page" WHERE '
    '("wagtailcore_page"."live" AND "wagtailcore_page"."url_path" = %s) LIMIT 21',
    "page_children": f'SELECT {_PAGE_COLS} FROM "wagtailcore_page" WHERE '
    '("wagtailcore_page"."depth" = %s AND "wagtailcore_page"."live" AND '
    '"wagtailcore_page"."path"::text LIKE %s) ORDER BY "wagtailcore_page"."path" ASC',
    "menu": f'SELECT {_PAGE_COLS} FROM "wagtailcore_page" WHERE ("wagtailcore_page"."depth" = %s '
    'AND "wagtailcore_page"."live" AND "wagtailcore_page"."show_in_menus") ORDER BY '
    '"wagtailcore_page"."path" ASC',
    "blogpage": 'SELECT "wagtailcore_page"."id", "wagtailcore_page"."title", '
    '"blog_blogpage"."page_ptr_id", "blog_blogpage"."date", "blog_blogpage"."intro", '
    '"blog_blogpage"."body", "blog_blogpage"."feed_image_id" FROM "blog_blogpage" INNER JOIN '
    '"wagtailcore_page" ON ("blog_blogpage"."page_ptr_id" = "wagtailcore_page"."id") WHERE '
    '"blog_blogpage"."page_ptr_id" = %s LIMIT 21',
    "eventpage": 'SELECT "wagtailcore_page"."id", "wagtailcore_page"."title", '
    '"events_eventpage"."page_ptr_id", "events_eventpage"."starts", '
    '"events_eventpage"."venue", "events_eventpage"."feed_image_id" FROM "events_eventpage" '
    'INNER JOIN "wagtailcore_page" ON ("events_eventpage"."page_ptr_id" = '
    '"wagtailcore_page"."id") WHERE "events_eventpage"."page_ptr_id" = %s LIMIT 21',
    "image": 'SELECT "wagtailimages_image"."id", "wagtailimages_image"."title", '
    '"wagtailimages_image"."file", "wagtailimages_image"."width", '
    '"wagtailimages_image"."height", "wagtailimages_image"."focal_point_x", '
    '"wagtailimages_image"."focal_point_y" FROM "wagtailimages_image" WHERE '
    '"wagtailimages_image"."id" = %s LIMIT 21',
    "rendition": 'SELECT "wagtailimages_rendition"."id", "wagtailimages_rendition"."file", '
    '"wagtailimages_rendition"."width", "wagtailimages_rendition"."height", '
    '"wagtailimages_rendition"."filter_spec", "wagtailimages_rendition"."image_id" FROM '
    '"wagtailimages_rendition" WHERE ("wagtailimages_rendition"."filter_spec" = %s AND '
    '"wagtailimages_rendition"."image_id" = %s) LIMIT 21',
    "tags_of_page": 'SELECT "taggit_tag"."id", "taggit_tag"."name", "taggit_tag"."slug" FROM '
    '"taggit_tag" INNER JOIN "blog_blogpagetag" ON ("taggit_tag"."id" = '
    '"blog_blogpagetag"."tag_id") WHERE "blog_blogpagetag"."content_object_id" = %s',
    "insert_submission": 'INSERT INTO "wagtailforms_formsubmission" ("form_data", "page_id", '
    '"submit_time") VALUES (%s, %s, %s) RETURNING "wagtailforms_formsubmission"."id"',
    "sitemap_pages": f'SELECT {_PAGE_COLS} FROM "wagtailcore_page" WHERE ("wagtailcore_page".'
    '"live" AND "wagtailcore_page"."path"::text LIKE %s) ORDER BY "wagtailcore_page"."path" ASC',
}

# -- where statements run, as ``CallsiteFinder.find`` reports it --------------------------


def _app(line: str) -> str:
    """Only an app frame: the finder's plain str."""
    return line


def _template(template: str, app: str | None = None) -> tuple:
    location = f"{template} ← {app}" if app else template
    return (app, template, None, location)


def _serializer(field_line: str) -> tuple:
    return (None, None, field_line, field_line)


def _fallback(frame: str) -> tuple:
    """No app frame: the innermost frame outside the ORM (``complete`` adds the view)."""
    return (None, None, frame, None)


SESSION_MW = _fallback("django/contrib/sessions/backends/db.py:48:_get_session_from_db")
AUTH_MW = _fallback("django/contrib/auth/backends.py:173:get_user")


@dataclass(frozen=True)
class Step:
    """Statements a request runs from one place: ``times`` of them (inclusive range), each
    with its own parameters (``same``: one value for all of them, the repeated statement),
    none kept for a write; ``chance`` that the request runs the step at all."""

    sql: str
    where: str | tuple
    times: tuple[int, int] = (1, 1)
    ms: float = 0.35  # median time of one statement
    params: str = "id"  # id, same, write
    chance: float = 1.0


@dataclass(frozen=True)
class RouteShape:
    method: str
    route: str
    view: str
    path: str  # "{n}" is a random number, "{slug}" a page slug
    median_ms: float  # the request's own time besides its statements
    steps: tuple[Step, ...]
    sigma: float = 0.5
    status: int = 200
    errors: tuple[tuple[int, float], ...] = ()  # (status, share of requests)
    cache: tuple[int, float] = (0, 0.0)  # cache gets per request, hit rate
    templates: tuple[str, ...] = ()
    staff: float = 0.0  # share of requests by a logged-in user
    json: bool = True
    query: str = ""

    @property
    def line(self) -> str:
        """The view's line, as a call site: where its cache calls and renders are made."""
        module, _, name = self.view.rpartition(".")
        return f"{module.replace('.', '/')}.py:{20 + len(self.view) % 60}:{name}"


_DRF_LIST = "rest_framework/mixins.py:42:list"
_DRF_RETRIEVE = "rest_framework/mixins.py:53:retrieve"

# Most popular first: popularity falls as 1 / rank ** ZIPF_S.
ROUTES: tuple[RouteShape, ...] = (
    RouteShape("GET", "api/posts/", "blog.api.PostViewSet", "/api/posts/", 9.0, (
        Step(SQL["post_count"], _fallback("rest_framework/pagination.py:211:paginate_queryset"),
             ms=1.2),
        Step(SQL["post_page"], _fallback(_DRF_LIST), ms=0.9),
        Step(SQL["author"], _serializer("blog/serializers.py:31:PostSerializer.author"),
             times=(20, 20), chance=0.3),
        Step(SQL["tags_of_posts"], _fallback(_DRF_LIST), ms=0.6),
    ), query="page={n}"),
    RouteShape("GET", "api/posts/<pk>/", "blog.api.PostViewSet", "/api/posts/{n}/", 3.0, (
        Step(SQL["post"], _fallback(_DRF_RETRIEVE)),
        Step(SQL["author"], _serializer("blog/serializers.py:31:PostSerializer.author")),
        Step(SQL["tags_of_post"], _serializer("blog/serializers.py:33:PostSerializer.tags")),
        Step(SQL["category"], _serializer("blog/serializers.py:32:PostSerializer.category")),
    ), errors=((404, 0.03),), cache=(1, 0.8)),
    RouteShape("GET", "wagtail_serve[BlogPage]", "wagtail.views.serve", "/blog/{slug}/", 14.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request"), ms=0.3),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route"), ms=0.5),
        Step(SQL["blogpage"], _fallback("wagtail/models/pages.py:389:specific")),
        Step(SQL["menu"], _template("base.html:22", "home/templatetags/nav.py:14:main_menu")),
        Step(SQL["image"], _template("blog/blog_page.html:9")),
        Step(SQL["rendition"], _template("blog/blog_page.html:9"), times=(1, 3)),
        Step(SQL["tags_of_page"], _template("blog/blog_page.html:31")),
    ), sigma=0.45, cache=(2, 0.9), json=False,
        templates=("blog/blog_page.html", "base.html")),
    RouteShape("GET", "wagtail_serve[HomePage]", "wagtail.views.serve", "/", 11.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["menu"], _template("base.html:22", "home/templatetags/nav.py:14:main_menu")),
        Step(SQL["page_children"], _template("home/home_page.html:12")),
        Step(SQL["blogpage"], _template("home/home_page.html:15"), times=(6, 6)),
        Step(SQL["eventpage"], _template("home/home_page.html:15"), times=(0, 3)),
    ), cache=(3, 0.95), json=False, templates=("home/home_page.html", "base.html")),
    RouteShape("GET", "api/authors/naive/", "blog.views.authors_naive", "/api/authors/naive/",
               6.0, (
        Step(SQL["authors"], _app("blog/views.py:88:authors_naive")),
        Step(SQL["user"], _app("blog/views.py:92:authors_naive"), times=(20, 20), params="id"),
        Step(SQL["author_posts"], _app("blog/views.py:93:authors_naive"), times=(20, 20)),
    ), sigma=0.35),
    RouteShape("GET", "wagtail_serve[BlogIndexPage]", "wagtail.views.serve", "/blog/", 18.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["menu"], _template("base.html:22", "home/templatetags/nav.py:14:main_menu")),
        Step(SQL["page_children"], _fallback("blog/models.py:54:get_context")),
        Step(SQL["blogpage"], _template("blog/blog_index_page.html:11"), times=(8, 12)),
        Step(SQL["image"], _template("blog/blog_index_page.html:14"), times=(8, 12)),
        Step(SQL["category"], _template("blog/blog_index_page.html:17"), times=(3, 3),
             params="same"),
    ), cache=(1, 0.7), json=False, templates=("blog/blog_index_page.html", "base.html")),
    RouteShape("GET", "api/tags/", "blog.api.TagViewSet", "/api/tags/", 2.5, (
        Step(SQL["tags"], _fallback(_DRF_LIST), ms=2.5),
    ), cache=(1, 0.6)),
    RouteShape("GET", "api/authors/", "blog.api.AuthorViewSet", "/api/authors/", 4.0, (
        Step(SQL["author_count"], _fallback("rest_framework/pagination.py:211:paginate_queryset")),
        Step(SQL["authors"], _fallback(_DRF_LIST)),
        Step(SQL["user"], _serializer("blog/serializers.py:12:AuthorSerializer.user"),
             times=(4, 20), chance=0.5),
    )),
    RouteShape("GET", "api/authors/<pk>/", "blog.api.AuthorViewSet", "/api/authors/{n}/", 2.5, (
        Step(SQL["author"], _fallback(_DRF_RETRIEVE)),
        Step(SQL["user"], _serializer("blog/serializers.py:12:AuthorSerializer.user")),
    ), errors=((404, 0.05),)),
    RouteShape("POST", "api/posts/", "blog.api.PostViewSet", "/api/posts/", 6.0, (
        Step(SQL["user"], AUTH_MW, params="id"),
        Step(SQL["category"], _app("blog/serializers.py:58:validate_category")),
        Step(SQL["post_by_slug"], _app("blog/serializers.py:63:validate_slug")),
        Step(SQL["insert_post"], _fallback("rest_framework/serializers.py:212:save"), ms=1.5,
             params="write"),
        Step(SQL["insert_tags"], _app("blog/serializers.py:71:create"), times=(1, 5),
             params="write", ms=0.5),
    ), status=201, errors=((400, 0.08), (401, 0.02)), staff=1.0),
    RouteShape("GET", "api/posts/<pk>/comments/", "blog.api.CommentViewSet",
               "/api/posts/{n}/comments/", 4.0, (
        Step(SQL["post"], _app("blog/api.py:120:get_queryset")),
        Step(SQL["comments"], _fallback(_DRF_LIST)),
        Step(SQL["user"], _serializer("blog/serializers.py:44:CommentSerializer.user"),
             times=(0, 15)),
    ), errors=((404, 0.02),)),
    RouteShape("GET", "search/", "blog.views.search", "/search/", 9.0, (
        Step(SQL["posts_search"], _app("blog/views.py:141:search"), ms=6.0),
        Step(SQL["author"], _template("blog/search.html:19"), times=(0, 25)),
    ), sigma=0.8, json=False, templates=("blog/search.html", "base.html"), query="q=django"),
    RouteShape("POST", "api/posts/<pk>/comments/", "blog.api.CommentViewSet",
               "/api/posts/{n}/comments/", 5.0, (
        Step(SQL["user"], AUTH_MW),
        Step(SQL["post"], _app("blog/api.py:120:get_queryset")),
        Step(SQL["insert_comment"], _fallback("rest_framework/serializers.py:212:save"),
             params="write", ms=1.0),
    ), status=201, errors=((400, 0.05), (403, 0.02)), staff=1.0),
    RouteShape("GET", "api/categories/", "blog.api.CategoryViewSet", "/api/categories/", 2.0, (
        Step(SQL["categories"], _fallback(_DRF_LIST)),
    ), cache=(1, 0.97)),
    RouteShape("POST", "api/token/", "rest_framework_simplejwt.views.TokenObtainPairView",
               "/api/token/", 28.0, (
        Step(SQL["user_by_name"], _fallback("django/contrib/auth/backends.py:42:authenticate")),
        Step(SQL["update_login"], _fallback("django/contrib/auth/models.py:21:update_last_login"),
             params="write"),
    ), sigma=0.2, errors=((401, 0.06),)),
    RouteShape("GET", "wagtail_serve[ContactPage]", "wagtail.views.serve", "/contact/", 8.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["menu"], _template("base.html:22", "home/templatetags/nav.py:14:main_menu")),
    ), json=False, templates=("contact/contact_page.html", "base.html")),
    RouteShape("GET", "feeds/latest/", "blog.feeds.LatestPostsFeed", "/feeds/latest/", 7.0, (
        Step(SQL["post_page"], _app("blog/feeds.py:18:items")),
        Step(SQL["author"], _app("blog/feeds.py:27:item_author_name"), times=(20, 20)),
        Step(SQL["category"], _app("blog/feeds.py:31:item_categories"), times=(2, 4),
             params="same"),
    ), json=False, cache=(1, 0.5)),
    RouteShape("GET", "wagtail_serve[EventPage]", "wagtail.views.serve", "/events/{slug}/",
               12.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["eventpage"], _fallback("wagtail/models/pages.py:389:specific")),
        Step(SQL["menu"], _template("base.html:22", "home/templatetags/nav.py:14:main_menu")),
        Step(SQL["image"], _template("events/event_page.html:7")),
        Step(SQL["rendition"], _template("events/event_page.html:7")),
    ), json=False, templates=("events/event_page.html", "base.html"), cache=(2, 0.85)),
    RouteShape("GET", "api/stats/", "blog.views.stats", "/api/stats/", 6.0, (
        Step(SQL["stats"], _app("blog/views.py:170:stats"), ms=45.0),
    ), sigma=0.7, cache=(1, 0.75)),
    RouteShape("GET", "archive/<int:year>/<int:month>/", "blog.views.archive",
               "/archive/2026/{month}/", 8.0, (
        Step(SQL["posts_of_month"], _app("blog/views.py:121:archive"), ms=3.0),
        Step(SQL["category"], _template("blog/archive.html:12"), times=(5, 30)),
    ), json=False, templates=("blog/archive.html", "base.html"), errors=((404, 0.04),)),
    RouteShape("PUT", "api/posts/<pk>/", "blog.api.PostViewSet", "/api/posts/{n}/", 6.0, (
        Step(SQL["user"], AUTH_MW),
        Step(SQL["post"], _fallback("rest_framework/generics.py:97:get_object")),
        Step(SQL["update_post"], _fallback("rest_framework/serializers.py:207:save"),
             params="write", ms=1.2),
        Step(SQL["delete_tags"], _app("blog/serializers.py:80:update"), params="write"),
        Step(SQL["insert_tags"], _app("blog/serializers.py:81:update"), times=(1, 5),
             params="write"),
    ), errors=((400, 0.05), (403, 0.03), (404, 0.02)), staff=1.0),
    RouteShape("GET", "sitemap.xml", "wagtail.contrib.sitemaps.views.sitemap", "/sitemap.xml",
               20.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["sitemap_pages"], _fallback("wagtail/contrib/sitemaps/sitemap_generator.py:25:"
                                             "items"), ms=8.0),
        Step(SQL["blogpage"], _fallback("wagtail/contrib/sitemaps/sitemap_generator.py:40:"
                                        "location"), times=(30, 40)),
    ), json=False, templates=("wagtailsitemaps/sitemap.xml",)),
    RouteShape("GET", "wagtail_serve", "wagtail.views.serve", "/blog/{slug}-old/", 4.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
    ), status=404, json=False, templates=("404.html",)),
    RouteShape("PATCH", "api/posts/<pk>/", "blog.api.PostViewSet", "/api/posts/{n}/", 5.0, (
        Step(SQL["user"], AUTH_MW),
        Step(SQL["post"], _fallback("rest_framework/generics.py:97:get_object")),
        Step(SQL["update_post"], _fallback("rest_framework/serializers.py:207:save"),
             params="write"),
    ), errors=((400, 0.04),), staff=1.0),
    RouteShape("GET", "api/users/me/", "accounts.api.me", "/api/users/me/", 2.0, (
        Step(SQL["user"], AUTH_MW),
        Step(SQL["user"], _app("accounts/api.py:22:me"), params="same"),
    ), errors=((401, 0.1),), staff=1.0),
    RouteShape("DELETE", "api/posts/<pk>/", "blog.api.PostViewSet", "/api/posts/{n}/", 4.0, (
        Step(SQL["user"], AUTH_MW),
        Step(SQL["post"], _fallback("rest_framework/generics.py:97:get_object")),
        Step(SQL["delete_tags"], _fallback("django/db/models/deletion.py:444:delete"),
             params="write"),
        Step(SQL["delete_post"], _fallback("django/db/models/deletion.py:459:delete"),
             params="write"),
    ), status=204, errors=((404, 0.1), (403, 0.05)), staff=1.0),
    RouteShape("POST", "wagtail_serve[ContactPage]", "wagtail.views.serve", "/contact/", 10.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["insert_submission"], _fallback("wagtail/contrib/forms/models.py:223:"
                                                 "process_form_submission"), params="write"),
    ), json=False, templates=("contact/contact_page_landing.html", "base.html"),
        errors=((400, 0.1),)),
    RouteShape("GET", "robots.txt", "home.views.robots", "/robots.txt", 0.6, (), sigma=0.3,
               json=False),
    RouteShape("GET", "api/export/", "blog.views.export", "/api/export/", 180.0, (
        Step(SQL["export"], _app("blog/views.py:201:export"), ms=120.0),
        Step(SQL["author"], _app("blog/views.py:207:export"), times=(30, 45)),
    ), sigma=0.6, errors=((500, 0.05),), staff=1.0),
    RouteShape("GET", "wagtail_serve[TagIndexPage]", "wagtail.views.serve", "/tags/", 9.0, (
        Step(SQL["site"], _fallback("wagtail/models/sites.py:204:find_for_request")),
        Step(SQL["page_by_path"], _fallback("wagtail/models/pages.py:645:route")),
        Step(SQL["tags"], _app("blog/models.py:140:get_context"), ms=2.5),
    ), json=False, templates=("blog/tag_index_page.html", "base.html"), errors=((500, 0.01),)),
)  # fmt: skip
ZIPF_S = 1.0
SLUGS = tuple(f"{word}-{n}" for n in range(60) for word in ("django", "wagtail", "orm", "perf"))

# -- traffic over time ----------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """A load test: extra requests at a steady rate, slower responses, a run of its own."""

    start: float  # unix time
    seconds: float
    share: float  # of all requests in the store
    slowdown: float
    run_id: str
    prefix: str  # its requests' X-Request-ID prefix


def _diurnal(t: float) -> float:
    """Relative request rate at unix time ``t`` (UTC): quiet nights, busy afternoons,
    quieter weekends."""
    hours = (t % 86400) / 3600
    day = math.floor(t / 86400 + 4) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    rate = 0.25 + math.exp(-(((hours - 14.5) / 4.5) ** 2))
    return rate * (0.55 if day >= 5 else 1.0)


@dataclass(frozen=True)
class Plan:
    """How many requests each hour holds, and the bursts: a function of the parameters."""

    requests: int
    days: float
    end: float
    seed: int
    bursts: tuple[Burst, ...] = field(init=False)
    per_hour_rate: float = field(init=False)  # requests per unit of ``_diurnal`` and hour

    def __post_init__(self) -> None:
        start = self.end - self.days * 86400
        span = self.end - start
        # Four load tests: three in the past (about days 2, 4 and 6), one running at ``end``.
        raw = [(start + span * f, 1800.0, 0.06) for f in (0.21, 0.49, 0.78)]
        raw.append((self.end - 900.0, 900.0, 0.04))
        bursts = []
        for n, (at, seconds, share) in enumerate(raw):
            tag = hashlib.sha1(f"{self.seed}-{n}".encode()).hexdigest()[:8]
            bursts.append(Burst(at, seconds, share, 1.6 + 0.3 * n, f"run-{n + 1}-{tag}",
                                f"pl-{tag}-"))  # fmt: skip
        object.__setattr__(self, "bursts", tuple(bursts))
        base = self.requests * (1 - sum(b.share for b in bursts))
        hours = range(int(start // HOUR), math.ceil(self.end / HOUR))
        weight = sum(_diurnal(h * HOUR + 1800) * _overlap(h, start, self.end) for h in hours)
        object.__setattr__(self, "per_hour_rate", base / weight)

    @property
    def start(self) -> float:
        return self.end - self.days * 86400

    def hours(self, since: float, until: float):
        """(hour index, from, to) covering ``since``..``until``."""
        for h in range(int(since // HOUR), math.ceil(until / HOUR)):
            lo, hi = max(since, h * HOUR), min(until, (h + 1) * HOUR)
            if hi > lo:
                yield h, lo, hi


def _overlap(hour: int, since: float, until: float) -> float:
    lo, hi = max(since, hour * HOUR), min(until, (hour + 1) * HOUR)
    return max(hi - lo, 0.0) / HOUR


# -- one request ------------------------------------------------------------------------------


class RequestMaker:
    """Makes ``RequestRecord``s as the probe's middleware leaves them (raw statements)."""

    def __init__(self, profile: str) -> None:
        weights = [1 / (rank + 1) ** ZIPF_S for rank in range(len(ROUTES))]
        total = sum(weights)
        self.cumulative = list(_accumulate([w / total for w in weights]))
        self.profile = profile
        self.counters = {pid: 0 for pid in WORKER_PIDS}
        self.prefixes = {pid: f"{pid:08x}{pid * 7919:012x}"[-20:] for pid in WORKER_PIDS}

    def make(self, rng: random.Random, started: float, burst: Burst | None, n: int,
             profile_percent: float) -> RequestRecord:  # fmt: skip
        shape = ROUTES[_pick(self.cumulative, rng.random())]
        pid = WORKER_PIDS[n % len(WORKER_PIDS)]
        if burst is None:
            self.counters[pid] += 1
            request_id = f"{self.prefixes[pid]}{self.counters[pid]:012x}"
        else:
            request_id = f"{burst.prefix}{n:x}"
        status = shape.status
        roll = rng.random()
        for code, share in shape.errors:
            if roll < share:
                status = code
                break
            roll -= share
        slow = burst.slowdown if burst else 1.0
        failed = status >= 400 and status != shape.status
        steps = shape.steps[:2] if failed else shape.steps
        t = 0.4 + rng.random() * 0.8  # middleware before the first statement
        raw: list[RawStatement] = []
        for step in steps:
            if step.chance < 1.0 and rng.random() >= step.chance:
                continue
            repeats = rng.randint(*step.times)
            shared = (rng.randint(1, 5000),)
            for _ in range(repeats):
                if len(raw) >= 60:
                    break
                ms = step.ms * rng.lognormvariate(0, 0.45) * slow
                if step.params == "write":
                    params = None
                elif step.params == "same":
                    params = shared
                else:
                    params = _params(step.sql, rng)
                raw.append(RawStatement(step.sql, params, False, "default", t, ms, step.where,
                                        None))  # fmt: skip
                t += ms + 0.05 + rng.random() * 0.15
        cache = []
        gets, hit_rate = shape.cache
        for _ in range(gets):
            hit = rng.random() < hit_rate
            ms = 0.08 * rng.lognormvariate(0, 0.4)
            cache.append(CacheEvent("get", "default", ms, hits=int(hit), misses=int(not hit),
                                    keys=1, start_ms=t, location=shape.line))  # fmt: skip
            t += ms
            if not hit:
                cache.append(CacheEvent("set", "default", ms * 1.5, keys=1, start_ms=t,
                                        location=shape.line))  # fmt: skip
                t += ms * 1.5
        own = shape.median_ms * rng.lognormvariate(0, shape.sigma) * slow
        if failed:
            own *= 0.4
        templates = []
        if shape.templates and not failed:
            render_ms = own * 0.45
            inner = len(shape.templates)
            for depth, name in enumerate(shape.templates):
                templates.append(TemplateEvent(name, render_ms * (inner - depth) / inner,
                                               start_ms=t, location=shape.line))  # fmt: skip
        spans = []
        if shape.json and not failed and raw:
            spans.append(SpanEvent("serialize", t, own * 0.3))
        duration = t + own
        return RequestRecord(
            request_id=request_id,
            method=shape.method,
            path=shape.path.format(n=rng.randint(1, 9999), slug=rng.choice(SLUGS),
                                   month=rng.randint(1, 12)),
            started=started,
            pid=pid,
            route=shape.route,
            view=shape.view,
            status=status,
            duration_ms=duration,
            cpu_ms=own * 0.85 + len(raw) * 0.04,
            response_bytes=int((2500 if shape.json else 14000) * rng.lognormvariate(0, 0.5))
            if not failed else 180,
            user_id=str(rng.randint(1, 50)) if rng.random() < shape.staff else None,
            query_string=shape.query.format(n=rng.randint(1, 40)),
            headers=_headers(shape, burst, request_id, rng),
            raw_queries=raw,
            cache=cache,
            templates=templates,
            spans=spans,
            profile=self.profile if rng.random() * 100 < profile_percent else None,
        )  # fmt: skip


def _params(sql: str, rng: random.Random) -> tuple:
    count = sql.count("%s")
    return tuple(rng.randint(1, 10_000) for _ in range(count))


def _headers(shape: RouteShape, burst: Burst | None, request_id: str, rng) -> dict[str, str]:
    headers = {
        "host": "127.0.0.1:8000",
        "user-agent": "python-requests/2.32.3" if burst else rng.choice(
            ("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
             "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15", "curl/8.5.0")),
        "accept": "application/json" if shape.json else "text/html,application/xhtml+xml",
        "x-request-id": request_id,
    }  # fmt: skip
    if shape.staff:
        headers["cookie" if not shape.json else "authorization"] = (
            MASK if not shape.json else f"Bearer {MASK}"
        )
    return headers


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def _pick(cumulative: list[float], x: float) -> int:
    for i, c in enumerate(cumulative):
        if x < c:
            return i
    return len(cumulative) - 1


def real_profile() -> str:
    """A real pyinstrument session of a few milliseconds of work, as the probe stores it."""
    from pyinstrument import Profiler

    from perflab.probe.jsonbytes import to_json_bytes

    def render_page(n: int) -> str:
        rows = [{"id": i, "title": f"post {i}", "tags": [str(j) for j in range(i % 7)]}
                for i in range(n)]  # fmt: skip
        return json.dumps(rows) + "".join(sorted(str(r) for r in rows))

    profiler = Profiler(interval=0.0005)
    profiler.start()
    deadline = time.perf_counter() + 0.03
    while time.perf_counter() < deadline:
        render_page(300)
    session = profiler.stop()
    return to_json_bytes(session.to_json()).decode()


# -- the store --------------------------------------------------------------------------------


@dataclass
class BuildReport:
    path: Path
    requests: int = 0
    statements: int = 0
    findings: int = 0
    profiled: int = 0
    runs: int = 0
    seconds: float = 0.0
    reused: bool = False
    extended: int = 0  # requests added to a reused store (the hours since it was built)
    extend_seconds: float = 0.0
    end: float = 0.0
    run_figures: dict[str, list] = field(default_factory=dict)  # run id -> requests, failures, p95


class StoreWriter:
    """Writes a plan's hours into a store, completing each record as the probe's writer does."""

    def __init__(self, path: Path, plan: Plan, profile_percent: float) -> None:
        from perflab.probe.recorders.sql import SqlRecorder
        from perflab.probe.settings import parse_settings
        from perflab.probe.store import RecordingStore

        self.plan = plan
        self.store = RecordingStore.at_path(path)
        self.settings = parse_settings({}, path)
        self.recorder = SqlRecorder()
        self.maker = RequestMaker(real_profile())
        self.profile_percent = profile_percent

    def write(self, since: float, until: float, report: BuildReport, progress=None) -> None:
        """Every request of ``since``..``until``, hour by hour, in order of time."""
        batch: list[RequestRecord] = []
        durations: dict[str, list[float]] = {}
        for hour, lo, hi in self.plan.hours(since, until):
            for record, burst in self._hour(hour, lo, hi):
                self.recorder.complete(record, self.settings)
                if burst is not None:
                    durations.setdefault(burst.run_id, []).append(record.duration_ms)
                    figures = report.run_figures.setdefault(burst.run_id, [0, 0, None])
                    figures[0] += 1
                    figures[1] += record.status >= 400
                report.requests += 1
                report.statements += len(record.queries)
                report.findings += len(record.findings)
                report.profiled += record.profile is not None
                batch.append(record)
                if len(batch) >= BATCH:
                    self.store.write(batch)
                    batch = []
            if progress:
                progress(report, hi)
        if batch:
            self.store.write(batch)
        for run_id, values in durations.items():
            values.sort()
            report.run_figures[run_id][2] = round(values[int(len(values) * 0.95)], 1)

    def _hour(self, hour: int, lo: float, hi: float) -> list[tuple[RequestRecord, Burst | None]]:
        """The hour's requests that fall in ``lo``..``hi``, sorted by start. The hour's draws
        come from a generator seeded by the hour: the same requests whatever the call."""
        plan = self.plan
        rng = random.Random(f"{plan.seed}:{hour}")
        h0 = hour * HOUR
        normal = plan.per_hour_rate * _diurnal(h0 + 1800)
        starts: list[tuple[float, Burst | None]] = [
            (h0 + rng.random() * HOUR, None) for _ in range(_rounded(normal, rng))
        ]
        for burst in plan.bursts:
            b_lo, b_hi = max(burst.start, h0), min(burst.start + burst.seconds, h0 + HOUR)
            if b_hi <= b_lo:
                continue
            share = (b_hi - b_lo) / burst.seconds * burst.share * plan.requests
            starts += [(b_lo + rng.random() * (b_hi - b_lo), burst)
                       for _ in range(_rounded(share, rng))]  # fmt: skip
        starts.sort(key=lambda s: s[0])
        records = []
        for n, (started, burst) in enumerate(starts):
            record = self.maker.make(rng, started, burst, hour * 1_000_000 + n,
                                     self.profile_percent)  # fmt: skip
            if lo <= started < hi:
                records.append((record, burst))
        return records

    def register_runs(self, now: float, figures: dict[str, list]) -> int:
        """The bursts as load-test runs (``save_run``), one still running at ``now`` if its
        burst is; ``figures``: run id -> [requests, failures, durations' p95] as written."""
        from perflab.probe.store.schema import RunRow

        for burst in self.plan.bursts:
            ended = burst.start + burst.seconds
            running = ended >= now - 1
            requests, failures, p95 = figures.get(burst.run_id, (0, 0, None))
            self.store.save_run(RunRow(
                run_id=burst.run_id, started=burst.start, ended=None if running else ended,
                host="bench-host", status="running" if running else "completed",
                verdict=None if running else ("pass" if (p95 or 0) < 200 else "fail"),
                requests=requests, failures=failures, p95_ms=p95, out_dir=None, report=None,
                request_id_prefix=burst.prefix,
                command=f"perflab run --headless -f locustfile.py -u 200 -t "
                        f"{int(burst.seconds // 60)}m -H http://127.0.0.1:8000",
            ))  # fmt: skip
        return len(self.plan.bursts)


def _rounded(expected: float, rng: random.Random) -> int:
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


# -- building once, reusing after ------------------------------------------------------------

# Where the writer side starts: what ``StoreWriter`` calls to complete and store a record.
WRITER_MODULES = ("perflab.probe.store.batches", "perflab.probe.recorders.sql")


def writer_sources() -> list[Path]:
    """The source files of the store's writer side: ``WRITER_MODULES`` and every perflab module
    they import, followed import by import (the readers' modules change no stored byte)."""
    src = ROOT / "src"
    todo, found = list(WRITER_MODULES), {}
    while todo:
        name = todo.pop()
        base = src / name.replace(".", "/")
        path = next(
            (p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None
        )
        if name in found or path is None:  # seen, or a name imported from a module
            continue
        found[name] = path
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.startswith("perflab"):
                    todo += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("perflab")]
    return sorted(found.values())


def store_key(requests: int, days: float, seed: int, profile_percent: float) -> str:
    """The cache key: the builder's parameters, its code and the store's writer side (the
    schema, the batches, the histogram encoding, the SQL recorder's complete step)."""
    digest = hashlib.sha256(f"{requests}:{days}:{seed}:{profile_percent}".encode())
    for path in (Path(__file__), *writer_sources()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_or_reuse(
    requests: int = 1_000_000,
    days: float = 7.0,
    seed: int = 19,
    profile_percent: float = 1.0,
    cache_dir: Path = CACHE_DIR,
    max_gap_s: float = 6 * HOUR,
    progress=None,
) -> BuildReport:
    """The cached store for these parameters, brought up to now (the hours since it was built
    are added, as the same plan draws them); built afresh when there is none, or when it
    ended more than ``max_gap_s`` ago."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = store_key(requests, days, seed, profile_percent)
    path = cache_dir / f"dashboard-{requests}-{key}.sqlite3"
    meta_path = path.with_suffix(".json")
    now = time.time()
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if now - meta["end"] <= max_gap_s:
            report = BuildReport(path, **{k: meta[k] for k in (
                "requests", "statements", "findings", "profiled", "runs", "seconds")},
                reused=True)  # fmt: skip
            plan = Plan(requests, days, meta["plan_end"], seed)
            before = report.requests
            t0 = time.perf_counter()
            writer = StoreWriter(path, plan, profile_percent)
            report.run_figures = meta["run_figures"]
            writer.write(meta["end"], now, report)
            writer.register_runs(now, report.run_figures)
            report.extended = report.requests - before
            report.extend_seconds = time.perf_counter() - t0
            report.end = now
            _save_meta(meta_path, report, meta["plan_end"])
            return report
    for stale in cache_dir.glob(f"dashboard-{requests}-*"):
        stale.unlink()
    report = build(path.with_suffix(".partial"), requests, days, now, seed, profile_percent,
                   progress)  # fmt: skip
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = Path(str(report.path) + suffix)
        if part.exists():
            part.rename(str(path) + suffix)
    report.path = path
    _save_meta(meta_path, report, now)
    return report


def build(path: Path, requests: int, days: float, end: float, seed: int,
          profile_percent: float, progress=None) -> BuildReport:  # fmt: skip
    """A new store at ``path`` (replaced if there): the plan's requests up to ``end``."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    plan = Plan(requests, days, end, seed)
    report = BuildReport(path, end=end)
    t0 = time.perf_counter()
    writer = StoreWriter(path, plan, profile_percent)
    writer.write(plan.start, end, report, progress)
    report.runs = writer.register_runs(end, report.run_figures)
    report.seconds = time.perf_counter() - t0
    writer.store.database.close()
    return report


def _save_meta(meta_path: Path, report: BuildReport, plan_end: float) -> None:
    meta = {k: getattr(report, k) for k in (
        "requests", "statements", "findings", "profiled", "runs", "seconds", "end",
        "run_figures")}  # fmt: skip
    meta["plan_end"] = plan_end
    meta_path.write_text(json.dumps(meta, indent=1))


def tiny_store(directory: Path | None = None, requests: int = 2000) -> BuildReport:
    """A small store of the same shape, for tests."""
    directory = directory or Path(tempfile.mkdtemp(prefix="perflab-dashboard-"))
    return build(directory / "probe.sqlite3", requests, 1.0, time.time(), 19, 5.0)
