"""Route names: the one name a route has in the probe's store (``route``), in
/perf/api/urlpatterns/, in the runner's statistics, the report, compare and inspect.

- A path()-style route is named by its readable pattern, ``api/posts/<pk>/``; a DRF
  router's regex reads the same way (``^posts/(?P<pk>[^/.]+)/$``).
- A regex that does not read as a path (``^((?:[\\w\\-]+/)*)$``) or a catch-all (a pattern
  matching any path: ``<path:rest>``, ``.*``) is named by its URL name (``wagtail_serve``):
  as a pattern it would be an unreadable name for every page the app has.
- A route whose name is decided per response is split by what it served: Wagtail's page
  type, built in (``wagtail_serve[BlogPage]``), or ``PERFLAB["ROUTE_NAME"]`` for any app.

A request pays one dict lookup (keyed by the resolver's route string) to know its route's
name and kind; the kind is worked out the first time a pattern serves a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

ROUTE_HEADER = "X-Perflab-Route"  # the served name, when it differs from the published one
PAGE_TYPE_ATTR = "perflab_page_type"  # set on the request by perflab.wagtail_hooks
PAGE_VIEWS = frozenset({"wagtail.views.serve"})  # views whose route is split by page type

_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_ANCHOR = re.compile(r"(?<![\[\\])\^|(?<!\\)\$|\\Z")
_LITERAL_ESCAPE = re.compile(r"\\([./\-_~])")
_REGEX_SYNTAX = re.compile(r"[\[\](){}*+?|\\]")
# A path converter, not the name of a regex group (``(?P<pk>``).
_CONVERTER = re.compile(r"(?<!\(\?P)<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
# Two paths no app routes on purpose: a pattern matching both matches any path.
_ANY_PATHS = ("perflab/any/path/", "x/1/")
# What ROUTE_NAME may return: it goes into a response header and every report as is.
_SERVED_PART = re.compile(r"[\w.:/<>@+\- ]{1,100}", re.ASCII)
_MAX_CACHED = 10_000  # route strings remembered (an app has a few hundred at most)


@dataclass(frozen=True, slots=True)
class NamedRoute:
    """A route's published name and how the probe names each of its requests."""

    name: str
    view: str  # the view's dotted path (ResolverMatch._func_path)
    path_style: bool  # named by its pattern (the runner writes it "/" + name), not its URL name
    by_page: bool  # Wagtail's serve: each request named by the page type it served


UNMATCHED = NamedRoute("", "", True, False)


@lru_cache(maxsize=1024)
def readable_route(route: str) -> str:
    """``api/posts/(?P<pk>[^/.]+)/$`` → ``api/posts/<pk>/``: regex routes read like path() ones
    (named groups as ``<name>``, anchors dropped, ``\\.`` as ``.``)."""
    text = _ANCHOR.sub("", _REGEX_GROUP.sub(r"<\1>", route))
    return _LITERAL_ESCAPE.sub(r"\1", text)


def reads_as_path(readable: str) -> bool:
    """No regex syntax left once named groups are ``<name>`` (a trailing ``/?``, DRF's
    optional slash, reads as a path too)."""
    return _REGEX_SYNTAX.search(readable.removesuffix("/?")) is None


def is_catch_all(route: str) -> bool:
    """Whether the pattern matches any path: ``<path:rest>``, ``.*``, Wagtail's
    ``^((?:[\\w\\-]+/)*)$`` — but not ``docs/<path:rest>``, which names a place."""
    from django.urls.converters import get_converters

    converters = get_converters()

    def as_regex(found: re.Match) -> str:
        converter = converters.get(found["converter"] or "str")
        return f"(?:{converter.regex})" if converter else re.escape(found[0])

    try:
        regex = re.compile(_CONVERTER.sub(as_regex, route))
    except re.error:
        return False
    return all(regex.fullmatch(path) for path in _ANY_PATHS)


def name_route(route: str, url_name: str | None, view_name: str, view: str) -> NamedRoute:
    """The name of the route Django joined as ``route`` (``ResolverMatch.route``), with its
    URL name, namespaced view name and view path (/perf/api/urlpatterns/ calls this too)."""
    readable = readable_route(route)
    if url_name and (not reads_as_path(readable) or is_catch_all(route)):
        return NamedRoute(view_name, view, False, view in PAGE_VIEWS)
    return NamedRoute(readable, view, True, view in PAGE_VIEWS)


_named: dict[str, NamedRoute] = {}


def named_route_of(request) -> NamedRoute:
    """The request's route (``UNMATCHED`` when the resolver found none). Runs on every request:
    one dict lookup once the pattern has been named."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    named = _named.get(match.route)
    if named is None:
        named = name_route(match.route or "", match.url_name, match.view_name, match._func_path)
        if len(_named) >= _MAX_CACHED:
            _named.clear()
        _named[match.route] = named
    return named


def served_name(named: NamedRoute, request, response, route_name: Callable | None = None) -> str:
    """What this response served: ``name[part]`` where ``route_name(request, response)`` (the
    ``ROUTE_NAME`` setting) or, for Wagtail's serve, the page's type gives a part; else the
    route's name. Raises what ``route_name`` raises, or ValueError for an unusable part."""
    part = None
    if route_name is not None:
        part = route_name(request, response)
        if part is not None and not (isinstance(part, str) and _SERVED_PART.fullmatch(part)):
            raise ValueError(
                f"PERFLAB['ROUTE_NAME'] returned {part!r}: expected None or up to 100 ASCII "
                "letters, digits, spaces or . : / < > @ + - _"
            )
    if part is None and named.by_page:
        part = page_type(request, response)
    return f"{named.name}[{part}]" if part else named.name


def page_type(request, response) -> str | None:
    """The class name of the Wagtail page served: noted by perflab's ``before_serve_page`` hook
    (perflab.wagtail_hooks), else the ``page`` of a TemplateResponse's context."""
    noted = getattr(request, PAGE_TYPE_ATTR, None)
    if noted is not None:
        return noted
    context = getattr(response, "context_data", None)
    page = context.get("page") if isinstance(context, dict) else None
    return type(page).__name__ if page is not None else None
